"""Building messages in other processes, so that the sender's own process does the sending.

Rendering and encoding a message (and signing it, with DKIM) is Python work that holds the
interpreter's lock; in the sender's process it stalls every connection while it runs, and
the web pages too when `beatbook serve` sends. A pool of build processes (spawned, so they
share nothing by accident) renders big batches ahead of the connections.

Each build process loads a campaign's composer from the database itself, once, and uses it
only while the campaign is unchanged (the same `updated_at` as the sender's). Whatever goes
wrong in the pool (a process that dies, a campaign changed meanwhile) makes the sender build
those messages itself: the pool only ever makes sending faster.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime

from crm.settings import Settings
from outreach.compose import Composer, Outgoing

log = logging.getLogger("beatbook.buildpool")

# Rows handed to a build process at a time: enough to make its round trip cheap, few enough
# that the first connections do not wait long for their first messages.
CHUNK = 50
# Smaller batches are built by the sender itself: the round trip would cost more.
MIN_ROWS = 2 * CHUNK

Built = bytes | str  # a message, or why it cannot be made


def default_processes() -> int:
    """One build process per core but one (the sender's), at most two."""
    return max(0, min(2, (os.cpu_count() or 1) - 1))


class BuildPool:
    """The build processes of one sender worker."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings = settings
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._warm: list[Future[bool]] = []
        self._rest_until = 0.0  # after a failure, the sender builds for a while

    @property
    def ready(self) -> bool:
        """Started and warmed up. Until then (and after a failure) the sender builds."""
        if self._executor is None:
            if time.monotonic() >= self._rest_until:
                self._start()
            return False
        return all(w.done() and not w.exception() for w in self._warm)

    async def start(self) -> None:
        """Start the processes and wait until they can build (as a worker does at boot)."""
        if self._executor is None:
            self._start()
        if self._warm:
            try:
                await asyncio.gather(*map(asyncio.wrap_future, self._warm))
            except Exception:  # the sender builds
                log.exception("starting the build processes")
                self.close()
                self.processes = 0

    def _start(self) -> None:
        if self.processes < 1:
            return
        try:
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_initialise,
                initargs=(self.settings, os.getpid()),
            )
            # One warm-up per process (each starts when the others are busy), so that all
            # have done their imports.
            self._warm = [self._executor.submit(_warm_up) for _ in range(self.processes)]
        except Exception:  # the machine may refuse processes: the sender builds
            log.exception("starting the build processes")
            self.close()
            self.processes = 0

    def build(
        self, campaign_id: int, updated_at: datetime, rows: Sequence[Outgoing], allow_8bit: bool
    ) -> Ahead | None:
        """Start building the rows' messages (None: build them yourself)."""
        if len(rows) < MIN_ROWS or not self.ready:
            return None
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        chunks: list[asyncio.Future[list[Built] | None]] = []
        try:
            for start in range(0, len(rows), CHUNK):
                chunk = list(rows[start : start + CHUNK])
                job = self._executor.submit(_build, campaign_id, updated_at, chunk, allow_8bit)
                chunks.append(asyncio.wrap_future(job, loop=loop))
        except Exception:  # a process died since the last batch: the sender builds
            log.exception("handing a batch to the build processes")
            self.broken()
            for started in chunks:
                started.cancel()
            return None
        return Ahead(self, chunks, allow_8bit)

    def broken(self) -> None:
        """A build process failed: stop using the pool; a new one starts a minute later."""
        self.close()
        self._rest_until = time.monotonic() + 60

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor, self._warm = None, []


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
            await asyncio.wait([chunk])
        if chunk.cancelled():
            return None
        if (exc := chunk.exception()) is not None:
            if self.pool._executor is not None:  # the first row to see it says so
                log.error("a build process failed: %r", exc)
                self.pool.broken()
            return None
        built = chunk.result()
        return None if built is None else built[i % CHUNK]


# --- in the build processes ---------------------------------------------------------------

_settings: Settings | None = None
_composers: dict[int, Composer] = {}


def _initialise(settings: Settings, sender: int) -> None:
    global _settings
    _settings = settings
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
    campaign_id: int, updated_at: datetime, rows: list[Outgoing], allow_8bit: bool
) -> list[Built] | None:
    composer = _composer(campaign_id, updated_at)
    if composer is None:
        return None
    built: list[Built] = []
    for row in rows:
        try:
            built.append(composer.build(row, allow_8bit=allow_8bit))
        except Exception as exc:  # noqa: BLE001 (this row cannot be made; others can)
            built.append(f"The message cannot be made: {exc}")
    return built


def _composer(campaign_id: int, updated_at: datetime) -> Composer | None:
    """The campaign's composer as the sender has it, or None if the campaign changed."""
    composer = _composers.get(campaign_id)
    if composer is None or composer.campaign.updated_at != updated_at:
        assert _settings is not None
        composer = asyncio.run(_load(_settings, campaign_id))
        if composer is None:
            return None
        _composers[campaign_id] = composer
    return composer if composer.campaign.updated_at == updated_at else None


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
