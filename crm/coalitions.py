"""Coalitions: named groups of organisations that will share chosen lists, events, campaigns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.accounts import Actor
from crm.errors import InvalidInput, NotFound
from crm.i18n import N_
from crm.models import Coalition, CoalitionMember, Organisation


@dataclass
class CoalitionView:
    coalition: Coalition
    my_status: str
    members: list[tuple[Organisation, str]]


async def create_coalition(session: AsyncSession, actor: Actor, name: str) -> Coalition:
    actor.require_owner()
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput({"name": N_("Give the coalition a name of up to 200 characters.")})
    coalition = Coalition(name=name, created_by_org_id=actor.org_id)
    session.add(coalition)
    await session.flush()
    assert coalition.id is not None
    session.add(
        CoalitionMember(
            coalition_id=coalition.id,
            org_id=actor.org_id,
            status="accepted",
            responded_at=datetime.now(UTC),
        )
    )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="coalition", entity_id=coalition.id, changes={"name": name},
    )  # fmt: skip
    await session.commit()
    return coalition


async def _membership(
    session: AsyncSession, actor: Actor, coalition_id: int
) -> tuple[Coalition, CoalitionMember]:
    stmt = select(Coalition, CoalitionMember).join(
        CoalitionMember, CoalitionMember.coalition_id == Coalition.id
    )
    stmt = stmt.where(Coalition.id == coalition_id, CoalitionMember.org_id == actor.org_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("coalition")
    return row[0], row[1]


async def invite_org(
    session: AsyncSession, actor: Actor, coalition_id: int, org_name: str
) -> CoalitionMember:
    """Invite another organisation by its exact name; its owner accepts or declines."""
    actor.require_owner()
    coalition, mine = await _membership(session, actor, coalition_id)
    if mine.status != "accepted":
        raise NotFound("coalition")
    org = (
        await session.execute(select(Organisation).where(Organisation.name == org_name.strip()))
    ).scalar_one_or_none()
    if org is None:
        raise InvalidInput({"org_name": N_("No organisation on this server has that exact name.")})
    existing = (
        await session.execute(
            select(CoalitionMember).where(
                CoalitionMember.coalition_id == coalition_id, CoalitionMember.org_id == org.id
            )
        )
    ).scalar_one_or_none()
    if existing is not None and existing.status != "declined":
        raise InvalidInput({"org_name": N_("That organisation is already invited or a member.")})
    assert org.id is not None
    member = existing or CoalitionMember(coalition_id=coalition_id, org_id=org.id, status="invited")
    member.status, member.invited_at, member.responded_at = "invited", datetime.now(UTC), None
    session.add(member)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="invite",
        entity="coalition", entity_id=coalition.id, changes={"org": org.name},
    )  # fmt: skip
    await session.commit()
    return member


async def respond(session: AsyncSession, actor: Actor, coalition_id: int, accept: bool) -> None:
    actor.require_owner()
    coalition, mine = await _membership(session, actor, coalition_id)
    if mine.status != "invited":
        raise InvalidInput({"coalition": N_("There is no open invitation to answer.")})
    mine.status = "accepted" if accept else "declined"
    mine.responded_at = datetime.now(UTC)
    session.add(mine)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action=mine.status,
        entity="coalition", entity_id=coalition.id,
    )  # fmt: skip
    await session.commit()


async def my_coalitions(session: AsyncSession, actor: Actor) -> list[CoalitionView]:
    """Coalitions this organisation belongs to or is invited to, with their members."""
    mine = await session.execute(
        select(Coalition, CoalitionMember.status)
        .join(CoalitionMember, CoalitionMember.coalition_id == Coalition.id)
        .where(CoalitionMember.org_id == actor.org_id, CoalitionMember.status != "declined")
        .order_by(Coalition.name)
    )
    views = [CoalitionView(c, status, []) for c, status in mine.all()]
    if views:
        ids = [v.coalition.id for v in views]
        rows = await session.execute(
            select(CoalitionMember.coalition_id, Organisation, CoalitionMember.status)
            .join(Organisation, Organisation.id == CoalitionMember.org_id)
            .where(CoalitionMember.coalition_id.in_(ids))
            .order_by(Organisation.name)
        )
        by_id = {v.coalition.id: v for v in views}
        for coalition_id, org, status in rows.all():
            # An invited organisation sees only who invited it, not the whole membership.
            view = by_id[coalition_id]
            if view.my_status == "accepted" or org.id == view.coalition.created_by_org_id:
                view.members.append((org, status))
    return views


async def accepted_coalition_ids(session: AsyncSession, org_id: int) -> list[int]:
    rows = await session.execute(
        select(CoalitionMember.coalition_id).where(
            CoalitionMember.org_id == org_id, CoalitionMember.status == "accepted"
        )
    )
    return list(rows.scalars())


async def member_ids(session: AsyncSession, coalition_id: int) -> list[int]:
    """The organisations that accepted membership of a coalition."""
    rows = await session.execute(
        select(CoalitionMember.org_id).where(
            CoalitionMember.coalition_id == coalition_id, CoalitionMember.status == "accepted"
        )
    )
    return list(rows.scalars())


async def require_member(session: AsyncSession, actor: Actor, coalition_id: int) -> Coalition:
    """The coalition, if the actor's organisation is an accepted member; else not found."""
    coalition, mine = await _membership(session, actor, coalition_id)
    if mine.status != "accepted":
        raise NotFound("coalition")
    return coalition


async def coalition_name(session: AsyncSession, coalition_id: int | None) -> str:
    if coalition_id is None:
        return ""
    coalition = await session.get(Coalition, coalition_id)
    return coalition.name if coalition else ""
