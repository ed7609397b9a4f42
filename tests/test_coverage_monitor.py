"""Coverage monitoring end to end on a real database and a real HTTP server on loopback: an
outlet's feed read by the job chain, what mentions the organisation suggested once (never
again, dismissed or not), credited to the campaign that went out before it, and a
conditional GET the next time."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import coalitions, jobs
from crm.models import Campaign, CoverageItem, Event, Job, OutletFeed
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from outreach.coverage import drafts, items, monitor
from tests.conftest import World, login
from tests.http_server import HttpServer, running
from web.app import create_app

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


async def _watch_koha(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    """Koha's feed (served at /feed) watched by the organisation, and read once."""
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    await monitor.add_feed(session, world.editor, koha.id or 0, web.url("/feed"))
    await _drain(maker, watching)


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


@pytest.mark.parametrize(
    "odd_date",
    [
        "Fri, 31 Dec 9999 23:30:00 +0000",  # past the last day a date can be, in Belgrade
        "Thu, 01 Jan 1970 00:00:00 +0000",  # a date of nothing (zero), as some sites send
    ],
)
async def test_an_entry_dated_impossibly_is_suggested_as_undated_and_the_others_too(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
    odd_date: str,
) -> None:
    feed = (FEEDS / "koha_wordpress_rss.xml").read_bytes()
    odd = feed.replace(b"Tue, 12 Mar 2024 13:47:02 +0000", odd_date.encode())  # 412345
    web.serve("/feed", body=odd, headers=RSS)
    await _watch_koha(session, maker, world, watching, web)

    found = {_article(i.url): i for i in await _suggested(session, world.editor.org_id)}
    assert sorted(found) == ["412330", "412345"]
    assert found["412345"].published_on == datetime.now(drafts.LOCAL).date()  # as if undated
    assert found["412330"].published_on == date(2024, 3, 12)
    polled = await session.get(OutletFeed, found["412345"].feed_id, populate_existing=True)
    assert polled is not None and polled.error == ""


async def test_suggestions_are_found_by_the_coverage_search(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    web.serve("/feed", body=(FEEDS / "koha_wordpress_rss.xml").read_bytes(), headers=RSS)
    await _watch_koha(session, maker, world, watching, web)

    async def search(q: str) -> list[str]:
        rows, _ = await items.list_coverage(session, world.editor, state="suggested", q=q)
        return sorted(_article(r.item.url) for r in rows)

    assert await search("hetim prizren") == ["412345"]  # the headline, without diacritics
    assert await search("Krasniqi") == ["412345"]  # the byline
    assert await search("koha.net") == ["412330", "412345"]  # the site


async def test_a_partners_joint_campaign_and_event_are_looked_for_and_credited(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    web.serve("/feed", body=(FEEDS / "koha_wordpress_rss.xml").read_bytes(), headers=RSS)
    coalition = await coalitions.create_coalition(session, world.outsider, "Koalicioni")
    await coalitions.invite_org(session, world.outsider, coalition.id or 0, "Qendra për Drejtësi")
    await coalitions.respond(session, world.owner, coalition.id or 0, accept=True)
    # Other Org leads; Qendra (the world's organisation) takes part as a partner.
    lead = world.outsider.org_id
    launched = datetime(2024, 3, 1, 9, tzinfo=UTC)
    joint = Campaign(
        org_id=lead, coalition_id=coalition.id, name="Moti", status="finished",
        keywords=["reshje shiu"], launched_at=launched,
    )  # fmt: skip
    theirs_alone = Campaign(
        org_id=lead, name="Kurti", status="finished", keywords=["Kurti"], launched_at=launched
    )  # fmt: skip
    cohosted = Event(
        org_id=lead, coalition_id=coalition.id, title="Rinia", keywords=["UNDP"], uid="rinia@t",
        starts_at=launched, ends_at=launched,
    )  # fmt: skip
    session.add_all([joint, theirs_alone, cohosted])
    await session.commit()
    await _watch_koha(session, maker, world, watching, web)

    found = {_article(i.url): i for i in await _suggested(session, world.editor.org_id)}
    assert sorted(found) == ["412301", "412317", "412330", "412345"]  # not "Kurti" (412338)
    assert (found["412317"].campaign_id, found["412317"].event_id) == (joint.id, None)
    assert (found["412301"].campaign_id, found["412301"].event_id) == (None, cohosted.id)
    assert found["412345"].campaign_id is None  # the organisation's own name


async def test_two_pollers_at_once_read_a_feed_once(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    feed = (FEEDS / "koha_wordpress_rss.xml").read_bytes()
    web.serve("/feed", body=feed, headers=RSS, delay=0.5)
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    await monitor.add_feed(session, world.editor, koha.id or 0, web.url("/feed"))
    await jobs.enqueue(session, monitor.POLL_KIND)  # a second look, as two workers would run
    await session.commit()

    ran = await asyncio.gather(jobs.run_one(maker, watching), jobs.run_one(maker, watching))

    assert ran == [True, True]
    assert len(web.requests_to("/feed")) == 1
    assert len(await _suggested(session, world.editor.org_id)) == 2


# --- the monitoring page -----------------------------------------------------------------------


@pytest.fixture
async def browser(watching: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app, with feeds read every quarter of an hour."""
    app = create_app(watching.model_copy(update={"feed_poll_minutes": 15}), run_jobs=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.engine.dispose()


def _page(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


async def test_the_page_says_how_often_the_feeds_are_read(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: World
) -> None:
    await login(browser, world.emails["viewer"])
    await login(client, world.emails["viewer"])

    every_quarter = _page(await browser.get("/coverage/monitoring")).select_one("main p.muted")
    every_hour = _page(await client.get("/coverage/monitoring")).select_one("main p.muted")

    assert every_quarter is not None and "every 15 minutes." in every_quarter.text
    assert every_hour is not None and "every hour." in every_hour.text


async def test_a_refused_form_keeps_what_was_typed_and_says_why_beside_it(
    browser: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    await monitor.set_keywords(session, world.editor, ["Qendra për Drejtësi"])
    campaign = Campaign(
        org_id=world.editor.org_id, name="Tenderët", status="finished", keywords=["tenderi"],
        launched_at=datetime(2024, 3, 1, 9, tzinfo=UTC),
    )  # fmt: skip
    session.add(campaign)
    await session.commit()
    token = await login(browser, world.emails["editor"])
    too_long = "Q" * 101

    # The organisation's keywords.
    typed = f"Qendra për Drejtësi\nCentar za pravdu\n{too_long}"
    sent = await browser.post(
        "/coverage/monitoring/keywords", data={"csrftoken": token, "keywords": typed}
    )
    assert sent.status_code == 422
    page = _page(sent)
    assert page.select_one("#f-keywords").text == typed
    assert "100 characters" in page.select_one(".field.invalid #keywords-error").text
    assert page.select("p.error") == [page.select_one("#keywords-error")]

    # A campaign's: said in its row, what was typed kept there.
    sent = await browser.post(
        "/coverage/monitoring/keywords",
        data={
            "csrftoken": token,
            "campaign_id": str(campaign.id),
            "keywords": f"tender, {too_long}",
        },
    )
    assert sent.status_code == 422
    page = _page(sent)
    row = page.select_one(f"#kw-c{campaign.id}")
    assert row is not None and row["value"] == f"tender, {too_long}"
    assert row["aria-invalid"] == "true"
    assert "100 characters" in page.select_one(f"#kw-c{campaign.id}-error").text
    assert page.select_one("#f-keywords").text == "Qendra për Drejtësi"  # as saved
    assert len(page.select("p.error")) == 1

    # A feed: the outlet chosen and the address typed are kept, the error beside the address.
    sent = await browser.post(
        "/coverage/monitoring/feeds",
        data={"csrftoken": token, "outlet_id": str(koha.id), "url": "koha.net/feed"},
    )
    assert sent.status_code == 422
    page = _page(sent)
    assert page.select_one("#f-feed-url")["value"] == "koha.net/feed"
    assert page.select_one("#f-feed-outlet option[selected]")["value"] == str(koha.id)
    assert "https://" in page.select_one("#feed-url-error").text
    assert page.select_one("#f-keywords").text == "Qendra për Drejtësi"
    assert len(page.select("p.error")) == 1

    # No outlet chosen: said beside the outlet, the address kept.
    sent = await browser.post(
        "/coverage/monitoring/feeds",
        data={"csrftoken": token, "outlet_id": "", "url": "https://www.koha.net/feed"},
    )
    assert sent.status_code == 422
    page = _page(sent)
    assert page.select_one("#f-feed-url")["value"] == "https://www.koha.net/feed"
    assert page.select_one("#feed-outlet-error") is not None
    assert page.select("#f-feed-outlet option[selected]") == []


async def test_a_suggestion_confirmed_with_its_link_corrected_or_dropped_is_not_suggested_again(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    watching: Settings,
    web: HttpServer,
) -> None:
    feed = (FEEDS / "koha_wordpress_rss.xml").read_bytes()
    web.serve("/feed", body=feed, headers=RSS)
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    await monitor.set_keywords(session, world.editor, ["Qendr* per drejtesi"])
    await monitor.add_feed(session, world.editor, koha.id or 0, web.url("/feed"))
    await _drain(maker, watching)
    first, second, third = await _suggested(session, world.editor.org_id)
    # The officer corrects one link, drops another (a print piece after all), confirms both.
    for item, url in ((first, first.url + "?amp=1&page=2"), (second, "")):
        data = items.CoverageIn(
            url=url, headline=item.headline, published_on=item.published_on, medium="print"
        )
        await items.update_coverage(session, world.editor, item.id or 0, data, confirm=True)
    await _due_again(session)
    web.serve("/feed", body=feed.replace(b"Koha.net</title>", b"Koha</title>"), headers=RSS)
    await _drain(maker, watching)
    again = await _suggested(session, world.editor.org_id)
    assert len(again) == 3
    assert sorted(i.state for i in again) == ["confirmed", "confirmed", "suggested"]
