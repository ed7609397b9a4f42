"""The built-in mail catcher: with no relay configured, Beatbook sends to a real SMTP server
on loopback that keeps every message for the Mailbox page, so a new user can try the whole
loop with nothing else installed.

Each message is filed under the organisation whose delivery carries its Message-ID; mail
that matches no delivery is kept but shown to nobody.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.accounts import Actor
from crm.errors import NotFound
from crm.models import CaughtMessage, Delivery

log = logging.getLogger("beatbook.catcher")
MAX_BYTES = 30 * 1024 * 1024


class _Handler:
    def __init__(self, maker: async_sessionmaker[AsyncSession]) -> None:
        self.maker = maker

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        try:
            await store(self.maker, raw, envelope.mail_from or "", list(envelope.rcpt_tos))
        except Exception:
            log.exception("the mail catcher could not store a message")
            return "451 Could not store the message; try again"
        return "250 OK"


def _headers(raw: bytes) -> EmailMessage:
    parser = email.parser.BytesParser(policy=email.policy.default)
    return parser.parsebytes(raw, headersonly=True)  # type: ignore[return-value]


async def store(
    maker: async_sessionmaker[AsyncSession], raw: bytes, mail_from: str, recipients: list[str]
) -> CaughtMessage:
    head = _headers(raw)
    message_id = str(head.get("Message-ID", "")).strip()[:255]
    async with maker() as session:
        org_id = None
        if message_id:
            # The delivery's organisation, not the campaign's: in a joint campaign a partner's
            # journalists are the partner's, and the lead must not see their mail.
            org_id = (
                await session.execute(
                    select(Delivery.org_id).where(Delivery.message_id == message_id).limit(1)
                )
            ).scalar_one_or_none()
        caught = CaughtMessage(
            org_id=org_id,
            message_id=message_id,
            mail_from=mail_from[:320],
            recipients=recipients[:100],
            subject=str(head.get("Subject", ""))[:1000],
            raw=raw,
        )
        session.add(caught)
        await session.commit()
        return caught


@dataclass
class Catcher:
    server: asyncio.Server
    port: int

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_catcher(maker: async_sessionmaker[AsyncSession], port: int) -> Catcher:
    """Listen on 127.0.0.1:`port` (0 for any free port)."""
    handler = _Handler(maker)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTPServer(handler, hostname="beatbook-catcher", data_size_limit=MAX_BYTES),
        host="127.0.0.1",
        port=port,
    )
    actual = server.sockets[0].getsockname()[1]
    log.info("mail catcher listening on 127.0.0.1:%s", actual)
    return Catcher(server, actual)


# --- the Mailbox page ------------------------------------------------------------------------


async def mailbox(
    session: AsyncSession, actor: Actor, *, limit: int = 50, offset: int = 0
) -> tuple[list[CaughtMessage], int]:
    stmt = select(CaughtMessage).where(CaughtMessage.org_id == actor.org_id)
    total = await session.execute(
        select(func.count()).select_from(CaughtMessage).where(CaughtMessage.org_id == actor.org_id)
    )
    rows = await session.execute(
        stmt.order_by(CaughtMessage.received_at.desc(), CaughtMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total.scalar_one())


async def caught_message(session: AsyncSession, actor: Actor, message_id: int) -> CaughtMessage:
    caught = await session.get(CaughtMessage, message_id)
    if caught is None or caught.org_id != actor.org_id:
        raise NotFound("message")
    return caught


@dataclass
class Opened:
    """A caught message as the journalist would see it."""

    headers: list[tuple[str, str]]
    text: str
    html: str
    attachments: list[tuple[str, str, int]]  # filename, content type, size


def open_message(raw: bytes) -> Opened:
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    attachments = [
        (part.get_filename() or "", part.get_content_type(), len(part.get_payload(decode=True)))
        for part in message.iter_attachments()
        if isinstance(part, EmailMessage)
    ]
    return Opened(
        headers=[(k, str(v)) for k, v in message.items()],
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        attachments=attachments,
    )
