"""Coverage monitoring: the outlets' RSS and Atom feeds, polled by one chain of jobs in the
durable job table, each a conditional GET (ETag, Last-Modified). An item that mentions the
organisation's keywords (its names in each language, a campaign's or an event's keywords) is
suggested as coverage, to confirm or dismiss — attributed to the campaign or event whose
keywords it matched and which went out before it was published. An item is suggested once:
its address (or its feed id) is the item's key, and a dismissed suggestion keeps it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import coalitions, events, jobs
from crm.accounts import Actor
from crm.errors import InvalidInput, NotFound
from crm.i18n import N_
from crm.models import Campaign, CoverageItem, Event, Job, Organisation, Outlet, OutletFeed
from crm.outlets import get_outlet
from crm.settings import Settings
from outreach.coverage import fetch
from outreach.coverage.drafts import LOCAL
from outreach.coverage.feeds import MAX_BODY, FeedItem, read_feed
from outreach.coverage.items import search_text, url_key
from outreach.coverage.keywords import Keyword, Matcher, compile_keywords

log = logging.getLogger("beatbook.coverage")
POLL_KIND = "coverage.feeds"
FEEDS_PER_RUN = 20  # feeds polled by one job run; the rest wait for the next
CHECK_EVERY = timedelta(minutes=5)  # how often the chain looks for feeds that are due
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8"
MAX_FEEDS_PER_OUTLET = 10
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # an entry dated before is taken as undated


# --- the feeds an organisation watches ---------------------------------------------------------


async def add_feed(session: AsyncSession, actor: Actor, outlet_id: int, url: str) -> OutletFeed:
    actor.require_write()
    outlet = await get_outlet(session, actor, outlet_id)
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > 1000 or " " in url:
        raise InvalidInput(
            {"url": N_("Enter the feed's web address, like https://www.outlet.example/feed.")}
        )
    exists = await session.execute(
        select(OutletFeed.id).where(OutletFeed.org_id == actor.org_id, OutletFeed.url == url)
    )
    if exists.first() is not None:
        raise InvalidInput({"url": N_("This feed is watched already.")})
    count = await session.execute(
        select(func.count(OutletFeed.id)).where(OutletFeed.outlet_id == outlet.id)
    )
    if count.scalar_one() >= MAX_FEEDS_PER_OUTLET:
        raise InvalidInput(
            {"url": N_("An outlet has at most %(n)s feeds.", n=MAX_FEEDS_PER_OUTLET)}
        )
    feed = OutletFeed(org_id=actor.org_id, outlet_id=outlet.id or 0, url=url)
    session.add(feed)
    await _ensure_chain(session)
    await session.commit()
    return feed


async def remove_feed(session: AsyncSession, actor: Actor, feed_id: int) -> None:
    actor.require_write()
    feed = await session.get(OutletFeed, feed_id)
    if feed is None or feed.org_id != actor.org_id:
        raise NotFound("feed")
    await session.delete(feed)
    await session.commit()


async def feeds_of(session: AsyncSession, actor: Actor, outlet_id: int) -> list[OutletFeed]:
    rows = await session.execute(
        select(OutletFeed)
        .where(OutletFeed.org_id == actor.org_id, OutletFeed.outlet_id == outlet_id)
        .order_by(OutletFeed.id)
    )
    return list(rows.scalars())


# --- what is looked for ------------------------------------------------------------------------


async def matcher_for(session: AsyncSession, org_id: int) -> Matcher:
    """The organisation's names and keywords, and those of its campaigns and events, with
    the joint campaigns and co-hosted events of its coalitions (coverage it may log)."""
    org = await session.get(Organisation, org_id)
    words = [Keyword(org.name, "org")] if org else []
    words += [Keyword(k, "org") for k in (org.coverage_keywords if org else [])]
    joint = await coalitions.accepted_coalition_ids(session, org_id)
    campaigns = await session.execute(
        select(Campaign.id, Campaign.keywords).where(
            (Campaign.org_id == org_id)
            | (Campaign.coalition_id.in_(joint) & (Campaign.status != "draft")),
            Campaign.launched_at.is_not(None),
            Campaign.kind != "answer",
        )
    )
    for campaign_id, keywords in campaigns.all():
        words += [Keyword(k, f"campaign:{campaign_id}") for k in keywords or []]
    found = await session.execute(
        select(Event.id, Event.keywords).where(await events.visible_to(session, org_id))
    )
    for event_id, keywords in found.all():
        words += [Keyword(k, f"event:{event_id}") for k in keywords or []]
    return compile_keywords(words)


@dataclass
class Attribution:
    campaign_id: int | None = None
    event_id: int | None = None


async def attribute(
    session: AsyncSession, hits: list[Keyword], published: datetime | None
) -> Attribution:
    """The campaign or event whose keywords the item matched and which went out before it was
    published (the latest such); an event counts from when its first invitation went out, or
    from when it took place."""
    when = published or datetime.now(UTC)
    campaign_ids = [int(k.source.split(":")[1]) for k in hits if k.source.startswith("campaign:")]
    event_ids = [int(k.source.split(":")[1]) for k in hits if k.source.startswith("event:")]
    if campaign_ids:
        found = await session.execute(
            select(Campaign.id, Campaign.event_id)
            .where(Campaign.id.in_(campaign_ids), Campaign.launched_at <= when)
            .order_by(Campaign.launched_at.desc())
            .limit(1)
        )
        row = found.first()
        if row is not None:
            return Attribution(row[0], row[1])
    for event_id in event_ids:
        invited = await session.execute(
            select(func.min(Campaign.launched_at)).where(Campaign.event_id == event_id)
        )
        first = invited.scalar_one_or_none()
        event = await session.get(Event, event_id)
        started = event.starts_at if event else None
        if (first is not None and first <= when) or (started is not None and started <= when):
            return Attribution(None, event_id)
    return Attribution()


# --- polling -----------------------------------------------------------------------------------


def item_key(item: FeedItem) -> str:
    """An entry's key: its address's (as for coverage logged by hand, so a link pasted before
    is not suggested again), else its feed id's."""
    return url_key(item.url) or hashlib.sha256(f"feed\x00{item.key}".encode()).hexdigest()


async def poll_feed(session: AsyncSession, settings: Settings, feed: OutletFeed) -> int:
    """Read one feed and suggest what mentions the organisation; commits. The number of new
    suggestions."""
    feed_id = feed.id
    try:
        got = await fetch.fetch(
            feed.url,
            accept=FEED_ACCEPT,
            etag=feed.etag,
            last_modified=feed.last_modified,
            max_bytes=MAX_BODY,
            timeout=settings.coverage_fetch_timeout,
            allow_private=settings.coverage_fetch_private,
        )
    except fetch.FetchError as exc:
        feed.error, feed.polled_at = str(exc)[:500], datetime.now(UTC)
        session.add(feed)
        await session.commit()
        return 0
    feed.polled_at = datetime.now(UTC)
    if got.status == 304:
        feed.error = ""
        session.add(feed)
        await session.commit()
        return 0
    info = await asyncio.to_thread(read_feed, got.body, url=got.url, content_type=got.content_type)
    feed.etag, feed.last_modified = got.etag[:300], got.last_modified[:100]
    feed.error = str(info.error)[:500]
    outlet = await session.get(Outlet, feed.outlet_id)
    matcher = await matcher_for(session, feed.org_id)
    org_id, outlet_id, reach = feed.org_id, feed.outlet_id, outlet.reach if outlet else None
    added = 0
    for entry in info.items:
        try:
            if await _suggest(
                session, matcher, entry,
                org_id=org_id, outlet_id=outlet_id, feed_id=feed_id, reach=reach,
            ):  # fmt: skip
                added += 1
        except Exception:  # noqa: BLE001
            # One entry nothing foresaw is skipped; the others and the feed are not.
            log.warning("feed %s: an entry could not be suggested", feed_id, exc_info=True)
    session.add(feed)
    await session.commit()
    return added


async def _suggest(
    session: AsyncSession,
    matcher: Matcher,
    entry: FeedItem,
    *,
    org_id: int,
    outlet_id: int,
    feed_id: int | None,
    reach: int | None,
) -> bool:
    """Suggest the entry if it mentions what is looked for and is new; whether it was."""
    hits = matcher.find(entry.title, entry.summary)
    if not hits:
        return False
    key = item_key(entry)
    known = await session.execute(
        select(CoverageItem.id).where(
            CoverageItem.org_id == org_id,
            or_(CoverageItem.url_key == key, CoverageItem.feed_key == key),
        )
    )
    if known.first() is not None:
        return False
    published_at = _sensible(entry.published_at)
    credit = await attribute(session, hits, published_at)
    published = published_at or datetime.now(UTC)
    url = entry.url if len(entry.url) <= 1000 else ""  # a link too long to keep
    headline = (entry.title or entry.url or "?")[:500]
    authors = [a[:200] for a in entry.authors][:20]
    suggestion = CoverageItem(
        org_id=org_id, state="suggested", source="feed", url=url, url_key=key, feed_key=key,
        headline=headline, outlet_id=outlet_id, authors=authors,
        published_on=published.astimezone(LOCAL).date(), medium="online", reach=reach,
        language=entry.language, excerpt=entry.summary[:2000],
        matched=list(dict.fromkeys(k.text for k in hits))[:20],
        campaign_id=credit.campaign_id, event_id=credit.event_id, feed_id=feed_id,
        # As coverage logged by hand is searched (items._apply).
        search_text=search_text(headline, authors, url),
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(suggestion)
    except IntegrityError:  # suggested a moment ago by another poll
        return False
    except DBAPIError:  # what the database refuses (one odd entry) is skipped
        log.warning("feed %s: an entry could not be stored", feed_id, exc_info=True)
        return False
    return True


def _sensible(published_at: datetime | None) -> datetime | None:
    """The date an entry gives, unless no article can have it (zero, year 9999, more than a
    year ahead, like the coverage form refuses): then it is taken as undated."""
    latest = datetime.now(UTC) + timedelta(days=366)
    if published_at is None or not EARLIEST <= published_at <= latest:
        return None
    return published_at


@jobs.handler(POLL_KIND)
async def _poll_job(session: AsyncSession, job: Job, settings: Settings) -> None:
    """The feeds that are due, then the next look queued, whatever happened: one broken
    feed (or a database error on it) never stops the others, nor monitoring."""
    job_id = job.id
    due = datetime.now(UTC) - timedelta(minutes=poll_minutes(settings))
    feed_ids = list(
        (
            await session.execute(
                select(OutletFeed.id)
                .where(_is_due(due))
                .order_by(OutletFeed.polled_at.is_not(None), OutletFeed.polled_at)
                .limit(FEEDS_PER_RUN)
            )
        ).scalars()
    )
    added = 0
    try:
        for feed_id in feed_ids:
            if not await _claim(session, feed_id, due):
                continue  # read by another poller meanwhile, or removed
            feed = await session.get(OutletFeed, feed_id, populate_existing=True)
            if feed is None:
                continue  # removed meanwhile
            try:
                added += await poll_feed(session, settings, feed)
            except Exception as exc:  # noqa: BLE001
                log.exception("feed %s could not be polled", feed_id)
                await session.rollback()
                await _failed(session, feed_id, exc)
    finally:
        if not await jobs.exists(session, POLL_KIND, ("queued",), other_than=job_id):
            await jobs.enqueue(session, POLL_KIND, run_at=datetime.now(UTC) + CHECK_EVERY)
            await session.commit()
    job.progress = {"suggested": added}
    session.add(job)


def poll_minutes(settings: Settings) -> int:
    """How often each feed is read: BEATBOOK_FEED_POLL_MINUTES, at least 5."""
    return max(settings.feed_poll_minutes, 5)


def _is_due(due: datetime) -> Any:
    return OutletFeed.polled_at.is_(None) | (OutletFeed.polled_at < due)


async def _claim(session: AsyncSession, feed_id: int, due: datetime) -> bool:
    """Take a due feed for this poll, in one conditional UPDATE: of two pollers at once
    (two workers, a look queued twice) only one reads it; commits."""
    taken = await session.execute(
        update(OutletFeed)
        .where(OutletFeed.id == feed_id, _is_due(due))
        .values(polled_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return bool(taken.rowcount == 1)


async def _failed(session: AsyncSession, feed_id: int, exc: Exception) -> None:
    """A feed that failed is read again after the interval, not first in every run."""
    await session.execute(
        update(OutletFeed)
        .where(OutletFeed.id == feed_id)
        .values(polled_at=datetime.now(UTC), error=N_("This feed could not be read."))
    )
    await session.commit()


async def _ensure_chain(session: AsyncSession) -> None:
    """A look at the feeds soon (a feed just added is read within the minute)."""
    soon = datetime.now(UTC) + timedelta(minutes=1)
    running = await jobs.exists(session, POLL_KIND, ("running",))
    queued = await session.execute(
        select(Job.id).where(Job.kind == POLL_KIND, Job.status == "queued", Job.run_at <= soon)
    )
    if not running and queued.first() is None:
        await jobs.enqueue(session, POLL_KIND)


async def ensure_polling(session: AsyncSession) -> None:
    """Start the chain when any feed is watched and no look is queued or running; commits."""
    any_feed = await session.execute(select(OutletFeed.id).limit(1))
    if any_feed.first() is not None:
        await _ensure_chain(session)
        await session.commit()


# --- keywords ----------------------------------------------------------------------------------

MAX_KEYWORDS = 50


def clean_keywords(words: list[str]) -> list[str]:
    """Keywords as the officer typed them, blanks and repeats dropped; each at most 100
    characters, at most MAX_KEYWORDS."""
    kept: list[str] = []
    for word in words:
        word = " ".join(word.split())
        if len(word) > 100:
            raise InvalidInput({"keywords": N_("A keyword has at most 100 characters.")})
        if word and word.casefold() not in {k.casefold() for k in kept}:
            kept.append(word)
    if len(kept) > MAX_KEYWORDS:
        raise InvalidInput({"keywords": N_("At most %(n)s keywords.", n=MAX_KEYWORDS)})
    return kept


async def set_keywords(
    session: AsyncSession,
    actor: Actor,
    words: list[str],
    *,
    campaign_id: int | None = None,
    event_id: int | None = None,
) -> list[str]:
    """The organisation's keywords, or one of its campaigns' or events'; commits."""
    actor.require_write()
    kept = clean_keywords(words)
    target: Organisation | Campaign | Event | None
    if campaign_id is not None:
        target = await session.get(Campaign, campaign_id)
    elif event_id is not None:
        target = await session.get(Event, event_id)
    else:
        target = await session.get(Organisation, actor.org_id)
    if target is None or getattr(target, "org_id", getattr(target, "id", None)) != actor.org_id:
        raise NotFound("campaign" if campaign_id else "event")
    if isinstance(target, Organisation):
        target.coverage_keywords = kept
    else:
        target.keywords = kept
    session.add(target)
    await session.commit()
    return kept


@dataclass
class MonitoringView:
    keywords: list[str]
    feeds: list[tuple[OutletFeed, str]]  # with the outlet's name
    campaigns: list[Campaign]  # launched, latest first
    events: list[Event]  # latest first


async def monitoring_view(session: AsyncSession, actor: Actor) -> MonitoringView:
    org = await session.get(Organisation, actor.org_id)
    feeds = await session.execute(
        select(OutletFeed, Outlet.name)
        .join(Outlet, Outlet.id == OutletFeed.outlet_id)
        .where(OutletFeed.org_id == actor.org_id)
        .order_by(Outlet.sort_key, OutletFeed.id)
    )
    campaigns = await session.execute(
        select(Campaign)
        .where(
            Campaign.org_id == actor.org_id,
            Campaign.kind != "answer",
            Campaign.launched_at.is_not(None),
        )
        .order_by(Campaign.launched_at.desc())
        .limit(20)
    )
    events = await session.execute(
        select(Event).where(Event.org_id == actor.org_id).order_by(Event.starts_at.desc()).limit(20)
    )
    return MonitoringView(
        org.coverage_keywords if org else [],
        [(f, name) for f, name in feeds.all()],
        list(campaigns.scalars()),
        list(events.scalars()),
    )
