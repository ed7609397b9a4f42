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
