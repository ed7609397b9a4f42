"""Who a campaign reaches: its lists, smart lists, single contacts and outlet desks, each
address once, with every exclusion shown with its reason before launch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n, serbian
from crm.accounts import Actor
from crm.contacts import ContactFilter, matching_ids
from crm.errors import message_of
from crm.i18n import N_
from crm.import_rows import Rejected, check_email
from crm.models import (
    Attendance,
    Beat,
    Campaign,
    Contact,
    ContactBeat,
    ContactEmail,
    ContactOutletRole,
    Delivery,
    Event,
    Organisation,
    Outlet,
)
from crm.privacy import suppressed
from crm.search import normalise_email
from crm.settings import Settings
from outreach import invitations, merge, wording
from outreach.campaigns import audience_of, personal_lines, pick_language, usable_lists

# Why a recipient is left out; the page words each one.
REASONS = {
    "do_not_contact": N_("marked do-not-contact"),
    "unsubscribed": N_("unsubscribed"),
    "hard_bounce": N_("address bounced for good"),
    "soft_bounce": N_("mailbox full, time after time"),
    "complaint": N_("reported a message as spam"),
    "objected": N_("objected to being contacted"),
    "erased": N_("asked for their data to be erased"),
    "no_email": N_("no valid email address"),
    "already_sent": N_("already in this campaign"),
    "duplicate": N_("same address as another recipient"),
    "render": N_("the message would fail"),
    "already_invited": N_("already invited to this event"),
}
STEP = 1000  # bounded IN lists


@dataclass
class Recipient:
    org_id: int
    address: str
    norm: str
    name: str
    language: str
    fields: dict[str, Any]
    contact_id: int | None = None
    outlet_id: int | None = None
    personal_line: str = ""
    privacy_notice: str = ""


@dataclass
class Excluded:
    name: str
    address: str
    reason: str
    detail: str = ""
    contact_id: int | None = None
    outlet_id: int | None = None
    org_id: int | None = None  # who holds the contact (in a joint campaign, maybe a partner)

    @property
    def why(self) -> str:
        if not self.detail:
            return REASONS[self.reason]
        return N_("%(reason)s: %(detail)s", reason=REASONS[self.reason], detail=self.detail)


@dataclass
class OverPitched:
    contact_id: int
    name: str
    count: int


@dataclass
class Plan:
    recipients: list[Recipient] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    over_pitched: list[OverPitched] = field(default_factory=list)
    pitch_limit: int = 0

    def by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self.excluded:
            counts[e.reason] = counts.get(e.reason, 0) + 1
        return counts


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), STEP):
        yield ids[start : start + STEP]


async def _contact_ids(session: AsyncSession, campaign: Campaign) -> dict[int, list[int]]:
    """The contacts of the audience, by the organisation that holds them: the campaign's own
    lists and contacts, and in a joint campaign the lists partners shared with the coalition."""
    audience = audience_of(campaign)
    owners = await usable_lists(session, campaign.org_id, campaign.coalition_id, audience.lists)
    by_org: dict[int, dict[int, None]] = {campaign.org_id: dict.fromkeys(audience.contacts)}
    for list_id in audience.lists:
        org_id = owners.get(list_id)
        if org_id is None:  # unshared since it was chosen
            continue
        actor = Actor(None, org_id, "viewer")
        found = await matching_ids(session, actor, ContactFilter(list_id=list_id))
        by_org.setdefault(org_id, {}).update(dict.fromkeys(found))
    for org_id, contact_id in await _guests(session, campaign, audience.guests):
        by_org.setdefault(org_id, {})[contact_id] = None
    return {org_id: list(ids) for org_id, ids in by_org.items()}


async def _not_invited_twice(
    session: AsyncSession, campaign: Campaign, event: Event, result: Plan
) -> None:
    """A new invitation skips whoever this event already invited (by another co-host, or an
    earlier invitation); the update and the cancellation go to exactly those."""
    wanted = audience_of(campaign)
    if not (wanted.lists or wanted.contacts or wanted.outlets or "picked" in wanted.guests):
        return
    norms = [r.norm for r in result.recipients]
    invited: set[str] = set()
    for part in _chunks(norms):
        rows = await session.execute(
            select(Attendance.address_norm).where(
                Attendance.event_id == event.id,
                Attendance.address_norm.in_(part),
                Attendance.invited_at.is_not(None),
            )
        )
        invited.update(rows.scalars())
    keep = []
    for r in result.recipients:
        if r.norm in invited:
            result.excluded.append(
                Excluded(
                    r.name, r.address, "already_invited", "", r.contact_id, r.outlet_id, r.org_id
                )  # fmt: skip
            )
        else:
            keep.append(r)
    result.recipients = keep


def still_wanted(guest: Attendance, answers: list[str]) -> bool:
    """Whether a guest's answer now is one a guests' audience asked for (as `_guests`)."""
    for a in answers:
        if a == "accepted" and guest.rsvp == "accepted" and guest.waitlisted_at is None:
            return True
        if a == "waitlisted" and guest.rsvp == "accepted" and guest.waitlisted_at is not None:
            return True
        if a == "picked" and guest.invited_at is None and not guest.walk_in:
            return True
        if a == "none" and guest.rsvp == "none" and guest.invited_at is not None:
            return True
        if a in ("tentative", "declined") and guest.rsvp == a:
            return True
    return False


async def _guests(
    session: AsyncSession, campaign: Campaign, answers: list[str]
) -> list[tuple[int, int]]:
    """(holder, contact) of the event's guests with these answers: the campaign's own, and
    in a joint campaign of the co-hosting coalition, every co-host's."""
    event = await session.get(Event, campaign.event_id) if campaign.event_id else None
    if event is None or not answers:
        return []
    joint = campaign.coalition_id is not None and campaign.coalition_id == event.coalition_id
    seated = Attendance.waitlisted_at.is_(None)
    invited = Attendance.invited_at.is_not(None)
    wanted = [
        and_(Attendance.rsvp == "accepted", seated if a == "accepted" else ~seated)
        if a in ("accepted", "waitlisted")
        else and_(Attendance.invited_at.is_(None), Attendance.walk_in.is_(False))
        if a == "picked"
        else and_(Attendance.rsvp == "none", invited)  # invited, and silent so far
        if a == "none"
        else Attendance.rsvp == a
        for a in answers
    ]
    query = select(Attendance.org_id, Attendance.contact_id).where(
        Attendance.event_id == event.id, Attendance.contact_id.is_not(None), or_(*wanted)
    )
    if not joint:
        query = query.where(Attendance.org_id == campaign.org_id)
    return [(org_id, contact_id) for org_id, contact_id in (await session.execute(query)).all()]


async def _contacts(session: AsyncSession, org_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """What a message needs of each contact: names, language, first email, outlet, beat."""
    people: dict[int, dict[str, Any]] = {}
    for part in _chunks(ids):
        rows = await session.execute(
            select(Contact).where(Contact.id.in_(part), Contact.org_id == org_id)
        )
        for c in rows.scalars():
            people[c.id or 0] = {"contact": c, "email": "", "outlet": "", "beat": ""}
        emails = await session.execute(
            select(ContactEmail.contact_id, ContactEmail.email)
            .where(ContactEmail.contact_id.in_(part))
            .order_by(ContactEmail.contact_id, ContactEmail.position.desc())
        )
        for contact_id, email in emails.all():  # the lowest position is written last
            if contact_id in people:
                people[contact_id]["email"] = email
        outlets = await session.execute(
            select(ContactOutletRole.contact_id, Outlet.name)
            .join(Outlet, Outlet.id == ContactOutletRole.outlet_id)
            .where(ContactOutletRole.contact_id.in_(part), ContactOutletRole.ended_on.is_(None))
            .order_by(ContactOutletRole.id.desc())
        )
        for contact_id, name in outlets.all():
            if contact_id in people:
                people[contact_id]["outlet"] = name
        beats = await session.execute(
            select(ContactBeat.contact_id, Beat.name)
            .join(Beat, Beat.id == ContactBeat.beat_id)
            .where(ContactBeat.contact_id.in_(part))
            .order_by(Beat.name.desc())
        )
        for contact_id, name in beats.all():
            if contact_id in people:
                people[contact_id]["beat"] = name
    return [people[i] for i in ids if i in people]


async def _already_sent(session: AsyncSession, campaign_id: int | None) -> set[str]:
    if campaign_id is None:
        return set()
    rows = await session.execute(
        select(Delivery.address_norm).where(
            Delivery.campaign_id == campaign_id, Delivery.is_test.is_(False)
        )
    )
    return set(rows.scalars())


async def _pitch_counts(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    """Campaign messages each contact received in the last 30 days (a contact belongs to one
    organisation: these are its campaigns and the joint ones it took part in)."""
    since = datetime.now(UTC) - timedelta(days=30)
    counts: dict[int, int] = {}
    for part in _chunks(ids):
        rows = await session.execute(
            select(Delivery.contact_id, func.count())
            .where(
                Delivery.contact_id.in_(part),
                Delivery.status == "sent",
                Delivery.is_test.is_(False),
                Delivery.sent_at >= since,
            )
            .group_by(Delivery.contact_id)
        )
        counts.update({contact_id: n for contact_id, n in rows.all()})
    return counts


async def _blocked_elsewhere(
    session: AsyncSession, settings: Settings, org_ids: list[int], addresses: list[str]
) -> dict[str, str]:
    """In a joint campaign every co-signer's suppressions and do-not-contact marks apply:
    address → reason, from any of `org_ids`."""
    blocked: dict[str, str] = {}
    for org_id in org_ids:
        for norm, reason in (await suppressed(session, settings, org_id, addresses)).items():
            blocked.setdefault(norm, reason)
    for part in range(0, len(addresses), STEP):
        rows = await session.execute(
            select(ContactEmail.normalised)
            .join(Contact, Contact.id == ContactEmail.contact_id)
            .where(
                ContactEmail.org_id.in_(org_ids),
                ContactEmail.normalised.in_(addresses[part : part + STEP]),
                Contact.do_not_contact.is_(True),
            )
        )
        for norm in rows.scalars():
            blocked.setdefault(norm, "do_not_contact")
    return blocked


def _contact_recipient(org: Organisation, person: dict[str, Any], language: str) -> Recipient:
    """`language` is the one the contact's message is written in: names follow its script."""
    c: Contact = person["contact"]
    fields = {
        "first_name": serbian.to_script(c.given_name, language),
        "last_name": serbian.to_script(c.family_name, language),
        "salutation": wording.salutation(language, c.salutation, c.given_name, c.vocative),
        "vocative": wording.vocative(language, c.salutation, c.given_name, c.vocative),
        "outlet": person["outlet"],
        # The shared beats have names in every language; an organisation's own keep theirs.
        "beat": i18n.translate(person["beat"], language),
    }
    notice = "" if c.privacy_notice_at else wording.privacy_notice(language, org.name, c)
    address = person["email"]
    return Recipient(
        org.id or 0, address, normalise_email(address), c.full_name, language, fields,
        contact_id=c.id, privacy_notice=notice,
    )  # fmt: skip


async def _desks(
    session: AsyncSession, campaign: Campaign, org: Organisation, available: set[str]
) -> list[Recipient]:
    ids = audience_of(campaign).outlets
    if not ids:
        return []
    rows = await session.execute(
        select(Outlet).where(Outlet.id.in_(ids), Outlet.org_id == campaign.org_id)
    )
    desks = []
    for outlet in rows.scalars():
        wanted = outlet.languages[0] if outlet.languages else campaign.default_language
        language = pick_language(available, wanted, campaign.default_language)
        fields = {
            "first_name": "", "last_name": "", "outlet": outlet.name, "beat": "",
            "salutation": wording.desk_salutation(language),
        }  # fmt: skip
        address = outlet.desk_email
        desks.append(
            Recipient(
                org.id or 0,
                address,
                normalise_email(address),
                outlet.name,
                language,
                fields,
                outlet_id=outlet.id,
            )  # fmt: skip
        )
    return desks


async def plan(
    session: AsyncSession,
    settings: Settings,
    campaign: Campaign,
    compiled: dict[str, merge.CompiledVariant],
) -> Plan:
    """Everyone the campaign would reach now, and everyone left out and why."""
    org = await session.get(Organisation, campaign.org_id)
    assert org is not None
    result = Plan(pitch_limit=org.pitch_limit)
    lines = await personal_lines(session, campaign.id) if campaign.id else {}
    candidates: list[Recipient] = []
    by_org = await _contact_ids(session, campaign)
    for org_id, ids in by_org.items():
        holder = org if org_id == org.id else await session.get(Organisation, org_id)
        assert holder is not None
        for person in await _contacts(session, org_id, ids):
            c: Contact = person["contact"]
            if c.do_not_contact:
                result.excluded.append(
                    Excluded(
                        c.full_name,
                        person["email"],
                        "do_not_contact",
                        c.do_not_contact_reason,
                        contact_id=c.id,
                        org_id=org_id,
                    )  # fmt: skip
                )
                continue
            language = pick_language(compiled, c.preferred_language, campaign.default_language)
            recipient = _contact_recipient(holder, person, language)
            recipient.personal_line = serbian.to_script(lines.get(c.id or 0, ""), language)
            candidates.append(recipient)
    candidates += await _desks(session, campaign, org, set(compiled))
    event = await invitations.event_of(session, campaign)
    if event is not None:
        links = invitations.preview_links(settings)  # each guest's own come at launch
        for r in candidates:
            r.fields.update(invitations.event_fields(event, r.language), **links)
    cosigners = sorted(by_org) if campaign.coalition_id else [campaign.org_id]
    await _screen(session, settings, campaign, compiled, candidates, result, cosigners)
    if event is not None and campaign.kind == "invitation":
        await _not_invited_twice(session, campaign, event, result)
    counts = await _pitch_counts(session, [r.contact_id for r in result.recipients if r.contact_id])
    result.over_pitched = [
        OverPitched(r.contact_id, r.name, counts[r.contact_id])
        for r in result.recipients
        if r.contact_id and counts.get(r.contact_id, 0) > org.pitch_limit
    ]
    return result


async def _screen(
    session: AsyncSession,
    settings: Settings,
    campaign: Campaign,
    compiled: dict[str, merge.CompiledVariant],
    candidates: list[Recipient],
    result: Plan,
    cosigners: list[int],
) -> None:
    """Valid, unsuppressed, new and unique addresses whose message renders, in order."""
    valid: list[Recipient] = []
    for r in candidates:
        try:
            r.address = check_email(r.address.strip()) if r.address.strip() else ""
        except Rejected:
            r.address = ""
        if not r.address:
            result.excluded.append(
                Excluded(r.name, "", "no_email", "", r.contact_id, r.outlet_id, r.org_id)
            )
        else:
            r.norm = normalise_email(r.address)
            valid.append(r)
    addresses = sorted({r.norm for r in valid})
    if len(cosigners) > 1:
        blocked = await _blocked_elsewhere(session, settings, cosigners, addresses)
    else:
        blocked = await suppressed(session, settings, campaign.org_id, addresses)
    sent = await _already_sent(session, campaign.id)
    seen: set[str] = set()
    for r in valid:
        reason = blocked.get(r.norm) or ("already_sent" if r.norm in sent else "")
        reason = reason or ("duplicate" if r.norm in seen else "")
        detail = ""
        if not reason:
            variant = compiled.get(r.language) or compiled[campaign.default_language]
            try:
                variant.render(
                    {**campaign.custom_fields, **r.fields}, personal_line=r.personal_line
                )
            except merge.RenderError as exc:
                reason, detail = "render", message_of(exc)
        if reason:
            result.excluded.append(
                Excluded(r.name, r.address, reason, detail, r.contact_id, r.outlet_id, r.org_id)
            )
            continue
        seen.add(r.norm)
        result.recipients.append(r)


def as_seen_by(plan: Plan, org_id: int, partners: dict[int, str]) -> Plan:
    """The plan as one organisation may see it: a partner's contacts in a joint campaign
    appear only as "a contact of <partner>", never by name or address."""

    def hidden(holder: int | None) -> bool:
        return holder != org_id  # unknown holders too: when in doubt, it is not yours

    def masked_name(holder: int | None) -> str:
        partner = partners.get(holder or 0)
        if partner is None:
            return N_("a contact of a partner")
        return N_("a contact of %(partner)s", partner=partner)

    return Plan(
        recipients=[
            Recipient(r.org_id, "", "", masked_name(r.org_id), r.language, {})
            if hidden(r.org_id) else r
            for r in plan.recipients
        ],
        excluded=[
            Excluded(masked_name(e.org_id), "", e.reason, "", org_id=e.org_id)
            if hidden(e.org_id) else e
            for e in plan.excluded
        ],
        over_pitched=[o for o in plan.over_pitched if o.contact_id in plan_own(plan, org_id)],
        pitch_limit=plan.pitch_limit,
    )  # fmt: skip


def plan_own(plan: Plan, org_id: int) -> set[int]:
    return {r.contact_id for r in plan.recipients if r.contact_id and r.org_id == org_id}
