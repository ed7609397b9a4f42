"""Benchmark: relationship health at 100,000 contacts and 1,000,000 interactions.

Run from the repository root (``make bench`` does):

    .venv/bin/python bench/relationship_health.py [--regenerate] [--runs N]

1. Data: the contacts list benchmark's database (``bench/contacts_list.py``: one
   organisation, 100k journalists with outlets, beats and tags, 1M interactions of every
   kind over three years), copied to ``bench/out/relationship_health.db``.
2. Refresh: ``crm.health.store.refresh_all`` scores every contact (the background job's
   work, once a day for everyone and then only for the contacts whose timeline moved).
3. Dashboard: ``GET /health`` through the real app in-process (``web.app.create_app``, an
   httpx ASGI client logged in through the form), unfiltered and filtered by beat, outlet
   and period: median and p95 of ``--runs`` requests each. Goal: under 500 ms.
4. A contact's score: ``crm.health.store.health_of`` (its timeline read by one indexed query,
   then scored), for 200 contacts, the busiest included. Goal: under 5 ms.
5. Baselines, in the same run on raw ``sqlite3``: the aggregate query a dashboard would run
   over the raw interactions (per contact: count, last contact, emails in and out), and the
   raw read of one contact's interactions.

It exits 0 once the figures are printed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import sqlite3
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import contacts_list  # noqa: E402 (the bench folder's own module, after the path is set)

DB = contacts_list.OUT / "relationship_health.db"
GOAL_DASHBOARD_MS = 500.0
GOAL_SCORE_MS = 5.0


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def prepare(regenerate: bool) -> None:
    source = contacts_list.ensure_db(contacts_list.db_path(), regenerate)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, DB)


async def refresh(url: str) -> float:
    from crm.database import make_engine, make_sessionmaker
    from crm.health import store

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            started = perf_counter()
            done = await store.refresh_all(session, datetime.now(UTC))
            took = perf_counter() - started
    finally:
        await engine.dispose()
    print(f"Refresh: {done:,} contacts scored in {took:.1f} s ({done / took:,.0f}/s)")
    return took


def raw_baselines(runs: int, contact_ids: list[int]) -> tuple[list[float], list[float]]:
    con = sqlite3.connect(DB)
    aggregate = (
        "SELECT contact_id, count(*), max(occurred_at), sum(kind = 'email_in'),"
        " sum(kind = 'email_out') FROM interaction WHERE org_id = 1 GROUP BY contact_id"
    )
    board: list[float] = []
    for _ in range(runs):
        started = perf_counter()
        con.execute(aggregate).fetchall()
        board.append(perf_counter() - started)
    one = "SELECT kind, direction, occurred_at FROM interaction WHERE contact_id = ?"
    contact: list[float] = []
    for cid in contact_ids:
        started = perf_counter()
        con.execute(one, (cid,)).fetchall()
        contact.append(perf_counter() - started)
    con.close()
    return board, contact


def pick_contacts(count: int) -> list[int]:
    """The 20 busiest contacts and random others."""
    con = sqlite3.connect(DB)
    busiest = [
        r[0]
        for r in con.execute(
            "SELECT contact_id FROM interaction GROUP BY contact_id ORDER BY count(*) DESC LIMIT 20"
        )
    ]
    everyone = [r[0] for r in con.execute("SELECT id FROM contact")]
    ids = con.execute("SELECT id FROM beat WHERE id IN (SELECT beat_id FROM contact_beat) LIMIT 1")
    con.close()
    assert ids is not None
    rng = random.Random(7)
    return busiest + rng.sample(everyone, count - len(busiest))


async def measure_app(url: str, runs: int, contact_ids: list[int]) -> dict[str, Any]:
    import httpx

    from crm.accounts import Actor
    from crm.health import store
    from crm.settings import Settings
    from web.app import create_app

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        secret_key=contacts_list.SECRET,
        suppression_key="bench-suppression-key",
        login_delay_step=0.0,
        run_jobs_in_process=False,
    )
    app = create_app(settings, run_jobs=False)
    con = sqlite3.connect(DB)
    beat = con.execute("SELECT beat_id FROM contact_beat GROUP BY beat_id LIMIT 1").fetchone()[0]
    outlet = con.execute(
        "SELECT outlet_id FROM contact_outlet_role GROUP BY outlet_id ORDER BY count(*) DESC"
    ).fetchone()[0]
    con.close()
    cases = {
        "everyone, 90 days": "/health",
        "one beat, 30 days": f"/health?beat={beat}&period=30",
        "biggest outlet, 365 days": f"/health?outlet={outlet}&period=365",
    }
    results: dict[str, Any] = {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        page = await client.get("/login")
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
        assert token, "no login form"
        answer = await client.post(
            "/login",
            data={"email": contacts_list.EMAIL, "password": contacts_list.PASSWORD,
                  "csrftoken": token.group(1)},
        )  # fmt: skip
        assert answer.status_code == 303, answer.status_code
        for name, path in cases.items():
            times: list[float] = []
            for i in range(runs + 2):
                started = perf_counter()
                response = await client.get(path)
                took = perf_counter() - started
                assert response.status_code == 200, (path, response.status_code)
                if i >= 2:  # two warm-up requests
                    times.append(took)
            results[name] = times
        async with app.state.sessionmaker() as session:
            actor = Actor(1, 1, "editor")
            now = datetime.now(UTC)
            scores: list[float] = []
            for cid in contact_ids:
                started = perf_counter()
                await store.health_of(session, actor, cid, now)
                scores.append(perf_counter() - started)
            results["score"] = scores
    await app.state.engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    prepare(args.regenerate)
    url = f"sqlite+aiosqlite:///{DB}"
    asyncio.run(refresh(url))
    contact_ids = pick_contacts(200)
    measured = asyncio.run(measure_app(url, args.runs, contact_ids))
    board_base, contact_base = raw_baselines(args.runs, contact_ids)

    print()
    print(f"{'case':34} {'p50 ms':>9} {'p95 ms':>9}   goal")
    base50, base95 = _ms(board_base)
    print(f"{'baseline: raw aggregate query':34} {base50:9.1f} {base95:9.1f}")
    for name, times in measured.items():
        if name == "score":
            continue
        p50, p95 = _ms(times)
        verdict = "GOAL MET" if p95 < GOAL_DASHBOARD_MS else "GOAL MISSED"
        goal = f"<{GOAL_DASHBOARD_MS:.0f}: {verdict}"
        print(f"{'GET /health: ' + name:34} {p50:9.1f} {p95:9.1f}   {goal}")
    one50, one95 = _ms(contact_base)
    print(f"{'baseline: raw read of a timeline':34} {one50:9.2f} {one95:9.2f}")
    s50, s95 = _ms(measured["score"])
    verdict = "GOAL MET" if s95 < GOAL_SCORE_MS else "GOAL MISSED"
    goal = f"<{GOAL_SCORE_MS:.0f}: {verdict}"
    print(f"{'a contact score (health_of)':34} {s50:9.2f} {s95:9.2f}   {goal}")
    print()
    print(f"The dashboard p50 is {_ms(measured['everyone, 90 days'])[0] / base50:.2f}x the raw "
          "aggregate over the interactions, which alone would not give a score.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
