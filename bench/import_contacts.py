"""Benchmark: importing a 100,000-row CSV of contacts, next to a raw baseline.

Run from the repository root (``make bench`` does):

    .venv/bin/python bench/import_contacts.py [--rows N] [--regenerate]

1. Writes (or reuses) ``bench/out/import-<N>.csv``: UTF-8, comma-separated, the columns an
   officer's spreadsheet has (Name, Email, Phone, Outlet, Position, City, Tags), journalists
   from ``crm.demo_landscape.generate_journalists`` (Albanian and Serbian names, some in
   Cyrillic, a few with two addresses in one cell).
2. **App**: in a fresh subprocess, on a new SQLite database made by the migrations, with one
   organisation and its 44 outlets, runs what ``beatbook import FILE --org NAME`` runs:
   ``crm.imports.upload`` (read, detect, guess the mapping, count rows, store the file),
   ``save_settings`` and ``run_import`` (every row checked, duplicates looked up, contacts,
   emails, outlet roles, tags, timeline entries and the report written in chunks).
3. **Baseline**: in a fresh subprocess, on a database made the same way, ``csv.reader`` over
   the same file and raw ``sqlite3`` ``executemany`` of the same rows into the same tables and
   indexes (contact with its search text and sort key, contact_email, contact_outlet_role,
   contact_tag), in one transaction.
4. Prints wall time, rows/s and peak memory (the subprocess's maximum resident set size) of
   both, the ratio, and GOAL MET when the app takes at most 3x the baseline's time, at most
   10 s, and at most 300 MB.

It exits 0 once the figures are printed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OUT = REPO / "bench" / "out"
SEED = 20261126
ORG = "Qendra Bench Import"
GOAL_RATIO, GOAL_SECONDS, GOAL_MB = 3.0, 10.0, 300.0


def make_csv(path: Path, rows: int) -> None:
    from crm import demo_landscape as dl

    rng = random.Random(SEED)
    people = dl.generate_journalists(rng, rows, len(dl.OUTLETS))
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Name", "Email", "Phone", "Outlet", "Position", "City", "Tags"])
        for p in people:
            writer.writerow(
                [
                    f"{p['given_name']} {p['family_name']}".strip(),
                    "; ".join(p["emails"][:2]),
                    (p["phones"] or [""])[0],
                    dl.OUTLETS[p["outlet_index"]]["name"],
                    p["title"],
                    p["city"],
                    ", ".join(p["tags"]),
                ]
            )
    tmp.replace(path)


def fresh_db(path: Path) -> None:
    """A migrated database with the organisation, a user and the demo outlets (cached copy)."""
    from alembic.script import ScriptDirectory

    from crm.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    template = OUT / f"import-template-{head}.db"  # made again when the migrations move on
    if not template.exists():
        from crm import demo_landscape as dl
        from crm.migrate import upgrade
        from crm.search import fold, search_key

        tmp = template.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        upgrade(f"sqlite:///{tmp}")
        con = sqlite3.connect(tmp)
        now = "2026-11-26 00:00:00.000000"
        con.execute("INSERT INTO organisation (id, name, default_language, created_at)"
                    " VALUES (1, ?, 'en', ?)", (ORG, now))  # fmt: skip
        con.executemany(
            "INSERT INTO outlet (org_id, name, medium, languages, region, website, desk_email,"
            " reach, search_text, sort_key, created_at, updated_at)"
            " VALUES (1, ?, ?, '[]', '', '', '', NULL, ?, ?, ?, ?)",
            [(o["name"], o["medium"], search_key(o["name"]), fold(o["name"])[:200], now, now)
             for o in dl.OUTLETS],
        )  # fmt: skip
        con.commit()
        con.close()
        tmp.replace(template)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, path)


def run_app(csv_path: Path, db: Path) -> dict[str, float]:
    import asyncio

    from crm import imports
    from crm.accounts import Actor
    from crm.database import make_engine, make_sessionmaker
    from crm.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{db}",
        secret_key="bench",
        suppression_key="bench-suppression",
    )
    data = csv_path.read_bytes()

    async def go() -> dict[str, float]:
        engine = make_engine(settings.database_url)
        actor = Actor(None, 1, "editor")
        started = time.perf_counter()
        async with make_sessionmaker(engine)() as session:
            batch = await imports.upload(
                session, actor, settings, filename=csv_path.name, data=data
            )
            assert batch.id is not None
            await imports.save_settings(
                session, actor, settings, batch.id, mapping=imports.mapping_of(batch),
                on_duplicate="skip",
            )  # fmt: skip
            done = await imports.run_import(session, settings, batch.id)
        seconds = time.perf_counter() - started
        await engine.dispose()
        return {"seconds": seconds, "imported": done.counts.get("imported", 0)}

    return asyncio.run(go())


def run_baseline(csv_path: Path, db: Path) -> dict[str, float]:
    from crm.search import normalise_email, search_key

    started = time.perf_counter()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    outlets = {name: oid for oid, name in con.execute("SELECT id, name FROM outlet")}
    now = "2026-11-26 00:00:00.000000"
    con.execute("BEGIN")
    contacts, emails, roles, tags = [], [], [], []
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for cid, (name, email, phone, outlet, title, city, tag_cell) in enumerate(reader, 1):
            given, _, family = name.rpartition(" ")
            given, family = (given, family) if given else (family, "")
            addresses = [a.strip() for a in email.split(";") if a.strip()]
            contacts.append(
                (cid, given, family, json.dumps([phone] if phone else []), city,
                 search_key(given, family, *addresses, city, outlet)[:2000],
                 search_key(family or given, given).split(" | ")[0][:200], now, now)
            )  # fmt: skip
            for pos, a in enumerate(addresses):
                emails.append((cid, a, normalise_email(a), pos == 0, pos))
            if outlet:
                roles.append((cid, outlets[outlet], title))
            for t in dict.fromkeys(t.strip().lower() for t in tag_cell.split(",") if t.strip()):
                tags.append((cid, t))
    con.executemany(
        "INSERT INTO contact (id, org_id, given_name, family_name, salutation,"
        " preferred_language, languages, phones, social, city, region, notes, legal_basis,"
        " legal_source, do_not_contact, do_not_contact_reason, search_text, sort_key,"
        " created_at, updated_at) VALUES (?, 1, ?, ?, 'neutral', 'sq', '[]', ?, '{}', ?, '',"
        " '', 'legitimate_interest', '', 0, '', ?, ?, ?, ?)",
        contacts,
    )
    con.executemany(
        "INSERT INTO contact_email (org_id, contact_id, email, normalised, is_primary, position)"
        " VALUES (1, ?, ?, ?, ?, ?)",
        emails,
    )
    con.executemany(
        "INSERT INTO contact_outlet_role (contact_id, outlet_id, title) VALUES (?, ?, ?)", roles
    )
    con.executemany("INSERT INTO contact_tag (contact_id, tag, org_id) VALUES (?, ?, 1)", tags)
    con.execute("COMMIT")
    con.close()
    return {"seconds": time.perf_counter() - started, "imported": len(contacts)}


def measure(kind: str, csv_path: Path) -> dict[str, float]:
    """Run one side in a fresh subprocess; its figures plus its peak resident memory."""
    db = OUT / f"import-{kind}.db"
    fresh_db(db)
    proc = subprocess.run(
        [sys.executable, __file__, "--side", kind, "--csv", str(csv_path), "--db", str(db)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--side", choices=("app", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        result = (run_app if args.side == "app" else run_baseline)(args.csv, args.db)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    csv_path = OUT / f"import-{args.rows}.csv"
    if args.regenerate or not csv_path.exists():
        print(f"Writing {csv_path.relative_to(REPO)} ({args.rows:,} rows)…", flush=True)
        make_csv(csv_path, args.rows)
    size = csv_path.stat().st_size / 1e6
    print(f"File: {csv_path.relative_to(REPO)}, {args.rows:,} rows, {size:.1f} MB")
    results = {kind: measure(kind, csv_path) for kind in ("baseline", "app")}
    print(f"\n{'':10} {'seconds':>9} {'rows/s':>10} {'peak MB':>9} {'contacts':>9}")
    for kind, r in results.items():
        print(
            f"{kind:10} {r['seconds']:9.2f} {args.rows / r['seconds']:10,.0f}"
            f" {r['peak_mb']:9.0f} {int(r['imported']):9,}"
        )
    app, base = results["app"], results["baseline"]
    ratio = app["seconds"] / base["seconds"]
    missed = [
        name
        for name, ok in (
            (f"time {ratio:.1f}x baseline > {GOAL_RATIO}x", ratio <= GOAL_RATIO),
            (f"{app['seconds']:.1f} s > {GOAL_SECONDS} s", app["seconds"] <= GOAL_SECONDS),
            (f"{app['peak_mb']:.0f} MB > {GOAL_MB} MB", app["peak_mb"] <= GOAL_MB),
        )
        if not ok
    ]
    print(
        f"\nratio {ratio:.2f}x; "
        + ("GOAL MET" if not missed else "GOAL MISSED: " + "; ".join(missed))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
