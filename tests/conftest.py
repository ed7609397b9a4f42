"""Fixtures: every database test runs on SQLite and on a throwaway PostgreSQL.

Personas: an owner, an editor and a viewer of one organisation, and an outsider who owns
another organisation and must see nothing of the first.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

import crm.models  # noqa: F401
from crm.accounts import Actor, create_user, get_or_create_org
from crm.beats import ensure_default_beats
from crm.database import make_engine, make_sessionmaker
from crm.settings import Settings
from tests.postgres import PostgresServer
from tests.smtp_server import SmtpServer
from web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a free loopback port, which keeps what it receives."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sending(settings: Settings, smtp: SmtpServer) -> Settings:
    """Settings that send campaign mail to the `smtp` server, quickly retried."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_tls": "none",
            "mail_from": "Qendra <press@qendra.org>",
            "reply_domain": "replies.qendra.org",
            "send_retry_seconds": 0.2,
            "send_concurrency": 2,
        }
    )


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database("beatbook_test")


_schema_ready: set[str] = set()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty schema (with the default beats) for each test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
    else:
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        if url not in _schema_ready:
            async with engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.create_all)
            _schema_ready.add(url)
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    async with make_sessionmaker(engine)() as session:
        await ensure_default_beats(session)
    await engine.dispose()
    yield url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        secret_key="test-secret-key-not-for-production",
        suppression_key="test-suppression-key-not-for-production",
        login_delay_step=0.0,
        run_jobs_in_process=False,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def session(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with maker() as session:
        yield session


@dataclass
class World:
    owner: Actor
    editor: Actor
    viewer: Actor
    outsider: Actor
    emails: dict[str, str]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    org = await get_or_create_org(session, "Qendra për Drejtësi")
    other = await get_or_create_org(session, "Other Org")
    people = {}
    for role, org_ in (("owner", org), ("editor", org), ("viewer", org), ("outsider", other)):
        email = f"{role}@example.org"
        user = await create_user(
            session,
            email=email,
            password=PASSWORD,
            org=org_,
            role="owner" if role == "outsider" else role,
        )
        people[role] = Actor(user.id, org_.id or 0, "owner" if role == "outsider" else role)
    await session.commit()
    return World(
        people["owner"],
        people["editor"],
        people["viewer"],
        people["outsider"],
        {k: f"{k}@example.org" for k in people},
    )


@pytest.fixture
async def app(settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(settings, run_jobs=False)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrftoken" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns a CSRF token for later posts."""
    page = await client.get("/login")
    response = await client.post(
        "/login", data={"email": email, "password": password, "csrftoken": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    return csrf_of((await client.get("/settings")).text)
