"""Outlets: media houses, with their desks and the journalists who work there."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.accounts import Actor
from crm.contacts import refresh_search_text
from crm.errors import InvalidInput, NotFound
from crm.i18n import N_
from crm.models import Contact, ContactOutletRole, Outlet
from crm.models.base import Input
from crm.search import fold, like_pattern, query_terms, search_key


class OutletIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    medium: Literal["tv", "radio", "print", "online", "agency"]
    languages: list[Literal["en", "sq", "sr-Latn", "sr-Cyrl"]] = Field(
        default_factory=list, max_length=4
    )
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    website: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    desk_email: EmailStr | Literal[""] = ""
    reach: int | None = Field(default=None, ge=0, le=100_000_000)

    @field_validator("website")
    @classmethod
    def _web_address(cls, value: str) -> str:
        """`www.koha.example` is fine (https:// is added); other schemes are not links."""
        if not value:
            return value
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value):
            value = "https://" + value
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest or " " in rest:
            raise ValueError(N_("Enter a web address like https://www.outlet.example."))
        return value


async def get_outlet(session: AsyncSession, actor: Actor, outlet_id: int) -> Outlet:
    outlet = await session.get(Outlet, outlet_id)
    if outlet is None or outlet.org_id != actor.org_id:
        raise NotFound("outlet")
    return outlet


async def search_outlets(
    session: AsyncSession,
    actor: Actor,
    *,
    q: str = "",
    medium: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[Outlet, int]], int]:
    """Outlets with the number of journalists currently there, and the total."""
    conds = [Outlet.org_id == actor.org_id]
    for term in query_terms(q):
        conds.append(Outlet.search_text.like(like_pattern(term), escape="\\"))
    if medium:
        conds.append(Outlet.medium == medium)
    total = (await session.execute(select(func.count(Outlet.id)).where(*conds))).scalar_one()
    journalists = (
        select(func.count(ContactOutletRole.id))
        .where(
            ContactOutletRole.outlet_id == Outlet.id,
            ContactOutletRole.ended_on.is_(None),
        )
        .scalar_subquery()
    )
    stmt = (
        select(Outlet, journalists)
        .where(*conds)
        .order_by(Outlet.sort_key, Outlet.id)
        .limit(limit)
        .offset(offset)
    )
    return [(o, n) for o, n in (await session.execute(stmt)).all()], int(total)


async def all_outlets(session: AsyncSession, actor: Actor) -> list[Outlet]:
    stmt = select(Outlet).where(Outlet.org_id == actor.org_id).order_by(Outlet.sort_key)
    return list((await session.execute(stmt)).scalars())


async def _check_name(
    session: AsyncSession, actor: Actor, name: str, outlet_id: int | None
) -> None:
    stmt = select(Outlet.id).where(Outlet.org_id == actor.org_id, Outlet.sort_key == fold(name))
    if outlet_id is not None:
        stmt = stmt.where(Outlet.id != outlet_id)
    if (await session.execute(stmt)).first() is not None:
        raise InvalidInput({"name": N_("An outlet with that name already exists.")})


def _apply(outlet: Outlet, data: OutletIn) -> None:
    for key, value in data.model_dump().items():
        setattr(outlet, key, str(value) if key == "desk_email" else value)
    outlet.search_text = search_key(data.name, data.website, data.region)
    outlet.sort_key = fold(data.name)[:200]


async def create_outlet(session: AsyncSession, actor: Actor, data: OutletIn) -> Outlet:
    actor.require_write()
    await _check_name(session, actor, data.name, None)
    outlet = Outlet(org_id=actor.org_id, name=data.name, medium=data.medium)
    _apply(outlet, data)
    session.add(outlet)
    await session.flush()
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="outlet", entity_id=outlet.id, changes={"name": outlet.name},
    )  # fmt: skip
    await session.commit()
    return outlet


async def update_outlet(
    session: AsyncSession, actor: Actor, outlet_id: int, data: OutletIn
) -> Outlet:
    actor.require_write()
    outlet = await get_outlet(session, actor, outlet_id)
    await _check_name(session, actor, data.name, outlet_id)
    renamed = outlet.name != data.name
    _apply(outlet, data)
    outlet.updated_at = datetime.now(UTC)
    session.add(outlet)
    if renamed:
        # Contacts are found by their outlet's name too.
        await session.flush()
        for contact in await journalists(session, actor, outlet_id):
            await refresh_search_text(session, contact)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="outlet", entity_id=outlet.id, changes={"name": outlet.name},
    )  # fmt: skip
    await session.commit()
    return outlet


async def delete_outlet(session: AsyncSession, actor: Actor, outlet_id: int) -> None:
    actor.require_write()
    outlet = await get_outlet(session, actor, outlet_id)
    people = await journalists(session, actor, outlet_id, current_only=False)
    if people:
        raise InvalidInput(
            {
                "outlet": N_(
                    "%(n)s contacts have roles at this outlet; move them first.", n=len(people)
                )
            }
        )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="delete",
        entity="outlet", entity_id=outlet.id, changes={"name": outlet.name},
    )  # fmt: skip
    await session.delete(outlet)
    await session.commit()


async def journalists(
    session: AsyncSession, actor: Actor, outlet_id: int, *, current_only: bool = True
) -> list[Contact]:
    roles = select(ContactOutletRole.contact_id).where(ContactOutletRole.outlet_id == outlet_id)
    if current_only:
        roles = roles.where(ContactOutletRole.ended_on.is_(None))
    # A subquery, not DISTINCT: PostgreSQL cannot compare the JSON columns of Contact.
    stmt = (
        select(Contact)
        .where(Contact.org_id == actor.org_id, Contact.id.in_(roles))
        .order_by(Contact.sort_key)
    )
    return list((await session.execute(stmt)).scalars())
