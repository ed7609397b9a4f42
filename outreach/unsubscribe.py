"""Unsubscribing: every campaign message links to /u/TOKEN (and names it in List-Unsubscribe
for RFC 8058's one-click POST). The signed token names the delivery; unsubscribing suppresses
that address for the organisation that holds it, for good."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.errors import NotFound
from crm.i18n import N_
from crm.models import Contact, Delivery, Organisation
from crm.privacy import suppress
from crm.settings import Settings
from outreach.compose import reply_secret
from outreach.mime import read_reply_token
from outreach.sender import finish_done

UNSUBSCRIBED = N_("Unsubscribed.")


@dataclass(frozen=True)
class Target:
    """What the unsubscribe page shows: whose mail, to which address, in which language."""

    delivery: Delivery
    org_name: str
    masked_address: str
    language: str  # the recipient's: en, sq, sr-Latn or sr-Cyrl

    @property
    def unsubscribed(self) -> bool:
        """Unsubscribed, or erased (an erased address is suppressed and no longer held)."""
        return self.delivery.unsubscribed_at is not None or not self.delivery.address


def mask(address: str) -> str:
    """'arben@koha.net' → 'a***@koha.net': enough to recognise, not enough to harvest."""
    if not address:  # erased
        return ""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local and domain else "***"


async def unsubscribe_target(session: AsyncSession, settings: Settings, token: str) -> Target:
    """The delivery a token names; NotFound when the token is forged, cut short or stale."""
    delivery_id = read_reply_token(reply_secret(settings), token)
    if delivery_id is None or delivery_id > 2_147_483_647:  # beyond any id the table can hold
        raise NotFound("unsubscribe link")
    row = (
        await session.execute(
            select(Delivery, Organisation.name, Contact.preferred_language)
            .join(Organisation, Organisation.id == Delivery.org_id)
            .outerjoin(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.id == delivery_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFound("unsubscribe link")
    delivery, org_name, preferred = row
    # The journalist's own language; the mail's when the contact is gone (or was a desk).
    return Target(delivery, org_name, mask(delivery.address), preferred or delivery.language)


async def unsubscribe(session: AsyncSession, settings: Settings, token: str) -> Target:
    """Suppress the address for the delivery's organisation. Idempotent: mail providers may
    repeat a one-click POST, and only the first one is recorded."""
    target = await unsubscribe_target(session, settings, token)
    delivery = target.delivery
    # An erased address was suppressed then; a test send went to the officer, who is no
    # journalist to suppress.
    if delivery.address and not delivery.is_test:
        await suppress(session, settings, delivery.org_id, delivery.address, "unsubscribed")
    now = datetime.now(UTC)
    # Conditional, so two requests at once record one unsubscription, not two.
    first = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now)
        .execution_options(synchronize_session=False)
    )
    stopped: set[int] = set()
    if first.rowcount == 1:
        stopped = await _stop_pending(session, delivery)
        # On the contact when there is one, so it shows in their history and data export.
        entity, entity_id = "delivery", delivery.id
        if delivery.contact_id:
            entity, entity_id = "contact", delivery.contact_id
        audit.record(
            session, org_id=delivery.org_id, user_id=None, action="unsubscribe",
            entity=entity, entity_id=entity_id,
            changes={"campaign_id": delivery.campaign_id, "delivery_id": delivery.id},
        )  # fmt: skip
    await session.commit()
    if stopped:
        await finish_done(session, stopped)
    return await unsubscribe_target(session, settings, token)


async def _stop_pending(session: AsyncSession, delivery: Delivery) -> set[int]:
    """Messages to the address still waiting in the organisation's outbox are not sent: the
    audience check ran before the unsubscription. Rows already under a lease go their way."""
    cancelled = await session.execute(
        update(Delivery)
        .where(
            Delivery.org_id == delivery.org_id,
            Delivery.address_norm == delivery.address_norm,
            Delivery.status.in_(("queued", "deferred")),
            Delivery.is_test.is_(False),
        )
        .values(status="cancelled", last_error=UNSUBSCRIBED)
        .returning(Delivery.campaign_id)
        .execution_options(synchronize_session=False)
    )
    return {campaign_id for (campaign_id,) in cancelled.all()}
