"""A real server and a real browser: uvicorn in a thread on a free port, Chromium via Playwright.

These tests run once, on SQLite, against a database built by the real migrations; they do not
use the parametrised `db_url` fixture of `tests/conftest.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import ConsoleMessage, Error, Page, async_playwright

from crm import migrate
from crm.accounts import Actor, create_user, get_or_create_org
from crm.beats import ensure_default_beats
from crm.contacts import ContactIn, create_contact
from crm.database import make_engine, make_sessionmaker
from crm.lists import ListIn, add_members, create_list
from crm.settings import Settings
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EDITOR_EMAIL = "editor@e2e.example"
INVITEES = "Gazetarët e konferencës"
# The Albanian-speaking officer of a second organisation holding the same journalists.
ALBANIAN_EDITOR_EMAIL = "redaktore@e2e.example"
EDITOR_PASSWORD = "correct horse battery"
CONTACTS = [
    ("Dragan", "Ćosić", "dragan@koha.example"),
    ("Arta", "Këlmendi", "arta@radiodrita.example"),
    ("Јован", "Јовановић", "jovan@rts.example"),
    ("Blerta", "Hoxha", "blerta@kallxo.example"),
    ("Marko", "Petrović", "marko@kossev.example"),
]


async def _seed(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await ensure_default_beats(session)
            for org_name, login in (
                ("Qendra për Drejtësi", EDITOR_EMAIL),
                ("Lëvizja për Media të Lira", ALBANIAN_EDITOR_EMAIL),
            ):
                org = await get_or_create_org(session, org_name)
                user = await create_user(
                    session, email=login, password=EDITOR_PASSWORD, org=org, role="editor"
                )
                await session.commit()
                editor = Actor(user.id, org.id or 0, "editor")
                ids = {}
                for given, family, email in CONTACTS:
                    contact = await create_contact(
                        session,
                        editor,
                        ContactIn(given_name=given, family_name=family, emails=[email]),  # type: ignore[list-item]
                    )
                    ids[email] = contact.id or 0
                # The press-conference list of the events flow.
                invitees = await create_list(session, editor, ListIn(name=INVITEES))
                await add_members(
                    session, editor, invitees.id or 0,
                    [ids["blerta@kallxo.example"], ids["marko@kossev.example"]],
                )  # fmt: skip
    finally:
        await engine.dispose()


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveServer:
    base_url: str
    email: str = EDITOR_EMAIL
    password: str = EDITOR_PASSWORD
    # Who logs in for a flow in each interface language.
    users: dict[str, str] = field(
        default_factory=lambda: {"en": EDITOR_EMAIL, "sq": ALBANIAN_EDITOR_EMAIL}
    )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Beatbook served by uvicorn on 127.0.0.1, in a thread with its own event loop."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.db'}"
    sock = _free_socket()
    port = sock.getsockname()[1]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        secret_key="e2e-secret-key-not-for-production",
        suppression_key="e2e-suppression-key",
        base_url=f"http://127.0.0.1:{port}",
        run_jobs_in_process=True,  # imports run as jobs, as with `beatbook serve`
        catcher_port=0,  # mail goes to the built-in catcher, on any free port
        inbound_smtp_port=0,  # and answers come back to the inbound receiver, on another
        send_lease_seconds=30,
        login_delay_step=0,
        coverage_fetch_private=True,  # article pages are served on loopback by the tests
    )
    servers: list[uvicorn.Server] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            # Alembic's env runs its own asyncio.run, so migrate before this thread's loop starts.
            migrate.upgrade(url)
            asyncio.run(_seed(url))
            config = uvicorn.Config(
                create_app(settings), log_level="warning", access_log=False, ws="none"
            )
            server = uvicorn.Server(config)
            servers.append(server)
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by the fixture, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (servers and servers[0].started):
        if failures:
            raise failures[0]
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the e2e server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}")
    servers[0].should_exit = True
    thread.join(timeout=30)
    sock.close()
    if failures:
        raise failures[0]


async def log_in(page: Page, server: LiveServer) -> None:
    """Through the login form, as the seeded editor."""
    await page.goto("/login")
    await page.get_by_label("Email").fill(server.email)
    await page.get_by_label("Password").fill(server.password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Log in").click()


async def draft_campaign(
    page: Page, name: str, subject: str, body: str, *, recipients: str = ""
) -> None:
    """Through Campaigns → New campaign: an Albanian press release, saved as a draft."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    await page.get_by_role("link", name="New campaign").click()
    await page.get_by_label("Name (for you").fill(name)
    await page.get_by_label("Default language").select_option("sq")
    albanian = page.locator("details.variant", has_text="Albanian")
    if await albanian.get_attribute("open") is None:
        await albanian.locator("summary").click()
    await albanian.get_by_label("Subject").fill(subject)
    await albanian.get_by_label("Body").fill(body)
    if recipients:
        await page.get_by_label("Single contacts").fill(recipients)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()


@dataclass
class BrowserPage:
    page: Page
    console_errors: list[str] = field(default_factory=list)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Remember each phase's report on the item, so fixtures can tell that a test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is missing at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser_page(
    live_server: LiveServer, chromium: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BrowserPage]:
    """A fresh Chromium page that records console errors and uncaught page errors.

    A Content-Security-Policy violation is reported on the console, so an empty
    `console_errors` also means the pages kept to the policy.
    """
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(base_url=live_server.base_url, locale="en-GB")
            page = await context.new_page()
            page.set_default_timeout(10_000)
            result = BrowserPage(page)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    result.console_errors.append(f"{message.text} ({message.location})")

            def on_page_error(error: Error) -> None:
                result.console_errors.append(f"uncaught: {error}")

            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            yield result
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                shot = tmp_path / "failure.png"
                with contextlib.suppress(Error):
                    await page.screenshot(path=str(shot), full_page=True)
                    print(f"e2e failure screenshot: {shot} (page {page.url})")
            await context.close()
        finally:
            await browser.close()
