"""Polling an IMAP mailbox, against a real Dovecot: every message handed over once, across
restarts and renumbering, and the mailbox never changed; failures keep the poll chain alive."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aioimaplib
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import jobs
from crm.database import make_engine, make_sessionmaker
from crm.models import ImapCursor, InboundMessage, Job
from crm.settings import Settings
from outreach.inbound import imap, pipeline
from tests.imap_server import (
    USERS,
    ImapServer,
    free_port,
    imap_server_fixture,  # noqa: F401 (the imap_server fixture)
)


def _mail(text: str) -> bytes:
    """A message as it travels: CRLF line ends, UTF-8 where it is 8-bit."""
    return text.lstrip("\n").replace("\n", "\r\n").encode()


REPLY = _mail("""
Return-Path: <arta.krasniqi@koha.net>
From: Arta Krasniqi <arta.krasniqi@koha.net>
To: =?utf-8?q?Qendra_p=C3=ABr_Drejt=C3=ABsi?=
 <reply+k7d2mq4xw9a3b5c6e8f2g4h6j8n2p4r6@replies.qendra.org>
Subject: Re: Press conference on the judicial reform, 14 March
Date: Tue, 11 Mar 2025 09:12:44 +0100
Message-ID: <CAK3f9Ld2x=reply-1@mail.koha.net>
In-Reply-To: <20250310160200.7.42@qendra.org>
References: <20250310160200.7.42@qendra.org>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Faleminderit, I'll be there with a photographer. Will there be a livestream?

Arta

On Mon, 10 Mar 2025 at 16:02, Qendra për Drejtësi wrote:
> We invite you to the presentation of our report on the judicial reform.
""")

BOUNCE = _mail("""
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx1.rtk-live.com>
To: bounce+k7d2mq4xw9a3b5c6e8f2g4h6j8n2p4r6@replies.qendra.org
Subject: Undelivered Mail Returned to Sender
Date: Mon, 10 Mar 2025 16:02:31 +0100 (CET)
Message-ID: <20250310150231.4F1A2C0123@mx1.rtk-live.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="4F1A2C0123.1741618951/mx1.rtk-live.com"

--4F1A2C0123.1741618951/mx1.rtk-live.com
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<desk@rtk-live.com>: host mx1.rtk-live.com[192.0.2.25] said: 550 5.1.1
    <desk@rtk-live.com>: Recipient address rejected: User unknown

--4F1A2C0123.1741618951/mx1.rtk-live.com
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.rtk-live.com
Arrival-Date: Mon, 10 Mar 2025 16:02:30 +0100 (CET)

Final-Recipient: rfc822; desk@rtk-live.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <desk@rtk-live.com>: Recipient address
    rejected: User unknown

--4F1A2C0123.1741618951/mx1.rtk-live.com
Content-Type: text/rfc822-headers

From: =?utf-8?q?Qendra_p=C3=ABr_Drejt=C3=ABsi?= <press@qendra.org>
To: desk@rtk-live.com
Subject: Press conference on the judicial reform, 14 March
Message-ID: <20250310160200.7.43@qendra.org>

--4F1A2C0123.1741618951/mx1.rtk-live.com--
""")

AWAY = _mail("""
From: Besnik Gashi <besnik.gashi@kallxo.com>
To: reply+q3w5e7r9t2y4u6i8o2p4a6s8d2f4g6h8@replies.qendra.org
Subject: Automatic reply: Press conference on the judicial reform, 14 March
Date: Mon, 10 Mar 2025 16:03:02 +0100
Message-ID: <ooo-7781@kallxo.com>
In-Reply-To: <20250310160200.7.44@qendra.org>
Auto-Submitted: auto-replied
X-Autoreply: yes
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

I am out of the office until 24 March, with limited access to email.
""")

LATE_REPLY = _mail("""
From: Drita Berisha <drita@nacionale.com>
To: reply+z2x4c6v8b2n4m6l8k2j4h6g8f2d4s6a8@replies.qendra.org
Subject: Re: Press conference on the judicial reform, 14 March
Date: Wed, 12 Mar 2025 18:40:10 +0100
Message-ID: <9f2c1e7a-late@nacionale.com>
In-Reply-To: <20250310160200.7.45@qendra.org>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Could you send me the report in advance, under embargo?
""")


# --- the mailbox, as the people who send to it see it ------------------------------------------


@asynccontextmanager
async def logged_in(server: ImapServer, user: str = "replies") -> AsyncIterator[aioimaplib.IMAP4]:
    client = aioimaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(user, USERS[user])).result == "OK"
    try:
        yield client
    finally:
        await client.logout()


async def deliver(server: ImapServer, folder: str, *messages: bytes) -> None:
    async with logged_in(server) as client:
        for raw in messages:
            assert (await client.append(raw, mailbox=folder)).result == "OK"


async def flags_of(server: ImapServer, folder: str) -> dict[int, set[str]]:
    """Each message's flags, by UID."""
    async with logged_in(server) as client:
        assert (await client.select(folder)).result == "OK"
        response = await client.fetch("1:*", "(UID FLAGS)")
        assert response.result == "OK"
    found = {}
    for line in response.lines[:-1]:
        uid = re.search(rb"UID (\d+)", line)
        flags = re.search(rb"FLAGS \(([^)]*)\)", line)
        if uid and flags:
            found[int(uid.group(1))] = set(flags.group(1).decode().split())
    return found


@pytest.fixture
async def folder(imap_server: ImapServer) -> str:
    """A mailbox of its own for each test, on the session's Dovecot."""
    name = f"replies-{uuid.uuid4().hex[:12]}"
    async with logged_in(imap_server) as client:
        assert (await client.create(name)).result == "OK"
    return name


@pytest.fixture
def polling(settings: Settings, imap_server: ImapServer, folder: str) -> Settings:
    return settings.model_copy(
        update={
            "reply_domain": "replies.qendra.org",
            "imap_host": "127.0.0.1",
            "imap_port": imap_server.port,
            "imap_tls": "none",
            "imap_username": "replies",
            "imap_password": USERS["replies"],
            "imap_mailbox": folder,
            "imap_poll_seconds": 60.0,
        }
    )


# --- what Beatbook recorded ---------------------------------------------------------------------


async def stored(maker: async_sessionmaker[AsyncSession]) -> list[InboundMessage]:
    async with maker() as session:
        rows = await session.execute(select(InboundMessage).order_by(InboundMessage.id))
        return list(rows.scalars())


async def poll_jobs(maker: async_sessionmaker[AsyncSession], status: str) -> list[Job]:
    async with maker() as session:
        rows = await session.execute(
            select(Job).where(Job.kind == imap.POLL_KIND, Job.status == status).order_by(Job.id)
        )
        return list(rows.scalars())


async def poll_once(maker: async_sessionmaker[AsyncSession], settings: Settings) -> imap.Polled:
    async with maker() as session:
        return await imap.poll(session, settings)


# --- reading --------------------------------------------------------------------------------------


async def test_each_message_is_handed_over_once(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
) -> None:
    await deliver(imap_server, folder, REPLY, BOUNCE, AWAY)
    assert await poll_once(maker, polling) == imap.Polled(received=3, more=False)
    rows = await stored(maker)
    assert [r.raw for r in rows] == [REPLY, BOUNCE, AWAY]
    assert {r.via for r in rows} == {"imap"}
    assert rows[0].message_id == "<CAK3f9Ld2x=reply-1@mail.koha.net>"

    # `UID SEARCH UID 4:*` answers UID 3 (the last message): it is not handed over again.
    assert await poll_once(maker, polling) == imap.Polled(received=0, more=False)

    # After a restart: a new engine, and only the cursor in the database to go on.
    engine = make_engine(polling.database_url)
    try:
        assert await poll_once(make_sessionmaker(engine), polling) == imap.Polled(0, False)
    finally:
        await engine.dispose()

    await deliver(imap_server, folder, LATE_REPLY)
    assert await poll_once(maker, polling) == imap.Polled(received=1, more=False)
    rows = await stored(maker)
    assert [r.raw for r in rows] == [REPLY, BOUNCE, AWAY, LATE_REPLY]
    async with maker() as session:
        cursor = await session.get(ImapCursor, imap.cursor_key(polling))
    assert cursor is not None and cursor.last_uid == 4
    assert cursor.mailbox == f"replies@127.0.0.1:{imap_server.port}/{folder}"


async def test_polling_never_changes_the_mailbox(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
) -> None:
    await deliver(imap_server, folder, REPLY, BOUNCE, AWAY)
    before = await flags_of(imap_server, folder)
    assert (await poll_once(maker, polling)).received == 3
    after = await flags_of(imap_server, folder)
    assert after.keys() == before.keys() == {1, 2, 3}
    for flags in after.values():
        assert not flags & {"\\Seen", "\\Deleted", "\\Answered", "\\Flagged"}, flags
    # Nothing moved out or expunged either.
    async with logged_in(imap_server) as client:
        status = await client.status(folder, "(MESSAGES)")
    assert b"MESSAGES 3" in status.lines[0]


async def test_a_new_uidvalidity_reads_again_without_acting_twice(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
) -> None:
    await deliver(imap_server, folder, REPLY, BOUNCE)
    assert (await poll_once(maker, polling)).received == 2
    async with maker() as session:
        first = await session.get(ImapCursor, imap.cursor_key(polling))
        assert first is not None
        uidvalidity = first.uidvalidity
    # The mailbox recreated (as after a server migration): its UIDs start again at 1.
    async with logged_in(imap_server) as client:
        assert (await client.delete(folder)).result == "OK"
        assert (await client.create(folder)).result == "OK"
    await deliver(imap_server, folder, REPLY, BOUNCE, AWAY)

    assert (await poll_once(maker, polling)).received == 3
    assert [r.raw for r in await stored(maker)] == [REPLY, BOUNCE, AWAY]
    async with maker() as session:
        cursor = await session.get(ImapCursor, imap.cursor_key(polling))
    assert cursor is not None
    assert cursor.uidvalidity != uidvalidity and cursor.last_uid == 3


async def test_a_failure_mid_poll_keeps_what_was_done(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await deliver(imap_server, folder, REPLY, BOUNCE, AWAY)
    real = pipeline.receive
    calls = 0

    async def fails_second(
        session: AsyncSession, settings: Settings, raw: bytes, **kw: Any
    ) -> InboundMessage:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("database went away")
        return await real(session, settings, raw, **kw)

    monkeypatch.setattr(pipeline, "receive", fails_second)
    with pytest.raises(ConnectionError):
        await poll_once(maker, polling)
    monkeypatch.setattr(pipeline, "receive", real)

    assert [r.raw for r in await stored(maker)] == [REPLY]
    # The next poll starts at the message that failed.
    assert (await poll_once(maker, polling)).received == 2
    assert [r.raw for r in await stored(maker)] == [REPLY, BOUNCE, AWAY]


async def test_a_huge_message_is_fetched_whole(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
) -> None:
    line = "Zm9yIHRoZSBhcmNoaXZlOiB0aGUgZnVsbCByZXBvcnQgYXMgYSBzY2FubmVkIFBERg=="
    huge = REPLY.replace(b"Arta\r\n", b"Arta\r\n" + (line + "\r\n").encode() * 40_000)
    assert len(huge) > 2_500_000
    await deliver(imap_server, folder, huge)
    capped = polling.model_copy(update={"inbound_max_bytes": 1_000_000})
    assert (await poll_once(maker, capped)).received == 1
    [row] = await stored(maker)
    assert row.size == len(huge) and row.truncated  # the pipeline kept the headers only


@pytest.mark.parametrize("mode", ["tls", "starttls"])
async def test_over_tls(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    # The test server's certificate is trusted as a CA's would be; it is still verified.
    monkeypatch.setenv("SSL_CERT_FILE", str(imap_server.cafile))
    port = imap_server.tls_port if mode == "tls" else imap_server.port
    secure = polling.model_copy(update={"imap_tls": mode, "imap_port": port})
    await deliver(imap_server, folder, REPLY, AWAY)
    assert (await poll_once(maker, secure)).received == 2
    assert [r.raw for r in await stored(maker)] == [REPLY, AWAY]


# --- the job chain ------------------------------------------------------------------------------


async def test_the_poll_job_queues_the_next_one(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
) -> None:
    async with maker() as session:
        await imap.ensure_polling(session, polling)
        await imap.ensure_polling(session, polling)
    async with maker() as session:
        await imap.ensure_polling(session, polling)
    [first] = await poll_jobs(maker, "queued")

    await deliver(imap_server, folder, REPLY, BOUNCE, AWAY)
    assert await jobs.run_one(maker, polling)
    assert len(await stored(maker)) == 3
    [done] = await poll_jobs(maker, "done")
    assert done.id == first.id and done.progress == {"received": 3}
    [following] = await poll_jobs(maker, "queued")
    soon = datetime.now(UTC) + timedelta(seconds=60)
    assert soon - timedelta(seconds=10) < following.run_at <= soon

    # Started again (another start-up) while a poll is queued, or running: still one chain.
    async with maker() as session:
        await imap.ensure_polling(session, polling)
        job = await session.get(Job, following.id)
        assert job is not None
        job.status = "running"
        await session.commit()
        await imap.ensure_polling(session, polling)
    assert await poll_jobs(maker, "queued") == []


async def test_no_mailbox_no_polling(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    assert settings.imap_host == ""
    async with maker() as session:
        await imap.ensure_polling(session, settings)
    assert await poll_jobs(maker, "queued") == []


async def test_two_chains_become_one(
    maker: async_sessionmaker[AsyncSession], polling: Settings
) -> None:
    # Two processes that started at once, each seeing no poll queued yet.
    async with maker() as session:
        await jobs.enqueue(session, imap.POLL_KIND)
        await jobs.enqueue(session, imap.POLL_KIND)
        await session.commit()
    assert await jobs.run_one(maker, polling)
    assert await jobs.run_one(maker, polling)
    assert len(await poll_jobs(maker, "done")) == 2
    assert len(await poll_jobs(maker, "queued")) == 1


async def test_a_long_backlog_is_read_over_several_runs(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imap, "BUDGET", 0.0)  # every run's time is up after one message
    await deliver(imap_server, folder, REPLY, BOUNCE, AWAY)
    async with maker() as session:
        await imap.ensure_polling(session, polling)
    for count in (1, 2, 3):
        assert await jobs.run_one(maker, polling)
        assert len(await stored(maker)) == count
        [queued] = await poll_jobs(maker, "queued")
        # More waiting: the next run is due at once; all read: in a minute.
        assert (queued.run_at <= datetime.now(UTC)) == (count < 3)


@pytest.mark.parametrize(
    "failure", ["wrong password", "server down", "untrusted certificate", "untrusted STARTTLS"]
)
async def test_a_failing_server_neither_ends_polling_nor_spins(
    maker: async_sessionmaker[AsyncSession],
    polling: Settings,
    imap_server: ImapServer,
    folder: str,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    await deliver(imap_server, folder, REPLY)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    broken = polling.model_copy(
        update={
            "wrong password": {"imap_password": "not-the-password"},
            "server down": {"imap_port": free_port()},
            "untrusted certificate": {"imap_tls": "tls", "imap_port": imap_server.tls_port},
            "untrusted STARTTLS": {"imap_tls": "starttls"},
        }[failure]
    )
    async with maker() as session:
        await imap.ensure_polling(session, broken)
    assert await jobs.run_one(maker, broken)  # no exception out of the handler

    assert await stored(maker) == []
    [done] = await poll_jobs(maker, "done")
    assert done.last_error
    [following] = await poll_jobs(maker, "queued")
    assert following.run_at > datetime.now(UTC) + timedelta(seconds=50)
    async with maker() as session:
        assert await session.scalar(select(func.count()).select_from(ImapCursor)) == 0

    # Once the server is reachable with the right password, polling picks the mail up.
    async with maker() as session:
        job = await session.get(Job, following.id)
        assert job is not None
        job.run_at = datetime.now(UTC)
        await session.commit()
    assert await jobs.run_one(maker, polling)
    assert [r.raw for r in await stored(maker)] == [REPLY]
