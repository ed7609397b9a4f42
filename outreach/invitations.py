"""Invitations are campaigns of kind "invitation" linked to an event: each recipient also
gets the event's merge fields in their language, a guest row (their RSVP links name it), and
a calendar invitation, built once per event and filled with their ATTENDEE line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n
from crm.bulk import insert_tuples_returning_ids
from crm.events import local
from crm.i18n import N_
from crm.models import Attendance, Campaign, Event, Organisation
from crm.settings import Settings
from outreach import calendar, rsvp
from outreach.campaigns import CampaignIn

STEP = 1000


def when(moment: datetime, event: Event, language: str | None = None) -> str:
    """The event's wall clock, as the reader writes dates: "e diel, 29 mars 2026, 11:00"."""
    wall = local(moment, event.timezone)
    return f"{i18n.format_long_date(wall, language)}, {wall:%H:%M}"


def span(event: Event, language: str | None = None) -> str:
    """ "e diel, 29 mars 2026, 11:00–12:30" (with the end's date when it is another day)."""
    start, end = local(event.starts_at, event.timezone), local(event.ends_at, event.timezone)
    until = f"{end:%H:%M}" if end.date() == start.date() else when(event.ends_at, event, language)
    return f"{when(event.starts_at, event, language)}–{until}"


def event_fields(event: Event, language: str) -> dict[str, Any]:
    """The event's merge fields for a reader of `language` (RSVP links come at launch)."""
    place = ", ".join(p for p in (event.venue, event.address) if p)
    return {
        "event_title": event.title,
        "event_start": when(event.starts_at, event, language),
        "event_end": when(event.ends_at, event, language),
        "venue": place,
        "online_link": event.online_link,
    }


def preview_links(settings: Settings) -> dict[str, str]:
    """RSVP links for a preview or a test message: they lead nowhere until launch."""
    return {f"rsvp_{word}_url": f"{settings.base_url}/rsvp/preview" for word in rsvp.LINK_ANSWERS}


async def event_of(session: AsyncSession, campaign: Campaign) -> Event | None:
    if not campaign.event_id:
        return None
    return await session.get(Event, campaign.event_id)


async def register_guests(
    session: AsyncSession,
    settings: Settings,
    event: Event,
    campaign: Campaign,
    recipients: Sequence[Any],
) -> None:
    """Put each recipient's own RSVP links in their merge fields. An invitation also makes a
    guest of each (one per address, whichever co-host invited them first) and remembers
    which version of the event (SEQUENCE) they were sent; other mail about the event only
    links the guests it finds."""
    inviting = campaign.kind == "invitation"
    norms = sorted({r.norm for r in recipients if r.norm})
    known: dict[str, int] = {}
    for part in range(0, len(norms), STEP):
        rows = await session.execute(
            select(Attendance.address_norm, Attendance.id).where(
                Attendance.event_id == event.id,
                Attendance.address_norm.in_(norms[part : part + STEP]),
            )
        )
        known.update(dict(rows.all()))  # type: ignore[arg-type]
    now = datetime.now(UTC)
    new = {r.norm: r for r in recipients if r.norm and r.norm not in known} if inviting else {}
    columns = ("event_id", "org_id", "contact_id", "name", "address_norm", "rsvp", "rsvp_via",
               "rsvp_sequence", "sent_sequence", "walk_in", "invited_at", "created_at")  # fmt: skip
    values = [
        (event.id, r.org_id, r.contact_id, r.name[:200], norm, "none", "", 0, event.sequence,
         False, now, now)
        for norm, r in new.items()
    ]  # fmt: skip
    ids = await insert_tuples_returning_ids(session, Attendance, columns, values)
    sent = [known[n] for n in norms if n in known] if inviting else []
    for part in range(0, len(sent), STEP):
        ids_part = sent[part : part + STEP]
        await session.execute(  # chosen earlier by a co-host: invited now
            update(Attendance)
            .where(Attendance.id.in_(ids_part), Attendance.invited_at.is_(None))
            .values(invited_at=now)
        )
        await session.execute(
            update(Attendance)
            .where(Attendance.id.in_(ids_part))
            .values(sent_sequence=event.sequence)
        )
    known.update(zip(new, ids, strict=True))
    for r in recipients:
        if r.norm in known:
            r.fields.update(rsvp.rsvp_urls(settings, known[r.norm]))


async def calendar_for(
    session: AsyncSession, settings: Settings, campaign: Campaign, org: Organisation
) -> calendar.Invitation | None:
    """The calendar an invitation carries: REQUEST, or CANCEL once the event is cancelled."""
    event = await event_of(session, campaign) if campaign.kind == "invitation" else None
    if event is None:
        return None
    method = "CANCEL" if event.status == "cancelled" else "REQUEST"
    return calendar.invitation(
        event,
        organiser=calendar.organiser_address(event, settings.reply_domain),
        organiser_name=event.organiser or org.name,
        method=method,
    )


# --- drafts the event's page offers ----------------------------------------------------------

_LINKS = N_("Will you come? [Yes]({{ rsvp_yes_url }}) · [Maybe]({{ rsvp_maybe_url }}) · "
            "[No]({{ rsvp_no_url }})")  # fmt: skip
_WHERE = N_("{% if venue %}Where: {{ venue }}{% endif %}")
_ONLINE = N_("{% if online_link %}Online: {{ online_link }}{% endif %}")
DRAFTS: dict[str, tuple[str, str, list[str], str, str]] = {
    # purpose: (kind, campaign name, guests' answers, subject, first paragraph)
    "invite": (
        "invitation", N_("Invitation: %(event)s"), ["picked"],
        N_("Invitation: {{ event_title }}"),
        N_("We would be glad to see you at {{ event_title }}, on {{ event_start }}."),
    ),
    "update": (
        "invitation", N_("Update: %(event)s"), ["accepted", "waitlisted", "tentative", "none"],
        N_("Changed: {{ event_title }}"),
        N_("{{ event_title }} has changed: it now starts on {{ event_start }}. Your calendar "
           "will show the new details."),
    ),
    "cancel": (
        "invitation", N_("Cancellation: %(event)s"),
        ["accepted", "waitlisted", "tentative", "none"],
        N_("Cancelled: {{ event_title }}"),
        N_("We are sorry: {{ event_title }}, planned for {{ event_start }}, is cancelled."),
    ),
    "remind": (
        "reminder", N_("Reminder: %(event)s"), ["accepted", "tentative"],
        N_("Tomorrow: {{ event_title }}"),
        N_("A reminder that {{ event_title }} is on {{ event_start }}. We look forward to "
           "seeing you."),
    ),
    "ask": (
        "reminder", N_("Please reply: %(event)s"), ["none"],
        N_("Will you come to {{ event_title }}?"),
        N_("We have not heard from you yet: will you come to {{ event_title }}, on "
           "{{ event_start }}?"),
    ),
}  # fmt: skip
PURPOSES = tuple(DRAFTS)


def _body(purpose: str, language: str) -> str:
    first = i18n.translate(DRAFTS[purpose][4], language)
    parts = ["{{ salutation }},", first, i18n.translate(_WHERE, language),
             i18n.translate(_ONLINE, language)]  # fmt: skip
    if purpose in ("invite", "update", "ask"):
        parts.append(i18n.translate(_LINKS, language))
    return "\n\n".join(parts) + "\n"


def draft_input(event: Event, purpose: str, default_language: str) -> CampaignIn:
    """The campaign a button on the event's page starts: written in English, Albanian and
    Serbian, addressed to the right guests, a reminder scheduled for the day before."""
    kind, name, answers, subject, _first = DRAFTS[purpose]
    variants = {
        language: {"subject": i18n.translate(subject, language), "body": _body(purpose, language)}
        for language in ("en", "sq", "sr-Latn")
    }
    day_before = event.starts_at - timedelta(days=1)
    later = purpose == "remind" and day_before > datetime.now(UTC)
    return CampaignIn.model_validate(
        {
            "name": (i18n.translate(name) % {"event": event.title})[:200],
            "kind": kind,
            "event_id": event.id,
            "coalition_id": event.coalition_id,
            "default_language": default_language if default_language in variants else "en",
            "variants": variants,
            "audience": {"guests": answers},
            "scheduled_at": day_before if later else None,
        }
    )
