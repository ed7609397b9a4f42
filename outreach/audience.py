"""Who a campaign reaches: its lists, smart lists, single contacts and outlet desks, each
address once, with every exclusion shown with its reason before launch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.contacts import ContactFilter, matching_ids
from crm.import_rows import Rejected, check_email
from crm.models import (
    Beat,
    Campaign,
    Contact,
    ContactBeat,
    ContactEmail,
    ContactOutletRole,
    Delivery,
    Organisation,
    Outlet,
)
from crm.privacy import suppressed
from crm.search import normalise_email
from crm.settings import Settings
from outreach import merge, wording
from outreach.campaigns import audience_of, personal_lines

# Why a recipient is left out; the page words each one.
REASONS = {
    "do_not_contact": "marked do-not-contact",
    "unsubscribed": "unsubscribed",
    "hard_bounce": "address bounced for good",
    "complaint": "reported a message as spam",
    "objected": "objected to being contacted",
    "erased": "asked for their data to be erased",
    "no_email": "no valid email address",
    "already_sent": "already in this campaign",
    "duplicate": "same address as another recipient",
    "render": "the message would fail",
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

    @property
    def why(self) -> str:
        return REASONS[self.reason] + (f": {self.detail}" if self.detail else "")


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


async def _contact_ids(session: AsyncSession, campaign: Campaign) -> list[int]:
    audience = audience_of(campaign)
    actor = Actor(None, campaign.org_id, "viewer")
    ids: dict[int, None] = dict.fromkeys(audience.contacts)
    for list_id in audience.lists:
        ids.update(
            dict.fromkeys(await matching_ids(session, actor, ContactFilter(list_id=list_id)))
        )
    return list(ids)


async def _contacts(session: AsyncSession, org_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """What a message needs of each contact: names, language, first email, outlet, beat."""
    people: dict[int, dict[str, Any]] = {}
    for part in _chunks(ids):
        rows = await session.execute(
            select(Contact).where(Contact.id.in_(part), Contact.org_id == org_id)
        )
        for c in rows.scalars():
            people[c.id] = {"contact": c, "email": "", "outlet": "", "beat": ""}
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


async def _pitch_counts(session: AsyncSession, org_id: int, ids: list[int]) -> dict[int, int]:
    """Campaign messages each contact received from the organisation in the last 30 days."""
    since = datetime.now(UTC) - timedelta(days=30)
    counts: dict[int, int] = {}
    for part in _chunks(ids):
        rows = await session.execute(
            select(Delivery.contact_id, func.count())
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Campaign.org_id == org_id,
                Delivery.contact_id.in_(part),
                Delivery.status == "sent",
                Delivery.is_test.is_(False),
                Delivery.sent_at >= since,
            )
            .group_by(Delivery.contact_id)
        )
        counts.update({contact_id: n for contact_id, n in rows.all()})
    return counts


def _contact_recipient(org: Organisation, person: dict[str, Any]) -> Recipient:
    c: Contact = person["contact"]
    language = c.preferred_language
    fields = {
        "first_name": c.given_name,
        "last_name": c.family_name,
        "salutation": wording.salutation(language, c.salutation, c.given_name),
        "outlet": person["outlet"],
        "beat": person["beat"],
    }
    notice = "" if c.privacy_notice_at else wording.privacy_notice(language, org.name, c)
    address = person["email"]
    return Recipient(
        org.id or 0, address, normalise_email(address), c.full_name, language, fields,
        contact_id=c.id, privacy_notice=notice,
    )  # fmt: skip


async def _desks(session: AsyncSession, campaign: Campaign, org: Organisation) -> list[Recipient]:
    ids = audience_of(campaign).outlets
    if not ids:
        return []
    rows = await session.execute(
        select(Outlet).where(Outlet.id.in_(ids), Outlet.org_id == campaign.org_id)
    )
    desks = []
    for outlet in rows.scalars():
        language = outlet.languages[0] if outlet.languages else campaign.default_language
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
    ids = await _contact_ids(session, campaign)
    people = await _contacts(session, campaign.org_id, ids)
    lines = await personal_lines(session, campaign.id) if campaign.id else {}
    candidates: list[Recipient] = []
    for person in people:
        c: Contact = person["contact"]
        if c.do_not_contact:
            result.excluded.append(
                Excluded(
                    c.full_name,
                    person["email"],
                    "do_not_contact",
                    c.do_not_contact_reason,
                    contact_id=c.id,
                )  # fmt: skip
            )
            continue
        recipient = _contact_recipient(org, person)
        recipient.personal_line = lines.get(c.id or 0, "")
        candidates.append(recipient)
    candidates += await _desks(session, campaign, org)
    await _screen(session, settings, campaign, compiled, candidates, result)
    counts = await _pitch_counts(
        session, campaign.org_id, [r.contact_id for r in result.recipients if r.contact_id]
    )
    result.over_pitched = [
        OverPitched(r.contact_id, r.name, counts[r.contact_id])
        for r in result.recipients
        if r.contact_id and counts.get(r.contact_id, 0) >= org.pitch_limit
    ]
    return result


async def _screen(
    session: AsyncSession,
    settings: Settings,
    campaign: Campaign,
    compiled: dict[str, merge.CompiledVariant],
    candidates: list[Recipient],
    result: Plan,
) -> None:
    """Valid, unsuppressed, new and unique addresses whose message renders, in order."""
    valid: list[Recipient] = []
    for r in candidates:
        try:
            r.address = check_email(r.address.strip()) if r.address.strip() else ""
        except Rejected:
            r.address = ""
        if not r.address:
            result.excluded.append(Excluded(r.name, "", "no_email", "", r.contact_id, r.outlet_id))
        else:
            r.norm = normalise_email(r.address)
            valid.append(r)
    blocked = await suppressed(session, settings, campaign.org_id, [r.address for r in valid])
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
                reason, detail = "render", str(exc)
        if reason:
            result.excluded.append(
                Excluded(r.name, r.address, reason, detail, r.contact_id, r.outlet_id)
            )
            continue
        seen.add(r.norm)
        result.recipients.append(r)
