"""The sender worker: claims delivery rows under a lease, sends each over reused SMTP
connections within the account's rate limits, and records every result.

- A claim is a conditional update (with `FOR UPDATE SKIP LOCKED` on PostgreSQL), so any
  number of workers never take the same row.
- 4xx replies and dropped connections before DATA retry with exponential backoff and jitter
  until the campaign's deadline; 5xx fails that recipient.
- A connection lost after DATA began, or a lease that runs out with no recorded result,
  leaves the row `unknown`: it may or may not have arrived, and a person decides.
- Results are committed per batch; N failures in a row pause the campaign.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.bulk import insert_rows
from crm.i18n import N_
from crm.models import (
    Attendance,
    Campaign,
    CoalitionMember,
    Contact,
    ContactEmail,
    Delivery,
    Event,
    Interaction,
)
from crm.privacy import suppressed
from crm.search import normalise_email
from crm.settings import Settings
from outreach import buildpool, ratelimit
from outreach.audience import REASONS, still_wanted
from outreach.buildpool import Ahead, BuildPool, Built
from outreach.campaigns import audience_of
from outreach.compose import Composer, Outgoing, load_composer
from outreach.smtp import Pool, Result, send_one

log = logging.getLogger("beatbook.sender")
UNKNOWN_LEASE = N_(
    "The worker stopped before it recorded a result: it may or may not have arrived."
)
DEADLINE = N_("Not sent: the campaign's send deadline passed.")
_OUTGOING = (
    Delivery.id, Delivery.campaign_id, Delivery.address, Delivery.name, Delivery.language,
    Delivery.fields, Delivery.personal_line, Delivery.privacy_notice, Delivery.message_id,
    Delivery.is_test, Delivery.attempts, Delivery.org_id, Delivery.contact_id,
)  # fmt: skip
PRUNE_EVERY = timedelta(minutes=10)


@dataclass(frozen=True)
class Batch:
    """Rows claimed together under one lease."""

    token: str
    rows: list[Outgoing]
    # No send of these rows starts after this.
    lease_end: datetime


class SenderWorker:
    def __init__(
        self, maker: async_sessionmaker[AsyncSession], settings: Settings, name: str = ""
    ) -> None:
        self.maker = maker
        self.settings = settings
        self.name = name or f"sender-{uuid.uuid4().hex[:8]}"
        self.composers: dict[int, tuple[tuple[datetime, int | None], Composer]] = {}
        self.pools: dict[str, Pool] = {}
        processes = settings.send_build_processes
        self.builders = BuildPool(
            settings, buildpool.default_processes() if processes is None else processes
        )

    async def start(self) -> None:
        """What a worker does at boot: start the build processes."""
        await self.builders.start()

    async def run(self, stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
        """Send until `stop` is set, resting `idle_seconds` whenever nothing is due."""
        try:
            await self._run(stop, idle_seconds)
        finally:
            await self.close()

    async def _run(self, stop: asyncio.Event, idle_seconds: float) -> None:
        await self.start()
        pruned = datetime.min.replace(tzinfo=UTC)
        while not stop.is_set():
            if datetime.now(UTC) - pruned > PRUNE_EVERY:
                try:
                    async with self.maker() as session:
                        await ratelimit.prune(session, self.settings, datetime.now(UTC))
                    pruned = datetime.now(UTC)
                except Exception:
                    log.exception("pruning the rate-limit ledger")
            await self.drain(stop)
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Send batch after batch until nothing is due; answers how many rows it handled.

        A batch's results are written while the next batch goes out: the database's share
        of the work (in its own thread) overlaps the sending instead of stopping it. At
        most one batch is unrecorded at a time, and only for as long as that write takes."""
        handled = 0
        recording: asyncio.Task[None] | None = None
        try:
            batch = await self._claim()
            while batch.rows and (stop is None or not stop.is_set()):
                results = await self._send_batch(batch)
                handled += len(batch.rows)
                if recording is not None:
                    await recording  # one write at a time, in order
                # Claim the next batch before writing this one's results, so the claim does
                # not queue behind that write; the write then runs while the next batch
                # goes out.
                following = await self._claim()
                recording = asyncio.create_task(self._record(batch.token, results))
                batch = following
            if batch.rows:  # stopped with a batch claimed but not sent: give it back
                await self._record(batch.token, [Result(r, "queued") for r in batch.rows])
        except Exception:  # a database hiccup must not end the worker
            log.exception("sender error")
        finally:
            if recording is not None:
                await recording
        return handled

    async def run_once(self) -> int:
        """Claim one batch, send it and record it; answers how many rows it handled."""
        batch = await self._claim()
        if batch.rows:
            await self._record(batch.token, await self._send_batch(batch))
        return len(batch.rows)

    async def close(self) -> None:
        self.builders.close()
        for pool in self.pools.values():
            await pool.close()
        self.pools.clear()

    async def _claim(self) -> Batch:
        async with self.maker() as session:
            await expire_leases(session)
            token = f"{self.name}:{uuid.uuid4().hex[:12]}"
            # No send starts later than this: a slow server must not let the lease run out
            # under rows still waiting their turn (they would turn unknown, never sent).
            lease = self.settings.send_lease_seconds
            lease_end = datetime.now(UTC) + timedelta(seconds=lease - min(30, lease / 4))
            return Batch(token, await claim(session, self.settings, token), lease_end)

    async def _send_batch(self, batch: Batch) -> list[Result]:
        results: list[Result] = []
        async with self.maker() as session:
            for campaign_id, group in _by_campaign(batch.rows).items():
                try:
                    results += await self._send_campaign(
                        session, campaign_id, group, batch.lease_end
                    )
                except Exception:  # rows without a result turn unknown when the lease ends
                    log.exception("sending campaign %s", campaign_id)
        return results

    async def _record(self, token: str, results: list[Result]) -> None:
        try:
            async with self.maker() as session:
                await record(session, self.settings, token, results)
        except Exception:  # the lease runs out and the rows say unknown: nothing is lost
            log.exception("recording a batch's results")

    async def _composer(self, session: AsyncSession, campaign: Campaign) -> Composer:
        # An invitation's calendar follows its event: a change or cancellation makes anew.
        event = await session.get(Event, campaign.event_id) if campaign.event_id else None
        version = (campaign.updated_at, event.sequence if event else None)
        cached = self.composers.get(campaign.id or 0)
        if cached is None or cached[0] != version:
            composer = await load_composer(session, self.settings, campaign)
            cached = (version, composer)
            self.composers[campaign.id or 0] = cached
        return cached[1]

    async def _send_campaign(
        self, session: AsyncSession, campaign_id: int, rows: list[Outgoing], lease_end: datetime
    ) -> list[Result]:
        campaign = await session.get(Campaign, campaign_id, populate_existing=True)
        assert campaign is not None
        now = datetime.now(UTC)
        if campaign.deadline_at and campaign.deadline_at <= now:
            return [Result(r, "failed" if r.is_test else "cancelled", DEADLINE) for r in rows]
        stopped: list[Result] = []
        if campaign.status != "sending":  # paused or cancelled since the claim; tests still go
            stopped = [_stopped(r, campaign.status) for r in rows if not r.is_test]
            rows = [r for r in rows if r.is_test]
            if not rows:
                return stopped
        try:
            composer = await self._composer(session, campaign)
        except Exception as exc:  # a broken sender or template: nothing can go out
            log.exception("campaign %s cannot be sent", campaign_id)
            await _pause(session, campaign_id, N_("Cannot send: %(error)s", error=str(exc)))
            later = now + timedelta(seconds=self.settings.send_retry_seconds)
            return stopped + [Result(r, "queued", not_before=later) for r in rows]
        results, rows = await screen(session, self.settings, campaign, rows)
        results += stopped
        grant = await ratelimit.reserve(session, self.settings, composer.account, len(rows), now)
        allowed, held = rows[: grant.count], rows[grant.count :]
        results += [Result(r, "queued", not_before=grant.retry_at) for r in held]
        results += await self._send(composer, allowed, min(grant.until, lease_end))
        return results

    async def _send(
        self, composer: Composer, rows: list[Outgoing], until: datetime
    ) -> list[Result]:
        s = self.settings
        account = composer.account
        pool = self.pools.setdefault(account.key, Pool(account, timeout=30.0))
        unreserved = "" if account.per_minute or account.per_day else account.key
        queue = list(reversed(list(enumerate(rows))))
        results: list[Result] = []
        halted: list[Result] = []  # the first failure that says the account is at fault
        message, ahead = self._builder(composer, rows, pool)

        async def lane() -> None:
            while queue:
                i, row = queue.pop()
                if halted:  # no point trying the rest now
                    later = datetime.now(UTC) + timedelta(seconds=s.send_retry_seconds)
                    results.append(Result(row, "queued", not_before=later))
                    continue
                data, eight_bit = await message(i, row)
                if isinstance(data, str):  # this row cannot be made; others can
                    results.append(Result(row, "failed", data))
                    continue
                try:
                    result = await send_one(
                        pool,
                        composer.return_path(row),
                        row,
                        data,
                        until=until,
                        eight_bit=eight_bit,
                    )
                except Exception as exc:  # noqa: BLE001 (unforeseen: it may have gone out)
                    log.exception("sending delivery %s", row.id)
                    error = N_("Unexpected error while sending: %(error)s", error=str(exc))
                    result = Result(row, "unknown", error)
                if result.systemic and not halted:
                    halted.append(result)
                if result.status in ("sent", "unknown"):
                    result.unreserved = unreserved
                results.append(result)

        lanes = min(s.send_concurrency, len(rows)) or 1
        try:
            await asyncio.gather(*(lane() for _ in range(lanes)))
        finally:
            if ahead is not None:  # a batch halted early leaves messages unasked for
                ahead.cancel()
        return results

    def _builder(
        self, composer: Composer, rows: list[Outgoing], pool: Pool
    ) -> tuple[Callable[[int, Outgoing], Awaitable[tuple[Built, bool]]], Ahead | None]:
        """How the i-th row's message is had: (the message or why it cannot be made, whether
        its bodies are 8-bit). Big batches are built ahead in the build processes."""
        ahead = self.builders.build(composer, rows, pool.eight_bit)

        async def message(i: int, row: Outgoing) -> tuple[Built, bool]:
            if ahead is not None and (built := await ahead.message(i)) is not None:
                return built, ahead.allow_8bit
            eight_bit = pool.eight_bit
            try:
                return composer.build(row, allow_8bit=eight_bit), eight_bit
            except Exception as exc:  # noqa: BLE001 (this row cannot be made; others can)
                return N_("The message cannot be made: %(error)s", error=str(exc)), eight_bit

        return message, ahead


async def screen(
    session: AsyncSession, settings: Settings, campaign: Campaign, rows: list[Outgoing]
) -> tuple[list[Result], list[Outgoing]]:
    """Since launch, an address may have been unsubscribed, bounced or erased, or a contact
    marked do-not-contact: such rows are not sent. Answers (cancelled results, rows to send)."""
    real = [r for r in rows if not r.is_test]
    if not real:
        return [], rows
    orgs = {r.org_id for r in real} | {campaign.org_id}
    if campaign.coalition_id:  # every partner's suppressions apply
        members = await session.execute(
            select(CoalitionMember.org_id).where(
                CoalitionMember.coalition_id == campaign.coalition_id,
                CoalitionMember.status == "accepted",
            )
        )
        orgs |= set(members.scalars())
    why: dict[int, str] = {}
    for org_id in orgs:
        blocked = await suppressed(session, settings, org_id, [r.address for r in real])
        for r in real:
            reason = blocked.get(normalise_email(r.address))
            if reason and r.id not in why:
                said = REASONS.get(reason, reason.replace("_", " "))
                why[r.id] = N_("Not sent: %(reason)s since the launch.", reason=said)
    contacts = [r.contact_id for r in real if r.contact_id]
    if contacts:
        marked = await session.execute(
            select(Contact.id).where(Contact.id.in_(contacts), Contact.do_not_contact.is_(True))
        )
        dnc = set(marked.scalars())
        for r in real:
            if r.contact_id in dnc:
                why.setdefault(r.id, N_("Not sent: marked do-not-contact since the launch."))
    await _answers_changed(session, campaign, real, why)
    return [Result(r, "cancelled", why[r.id]) for r in rows if r.id in why], [
        r for r in rows if r.id not in why
    ]


async def _answers_changed(
    session: AsyncSession, campaign: Campaign, rows: list[Outgoing], why: dict[int, str]
) -> None:
    """A reminder launched days ahead goes only to guests whose answer still fits: not to
    someone who declined since."""
    wanted = audience_of(campaign)
    if not campaign.event_id or not wanted.guests or wanted.lists or wanted.contacts:
        return
    if "picked" in wanted.guests:  # its launch invited them: they are no longer "picked"
        return
    norms = {normalise_email(r.address): r for r in rows}
    found = await session.execute(
        select(Attendance).where(
            Attendance.event_id == campaign.event_id,
            Attendance.address_norm.in_(list(norms)),
        )
    )
    for guest in found.scalars():
        row = norms[guest.address_norm]
        if not still_wanted(guest, wanted.guests):
            why.setdefault(row.id, N_("Not sent: their answer changed since the launch."))


async def _pause(session: AsyncSession, campaign_id: int, reason: str) -> None:
    await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == "sending")
        .values(status="paused", paused_reason=reason[:300])
    )
    await session.commit()


def _stopped(row: Outgoing, status: str) -> Result:
    """A claimed row whose campaign stopped sending before it went out."""
    if status == "cancelled":
        return Result(row, "cancelled", N_("Campaign cancelled."))
    return Result(row, "queued")  # paused (or rescheduled): goes out when it runs again


def _by_campaign(rows: Iterable[Outgoing]) -> dict[int, list[Outgoing]]:
    groups: dict[int, list[Outgoing]] = {}
    for r in rows:
        groups.setdefault(r.campaign_id, []).append(r)
    return groups


async def expire_leases(session: AsyncSession) -> int:
    """Claimed rows whose lease ran out with no result: nobody knows if they arrived."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == "sending", Delivery.lease_until < datetime.now(UTC))
        .values(status="unknown", last_error=UNKNOWN_LEASE, lease_until=None)
        .returning(Delivery.campaign_id)
    )
    campaigns = set(result.scalars())
    await session.commit()
    if campaigns:  # their last rows may have been these
        await finish_done(session, campaigns)
    return len(campaigns)


async def claim(session: AsyncSession, settings: Settings, token: str) -> list[Outgoing]:
    """Take up to a batch of due rows of running campaigns (and any test sends)."""
    now = datetime.now(UTC)
    running = select(Campaign.id).where(Campaign.status == "sending")
    due = (
        select(Delivery.id)
        .where(
            Delivery.status.in_(("queued", "deferred")),
            Delivery.next_attempt_at <= now,
            or_(Delivery.campaign_id.in_(running), Delivery.is_test.is_(True)),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(settings.send_batch)
    )
    if session.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    lease = now + timedelta(seconds=settings.send_lease_seconds)
    table = Delivery.__table__  # Core, not the ORM's bulk update: it is most of a claim's cost
    stmt = (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()), table.c.status.in_(("queued", "deferred")))
        .values(status="sending", lease_until=lease, worker=token, attempts=table.c.attempts + 1)
        .returning(*(table.c[column.key] for column in _OUTGOING))
    )
    connection = await session.connection()
    claimed: Sequence[Any] = (await connection.execute(stmt)).all()
    rows = [Outgoing(*r) for r in claimed]
    await session.commit()
    return sorted(rows, key=lambda r: r.id)


def _backoff(settings: Settings, attempts: int) -> timedelta:
    base = settings.send_retry_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(base, 6 * 3600) * random.uniform(0.8, 1.2))  # noqa: S311


async def record(
    session: AsyncSession, settings: Settings, token: str, results: list[Result]
) -> None:
    """Write every result of a batch in one transaction."""
    if not results:
        return
    now = datetime.now(UTC)
    sent = [r.row.id for r in results if r.status == "sent"]
    others = [r for r in results if r.status != "sent"]
    table = Delivery.__table__  # Core statements, not the ORM's per-row bulk update
    mine = (table.c.worker == token) & table.c.status.in_(("sending", "unknown"))
    connection = await session.connection()
    for part in range(0, len(sent), 500):  # most of a batch, in one statement
        await connection.execute(
            update(table)
            .where(table.c.id.in_(sent[part : part + 500]), mine)
            .values(status="sent", sent_at=now, last_error="", lease_until=None)
        )
    if others:
        await connection.execute(
            _update_one(table, token), [_params(settings, r, now) for r in others]
        )
    await _past_deadline(session, now)
    await _count_failures(session, settings, results)
    sent = [r.row.id for r in results if r.status == "sent" and not r.row.is_test]
    if sent:
        await record_timeline(session, sent)
    for account in {r.unreserved for r in results} - {""}:
        ratelimit.used(session, account, sum(r.unreserved == account for r in results), now)
    await _finish(session, {r.row.campaign_id for r in results})
    await session.commit()


def _update_one(table: Any, token: str) -> Any:
    return (
        update(table)
        .where(table.c.id == bindparam("rid"), table.c.worker == literal(token))
        # Literal values: executemany cannot expand an IN list.
        .where(or_(table.c.status == literal("sending"), table.c.status == literal("unknown")))
        .values(
            status=bindparam("st"),
            last_error=bindparam("err"),
            next_attempt_at=bindparam("next"),
            attempts=bindparam("att"),
            lease_until=None,
        )  # fmt: skip
    )


def _params(settings: Settings, r: Result, now: datetime) -> dict[str, Any]:
    """What a result that is not a success writes on its row."""
    p = {"rid": r.row.id, "st": r.status, "err": r.error, "next": now, "att": r.row.attempts}
    if r.status == "deferred" and r.row.attempts >= settings.send_max_attempts:
        p["st"] = "failed"
        p["err"] = N_(
            "Gave up after %(n)s attempts. Last: %(error)s", n=r.row.attempts, error=r.error
        )[:1000]
    elif r.status == "deferred":
        p["next"] = now + _backoff(settings, r.row.attempts)
    elif r.status == "queued":  # released unsent: this was not an attempt
        p["att"] -= 1
        p["next"] = r.not_before or now
    return p


async def _past_deadline(session: AsyncSession, now: datetime) -> None:
    """A retry that would fall after the deadline is not made."""
    late = select(Campaign.id).where(
        Campaign.deadline_at.is_not(None),
        Campaign.deadline_at <= now,
        Campaign.status.in_(("sending", "paused", "scheduled")),
    )
    if (await session.execute(late.limit(1))).first() is None:  # the usual case: cheap
        return
    await session.execute(
        update(Delivery)
        .where(Delivery.status.in_(("queued", "deferred")), Delivery.campaign_id.in_(late))
        .where(Delivery.is_test.is_(False))
        .values(status="cancelled", last_error=DEADLINE)
        .execution_options(synchronize_session=False)
    )


async def _count_failures(session: AsyncSession, settings: Settings, results: list[Result]) -> None:
    """Failures of the account or server in a row, per campaign; too many pause it. Done in
    SQL, so a cancel meanwhile, or another worker's count, is never written over."""
    for campaign_id in {r.row.campaign_id for r in results}:
        mine = [r for r in results if r.row.campaign_id == campaign_id and r.status != "queued"]
        if not mine:
            continue
        last_sent = max((i for i, r in enumerate(mine) if r.status == "sent"), default=-1)
        streak = sum(1 for r in mine[last_sent + 1 :] if r.systemic)
        count = literal(streak) if last_sent >= 0 else Campaign.consecutive_failures + streak
        await session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(consecutive_failures=count)
        )
        last = next((r.error for r in reversed(mine) if r.systemic), "")
        await session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign_id,
                Campaign.status == "sending",
                Campaign.consecutive_failures >= settings.send_failures_to_pause,
            )
            .values(
                status="paused",
                paused_reason=N_(
                    "Paused after %(n)s failures in a row of the mail server or account. "
                    "Last: %(error)s",
                    n=settings.send_failures_to_pause,
                    error=last,
                )[:300],
            )
        )


async def record_timeline(session: AsyncSession, delivery_ids: list[int]) -> None:
    """Each sent message on its contact's timeline (in a joint campaign, also on the timeline
    of each partner's contact with that address); the first message also records the privacy
    notice. The caller commits."""
    connection = await session.connection()  # Core rows, without the ORM's overhead
    rows = (
        await connection.execute(
            select(
                Delivery.id,
                Delivery.org_id,
                Delivery.contact_id,
                Delivery.campaign_id,
                Delivery.sent_at,
                Delivery.privacy_notice,
                Delivery.address_norm,
                Campaign.name,
                Campaign.coalition_id,
            )  # fmt: skip
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Delivery.id.in_(delivery_ids), Delivery.contact_id.is_not(None))
            .where(Delivery.status == "sent")
        )
    ).all()
    if not rows:
        return
    now = datetime.now(UTC)
    entries = [(r.org_id, r.contact_id, r) for r in rows]
    entries += await _partner_contacts(session, [r for r in rows if r.coalition_id])
    await insert_rows(
        session,
        Interaction,
        [
            {"org_id": org_id, "contact_id": contact_id, "kind": "email_out", "direction": "out",
             "occurred_at": r.sent_at or now,
             "summary": N_("Campaign: %(name)s", name=r.name)[:300], "body": "",
             "author_id": None, "campaign_id": r.campaign_id, "delivery_id": r.id,
             "created_at": now}
            for org_id, contact_id, r in entries
        ],
    )  # fmt: skip
    await session.execute(
        update(Contact)
        .where(Contact.id.in_({contact_id for _o, contact_id, _r in entries}))
        .where(or_(Contact.last_interaction_at.is_(None), Contact.last_interaction_at < now))
        .values(last_interaction_at=now)
        .execution_options(synchronize_session=False)
    )
    noticed = {r.contact_id for r in rows if r.privacy_notice}
    if noticed:
        await session.execute(
            update(Contact)
            .where(Contact.id.in_(noticed), Contact.privacy_notice_at.is_(None))
            .values(privacy_notice_at=now)
            .execution_options(synchronize_session=False)
        )


async def _partner_contacts(session: AsyncSession, rows: list[Any]) -> list[tuple[int, int, Any]]:
    """(organisation, contact, delivery row) for the coalition partners' own contacts that
    share an address with a delivery of a joint campaign."""
    found: list[tuple[int, int, Any]] = []
    for coalition_id in {r.coalition_id for r in rows}:
        mine = [r for r in rows if r.coalition_id == coalition_id]
        by_address = {r.address_norm: r for r in mine}
        members = select(CoalitionMember.org_id).where(
            CoalitionMember.coalition_id == coalition_id, CoalitionMember.status == "accepted"
        )
        matches = await session.execute(
            select(ContactEmail.org_id, ContactEmail.contact_id, ContactEmail.normalised).where(
                ContactEmail.normalised.in_(list(by_address)), ContactEmail.org_id.in_(members)
            )
        )
        for org_id, contact_id, norm in matches.all():
            row = by_address[norm]
            if contact_id != row.contact_id:
                found.append((org_id, contact_id, row))
    return found


async def finish_done(session: AsyncSession, campaign_ids: set[int]) -> None:
    """A sending campaign with nothing left to send is finished."""
    await _finish(session, campaign_ids)
    await session.commit()


async def _finish(session: AsyncSession, campaign_ids: set[int]) -> None:
    open_rows = select(Delivery.id).where(
        Delivery.campaign_id == Campaign.id,
        Delivery.is_test.is_(False),
        Delivery.status.in_(("queued", "deferred", "sending")),
    )
    now = datetime.now(UTC)
    await session.execute(
        update(Campaign)
        .where(Campaign.id.in_(campaign_ids), Campaign.status == "sending")
        .where(~open_rows.exists())
        .values(status="finished", finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
