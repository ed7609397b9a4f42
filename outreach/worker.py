"""Background work in one place: the job runner and the sender worker, run by `beatbook
serve` (in-process) or `beatbook worker`; and the mail catcher that `serve` starts when no
relay is configured."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import imports, jobs  # noqa: F401 (imports registers its job handlers)
from crm.health import store as health_store
from crm.settings import Settings
from outreach import outbox, privacy_mail  # noqa: F401 (register their job handlers)
from outreach.catcher import Catcher, start_catcher
from outreach.coverage import monitor
from outreach.inbound import imap, notify  # noqa: F401 (register their job handlers)
from outreach.sender import SenderWorker

log = logging.getLogger("beatbook.worker")


async def run_background(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    stop: asyncio.Event,
    name: str = "worker",
) -> None:
    """Run jobs and send mail until `stop` is set."""
    async with maker() as session:
        await imap.ensure_polling(session, settings)
        await monitor.ensure_polling(session)
        await health_store.ensure_refreshing(session)
        await session.commit()
    sender = SenderWorker(maker, settings, name=f"{name}-sender")
    await asyncio.gather(
        jobs.run_worker(maker, settings, stop=stop, name=name),
        sender.run(stop),
    )


async def open_catcher(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> tuple[Catcher | None, Settings]:
    """Start the catcher when mail has nowhere else to go; answers the settings the
    in-process sender should use (with the port actually taken)."""
    if settings.smtp_host:
        return None, settings
    try:
        catcher = await start_catcher(maker, settings.catcher_port)
    except OSError as exc:
        log.warning(
            "port %s is taken (%s); the mail catcher listens on a free port instead, which "
            "only this process's sender uses",
            settings.catcher_port,
            exc,
        )
        catcher = await start_catcher(maker, 0)
    return catcher, settings.model_copy(update={"catcher_port": catcher.port})
