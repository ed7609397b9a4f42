"""Apply and check Alembic migrations; they ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
    analyze(database_url)


def analyze(database_url: str) -> None:
    """Fresh planner statistics, after migrations and bulk loads."""
    import asyncio

    from crm.database import make_engine, refresh_statistics

    async def go() -> None:
        engine = make_engine(database_url)
        try:
            await refresh_statistics(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())


def check(database_url: str) -> None:
    """Raise when the models and the migrations disagree (run on an upgraded database)."""
    command.check(alembic_config(database_url))


def revision(database_url: str, message: str) -> None:
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
