"""Polling an IMAP mailbox for the reply domain's mail, for when its MX cannot point at
Beatbook: each new message is handed, raw, to the inbound pipeline.

The mailbox is only ever read. It is opened with EXAMINE (read-only, so the server itself
refuses any change) and messages are fetched with BODY.PEEK[] (which leaves \\Seen unset):
nothing is ever flagged, moved, deleted or expunged, whatever it turns out to be.

Where polling got to is an `ImapCursor` (UIDVALIDITY and the last UID handed over),
advanced and committed after each message, so a crash or restart reads nothing twice; a
message handed over again anyway (after a crash between the two commits, or a new
UIDVALIDITY) is recognised by its Message-ID and not acted on twice.

Polling is a chain of `inbound.imap_poll` jobs: each run queues the next. `ensure_polling`
(called at start-up) starts the chain when it is not running.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aioimaplib
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import jobs
from crm.models import ImapCursor, Job
from crm.settings import Settings
from outreach.inbound import pipeline

log = logging.getLogger("beatbook.inbound.imap")

POLL_KIND = "inbound.imap_poll"
TLS_MODES = ("tls", "starttls", "none")
# Seconds a command may go without any answer from the server (a long fetch that is still
# receiving data does not time out).
TIMEOUT = 30.0
# A poll stops taking new messages after this long and lets the next run (queued at once)
# go on, well before the job's lease runs out and another worker could take it over.
BUDGET = jobs.LEASE.total_seconds() / 2
# However the interval is configured, a failing server is not asked again in a tight loop.
MIN_INTERVAL = 1.0
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.I)


class ImapError(Exception):
    """The server refused a command (a wrong password, no such mailbox, ...)."""


# Failures of the server or the connection, not of Beatbook: logged without a traceback.
CONNECTION_ERRORS = (OSError, TimeoutError, aioimaplib.AioImapException, ImapError)


@dataclass(frozen=True)
class Polled:
    received: int  # messages handed to the pipeline
    more: bool  # the time budget ran out with messages left


def cursor_key(settings: Settings) -> str:
    """The cursor's name: account, server and mailbox (`user@host:port/mailbox`)."""
    s = settings
    return f"{s.imap_username}@{s.imap_host}:{s.imap_port}/{s.imap_mailbox}"[:400]


async def poll(session: AsyncSession, settings: Settings, *, budget: float | None = None) -> Polled:
    """Hand every message that arrived since the last poll to the pipeline, oldest first.

    Raises when the server cannot be reached or refuses (having recorded nothing), or when
    the pipeline fails (what was handed over before stays handed over)."""
    client = await _connect(settings)
    try:
        return await _read_new(session, settings, client, budget)
    finally:
        await _close(client)


async def _read_new(
    session: AsyncSession, settings: Settings, client: aioimaplib.IMAP4, budget: float | None
) -> Polled:
    key = cursor_key(settings)
    uidvalidity = await _examine(client, settings.imap_mailbox)
    last_uid = await _cursor(session, key, uidvalidity)
    deadline = None if budget is None else time.monotonic() + budget
    received = 0
    for n, uid in enumerate(await _new_uids(client, last_uid)):
        # At least one message per poll, so that even a tiny budget makes progress.
        if n and deadline is not None and time.monotonic() > deadline:
            return Polled(received, more=True)
        raw = await _fetch(client, uid)
        if raw is None:  # most likely expunged by another client since the search
            log.warning("IMAP %s: the server returned no message for UID %s", key, uid)
        else:
            await pipeline.receive(session, settings, raw, via="imap")
            received += 1
        await _advance(session, key, uidvalidity, uid)
    return Polled(received, more=False)


# --- the connection ---------------------------------------------------------------------------


async def _connect(settings: Settings) -> aioimaplib.IMAP4:
    """A logged-in connection, over TLS unless told otherwise."""
    if settings.imap_tls not in TLS_MODES:
        raise ImapError(f"imap_tls must be one of {', '.join(TLS_MODES)}")
    host, port = settings.imap_host, settings.imap_port
    if settings.imap_tls == "tls":
        client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(host, port, timeout=TIMEOUT)
    else:
        client = aioimaplib.IMAP4(host, port, timeout=TIMEOUT)
    try:
        await client.wait_hello_from_server()
        if settings.imap_tls == "starttls":
            await _starttls(client, host)
        # aioimaplib quotes the password but sends the user name as it is.
        user = aioimaplib.quoted(settings.imap_username)
        _ok(await client.login(user, settings.imap_password), "LOGIN")
    except BaseException:
        await _close(client)
        raise
    return client


async def _starttls(client: aioimaplib.IMAP4, host: str) -> None:
    """Upgrade the connection to TLS (RFC 3501 6.2.1); aioimaplib has no STARTTLS of its own."""
    protocol = client.protocol
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    _ok(await asyncio.wait_for(protocol.execute(command), TIMEOUT), "STARTTLS")
    protocol.transport = await asyncio.get_running_loop().start_tls(
        protocol.transport,
        protocol,
        ssl.create_default_context(),
        server_hostname=host,
        ssl_handshake_timeout=TIMEOUT,
    )
    # What the server said it can do before TLS is not to be trusted (RFC 3501 6.2.1).
    await asyncio.wait_for(protocol.capability(), TIMEOUT)


async def _close(client: aioimaplib.IMAP4) -> None:
    """Log out politely when possible; always let go of the socket."""
    transport = client.protocol.transport
    try:
        # A failed TLS handshake has closed the socket already: no use waiting for an answer.
        if transport is not None and not transport.is_closing():
            if client.get_state() in (aioimaplib.NONAUTH, aioimaplib.AUTH, aioimaplib.SELECTED):
                await client.logout()
    except Exception as exc:  # the connection broke: nothing left to tell the server
        log.debug("IMAP logout failed: %s", exc)
    finally:
        transport = client.protocol.transport  # after STARTTLS, the TLS one
        if transport is not None:
            transport.close()


def _ok(response: aioimaplib.Response, command: str) -> aioimaplib.Response:
    if response.result != "OK":
        said = response.lines[-1] if response.lines else b""
        raise ImapError(f"{command}: {response.result} {bytes(said).decode(errors='replace')}")
    return response


# --- reading ----------------------------------------------------------------------------------


async def _examine(client: aioimaplib.IMAP4, mailbox: str) -> int:
    """Open the mailbox read-only; its UIDVALIDITY."""
    response = _ok(await client.examine(aioimaplib.quoted(mailbox)), "EXAMINE")
    # EXAMINE enters the Selected state as SELECT does (RFC 3501 6.3.2); aioimaplib only
    # knows that of SELECT, and refuses UID commands until told.
    client.protocol.state = aioimaplib.SELECTED
    for line in response.lines:
        found = _UIDVALIDITY.search(bytes(line))
        if found:
            return int(found.group(1))
    raise ImapError(f"EXAMINE {mailbox}: the server gave no UIDVALIDITY")


async def _new_uids(client: aioimaplib.IMAP4, last_uid: int) -> list[int]:
    """The UIDs above `last_uid`, ascending."""
    response = _ok(await client.uid_search(f"UID {last_uid + 1}:*", charset=None), "UID SEARCH")
    words = (word for line in response.lines[:-1] for word in bytes(line).split())
    found = {int(word) for word in words if word.isdigit()}
    # `n:*` always includes the last message, even when its UID is below n (RFC 3501 6.4.8).
    return sorted(uid for uid in found if uid > last_uid)


async def _fetch(client: aioimaplib.IMAP4, uid: int) -> bytes | None:
    """One message's raw bytes, whatever its size; None when it no longer exists."""
    # PEEK: reading must not set \Seen.
    response = _ok(await client.uid("fetch", str(uid), "(UID BODY.PEEK[])"), "UID FETCH")
    return _body_of(response.lines, uid)


def _body_of(lines: list[bytes | bytearray], uid: int) -> bytes | None:
    """The BODY[] literal of message `uid` in a FETCH response. aioimaplib gives a literal as
    a bytearray between the line that announced it and the rest of its line; the UID may be
    on either, and unsolicited FETCH lines (another client's flag changes) may be mixed in."""
    wanted = re.compile(rb"\bUID %d\b" % uid)
    for i, item in enumerate(lines):
        if not isinstance(item, bytearray) or i == 0:
            continue
        head = bytes(lines[i - 1])
        tail = bytes(lines[i + 1]) if i + 1 < len(lines) else b""
        if b"BODY[]" in head.upper() and wanted.search(head + b" " + tail):
            return bytes(item)
    return None


# --- the cursor -------------------------------------------------------------------------------


async def _cursor(session: AsyncSession, key: str, uidvalidity: int) -> int:
    """The last UID handed over from this mailbox: 0 the first time, and when the server
    renumbered its messages (a new UIDVALIDITY)."""
    cursor = await session.get(ImapCursor, key)
    if cursor is not None and cursor.uidvalidity == uidvalidity:
        return cursor.last_uid
    if cursor is None:
        cursor = ImapCursor(mailbox=key)
    else:
        log.info("IMAP %s: UIDVALIDITY changed, reading the mailbox again", key)
    cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
    cursor.updated_at = datetime.now(UTC)
    session.add(cursor)
    await session.commit()
    return 0


async def _advance(session: AsyncSession, key: str, uidvalidity: int, uid: int) -> None:
    # An UPDATE rather than the object: the pipeline may have rolled the session back. Only
    # forwards, and only in the same numbering, should a second poll run alongside (one
    # whose job was taken over after its lease ran out).
    await session.execute(
        update(ImapCursor)
        .where(
            ImapCursor.mailbox == key,
            ImapCursor.uidvalidity == uidvalidity,
            ImapCursor.last_uid < uid,
        )
        .values(last_uid=uid, updated_at=datetime.now(UTC))
    )
    await session.commit()


# --- the job chain ----------------------------------------------------------------------------


@jobs.handler(POLL_KIND)
async def _poll_job(session: AsyncSession, job: Job, settings: Settings) -> None:
    """One poll, then the next one queued, whatever happened: a wrong password or a server
    that is down must neither end polling nor have it retried in a tight loop."""
    job_id = job.id
    if not settings.imap_host:
        return  # polling was turned off: the chain ends here
    more = False
    try:
        polled = await poll(session, settings, budget=BUDGET)
    except CONNECTION_ERRORS as exc:
        await session.rollback()
        log.warning("IMAP polling of %s failed: %s", cursor_key(settings), exc)
        job.last_error = str(exc)[:4000]
    except Exception as exc:  # e.g. the database: what was committed stays, the rest waits
        await session.rollback()
        log.exception("IMAP polling of %s failed", cursor_key(settings))
        job.last_error = str(exc)[:4000]
    else:
        job.progress = {"received": polled.received}
        more = polled.more
    await _queue_next(session, settings, job_id, now=more)


async def _queue_next(
    session: AsyncSession, settings: Settings, job_id: int | None, *, now: bool
) -> None:
    # Another poll already queued (a second chain, started by a race at start-up) continues
    # polling: ending this chain keeps it at one.
    if await jobs.exists(session, POLL_KIND, ("queued",), other_than=job_id):
        return
    delay = 0.0 if now else max(settings.imap_poll_seconds, MIN_INTERVAL)
    await jobs.enqueue(session, POLL_KIND, run_at=datetime.now(UTC) + timedelta(seconds=delay))


async def ensure_polling(session: AsyncSession, settings: Settings) -> None:
    """Start polling when a mailbox is configured and no poll is queued or running; commits.
    Called at start-up; calling it again changes nothing."""
    if not settings.imap_host:
        return
    if await jobs.exists(session, POLL_KIND, ("queued", "running")):
        return
    await jobs.enqueue(session, POLL_KIND)
    await session.commit()
