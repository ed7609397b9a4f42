"""Writing many plain rows at once (imports).

On PostgreSQL these are SQLAlchemy Core inserts, batched by its "insertmanyvalues". On SQLite
they go straight to the driver's `executemany`, with the values converted here exactly as
SQLAlchemy's column types would convert them (JSON text, naive-UTC timestamps, 0/1): for
100,000 contacts SQLAlchemy's per-value processing costs several times what SQLite's inserts
cost. New contact ids on SQLite are numbered by us, one above the largest, inside the write
transaction, which is what SQLite itself would do.
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
    """Insert `rows` (dicts with the same keys) into the model's table."""
    if not rows:
        return
    table = _table(model)
    if session.bind.dialect.name != "sqlite":
        await session.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    convert = [(i, c) for i, n in enumerate(names) if (c := _converter(table.c[n]))]
    values = []
    for row in rows:
        value = list(row.values())  # every row is built with the same keys, in one order
        for i, conv in convert:
            value[i] = conv(value[i])
        values.append(tuple(value))
    columns = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'  # noqa: S608 (names from the models)
    connection = await session.connection()
    await connection.exec_driver_sql(sql, values)  # type: ignore[arg-type]


async def insert_returning_ids(
    session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `rows` and answer their new ids, in the order of `rows`."""
    if not rows:
        return []
    table = _table(model)
    if session.bind.dialect.name != "sqlite":
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list((await session.execute(stmt, list(rows))).scalars())
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
    await insert_rows(session, model, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids
