"""Contacts out: the current search, filter or list as CSV for Excel, or as vCards for a phone.

Exports stream: ids are read a page at a time in name order, and each page's emails, roles,
beats and tags come with one query each, so 100,000 contacts never sit in memory at once.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.contacts import ContactFilter, contact_conditions, get_contact
from crm.lists import get_list
from crm.models import (
    Beat,
    Contact,
    ContactBeat,
    ContactEmail,
    ContactList,
    ContactOutletRole,
    ContactTag,
    Outlet,
)
from crm.vcards import SOCIAL_KEYS, ContactCard, export_vcards

CHUNK = 500
# English headers: the import recognises them, so an export can be imported again.
CSV_COLUMNS = (
    "Given name", "Family name", "Emails", "Phones", "Outlet", "Title", "Other outlets",
    "Beats", "Tags", "Languages", "Preferred language", "Salutation", "City", "Region",
    "X", "LinkedIn", "Facebook", "Instagram", "Mastodon", "Do not contact",
    "Do not contact reason", "Legal basis", "Notes",
)  # fmt: skip
# Spreadsheets run a cell starting with these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UID_NAMESPACE = uuid.UUID("b7a1c6f2-3f0e-4a51-9d0b-5e2f4c1d8a90")
_COLUMNS = (
    Contact.id, Contact.given_name, Contact.family_name, Contact.phones, Contact.social,
    Contact.salutation, Contact.preferred_language, Contact.languages, Contact.city,
    Contact.region, Contact.notes, Contact.legal_basis, Contact.do_not_contact,
    Contact.do_not_contact_reason,
)  # fmt: skip


@dataclass
class ExportedContact:
    """One contact with what hangs off it, as an export shows it."""

    row: Any  # the Contact columns of _COLUMNS
    emails: list[str] = field(default_factory=list)
    roles: list[tuple[str, str]] = field(default_factory=list)  # current (outlet, title)
    beats: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


async def check_filter(session: AsyncSession, actor: Actor, f: ContactFilter) -> ContactList | None:
    """The list the export is of, if any; NotFound for another organisation's. Called before
    a download starts, since an error cannot change the status of a response under way."""
    return await get_list(session, actor, f.list_id) if f.list_id else None


async def _id_pages(
    session: AsyncSession, actor: Actor, f: ContactFilter
) -> AsyncIterator[list[int]]:
    """The matching ids, CHUNK at a time, by name; keyset paging stays fast to the end."""
    lst = await check_filter(session, actor, f)
    smart = {lst.id: lst.filter} if lst is not None and lst.id and lst.kind == "smart" else {}
    conds = contact_conditions(actor.org_id, f, smart_lists=smart)
    last: tuple[str, int] | None = None
    while True:
        stmt = select(Contact.sort_key, Contact.id).where(*conds)
        if last is not None:
            stmt = stmt.where(
                or_(
                    Contact.sort_key > last[0],
                    and_(Contact.sort_key == last[0], Contact.id > last[1]),
                )
            )
        stmt = stmt.order_by(Contact.sort_key, Contact.id).limit(CHUNK)
        rows = (await session.execute(stmt)).all()
        if rows:
            yield [r.id for r in rows]
        if len(rows) < CHUNK:
            return
        last = (rows[-1].sort_key, rows[-1].id)


async def _load(session: AsyncSession, ids: list[int]) -> list[ExportedContact]:
    """The contacts `ids` in that order, with five queries whatever their number."""
    found = {
        r.id: ExportedContact(r)
        for r in (await session.execute(select(*_COLUMNS).where(Contact.id.in_(ids)))).all()
    }
    emails = select(ContactEmail.contact_id, ContactEmail.email).where(
        ContactEmail.contact_id.in_(ids)
    )
    for cid, email in await session.execute(emails.order_by(ContactEmail.position)):
        found[cid].emails.append(email)
    roles = (
        select(ContactOutletRole.contact_id, Outlet.name, ContactOutletRole.title)
        .join(Outlet, Outlet.id == ContactOutletRole.outlet_id)
        .where(ContactOutletRole.contact_id.in_(ids), ContactOutletRole.ended_on.is_(None))
    )
    for cid, name, title in await session.execute(roles.order_by(ContactOutletRole.id)):
        found[cid].roles.append((name, title))
    beats = (
        select(ContactBeat.contact_id, Beat.name)
        .join(Beat, Beat.id == ContactBeat.beat_id)
        .where(ContactBeat.contact_id.in_(ids))
    )
    for cid, name in await session.execute(beats.order_by(Beat.name)):
        found[cid].beats.append(name)
    tags = select(ContactTag.contact_id, ContactTag.tag).where(ContactTag.contact_id.in_(ids))
    for cid, tag in await session.execute(tags.order_by(ContactTag.tag)):
        found[cid].tags.append(tag)
    return [found[i] for i in ids if i in found]


async def exported_contacts(
    session: AsyncSession, actor: Actor, f: ContactFilter
) -> AsyncIterator[list[ExportedContact]]:
    """The contacts the search `f` matches, a page at a time, in the actor's organisation."""
    async for ids in _id_pages(session, actor, f):
        yield await _load(session, ids)


# --- CSV ---------------------------------------------------------------------------------------


def safe_cell(value: str) -> str:
    """The cell as text a spreadsheet will not run: `=SUM(…)` becomes `'=SUM(…)`."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _joined(values: Iterable[str]) -> str:
    return "; ".join(v for v in values if v)


def csv_row(c: ExportedContact) -> list[str]:
    r = c.row
    outlet, title = c.roles[0] if c.roles else ("", "")
    others = [f"{name} ({t})" if t else name for name, t in c.roles[1:]]
    cells = [
        r.given_name, r.family_name, _joined(c.emails), _joined(r.phones), outlet, title,
        _joined(others), _joined(c.beats), _joined(c.tags), _joined(r.languages),
        r.preferred_language, r.salutation, r.city, r.region,
        *(r.social.get(key, "") for key in SOCIAL_KEYS),
        "yes" if r.do_not_contact else "", r.do_not_contact_reason, r.legal_basis, r.notes,
    ]  # fmt: skip
    return [safe_cell(str(cell)) for cell in cells]


async def contacts_csv(session: AsyncSession, actor: Actor, f: ContactFilter) -> AsyncIterator[str]:
    """The matching contacts as CSV text, in pieces: UTF-8 BOM first, so Excel reads the
    letters ë, ç, č, ć, đ, š, ž and Cyrillic right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    async for page in exported_contacts(session, actor, f):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(csv_row(c) for c in page)
        yield buffer.getvalue()


# --- vCard -------------------------------------------------------------------------------------


def _card(org_id: int, c: ExportedContact) -> ContactCard:
    r = c.row
    outlet, title = c.roles[0] if c.roles else ("", "")
    notes = r.notes
    if len(c.roles) > 1:
        others = ", ".join(f"{name} ({t})" if t else name for name, t in c.roles[1:])
        notes = f"{notes}\n\nAlso at: {others}".strip()
    return ContactCard(
        given_name=r.given_name,
        family_name=r.family_name,
        emails=list(c.emails),
        phones=list(r.phones),
        outlet=outlet,
        title=title,
        city=r.city,
        region=r.region,
        notes=notes,
        social={k: v for k, v in r.social.items() if k in SOCIAL_KEYS and v},
        categories=list(c.tags),
        do_not_contact=r.do_not_contact,
        uid=f"urn:uuid:{uuid.uuid5(_UID_NAMESPACE, f'{org_id}/{r.id}')}",
    )


async def contact_cards(
    session: AsyncSession, actor: Actor, f: ContactFilter
) -> AsyncIterator[ContactCard]:
    """The matching contacts as vCard data, one by one."""
    async for page in exported_contacts(session, actor, f):
        for c in page:
            yield _card(actor.org_id, c)


async def contacts_vcf(
    session: AsyncSession, actor: Actor, f: ContactFilter, version: str = "4.0"
) -> AsyncIterator[str]:
    """The matching contacts as one vCard file, in pieces of a few hundred cards."""
    async for page in exported_contacts(session, actor, f):
        yield "".join(export_vcards((_card(actor.org_id, c) for c in page), version))


async def contact_card(session: AsyncSession, actor: Actor, contact_id: int) -> ContactCard:
    """One contact of the actor's organisation as vCard data (NotFound for any other)."""
    await get_contact(session, actor, contact_id)
    [found] = await _load(session, [contact_id])
    return _card(actor.org_id, found)
