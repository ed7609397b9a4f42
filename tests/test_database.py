"""The SQLite driver (crm.sqlite_async): what SQLAlchemy relies on from a DBAPI cursor still
holds when a statement runs in one trip to the connection's thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from crm.database import make_engine


@pytest.fixture
async def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        )
    yield engine
    await engine.dispose()


async def test_rows_rowcount_and_lastrowid(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO item (name) VALUES ('Koha')"))
        assert inserted.lastrowid == 1
        many = await conn.execute(
            text("INSERT INTO item (name) VALUES (:name)"), [{"name": "KTV"}, {"name": "RTK"}]
        )
        assert many.rowcount == 2
        updated = await conn.execute(text("UPDATE item SET name = upper(name) WHERE id > 1"))
        assert updated.rowcount == 2
        result = await conn.execute(text("SELECT id, name FROM item ORDER BY id"))
        assert list(result.keys()) == ["id", "name"]
        assert result.all() == [(1, "Koha"), (2, "KTV"), (3, "RTK")]


async def test_errors_are_sqlalchemy_errors_and_the_connection_survives(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO item (name) VALUES ('Koha')"))
        with pytest.raises(exc.IntegrityError):
            await conn.execute(text("INSERT INTO item (name) VALUES ('Koha')"))
        await conn.rollback()
        with pytest.raises(exc.OperationalError):
            await conn.execute(text("SELECT nope FROM item"))
        assert (await conn.execute(text("SELECT count(*) FROM item"))).scalar_one() == 0


async def test_uncommitted_writes_are_rolled_back_when_the_connection_goes_back(engine) -> None:  # type: ignore[no-untyped-def]
    # The pool's rollback is skipped only when no transaction is open.
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO item (name) VALUES ('never committed')"))
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # a read leaves no transaction behind
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM item"))).scalar_one() == 0


async def test_concurrent_statements_on_one_connection_wait_their_turn(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO item (name) VALUES (:name)"),
            [{"name": f"outlet {i}"} for i in range(200)],
        )
    async with engine.connect() as conn:
        counts = await asyncio.gather(
            *(
                conn.execute(text("SELECT count(*) FROM item WHERE id > :i"), {"i": i})
                for i in range(20)
            )
        )
        assert [c.scalar_one() for c in counts] == [200 - i for i in range(20)]
