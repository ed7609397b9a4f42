"""A journalist's data rights: suppressions, "everything we hold", erasure, and the requests
journalists make about their own data.

Personal data follows the contact (DESIGN.md): every table that holds a contact's data joins
`export_contact_data` and `erase_contact`. Suppressions keep only an HMAC of the address, so
an erased or unsubscribed journalist is never silently re-added, yet the address is gone.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import EmailStr, StringConstraints
from sqlalchemy import String, and_, case, cast, delete, false, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm import audit, jobs
from crm.accounts import Actor, token_hash
from crm.contacts import contact_detail, get_contact
from crm.errors import Conflict, DomainError, InvalidInput, NotFound
from crm.i18n import N_
from crm.models import (
    SUPPRESSION_REASONS,
    Attendance,
    AuditEntry,
    Campaign,
    CaughtMessage,
    Contact,
    ContactEmail,
    ContactHealth,
    CoverageByline,
    CoverageItem,
    DataRequest,
    Delivery,
    Event,
    FollowUp,
    ImportBatch,
    ImportFile,
    ImportRow,
    InboundMessage,
    Interaction,
    Organisation,
    Outlet,
    Suppression,
    User,
)
from crm.models.base import Input
from crm.search import fold, like_pattern, normalise_email, search_key
from crm.settings import Settings

REQUEST_DAYS = 7  # how long a confirmation link works
REQUESTS_PER_DAY = 3  # unconfirmed requests per address and organisation
UNCONFIRMED_PER_HOUR = 30  # unconfirmed requests per organisation
ERASED_REASON = N_("Details removed when the contact was erased.")
_SAFE_AUDIT_KEYS = ("fields", "kind")  # names of things, never a person's data


# --- suppressions ---------------------------------------------------------------------------


def address_hash(settings: Settings, email: str) -> str:
    """The HMAC-SHA256 (hex) of the normalised address: comparable, but not readable."""
    return _keyed_hash(settings.suppression_hmac_key, normalise_email(email))


def _keyed_hash(key: bytes, normalised: str) -> str:
    return hmac.digest(key, normalised.encode(), "sha256").hex()


async def suppressed(
    session: AsyncSession, settings: Settings, org_id: int, emails: Iterable[str]
) -> dict[str, str]:
    """Normalised address → reason, for those of `emails` this organisation must not mail."""
    key = settings.suppression_hmac_key
    by_hash = {_keyed_hash(key, norm): norm for norm in map(normalise_email, emails)}
    found: dict[str, str] = {}
    hashes = list(by_hash)
    for start in range(0, len(hashes), 1000):  # bounded IN lists on both databases
        rows = await session.execute(
            select(Suppression.address_hash, Suppression.reason).where(
                Suppression.org_id == org_id,
                Suppression.address_hash.in_(hashes[start : start + 1000]),
            )
        )
        found.update({by_hash[h]: reason for h, reason in rows.all()})
    return found


async def suppress(
    session: AsyncSession, settings: Settings, org_id: int, email: str, reason: str
) -> None:
    """Record that an address must never be mailed again; a second call changes nothing (the
    first reason stays). Safe against a concurrent insert of the same address."""
    if reason not in SUPPRESSION_REASONS:
        raise InvalidInput(
            {
                "reason": N_(
                    "Reason must be one of %(reasons)s.", reasons=", ".join(SUPPRESSION_REASONS)
                )
            }
        )
    values = {
        "org_id": org_id,
        "address_hash": address_hash(settings, email),
        "reason": reason,
        "created_at": datetime.now(UTC),
    }
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Suppression).values(**values)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["org_id", "address_hash"]))


# --- everything we hold ---------------------------------------------------------------------


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _who(name: str | None, email: str | None) -> str | None:
    return (name or email) or None


def _about(contact_ids: list[int], interaction_ids: list[int]) -> ColumnElement[bool]:
    """Audit entries about a contact: its own (and those of contacts merged into it), and
    those of its interactions."""
    own = and_(AuditEntry.entity == "contact", AuditEntry.entity_id.in_(contact_ids))
    if not interaction_ids:
        return own
    timeline = and_(AuditEntry.entity == "interaction", AuditEntry.entity_id.in_(interaction_ids))
    return or_(own, timeline)


async def _same_person(session: AsyncSession, org_id: int, contact_id: int) -> list[int]:
    """The contact's id and those of the contacts merged into it (their history is its)."""
    ids, todo = [contact_id], [contact_id]
    while todo and len(ids) < 100:
        merges = await session.execute(
            select(AuditEntry.changes).where(
                AuditEntry.org_id == org_id,
                AuditEntry.action == "merge",
                AuditEntry.entity == "contact",
                AuditEntry.entity_id.in_(todo),
            )
        )
        found = {c.get("merged_id") for c in merges.scalars() if isinstance(c, dict)}
        todo = [i for i in found if isinstance(i, int) and i not in ids]
        ids.extend(todo)
    return ids


async def _interactions(session: AsyncSession, contact_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Interaction, User.name, User.email)
        .outerjoin(User, User.id == Interaction.author_id)
        .where(Interaction.contact_id == contact_id)
        .order_by(Interaction.occurred_at, Interaction.id)
    )
    return [
        {
            "id": i.id,
            "kind": i.kind,
            "direction": i.direction,
            "occurred_at": _iso(i.occurred_at),
            "summary": i.summary,
            "body": i.body,
            "logged_by": _who(name, email),
            "logged_at": _iso(i.created_at),
        }
        for i, name, email in rows.all()
    ]


async def _import_rows(session: AsyncSession, org_id: int, contact_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(ImportRow, ImportBatch.filename, ImportBatch.created_at)
        .join(ImportBatch, ImportBatch.id == ImportRow.batch_id)
        .where(
            ImportBatch.org_id == org_id,
            or_(ImportRow.contact_id == contact_id, ImportRow.similar_contact_id == contact_id),
        )
        .order_by(ImportBatch.created_at, ImportRow.row_number)
    )
    return [
        {
            "file": filename,
            "imported_at": _iso(at),
            "row": r.row_number,
            "outcome": r.outcome,
            "field": r.field,
            "reason": r.reason,
            "flagged_as_similar": r.similar_contact_id == contact_id,
        }
        for r, filename, at in rows.all()
    ]


async def _audit_entries(
    session: AsyncSession, org_id: int, contact_id: int, interaction_ids: list[int]
) -> list[dict[str, Any]]:
    contact_ids = await _same_person(session, org_id, contact_id)
    rows = await session.execute(
        select(AuditEntry, User.name, User.email)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.org_id == org_id, _about(contact_ids, interaction_ids))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return [
        {
            "at": _iso(e.at),
            "by": _who(name, email),
            "action": e.action,
            "entity": e.entity,
            "changes": e.changes,
        }
        for e, name, email in rows.all()
    ]


async def _user_label(session: AsyncSession, user_id: int | None) -> str | None:
    user = await session.get(User, user_id) if user_id else None
    return _who(user.name, user.email) if user else None


async def export_contact_data(session: AsyncSession, actor: Actor, contact_id: int) -> dict:
    """Everything the organisation holds about one contact, ready for `json.dumps`."""
    d = await contact_detail(session, actor, contact_id)
    c = d.contact
    org = await session.get(Organisation, actor.org_id)
    interactions = await _interactions(session, contact_id)
    return {
        "organisation": org.name if org else None,
        "exported_at": _iso(datetime.now(UTC)),
        "profile": {
            "id": c.id,
            "given_name": c.given_name,
            "family_name": c.family_name,
            "salutation": c.salutation,
            "vocative": c.vocative,
            "preferred_language": c.preferred_language,
            "languages": c.languages,
            "city": c.city,
            "region": c.region,
            "notes": c.notes,
            "created_at": _iso(c.created_at),
            "updated_at": _iso(c.updated_at),
            "last_interaction_at": _iso(c.last_interaction_at),
        },
        "emails": [{"email": e.email, "primary": e.is_primary} for e in d.emails],
        "phones": c.phones,
        "social": c.social,
        "outlet_roles": [
            {
                "outlet": o.name,
                "title": r.title,
                "started_on": _iso(r.started_on),
                "ended_on": _iso(r.ended_on),
            }
            for r, o in d.roles
        ],
        "beats": [b.name for b in d.beats],
        "tags": d.tags,
        "lists": [lst.name for lst in d.lists],
        "legal_basis": {
            "basis": c.legal_basis,
            "source": c.legal_source,
            "captured_at": _iso(c.legal_captured_at),
            "captured_by": await _user_label(session, c.legal_captured_by_id),
        },
        "do_not_contact": {"value": c.do_not_contact, "reason": c.do_not_contact_reason},
        "interactions": interactions,
        "campaign_messages": await _deliveries(session, contact_id),
        "events": await _guest_records(session, contact_id),
        "mail_received": await _inbound(session, actor.org_id, contact_id),
        "coverage": await _coverage(session, actor.org_id, contact_id),
        "follow_ups": await _follow_ups(session, actor.org_id, contact_id),
        "relationship_health": await _health(session, contact_id),
        "import_rows": await _import_rows(session, actor.org_id, contact_id),
        "audit": await _audit_entries(
            session, actor.org_id, contact_id, [i["id"] for i in interactions]
        ),
    }


async def _deliveries(session: AsyncSession, contact_id: int) -> list[dict[str, Any]]:
    """Every campaign message addressed to the contact, with what it was personalised with."""
    rows = await session.execute(
        select(Delivery, Campaign.name)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.contact_id == contact_id)
        .order_by(Delivery.id)
    )
    return [
        {
            "campaign": name, "address": d.address, "language": d.language,
            "merge_fields": d.fields, "personal_line": d.personal_line,
            "privacy_notice": d.privacy_notice, "status": d.status, "sent_at": _iso(d.sent_at),
            "replied_at": _iso(d.replied_at), "unsubscribed_at": _iso(d.unsubscribed_at),
        }
        for d, name in rows.all()
    ]  # fmt: skip


async def _inbound(session: AsyncSession, org_id: int, contact_id: int) -> list[dict[str, Any]]:
    """Mail from the contact (or about their address: bounces, auto-replies) that came in."""
    rows = await session.execute(
        select(InboundMessage)
        .where(InboundMessage.org_id == org_id, InboundMessage.contact_id == contact_id)
        .order_by(InboundMessage.id)
    )
    return [
        {
            "received_at": _iso(m.received_at), "from": _who(m.from_name, m.from_address),
            "subject": m.subject, "kind": m.category, "bounce_kind": m.kind or None,
            "text": m.text, "details": {k: v for k, v in m.fields.items() if k != "references"},
        }
        for m in rows.scalars()
    ]  # fmt: skip


async def _follow_ups(session: AsyncSession, org_id: int, contact_id: int) -> list[dict[str, Any]]:
    """What the organisation planned to do about the contact."""
    rows = await session.execute(
        select(FollowUp)
        .where(FollowUp.org_id == org_id, FollowUp.contact_id == contact_id)
        .order_by(FollowUp.id)
    )
    return [
        {"title": f.title, "due_on": _iso(f.due_on), "state": f.state, "reason": f.reason,
         "created_at": _iso(f.created_at), "done_at": _iso(f.done_at)}
        for f in rows.scalars()
    ]  # fmt: skip


async def _health(session: AsyncSession, contact_id: int) -> dict[str, Any] | None:
    """The relationship's score as last computed from the timeline."""
    row = await session.get(ContactHealth, contact_id)
    if row is None:
        return None
    return {"score": row.score, "state": row.state, "computed_at": _iso(row.computed_at)}


async def _coverage(session: AsyncSession, org_id: int, contact_id: int) -> list[dict[str, Any]]:
    """The published pieces the organisation logged with the contact in the byline."""
    rows = await session.execute(
        select(CoverageItem, Outlet.name)
        .join(CoverageByline, CoverageByline.coverage_id == CoverageItem.id)
        .outerjoin(Outlet, Outlet.id == CoverageItem.outlet_id)
        .where(CoverageItem.org_id == org_id, CoverageByline.contact_id == contact_id)
        .order_by(CoverageItem.published_on, CoverageItem.id)
    )
    return [
        {
            "headline": c.headline, "url": c.url, "outlet": outlet,
            "published_on": _iso(c.published_on), "byline": c.authors, "tone": c.tone or None,
            "key_messages": c.key_messages, "notes": c.notes,
        }
        for c, outlet in rows.all()
    ]  # fmt: skip


async def _scrub_coverage(session: AsyncSession, org_id: int, contact_id: int, name: str) -> None:
    """Published pieces stay (they are public, and the organisation's record), but the
    person's name leaves the byline Beatbook kept of them."""
    folded = sorted(fold(name).split())  # "Krasniqi Arbën" is the same name
    items = await session.execute(
        select(CoverageItem).where(
            CoverageItem.org_id == org_id,
            CoverageItem.id.in_(
                select(CoverageByline.coverage_id).where(CoverageByline.contact_id == contact_id)
            ),
        )
    )
    for item in items.scalars():
        kept = [a for a in item.authors if sorted(fold(a).split()) != folded]
        if kept != item.authors:
            item.authors = kept
            host = (urlsplit(item.url).hostname or "").removeprefix("www.")
            item.search_text = search_key(item.headline, " ".join(kept), host)[:2000]
            session.add(item)


async def _scrub_inbound(
    session: AsyncSession, org_id: int, contact_id: int, emails: list[str]
) -> None:
    """Mail from the person, about their address, and the answers to it, go entirely."""
    delivery_ids = select(Delivery.id).where(
        Delivery.org_id == org_id,
        or_(Delivery.contact_id == contact_id, Delivery.address_norm.in_(emails)),
    )
    await session.execute(
        delete(InboundMessage).where(
            InboundMessage.org_id == org_id,
            or_(
                InboundMessage.contact_id == contact_id,
                func.lower(InboundMessage.from_address).in_(emails),
                InboundMessage.delivery_id.in_(delivery_ids),
            ),
        )
    )
    # An answer quotes what they wrote: its campaign (variant and delivery) goes too.
    answers = select(Campaign.id).where(
        Campaign.org_id == org_id,
        Campaign.kind == "answer",
        Campaign.id.in_(select(Delivery.campaign_id).where(Delivery.id.in_(delivery_ids))),
    )
    answer_ids = list((await session.execute(answers)).scalars())
    if answer_ids:
        sent = select(Delivery.message_id).where(Delivery.campaign_id.in_(answer_ids))
        await session.execute(delete(CaughtMessage).where(CaughtMessage.message_id.in_(sent)))
        await session.execute(delete(Campaign).where(Campaign.id.in_(answer_ids)))


async def _guest_records(session: AsyncSession, contact_id: int) -> list[dict[str, Any]]:
    """Every event the contact was invited to or came to, with their answer."""
    rows = await session.execute(
        select(Attendance, Event.title, Event.starts_at)
        .join(Event, Event.id == Attendance.event_id)
        .where(Attendance.contact_id == contact_id)
        .order_by(Event.starts_at)
    )
    return [
        {
            "event": title, "starts_at": _iso(starts), "name": a.name, "answer": a.rsvp,
            "answered_by": a.rsvp_via, "answered_at": _iso(a.rsvp_at),
            "waitlisted_at": _iso(a.waitlisted_at), "checked_in_at": _iso(a.checked_in_at),
            "walk_in": a.walk_in, "invited_at": _iso(a.invited_at),
        }
        for a, title, starts in rows.all()
    ]  # fmt: skip


async def _scrub_guests(
    session: AsyncSession, org_id: int, contact_id: int, emails: list[str]
) -> None:
    """An erased journalist leaves no guest row of this organisation's events behind."""
    await session.execute(
        delete(Attendance).where(
            or_(
                Attendance.contact_id == contact_id,
                and_(Attendance.org_id == org_id, Attendance.address_norm.in_(emails)),
            )
        )
    )


async def _scrub_deliveries(
    session: AsyncSession, org_id: int, contact_id: int, emails: list[str]
) -> None:
    """The organisation's campaign counts keep their rows; the rows keep nothing about the
    person, and what was still to be sent is not. Copies in the mail catcher go entirely.
    Other organisations' mail to the same address is theirs to erase."""
    rows = await session.execute(
        select(Delivery.id, Delivery.message_id).where(
            Delivery.org_id == org_id,
            or_(Delivery.contact_id == contact_id, Delivery.address_norm.in_(emails)),
        )
    )
    found = rows.all()
    if not found:
        return
    ids = [i for i, _ in found]
    await session.execute(
        delete(CaughtMessage).where(CaughtMessage.message_id.in_([m for _, m in found]))
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=case(
                (Delivery.status.in_(("queued", "deferred")), literal("cancelled")),
                else_=Delivery.status,
            ),
            contact_id=None,
            address="",
            address_norm=literal("erased:") + cast(Delivery.id, String),
            name="",
            fields={},
            personal_line="",
            privacy_notice="",
        )  # fmt: skip
    )


# --- erasure --------------------------------------------------------------------------------


def _mentions(column: Any, quoted: list[str], *, as_json: bool = False) -> ColumnElement[bool]:
    """Case-insensitive: the column's text contains one of `quoted` (JSON-escaped for JSON)."""
    text = func.lower(cast(column, String))
    needles = [json.dumps(q)[1:-1] if as_json else q for q in quoted]
    return or_(false(), *(text.like(like_pattern(n.lower()), escape="\\") for n in needles))


def _quotes(text: str, quoted: list[str]) -> bool:
    folded = fold(text)
    return any(fold(q) in folded for q in quoted)


def _scrubbed(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: changes[k] for k in _SAFE_AUDIT_KEYS if k in changes} | {"scrubbed": "erased"}


async def _scrub_audit(
    session: AsyncSession,
    org_id: int,
    contact_id: int,
    interaction_ids: list[int],
    quoted: list[str],
) -> None:
    """Audit entries stay (who did what, when) but lose what they said about the person."""
    contact_ids = await _same_person(session, org_id, contact_id)
    entries = await session.execute(
        select(AuditEntry).where(
            AuditEntry.org_id == org_id,
            or_(
                _about(contact_ids, interaction_ids),
                _mentions(AuditEntry.changes, quoted, as_json=True),
            ),
        )
    )
    for entry in entries.scalars():
        entry.changes = _scrubbed(entry.changes)
        session.add(entry)


async def _scrub_import_rows(
    session: AsyncSession, org_id: int, contact_id: int, quoted: list[str]
) -> None:
    """Import report rows keep their outcome but not a reason that quotes the person; their
    link to the contact goes with it (ON DELETE SET NULL)."""
    rows = await session.execute(
        select(ImportRow).where(
            ImportRow.batch_id.in_(select(ImportBatch.id).where(ImportBatch.org_id == org_id)),
            or_(
                ImportRow.contact_id == contact_id,
                ImportRow.similar_contact_id == contact_id,
                _mentions(ImportRow.reason, quoted),
            ),
        )
    )
    for row in rows.scalars():
        if row.reason and _quotes(row.reason, quoted):
            row.reason = ERASED_REASON
            session.add(row)


async def _scrub_import_files(session: AsyncSession, org_id: int, emails: list[str]) -> None:
    """Uploads not imported yet keep the file as sent, and a dry run's report quotes rows:
    a file holding one of the addresses is deleted (that import cannot run any more), and
    dry-run problems naming one are dropped."""
    if not emails:
        return
    batches = (
        await session.execute(
            select(ImportBatch).where(
                ImportBatch.org_id == org_id, ImportBatch.status.in_(("uploaded", "failed"))
            )
        )
    ).scalars()
    needles = [e.encode(codec) for e in emails for codec in ("utf-8", "utf-16-le")]
    for batch in batches:
        stored = await session.get(ImportFile, batch.id)
        if stored is not None and any(n in stored.content.lower() for n in needles):
            await session.delete(stored)
        dry = dict(batch.counts.get("dry_run") or {})
        problems = dry.get("problems") or []
        kept = [
            p for p in problems if not any(e in str(p.get("reason", "")).lower() for e in emails)
        ]
        if len(kept) != len(problems):
            batch.counts = {**batch.counts, "dry_run": {**dry, "problems": kept}}
            session.add(batch)


async def _erase(session: AsyncSession, actor: Actor, settings: Settings, contact: Contact) -> int:
    """Erase one contact inside the caller's transaction; returns how many addresses it had."""
    cid = contact.id
    assert cid is not None
    emails = list(
        (
            await session.execute(
                select(ContactEmail.normalised).where(ContactEmail.contact_id == cid)
            )
        ).scalars()
    )
    raw = (
        await session.execute(select(ContactEmail.email).where(ContactEmail.contact_id == cid))
    ).scalars()
    interaction_ids = list(
        (await session.execute(select(Interaction.id).where(Interaction.contact_id == cid)))
        .scalars()
        .all()
    )
    # What would identify the person in free text: every address, and the full name.
    quoted = sorted({*emails, *(e.lower() for e in raw)})
    if len(contact.full_name) >= 5:
        quoted.append(contact.full_name)
    await _scrub_audit(session, actor.org_id, cid, interaction_ids, quoted)
    await _scrub_import_rows(session, actor.org_id, cid, quoted)
    await _scrub_import_files(session, actor.org_id, emails)
    await _scrub_inbound(session, actor.org_id, cid, emails)
    await _scrub_coverage(session, actor.org_id, cid, contact.full_name)
    await _scrub_deliveries(session, actor.org_id, cid, emails)
    await _scrub_guests(session, actor.org_id, cid, emails)
    for email in emails:
        await suppress(session, settings, actor.org_id, email, "erased")
    # The contact's emails, roles, beats, tags, list memberships and interactions cascade.
    await session.delete(contact)
    await session.flush()
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="erase",
        entity="contact", entity_id=cid, changes={"addresses_suppressed": len(emails)},
    )  # fmt: skip
    return len(emails)


async def erase_contact(
    session: AsyncSession, actor: Actor, settings: Settings, contact_id: int
) -> None:
    """Delete a contact's personal data everywhere it is held, keeping only suppressions."""
    actor.require_write()
    contact = await get_contact(session, actor, contact_id)
    await _erase(session, actor, settings, contact)
    await session.commit()


# --- data requests from journalists ---------------------------------------------------------


class RequestThrottled(DomainError):
    """Too many unconfirmed requests for one address today."""


class DataRequestIn(Input):
    email: Annotated[EmailStr, StringConstraints(max_length=320)]
    kind: Literal["copy", "erasure"]
    message: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


@dataclass
class RequestView:
    """A request as an owner sees it, with the contacts its address matches."""

    request: DataRequest
    contacts: list[tuple[int, str]] = field(default_factory=list)
    fulfilled_by: str | None = None

    @property
    def expired(self) -> bool:
        return self.request.status == "unconfirmed" and _expired(self.request)


def _expired(req: DataRequest) -> bool:
    return req.created_at < datetime.now(UTC) - timedelta(days=REQUEST_DAYS)


async def public_org(session: AsyncSession, org_id: int) -> Organisation:
    """The organisation a journalist addresses; any id that is not one answers 404."""
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation")
    return org


async def create_request(
    session: AsyncSession, org_id: int, data: DataRequestIn, *, language: str = "en"
) -> DataRequest:
    """Store a journalist's request and queue the confirmation email, which speaks
    `language` (the page's).

    Known and unknown addresses are treated alike, so the answer tells nobody whether an
    organisation holds data about an address."""
    await public_org(session, org_id)
    email = normalise_email(str(data.email))
    now = datetime.now(UTC)
    # Links nobody confirmed within a week are useless; their addresses need not stay.
    await session.execute(
        delete(DataRequest).where(
            DataRequest.status == "unconfirmed",
            DataRequest.created_at < now - timedelta(days=REQUEST_DAYS),
        )
    )
    recent = await session.execute(
        select(func.count()).where(
            DataRequest.org_id == org_id,
            DataRequest.email == email,
            DataRequest.status == "unconfirmed",
            DataRequest.created_at >= now - timedelta(days=1),
        )
    )
    if recent.scalar_one() >= REQUESTS_PER_DAY:
        await session.rollback()
        raise RequestThrottled("too many requests for this address today")
    # Nor may the form be used to make an organisation mail strangers in bulk.
    hourly = await session.execute(
        select(func.count()).where(
            DataRequest.org_id == org_id,
            DataRequest.status == "unconfirmed",
            DataRequest.created_at >= now - timedelta(hours=1),
        )
    )
    if hourly.scalar_one() >= UNCONFIRMED_PER_HOUR:
        await session.rollback()
        raise RequestThrottled("too many unconfirmed requests for this organisation this hour")
    # The real token is made when the email is sent; until then nobody can know this one.
    req = DataRequest(
        org_id=org_id,
        kind=data.kind,
        email=email,
        message=data.message,
        language=language,
        token_hash=token_hash(secrets.token_urlsafe(32)),
    )
    session.add(req)
    await session.flush()
    await jobs.enqueue(session, "privacy.confirm", {"request_id": req.id}, org_id=org_id)
    await session.commit()
    return req


def issue_token(req: DataRequest) -> str:
    """A new confirmation token for `req` (only its hash is kept); the caller commits."""
    token = secrets.token_urlsafe(32)
    req.token_hash = token_hash(token)
    return token


async def open_request(session: AsyncSession, token: str) -> DataRequest:
    """The request behind a confirmation link; unknown or expired links answer 404."""
    stmt = select(DataRequest).where(DataRequest.token_hash == token_hash(token[:200]))
    req = (await session.execute(stmt)).scalar_one_or_none()
    if req is None or (req.status == "unconfirmed" and _expired(req)):
        raise NotFound("link")
    return req


async def confirm_request(session: AsyncSession, token: str) -> DataRequest:
    """The journalist proves the address is theirs; confirming twice changes nothing."""
    req = await open_request(session, token)
    if req.status == "unconfirmed":
        req.status = "confirmed"
        req.confirmed_at = datetime.now(UTC)
        session.add(req)
        audit.record(
            session, org_id=req.org_id, user_id=None, action="confirm",
            entity="data_request", entity_id=req.id, changes={"kind": req.kind},
        )  # fmt: skip
        await session.commit()
    return req


async def _matches(session: AsyncSession, org_id: int, emails: list[str]) -> dict[str, list]:
    """Normalised address → [(contact id, name)] of the organisation's contacts."""
    found: dict[str, list[tuple[int, str]]] = {e: [] for e in emails}
    if not emails:
        return found
    rows = await session.execute(
        select(ContactEmail.normalised, Contact.id, Contact.given_name, Contact.family_name)
        .join(Contact, Contact.id == ContactEmail.contact_id)
        .where(ContactEmail.org_id == org_id, ContactEmail.normalised.in_(emails))
        .order_by(Contact.sort_key, Contact.id)
    )
    for email, cid, given, family in rows.all():
        found[email].append((cid, f"{given} {family}".strip()))
    return found


async def list_requests(session: AsyncSession, actor: Actor) -> list[RequestView]:
    """The organisation's requests for its owners: confirmed (waiting for them) first."""
    actor.require_owner()
    order = case(
        (DataRequest.status == "confirmed", 0), (DataRequest.status == "unconfirmed", 1), else_=2
    )
    rows = await session.execute(
        select(DataRequest, User.name, User.email)
        .outerjoin(User, User.id == DataRequest.fulfilled_by_id)
        .where(DataRequest.org_id == actor.org_id)
        .order_by(order, DataRequest.created_at.desc(), DataRequest.id.desc())
        .limit(200)
    )
    views = [RequestView(r, [], _who(name, email)) for r, name, email in rows.all()]
    matches = await _matches(
        session, actor.org_id, [v.request.email for v in views if v.request.email]
    )
    for view in views:
        view.contacts = matches.get(view.request.email, [])
    return views


async def get_request(session: AsyncSession, actor: Actor, request_id: int) -> DataRequest:
    actor.require_owner()
    req = await session.get(DataRequest, request_id)
    if req is None or req.org_id != actor.org_id:
        raise NotFound("request")
    return req


def _require_open(req: DataRequest) -> None:
    if req.status != "confirmed" or not req.email:
        raise Conflict(
            N_("This request is not waiting for you: it is unconfirmed, or already closed.")
        )


def _close(req: DataRequest, user_id: int | None, status: str, outcome: str) -> None:
    """Record the fulfilment; the address goes, since nothing needs it any more."""
    req.status = status
    req.fulfilled_at = datetime.now(UTC)
    req.fulfilled_by_id = user_id
    req.outcome = outcome[:300]
    req.email = ""
    req.message = ""  # it may name the person too


async def request_copy(session: AsyncSession, actor: Actor, req: DataRequest) -> dict[str, Any]:
    """What a copy request gets: the export of every contact holding the confirmed address."""
    matches = await _matches(session, req.org_id, [req.email])
    contacts = [await export_contact_data(session, actor, cid) for cid, _ in matches[req.email]]
    org = await session.get(Organisation, req.org_id)
    return {
        "organisation": org.name if org else None,
        "address": req.email,
        "generated_at": _iso(datetime.now(UTC)),
        "contacts": contacts,
    }


async def fulfil_request(
    session: AsyncSession, actor: Actor, settings: Settings, request_id: int, *, method: str = ""
) -> None:
    """Act on a confirmed request.

    Erasure: every matching contact is erased, and the address suppressed even when no
    contact matches. Copy: `method` "email" queues the copy to the confirmed address (the job
    closes the request once it is sent); "done" records that the owner gave it themselves."""
    req = await get_request(session, actor, request_id)
    _require_open(req)
    if req.kind == "erasure":
        matches = await _matches(session, actor.org_id, [req.email])
        for cid, _ in matches[req.email]:
            await _erase(session, actor, settings, await get_contact(session, actor, cid))
        await suppress(session, settings, actor.org_id, req.email, "erased")
        count = len(matches[req.email])
        outcome = N_("Erased %(count)s contact(s); address suppressed.", count=count)
        _close(req, actor.user_id, "fulfilled", outcome)
    elif method == "email":
        await jobs.enqueue(session, "privacy.send_copy", {"request_id": req.id}, org_id=req.org_id)
        req.fulfilled_by_id = actor.user_id
        req.outcome = N_("Copy queued to be emailed.")
    elif method == "done":
        _close(req, actor.user_id, "fulfilled", N_("Copy given by the organisation."))
    else:
        raise InvalidInput({"method": N_("Choose how to send the copy.")})
    session.add(req)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="fulfil",
        entity="data_request", entity_id=req.id, changes={"kind": req.kind},
    )  # fmt: skip
    await session.commit()


def copy_sent(req: DataRequest) -> None:
    """The emailed copy has left: the request is fulfilled (the caller commits)."""
    _close(req, req.fulfilled_by_id, "fulfilled", N_("Copy emailed to the confirmed address."))


async def decline_request(
    session: AsyncSession, actor: Actor, request_id: int, reason: str
) -> None:
    """Decline with a reason an auditor (or a data-protection authority) could read."""
    req = await get_request(session, actor, request_id)
    _require_open(req)
    reason = reason.strip()
    if not reason:
        raise InvalidInput({"reason": N_("Say why the request is declined.")})
    if len(reason) > 300:
        raise InvalidInput({"reason": N_("Use at most 300 characters.")})
    _close(req, actor.user_id, "declined", reason)
    session.add(req)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="decline",
        entity="data_request", entity_id=req.id, changes={"kind": req.kind},
    )  # fmt: skip
    await session.commit()
