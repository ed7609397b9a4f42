"""Big batches built in the build processes: the same messages, and nothing lost when a build
process dies or a campaign changes. Real processes, real SMTP server, real databases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.contacts import ContactIn, create_contact
from crm.models import Campaign, Delivery
from crm.settings import Settings
from outreach import buildpool, outbox
from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign
from outreach.compose import Composer, Outgoing, load_composer
from outreach.merge import MAX_VALUE_CHARS
from outreach.sender import _OUTGOING, SenderWorker
from tests.conftest import World
from tests.processes import alive, build_processes
from tests.smtp_server import SmtpServer
from tests.test_outbox import _deliveries

PEOPLE = buildpool.MIN_ROWS + 20


@pytest.fixture
def sending(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": "none",
            "mail_from": "Qendra <press@qendra.org>", "send_retry_seconds": 0.2,
            "send_batch": 500, "send_build_processes": 1,
        }
    )  # fmt: skip


@pytest.fixture
async def campaign(session: AsyncSession, world: World, sending: Settings) -> Campaign:
    """A launched campaign big enough for the build processes, in two languages."""
    ids = []
    for i in range(PEOPLE):
        contact = await create_contact(
            session,
            world.editor,
            ContactIn(
                given_name=f"Gazetar{i}",
                emails=[f"g{i}@koha.net"],
                preferred_language="en" if i % 2 else "sq",
            ),
        )
        ids.append(contact.id)
    made = await create_campaign(
        session,
        world.editor,
        CampaignIn(
            name="Statement",
            variants={
                "sq": VariantIn(subject="Deklaratë për {{ first_name }}", body="Teksti shqip."),
                "en": VariantIn(subject="Statement for {{ first_name }}", body="English text."),
            },
            audience=AudienceIn(contacts=ids),
        ),
    )
    await outbox.launch(session, world.editor, sending, made.id, expected=PEOPLE)
    return made


@pytest.fixture
def builds_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows whose message the sender's own process built."""
    built: list[int] = []
    build = Composer.build

    def counted(self: Composer, row: Outgoing, **kwargs: bool) -> bytes:
        built.append(row.id)
        return build(self, row, **kwargs)

    monkeypatch.setattr(Composer, "build", counted)
    return built


async def _send_all(maker: async_sessionmaker[AsyncSession], worker: SenderWorker) -> None:
    try:
        while await worker.drain():
            pass
    finally:
        await worker.close()


async def _each_sent_once(session: AsyncSession, smtp: SmtpServer, campaign: Campaign) -> None:
    counts = Counter(smtp.sink.message_ids())
    assert len(counts) == PEOPLE and max(counts.values()) == 1
    assert {r.status for r in (await _deliveries(session, campaign.id or 0)).values()} == {"sent"}


async def test_a_big_batch_is_built_in_the_build_processes_and_arrives_whole(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    sending: Settings,
    smtp: SmtpServer,
    campaign: Campaign,
    builds_here: list[int],
) -> None:
    # One recipient whose message cannot be made (a value over the cap).
    await session.execute(
        update(Delivery)
        .where(Delivery.address == "g7@koha.net")
        .values(fields={"first_name": "x" * (MAX_VALUE_CHARS + 1)})
    )
    await session.commit()
    worker = SenderWorker(maker, sending)
    await worker.start()
    await _send_all(maker, worker)

    assert builds_here == [], "the sender's own process built messages"
    rows = await _deliveries(session, campaign.id or 0)
    assert rows["g7@koha.net"].status == "failed"
    assert rows["g7@koha.net"].last_error.startswith("The message cannot be made: first_name")
    assert smtp.sink.to("g7@koha.net") == []
    counts = Counter(smtp.sink.message_ids())
    assert len(counts) == PEOPLE - 1 and max(counts.values()) == 1
    for i in (0, 1, PEOPLE - 1):
        (arrival,) = smtp.sink.to(f"g{i}@koha.net")
        subject = f"Statement for Gazetar{i}" if i % 2 else f"Deklaratë për Gazetar{i}"
        assert str(arrival.message["Subject"]) == subject
        assert arrival.message_id == rows[f"g{i}@koha.net"].message_id
        assert "/u/" in arrival.message.get_body(("plain",)).get_content()  # its own footer
    assert {r.status for a, r in rows.items() if a != "g7@koha.net"} == {"sent"}


async def test_a_build_process_that_dies_costs_no_message(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    sending: Settings,
    smtp: SmtpServer,
    campaign: Campaign,
    builds_here: list[int],
) -> None:
    worker = SenderWorker(maker, sending)
    before = build_processes(os.getpid())
    await worker.start()
    started = build_processes(os.getpid()) - before
    assert len(started) == 1
    for pid in started:  # as the kernel's out-of-memory killer would
        os.kill(pid, signal.SIGKILL)
    await _send_all(maker, worker)

    await _each_sent_once(session, smtp, campaign)
    assert len(builds_here) == PEOPLE  # the sender built them all itself


async def test_a_build_process_that_hangs_costs_no_message(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    sending: Settings,
    smtp: SmtpServer,
    campaign: Campaign,
    builds_here: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(buildpool, "WAIT_SECONDS", 1.0)
    worker = SenderWorker(maker, sending)
    before = build_processes(os.getpid())
    await worker.start()
    (stuck,) = build_processes(os.getpid()) - before
    os.kill(stuck, signal.SIGSTOP)  # it takes the batch's messages, and never answers
    try:
        await _send_all(maker, worker)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it should have been ended
            os.kill(stuck, signal.SIGCONT)
    await _each_sent_once(session, smtp, campaign)
    assert len(builds_here) == PEOPLE
    for _ in range(50):  # the stuck process was ended, not left behind
        if not alive({stuck}):
            break
        await asyncio.sleep(0.1)
    assert not alive({stuck})


async def test_a_build_process_never_uses_a_campaign_other_than_the_senders(
    session: AsyncSession, sending: Settings, campaign: Campaign
) -> None:
    result = await session.execute(select(*_OUTGOING).where(Delivery.campaign_id == campaign.id))
    rows = [Outgoing(*r) for r in result.all()]
    composer = await load_composer(session, sending, campaign)
    pool = buildpool.BuildPool(sending, 1)
    await pool.start()
    try:
        # The sender knows the campaign as it is; a build process reads the same.
        ahead = pool.build(composer, rows, False)
        assert ahead is not None
        message = await ahead.message(len(rows) - 1)
        assert isinstance(message, bytes)
        assert f"<{rows[-1].address}>" in message.decode()
        assert f"Message-ID: {rows[-1].message_id}" in message.decode()
        # The sender's copy differs from the database's (an edit since it loaded it): the
        # sender builds the messages itself, from its own copy.
        composer.fingerprint = "another version"
        stale = pool.build(composer, rows, False)
        assert stale is not None
        assert await stale.message(0) is None
    finally:
        pool.close()
