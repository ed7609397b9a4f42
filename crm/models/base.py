"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel as PydModel
from pydantic import ConfigDict, model_validator
from pydantic import Field as PydField
from sqlalchemy import JSON, Column, DateTime
from sqlalchemy.types import TypeDecorator

from crm.i18n import N_


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite (which stores them naive) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ts_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def json_column() -> Any:
    return Column(JSON, nullable=False)


# An id as it can exist in the database (PostgreSQL integer); anything else is bad input.
DbId = Annotated[int, PydField(ge=1, le=2_147_483_647)]


class Input(PydModel):
    """Base of what users send: unknown fields are errors, and so is a NUL in any text."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        def check(value: Any) -> None:
            if isinstance(value, str) and "\x00" in value:
                raise ValueError(N_("Text may not contain NUL characters."))
            if isinstance(value, dict):
                for k, v in value.items():
                    check(k)
                    check(v)
            elif isinstance(value, list | tuple):
                for v in value:
                    check(v)

        check(data)
        return data


def sensible_year(value: Any) -> Any:
    """Dates a person could mean: years 1900 to 2100 (others break time-zone arithmetic)."""
    if value is not None and not 1900 <= value.year <= 2100:
        raise ValueError(N_("Enter a date between the years 1900 and 2100."))
    return value
