"""Answering a journalist's reply from the Inbox: one message, threaded under theirs
(In-Reply-To, References), sent through the outbox like every other message — retried,
rate-limited, never sent from the request."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.accounts import Actor
from crm.errors import Conflict, InvalidInput
from crm.i18n import N_
from crm.import_rows import Rejected, check_email
from crm.models import (
    Campaign,
    CampaignVariant,
    Contact,
    Delivery,
    InboundMessage,
    SenderIdentity,
)
from crm.privacy import suppressed
from crm.search import normalise_email
from crm.settings import Settings
from outreach import merge, mime
from outreach.inbound import classify, inbox
from outreach.outbox import sending_domain

ANSWER_MAX_CHARS = 20_000
QUOTE_MAX_CHARS = 4_000
_REPLY_PREFIXES = ("re:", "aw:", "sv:", "odg:", "одг:", "përgj:", "pergj:")


def answer_subject(subject: str) -> str:
    """ "Re: " before the subject, once."""
    subject = " ".join(subject.split())
    if subject.lower().startswith(_REPLY_PREFIXES):
        return subject
    return f"Re: {subject}" if subject else "Re:"


SUBJECT_MAX_CHARS = 500  # as a campaign variant's subject is stored
_BRACE = "{{ '{' }}"


def _literal(text: str, limit: int = SUBJECT_MAX_CHARS) -> str:
    """A subject as written (braces never start a merge field), cut so that with its
    escapes it still fits `limit` characters."""
    out: list[str] = []
    size = 0
    for char in text:
        piece = _BRACE if char == "{" else char
        if size + len(piece) > limit:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation, all escapable in Markdown


def _as_written(text: str, prefix: str = "") -> str:
    """Plain text as Markdown that renders exactly as typed: every punctuation character
    escaped (so no heading, list, link or emphasis, and no brace starts a merge field) and
    every line break kept."""
    paragraphs = re.split(r"\n[ \t]*\n", text.strip("\n").rstrip())
    out = []
    for paragraph in paragraphs:
        lines = [_line_as_written(line) for line in paragraph.splitlines()]
        out.append("\\\n".join(f"{prefix}{line}" for line in lines if line))
    return f"\n{prefix.rstrip()}\n".join(out) if prefix else "\n\n".join(out)


def _line_as_written(line: str) -> str:
    """One line escaped, its indentation kept as no-break spaces (Markdown would take
    leading spaces for a code block, and drop them)."""
    line = line.expandtabs(4).rstrip()
    body = line.lstrip(" ")
    return "\u00a0" * (len(line) - len(body)) + _PUNCTUATION.sub(r"\\\1", body)


def _quoted(row: InboundMessage, who: str) -> str:
    """Their message under the answer, as mail programs quote it (a long one cut short)."""
    text = row.text if len(row.text) <= QUOTE_MAX_CHARS else row.text[:QUOTE_MAX_CHARS] + " …"
    if not text.strip():
        return ""
    when = row.received_at.strftime("%d.%m.%Y %H:%M")
    return f"\n\n{_as_written(f'{when}, {who}:')}\n\n{_as_written(text, '> ')}\n"


def answer_address(row: InboundMessage) -> str:
    """Where an answer goes, as a mail program's Reply sends it: their Reply-To, else their
    From (a journalist may answer from another address than the one we wrote to)."""
    head = classify.parse_headers(row.raw)
    for name in ("Reply-To", "From"):
        for _, address in classify.addresses(head, name):
            if _mailable(address):
                return address
    return ""


def _mailable(address: str) -> bool:
    if len(address) > 320:
        return False
    try:
        check_email(address)
    except Rejected:
        return False
    return True


def _thread(row: InboundMessage) -> list[str]:
    """The Message-IDs the answer follows, oldest first (RFC 5322 3.6.4): their References,
    else their In-Reply-To, then their own Message-ID."""
    head = classify.parse_headers(row.raw)
    ids = classify.MESSAGE_ID.findall(classify.header(head, "References"))
    if not ids:
        ids = classify.MESSAGE_ID.findall(classify.header(head, "In-Reply-To"))[:1]
    return [*ids, row.message_id] if row.message_id else ids


async def answer(
    session: AsyncSession, actor: Actor, settings: Settings, message_id: int, *, body: str
) -> Delivery:
    """Queue the officer's answer to a reply; the reply is marked handled."""
    actor.require_write()
    row = (await inbox.message(session, actor, message_id)).message
    body = body.strip()
    if not body:
        raise InvalidInput({"body": N_("Write your answer first.")})
    if len(body) > ANSWER_MAX_CHARS:
        raise InvalidInput({"body": N_("at most %(n)s characters", n=f"{ANSWER_MAX_CHARS:,}")})
    if row.category != "reply":
        raise Conflict(N_("Only a reply can be answered from here."))
    original = await session.get(Delivery, row.delivery_id) if row.delivery_id else None
    address = answer_address(row) or (original.address if original else "")
    contact = await session.get(Contact, row.contact_id) if row.contact_id else None
    if not address:
        raise Conflict(N_("This message has no address to answer."))
    if contact is not None and contact.do_not_contact:
        raise Conflict(N_("This contact is marked do-not-contact."))
    if await suppressed(session, settings, actor.org_id, [address]):
        raise Conflict(N_("This address must not be mailed (it unsubscribed or bounced)."))
    parent = await session.get(Campaign, row.campaign_id) if row.campaign_id else None
    thread = _thread(row)
    language = original.language if original else (contact.preferred_language if contact else "")
    language = language or settings.default_language
    name = contact.full_name if contact else (row.from_name or address)
    campaign = Campaign(
        org_id=actor.org_id,
        name=answer_subject(row.subject)[:200],
        kind="answer",
        status="sending",
        sender_id=await _sender_for(session, actor, parent),
        default_language=language,
        thread=" ".join(i for i in thread if i)[-2000:],
        created_by_id=actor.user_id,
        launched_at=datetime.now(UTC),
    )
    session.add(campaign)
    await session.flush()
    assert campaign.id is not None
    text = _as_written(body) + _quoted(row, row.from_name or address)
    subject = _literal(answer_subject(row.subject))
    try:  # what cannot be built is said now, not found by the sender later
        merge.compile_variant(subject=subject, body=text)
    except merge.TemplateError as exc:
        raise InvalidInput({"body": next(iter(exc.errors.values()))}) from exc
    session.add(
        CampaignVariant(
            campaign_id=campaign.id,
            language=language,
            subject=subject,
            body=text,
        )
    )
    domain = await sending_domain(session, settings, campaign)
    delivery = Delivery(
        campaign_id=campaign.id,
        org_id=actor.org_id,
        contact_id=contact.id if contact else None,
        address=address,
        address_norm=normalise_email(address),
        name=name[:200],
        language=language,
        message_id=mime.new_message_id(domain),
        fields=_fields(contact, address),
    )
    session.add(delivery)
    row.answered_at = datetime.now(UTC)
    row.state, row.handled_at, row.handled_by_id = "handled", row.answered_at, actor.user_id
    session.add(row)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="answer",
        entity="inbound_message", entity_id=row.id, changes={"campaign_id": campaign.id},
    )  # fmt: skip
    await session.commit()
    return delivery


async def _sender_for(session: AsyncSession, actor: Actor, parent: Campaign | None) -> int | None:
    """The campaign's sender address when it is this organisation's own: an answer is a
    personal letter, never sent from a partner's account or a coalition's shared address
    (the organisation's default is used instead)."""
    if parent is None or parent.sender_id is None:
        return None
    sender = await session.get(SenderIdentity, parent.sender_id)
    if sender is None or sender.org_id != actor.org_id or sender.coalition_id is not None:
        return None
    return sender.id


def _fields(contact: Contact | None, address: str) -> dict[str, str]:
    return {
        "first_name": contact.given_name if contact else "",
        "last_name": contact.family_name if contact else "",
        "email": address,
    }


async def answers_to(session: AsyncSession, row: InboundMessage) -> list[Delivery]:
    """What was answered to this message from Beatbook, with how it went."""
    if not row.message_id:
        return []
    found = await session.execute(
        select(Delivery)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Campaign.org_id == row.org_id,
            Campaign.kind == "answer",
            Campaign.thread.endswith(row.message_id),
        )
        .order_by(Delivery.id)
    )
    return list(found.scalars())
