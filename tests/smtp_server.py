"""A real SMTP server (aiosmtpd, on a free loopback port) that receives what Beatbook sends,
and misbehaves on request: `refuse_sender` refuses MAIL FROM; otherwise by the recipient's
local part:

- `tempfail…` — 451 at RCPT the first time each address is tried, then accepted;
- `reject…` — 550 at RCPT, every time;
- `drop…` — the message is received, then the connection is cut before the reply;
- anything else — accepted.

`slow` delays every DATA reply, so that a test can stop a worker mid-campaign.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


@dataclass
class Arrival:
    at: float
    mail_from: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Sink:
    arrivals: list[Arrival] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    slow: float = 0.0
    # A reply to MAIL FROM that refuses our sender (e.g. a quota), when set.
    refuse_sender: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 No such user here"
        if local.startswith("tempfail") and address not in self.tried:
            self.tried.add(address)
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        if self.slow:
            await asyncio.sleep(self.slow)
        with self.lock:
            self.arrivals.append(
                Arrival(
                    time.monotonic(),
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    envelope.original_content or b"",
                )
            )
        if any(a.split("@")[0].lower().startswith("drop") for a in envelope.rcpt_tos):
            server.transport.close()  # received, but the client never hears so
        return "250 OK"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [a.message_id for a in self.arrivals]

    def to(self, address: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if address in a.recipients]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
