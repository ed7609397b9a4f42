"""Benchmark: the contacts list page on 100,000 contacts and 1,000,000 interactions.

Run from the repository root (``make bench`` does):

    .venv/bin/python bench/contacts_list.py [--regenerate] [--all-cases] [--case NAME]
        [--explain] [--db FILE] [--sequential N] [--requests N] [--phase-limit SECONDS]

``--all-cases`` adds medium+language, the HTMX search block and the unfiltered list;
``--explain`` prints the captured SQL and the query plans of the count and the page.

1. Generates (or reuses) ``bench/out/contacts_list-v<N>.db``: the real schema (Alembic), one
   organisation with an editor, the demo outlets, 100k contacts built with
   ``crm.demo_landscape.generate_journalists`` (Albanian and Serbian names, some in Cyrillic),
   their emails, outlet roles, beats and tags, 1M interactions, a few lists. Rows are written
   with raw ``sqlite3``; ``search_text`` and ``sort_key`` are computed as ``crm.contacts`` does.
2. Serves the real app (``web.app.create_app``) with uvicorn, one worker, on a free loopback
   port, logs in through the login form and measures ``GET /contacts`` per case: latency of
   sequential requests (p50, p95) and requests/s with 10 concurrent clients.
3. Records the SQL the app runs for each case (an engine event listener, in-process), then
   serves a bare Starlette baseline the same way: it replays those statements with raw
   ``sqlite3`` (the page's outlets query gets the ids of the page it just read), builds the
   same template context and renders ``contacts/list.html`` through ``web.rendering.env``. The
   difference is the framework, the ORM, the async driver and the middleware. The results
   HTML of both is compared.
4. Prints a table and GOAL MET / GOAL MISSED per case (p95 <= 50 ms and app req/s >= 0.7 x
   baseline req/s), then the time of each SQL statement of the page on raw ``sqlite3``.

It always exits 0 once the figures are printed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from time import perf_counter
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Bump when the generated data changes shape: a new file is generated, the old one is ignored.
GEN_VERSION = 1
N_CONTACTS = 100_000
N_INTERACTIONS = 1_000_000
SEED = 20240611
OUT = REPO / "bench" / "out"
ORG_NAME = "Qendra Bench"
EMAIL = "editor@bench.example"
PASSWORD = "bench-password-1"
SECRET = "bench-secret-key-not-for-production-0123456789"
HOST = "127.0.0.1"

SEQUENTIAL = 200
WARMUP = 10
CONCURRENCY = 10
CONCURRENT_REQUESTS = 1000
PHASE_LIMIT_S = 15.0  # each measuring phase stops taking new requests after this long
GOAL_P95_MS = 50.0
GOAL_RATIO = 0.7


# ---------------------------------------------------------------------------------------------
# Generating the database
# ---------------------------------------------------------------------------------------------


def db_path() -> Path:
    return OUT / f"contacts_list-v{GEN_VERSION}.db"


def _show(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _ts(value: datetime) -> str:
    """A naive UTC datetime as SQLAlchemy stores it on SQLite."""
    return value.isoformat(" ", "microseconds")


def generate(db: Path) -> None:
    from crm import demo_landscape as dl
    from crm.accounts import hash_password
    from crm.migrate import upgrade
    from crm.search import fold, normalise_email, search_key

    started = perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(db.name + ".tmp")
    for path in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        path.unlink(missing_ok=True)
    upgrade(f"sqlite:///{tmp}")
    print(f"  schema migrated ({perf_counter() - started:.1f} s)", flush=True)

    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    three_years = 3 * 365 * 86400
    con = sqlite3.connect(tmp, isolation_level=None)
    for pragma in (
        "PRAGMA journal_mode=OFF",
        "PRAGMA synchronous=OFF",
        "PRAGMA cache_size=-524288",
        "PRAGMA temp_store=MEMORY",
    ):
        con.execute(pragma)
    con.execute("BEGIN")
    long_ago = _ts(now - timedelta(days=3 * 365 + 30))
    con.execute(
        "INSERT INTO organisation (id, name, default_language, created_at) VALUES (1, ?, 'en', ?)",
        (ORG_NAME, long_ago),
    )
    con.execute(
        "INSERT INTO user (id, email, name, password_hash, language, is_active, created_at)"
        " VALUES (1, ?, 'Bench Editor', ?, 'en', 1, ?)",
        (EMAIL, hash_password(PASSWORD), long_ago),
    )
    con.execute(
        "INSERT INTO membership (user_id, org_id, role, created_at) VALUES (1, 1, 'editor', ?)",
        (long_ago,),
    )

    outlets = dl.OUTLETS
    con.executemany(
        "INSERT INTO outlet (id, org_id, name, medium, languages, region, website, desk_email,"
        " reach, search_text, sort_key, created_at, updated_at)"
        " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i + 1,
                o["name"],
                o["medium"],
                json.dumps(o["languages"]),
                o["region"],
                o["website"],
                o["desk_email"],
                o["reach"],
                search_key(o["name"], o["website"], o["region"]),
                fold(o["name"])[:200],
                long_ago,
                long_ago,
            )
            for i, o in enumerate(outlets)
        ],
    )
    beats = dict(con.execute("SELECT slug, id FROM beat WHERE org_id IS NULL"))

    journalists = dl.generate_journalists(rng, N_CONTACTS, len(outlets))
    print(f"  {len(journalists):,} journalists made ({perf_counter() - started:.1f} s)", flush=True)

    # How many interactions each contact has: a quarter none, the rest heavy-tailed.
    weights = [
        0.0 if rng.random() < 0.25 else min(rng.paretovariate(1.3), 40.0) for _ in journalists
    ]
    per_contact = Counter(rng.choices(range(len(journalists)), weights=weights, k=N_INTERACTIONS))
    kinds = ("email_out", "email_in", "call", "meeting", "note", "coverage")
    kind_seq = rng.choices(kinds, weights=(5, 3, 3, 1, 2, 1), k=N_INTERACTIONS)
    directions = {"email_out": "out", "email_in": "in", "call": "out"}
    summaries = dl.INTERACTION_SUMMARIES

    contacts: list[tuple[Any, ...]] = []
    emails: list[tuple[Any, ...]] = []
    roles: list[tuple[Any, ...]] = []
    contact_beats: list[tuple[int, int]] = []
    tags: list[tuple[int, str]] = []
    interactions: list[tuple[Any, ...]] = []
    interaction_sql = (
        "INSERT INTO interaction (org_id, contact_id, kind, direction, occurred_at, summary,"
        " body, author_id, created_at) VALUES (1, ?, ?, ?, ?, ?, '', ?, ?)"
    )
    k_index = 0
    epoch = datetime(1970, 1, 1)
    now_s = (now - epoch).total_seconds()
    for i, j in enumerate(journalists):
        cid = i + 1
        created_s = now_s - rng.uniform(30 * 86400, three_years)
        created = _ts(epoch + timedelta(seconds=created_s))
        current = [j["outlet_index"]]
        extra = j.get("freelance_extra_outlet_index")
        if extra is not None and extra != j["outlet_index"]:
            current.append(extra)
        if rng.random() < 0.15:  # a previous job, ended: not shown, not searched
            past = rng.randrange(len(outlets))
            start = date(2012, 1, 1) + timedelta(days=rng.randrange(2500))
            end = start + timedelta(days=rng.randrange(200, 1800))
            roles.append((cid, past + 1, j["title"], start.isoformat(), end.isoformat()))
        for index in current:
            roles.append((cid, index + 1, j["title"], None, None))
        for position, email in enumerate(j["emails"]):
            emails.append((cid, email, normalise_email(email), int(position == 0), position))
        for beat_id in dict.fromkeys(beats[s] for s in j["beat_slugs"] if s in beats):
            contact_beats.append((cid, beat_id))
        for tag in dict.fromkeys(t.lower() for t in j["tags"]):
            tags.append((cid, tag))

        last = None
        count = per_contact.get(i, 0)
        if count:
            span = now_s - created_s
            times = sorted(created_s + rng.random() * span for _ in range(count))
            for t in times:
                kind = kind_seq[k_index]
                k_index += 1
                when = _ts(epoch + timedelta(seconds=t))
                options = summaries[kind]
                interactions.append(
                    (
                        cid,
                        kind,
                        directions.get(kind, "none"),
                        when,
                        options[int(rng.random() * len(options))],
                        1 if rng.random() < 0.7 else None,
                        when,
                    )
                )
            last = _ts(epoch + timedelta(seconds=times[-1]))
        if len(interactions) >= 200_000:
            con.executemany(interaction_sql, interactions)
            interactions.clear()

        given, family = j["given_name"], j["family_name"]
        names = [outlets[k]["name"] for k in current]
        dnc = rng.random() < 0.015
        contacts.append(
            (
                cid,
                given,
                family,
                j["gender"],
                j["preferred_language"],
                json.dumps(j["languages"]),
                json.dumps(j["phones"]),
                json.dumps(j["social"]),
                j["city"],
                j["region"],
                j["notes"],
                "Outlet website and press accreditation list",
                created,
                int(dnc),
                "Asked not to be contacted" if dnc else "",
                search_key(given, family, *j["emails"], j["city"], *names)[:2000],
                search_key(family or given, given).split(" | ")[0][:200],
                last,
                created,
                created,
            )
        )
    con.executemany(interaction_sql, interactions)
    con.executemany(
        "INSERT INTO contact (id, org_id, given_name, family_name, salutation,"
        " preferred_language, languages, phones, social, city, region, notes, legal_basis,"
        " legal_source, legal_captured_at, legal_captured_by_id, do_not_contact,"
        " do_not_contact_reason, search_text, sort_key, last_interaction_at, created_at,"
        " updated_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'public_source', ?, ?, 1,"
        " ?, ?, ?, ?, ?, ?, ?)",
        contacts,
    )
    con.executemany(
        "INSERT INTO contact_email (org_id, contact_id, email, normalised, is_primary, position)"
        " VALUES (1, ?, ?, ?, ?, ?)",
        emails,
    )
    con.executemany(
        "INSERT INTO contact_outlet_role (contact_id, outlet_id, title, started_on, ended_on)"
        " VALUES (?, ?, ?, ?, ?)",
        roles,
    )
    con.executemany("INSERT INTO contact_beat (contact_id, beat_id) VALUES (?, ?)", contact_beats)
    con.executemany("INSERT INTO contact_tag (contact_id, tag, org_id) VALUES (?, ?, 1)", tags)

    lists = [
        ("Press conference invitees", "static", {}, 1500),
        ("Donor visibility report", "static", {}, 400),
        ("Air quality campaign", "static", {}, 900),
        ("Northern municipalities", "static", {}, 250),
        ("Corruption reporters", "smart", {"beat_id": beats["corruption"]}, 0),
        ("Online, Albanian", "smart", {"medium": "online", "language": "sq"}, 0),
    ]
    for list_id, (name, kind, flt, members) in enumerate(lists, start=1):
        con.execute(
            "INSERT INTO contact_list (id, org_id, name, description, kind, filter, created_at)"
            " VALUES (?, 1, ?, '', ?, ?, ?)",
            (list_id, name, kind, json.dumps(flt), long_ago),
        )
        con.executemany(
            "INSERT INTO list_member (list_id, contact_id, added_at) VALUES (?, ?, ?)",
            [(list_id, cid, long_ago) for cid in rng.sample(range(1, N_CONTACTS + 1), members)],
        )
    con.execute("COMMIT")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    for stale in (Path(f"{db}-wal"), Path(f"{db}-shm")):  # the old file's: not this one's
        stale.unlink(missing_ok=True)
    os.replace(tmp, db)
    size = db.stat().st_size / 1e6
    print(f"  generated {_show(db)} ({size:.0f} MB) in {perf_counter() - started:.1f} s")


def _schema_revisions(db: Path) -> tuple[str | None, str | None]:
    """The database's Alembic revision, and the head of the migrations in this checkout."""
    from alembic.script import ScriptDirectory

    from crm.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(f"sqlite:///{db}")).get_current_head()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        row = None
    return (row[0] if row else None), head


def ensure_db(db: Path, regenerate: bool) -> Path:
    why = "--regenerate" if regenerate else "missing"
    if db.exists() and not regenerate:
        current, head = _schema_revisions(db)
        if current == head:
            print(f"Database: reusing {_show(db)} (generator v{GEN_VERSION}, schema {head})")
        else:
            why = f"schema {current}, migrations now at {head}"
            regenerate = True
    if regenerate or not db.exists():
        print(f"Database: generating {_show(db)} (generator v{GEN_VERSION}; {why})")
        generate(db)
    con = sqlite3.connect(db, isolation_level=None)
    # Sessions and failures left by earlier runs; everything else is as generated.
    con.execute("DELETE FROM web_session")
    con.execute("DELETE FROM login_failure")
    counts = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 (fixed names)
        for t in ("contact", "interaction", "outlet", "contact_email", "contact_outlet_role")
        + ("contact_beat", "contact_tag")
    }
    con.close()
    print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    return db


# ---------------------------------------------------------------------------------------------
# The page's SQL, captured from the app and replayed on raw sqlite3
# ---------------------------------------------------------------------------------------------

# What each statement is, recognised by its shape; the baseline builds its template context
# from the results, the breakdown names its timings with these.
KINDS = (
    ("session (auth)", r"^SELECT web_session\."),
    ("memberships (auth)", r"^SELECT membership\..* FROM membership JOIN organisation "),
    ("count", r"^SELECT count\([\w.*]*\) AS \w+ FROM contact\b"),
    ("outlets of the page", r"^SELECT contact_outlet_role\.contact_id, outlet\.id\b"),
    ("page of 50", r"^SELECT contact\.id, .* LIMIT \? OFFSET \?$"),
    ("beats (all_beats)", r"^SELECT beat\.id\b"),
    ("outlets (all_outlets)", r"^SELECT outlet\.id\b.* FROM outlet WHERE "),
    ("regions (facets)", r"^SELECT DISTINCT contact\.region\b"),
    ("tags (facets)", r"^SELECT DISTINCT contact_tag\.tag\b"),
    ("lists (list_choices)", r"^SELECT contact_list\.id\b"),
    ("menus (filter_menus)", r"^WITH menu_\w+ AS MATERIALIZED\b"),
)


def kind_of(sql: str) -> str:
    flat = " ".join(sql.split())
    for kind, pattern in KINDS:
        if re.search(pattern, flat):
            return kind
    return "other: " + flat[:60]


def capture_sql(db: Path, cookies: dict[str, str], cases: list[Case]) -> dict[str, Any]:
    """The statements the app runs for each case, recorded from its engine (in-process)."""
    import httpx
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from crm.settings import Settings
    from web.app import create_app

    app = create_app(
        Settings(
            database_url=f"sqlite:///{db}",
            secret_key=SECRET,
            suppression_key=SECRET,
            run_jobs_in_process=False,
        )
    )
    seen: list[tuple[str, list[Any]]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
        seen.append((sql, list(params or ())))

    # On the Engine class: every engine the app opens, not only `app.state.engine`.
    event.listen(Engine, "before_cursor_execute", record)
    captured: dict[str, Any] = {}

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{HOST}", cookies=cookies
        ) as client:
            for case in cases:
                seen.clear()
                _check(await client.get(case.path, headers=case.headers), case)
                statements = [(sql, params) for sql, params in seen]
                writes = [
                    s
                    for s, _ in statements
                    if not s.lstrip().upper().startswith(("SELECT", "WITH"))
                ]
                if writes:
                    raise RuntimeError(f"{case.path} writes, cannot replay: {writes[0][:80]}")
                captured[case.key] = statements
        await app.state.engine.dispose()

    try:
        asyncio.run(go())
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return captured


class RawPage:
    """Replays a page's captured statements on one sqlite3 connection, optionally timed."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.timings: dict[str, list[float]] | None = None

    def run(self, statements: list[tuple[str, list[Any]]]) -> dict[str, Any]:
        """Each statement's rows (as dicts) by kind; the page's outlets query gets the ids of
        the page just read, as the app passes them."""
        results: dict[str, Any] = {}
        for sql, params in statements:
            kind = kind_of(sql)
            if kind == "outlets of the page":
                ids = [r["id"] for r in results.get("page of 50", [])]
                if len(ids) == len(params):
                    params = ids
            start = perf_counter()
            cursor = self.con.execute(sql, params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            if self.timings is not None:
                self.timings.setdefault(kind, []).append(perf_counter() - start)
            if kind == "outlets of the page":  # positional: contact_id, outlet id, name, title
                results[kind] = rows
            else:
                results[kind] = [dict(zip(names, r, strict=True)) | {"_last": r[-1]} for r in rows]
        return results


def open_sqlite(db: Path) -> sqlite3.Connection:
    """A connection set up as the app's engine sets up each of its connections."""
    con = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    try:
        from crm.database import _sqlite_pragmas
    except ImportError:  # renamed: the pragmas crm.database set when this was written
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000"):
            con.execute(f"PRAGMA {pragma}")
        con.execute("PRAGMA synchronous=NORMAL")
    else:
        _sqlite_pragmas(con, None)
    return con


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def page_filter(params: Any) -> Any:
    """The page's filter, read from the query string exactly as the app reads it."""
    from web.routes.contacts import filter_from_query

    return filter_from_query(params)


def page_context(results: dict[str, Any], page: int, page_size: int) -> dict[str, Any]:
    """The template context `web.routes.contacts.contact_list` builds, from raw rows."""
    sessions = results["session (auth)"]
    session = sessions[0]
    user = SimpleNamespace(
        id=session["user_id"], email=session["email"], name=session["name"],
        language=session["language"],
    )  # fmt: skip
    if "memberships (auth)" in results:  # the session, then the user's organisations
        orgs = [(o["name"], o["id"], o["role"]) for o in results["memberships (auth)"]]
        role = session["role"]
    else:  # one statement: a row per membership, with its organisation (`name_1`)
        orgs = [(r.get("name_1", ""), r.get("org_id_1"), r["role"]) for r in sessions]
        role = next(r for _, oid, r in orgs if oid == session["org_id"])
    org = next(SimpleNamespace(id=i, name=n) for n, i, _ in orgs if i == session["org_id"])
    rows = []
    by_id: dict[int, Any] = {}
    for r in results.get("page of 50", []):
        last = r["last_interaction_at"]
        contact = SimpleNamespace(
            id=r["id"],
            full_name=f"{r['given_name']} {r['family_name']}".strip(),
            do_not_contact=bool(r["do_not_contact"]),
            last_interaction_at=datetime.fromisoformat(last).replace(tzinfo=UTC) if last else None,
        )
        rows.append(SimpleNamespace(contact=contact, email=r["_last"], outlets=[]))
        by_id[r["id"]] = rows[-1]
    for contact_id, outlet_id, name, title in results.get("outlets of the page", []):
        if contact_id in by_id:
            by_id[contact_id].outlets.append((outlet_id, name, title))
    total = results["count"][0]["_last"]
    ctx: dict[str, Any] = {
        "auth": SimpleNamespace(
            user=user,
            actor=SimpleNamespace(role=role, can_write=role in ("owner", "editor")),
            org=org,
            orgs=orgs,
        ),
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max((total + page_size - 1) // page_size, 1),
    }
    menus = {
        "lists (list_choices)": (
            "static_lists",
            lambda x: SimpleNamespace(id=x["id"], name=x["name"], kind=x["kind"]),
        ),
        "beats (all_beats)": ("beats", lambda x: SimpleNamespace(id=x["id"], name=x["name"])),
        "outlets (all_outlets)": ("outlets", lambda x: SimpleNamespace(id=x["id"], name=x["name"])),
        "regions (facets)": ("regions", lambda x: x["region"]),
        "tags (facets)": ("tags", lambda x: x["tag"]),
    }
    for kind, (key, make) in menus.items():
        if kind in results:
            ctx[key] = [make(x) for x in results[kind]]
    # All menus in one statement: rows of (menu, id, name, sort), ids only on lists, beats
    # and outlets.
    for row in results.get("menus (filter_menus)", []):
        item = row["name"] if row["id"] is None else SimpleNamespace(id=row["id"], name=row["name"])
        ctx.setdefault(row["menu"], []).append(item)
    return ctx


def baseline_app(db: Path, sql_file: Path) -> Any:
    """Bare Starlette: the app's SQL for the page on raw sqlite3, the same template and env.

    The endpoint is synchronous, so Starlette runs it in its thread pool with one sqlite3
    connection per thread: as with the app's aiosqlite pool, concurrent requests' queries can
    overlap.
    """
    import threading

    from jinja2_fragments import render_block
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from crm import i18n
    from web.rendering import env

    captured = json.loads(sql_file.read_text())
    local = threading.local()
    page_size = 50

    def contacts(request: Request) -> Response:
        raw = getattr(local, "raw", None)
        if raw is None:
            raw = local.raw = RawPage(open_sqlite(db))
        if not request.cookies.get("beatbook_session"):
            return PlainTextResponse("login required", status_code=401)
        htmx = request.headers.get("HX-Request") == "true"
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        statements = captured.get(Case.make_key(url, htmx))
        if statements is None:
            return PlainTextResponse("not a benchmark case", status_code=404)
        results = raw.run(statements)
        if not results.get("session (auth)"):
            return PlainTextResponse("login required", status_code=401)
        i18n.activate(results["session (auth)"][0]["language"])
        page = max(_int(request.query_params.get("page")) or 1, 1)
        ctx = page_context(results, page, page_size) | {
            "request": request,
            "csrftoken": request.cookies.get("csrftoken", ""),
            "f": page_filter(request.query_params),
            "query": {k: v for k, v in request.query_params.items() if k != "page" and v},
        }
        if htmx:
            html = render_block(env, "contacts/list.html", "results", ctx)
        else:
            html = env.get_template("contacts/list.html").render(ctx)
        return HTMLResponse(html, headers={"Vary": "HX-Request"})

    def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/contacts", contacts), Route("/ping", ping)])


def serve(kind: str, db: Path, port: int, sql_file: Path | None) -> None:
    """The server subprocess: the real app or the baseline, uvicorn, one worker."""
    import uvicorn

    if kind == "app":
        from crm.settings import Settings
        from web.app import create_app

        settings = Settings(
            database_url=f"sqlite:///{db}",
            secret_key=SECRET,
            suppression_key=SECRET,
            run_jobs_in_process=False,
        )
        application = create_app(settings)
    else:
        assert sql_file is not None
        application = baseline_app(db, sql_file)
    uvicorn.run(application, host=HOST, port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------------------
# Driving the servers
# ---------------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    path: str
    htmx: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true"} if self.htmx else {}

    @staticmethod
    def make_key(path: str, htmx: bool) -> str:
        return ("HTMX " if htmx else "") + path

    @property
    def key(self) -> str:
        return self.make_key(self.path, self.htmx)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    rps: float = 0.0
    concurrent_done: int = 0
    concurrent_seconds: float = 0.0
    results_html: str = ""

    def p(self, q: float) -> float:
        xs = sorted(self.latencies)
        if not xs:
            return math.nan
        return xs[max(0, math.ceil(q / 100 * len(xs)) - 1)] * 1000


class Server:
    def __init__(self, kind: str, db: Path, sql_file: Path | None = None) -> None:
        self.kind = kind
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
        self.base = f"http://{HOST}:{self.port}"
        self.log = OUT / f"server-{kind}.log"
        self._log = self.log.open("w")
        extra = ["--sql", str(sql_file)] if sql_file else []
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", kind]
            + ["--db", str(db), "--port", str(self.port), *extra],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        import httpx

        path = "/login" if self.kind == "app" else "/ping"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited; see {_show(self.log)}")
            try:
                if httpx.get(self.base + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.kind} server did not start in 60 s; see {_show(self.log)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._log.close()


def login(base: str) -> dict[str, str]:
    """A session through the login form, as a browser gets one."""
    import httpx

    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/login")
        match = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
        if page.status_code != 200 or not match:
            raise RuntimeError(f"no login form (HTTP {page.status_code})")
        answer = client.post(
            "/login",
            data={
                "email": EMAIL,
                "password": PASSWORD,
                "csrftoken": match.group(1),
                "next": "/contacts",
            },
        )
        if answer.status_code != 303 or "beatbook_session" not in client.cookies:
            raise RuntimeError(f"login failed (HTTP {answer.status_code})")
        return dict(client.cookies.items())


def _check(response: Any, case: Case) -> None:
    if response.status_code != 200 or "contact" not in response.text:
        raise RuntimeError(f"{case.path}: HTTP {response.status_code}: {response.text[:300]!r}")


def results_section(html: str) -> str:
    match = re.search(r'<section id="results".*?</section>', html, re.S)
    return match.group(0) if match else ""


def measure_sequential(base: str, cookies: dict[str, str], case: Case, result: Result) -> None:
    import httpx

    with httpx.Client(base_url=base, cookies=cookies, headers=case.headers, timeout=30) as c:
        for _ in range(WARMUP):
            response = c.get(case.path)
            _check(response, case)
        result.results_html = results_section(response.text)
        deadline = time.monotonic() + PHASE_LIMIT_S
        for _ in range(SEQUENTIAL):
            if time.monotonic() > deadline:
                break
            start = perf_counter()
            response = c.get(case.path)
            result.latencies.append(perf_counter() - start)
            _check(response, case)


async def measure_concurrent(
    base: str, cookies: dict[str, str], case: Case, result: Result
) -> None:
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base, cookies=cookies, headers=case.headers, limits=limits, timeout=30
    ) as client:
        # Open the connections first, so the timed part is only requests.
        for response in await asyncio.gather(*(client.get(case.path) for _ in range(CONCURRENCY))):
            _check(response, case)
        remaining = CONCURRENT_REQUESTS
        done = 0
        start = perf_counter()
        stop_at = start + PHASE_LIMIT_S

        async def worker() -> None:
            nonlocal remaining, done
            while remaining > 0 and perf_counter() < stop_at:
                remaining -= 1
                _check(await client.get(case.path), case)
                done += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        result.concurrent_seconds = perf_counter() - start
        result.concurrent_done = done
        result.rps = done / result.concurrent_seconds


def run_server(server: Server, cookies: dict[str, str], cases: list[Case]) -> dict[str, Result]:
    results = {}
    for case in cases:
        result = Result()
        measure_sequential(server.base, cookies, case, result)
        asyncio.run(measure_concurrent(server.base, cookies, case, result))
        results[case.name] = result
        print(
            f"  {server.kind:8} {case.name:24} p50 {result.p(50):6.1f} ms  p95 {result.p(95):6.1f}"
            f" ms ({len(result.latencies)} sequential)  {result.rps:6.1f} req/s"
            f" ({result.concurrent_done} requests in {result.concurrent_seconds:.1f} s)",
            flush=True,
        )
    return results


# ---------------------------------------------------------------------------------------------
# Per-statement timings and plans
# ---------------------------------------------------------------------------------------------


def sql_breakdown(db: Path, cases: list[Case], captured: dict[str, Any], explain: bool) -> None:
    raw = RawPage(open_sqlite(db))
    runs = 15
    print(f"\nThe app's SQL for each page, replayed on raw sqlite3 (median of {runs} runs, ms):")
    kinds: list[str] = []
    table: dict[str, dict[str, float]] = {}
    for case in cases:
        statements = captured[case.key]
        raw.timings = None
        raw.run(statements)  # warm
        raw.timings = {}
        for _ in range(runs):
            raw.run(statements)
        table[case.name] = {k: statistics.median(v) * 1000 for k, v in raw.timings.items()}
        kinds += [k for k in raw.timings if k not in kinds]
        if explain:
            for sql, params in statements:
                if kind_of(sql) in ("count", "page of 50"):
                    plan = raw.con.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                    print(
                        f"  plan of {kind_of(sql)!r}, {case.name}: " + "; ".join(p[3] for p in plan)
                    )
    if explain:
        for case in cases:
            print(f"\n  SQL for {case.name}:")
            for sql, params in captured[case.key]:
                print("    " + " ".join(sql.split()) + f"  {params}")
        print()
    width = max(len(k) for k in kinds)
    print("  " + "statement".ljust(width) + "".join(f"{c.name[:22]:>24}" for c in cases))
    for k in kinds:
        cells = "".join(
            f"{table[c.name][k]:24.2f}" if k in table[c.name] else f"{'-':>24}" for c in cases
        )
        print("  " + k.ljust(width) + cells)
    print(
        "  " + "total".ljust(width) + "".join(f"{sum(table[c.name].values()):24.2f}" for c in cases)
    )


# ---------------------------------------------------------------------------------------------


def main() -> int:
    global SEQUENTIAL, CONCURRENT_REQUESTS, PHASE_LIMIT_S
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="rebuild the database")
    parser.add_argument("--all-cases", action="store_true", help="also medium+language and HTMX")
    parser.add_argument("--case", action="append", help="only cases whose name contains this")
    parser.add_argument("--explain", action="store_true", help="print the SQL and query plans")
    parser.add_argument(
        "--db", type=Path, help=f"database file (default {_show(db_path())}; made if missing)"
    )
    parser.add_argument("--sequential", type=int, default=SEQUENTIAL, help="requests per case")
    parser.add_argument("--requests", type=int, default=CONCURRENT_REQUESTS, help="concurrent")
    parser.add_argument("--phase-limit", type=float, default=PHASE_LIMIT_S, help="seconds")
    parser.add_argument("--serve", choices=("app", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sql", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db, args.port, args.sql)
        return 0

    SEQUENTIAL, CONCURRENT_REQUESTS = args.sequential, args.requests
    PHASE_LIMIT_S = args.phase_limit
    started = perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    db = ensure_db((args.db or db_path()).resolve(), args.regenerate)
    con = sqlite3.connect(db)
    beat_id = con.execute("SELECT id FROM beat WHERE slug = 'rule-of-law'").fetchone()[0]
    con.close()
    cases = [
        Case("filter: beat", f"/contacts?beat={beat_id}"),
        Case("search: q=krasniqi", "/contacts?q=krasniqi"),
    ]
    if args.all_cases:
        cases += [
            Case("filter: online + sq", "/contacts?medium=online&language=sq"),
            Case("search, HTMX block", "/contacts?q=krasniqi", htmx=True),
            Case("no filter", "/contacts"),
        ]
    if args.case:
        cases = [c for c in cases if any(part in c.name for part in args.case)] or cases
    print(
        f"\nMeasuring on {HOST} (uvicorn, 1 worker, one server at a time), per case: {WARMUP}"
        f" warm-up + {SEQUENTIAL} sequential requests, then {CONCURRENT_REQUESTS} requests"
        f" from {CONCURRENCY} concurrent clients (each phase capped at {PHASE_LIMIT_S:.0f} s)"
    )
    server = Server("app", db)
    try:
        cookies = login(server.base)
        app = run_server(server, cookies, cases)
    finally:
        server.stop()
    captured = capture_sql(db, cookies, cases)
    sql_file = OUT / "contacts_list-sql.json"
    sql_file.write_text(json.dumps(captured, indent=1, default=str))
    server = Server("baseline", db, sql_file)
    try:
        base = run_server(server, cookies, cases)
    finally:
        server.stop()

    print(
        f"\n{'case':24} {'':9} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8}   "
        f"{'ratio':>6}   goal: p95 <= {GOAL_P95_MS:.0f} ms, req/s >= {GOAL_RATIO} x baseline"
    )
    met_all = True
    for case in cases:
        a, b = app[case.name], base[case.name]
        ratio = a.rps / b.rps if b.rps else math.nan
        missed = [
            n
            for n, ok in (("p95", a.p(95) <= GOAL_P95_MS), ("ratio", ratio >= GOAL_RATIO))
            if not ok
        ]
        met_all &= not missed
        verdict = "GOAL MET" if not missed else f"GOAL MISSED ({', '.join(missed)})"
        same = "yes" if a.results_html and a.results_html == b.results_html else "NO"
        print(
            f"{case.name:24} {'app':9} {a.p(50):8.1f} {a.p(95):8.1f} {a.rps:8.1f}   "
            f"{ratio:6.2f}   {verdict}"
        )
        print(
            f"{'':24} {'baseline':9} {b.p(50):8.1f} {b.p(95):8.1f} {b.rps:8.1f}"
            f"            results HTML identical to the app's: {same}"
        )
    print(
        "\np50/p95: client-side latency of sequential requests on loopback (server time plus"
        f" ~0.5 ms of client). req/s: {CONCURRENCY} concurrent keep-alive httpx clients on the"
        " same machine."
    )
    sql_breakdown(db, cases, captured, args.explain)
    print(
        f"\n{'ALL GOALS MET' if met_all else 'GOAL MISSED'}; total {perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
