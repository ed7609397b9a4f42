"""Writing many plain rows at once (imports).

On PostgreSQL these are SQLAlchemy Core inserts, batched by its "insertmanyvalues". On SQLite
they go straight to the driver's `executemany`, with the values converted here exactly as
SQLAlchemy's column types would convert them (JSON text, naive-UTC timestamps, 0/1): for
100,000 contacts SQLAlchemy's per-value processing costs several times what SQLite's inserts
cost. The biggest writes pass tuples rather than dicts (`insert_tuples`): at that scale even
making a dict per row shows. New contact ids on SQLite are numbered by us, one above the
largest, inside the write transaction, which is what SQLite itself would do.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models.base import UTCDateTime


@functools.lru_cache(maxsize=256)  # an import stamps thousands of rows with one time
def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _sqlite_json(value: Any) -> str:
    if not value:  # most lists and dicts of an import are empty
        return (
            "[]"
            if isinstance(value, list)
            else "{}"
            if isinstance(value, dict)
            else json.dumps(value)
        )
    return json.dumps(value)


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _converter(column: Any) -> Callable[[Any], Any] | None:
    if isinstance(column.type, UTCDateTime):
        return _sqlite_time
    if isinstance(column.type, JSON):
        return _sqlite_json
    if isinstance(column.type, Boolean):
        return _sqlite_bool
    return None


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


async def insert_rows(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, in one order) into the model's table."""
    if not rows:
        return
    table = _table(model)
    if session.bind.dialect.name != "sqlite":
        await session.execute(insert(table), list(rows))
        return
    await _sqlite_insert(session, table, list(rows[0]), [tuple(row.values()) for row in rows])


async def insert_tuples(
    session: AsyncSession, model: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert `rows`, each a tuple of the values of `columns` in that order: for the biggest
    writes, where making a dict per row costs more than the insert."""
    if not rows:
        return
    table = _table(model)
    if session.bind.dialect.name != "sqlite":
        await session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    await _sqlite_insert(session, table, columns, rows)


async def insert_tuples_returning_ids(
    session: AsyncSession, model: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> list[int]:
    """Insert `rows` (as `insert_tuples`) and answer their new ids, in the order of `rows`."""
    if not rows:
        return []
    table = _table(model)
    if session.bind.dialect.name != "sqlite":
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        params = [dict(zip(columns, row, strict=True)) for row in rows]
        return list((await session.execute(stmt, params)).scalars())
    # Take the write lock first (the no-op update), so no other writer can add rows between
    # reading the largest id and inserting after it.
    connection = await session.connection()
    await connection.exec_driver_sql(f'UPDATE "{table.name}" SET id = id WHERE 0')  # noqa: S608
    last = (await session.execute(select(func.max(table.c.id)))).scalar_one_or_none() or 0
    if table.kwargs.get("sqlite_autoincrement"):  # ids of deleted rows are not used again
        exists = await connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
        )
        if exists.first() is not None:  # made with the first AUTOINCREMENT table
            used = await connection.exec_driver_sql(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)
            )
            last = max(last, used.scalar() or 0)
    ids = list(range(last + 1, last + 1 + len(rows)))
    await _sqlite_insert(session, table, columns, rows, ids=ids)
    return ids


async def insert_returning_ids(
    session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `rows` (dicts with the same keys, in one order) and answer their new ids."""
    if not rows:
        return []
    columns = list(rows[0])
    return await insert_tuples_returning_ids(
        session, model, columns, [tuple(row.values()) for row in rows]
    )


async def _sqlite_insert(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    ids: list[int] | None = None,
) -> None:
    converters = [(i, c) for i, name in enumerate(columns) if (c := _converter(table.c[name]))]
    params: Sequence[tuple[Any, ...]] = rows
    if converters or ids is not None:
        # Converted column by column: one map() per column, no Python loop per value.
        values: list[Any] = list(zip(*rows, strict=True))
        for i, convert in converters:
            values[i] = map(convert, values[i])
        if ids is not None:
            columns, values = ["id", *columns], [ids, *values]
        params = list(zip(*values, strict=True))
    names = ", ".join(f'"{n}"' for n in columns)
    marks = ", ".join("?" for _ in columns)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608 (names from the models)
    connection = await session.connection()
    await connection.exec_driver_sql(sql, params)  # type: ignore[arg-type]
