"""The timeline: every call, meeting, note, email, event and article about a contact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import StringConstraints, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.accounts import Actor
from crm.contacts import get_contact
from crm.errors import NotFound
from crm.health import store as health_store
from crm.models import Contact, Interaction, User
from crm.models.base import Input, sensible_year
from crm.search import like_pattern

# What a person logs by hand; the other kinds are written by the mail and event code.
MANUAL_KINDS = ("call", "meeting", "note", "email_out", "email_in", "coverage", "event_attended")


class InteractionIn(Input):
    kind: Literal["call", "meeting", "note", "email_out", "email_in", "coverage", "event_attended"]
    direction: Literal["in", "out", "none"] = "none"
    occurred_at: datetime | None = None
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    body: Annotated[str, StringConstraints(max_length=20000)] = ""

    _year = field_validator("occurred_at")(sensible_year)


async def log_interaction(
    session: AsyncSession, actor: Actor, contact_id: int, data: InteractionIn
) -> Interaction:
    actor.require_write()
    contact = await get_contact(session, actor, contact_id)
    when = data.occurred_at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    item = Interaction(
        org_id=actor.org_id,
        contact_id=contact_id,
        kind=data.kind,
        direction=data.direction,
        occurred_at=when,
        summary=data.summary,
        body=data.body,
        author_id=actor.user_id,
    )
    session.add(item)
    if contact.last_interaction_at is None or contact.last_interaction_at < when:
        contact.last_interaction_at = when
        session.add(contact)
    await session.flush()
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="interaction", entity_id=item.id, changes={"kind": data.kind},
    )  # fmt: skip
    await session.commit()
    return item


async def get_interaction(session: AsyncSession, actor: Actor, interaction_id: int) -> Interaction:
    item = await session.get(Interaction, interaction_id)
    if item is None or item.org_id != actor.org_id:
        raise NotFound("interaction")
    return item


async def update_interaction(
    session: AsyncSession, actor: Actor, interaction_id: int, data: InteractionIn
) -> Interaction:
    actor.require_write()
    item = await get_interaction(session, actor, interaction_id)
    item.kind, item.direction, item.summary, item.body = (
        data.kind,
        data.direction,
        data.summary,
        data.body,
    )
    if data.occurred_at:
        item.occurred_at = data.occurred_at
    session.add(item)
    await _refresh_last(session, item.contact_id)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="interaction", entity_id=item.id,
    )  # fmt: skip
    await session.commit()
    return item


async def delete_interaction(session: AsyncSession, actor: Actor, interaction_id: int) -> None:
    actor.require_write()
    item = await get_interaction(session, actor, interaction_id)
    await session.delete(item)
    await session.flush()
    await _refresh_last(session, item.contact_id)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="delete",
        entity="interaction", entity_id=interaction_id, changes={"summary": item.summary},
    )  # fmt: skip
    await session.commit()


async def _refresh_last(session: AsyncSession, contact_id: int) -> None:
    """After an entry was edited or deleted: the contact's latest entry, and its health to
    be rescored."""
    latest = select(func.max(Interaction.occurred_at)).where(Interaction.contact_id == contact_id)
    await session.execute(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(last_interaction_at=latest.scalar_subquery())
    )
    await health_store.mark_stale(session, [contact_id])


async def timeline(
    session: AsyncSession, actor: Actor, contact_id: int, *, limit: int = 100, offset: int = 0
) -> list[tuple[Interaction, str | None]]:
    """A contact's interactions, newest first, with the author's name or email."""
    await get_contact(session, actor, contact_id)
    stmt = (
        select(Interaction, func.coalesce(func.nullif(User.name, ""), User.email))
        .outerjoin(User, User.id == Interaction.author_id)
        .where(Interaction.contact_id == contact_id, Interaction.org_id == actor.org_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(i, a) for i, a in (await session.execute(stmt)).all()]


async def search_interactions(
    session: AsyncSession,
    actor: Actor,
    *,
    contact_id: int | None = None,
    kind: str = "",
    q: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Interaction], int]:
    conds = [Interaction.org_id == actor.org_id]
    if q:
        pattern = like_pattern(q.strip().lower())
        conds.append(func.lower(Interaction.summary).like(pattern, escape="\\"))
    if contact_id is not None:
        conds.append(Interaction.contact_id == contact_id)
    if kind:
        conds.append(Interaction.kind == kind)
    total = (await session.execute(select(func.count(Interaction.id)).where(*conds))).scalar_one()
    stmt = (
        select(Interaction)
        .where(*conds)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(stmt)).scalars()), int(total)


async def recent_activity(
    session: AsyncSession, actor: Actor, *, limit: int = 15
) -> list[tuple[Interaction, Contact]]:
    stmt = (
        select(Interaction, Contact)
        .join(Contact, Contact.id == Interaction.contact_id)
        .where(Interaction.org_id == actor.org_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [(i, c) for i, c in (await session.execute(stmt)).all()]
