"""JSON API under /api/v1: outlets, contacts, beats, interactions and lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from crm import beats, interactions, lists, outlets
from crm import contacts as crm_contacts
from crm.beats import BeatIn
from crm.contacts import ContactFilter, ContactIn
from crm.interactions import InteractionIn
from crm.lists import ListIn
from crm.models import Beat, ContactList, Interaction, Outlet
from crm.models.base import DbId
from crm.outlets import OutletIn
from web.deps import ApiAuth, Id, SessionDep

router = APIRouter(tags=["api"])
T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Q = Annotated[str, Query(max_length=200)]
IdQuery = Annotated[int | None, Query(ge=1, le=2_147_483_647)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class OutletOut(BaseModel):
    id: int
    name: str
    medium: str
    languages: list[str]
    region: str
    website: str
    desk_email: str
    reach: int | None


class RoleOut(BaseModel):
    outlet_id: int
    outlet_name: str
    title: str
    started_on: date | None
    ended_on: date | None


class ContactOut(BaseModel):
    id: int
    given_name: str
    family_name: str
    emails: list[str]
    phones: list[str]
    social: dict[str, str]
    salutation: str
    preferred_language: str
    languages: list[str]
    city: str
    region: str
    notes: str
    beat_ids: list[int]
    tags: list[str]
    roles: list[RoleOut]
    legal_basis: str
    legal_source: str
    legal_captured_at: datetime | None
    do_not_contact: bool
    do_not_contact_reason: str
    last_interaction_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactSummary(BaseModel):
    id: int
    given_name: str
    family_name: str
    email: str | None
    outlets: list[str]
    do_not_contact: bool
    last_interaction_at: datetime | None


class BeatOut(BaseModel):
    id: int
    slug: str
    name: str
    shared: bool


class InteractionOut(BaseModel):
    id: int
    contact_id: int
    kind: str
    direction: str
    occurred_at: datetime
    summary: str
    body: str
    author_id: int | None


class InteractionCreate(InteractionIn):
    contact_id: DbId


class ListOut(BaseModel):
    id: int
    name: str
    description: str
    kind: str
    filter: dict[str, Any]


class MembersIn(BaseModel):
    contact_ids: list[DbId] = Field(max_length=10_000)


def _outlet(o: Outlet) -> OutletOut:
    return OutletOut.model_validate(o.model_dump())


def _beat(b: Beat) -> BeatOut:
    return BeatOut(id=b.id or 0, slug=b.slug, name=b.name, shared=b.org_id is None)


def _interaction(i: Interaction) -> InteractionOut:
    return InteractionOut.model_validate(i.model_dump())


def _list(lst: ContactList) -> ListOut:
    return ListOut.model_validate(lst.model_dump())


async def _contact_out(session: SessionDep, auth: ApiAuth, contact_id: Id) -> ContactOut:
    d = await crm_contacts.contact_detail(session, auth.actor, contact_id)
    c = d.contact
    return ContactOut(
        **c.model_dump(exclude={"org_id", "search_text", "sort_key", "legal_captured_by_id"}),
        emails=[e.email for e in d.emails],
        beat_ids=[b.id for b in d.beats if b.id],
        tags=d.tags,
        roles=[
            RoleOut(
                outlet_id=r.outlet_id,
                outlet_name=o.name,
                title=r.title,
                started_on=r.started_on,
                ended_on=r.ended_on,
            )
            for r, o in d.roles
        ],
    )


# --- contacts --------------------------------------------------------------------------------


def contact_filter(
    q: Q = "",
    beat_id: IdQuery = None,
    outlet_id: IdQuery = None,
    medium: Annotated[str, Query(max_length=16)] = "",
    language: Annotated[str, Query(max_length=8)] = "",
    region: Annotated[str, Query(max_length=100)] = "",
    tag: Annotated[str, Query(max_length=60)] = "",
    do_not_contact: bool | None = None,
    list_id: IdQuery = None,
    sort: Annotated[str, Query(pattern="^(name|-name|recent|created)$")] = "name",
) -> ContactFilter:
    """The filters of GET /api/v1/contacts, shared by the exports."""
    return ContactFilter(
        q=q,
        beat_id=beat_id,
        outlet_id=outlet_id,
        medium=medium,
        language=language,
        region=region,
        tag=tag,
        do_not_contact=do_not_contact,
        list_id=list_id,
        sort=sort,
    )


ApiFilter = Annotated[ContactFilter, Depends(contact_filter)]


@router.get("/contacts")
async def list_contacts(
    auth: ApiAuth,
    session: SessionDep,
    f: ApiFilter,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ContactSummary]:
    rows, total = await crm_contacts.search_contacts(
        session, auth.actor, f, limit=limit, offset=offset
    )
    items = [
        ContactSummary(
            id=r.contact.id or 0,
            given_name=r.contact.given_name,
            family_name=r.contact.family_name,
            email=r.email,
            outlets=[name for _, name, _ in r.outlets],
            do_not_contact=r.contact.do_not_contact,
            last_interaction_at=r.contact.last_interaction_at,
        )
        for r in rows
    ]
    return Page(items=items, total=total)


@router.post("/contacts", status_code=201)
async def create_contact(auth: ApiAuth, session: SessionDep, data: ContactIn) -> ContactOut:
    contact = await crm_contacts.create_contact(session, auth.actor, data)
    return await _contact_out(session, auth, contact.id or 0)


@router.get("/contacts/{contact_id}")
async def get_contact(auth: ApiAuth, session: SessionDep, contact_id: Id) -> ContactOut:
    return await _contact_out(session, auth, contact_id)


@router.put("/contacts/{contact_id}")
async def replace_contact(
    auth: ApiAuth, session: SessionDep, contact_id: Id, data: ContactIn
) -> ContactOut:
    await crm_contacts.update_contact(session, auth.actor, contact_id, data)
    return await _contact_out(session, auth, contact_id)


@router.patch("/contacts/{contact_id}")
async def patch_contact(
    auth: ApiAuth, session: SessionDep, contact_id: Id, data: dict[str, Any]
) -> ContactOut:
    """Change only the fields sent; the result is validated like a full contact."""
    detail = await crm_contacts.contact_detail(session, auth.actor, contact_id)
    merged = crm_contacts.detail_as_input(detail).model_dump() | data
    full = ContactIn.model_validate(merged)
    await crm_contacts.update_contact(session, auth.actor, contact_id, full)
    return await _contact_out(session, auth, contact_id)


@router.delete("/contacts/{contact_id}", status_code=204)
async def delete_contact(auth: ApiAuth, session: SessionDep, contact_id: Id) -> Response:
    await crm_contacts.delete_contact(session, auth.actor, contact_id)
    return Response(status_code=204)


@router.get("/contacts/{contact_id}/interactions")
async def contact_timeline(
    auth: ApiAuth, session: SessionDep, contact_id: Id, limit: Limit = 50, offset: Offset = 0
) -> Page[InteractionOut]:
    await crm_contacts.get_contact(session, auth.actor, contact_id)
    items, total = await interactions.search_interactions(
        session, auth.actor, contact_id=contact_id, limit=limit, offset=offset
    )
    return Page(items=[_interaction(i) for i in items], total=total)


# --- outlets ---------------------------------------------------------------------------------


@router.get("/outlets")
async def list_outlets(
    auth: ApiAuth,
    session: SessionDep,
    q: Q = "",
    medium: Annotated[str, Query(max_length=16)] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[OutletOut]:
    rows, total = await outlets.search_outlets(
        session, auth.actor, q=q, medium=medium, limit=limit, offset=offset
    )
    return Page(items=[_outlet(o) for o, _ in rows], total=total)


@router.post("/outlets", status_code=201)
async def create_outlet(auth: ApiAuth, session: SessionDep, data: OutletIn) -> OutletOut:
    return _outlet(await outlets.create_outlet(session, auth.actor, data))


@router.get("/outlets/{outlet_id}")
async def get_outlet(auth: ApiAuth, session: SessionDep, outlet_id: Id) -> OutletOut:
    return _outlet(await outlets.get_outlet(session, auth.actor, outlet_id))


@router.put("/outlets/{outlet_id}")
async def update_outlet(
    auth: ApiAuth, session: SessionDep, outlet_id: Id, data: OutletIn
) -> OutletOut:
    return _outlet(await outlets.update_outlet(session, auth.actor, outlet_id, data))


@router.delete("/outlets/{outlet_id}", status_code=204)
async def delete_outlet(auth: ApiAuth, session: SessionDep, outlet_id: Id) -> Response:
    await outlets.delete_outlet(session, auth.actor, outlet_id)
    return Response(status_code=204)


# --- beats -----------------------------------------------------------------------------------


@router.get("/beats")
async def list_beats(
    auth: ApiAuth, session: SessionDep, q: Q = "", limit: Limit = 50, offset: Offset = 0
) -> Page[BeatOut]:
    from crm.search import fold

    items = [b for b in await beats.all_beats(session, auth.actor) if fold(q) in fold(b.name)]
    return Page(items=[_beat(b) for b in items[offset : offset + limit]], total=len(items))


@router.post("/beats", status_code=201)
async def create_beat(auth: ApiAuth, session: SessionDep, data: BeatIn) -> BeatOut:
    return _beat(await beats.create_beat(session, auth.actor, data))


@router.get("/beats/{beat_id}")
async def get_beat(auth: ApiAuth, session: SessionDep, beat_id: Id) -> BeatOut:
    return _beat(await beats.get_beat(session, auth.actor, beat_id))


@router.put("/beats/{beat_id}")
async def update_beat(auth: ApiAuth, session: SessionDep, beat_id: Id, data: BeatIn) -> BeatOut:
    return _beat(await beats.rename_beat(session, auth.actor, beat_id, data))


@router.delete("/beats/{beat_id}", status_code=204)
async def delete_beat(auth: ApiAuth, session: SessionDep, beat_id: Id) -> Response:
    await beats.delete_beat(session, auth.actor, beat_id)
    return Response(status_code=204)


# --- interactions ------------------------------------------------------------------------------


@router.get("/interactions")
async def list_interactions(
    auth: ApiAuth,
    session: SessionDep,
    contact_id: IdQuery = None,
    kind: Annotated[str, Query(max_length=20)] = "",
    q: Q = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[InteractionOut]:
    items, total = await interactions.search_interactions(
        session, auth.actor, contact_id=contact_id, kind=kind, q=q, limit=limit, offset=offset
    )
    return Page(items=[_interaction(i) for i in items], total=total)


@router.post("/interactions", status_code=201)
async def create_interaction(
    auth: ApiAuth, session: SessionDep, data: InteractionCreate
) -> InteractionOut:
    payload = InteractionIn.model_validate(data.model_dump(exclude={"contact_id"}))
    item = await interactions.log_interaction(session, auth.actor, data.contact_id, payload)
    return _interaction(item)


@router.get("/interactions/{interaction_id}")
async def get_interaction(auth: ApiAuth, session: SessionDep, interaction_id: Id) -> InteractionOut:
    return _interaction(await interactions.get_interaction(session, auth.actor, interaction_id))


@router.put("/interactions/{interaction_id}")
async def update_interaction(
    auth: ApiAuth, session: SessionDep, interaction_id: Id, data: InteractionIn
) -> InteractionOut:
    item = await interactions.update_interaction(session, auth.actor, interaction_id, data)
    return _interaction(item)


@router.delete("/interactions/{interaction_id}", status_code=204)
async def delete_interaction(auth: ApiAuth, session: SessionDep, interaction_id: Id) -> Response:
    await interactions.delete_interaction(session, auth.actor, interaction_id)
    return Response(status_code=204)


# --- lists -----------------------------------------------------------------------------------


@router.get("/lists")
async def list_lists(
    auth: ApiAuth, session: SessionDep, q: Q = "", limit: Limit = 50, offset: Offset = 0
) -> Page[ListOut]:
    from crm.search import fold

    items = [lst for lst, _ in await lists.all_lists(session, auth.actor)]
    items = [lst for lst in items if fold(q) in fold(lst.name)]
    return Page(items=[_list(lst) for lst in items[offset : offset + limit]], total=len(items))


@router.post("/lists", status_code=201)
async def create_list(auth: ApiAuth, session: SessionDep, data: ListIn) -> ListOut:
    return _list(await lists.create_list(session, auth.actor, data))


@router.get("/lists/{list_id}")
async def get_list(auth: ApiAuth, session: SessionDep, list_id: Id) -> ListOut:
    return _list(await lists.get_list(session, auth.actor, list_id))


@router.put("/lists/{list_id}")
async def update_list(auth: ApiAuth, session: SessionDep, list_id: Id, data: ListIn) -> ListOut:
    return _list(await lists.update_list(session, auth.actor, list_id, data))


@router.delete("/lists/{list_id}", status_code=204)
async def delete_list(auth: ApiAuth, session: SessionDep, list_id: Id) -> Response:
    await lists.delete_list(session, auth.actor, list_id)
    return Response(status_code=204)


@router.get("/lists/{list_id}/members")
async def list_members(
    auth: ApiAuth, session: SessionDep, list_id: Id, limit: Limit = 50, offset: Offset = 0
) -> Page[ContactSummary]:
    await lists.get_list(session, auth.actor, list_id)
    f = ContactFilter(list_id=list_id)
    return await list_contacts(auth, session, f, limit=limit, offset=offset)


@router.post("/lists/{list_id}/members")
async def add_list_members(
    auth: ApiAuth, session: SessionDep, list_id: Id, data: MembersIn
) -> dict[str, int]:
    return {"added": await lists.add_members(session, auth.actor, list_id, data.contact_ids)}


@router.delete("/lists/{list_id}/members/{contact_id}", status_code=204)
async def remove_list_member(
    auth: ApiAuth, session: SessionDep, list_id: Id, contact_id: Id
) -> Response:
    await lists.remove_member(session, auth.actor, list_id, contact_id)
    return Response(status_code=204)
