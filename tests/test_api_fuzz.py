"""Schemathesis fuzzes every /api/v1 operation: no input may make the API answer 5xx.

Runs once, on SQLite, against a database built by the real migrations and seeded with a few
rows of everything in two organisations; a hook mixes small ids into the generated paths so
they hit real rows (the caller's and the other organisation's) as well as missing ones.
Generation is derandomised with a fixed seed and bounded per operation (explicit examples and
the coverage phase's boundary values come on top), so CI sees the same cases on every run.
A failure shows the exception or status and a `curl` line that reproduces it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi

from crm import interactions, lists, migrate
from crm.accounts import Actor, create_api_token, create_user, get_or_create_org
from crm.beats import BeatIn, create_beat, ensure_default_beats
from crm.contacts import ContactIn, create_contact
from crm.database import make_engine, make_sessionmaker
from crm.interactions import InteractionIn
from crm.lists import ListIn
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from web.app import create_app

MAX_EXAMPLES = 25
SEED = 20240601


async def _seed(url: str) -> str:
    """Two organisations with a few rows of everything; returns the editor's API token."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await ensure_default_beats(session)
            token = ""
            for org_name, email in (
                ("Qendra për Drejtësi", "editor@example.org"),
                ("Other Org", "outsider@example.org"),
            ):
                org = await get_or_create_org(session, org_name)
                user = await create_user(
                    session, email=email, password="correct horse battery", org=org, role="editor"
                )
                await session.commit()
                actor = Actor(user.id, org.id or 0, "editor")
                beat = await create_beat(session, actor, BeatIn(name=f"Water rights {org.id}"))
                for i in range(3):
                    outlet = await create_outlet(
                        session,
                        actor,
                        OutletIn(
                            name=f"Radio Drita {org.id}-{i}", medium="radio", languages=["sq"]
                        ),
                    )
                    contact = await create_contact(
                        session,
                        actor,
                        ContactIn(
                            given_name=["Dragan", "Arta", "Јован"][i],
                            family_name=["Ćosić", "Këlmendi", "Јовановић"][i],
                            emails=[f"person{i}@org{org.id}.example"],
                            roles=[{"outlet_id": outlet.id, "title": "Reporter"}],  # type: ignore[list-item]
                            beat_ids=[beat.id or 0],
                            tags=["key-contact"],
                        ),
                    )
                    await interactions.log_interaction(
                        session,
                        actor,
                        contact.id or 0,
                        InteractionIn(kind="call", summary="Pitched"),
                    )
                    static = await lists.create_list(
                        session, actor, ListIn(name=f"Radio people {i}")
                    )
                    await lists.add_members(session, actor, static.id or 0, [contact.id or 0])
                    await lists.create_list(
                        session,
                        actor,
                        ListIn(name=f"Smart {i}", kind="smart", filter={"q": "radio"}),
                    )
                if email.startswith("editor"):
                    token = await create_api_token(session, actor=actor, name="fuzz")
            return token
    finally:
        await engine.dispose()


def _prepare_database(url: str) -> str:
    """Migrate and seed off the test's event loop (Alembic's env runs its own asyncio.run)."""

    def work() -> str:
        migrate.upgrade(url)
        return asyncio.run(_seed(url))

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def _schema() -> schemathesis.BaseSchema:
    """The OpenAPI document of the real app, loaded at import.

    Building the app and its document touches no database; the requests go to the app of the
    `fuzz_api` fixture, passed to each call. (`schemathesis.pytest.from_fixture`, which would
    load it from a fixture instead, fails under pytest 9 in schemathesis 4.32: its LazySchema
    sets `request.node._nodeid`, which pytest 9 no longer has.)
    """
    spec = create_app(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url="sqlite://",
            secret_key="openapi-only",
            suppression_key="openapi-only",
            run_jobs_in_process=False,
        ),
        run_jobs=False,
    ).openapi()
    config = schemathesis.Config(seed=SEED)
    config.projects.default.generation.update(
        max_examples=MAX_EXAMPLES, deterministic=True, database="none"
    )
    return schemathesis.openapi.from_dict(spec, config=config).include(path_regex=r"^/api/v1/")


schema = _schema()
# The seed data has rows of every kind, in both organisations, among the smallest ids (and the
# tests' own POSTs add more); unbounded generated ids would almost never land on them.
SEEDED_IDS = st.integers(min_value=1, max_value=15)


@schema.hook
def before_generate_path_parameters(
    context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Also send ids of real rows, of both organisations, so paths reach the database code."""

    def real_ids(params: Any) -> st.SearchStrategy[Any]:
        if not isinstance(params, dict):
            return st.just(params)
        return st.fixed_dictionaries(
            {k: SEEDED_IDS if k.endswith("_id") else st.just(v) for k, v in params.items()}
        )

    return st.one_of(strategy, strategy.flatmap(real_ids))


@dataclass
class FuzzApi:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApi]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = f"sqlite:///{path}"
    token = _prepare_database(url)
    app = create_app(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            secret_key="fuzz-secret-key-not-for-production",
            suppression_key="fuzz-suppression-key",
            login_delay_step=0.0,
            run_jobs_in_process=False,
        ),
        run_jobs=False,
    )
    yield FuzzApi(app, {"Authorization": f"Bearer {token}"})
    # Schemathesis starts the app's lifespan on the first call and keeps it running for the
    # whole process; end it here so the engine and its aiosqlite threads are closed.
    schemathesis_asgi.shutdown_lifespans()


@schema.parametrize()
def test_api_never_answers_5xx(case: schemathesis.Case, fuzz_api: FuzzApi) -> None:
    case.call_and_validate(app=fuzz_api.app, headers=fuzz_api.headers, checks=[not_a_server_error])
