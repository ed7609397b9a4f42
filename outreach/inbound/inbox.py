"""The Inbox: every inbound message of an organisation, by class; replies to triage (mark
handled), unmatched mail to link to a contact by hand, and the banner owners see while a
mail server refuses the organisation's mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.accounts import Actor
from crm.contacts import get_contact
from crm.errors import InvalidInput, NotFound
from crm.i18n import N_
from crm.models import (
    INBOUND_CATEGORIES,
    INBOUND_STATES,
    Campaign,
    Contact,
    Delivery,
    Event,
    InboundMessage,
    Interaction,
)


@dataclass
class Row:
    message: InboundMessage
    contact_name: str
    campaign_name: str
    event_title: str


def _names(found: list) -> list[Row]:  # type: ignore[type-arg]
    return [
        Row(m, " ".join(filter(None, [given, family])), campaign or "", event or "")
        for m, given, family, campaign, event in found
    ]


def _listing():  # type: ignore[no-untyped-def]
    return (
        select(InboundMessage, Contact.given_name, Contact.family_name, Campaign.name, Event.title)
        .outerjoin(Contact, Contact.id == InboundMessage.contact_id)
        .outerjoin(Campaign, Campaign.id == InboundMessage.campaign_id)
        .outerjoin(Event, Event.id == InboundMessage.event_id)
    )


async def inbox(
    session: AsyncSession,
    actor: Actor,
    *,
    category: str = "",
    kind: str = "",
    state: str = "",
    campaign_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Row], int, dict[str, int]]:
    """A page of messages, newest first; their total; and how many of each class are new."""
    if category and category not in INBOUND_CATEGORIES:
        raise InvalidInput({"category": N_("Unknown kind of message.")})
    if state and state not in INBOUND_STATES:
        raise InvalidInput({"state": N_("Unknown state.")})
    where = [InboundMessage.org_id == actor.org_id]
    if category:
        where.append(InboundMessage.category == category)
    if kind:
        where.append(InboundMessage.kind == kind)
    if state:
        where.append(InboundMessage.state == state)
    if campaign_id:
        where.append(InboundMessage.campaign_id == campaign_id)
    total = (
        await session.execute(select(func.count(InboundMessage.id)).where(*where))
    ).scalar_one()
    found = await session.execute(
        _listing()
        .where(*where)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    counts = await session.execute(
        select(InboundMessage.category, func.count(InboundMessage.id))
        .where(InboundMessage.org_id == actor.org_id, InboundMessage.state == "new")
        .group_by(InboundMessage.category)
    )
    return _names(list(found.all())), int(total), {c: int(n) for c, n in counts.all()}


async def message(session: AsyncSession, actor: Actor, message_id: int) -> Row:
    found = (
        await session.execute(
            _listing().where(InboundMessage.id == message_id, InboundMessage.org_id == actor.org_id)
        )
    ).all()
    if not found:
        raise NotFound("message")
    return _names(found)[0]


async def set_state(session: AsyncSession, actor: Actor, message_id: int, state: str) -> None:
    """Mark a message handled, or new again."""
    actor.require_write()
    row = (await message(session, actor, message_id)).message
    if state not in INBOUND_STATES:
        raise InvalidInput({"state": N_("Unknown state.")})
    row.state = state
    row.handled_at = datetime.now(UTC) if state == "handled" else None
    row.handled_by_id = actor.user_id if state == "handled" else None
    session.add(row)
    await session.commit()


async def link_contact(
    session: AsyncSession, actor: Actor, message_id: int, contact_id: int
) -> None:
    """An unmatched message is from this contact: it goes on their timeline as mail from
    them, and counts as their reply from then on."""
    actor.require_write()
    row = (await message(session, actor, message_id)).message
    if row.category != "unmatched":
        raise InvalidInput({"contact_id": N_("Only an unmatched message can be linked by hand.")})
    contact = await get_contact(session, actor, contact_id)  # 404 for another's contact
    now = datetime.now(UTC)
    row.contact_id, row.category, row.state = contact.id, "reply", "handled"
    row.handled_at, row.handled_by_id = now, actor.user_id
    session.add(row)
    session.add(
        Interaction(
            org_id=actor.org_id,
            contact_id=contact.id,
            kind="email_in",
            direction="in",
            occurred_at=row.received_at,
            author_id=actor.user_id,
            inbound_message_id=row.id,
            summary=N_("Reply: %(subject)s", subject=row.subject or N_("(no subject)"))[:300],
            body=row.text,
        )  # fmt: skip
    )
    await session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .where(
            (Contact.last_interaction_at.is_(None))
            | (Contact.last_interaction_at < row.received_at)
        )
        .values(last_interaction_at=row.received_at)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="link",
        entity="contact", entity_id=contact.id, changes={"inbound_message_id": row.id},
    )  # fmt: skip
    await session.commit()


async def policy_blocks(session: AsyncSession, actor: Actor) -> int:
    """Policy bounces nobody has looked at yet: owners see a banner while there are any."""
    if not actor.is_owner:
        return 0
    return int(
        (
            await session.execute(
                select(func.count(InboundMessage.id)).where(
                    InboundMessage.org_id == actor.org_id,
                    InboundMessage.category == "bounce",
                    InboundMessage.kind == "policy",
                    InboundMessage.state == "new",
                )
            )
        ).scalar_one()
    )


async def handle_policy_blocks(session: AsyncSession, actor: Actor) -> None:
    """The owner has seen to it: the banner goes, until the next block."""
    actor.require_owner()
    await session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.org_id == actor.org_id,
            InboundMessage.category == "bounce",
            InboundMessage.kind == "policy",
            InboundMessage.state == "new",
        )
        .values(state="handled", handled_at=datetime.now(UTC), handled_by_id=actor.user_id)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def replies_of(
    session: AsyncSession, actor: Actor, delivery_ids: list[int]
) -> dict[int, InboundMessage]:
    """The latest reply to each of these deliveries that the actor's organisation received,
    for a campaign's recipient list."""
    if not delivery_ids:
        return {}
    found = await session.execute(
        select(InboundMessage)
        .where(
            InboundMessage.delivery_id.in_(delivery_ids),
            InboundMessage.org_id == actor.org_id,
            InboundMessage.category == "reply",
        )
        .order_by(InboundMessage.received_at)
    )
    return {m.delivery_id: m for m in found.scalars() if m.delivery_id is not None}


async def responses(session: AsyncSession, actor: Actor, campaign_id: int) -> dict[str, int]:
    """How many of the campaign's recipients (the organisation's own) replied, bounced or
    unsubscribed."""
    found = (
        await session.execute(
            select(
                func.count(Delivery.replied_at),
                func.count(Delivery.bounced_at),
                func.count(Delivery.unsubscribed_at),
            ).where(Delivery.campaign_id == campaign_id, Delivery.org_id == actor.org_id)
        )
    ).one()
    return dict(zip(("replied", "bounced", "unsubscribed"), map(int, found), strict=True))
