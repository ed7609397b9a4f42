"""One pipeline for every way mail comes in (the SMTP receiver, IMAP polling, the webhook):
store the raw message first, then classify it, match it to what Beatbook sent, and act.

Acting per class: a reply goes on the contact's timeline and marks its delivery replied; a
hard bounce suppresses the address and flags it "check address"; soft bounces suppress after
`soft_bounce_limit`; a delayed notice changes nothing; a policy bounce (the sender's problem)
alerts the organisation's owners; an auto-reply is noted, never taken for a reply; a
complaint suppresses at once; a calendar reply sets the RSVP; mail to the unsubscribe
address unsubscribes. What matches nothing waits in the Inbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import jobs
from crm.i18n import N_
from crm.models import (
    Attendance,
    Campaign,
    Contact,
    ContactEmail,
    Delivery,
    InboundMessage,
    Interaction,
    Organisation,
    SenderIdentity,
)
from crm.privacy import suppress
from crm.search import normalise_email
from crm.settings import Settings
from outreach import rsvp, unsubscribe
from outreach.compose import reply_secret
from outreach.inbound import classify
from outreach.inbound.classify import Classified

log = logging.getLogger("beatbook.inbound")
_MAX_ID = 2**31 - 1
SOFT_BOUNCE_WINDOW = timedelta(days=90)
# How long one arrival may be at work on a message before another may take it over.
CLAIM_LEASE = timedelta(minutes=5)


_VALID_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_PROCESSING = "processing"  # a stored message whose classification has not finished


def dedup_key(message_id: str, raw: bytes) -> str:
    """The same message arriving twice (by any path) has one key: its Message-ID's. Without
    a usable one, what the sender wrote (From, Date, Subject and the body), which does not
    change with the Received lines each path adds."""
    if _VALID_ID.fullmatch(message_id.strip()):
        return hashlib.sha256(message_id.strip().encode()).hexdigest()
    body = classify.split(raw)[1]
    parsed = classify.parse_headers(raw)
    basis = "\x00".join(classify.header(parsed, n) for n in ("From", "Date", "Subject"))
    return hashlib.sha256(b"raw\x00" + basis.encode() + b"\x00" + body).hexdigest()


def headers_of(raw: bytes) -> bytes:
    """A raw message's header section, with the blank line that ends it."""
    return classify.split(raw)[0]


def _clean(value: Any) -> Any:
    """No NUL characters in what is stored as text (PostgreSQL refuses them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


async def receive(
    session: AsyncSession,
    settings: Settings,
    raw: bytes,
    *,
    via: str,
    mail_from: str = "",
    recipients: Sequence[str] = (),
) -> InboundMessage:
    """Store, classify and act on one raw RFC 822 message; commits. A message received
    before (same Message-ID) is returned as it was, and nothing is done again — unless its
    processing never finished, which is then done now."""
    return (
        await receive_once(
            session, settings, raw, via=via, mail_from=mail_from, recipients=recipients
        )
    )[0]


async def receive_once(
    session: AsyncSession,
    settings: Settings,
    raw: bytes,
    *,
    via: str,
    mail_from: str = "",
    recipients: Sequence[str] = (),
) -> tuple[InboundMessage, bool]:
    """As `receive`, and whether this arrival was the one acted on (False: a copy of a
    message received before)."""
    head = classify.parse_headers(raw)
    message_id = _clean(classify.header(head, "Message-ID"))[:255]
    key = dedup_key(message_id, raw)
    existing = await _by_key(session, key)
    if existing is not None:
        if existing.fields.get("reason") == _PROCESSING and await _claim(session, existing):
            # This copy is whole even where the stored one kept only its headers.
            return await _process(session, settings, existing, raw, list(recipients)), True
        return existing, False
    too_big = len(raw) > settings.inbound_max_bytes
    sender = classify.addresses(head, "From")
    row = InboundMessage(
        via=via,
        dedup_key=key,
        message_id=message_id,
        envelope_from=_clean(mail_from)[:320],
        recipients=[_clean(r)[:320] for r in recipients][:50],
        from_name=_clean(sender[0][0])[:200] if sender else "",
        from_address=_clean(sender[0][1])[:320] if sender else "",
        subject=_clean(classify.header(head, "Subject"))[:1000],
        size=len(raw),
        truncated=too_big,
        raw=headers_of(raw) if too_big else raw,
        fields={"reason": _PROCESSING},
        claimed_at=datetime.now(UTC),
    )
    if too_big:
        row.error = N_(
            "This message was %(size)s MB, over the limit of %(limit)s MB: only its headers "
            "were kept.",
            size=f"{len(raw) / 1048576:.1f}",
            limit=f"{settings.inbound_max_bytes / 1048576:.0f}",
        )
    session.add(row)
    try:
        await session.commit()  # the raw message is safe before anything else happens
    except IntegrityError:  # the same message, stored a moment ago by another path
        await session.rollback()
        again = await _by_key(session, key)
        assert again is not None
        return again, False
    # Classified from the whole message even when only its headers were kept.
    return await _process(session, settings, row, raw, list(recipients)), True


async def _claim(session: AsyncSession, row: InboundMessage) -> bool:
    """Take over a message whose processing never finished (the process stopped midway):
    in one conditional UPDATE, so that of two copies arriving together one acts, and never
    while another arrival is still at work on it (its claim is younger than CLAIM_LEASE)."""
    now = datetime.now(UTC)
    taken = await session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.id == row.id,
            or_(InboundMessage.claimed_at.is_(None), InboundMessage.claimed_at < now - CLAIM_LEASE),  # type: ignore[union-attr,operator]
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(row)
    return row.fields.get("reason") == _PROCESSING


# What a message was tied to before acting on it failed: kept, so it waits for a person in
# the right organisation's Inbox, on the right contact.
_TIES = ("org_id", "delivery_id", "contact_id", "campaign_id", "event_id")


async def _process(
    session: AsyncSession,
    settings: Settings,
    row: InboundMessage,
    raw: bytes,
    recipients: list[str],
) -> InboundMessage:
    row_id = row.id
    try:
        await _classify_and_act(session, settings, row, raw, recipients)
        await session.commit()
        return row
    except Exception as exc:  # a message we cannot act on waits for a person, kept
        log.exception("inbound message %s could not be processed", row_id)
        ties = {name: row.__dict__.get(name) for name in _TIES}  # no lazy load after a failure
        await session.rollback()
        error = _clean(N_("It could not be processed: %(error)s", error=str(exc)))[:500]
    for kept in (ties, {}):  # and if what it was tied to is what failed, without it
        try:
            return await _keep_for_a_person(session, row_id, raw, recipients, kept, error)
        except Exception:  # noqa: BLE001
            log.exception("inbound message %s could not be kept for a person", row_id)
            await session.rollback()
    found = await session.get(InboundMessage, row_id, populate_existing=True)
    assert found is not None
    return found


async def _keep_for_a_person(
    session: AsyncSession,
    row_id: int | None,
    raw: bytes,
    recipients: list[str],
    ties: dict[str, int | None],
    error: str,
) -> InboundMessage:
    row = await session.get(InboundMessage, row_id, populate_existing=True)
    assert row is not None
    row.category, row.kind, row.state = "unmatched", "", "new"
    row.fields = {"reason": "failed"}
    row.error = error
    for name, value in ties.items():
        if value is not None:
            setattr(row, name, value)
    if row.org_id is None:
        row.org_id = await _org_of_unmatched(session, recipients, raw)
    session.add(row)
    await session.commit()
    return row


async def _by_key(session: AsyncSession, key: str) -> InboundMessage | None:
    return (
        await session.execute(select(InboundMessage).where(InboundMessage.dedup_key == key))
    ).scalar_one_or_none()


async def _classify_and_act(
    session: AsyncSession,
    settings: Settings,
    row: InboundMessage,
    raw: bytes,
    recipients: list[str],
) -> None:
    # Pure CPU work on what a stranger sent: off the event loop, so no message can stall
    # the web pages or the receiver.
    found = await asyncio.to_thread(
        classify.classify,
        raw,
        secret=reply_secret(settings),
        reply_domain=settings.reply_domain,
        recipients=recipients,
    )
    row.category, row.kind, row.text = found.category, found.kind, _clean(found.text)
    row.fields = _clean({**found.fields, "references": list(found.references)})
    if found.original_message_id:
        row.fields["original_message_id"] = _clean(found.original_message_id)
    matched = False
    if found.category == "calendar_reply":
        matched = await _calendar_reply(session, row, raw)
    elif row.fields.get("reason") == "own_forward":
        # Beatbook's own forward, polled back from that mailbox: the reply it carries is
        # stored once, as its own message, and goes with the contact's erasure.
        row.state, row.raw, row.text = "handled", b"", ""
        row.org_id = await _org_of_senders(session, {normalise_email(row.from_address)})
        session.add(row)
        return
    else:
        delivery = await _delivery(session, found)
        if delivery is not None:
            matched = True
            _link(row, delivery)
            row.event_id = await _event_of(session, delivery.campaign_id)
            action = ACTIONS.get(found.category)
            if action is not None:
                await action(session, settings, row, delivery, found)
        elif found.category in ("reply", "auto_reply", "unsubscribe"):
            # A reply whose token or references name nothing we sent (or no longer have).
            row.category = "unmatched"
            row.fields["reason"] = row.fields.get("reason") or "unknown_reference"
    if row.fields.get("reason") == "unreadable":
        row.error = N_("Its MIME structure is nested too deep to read: the raw message is kept.")
    if row.org_id is None:
        row.org_id = await _org_of_unmatched(session, recipients, raw)
    waits = row.category in ("reply", "unmatched") or (row.category, row.kind) == (
        "bounce",
        "policy",
    )
    if matched and not waits:
        row.state = "handled"  # nothing for a person to do; the effects are recorded
    session.add(row)


async def _delivery(session: AsyncSession, found: Classified) -> Delivery | None:
    if found.delivery_id is not None and found.delivery_id <= _MAX_ID:
        return await session.get(Delivery, found.delivery_id)
    ids: list[str] = []
    if found.category in ("bounce", "complaint") and found.original_message_id:
        ids = [found.original_message_id]
    elif found.category in ("reply", "auto_reply"):
        ids = list(found.references)
    if not ids:
        return None
    return (
        await session.execute(
            select(Delivery)
            .where(Delivery.message_id.in_(ids[:50]))
            .order_by(Delivery.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def _link(row: InboundMessage, delivery: Delivery) -> None:
    # The delivery's organisation: in a joint campaign a partner's journalists answer the
    # partner, and the lead must not see their mail.
    row.org_id = delivery.org_id
    row.delivery_id = delivery.id
    row.contact_id = delivery.contact_id
    row.campaign_id = delivery.campaign_id


async def _event_of(session: AsyncSession, campaign_id: int) -> int | None:
    return (
        await session.execute(select(Campaign.event_id).where(Campaign.id == campaign_id))
    ).scalar_one_or_none()


async def _org_of_unmatched(session: AsyncSession, recipients: list[str], raw: bytes) -> int | None:
    """Whose Inbox mail that matched nothing belongs in: the organisation one of whose sender
    addresses it was delivered to, else the only organisation there is. Otherwise nobody's:
    on a shared instance, showing it to a guess could show one organisation's mail to
    another. Only the envelope counts, and without one (IMAP, the webhook) the headers the
    delivering server adds: To and Cc are whatever the sender wrote."""
    sent_to = {normalise_email(a) for a in recipients}
    if not sent_to:
        head = classify.parse_headers(raw)  # never the whole MIME tree: it may not parse
        for name in ("Delivered-To", "X-Original-To"):
            sent_to |= {normalise_email(a) for _, a in classify.addresses(head, name)}
    found = await _org_of_senders(session, sent_to)
    if found is not None:
        return found
    only = (await session.execute(select(Organisation.id).limit(2))).scalars().all()
    return only[0] if len(only) == 1 else None


async def _org_of_senders(session: AsyncSession, addresses: set[str]) -> int | None:
    """The one organisation with a sender identity at one of these addresses."""
    addresses.discard("")
    if not addresses:
        return None
    orgs = (
        (
            await session.execute(
                select(SenderIdentity.org_id)
                .where(func.lower(SenderIdentity.from_address).in_(addresses))
                .distinct()
            )
        )
        .scalars()
        .all()
    )
    return orgs[0] if len(orgs) == 1 else None


# --- what each class does -------------------------------------------------------------------


def _timeline(
    session: AsyncSession,
    row: InboundMessage,
    delivery: Delivery,
    kind: str,
    summary: str,
    body: str = "",
) -> None:
    if delivery.contact_id is None:  # an outlet's desk, or a contact since erased
        return
    now = datetime.now(UTC)
    session.add(
        Interaction(
            org_id=delivery.org_id,
            contact_id=delivery.contact_id,
            kind=kind,
            direction="in",
            occurred_at=now,
            summary=str(summary)[:300],
            body=body,
            campaign_id=delivery.campaign_id,
            delivery_id=delivery.id,
            event_id=row.event_id,
            inbound_message_id=row.id,
        )  # fmt: skip
    )


async def _touch(session: AsyncSession, contact_id: int | None) -> None:
    if contact_id is None:
        return
    now = datetime.now(UTC)
    await session.execute(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(last_interaction_at=now)
        .execution_options(synchronize_session=False)
    )


async def _reply(
    session: AsyncSession,
    settings: Settings,
    row: InboundMessage,
    delivery: Delivery,
    found: Classified,
) -> None:
    subject = row.subject or N_("(no subject)")
    _timeline(session, row, delivery, "email_in", N_("Reply: %(subject)s", subject=subject),
              row.text)  # fmt: skip
    await _touch(session, delivery.contact_id)
    if delivery.replied_at is None:
        delivery.replied_at = datetime.now(UTC)
        session.add(delivery)
    # The sender address's own mailbox, when it is the organisation's: in a joint campaign
    # a partner's journalist's reply never goes to the lead's mailbox.
    sender_id = (
        await session.execute(
            select(SenderIdentity.id)
            .join(Campaign, Campaign.sender_id == SenderIdentity.id)
            .where(Campaign.id == delivery.campaign_id, SenderIdentity.org_id == delivery.org_id)
        )
    ).scalar_one_or_none()
    if sender_id is not None and not delivery.is_test:
        await session.flush()
        await jobs.enqueue(
            session, "inbound.forward", {"inbound_id": row.id, "sender_id": sender_id},
            org_id=delivery.org_id,
        )  # fmt: skip


async def _auto_reply(
    session: AsyncSession,
    settings: Settings,
    row: InboundMessage,
    delivery: Delivery,
    found: Classified,
) -> None:
    away = found.fields.get("away_until")
    if away:
        summary = N_("Away until %(date)s", date=date.fromisoformat(away).strftime("%d.%m.%Y"))
    else:
        summary = N_("Automatic reply: %(subject)s", subject=row.subject)
    _timeline(session, row, delivery, "auto_reply", summary)


async def _bounce(
    session: AsyncSession,
    settings: Settings,
    row: InboundMessage,
    delivery: Delivery,
    found: Classified,
) -> None:
    if found.kind == "delayed" or delivery.is_test:
        return  # a warning that delivery is still being tried; the officer's own test
    status = found.fields.get("status") or ""
    if found.kind == "policy":
        await _policy_alert(session, row, delivery)
        _timeline(session, row, delivery, "bounce",
                  N_("Refused by the receiving server (%(status)s): not about this address",
                     status=status or "5.7"))  # fmt: skip
        return
    now = datetime.now(UTC)
    if delivery.bounced_at is None:
        delivery.bounced_at = now
        session.add(delivery)
    if found.kind == "hard":
        await suppress(session, settings, delivery.org_id, delivery.address, "hard_bounce")
        await _flag_address(session, delivery.org_id, delivery.address_norm, now)
        _timeline(session, row, delivery, "bounce",
                  N_("Bounced (%(status)s): check address — moved outlet?",
                     status=status or "5.0.0"))  # fmt: skip
        return
    count = await _soft_bounces(session, delivery, row) + 1
    if count >= settings.soft_bounce_limit:
        await suppress(session, settings, delivery.org_id, delivery.address, "soft_bounce")
        summary = N_(
            "Mailbox full again (%(count)s times): no more mail is sent to this address",
            count=count,
        )
    else:
        summary = N_("Mailbox full (%(count)s of %(limit)s before the address is paused)",
                     count=count, limit=settings.soft_bounce_limit)  # fmt: skip
    _timeline(session, row, delivery, "bounce", summary)


async def _soft_bounces(session: AsyncSession, delivery: Delivery, row: InboundMessage) -> int:
    """Soft bounces this organisation received for the same address lately, before this
    one: a mailbox full now and then over the years is no reason to stop."""
    return int(
        (
            await session.execute(
                select(func.count(InboundMessage.id))
                .join(Delivery, Delivery.id == InboundMessage.delivery_id)
                .where(
                    InboundMessage.org_id == delivery.org_id,
                    InboundMessage.category == "bounce",
                    InboundMessage.kind == "soft",
                    InboundMessage.id != row.id,
                    InboundMessage.received_at >= datetime.now(UTC) - SOFT_BOUNCE_WINDOW,
                    Delivery.address_norm == delivery.address_norm,
                )
            )
        ).scalar_one()
    )


async def _flag_address(session: AsyncSession, org_id: int, norm: str, now: datetime) -> None:
    await session.execute(
        update(ContactEmail)
        .where(ContactEmail.org_id == org_id, ContactEmail.normalised == norm)
        .where(ContactEmail.bounced_at.is_(None))
        .values(bounced_at=now)
        .execution_options(synchronize_session=False)
    )


async def _policy_alert(session: AsyncSession, row: InboundMessage, delivery: Delivery) -> None:
    """Owners hear of a policy block once while one is waiting: a blocked campaign brings
    hundreds of these, and one email says it. The owners of the organisation the message
    is filed under (the delivery's: in a joint campaign a partner's journalists are the
    partner's, and their addresses are never shown to the lead)."""
    waiting = (
        await session.execute(
            select(InboundMessage.id)
            .where(
                InboundMessage.org_id == delivery.org_id,
                InboundMessage.category == "bounce",
                InboundMessage.kind == "policy",
                InboundMessage.state == "new",
                InboundMessage.id != row.id,
            )
            .limit(1)
        )
    ).first()
    if waiting is None:
        await jobs.enqueue(
            session, "inbound.policy_alert", {"inbound_id": row.id, "org_id": delivery.org_id},
            org_id=delivery.org_id,
        )  # fmt: skip


async def _complaint(
    session: AsyncSession,
    settings: Settings,
    row: InboundMessage,
    delivery: Delivery,
    found: Classified,
) -> None:
    if delivery.is_test:
        return
    await suppress(session, settings, delivery.org_id, delivery.address, "complaint")
    _timeline(session, row, delivery, "email_in",
              N_("Reported the message as spam: no more mail is sent to this address"))  # fmt: skip
    if found.token:
        await session.flush()
        await unsubscribe.unsubscribe(session, settings, found.token)  # stops what is queued


async def _unsubscribe(
    session: AsyncSession,
    settings: Settings,
    row: InboundMessage,
    delivery: Delivery,
    found: Classified,
) -> None:
    await session.flush()
    await unsubscribe.unsubscribe(session, settings, found.token)


async def _calendar_reply(session: AsyncSession, row: InboundMessage, raw: bytes) -> bool:
    """The RSVP is set by the same code as for calendar replies anywhere; what it matched
    ties the message to the event's organisation."""
    applied = await rsvp.apply_calendar_replies(session, raw)
    guest_ids = [a.guest_id for a in applied if a.guest_id is not None]
    if not guest_ids:
        row.category = "unmatched"
        row.fields["reason"] = "unknown_event"
        return False
    guest = await session.get(Attendance, guest_ids[0])
    assert guest is not None
    row.org_id, row.contact_id, row.event_id = guest.org_id, guest.contact_id, guest.event_id
    row.fields["recorded"] = any(a.recorded for a in applied)
    return True


ACTIONS: dict[str, Any] = {
    "reply": _reply,
    "auto_reply": _auto_reply,
    "bounce": _bounce,
    "complaint": _complaint,
    "unsubscribe": _unsubscribe,
}
