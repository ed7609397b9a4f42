"""Handing one message to an SMTP server over a reused connection, and reading what the
answer means for that recipient.

- RCPT refused with 5xx: that address fails; with 4xx: it waits for a retry.
- DATA answered: 2xx sent, 4xx retry, 5xx that message fails.
- MAIL FROM refused, 421, an authentication error, or no connection at all: the account or
  server is at fault, not the journalist. The row waits for a retry, the rest of the batch is
  not attempted, and such failures in a row pause the campaign.
- A connection lost once DATA began: the message may have arrived. The row is `unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiosmtplib

from crm.i18n import N_
from outreach.compose import Outgoing
from outreach.senders import SmtpAccount

UNKNOWN_DATA = N_("The connection was lost after the message was handed over: it may have arrived.")


@dataclass
class Result:
    row: Outgoing
    status: str  # sent | deferred | failed | unknown | cancelled | queued (released unsent)
    error: str = ""
    # The account or server is at fault, not the address.
    systemic: bool = False
    # For a row released unsent: when it may be tried again.
    not_before: datetime | None = None
    # The SMTP account a send without a reservation went through (to count it afterwards).
    unreserved: str = ""


@dataclass
class Pool:
    """Open SMTP connections to one account, each carrying one message at a time."""

    account: SmtpAccount
    timeout: float
    idle: list[aiosmtplib.SMTP] = field(default_factory=list)
    # Whether the server takes 8-bit bodies (8BITMIME), once a connection has said so.
    eight_bit: bool = False

    async def take(self) -> aiosmtplib.SMTP:
        while self.idle:
            smtp = self.idle.pop()
            if smtp.is_connected:
                return smtp
        a = self.account
        smtp = aiosmtplib.SMTP(
            hostname=a.host, port=a.port, use_tls=a.tls == "tls",
            start_tls=True if a.tls == "starttls" else False, timeout=self.timeout,
        )  # fmt: skip
        await smtp.connect()
        if smtp.is_ehlo_or_helo_needed:  # MAIL and RCPT are sent as raw commands below
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()
        if a.username:
            await smtp.login(a.username, a.password)
        self.eight_bit = smtp.supports_extension("8bitmime")
        return smtp

    def give_back(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            self.idle.append(smtp)

    async def reset(self, smtp: aiosmtplib.SMTP) -> None:
        """After a refusal, RSET so the connection can carry the next message."""
        try:
            await smtp.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smtp.close()
            return
        self.give_back(smtp)

    async def close(self) -> None:
        for smtp in self.idle:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()
        self.idle.clear()


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}"[:1000]


async def send_one(
    pool: Pool,
    sender: str,
    row: Outgoing,
    data: bytes,
    *,
    until: datetime | None = None,
    eight_bit: bool = False,
) -> Result:
    """One message over one connection. `until`: the rate-limit reservation's end; a send
    that could only start after it is not made (the row goes back, unattempted).
    `eight_bit`: the message was built with 8-bit bodies, for a server that takes them."""
    try:
        smtp = await pool.take()
    except aiosmtplib.SMTPResponseException as exc:  # refused at login
        error = N_("The mail server refused the login: %(reply)s", reply=_reply(exc))
        return Result(row, "deferred", error, True)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        error = N_("Cannot reach the mail server: %(error)s", error=str(exc))[:1000]
        return Result(row, "deferred", error, True)
    if until is not None and datetime.now(UTC) > until:
        pool.give_back(smtp)
        return Result(row, "queued")
    if eight_bit and not smtp.supports_extension("8bitmime"):  # another server behind it
        pool.give_back(smtp)
        return Result(row, "queued")  # built again, encoded, on the next round
    stage = "mail"
    try:
        # Raw MAIL and RCPT: both addresses were checked (ASCII, one mailbox) when the
        # message was built, and aiosmtplib's own re-parsing of them costs as much as
        # rendering the message.
        body = b" BODY=8BITMIME" if eight_bit else b""
        reply = await smtp.execute_command(b"MAIL", b"FROM:<%s>%s" % (sender.encode(), body))
        if reply.code != 250:
            raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
        stage = "rcpt"
        reply = await smtp.execute_command(b"RCPT", b"TO:<%s>" % row.address.encode("ascii"))
        if reply.code not in (250, 251):
            raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, row.address)
        stage = "data"
        await smtp.data(data)
    except aiosmtplib.SMTPResponseException as exc:
        await pool.reset(smtp)
        return _refusal(row, stage, exc)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        smtp.close()
        if stage == "data":
            return Result(row, "unknown", f"{UNKNOWN_DATA} ({exc})"[:1000])
        return Result(
            row, "deferred", N_("Connection lost: %(error)s", error=str(exc))[:1000], True
        )
    pool.give_back(smtp)
    return Result(row, "sent")


def _refusal(row: Outgoing, stage: str, exc: aiosmtplib.SMTPResponseException) -> Result:
    """What a definite refusal means, by the command it answered."""
    if stage == "mail":  # the sender is refused (a quota, a blocked account): all would be
        error = N_("The server refused our sender: %(reply)s", reply=_reply(exc))
        return Result(row, "deferred", error, True)
    if exc.code in (421, 530, 535):  # closing down, or the login no longer counts
        error = N_("The server turned us away: %(reply)s", reply=_reply(exc))
        return Result(row, "deferred", error, True)
    status = "failed" if exc.code >= 500 else "deferred"
    return Result(row, status, _reply(exc))
