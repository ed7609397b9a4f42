"""An organisation's numbers for the home page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.models import Contact, ContactList, Interaction, Outlet


async def org_numbers(session: AsyncSession, actor: Actor) -> dict[str, int]:
    since = datetime.now(UTC) - timedelta(days=30)
    org = actor.org_id
    stmt = select(
        select(func.count(Contact.id)).where(Contact.org_id == org).scalar_subquery(),
        select(func.count(Outlet.id)).where(Outlet.org_id == org).scalar_subquery(),
        select(func.count(ContactList.id)).where(ContactList.org_id == org).scalar_subquery(),
        select(func.count(Interaction.id))
        .where(Interaction.org_id == org, Interaction.occurred_at >= since)
        .scalar_subquery(),
        select(func.count(Contact.id))
        .where(Contact.org_id == org, Contact.do_not_contact.is_(True))
        .scalar_subquery(),
    )
    contacts, outlets, lists, recent, dnc = (await session.execute(stmt)).one()
    return {
        "contacts": contacts,
        "outlets": outlets,
        "lists": lists,
        "interactions_30d": recent,
        "do_not_contact": dnc,
    }
