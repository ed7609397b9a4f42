"""Building messages in other processes, so that the sender's own process does the sending.

Rendering and encoding a message (and signing it, with DKIM) is Python work that holds the
interpreter's lock; in the sender's process it stalls every connection while it runs, and
the web pages too when `beatbook serve` sends. A pool of build processes (spawned, so they
share nothing by accident) builds big batches ahead of the connections.

Each build process loads a campaign's composer from the database itself, and uses it only
when its fingerprint (everything the messages are made of) is the sender's. Whatever goes
wrong in the pool (a process that dies or hangs, a campaign that changed) makes the sender
build those messages itself: the pool only ever makes sending faster.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from crm.i18n import N_
from crm.settings import Settings
from outreach.compose import Composer, Outgoing

log = logging.getLogger("beatbook.buildpool")

# Rows handed to a build process at a time: enough to make its round trip cheap, few enough
# that the first connections do not wait long for their first messages.
CHUNK = 50
# Smaller batches are built by the sender itself: the round trip would cost more.
MIN_ROWS = 2 * CHUNK
# A chunk takes well under a second (with DKIM, a few). Longer: the process is stuck.
WAIT_SECONDS = 30.0
START_SECONDS = 60.0
# After a failure the sender builds everything itself for this long.
REST_SECONDS = 60.0
# Composers a build process keeps (a campaign's attachments are in its composer).
KEEP = 4

Built = bytes | str  # a message, or why it cannot be made


def default_processes() -> int:
    """One build process per core but one (the sender's), at most two."""
    return max(0, min(2, len(os.sched_getaffinity(0)) - 1))


def _in_memory(url: str) -> bool:
    bare = url.rstrip("/") in ("sqlite:", "sqlite+aiosqlite:")
    return url.startswith("sqlite") and (bare or ":memory:" in url)


class BuildPool:
    """The build processes of one sender worker."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings = settings
        # Another process cannot see an in-memory database.
        self.processes = 0 if _in_memory(settings.database_url) else processes
        self._executor: ProcessPoolExecutor | None = None
        self._warm: list[Future[bool]] = []
        self._rest_until = 0.0
        self._closed = False

    async def start(self) -> None:
        """Start the processes and wait until they can build (as a worker does at boot)."""
        self._start()
        if not self._warm:
            return
        try:
            await asyncio.wait_for(
                asyncio.gather(*map(asyncio.wrap_future, self._warm)), START_SECONDS
            )
        except Exception:  # they could not start: the sender builds for a while
            log.exception("starting the build processes")
            self.broken()

    def _start(self) -> None:
        if self._executor is not None or self._closed or self.processes < 1:
            return
        if time.monotonic() < self._rest_until:
            return
        try:
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_initialise,
                initargs=(self.settings, os.getpid()),
            )
            # One warm-up per process (each starts while the others are busy), so that all
            # have done their imports before the first batch.
            self._warm = [self._executor.submit(_warm_up) for _ in range(self.processes)]
        except Exception:  # the machine may refuse processes: the sender builds
            log.exception("starting the build processes")
            self.broken()

    @property
    def ready(self) -> bool:
        """Started and warmed up; until then (and for a while after a failure) the sender
        builds."""
        if self._executor is None:
            return False
        return all(w.done() and w.exception() is None for w in self._warm)

    def build(self, composer: Composer, rows: Sequence[Outgoing], allow_8bit: bool) -> Ahead | None:
        """Start building the rows' messages (None: build them yourself)."""
        if len(rows) < MIN_ROWS:
            return None
        self._start()  # a worker that was not started at boot starts them on first need
        if not self.ready:
            return None
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        campaign_id, fingerprint = composer.campaign.id or 0, composer.fingerprint
        chunks: list[asyncio.Future[list[Built] | None]] = []
        try:
            for start in range(0, len(rows), CHUNK):
                chunk = list(rows[start : start + CHUNK])
                job = self._executor.submit(_build, campaign_id, fingerprint, chunk, allow_8bit)
                chunks.append(asyncio.wrap_future(job, loop=loop))
        except Exception:  # a process died since the last batch: the sender builds
            log.exception("handing a batch to the build processes")
            self.broken()
            for started in chunks:
                started.cancel()
            return None
        return Ahead(self, chunks, allow_8bit)

    def broken(self) -> None:
        """A build process failed or hangs: end them all; new ones start a while later."""
        self._stop(kill=True)
        self._rest_until = time.monotonic() + REST_SECONDS

    def close(self) -> None:
        self._closed = True
        self._stop(kill=False)

    def _stop(self, *, kill: bool) -> None:
        executor, self._executor, self._warm = self._executor, None, []
        if executor is None:
            return
        if kill:  # shutdown() waits for nothing, but a stuck process would live on
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)


class Ahead:
    """The messages of one batch, being built in the build processes."""

    def __init__(
        self,
        pool: BuildPool,
        chunks: list[asyncio.Future[list[Built] | None]],
        allow_8bit: bool,
    ) -> None:
        self.pool = pool
        self.chunks = chunks
        self.allow_8bit = allow_8bit  # how they are built

    async def message(self, i: int) -> Built | None:
        """The i-th row's message, or why it cannot be made; None: build it yourself."""
        chunk = self.chunks[i // CHUNK]
        if not chunk.done():
            await asyncio.wait([chunk], timeout=WAIT_SECONDS)
        if not chunk.done():  # stuck: end the processes (this cancels every chunk)
            if self.pool._executor is not None:  # the first row to see it says so
                log.error("a build process is stuck; the sender builds for a while")
                self.pool.broken()
            return None
        if chunk.cancelled():
            return None
        if (exc := chunk.exception()) is not None:
            if self.pool._executor is not None:  # the first row to see it says so
                log.error("a build process failed: %r", exc)
                self.pool.broken()
            return None
        built = chunk.result()
        return None if built is None else built[i % CHUNK]

    def cancel(self) -> None:
        """Nothing more is needed (the batch stopped early): drop what is not built yet."""
        for chunk in self.chunks:
            if chunk.cancel():
                continue
            if chunk.done() and not chunk.cancelled():
                chunk.exception()  # looked at: no "never retrieved" warning


# --- in the build processes ---------------------------------------------------------------

_settings: Settings | None = None
_composers: dict[int, Composer] = {}
_missing: set[tuple[int, str]] = set()  # asked for, and not what the database holds


def _initialise(settings: Settings, sender: int) -> None:
    global _settings
    _settings = settings
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the sender, which ends us
    threading.Thread(target=_outlive_not, args=(sender,), daemon=True).start()


def _outlive_not(sender: int) -> None:
    """A sender killed outright leaves its build processes waiting for work forever: they
    notice, and end."""
    while os.getppid() == sender:
        time.sleep(1)
    os._exit(0)


def _warm_up() -> bool:
    import outreach.compose  # noqa: F401 (the imports are most of a process's start)

    return True


def _build(
    campaign_id: int, fingerprint: str, rows: list[Outgoing], allow_8bit: bool
) -> list[Built] | None:
    composer = _composer(campaign_id, fingerprint)
    if composer is None:
        return None
    built: list[Built] = []
    for row in rows:
        try:
            built.append(composer.build(row, allow_8bit=allow_8bit))
        except Exception as exc:  # noqa: BLE001 (this row cannot be made; others can)
            built.append(N_("The message cannot be made: %(error)s", error=str(exc)))
    return built


def _composer(campaign_id: int, fingerprint: str) -> Composer | None:
    """The campaign's composer exactly as the sender has it, or None."""
    composer = _composers.get(campaign_id)
    if composer is not None and composer.fingerprint == fingerprint:
        return composer
    if (campaign_id, fingerprint) in _missing:  # loaded once already: not in the database
        return None
    assert _settings is not None
    composer = asyncio.run(_load(_settings, campaign_id))
    if composer is None or composer.fingerprint != fingerprint:
        if len(_missing) > 1000:
            _missing.clear()
        _missing.add((campaign_id, fingerprint))
        return None
    _composers.pop(campaign_id, None)
    _composers[campaign_id] = composer
    while len(_composers) > KEEP:  # the oldest goes
        del _composers[next(iter(_composers))]
    return composer


async def _load(settings: Settings, campaign_id: int) -> Composer | None:
    from crm.database import make_engine, make_sessionmaker
    from crm.models import Campaign
    from outreach.compose import load_composer

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            campaign = await session.get(Campaign, campaign_id)
            return await load_composer(session, settings, campaign) if campaign else None
    finally:
        await engine.dispose()
