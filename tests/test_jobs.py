"""The durable job table: claimed once, retried with backoff, failures recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import jobs
from crm.models import Job
from crm.settings import Settings

runs: list[int] = []


@jobs.handler("test_count")
async def _count(session: AsyncSession, job: Job, settings: Settings) -> None:
    runs.append(job.payload["n"])


@jobs.handler("test_flaky")
async def _flaky(session: AsyncSession, job: Job, settings: Settings) -> None:
    raise RuntimeError("SMTP said 421, try later")


async def test_two_workers_never_run_the_same_job_twice(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    runs.clear()
    async with maker() as session:
        for n in range(20):
            await jobs.enqueue(session, "test_count", {"n": n})
        await session.commit()

    async def drain() -> None:
        while await jobs.run_one(maker, settings):
            pass

    await asyncio.gather(drain(), drain())
    assert sorted(runs) == list(range(20))


async def test_failed_job_is_retried_later_then_marked_failed(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with maker() as session:
        job = await jobs.enqueue(session, "test_flaky", {})
        job.max_attempts = 2
        await session.commit()
        job_id = job.id
    assert await jobs.run_one(maker, settings)
    async with maker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        assert job.status == "queued" and "421" in job.last_error
        assert job.run_at > datetime.now(UTC)
        job.run_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
    assert await jobs.run_one(maker, settings)
    async with maker() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status == "failed" and job.attempts == 2


async def test_job_whose_lease_expired_is_claimed_again(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    runs.clear()
    async with maker() as session:
        job = await jobs.enqueue(session, "test_count", {"n": 99})
        job.status = "running"
        job.lease_until = datetime.now(UTC) - timedelta(minutes=1)
        await session.commit()
    assert await jobs.run_one(maker, settings)
    assert runs == [99]
    assert not await jobs.run_one(maker, settings)


async def test_worker_loop_stops_when_asked(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(jobs.run_worker(maker, settings, stop=stop, idle_seconds=0.05))
    async with maker() as session:
        await jobs.enqueue(session, "noop", {})
        await session.commit()
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 5)
    async with maker() as session:
        from sqlalchemy import select

        statuses = (await session.execute(select(Job.status))).scalars().all()
    assert statuses == ["done"]
