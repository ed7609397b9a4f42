"""Coverage monitoring end to end on a real database and a real HTTP server on loopback: an
outlet's feed read by the job chain, what mentions the organisation suggested once (never
again, dismissed or not), credited to the campaign that went out before it, and a
conditional GET the next time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import jobs
from crm.models import Campaign, CoverageItem, Job, OutletFeed
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from outreach.coverage import items, monitor
from tests.conftest import World
from tests.http_server import HttpServer, running

FEEDS = Path(__file__).parent / "fixtures" / "coverage" / "feeds"
RSS = {"Content-Type": "application/rss+xml; charset=UTF-8"}


@pytest.fixture
def web() -> Iterator[HttpServer]:
    with running() as server:
        yield server


@pytest.fixture
def watching(settings: Settings) -> Settings:
    return settings.model_copy(update={"coverage_fetch_private": True})


async def _drain(maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    while await jobs.run_one(maker, settings):
        pass


async def _suggested(session: AsyncSession, org_id: int) -> list[CoverageItem]:
    rows = await session.execute(
        select(CoverageItem)
        .where(CoverageItem.org_id == org_id)
        .order_by(CoverageItem.url)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


def _article(url: str) -> str:
    found = re.search(r"/(\d{6})/", url)
    return found.group(1) if found else url


async def _due_again(session: AsyncSession) -> None:
    """As if the poll interval had passed."""
    await session.execute(update(OutletFeed).values(polled_at=None))
    await session.execute(
        update(Job)
        .where(Job.kind == monitor.POLL_KIND, Job.status == "queued")
        .values(run_at=datetime.now(UTC))
    )
    await session.commit()


async def test_a_feed_item_that_mentions_the_organisation_is_suggested_once(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    feed = (FEEDS / "koha_wordpress_rss.xml").read_bytes()
    web.serve("/feed", body=feed, headers=RSS, etag='"v1"')
    org = world.editor.org_id
    koha = await create_outlet(
        session, world.editor, OutletIn(name="Koha", medium="online", reach=90_000)
    )
    # "Qendra për Drejtësi" is the organisation's name; a keyword finds its other forms.
    await monitor.set_keywords(session, world.editor, ["Qendr* per drejtesi"])
    before = Campaign(
        org_id=org, name="Tenderët", status="finished", keywords=["tenderin e ujësjellësit"],
        launched_at=datetime(2024, 3, 1, 9, tzinfo=UTC),
    )  # fmt: skip
    after = Campaign(
        org_id=org, name="Më vonë", status="finished", keywords=["Ujësjellësit"],
        launched_at=datetime(2024, 4, 1, 9, tzinfo=UTC),
    )  # fmt: skip
    session.add_all([before, after])
    await session.commit()
    await monitor.add_feed(session, world.editor, koha.id or 0, web.url("/feed"))
    await _drain(maker, watching)

    found = await _suggested(session, org)
    assert [(_article(i.url), i.state, i.source) for i in found] == [
        ("412322", "suggested", "feed"),  # "Qendrës për Drejtësi": the keyword
        ("412330", "suggested", "feed"),  # "QENDRA PER DREJTESI", in the text only
        ("412345", "suggested", "feed"),  # the name, in the headline
    ]  # fmt: skip
    by_id = {_article(i.url): i for i in found}
    first = by_id["412345"]
    assert first.headline.startswith("Qendra për Drejtësi kërkon hetim")
    assert first.published_on == date(2024, 3, 12) and first.outlet_id == koha.id
    assert first.reach == 90_000 and first.language == "sq"
    assert first.campaign_id == before.id  # sent before it was published
    assert by_id["412330"].campaign_id is None  # its campaign went out after
    assert "Qendra për Drejtësi" in by_id["412345"].matched

    # The next read is conditional, and the same items are not suggested again.
    await items.dismiss_coverage(session, world.editor, by_id["412322"].id or 0)
    await _due_again(session)
    await _drain(maker, watching)
    assert web.requests_to("/feed")[-1].headers.get("if-none-match") == '"v1"'
    web.serve("/feed", body=feed.replace(b"Koha.net</title>", b"Koha</title>"), headers=RSS)
    await _due_again(session)
    await _drain(maker, watching)
    again = await _suggested(session, org)
    assert len(again) == 3
    assert {i.state for i in again} == {"suggested", "dismissed"}

    # Another organisation sees none of it.
    _, theirs = await items.list_coverage(session, world.outsider, state="suggested")
    assert theirs == 0


async def test_a_link_logged_by_hand_is_not_suggested_and_a_broken_feed_says_why(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    web.serve("/feed", body=(FEEDS / "koha_wordpress_rss.xml").read_bytes(), headers=RSS)
    web.serve("/broken", body=(FEEDS / "not_a_feed.html").read_bytes())
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    logged = await items.create_coverage(
        session, world.editor,
        items.CoverageIn(
            url="https://koha.net/arberi/412345/qendra-per-drejtesi-kerkon-hetim-per-tenderin-e-ujesjellesit",
            headline="Qendra kërkon hetim", published_on=date(2024, 3, 12),
        ),
    )  # fmt: skip
    await monitor.add_feed(session, world.editor, koha.id or 0, web.url("/feed"))
    await monitor.add_feed(session, world.editor, koha.id or 0, web.url("/broken"))
    await _drain(maker, watching)
    found = await _suggested(session, world.editor.org_id)
    # The feed's copy of the link (www, a trailing slash) is the article logged by hand.
    assert [(i.id, i.state) for i in found if _article(i.url) == "412345"] == [
        (logged.id, "confirmed")
    ]
    feeds = {f.url: f for f in await monitor.feeds_of(session, world.editor, koha.id or 0)}
    assert feeds[web.url("/broken")].error  # said on the monitoring page
    assert feeds[web.url("/feed")].error == ""
    # Without permission to fetch private addresses (a real server), loopback is refused.
    await _due_again(session)
    await _drain(maker, watching.model_copy(update={"coverage_fetch_private": False}))
    feed = await session.get(OutletFeed, feeds[web.url("/feed")].id, populate_existing=True)
    assert feed is not None and feed.error


async def test_an_odd_entry_or_a_broken_feed_never_stops_monitoring(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    feed = (FEEDS / "koha_wordpress_rss.xml").read_bytes()
    long_link = b"https://www.koha.net/arberi/412345/" + b"x" * 1200 + b"/"
    odd = feed.replace(
        b"https://www.koha.net/arberi/412345/qendra-per-drejtesi-kerkon-hetim-per-tenderin-e-ujesjellesit/",
        long_link,
    )
    web.serve("/odd", body=odd, headers=RSS)
    web.serve("/good", body=feed, headers=RSS)
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    theirs = await create_outlet(session, world.outsider, OutletIn(name="Koha", medium="online"))
    await monitor.add_feed(session, world.editor, koha.id or 0, web.url("/odd"))
    await monitor.add_feed(session, world.outsider, theirs.id or 0, web.url("/good"))
    await _drain(maker, watching)
    ours = await _suggested(session, world.editor.org_id)
    assert len(ours) == 2  # the entry with a link too long to keep is kept without it
    assert [i.url for i in ours if not i.url] == [""]
    # The other organisation (named Other Org: its name is in none of the items) has its
    # feed read all the same.
    good = (
        await session.execute(select(OutletFeed).where(OutletFeed.org_id == world.outsider.org_id))
    ).scalar_one()
    assert good.polled_at is not None and good.error == ""
    # And the chain goes on.
    queued = await session.execute(
        select(Job.id).where(Job.kind == monitor.POLL_KIND, Job.status == "queued")
    )
    assert len(queued.all()) == 1
