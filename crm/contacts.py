"""Contacts: journalists and editors, their emails, outlet roles, beats and tags."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator, model_validator
from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm import audit
from crm.accounts import Actor
from crm.errors import InvalidInput, NotFound
from crm.i18n import N_
from crm.models import (
    Beat,
    Contact,
    ContactBeat,
    ContactEmail,
    ContactList,
    ContactOutletRole,
    ContactTag,
    ListMember,
    Outlet,
)
from crm.models.base import DbId, Input, sensible_year
from crm.search import like_pattern, normalise_email, query_terms, search_key

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Medium = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]
Language = Literal["en", "sq", "sr-Latn", "sr-Cyrl"]


class RoleIn(Input):
    outlet_id: DbId
    title: Short = ""
    started_on: date | None = None
    ended_on: date | None = None

    _years = field_validator("started_on", "ended_on")(sensible_year)

    @model_validator(mode="after")
    def _dates_in_order(self) -> RoleIn:
        if self.started_on and self.ended_on and self.ended_on < self.started_on:
            raise ValueError(N_("The role cannot end before it starts."))
        return self


class ContactIn(Input):
    """A contact as a user enters it, in a form or through the API."""

    given_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    family_name: Short = ""
    emails: list[EmailStr] = Field(default_factory=list, max_length=10)
    phones: list[Phone] = Field(default_factory=list, max_length=10)
    social: dict[Annotated[str, StringConstraints(max_length=30)], Medium] = Field(
        default_factory=dict, max_length=10
    )
    salutation: Literal["m", "f", "neutral"] = "neutral"
    vocative: Short = ""
    preferred_language: Language = "sq"
    languages: list[Language] = Field(default_factory=list, max_length=4)
    city: Short = ""
    region: Short = ""
    notes: Annotated[str, StringConstraints(max_length=20000)] = ""
    beat_ids: list[DbId] = Field(default_factory=list, max_length=50)
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    roles: list[RoleIn] = Field(default_factory=list, max_length=20)
    legal_basis: Literal["legitimate_interest", "consent", "contract", "public_source"] = (
        "legitimate_interest"
    )
    legal_source: Medium = ""
    do_not_contact: bool = False
    do_not_contact_reason: Medium = ""


@dataclass
class ContactFilter:
    q: str = ""
    beat_id: int | None = None
    outlet_id: int | None = None
    medium: str = ""
    language: str = ""
    region: str = ""
    tag: str = ""
    do_not_contact: bool | None = None
    list_id: int | None = None
    sort: str = "name"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "") and k != "sort"}


@dataclass
class ContactBrief:
    """What a row of the contacts list shows, without loading the whole contact."""

    id: int
    given_name: str
    family_name: str
    do_not_contact: bool
    last_interaction_at: datetime | None

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


@dataclass
class ContactRow:
    contact: ContactBrief
    email: str | None
    outlets: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class ContactDetail:
    contact: Contact
    emails: list[ContactEmail]
    roles: list[tuple[ContactOutletRole, Outlet]]
    beats: list[Beat]
    tags: list[str]
    lists: list[ContactList]


SORTS: dict[str, Any] = {
    "name": (Contact.sort_key, Contact.id),
    "-name": (Contact.sort_key.desc(), Contact.id.desc()),
    "recent": (Contact.last_interaction_at.desc(), Contact.id),
    "created": (Contact.created_at.desc(), Contact.id.desc()),
}


def _linked(link: Any, where: list[Any], *, for_count: bool) -> ColumnElement[bool]:
    """Contacts with a matching row in a link table.

    Counting is fastest as `id IN (…)`, which starts from the link table's index; a sorted
    page is fastest as a correlated EXISTS, which walks the sort index and probes.
    """
    if for_count:
        return Contact.id.in_(select(link.contact_id).where(*where))
    return exists().where(link.contact_id == Contact.id, *where)


def contact_conditions(
    org_id: int,
    f: ContactFilter,
    *,
    smart_lists: dict[int, dict[str, Any]] | None = None,
    for_count: bool = False,
) -> list[ColumnElement[bool]]:
    """WHERE clauses for a contact search; the organisation is always the first."""
    conds: list[ColumnElement[bool]] = [Contact.org_id == org_id]  # type: ignore[list-item]
    for term in query_terms(f.q):
        conds.append(Contact.search_text.like(like_pattern(term), escape="\\"))
    link = {"for_count": for_count}
    if f.beat_id:
        conds.append(_linked(ContactBeat, [ContactBeat.beat_id == f.beat_id], **link))
    current = ContactOutletRole.ended_on.is_(None)
    if f.outlet_id:
        at_outlet = ContactOutletRole.outlet_id == f.outlet_id
        conds.append(_linked(ContactOutletRole, [at_outlet, current], **link))
    if f.medium:
        outlets = select(Outlet.id).where(Outlet.org_id == org_id, Outlet.medium == f.medium)
        on_medium = ContactOutletRole.outlet_id.in_(outlets)
        conds.append(_linked(ContactOutletRole, [on_medium, current], **link))
    if f.language:
        conds.append(
            or_(
                Contact.preferred_language == f.language,
                cast(Contact.languages, String).like(f'%"{f.language}"%'),
            )
        )
    if f.region:
        conds.append(Contact.region == f.region)
    if f.tag:
        conds.append(_linked(ContactTag, [ContactTag.tag == f.tag], **link))
    if f.do_not_contact is not None:
        conds.append(Contact.do_not_contact == f.do_not_contact)
    if f.list_id:
        smart = (smart_lists or {}).get(f.list_id)
        if smart is not None:
            inner = ContactFilter(**{k: v for k, v in smart.items() if k != "list_id"})
            conds.extend(contact_conditions(org_id, inner, for_count=for_count)[1:])
        else:
            conds.append(_linked(ListMember, [ListMember.list_id == f.list_id], **link))
    return conds


async def smart_filters(
    session: AsyncSession, org_id: int, list_id: int | None
) -> dict[int, dict[str, Any]]:
    if not list_id:
        return {}
    lst = await session.get(ContactList, list_id)
    if lst is None or lst.org_id != org_id:
        raise NotFound("list")
    return {lst.id: lst.filter} if lst.kind == "smart" and lst.id else {}


@functools.cache
def _page_columns() -> Select[Any]:
    """What a row of the list shows: the contact's brief and its first email (built once)."""
    primary = (
        select(ContactEmail.email)
        .where(ContactEmail.contact_id == Contact.id)
        .order_by(ContactEmail.position)
        .limit(1)
        .scalar_subquery()
    )
    return select(
        Contact.id,
        Contact.given_name,
        Contact.family_name,
        Contact.do_not_contact,
        Contact.last_interaction_at,
        primary,
    )


@functools.cache
def _current_outlets() -> Select[Any]:
    """The current outlets of the contacts `ids`, oldest role first (built once)."""
    return (
        select(ContactOutletRole.contact_id, Outlet.id, Outlet.name, ContactOutletRole.title)
        .join(Outlet, Outlet.id == ContactOutletRole.outlet_id)
        .where(
            ContactOutletRole.contact_id.in_(bindparam("ids", expanding=True)),
            ContactOutletRole.ended_on.is_(None),
        )
        .order_by(ContactOutletRole.id)
    )


async def search_contacts(
    session: AsyncSession, actor: Actor, f: ContactFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[ContactRow], int]:
    """One page of matching contacts with their primary email and current outlets, and the total."""
    smart = await smart_filters(session, actor.org_id, f.list_id)
    conds = contact_conditions(actor.org_id, f, smart_lists=smart)
    counting = contact_conditions(actor.org_id, f, smart_lists=smart, for_count=True)
    total = (await session.execute(select(func.count(Contact.id)).where(*counting))).scalar_one()
    stmt = (
        _page_columns()
        .where(*conds)
        .order_by(*SORTS.get(f.sort, SORTS["name"]))
        .limit(limit)
        .offset(offset)
    )
    rows = [ContactRow(ContactBrief(*r[:5]), r[5]) for r in (await session.execute(stmt)).all()]
    by_id = {r.contact.id: r for r in rows}
    if by_id:
        roles = await session.execute(_current_outlets(), {"ids": list(by_id)})
        for contact_id, outlet_id, name, title in roles.all():
            by_id[contact_id].outlets.append((outlet_id, name, title))
    return rows, int(total)


async def matching_ids(session: AsyncSession, actor: Actor, f: ContactFilter) -> list[int]:
    smart = await smart_filters(session, actor.org_id, f.list_id)
    conds = contact_conditions(actor.org_id, f, smart_lists=smart, for_count=True)
    return list((await session.execute(select(Contact.id).where(*conds))).scalars())


async def get_contact(session: AsyncSession, actor: Actor, contact_id: int) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.org_id != actor.org_id:
        raise NotFound("contact")
    return contact


async def contact_detail(session: AsyncSession, actor: Actor, contact_id: int) -> ContactDetail:
    contact = await get_contact(session, actor, contact_id)
    emails = (
        await session.execute(
            select(ContactEmail)
            .where(ContactEmail.contact_id == contact_id)
            .order_by(ContactEmail.position)
        )
    ).scalars()
    roles = await session.execute(
        select(ContactOutletRole, Outlet)
        .join(Outlet, Outlet.id == ContactOutletRole.outlet_id)
        .where(ContactOutletRole.contact_id == contact_id)
        .order_by(ContactOutletRole.ended_on.is_not(None), ContactOutletRole.id)
    )
    beats = await session.execute(
        select(Beat)
        .join(ContactBeat, ContactBeat.beat_id == Beat.id)
        .where(ContactBeat.contact_id == contact_id)
        .order_by(Beat.name)
    )
    tags = await session.execute(
        select(ContactTag.tag).where(ContactTag.contact_id == contact_id).order_by(ContactTag.tag)
    )
    lists = await session.execute(
        select(ContactList)
        .join(ListMember, ListMember.list_id == ContactList.id)
        .where(ListMember.contact_id == contact_id)
        .order_by(ContactList.name)
    )
    return ContactDetail(
        contact=contact,
        emails=list(emails),
        roles=[(r, o) for r, o in roles.all()],
        beats=list(beats.scalars()),
        tags=list(tags.scalars()),
        lists=list(lists.scalars()),
    )


def detail_as_input(detail: ContactDetail) -> ContactIn:
    c = detail.contact
    return ContactIn(
        given_name=c.given_name,
        family_name=c.family_name,
        emails=[e.email for e in detail.emails],
        phones=c.phones,
        social=c.social,
        salutation=c.salutation,
        vocative=c.vocative,
        preferred_language=c.preferred_language,
        languages=c.languages,
        city=c.city,
        region=c.region,
        notes=c.notes,
        beat_ids=[b.id for b in detail.beats if b.id],
        tags=detail.tags,
        roles=[
            RoleIn(
                outlet_id=r.outlet_id, title=r.title, started_on=r.started_on, ended_on=r.ended_on
            )
            for r, _ in detail.roles
        ],
        legal_basis=c.legal_basis,
        legal_source=c.legal_source,
        do_not_contact=c.do_not_contact,
        do_not_contact_reason=c.do_not_contact_reason,
    )


async def _check_references(
    session: AsyncSession, actor: Actor, data: ContactIn, contact_id: int | None
) -> None:
    """Emails not used by another contact; outlets and beats that this organisation can see."""
    errors: dict[str, str] = {}
    links: dict[str, str] = {}
    normalised = [normalise_email(str(e)) for e in data.emails]
    if len(set(normalised)) != len(normalised):
        errors["emails"] = N_("The same address is listed twice.")
    if normalised:
        stmt = select(ContactEmail.contact_id, ContactEmail.email).where(
            ContactEmail.org_id == actor.org_id,
            ContactEmail.normalised.in_(normalised),
        )
        if contact_id is not None:
            stmt = stmt.where(ContactEmail.contact_id != contact_id)
        other = (await session.execute(stmt.limit(1))).first()
        if other is not None:
            errors["emails"] = N_(
                "%(email)s already belongs to another contact.", email=other.email
            )
            links["emails"] = f"/contacts/{other.contact_id}"
    outlet_ids = {r.outlet_id for r in data.roles}
    if outlet_ids:
        found = await session.execute(
            select(Outlet.id).where(Outlet.id.in_(outlet_ids), Outlet.org_id == actor.org_id)
        )
        if set(found.scalars()) != outlet_ids:
            errors["roles"] = N_("Choose an outlet from your organisation's outlets.")
    if data.beat_ids:
        found = await session.execute(
            select(Beat.id).where(
                Beat.id.in_(data.beat_ids),
                or_(Beat.org_id.is_(None), Beat.org_id == actor.org_id),
            )
        )
        if set(found.scalars()) != set(data.beat_ids):
            errors["beat_ids"] = N_("Choose beats from the list.")
    if errors:
        raise InvalidInput(errors, links=links)


async def refresh_search_text(session: AsyncSession, contact: Contact) -> None:
    """Recompute what search matches: names, emails, city and current outlet names."""
    emails = (
        await session.execute(
            select(ContactEmail.email).where(ContactEmail.contact_id == contact.id)
        )
    ).scalars()
    outlets = (
        await session.execute(
            select(Outlet.name)
            .join(ContactOutletRole, ContactOutletRole.outlet_id == Outlet.id)
            .where(
                ContactOutletRole.contact_id == contact.id,
                ContactOutletRole.ended_on.is_(None),
            )
        )
    ).scalars()
    contact.search_text = search_key(
        contact.given_name, contact.family_name, *emails, contact.city, *outlets
    )[:2000]


def _sort_key(data: ContactIn) -> str:
    return search_key(data.family_name or data.given_name, data.given_name).split(" | ")[0][:200]


async def _write_children(
    session: AsyncSession, actor: Actor, contact: Contact, data: ContactIn
) -> None:
    cid = contact.id
    assert cid is not None
    # An address that bounced stays flagged through an edit that keeps it.
    bounced: dict[str, datetime] = dict(
        (
            await session.execute(
                select(ContactEmail.normalised, ContactEmail.bounced_at).where(
                    ContactEmail.contact_id == cid, ContactEmail.bounced_at.is_not(None)
                )
            )
        ).all()
    )
    for table in (ContactEmail, ContactOutletRole, ContactBeat, ContactTag):
        await session.execute(delete(table).where(table.contact_id == cid))
    for position, email in enumerate(data.emails):
        normalised = normalise_email(str(email))
        session.add(
            ContactEmail(
                org_id=actor.org_id,
                contact_id=cid,
                email=str(email),
                normalised=normalised,
                is_primary=position == 0,
                position=position,
                bounced_at=bounced.get(normalised),
            )
        )
    for role in data.roles:
        session.add(ContactOutletRole(contact_id=cid, **role.model_dump()))
    for beat_id in dict.fromkeys(data.beat_ids):
        session.add(ContactBeat(contact_id=cid, beat_id=beat_id))
    for tag in dict.fromkeys(t.lower() for t in data.tags):
        session.add(ContactTag(contact_id=cid, tag=tag, org_id=actor.org_id))
    await session.flush()
    await refresh_search_text(session, contact)


_SCALARS = (
    "given_name", "family_name", "phones", "social", "salutation", "vocative",
    "preferred_language", "languages", "city", "region", "notes", "legal_basis", "legal_source",
    "do_not_contact", "do_not_contact_reason",
)  # fmt: skip


async def create_contact(session: AsyncSession, actor: Actor, data: ContactIn) -> Contact:
    actor.require_write()
    await _check_references(session, actor, data, None)
    now = datetime.now(UTC)
    contact = Contact(
        org_id=actor.org_id,
        **{k: getattr(data, k) for k in _SCALARS},
        sort_key=_sort_key(data),
        legal_captured_at=now,
        legal_captured_by_id=actor.user_id,
    )
    session.add(contact)
    await session.flush()
    await _write_children(session, actor, contact, data)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="contact", entity_id=contact.id, changes={"name": contact.full_name},
    )  # fmt: skip
    await session.commit()
    return contact


async def update_contact(
    session: AsyncSession, actor: Actor, contact_id: int, data: ContactIn
) -> Contact:
    actor.require_write()
    contact = await get_contact(session, actor, contact_id)
    await _check_references(session, actor, data, contact_id)
    changed = {k: getattr(data, k) for k in _SCALARS if getattr(contact, k) != getattr(data, k)}
    for key, value in changed.items():
        setattr(contact, key, value)
    if "legal_basis" in changed or "legal_source" in changed:
        contact.legal_captured_at = datetime.now(UTC)
        contact.legal_captured_by_id = actor.user_id
    contact.sort_key = _sort_key(data)
    contact.updated_at = datetime.now(UTC)
    await _write_children(session, actor, contact, data)
    session.add(contact)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="contact", entity_id=contact.id, changes={"fields": sorted(changed)},
    )  # fmt: skip
    await session.commit()
    return contact


async def delete_contact(session: AsyncSession, actor: Actor, contact_id: int) -> None:
    actor.require_write()
    contact = await get_contact(session, actor, contact_id)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="delete",
        entity="contact", entity_id=contact.id, changes={"name": contact.full_name},
    )  # fmt: skip
    await session.delete(contact)
    await session.commit()


@dataclass
class Choice:
    id: int
    name: str
    kind: str = ""


@functools.cache
def _menus_statement(facets: bool) -> tuple[Select[Any], tuple[str, ...]]:
    """The statement behind `filter_menus`, built once; the organisation is a bound parameter.

    Each menu is a materialised CTE of (id, name, sort) rows, or of one name column for the
    regions and tags, so that their DISTINCT is read from the index as when it runs alone
    (inside a compound SELECT, SQLite would scan every contact instead)."""
    org = bindparam("org_id", type_=Integer)
    menus: dict[str, Select[Any]] = {
        "static_lists": select(ContactList.id, ContactList.name, ContactList.name).where(
            ContactList.org_id == org, ContactList.kind == "static"
        )
    }
    if facets:
        menus["beats"] = select(Beat.id, Beat.name, Beat.name).where(
            or_(Beat.org_id.is_(None), Beat.org_id == org)
        )
        menus["outlets"] = select(Outlet.id, Outlet.name, Outlet.sort_key).where(
            Outlet.org_id == org
        )
        menus["regions"] = (
            select(Contact.region).where(Contact.org_id == org, Contact.region != "").distinct()
        )
        menus["tags"] = select(ContactTag.tag).where(ContactTag.org_id == org).distinct()
    parts = []
    for key, stmt in menus.items():
        columns = stmt.selected_columns
        labels = ("id", "name", "sort") if len(columns) == 3 else ("name",)
        cte = (
            stmt.with_only_columns(*(c.label(n) for c, n in zip(columns, labels, strict=True)))
            .cte(f"menu_{key}")
            .prefix_with("MATERIALIZED")
        )
        item_id = cte.c.id if len(columns) == 3 else cast(null(), Integer)
        sort = cte.c.sort if len(columns) == 3 else cte.c.name
        parts.append(select(literal(key).label("menu"), item_id, cte.c.name, sort))
    union = union_all(*parts).subquery()
    return select(union).order_by(union.c.menu, union.c.sort), tuple(menus)


async def filter_menus(
    session: AsyncSession, actor: Actor, *, facets: bool = True
) -> dict[str, Any]:
    """The menus of the contacts page, in one statement: the static lists (to add results to)
    and, with `facets`, the filters' choices: beats, outlets, and the regions and tags in use."""
    stmt, keys = _menus_statement(facets)
    found: dict[str, list[Any]] = {key: [] for key in keys}
    for menu, item_id, name, _ in await session.execute(stmt, {"org_id": actor.org_id}):
        found[menu].append(name if item_id is None else Choice(item_id, name))
    return found
