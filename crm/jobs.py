"""The durable job table and its runner: claimed under a lease, retried with backoff.

Handlers register by kind; `run_worker` is what `beatbook worker` and `beatbook serve`
(in-process) run. No second scheduler exists.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.models import Job
from crm.settings import Settings

log = logging.getLogger("beatbook.jobs")
Handler = Callable[[AsyncSession, Job, Settings], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
LEASE = timedelta(minutes=5)


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    org_id: int | None = None,
    run_at: datetime | None = None,
) -> Job:
    """Add a job to the session; it runs once the caller commits."""
    job = Job(kind=kind, payload=payload or {}, org_id=org_id, run_at=run_at or datetime.now(UTC))
    session.add(job)
    await session.flush()
    return job


async def exists(
    session: AsyncSession, kind: str, statuses: tuple[str, ...], *, other_than: int | None = None
) -> bool:
    """Whether a job of this kind is in one of these states (other than `other_than`): how a
    chain of polls stays one chain."""
    query = select(Job.id).where(Job.kind == kind, Job.status.in_(statuses))
    if other_than is not None:
        query = query.where(Job.id != other_than)
    return (await session.execute(query.limit(1))).first() is not None


async def claim(session: AsyncSession, worker: str) -> Job | None:
    """Take one due job under a lease; safe with any number of workers."""
    now = datetime.now(UTC)
    due = or_(
        (Job.status == "queued") & (Job.run_at <= now),
        (Job.status == "running") & (Job.lease_until < now),
    )
    pick = select(Job.id).where(due).order_by(Job.run_at).limit(1)
    if session.bind.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    job_id = (await session.execute(pick)).scalar_one_or_none()
    if job_id is None:
        await session.rollback()
        return None
    # The conditional update is the claim: only one worker sees rowcount 1.
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, due)
        .values(status="running", lease_until=now + LEASE, attempts=Job.attempts + 1)
    )
    await session.commit()
    if result.rowcount != 1:
        return None
    return await session.get(Job, job_id, populate_existing=True)


async def run_one(
    maker: async_sessionmaker[AsyncSession], settings: Settings, worker: str = "worker"
) -> bool:
    """Claim and run one job; False when nothing was due."""
    async with maker() as session:
        job = await claim(session, worker)
        if job is None:
            return False
        job_id, kind = job.id, job.kind
        fn = HANDLERS.get(kind)
        try:
            if fn is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await fn(session, job, settings)
        except Exception:
            await session.rollback()
            job = await session.get(Job, job_id, populate_existing=True)
            assert job is not None
            job.last_error = traceback.format_exc(limit=5)[-4000:]
            if job.attempts >= job.max_attempts or fn is None:
                job.status = "failed"
                job.finished_at = datetime.now(UTC)
            else:
                job.status = "queued"
                job.run_at = datetime.now(UTC) + timedelta(seconds=30 * 2**job.attempts)
            job.lease_until = None
            log.warning("job %s (%s) failed: %s", job_id, kind, job.last_error)
        else:
            job.status = "done"
            job.finished_at = datetime.now(UTC)
            job.lease_until = None
        session.add(job)
        await session.commit()
        return True


async def run_worker(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    idle_seconds: float = 1.0,
    name: str = "worker",
) -> None:
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            worked = await run_one(maker, settings, name)
        except Exception:  # a database hiccup must not end the worker
            log.exception("job runner error")
            worked = False
        if not worked:
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass


@handler("noop")
async def _noop(session: AsyncSession, job: Job, settings: Settings) -> None:
    """A job that does nothing; used to check that a worker is alive."""
    job.progress = {"done": True}
