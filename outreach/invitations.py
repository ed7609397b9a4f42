"""Invitations are campaigns of kind "invitation" linked to an event: each recipient also
gets the event's merge fields in their language, a guest row (their RSVP links name it), and
a calendar invitation, built once per event and filled with their ATTENDEE line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n
from crm.bulk import insert_tuples_returning_ids
from crm.events import local
from crm.models import Attendance, Campaign, Event, Organisation
from crm.settings import Settings
from outreach import calendar, rsvp

STEP = 1000


def when(moment: datetime, event: Event, language: str) -> str:
    """ "e diel, 29 mars 2026, 11:00": the event's wall clock, as the reader writes dates."""
    wall = local(moment, event.timezone)
    return f"{i18n.format_long_date(wall, language)}, {wall:%H:%M}"


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
    recipients: Sequence[Any],
) -> None:
    """Make a guest of each recipient (one per address, whichever co-host invited them first)
    and put their own RSVP links in their merge fields."""
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
    new = {r.norm: r for r in recipients if r.norm and r.norm not in known}
    columns = ("event_id", "org_id", "contact_id", "name", "address_norm", "rsvp", "rsvp_via",
               "rsvp_sequence", "walk_in", "invited_at", "created_at")  # fmt: skip
    values = [
        (event.id, r.org_id, r.contact_id, r.name[:200], norm, "none", "", 0, False, now, now)
        for norm, r in new.items()
    ]
    ids = await insert_tuples_returning_ids(session, Attendance, columns, values)
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
