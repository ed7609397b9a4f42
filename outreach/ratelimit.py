"""Sliding-window rate limits per SMTP account, kept in the database.

A worker reserves sends before it makes them. A reservation at time r lets it start those
sends until r + grace; after that it must reserve again. Reservations are counted over a
window widened by the grace, so whatever the timing of the actual sends, no window of the
configured length ever holds more than the limit. Because the ledger is a table, the limits
hold across restarts and across any number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import SmtpUsage
from crm.settings import Settings
from outreach.senders import SmtpAccount


@dataclass(frozen=True)
class Grant:
    count: int  # sends allowed now
    until: datetime  # ... if started before this
    retry_at: datetime | None  # when none were granted: the earliest time one may be


def _windows(account: SmtpAccount, settings: Settings) -> list[tuple[int, timedelta]]:
    limits = (
        (account.per_minute, settings.send_minute_seconds),
        (account.per_day, settings.send_day_seconds),
    )
    return [(limit, timedelta(seconds=seconds)) for limit, seconds in limits if limit]


async def _lock(session: AsyncSession, account: str) -> None:
    """Serialise reservations on one account until the transaction ends."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(account))))
    else:  # SQLite has one writer at a time: taking the write lock is enough.
        await session.execute(text("UPDATE smtp_usage SET count = count WHERE 0"))


async def reserve(
    session: AsyncSession, settings: Settings, account: SmtpAccount, wanted: int, now: datetime
) -> Grant:
    """Reserve up to `wanted` sends on `account` at `now`, and commit."""
    grace = timedelta(seconds=settings.send_grace_seconds)
    windows = _windows(account, settings)
    if not windows:  # no limits here: the sends are written with their results (in `used`)
        return Grant(wanted, datetime.max.replace(tzinfo=UTC), None)
    await _lock(session, account.key)
    allowed, retry_at = wanted, None
    for limit, length in windows:
        since = now - length - grace
        used = await session.execute(
            select(func.coalesce(func.sum(SmtpUsage.count), 0)).where(
                SmtpUsage.account == account.key, SmtpUsage.at > since
            )
        )
        room = limit - int(used.scalar_one())
        if room < allowed:
            allowed = max(room, 0)
            if allowed == 0:
                frees = await _frees_at(session, account, since, length + grace)
                retry_at = max(retry_at or now, frees)
    if allowed:
        session.add(SmtpUsage(account=account.key, at=now, count=allowed))
    await session.commit()
    return Grant(allowed, now + grace, retry_at)


async def _frees_at(
    session: AsyncSession, account: SmtpAccount, since: datetime, span: timedelta
) -> datetime:
    """When the oldest reservation still counted (made after `since`) stops counting."""
    oldest = await session.execute(
        select(func.min(SmtpUsage.at)).where(SmtpUsage.account == account.key, SmtpUsage.at > since)
    )
    first: datetime = oldest.scalar_one()
    return first + span


def used(session: AsyncSession, account: str, count: int, now: datetime) -> None:
    """Sends made without a reservation (an identity without limits) still count in the
    windows of other identities that share the login; added to the caller's transaction."""
    if count:
        session.add(SmtpUsage(account=account, at=now, count=count))


async def prune(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """Forget reservations older than the longest window; they count for nothing."""
    keep = timedelta(seconds=max(settings.send_minute_seconds, settings.send_day_seconds))
    keep += timedelta(seconds=settings.send_grace_seconds)
    await session.execute(delete(SmtpUsage).where(SmtpUsage.at < now - keep))
    await session.commit()
