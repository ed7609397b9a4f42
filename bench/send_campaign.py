"""Benchmark: a 10,000-recipient personalised campaign through the outbox, next to a bare
aiosmtplib loop sending the same bytes.

Run from the repository root (``make bench`` does):

    .venv/bin/python bench/send_campaign.py [--recipients N] [--connections C]

1. **Sink**: a minimal SMTP server written for the benchmark (asyncio, one process of its
   own), which answers every command at once and counts messages. The stock aiosmtpd server
   is slower than the sender, so it would measure itself.
2. **App**: a new SQLite database made by the migrations, one organisation, N contacts with
   their addresses and outlets, a campaign whose body is about 4 KB of Markdown with merge
   fields (text and HTML parts, no DKIM), launched through ``outreach.outbox.launch``. Then
   ``outreach.sender.SenderWorker``, started before the clock as ``beatbook worker`` starts
   at boot (with its build processes), works through the outbox as the worker does:
   claims under a lease, renders each message, sends over C reused connections, records
   every result and writes each sent message to the contact's timeline. Timed from the first
   claim to the last recorded result.
3. **Baseline**: in the same run, the same N messages, pre-rendered to bytes (by the app's
   own composer, before the clock starts), sent by a bare loop of ``aiosmtplib`` MAIL / RCPT /
   DATA over C connections, with no database at all.
4. Prints messages/s of both, the ratio, and GOAL MET when the app reaches at least 0.6 of
   the baseline and at least 800 messages/s.

It exits 0 once the figures are printed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import shutil
import socket
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OUT = REPO / "bench" / "out"
GOAL_RATIO, GOAL_RATE = 0.6, 800.0
PARAGRAPH = (
    "Koalicioni publikon sot raportin vjetor për lirinë e shprehjes në Kosovë, me gjetje për "
    "qasjen në informata publike dhe kërcënimet ndaj gazetarëve gjatë vitit 2026. "
)
BODY = "\n\n".join(
    [
        "{{ salutation }},",
        "Ju shkruajmë sepse {{ outlet }} mbulon temat e {{ beat|default('drejtësisë') }}.",
        *[PARAGRAPH] * 6,
        "- Gjetjet sipas rajoneve\n- Intervista\n- Rekomandimet",
        "Raporti i plotë: [qendra.org/raporti](https://qendra.org/raporti).",
        "Me respekt,\nZyra për media",
    ]
)


# --- the sink ---------------------------------------------------------------------------------


class _SinkProtocol(asyncio.Protocol):
    def __init__(self, counter: list[int]) -> None:
        self.counter = counter
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self.counter[0] += 1
                self.transport.write(b"250 2.0.0 queued\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            line, self.buffer = self.buffer[:line_end], self.buffer[line_end + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


def _sink_main(port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    async def serve() -> None:
        counter = [0]
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _SinkProtocol(counter), "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the data ----------------------------------------------------------------------------------


def _fresh_db(path: Path) -> None:
    from alembic.script import ScriptDirectory

    from crm.migrate import alembic_config, upgrade

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    template = OUT / f"send-template-{head}.db"
    if not template.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = template.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        upgrade(f"sqlite:///{tmp}")
        tmp.replace(template)
    shutil.copy(template, path)


async def _setup(url: str, n: int, settings: object) -> tuple[object, int]:
    """An organisation with N contacts at demo outlets, and a launched campaign."""
    from crm import demo_landscape as dl
    from crm.accounts import Actor, create_user, get_or_create_org
    from crm.bulk import insert_returning_ids, insert_rows
    from crm.database import make_engine, make_sessionmaker
    from crm.models import Contact, ContactEmail, ContactOutletRole, Outlet
    from crm.models.base import utcnow
    from outreach import outbox
    from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign

    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    async with maker() as session:
        org = await get_or_create_org(session, "Qendra Bench Send")
        user = await create_user(
            session, email="bench@qendra.org", password="bench password 1", org=org, role="owner"
        )
        actor = Actor(user.id, org.id or 0, "owner")
        now = utcnow()
        outlet_ids = await insert_returning_ids(
            session, Outlet,
            [{"org_id": actor.org_id, "name": o["name"], "medium": o["medium"], "languages": [],
              "region": "", "website": "", "desk_email": "", "reach": None, "search_text": "",
              "sort_key": o["name"].lower(), "created_at": now, "updated_at": now}
             for o in dl.OUTLETS],
        )  # fmt: skip
        people = dl.generate_journalists(random.Random(7), n, len(dl.OUTLETS))
        contact_ids = await insert_returning_ids(
            session, Contact,
            [{"org_id": actor.org_id, "given_name": p["given_name"],
              "family_name": p["family_name"], "salutation": random.choice("mf"),
              "preferred_language": "sq", "languages": [],
              "phones": [], "social": {}, "city": "", "region": "", "notes": "",
              "legal_basis": "legitimate_interest", "legal_source": "", "do_not_contact": False,
              "do_not_contact_reason": "", "search_text": "", "sort_key": "",
              "created_at": now, "updated_at": now}
             for p in people],
        )  # fmt: skip
        await insert_rows(
            session, ContactEmail,
            [{"org_id": actor.org_id, "contact_id": cid, "email": f"gazetar{i}@koha-bench.net",
              "normalised": f"gazetar{i}@koha-bench.net", "is_primary": True, "position": 0}
             for i, cid in enumerate(contact_ids)],
        )  # fmt: skip
        await insert_rows(
            session, ContactOutletRole,
            [{"contact_id": cid, "outlet_id": outlet_ids[p["outlet_index"]], "title": "",
              "started_on": None, "ended_on": None}
             for cid, p in zip(contact_ids, people, strict=True)],
        )  # fmt: skip
        await session.commit()
        campaign = await create_campaign(
            session,
            actor,
            CampaignIn(
                name="Raporti vjetor",
                default_language="sq",
                variants={"sq": VariantIn(subject="Raporti vjetor për {{ outlet }}", body=BODY)},
                audience=AudienceIn(contacts=contact_ids),
            ),
        )
        started = time.perf_counter()
        await outbox.launch(session, actor, settings, campaign.id, expected=n)  # type: ignore[arg-type]
        launch_s = time.perf_counter() - started
    await engine.dispose()
    return launch_s, campaign.id or 0


async def _run_app(url: str, settings: object, campaign_id: int) -> float:
    from sqlalchemy import func, select

    from crm.database import make_engine, make_sessionmaker
    from crm.models import Delivery
    from outreach.sender import SenderWorker

    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    worker = SenderWorker(maker, settings)  # type: ignore[arg-type]
    await worker.start()  # as `beatbook worker` does at boot, long before a campaign
    started = time.perf_counter()
    await worker.drain()  # what `beatbook worker` does while there is work
    elapsed = time.perf_counter() - started
    await worker.close()
    async with maker() as session:
        sent = await session.execute(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id, Delivery.status == "sent"
            )
        )
        count = sent.scalar_one()
    await engine.dispose()
    return count / elapsed


async def _prerender(url: str, settings: object, campaign_id: int) -> list[tuple[str, bytes]]:
    from sqlalchemy import select

    from crm.database import make_engine, make_sessionmaker
    from crm.models import Campaign, Delivery
    from outreach.compose import Outgoing, load_composer

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        campaign = await session.get(Campaign, campaign_id)
        composer = await load_composer(session, settings, campaign)  # type: ignore[arg-type]
        rows = await session.execute(
            select(
                Delivery.id, Delivery.campaign_id, Delivery.address, Delivery.name,
                Delivery.language, Delivery.fields, Delivery.personal_line,
                Delivery.privacy_notice, Delivery.message_id, Delivery.is_test,
            ).where(Delivery.campaign_id == campaign_id)
        )  # fmt: skip
        # The bytes the app sends to this sink (which takes 8BITMIME): unencoded bodies.
        messages = [(r[2], composer.build(Outgoing(*r), allow_8bit=True)) for r in rows.all()]
    await engine.dispose()
    return messages


async def _run_baseline(port: int, messages: list[tuple[str, bytes]], connections: int) -> float:
    import aiosmtplib

    queue = list(reversed(messages))

    async def lane() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
        await smtp.connect()
        while queue:
            to, data = queue.pop()
            await smtp.mail("press@qendra.org", options=["BODY=8BITMIME"])
            await smtp.rcpt(to)
            await smtp.data(data)
        await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(connections)))
    return len(messages) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, help="BEATBOOK_SEND_BATCH (default: the app's)")
    parser.add_argument(
        "--build-processes", type=int, help="BEATBOOK_SEND_BUILD_PROCESSES (default: the app's)"
    )
    args = parser.parse_args()

    from crm.settings import Settings

    port = _free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink_main, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / "send-campaign.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    _fresh_db(db)
    url = f"sqlite:///{db}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url, secret_key="bench-secret", suppression_key="bench-suppression",
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
        mail_from="Qendra <press@qendra.org>", send_concurrency=args.connections,
        **({"send_batch": args.batch} if args.batch else {}),
        **({} if args.build_processes is None else {"send_build_processes": args.build_processes}),
    )  # fmt: skip
    try:
        launch_s, campaign_id = asyncio.run(_setup(url, args.recipients, settings))
        messages = asyncio.run(_prerender(url, settings, campaign_id))
        size = sum(len(m) for _, m in messages) / len(messages)
        app_rate = asyncio.run(_run_app(url, settings, campaign_id))
        base_rate = asyncio.run(_run_baseline(port, messages, args.connections))
    finally:
        sink.terminate()
    ratio = app_rate / base_rate
    print(f"recipients: {args.recipients}, connections: {args.connections}, "
          f"average message: {size / 1024:.1f} KB, launch: {launch_s:.2f} s")  # fmt: skip
    print(f"app:      {app_rate:8.0f} messages/s")
    print(f"baseline: {base_rate:8.0f} messages/s (bare aiosmtplib, pre-rendered bytes)")
    met = ratio >= GOAL_RATIO and app_rate >= GOAL_RATE
    print(f"ratio:    {ratio:8.2f}  (goal >= {GOAL_RATIO} and >= {GOAL_RATE:.0f}/s): "
          f"{'GOAL MET' if met else 'GOAL MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
