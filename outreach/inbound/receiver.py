"""The built-in SMTP receiver: `beatbook serve` listens for the reply domain's mail (its MX
points here) and hands each message to the inbound pipeline.

Only addresses at the reply domain are accepted, so the receiver is never a relay. A message
is answered 250 once it is stored; when storing fails, 451 asks the sending server to try
again later, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.settings import Settings
from outreach.inbound import pipeline

log = logging.getLogger("beatbook.inbound")


class _Handler:
    def __init__(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.maker = maker
        self.settings = settings

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain != self.settings.reply_domain.lower():
            return "550 5.7.1 Relaying denied: this server only takes mail for its own domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        try:
            async with self.maker() as db:
                await pipeline.receive(
                    db, self.settings, raw, via="smtp",
                    mail_from=envelope.mail_from or "", recipients=list(envelope.rcpt_tos),
                )  # fmt: skip
        except Exception:
            log.exception("the inbound receiver could not store a message")
            return "451 4.3.0 Could not store the message; try again later"
        return "250 OK: received"


@dataclass
class Receiver:
    server: asyncio.Server
    port: int

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_receiver(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> Receiver | None:
    """Listen on the configured host and port (0: any free port); None when it is turned off
    (port -1) or the port is taken (another `beatbook serve` on this machine has it)."""
    if settings.inbound_smtp_port < 0:
        return None
    handler = _Handler(maker, settings)
    # Larger than the cap, so an oversized message is still recorded (headers only) rather
    # than refused unseen; beyond this the sending server gets a 552 and tells its sender.
    limit = settings.inbound_max_bytes * 4
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: SMTPServer(handler, hostname=settings.reply_domain, data_size_limit=limit),
            host=settings.inbound_smtp_host,
            port=settings.inbound_smtp_port,
        )
    except OSError as exc:
        log.warning(
            "the inbound SMTP receiver cannot listen on %s:%s (%s); mail for %s must arrive "
            "another way (IMAP or the webhook), or through a `beatbook serve` that has the port",
            settings.inbound_smtp_host,
            settings.inbound_smtp_port,
            exc,
            settings.reply_domain,
        )
        return None
    port = server.sockets[0].getsockname()[1]
    log.info("inbound SMTP receiver for %s on port %s", settings.reply_domain, port)
    return Receiver(server, port)
