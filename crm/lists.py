"""Lists of contacts: static members, or a saved filter (smart list) evaluated when used."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.accounts import Actor
from crm.contacts import ContactFilter, get_contact, matching_ids
from crm.errors import InvalidInput, NotFound
from crm.i18n import N_
from crm.models import Contact, ContactList, ListMember
from crm.models.base import Input

FILTER_KEYS = (
    "q", "beat_id", "outlet_id", "medium", "language", "region", "tag", "do_not_contact",
)  # fmt: skip


class ListIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
    kind: Literal["static", "smart"] = "static"
    filter: dict[str, Any] = Field(default_factory=dict)


def clean_filter(raw: dict[str, Any]) -> dict[str, Any]:
    unknown = set(raw) - set(FILTER_KEYS)
    if unknown:
        raise InvalidInput(
            {"filter": N_("Unknown filter: %(names)s.", names=", ".join(sorted(unknown)))}
        )
    try:
        f = ContactFilter(**{k: v for k, v in raw.items() if v not in (None, "")})
        for key in ("beat_id", "outlet_id"):
            value = getattr(f, key)
            if value is not None:
                value = int(value)
                if not 0 < value <= 2_147_483_647:
                    raise ValueError(key)
                setattr(f, key, value)
        if f.do_not_contact is not None and not isinstance(f.do_not_contact, bool):
            raise ValueError("do_not_contact")
        for key in ("q", "medium", "language", "region", "tag"):
            if not isinstance(getattr(f, key), str) or len(getattr(f, key)) > 200:
                raise ValueError(key)
    except (TypeError, ValueError) as exc:
        raise InvalidInput({"filter": N_("That filter is not valid.")}) from exc
    return f.as_dict()


async def get_list(session: AsyncSession, actor: Actor, list_id: int) -> ContactList:
    lst = await session.get(ContactList, list_id)
    if lst is None or lst.org_id != actor.org_id:
        raise NotFound("list")
    return lst


async def all_lists(session: AsyncSession, actor: Actor) -> list[tuple[ContactList, int | None]]:
    """Lists with their static member counts (smart lists count when opened)."""
    members = (
        select(func.count())
        .select_from(ListMember)
        .where(ListMember.list_id == ContactList.id)
        .scalar_subquery()
    )
    stmt = (
        select(ContactList, members)
        .where(ContactList.org_id == actor.org_id)
        .order_by(ContactList.name)
    )
    return [
        (lst, n if lst.kind == "static" else None) for lst, n in (await session.execute(stmt)).all()
    ]


async def list_choices(session: AsyncSession, actor: Actor, *, kind: str = "") -> list[Any]:
    """(id, name, kind) of the organisation's lists, for menus."""
    stmt = select(ContactList.id, ContactList.name, ContactList.kind).where(
        ContactList.org_id == actor.org_id
    )
    if kind:
        stmt = stmt.where(ContactList.kind == kind)
    return list((await session.execute(stmt.order_by(ContactList.name))).all())


async def create_list(session: AsyncSession, actor: Actor, data: ListIn) -> ContactList:
    actor.require_write()
    lst = ContactList(
        org_id=actor.org_id,
        name=data.name,
        description=data.description,
        kind=data.kind,
        filter=clean_filter(data.filter) if data.kind == "smart" else {},
    )
    session.add(lst)
    await session.flush()
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="list", entity_id=lst.id, changes={"name": lst.name, "kind": lst.kind},
    )  # fmt: skip
    await session.commit()
    return lst


async def update_list(
    session: AsyncSession, actor: Actor, list_id: int, data: ListIn
) -> ContactList:
    actor.require_write()
    lst = await get_list(session, actor, list_id)
    if data.kind != lst.kind:
        raise InvalidInput({"kind": N_("A list keeps its kind; make a new list instead.")})
    lst.name, lst.description = data.name, data.description
    if lst.kind == "smart":
        lst.filter = clean_filter(data.filter)
    session.add(lst)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="list", entity_id=lst.id, changes={"name": lst.name},
    )  # fmt: skip
    await session.commit()
    return lst


async def delete_list(session: AsyncSession, actor: Actor, list_id: int) -> None:
    actor.require_write()
    lst = await get_list(session, actor, list_id)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="delete",
        entity="list", entity_id=lst.id, changes={"name": lst.name},
    )  # fmt: skip
    await session.delete(lst)
    await session.commit()


async def add_members(
    session: AsyncSession, actor: Actor, list_id: int, contact_ids: list[int]
) -> int:
    """Add contacts to a static list; returns how many were new."""
    actor.require_write()
    lst = await get_list(session, actor, list_id)
    if lst.kind != "static":
        raise InvalidInput({"list": N_("A smart list's members come from its filter.")})
    wanted = set(contact_ids)
    if not wanted:
        return 0
    own = set(
        (
            await session.execute(
                select(Contact.id).where(Contact.id.in_(wanted), Contact.org_id == actor.org_id)
            )
        ).scalars()
    )
    if own != wanted:
        raise NotFound("contact")
    present = set(
        (
            await session.execute(
                select(ListMember.contact_id).where(
                    ListMember.list_id == list_id,
                    ListMember.contact_id.in_(wanted),
                )
            )
        ).scalars()
    )
    new = wanted - present
    session.add_all(ListMember(list_id=list_id, contact_id=cid) for cid in sorted(new))
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="add_members",
        entity="list", entity_id=list_id, changes={"added": len(new)},
    )  # fmt: skip
    await session.commit()
    return len(new)


async def add_search_results(
    session: AsyncSession, actor: Actor, list_id: int, f: ContactFilter
) -> int:
    """Build a static list from a search: every contact the filter matches now."""
    return await add_members(session, actor, list_id, await matching_ids(session, actor, f))


async def remove_member(session: AsyncSession, actor: Actor, list_id: int, contact_id: int) -> None:
    actor.require_write()
    await get_list(session, actor, list_id)
    await get_contact(session, actor, contact_id)
    await session.execute(
        delete(ListMember).where(
            ListMember.list_id == list_id,
            ListMember.contact_id == contact_id,
        )
    )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="remove_member",
        entity="list", entity_id=list_id, changes={"contact_id": contact_id},
    )  # fmt: skip
    await session.commit()


async def share_list(
    session: AsyncSession, actor: Actor, list_id: int, coalition_id: int, *, shared: bool
) -> None:
    """Share a list with a coalition the organisation belongs to (or stop sharing it).

    Partners can then choose it as the audience of a joint campaign; they never see its
    members, only its name and how many addresses it reaches."""
    from crm.coalitions import require_member
    from crm.models import ListShare

    actor.require_write()
    lst = await get_list(session, actor, list_id)
    await require_member(session, actor, coalition_id)
    await session.execute(
        delete(ListShare).where(
            ListShare.list_id == list_id, ListShare.coalition_id == coalition_id
        )
    )
    if shared:
        session.add(ListShare(list_id=list_id, coalition_id=coalition_id))
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id,
        action="share" if shared else "unshare", entity="list", entity_id=lst.id,
        changes={"coalition_id": coalition_id},
    )  # fmt: skip
    await session.commit()


async def shared_lists(session: AsyncSession, actor: Actor) -> list[Any]:
    """Lists shared with the coalitions the organisation belongs to, its own included:
    (list id, list name, owner organisation id and name, coalition id, coalition name)."""
    from crm.coalitions import accepted_coalition_ids
    from crm.models import Coalition, ListShare, Organisation

    mine = await accepted_coalition_ids(session, actor.org_id)
    if not mine:
        return []
    rows = await session.execute(
        select(
            ContactList.id,
            ContactList.name,
            Organisation.id,
            Organisation.name,
            Coalition.id,
            Coalition.name,
        )  # fmt: skip
        .join(ListShare, ListShare.list_id == ContactList.id)
        .join(Coalition, Coalition.id == ListShare.coalition_id)
        .join(Organisation, Organisation.id == ContactList.org_id)
        .where(ListShare.coalition_id.in_(mine))
        .order_by(Coalition.name, Organisation.name, ContactList.name)
    )
    return list(rows.all())


async def shares_of(session: AsyncSession, list_id: int) -> set[int]:
    """The coalitions a list is shared with."""
    from crm.models import ListShare

    rows = await session.execute(select(ListShare.coalition_id).where(ListShare.list_id == list_id))
    return set(rows.scalars())
