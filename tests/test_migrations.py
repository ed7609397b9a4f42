"""Migrations build the schema on an empty database, and agree with the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from crm import migrate
from crm.database import make_engine
from tests.postgres import PostgresServer


async def _count_default_beats(url: str) -> int:
    from sqlalchemy import text

    engine = make_engine(url)
    async with engine.connect() as conn:
        count = (
            await conn.execute(text("SELECT count(*) FROM beat WHERE org_id IS NULL"))
        ).scalar()
    await engine.dispose()
    return int(count or 0)


def _upgrade_and_check(url: str) -> None:
    migrate.upgrade(url)
    migrate.check(url)  # raises when autogenerate would find a difference


def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _upgrade_and_check(url)
    assert asyncio.run(_count_default_beats(url)) > 10


def test_migrations_match_models_on_postgresql(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("migrations_check")
    _upgrade_and_check(url)
    assert asyncio.run(_count_default_beats(url)) > 10


def test_rebuilding_the_contact_table_keeps_what_refers_to_it(tmp_path: Path) -> None:
    """0004 rebuilds `contact` on SQLite; the emails pointing at it must survive, and the id of
    a deleted contact is not given to the next one."""
    import sqlite3

    db = tmp_path / "old.db"
    migrate.upgrade(f"sqlite:///{db}", "0003")
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute(
        "INSERT INTO organisation (id, name, default_language, created_at)"
        " VALUES (1, 'Qendra', 'en', '2026-01-01 00:00:00')"
    )
    con.execute(
        "INSERT INTO contact (id, org_id, given_name, family_name, salutation,"
        " preferred_language, languages, phones, social, city, region, notes, legal_basis,"
        " legal_source, do_not_contact, do_not_contact_reason, search_text, sort_key,"
        " created_at, updated_at) VALUES (5, 1, 'Arta', 'Hoxha', 'f', 'sq', '[]', '[]', '{}',"
        " '', '', '', 'legitimate_interest', '', 0, '', 'arta hoxha', 'hoxha arta',"
        " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
    con.execute(
        "INSERT INTO contact_email (org_id, contact_id, email, normalised, is_primary,"
        " position) VALUES (1, 5, 'arta@koha.example', 'arta@koha.example', 1, 0)"
    )
    con.commit()
    con.close()
    migrate.upgrade(f"sqlite:///{db}")
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM contact_email").fetchone() == (1,)
    con.execute("DELETE FROM contact WHERE id = 5")
    con.execute(
        "INSERT INTO contact (org_id, given_name, family_name, salutation, preferred_language,"
        " languages, phones, social, city, region, notes, legal_basis, legal_source,"
        " do_not_contact, do_not_contact_reason, search_text, sort_key, created_at,"
        " updated_at) SELECT 1, 'New', 'One', 'f', 'sq', '[]', '[]', '{}', '', '', '',"
        " 'consent', '', 0, '', 'new one', 'one new', '2026-01-02 00:00:00',"
        " '2026-01-02 00:00:00'"
    )
    assert con.execute("SELECT id FROM contact").fetchone() == (6,)
    con.close()
