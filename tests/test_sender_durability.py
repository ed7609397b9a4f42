"""The sender under stress: killed mid-campaign, two at once, and within its rate limits
across a restart. Real SMTP server, real databases, a real worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.accounts import Actor
from crm.contacts import ContactIn, create_contact
from crm.database import make_engine, make_sessionmaker
from crm.models import Delivery
from crm.settings import Settings
from outreach import outbox
from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign
from outreach.sender import SenderWorker
from outreach.senders import SenderIn, create_sender
from tests.conftest import World
from tests.processes import alive, build_processes
from tests.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parent.parent


def _sending(settings: Settings, smtp: SmtpServer, **more: object) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": "none",
            "mail_from": "Qendra <press@qendra.org>", "send_retry_seconds": 0.2, **more,
        }
    )  # fmt: skip


async def _launch(
    session: AsyncSession, actor: Actor, settings: Settings, n: int, sender_id: int | None = None
) -> int:
    ids = []
    for i in range(n):
        contact = await create_contact(
            session, actor, ContactIn(given_name=f"Gazetar{i}", emails=[f"g{i}@koha.net"])
        )
        ids.append(contact.id)
    campaign = await create_campaign(
        session,
        actor,
        CampaignIn(
            name="Statement",
            sender_id=sender_id,
            variants={"sq": VariantIn(subject="Deklaratë", body="{{ salutation }},\n\nTeksti.")},
            audience=AudienceIn(contacts=ids),
        ),
    )
    await outbox.launch(session, actor, settings, campaign.id, expected=n)
    return campaign.id


async def _rows(session: AsyncSession, campaign_id: int) -> list[Delivery]:
    result = await session.execute(
        select(Delivery)
        .where(Delivery.campaign_id == campaign_id)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def _drain(maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Run a sender until no row of any campaign is waiting (or 30 s pass)."""
    worker = SenderWorker(maker, settings)
    waiting = select(Delivery.id).where(Delivery.status.in_(("queued", "deferred", "sending")))
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        if not await worker.run_once():
            async with maker() as session:
                if (await session.execute(waiting.limit(1))).first() is None:
                    break
            await asyncio.sleep(0.1)
    await worker.close()


async def test_two_workers_never_send_the_same_row(
    settings: Settings, world: World, session: AsyncSession, smtp: SmtpServer
) -> None:
    sending = _sending(settings, smtp, send_batch=20)
    campaign_id = await _launch(session, world.editor, sending, 150)
    engines = [make_engine(sending.database_url) for _ in range(2)]
    try:
        await asyncio.gather(*(_drain(make_sessionmaker(e), sending) for e in engines))
    finally:
        for e in engines:
            await e.dispose()
    counts = Counter(smtp.sink.message_ids())
    assert len(counts) == 150 and max(counts.values()) == 1
    rows = await _rows(session, campaign_id)
    assert {r.status for r in rows} == {"sent"}
    assert {r.message_id for r in rows} == set(counts)


def _busiest_window(times: list[float], window: float) -> int:
    """The most arrivals in any window of `window` seconds."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + window) for i, t in enumerate(times))


async def test_the_rate_limit_holds_in_every_window_across_a_restart(
    settings: Settings, world: World, session: AsyncSession, smtp: SmtpServer
) -> None:
    sending = _sending(settings, smtp, send_minute_seconds=1.0, send_grace_seconds=0.1)
    sender = await create_sender(
        session,
        world.owner,
        sending,
        SenderIn(
            from_name="Qendra",
            from_address="press@qendra.org",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_tls="none",
            per_minute=4,
        ),  # fmt: skip
    )
    campaign_id = await _launch(session, world.editor, sending, 12, sender_id=sender.id)
    maker = make_sessionmaker(engine := make_engine(sending.database_url))
    try:
        first = SenderWorker(maker, sending)
        deadline = time.monotonic() + 1.3
        while time.monotonic() < deadline:
            await first.run_once()
            await asyncio.sleep(0.05)
        await first.close()  # a restart: the next worker knows nothing but the database
        sent_before = len(smtp.sink.arrivals)
        assert 4 <= sent_before < 12
        await _drain(maker, sending)
    finally:
        await engine.dispose()
    assert len(smtp.sink.arrivals) == 12
    assert _busiest_window([a.at for a in smtp.sink.arrivals], 1.0) <= 4
    assert {r.status for r in await _rows(session, campaign_id)} == {"sent"}


def _worker(settings: Settings, cwd: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BEATBOOK_DATABASE_URL": settings.database_url,
        "BEATBOOK_SECRET_KEY": settings.secret_key,
        "BEATBOOK_SUPPRESSION_KEY": settings.suppression_key,
        "BEATBOOK_SMTP_HOST": settings.smtp_host,
        "BEATBOOK_SMTP_PORT": str(settings.smtp_port),
        "BEATBOOK_SMTP_TLS": "none",
        "BEATBOOK_MAIL_FROM": settings.mail_from,
        "BEATBOOK_SEND_BATCH": "10",
        "BEATBOOK_SEND_LEASE_SECONDS": "2",
        "BEATBOOK_SEND_BUILD_PROCESSES": "1",
        "PYTHONPATH": str(ROOT),
    }
    code = "from web.cli import main; main()"
    with open(cwd / "worker.log", "ab") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen(
            [sys.executable, "-c", code, "worker"], cwd=cwd, env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def test_a_worker_killed_mid_campaign_loses_nothing_and_repeats_nothing(
    settings: Settings, world: World, session: AsyncSession, smtp: SmtpServer, tmp_path: Path
) -> None:
    sending = _sending(settings, smtp)
    campaign_id = await _launch(session, world.editor, sending, 60)
    # Slow enough that a batch of 10 over 4 connections takes over half a second, so the kill
    # (within 50 ms of the 15th arrival) always lands while a batch is claimed but unrecorded.
    smtp.sink.slow = 0.2
    worker = _worker(sending, tmp_path)
    try:
        for _ in range(600):
            if len(smtp.sink.arrivals) >= 15:
                break
            await asyncio.sleep(0.05)
        builders = build_processes(worker.pid)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        worker.kill()
    killed_at = len(smtp.sink.arrivals)
    assert 15 <= killed_at < 60, "the worker was not stopped mid-campaign"
    # Its build processes do not wait for work forever.
    assert len(builders) == 1
    for _ in range(50):
        if not alive(builders):
            break
        await asyncio.sleep(0.1)
    assert not alive(builders), "a build process outlived its killed worker"
    smtp.sink.slow = 0
    await asyncio.sleep(2.2)  # the dead worker's leases run out
    again = _worker(sending, tmp_path)
    try:
        for _ in range(400):
            rows = await _rows(session, campaign_id)
            if all(r.status in ("sent", "unknown") for r in rows):
                break
            await asyncio.sleep(0.1)
    finally:
        again.terminate()
        again.wait(timeout=10)
    rows = await _rows(session, campaign_id)
    unknown = [r for r in rows if r.status == "unknown"]
    assert unknown, "the killed worker's claimed rows should be unknown"
    # A person resolves them: those that arrived were sent, the others go again.
    arrived = set(smtp.sink.message_ids())
    did = [r.id for r in unknown if r.message_id in arrived]
    did_not = [r.id for r in unknown if r.message_id not in arrived]
    await outbox.resolve_unknown(session, world.editor, campaign_id, did, "sent")
    await outbox.resolve_unknown(session, world.editor, campaign_id, did_not, "resend")
    await _drain(make_sessionmaker(engine := make_engine(sending.database_url)), sending)
    await engine.dispose()
    counts = Counter(smtp.sink.message_ids())
    assert max(counts.values()) == 1, "a Message-ID arrived twice"
    assert set(counts) == {r.message_id for r in rows}, "a message is missing"
    assert {r.status for r in await _rows(session, campaign_id)} == {"sent"}
