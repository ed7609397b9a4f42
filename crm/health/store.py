"""Reading timelines for the score, and keeping `contact_health` up to date.

A contact's page scores its timeline as it is (one indexed query, then crm.health.score).
The dashboard reads `contact_health`, which the refresh job rewrites in batches for the
contacts whose timeline moved since (their `last_interaction_at` is later), those never
scored, and, once a day, everyone (time alone cools a relationship). No request ever loops
over every contact."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import jobs
from crm.accounts import Actor
from crm.bulk import insert_rows
from crm.contacts import get_contact
from crm.health import followups
from crm.health.score import Entry, Health, history, score, tally
from crm.i18n import LOCAL_TZ as LOCAL
from crm.models import (
    Campaign,
    Contact,
    ContactHealth,
    CoverageItem,
    Delivery,
    Event,
    InboundMessage,
    Interaction,
    Job,
)
from crm.settings import Settings

log = logging.getLogger("beatbook.health")
REFRESH_KIND = "health.refresh"
BATCH = 2000
STALE = datetime(2000, 1, 1, tzinfo=UTC)  # a computed_at that is always out of date
# The kinds the score reads; notes, imports, merges, bounces and auto-replies say nothing
# about the relationship.
SCORED_KINDS = (
    "email_out", "email_in", "call", "meeting", "rsvp", "event_attended", "coverage",
)  # fmt: skip


# What a campaign's message is to the score: these expect an answer; an "answer" answers.
PITCH_KINDS = ("press_release", "pitch", "invitation", "other")
UNSCORED_MAIL = ("complaint", "unsubscribe")  # mail in that is no reply


async def timelines(session: AsyncSession, contact_ids: Iterable[int]) -> dict[int, list[Entry]]:
    """The scored part of each contact's timeline, oldest first. Left out: messages that
    bounced, a partner's copy of a joint campaign's message (the reply goes to the partner),
    complaints and unsubscriptions, and places moved up from a waitlist. Negative coverage
    is kept apart ("coverage_negative"): the score ignores it."""
    ids = list(contact_ids)
    found: dict[int, list[Entry]] = defaultdict(list)
    if not ids:
        return found
    columns: tuple[Any, ...] = (
        Interaction.contact_id, Interaction.id, Interaction.kind, Interaction.direction,
        Interaction.occurred_at, Interaction.campaign_id, Interaction.event_id,
        Interaction.summary, Interaction.org_id, Campaign.kind, Campaign.event_id,
        Campaign.name, Event.title, Delivery.org_id, Delivery.bounced_at,
        InboundMessage.category, CoverageItem.tone,
    )  # fmt: skip
    rows: Any = await session.execute(
        select(*columns)
        .outerjoin(Campaign, Campaign.id == Interaction.campaign_id)
        .outerjoin(Event, Event.id == Interaction.event_id)
        .outerjoin(Delivery, Delivery.id == Interaction.delivery_id)
        .outerjoin(InboundMessage, InboundMessage.id == Interaction.inbound_message_id)
        .outerjoin(CoverageItem, CoverageItem.id == Interaction.coverage_id)
        .where(
            Interaction.contact_id.in_(ids),  # type: ignore[attr-defined]
            Interaction.kind.in_(SCORED_KINDS),  # type: ignore[attr-defined]
        )
        .order_by(Interaction.contact_id, Interaction.occurred_at, Interaction.id)
    )  # fmt: skip
    for (cid, ref, kind, direction, at, campaign_id, event_id, summary, org, ckind, cevent,
         cname, etitle, dorg, bounced, category, tone) in rows:  # fmt: skip
        if kind == "email_out" and (bounced is not None or (dorg is not None and dorg != org)):
            continue
        if category in UNSCORED_MAIL:
            continue
        if kind == "coverage" and tone == "negative":
            kind = "coverage_negative"  # no warmth; still "written about since the event"
        if kind == "rsvp":
            if summary.startswith("Moved from the waitlist"):
                continue  # the system's doing, not theirs
            if summary.startswith("Declined"):
                kind = "rsvp_declined"  # an answer to the invitation, but no warmth
        found[cid].append(
            Entry(
                kind,
                at,
                direction,
                campaign_id=campaign_id,
                event_id=event_id or cevent,
                pitch=kind == "email_out" and (ckind is None or ckind in PITCH_KINDS),
                answer=ckind == "answer",
                invitation=ckind == "invitation",
                label=_label(kind, cname, etitle),
                ref=ref,
            )  # fmt: skip
        )
    return found


def _label(kind: str, campaign: str | None, event: str | None) -> str:
    """What the explanation names: the campaign or event covered, the event attended."""
    if kind == "coverage":
        return campaign or event or ""
    return (event or "") if kind == "event_attended" else ""


async def contact_timeline(session: AsyncSession, contact_id: int) -> list[Entry]:
    return (await timelines(session, [contact_id])).get(contact_id, [])


async def health_of(session: AsyncSession, actor: Actor, contact_id: int, now: datetime) -> Health:
    """A contact's health right now, from its timeline as it is (404 for another's)."""
    await get_contact(session, actor, contact_id)
    return score(await contact_timeline(session, contact_id), now)


def start_of_day(now: datetime) -> datetime:
    """Today's local midnight, in UTC."""
    local = now.astimezone(LOCAL)
    return datetime.combine(local.date(), time(0), tzinfo=LOCAL).astimezone(UTC)


def today(now: datetime) -> date:
    return now.astimezone(LOCAL).date()


async def stale_contacts(session: AsyncSession, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(contact, organisation) of up to `limit` contacts whose health is out of date: never
    scored first, then the oldest. Out of date: scored before today (time alone cools a
    relationship), marked stale (an entry edited or deleted, a merge), or with an entry
    written since (whatever its date: a call logged late, an RSVP, coverage)."""
    today = start_of_day(now)
    moved = (
        select(Interaction.contact_id)
        .join(ContactHealth, ContactHealth.contact_id == Interaction.contact_id)
        .where(Interaction.created_at >= today, Interaction.created_at > ContactHealth.computed_at)
    )
    rows = await session.execute(
        select(Contact.id, Contact.org_id)
        .outerjoin(ContactHealth, ContactHealth.contact_id == Contact.id)
        .where(
            or_(
                ContactHealth.contact_id.is_(None),  # type: ignore[union-attr]
                ContactHealth.computed_at < today,
                Contact.id.in_(moved),  # type: ignore[union-attr]
            )
        )
        .order_by(ContactHealth.computed_at.is_not(None), ContactHealth.computed_at)  # type: ignore[union-attr]
        .limit(limit)
    )
    return [(cid, org) for cid, org in rows.all()]


async def mark_stale(session: AsyncSession, contact_ids: Iterable[int]) -> None:
    """Have these contacts rescored on the next refresh (their timeline changed in a way no
    new entry shows: an entry edited or deleted, two contacts merged). They stay on the
    dashboard meanwhile. The caller commits."""
    ids = list(contact_ids)
    if ids:
        await session.execute(
            update(ContactHealth)
            .where(ContactHealth.contact_id.in_(ids))  # type: ignore[attr-defined]
            .values(computed_at=STALE)
            .execution_options(synchronize_session=False)
        )


def health_row(contact_id: int, org_id: int, timeline: list[Entry], now: datetime) -> dict:  # type: ignore[type-arg]
    health = score(timeline, now)
    counts = tally(timeline, now)
    return {
        "contact_id": contact_id, "org_id": org_id, "score": health.score,
        "state": health.state, "state_before": score(timeline, now - timedelta(days=30)).state,
        "history": history(timeline, now), "last_two_way_at": health.last_two_way,
        "awaiting_since": counts.awaiting.at if counts.awaiting else None,
        "pitches_30d": counts.pitches[30], "pitches_90d": counts.pitches[90],
        "pitches_365d": counts.pitches[365], "replies_30d": counts.replies[30],
        "replies_90d": counts.replies[90], "replies_365d": counts.replies[365],
        "computed_at": now,
    }  # fmt: skip


async def refresh(session: AsyncSession, now: datetime, *, limit: int = BATCH) -> int:
    """Rescore up to `limit` contacts whose health is out of date, and suggest their
    follow-ups; commits. How many were rescored (fewer than `limit`: all are current)."""
    stale = await stale_contacts(session, now, limit)
    if not stale:
        return 0
    found = await timelines(session, [cid for cid, _ in stale])
    rows = [health_row(cid, org, found.get(cid, []), now) for cid, org in stale]
    ids = [cid for cid, _ in stale]
    try:
        await session.execute(
            delete(ContactHealth).where(ContactHealth.contact_id.in_(ids))  # type: ignore[attr-defined]
        )
        await insert_rows(session, ContactHealth, rows)
        await followups.suggest(session, stale, found, rows, now)
        await session.commit()
    except IntegrityError:  # another worker rescored some of them meanwhile: next time
        await session.rollback()
        log.info("health refresh collided with another; retried on the next run")
    return len(stale)


async def refresh_all(session: AsyncSession, now: datetime) -> int:
    """Everything out of date, batch by batch (the demo, tests, a first run)."""
    total = 0
    while done := await refresh(session, now):
        total += done
        if done < BATCH:
            break
    return total


def refresh_minutes(settings: Settings) -> int:
    return max(settings.health_refresh_minutes, 1)


@jobs.handler(REFRESH_KIND)
async def _refresh_job(session: AsyncSession, job: Job, settings: Settings) -> None:
    """A few batches, then the next run queued (at once when more are waiting)."""
    job_id = job.id
    done, more = 0, False
    try:
        for _ in range(5):
            batch = await refresh(session, datetime.now(UTC))
            done += batch
            more = batch >= BATCH
            if not more:
                break
    finally:
        await session.rollback()  # whatever failed, the chain goes on
        if not await jobs.exists(session, REFRESH_KIND, ("queued",), other_than=job_id):
            later = timedelta(0 if more else refresh_minutes(settings) * 60)
            await jobs.enqueue(session, REFRESH_KIND, run_at=datetime.now(UTC) + later)
            await session.commit()
    job.progress = {"rescored": done}
    session.add(job)


async def ensure_refreshing(session: AsyncSession) -> None:
    """Start the chain when no run is queued or running; commits."""
    if not await jobs.exists(session, REFRESH_KIND, ("queued", "running")):
        await jobs.enqueue(session, REFRESH_KIND)
        await session.commit()
