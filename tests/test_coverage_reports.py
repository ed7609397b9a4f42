"""Coverage reports against a fixture whose numbers are computed by hand: a press-conference
invitation sent to five journalists (one bounced, two replied, three came), four items of
coverage (one still a suggestion), and another organisation's item that must not count."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import AsyncSession

from crm import coalitions
from crm.contacts import ContactIn, create_contact
from crm.errors import InvalidInput, NotFound
from crm.models import Attendance, Campaign, CoverageItem, Delivery, Event
from crm.outlets import OutletIn, create_outlet
from outreach.coverage import items, reports
from outreach.coverage.items import CoverageIn
from tests.conftest import World, login
from web import pdf as web_pdf

NOW = datetime(2026, 11, 10, 9, tzinfo=UTC)


async def _fixture(session: AsyncSession, world: World) -> dict[str, int]:
    ed = world.editor
    org = ed.org_id
    koha = await create_outlet(session, ed, OutletIn(name="Koha", medium="online"))
    rtk = await create_outlet(session, ed, OutletIn(name="RTK", medium="tv"))
    people = []
    for given in ("Arta", "Besa", "Dren", "Era", "Fatos"):
        contact = await create_contact(
            session, ed, ContactIn(given_name=given, family_name="K", emails=[f"{given}@x.net"])
        )
        people.append(contact.id or 0)
    event = Event(
        org_id=org, title="Konferenca", starts_at=NOW.replace(day=20),
        ends_at=NOW.replace(day=20, hour=11), uid="konferenca@beatbook",
    )  # fmt: skip
    session.add(event)
    await session.flush()
    campaign = Campaign(org_id=org, name="Ftesë", kind="invitation", status="finished",
                        event_id=event.id, launched_at=NOW)  # fmt: skip
    other = Campaign(org_id=org, name="Tjetër", status="finished", launched_at=NOW)
    session.add_all([campaign, other])
    await session.flush()
    for n, contact_id in enumerate(people):
        name = ("Arta", "Besa", "Dren", "Era", "Fatos")[n]
        session.add(
            Delivery(
                campaign_id=campaign.id or 0, org_id=org, contact_id=contact_id,
                address=f"{name}@x.net", address_norm=f"{name.lower()}@x.net", language="sq",
                message_id=f"<{n}@qendra.org>", status="sent", sent_at=NOW,
                bounced_at=NOW if n == 4 else None,  # Fatos bounced
                replied_at=NOW if n in (0, 1) else None,  # Arta and Besa replied
            )
        )  # fmt: skip
        if n < 3:  # Arta, Besa and Dren came
            session.add(Attendance(event_id=event.id or 0, org_id=org, contact_id=contact_id,
                                   address_norm=f"{name.lower()}@x.net", rsvp="accepted",
                                   checked_in_at=NOW.replace(day=20)))  # fmt: skip
    # Someone who walked in without an invitation came, but is no step of the funnel.
    session.add(Attendance(event_id=event.id or 0, org_id=org, name="Walk-in",
                           address_norm="walkin@x.net", walk_in=True,
                           checked_in_at=NOW.replace(day=20)))  # fmt: skip
    # A test send to the officer herself is no recipient.
    session.add(Delivery(campaign_id=campaign.id or 0, org_id=org, address="me@qendra.org",
                         address_norm="me@qendra.org", language="sq", message_id="<t@q>",
                         status="sent", is_test=True))  # fmt: skip
    await session.commit()
    ids = {"event": event.id or 0, "campaign": campaign.id or 0, "other": other.id or 0,
           "koha": koha.id or 0, "rtk": rtk.id or 0}  # fmt: skip
    arta, besa, _, era, _ = people

    async def log(**given: object) -> None:
        base: dict[str, object] = {"headline": "H", "published_on": date(2026, 11, 21)}
        await items.create_coverage(session, ed, CoverageIn.model_validate(base | given))

    await log(headline="Konferenca e Qendrës", outlet_id=ids["koha"], byline=[arta],
              campaign_id=ids["campaign"], reach=50_000, tone="positive", language="sq",
              url="https://koha.net/1")  # fmt: skip
    await log(headline="Lajmet e mbrëmjes", outlet_id=ids["rtk"], medium="tv", byline=[besa, era],
              event_id=ids["event"], reach=200_000, tone="neutral", language="sq",
              published_on=date(2026, 11, 20))  # fmt: skip
    await log(headline="Court delays", outlet_id=ids["koha"], campaign_id=ids["campaign"],
              tone="", language="en", url="https://koha.net/2",
              published_on=date(2026, 12, 2))  # fmt: skip
    await log(headline="Tjetër", campaign_id=ids["other"], url="https://koha.net/3")
    suggested = CoverageItem(
        org_id=org, state="suggested", headline="Suggested", campaign_id=ids["campaign"],
        published_on=date(2026, 11, 22),
    )  # fmt: skip
    session.add(suggested)
    outsider_item = CoverageItem(org_id=world.outsider.org_id, headline="Theirs",
                                 published_on=date(2026, 11, 21))  # fmt: skip
    session.add(outsider_item)
    await session.commit()
    return ids


async def test_an_events_report_adds_up(session: AsyncSession, world: World) -> None:
    ids = await _fixture(session, world)
    result = await reports.report(session, world.editor, event_id=ids["event"])
    # Its invitation's two items and the one logged against the event itself.
    assert [i.headline for i, _ in result.items] == [
        "Lajmet e mbrëmjes", "Konferenca e Qendrës", "Court delays",
    ]  # fmt: skip
    assert result.by_outlet == [("Koha", 2), ("RTK", 1)]
    assert result.by_medium == [("online", 2), ("tv", 1)]
    assert result.by_tone == [("", 1), ("neutral", 1), ("positive", 1)]
    assert result.by_language == [("sq", 2), ("en", 1)]
    assert (result.reach, result.without_reach) == (250_000, 1)
    assert result.funnel is not None
    # 5 reached (not the test send), 4 not bounced, 2 replied, 3 came, and Arta, Besa and
    # Era wrote (Era on the TV piece's byline).
    assert result.funnel.steps() == [
        ("sent", 5), ("delivered", 4), ("replied", 2), ("attended", 3), ("covered", 3),
    ]  # fmt: skip
    # Per day from the first to the last item: 20.11 one, 21.11 one, 2.12 one.
    assert result.over_time[0] == (date(2026, 11, 20), 1)
    assert result.over_time[-1] == (date(2026, 12, 2), 1)
    assert sum(n for _, n in result.over_time) == 3 and len(result.over_time) == 13


async def test_a_campaign_and_a_date_range_report(session: AsyncSession, world: World) -> None:
    ids = await _fixture(session, world)
    campaign = await reports.report(session, world.editor, campaign_id=ids["campaign"])
    assert [i.headline for i, _ in campaign.items] == ["Konferenca e Qendrës", "Court delays"]
    assert campaign.funnel is not None and campaign.funnel.covered == 1  # Arta
    assert campaign.funnel.attended == 3  # its event's guests
    november = await reports.report(
        session, world.editor, since=date(2026, 11, 1), until=date(2026, 11, 30)
    )
    assert sorted(i.headline for i, _ in november.items) == [
        "Konferenca e Qendrës", "Lajmet e mbrëmjes", "Tjetër",
    ]  # fmt: skip
    assert november.funnel is not None and november.funnel.sent == 5  # both campaigns' own
    with pytest.raises(InvalidInput):
        await reports.report(session, world.editor, since=date(2026, 12, 1), until=date(2026, 1, 1))
    with pytest.raises(NotFound):
        await reports.report(session, world.outsider, campaign_id=ids["campaign"])
    theirs = await reports.report(
        session, world.outsider, since=date(2026, 11, 1), until=date(2026, 11, 30)
    )
    assert [i.headline for i, _ in theirs.items] == ["Theirs"]


async def test_the_report_page_csv_and_pdf(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _fixture(session, world)
    await login(client, world.emails["viewer"])  # a director reads reports
    page = await client.get(f"/coverage/report?event_id={ids['event']}")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert [td.text for td in soup.select(".funnel td.n")] == ["5", "4", "2", "3", "3"]
    assert soup.select_one("svg.chart") is not None
    names, counts = soup.select(".by-outlet th"), soup.select(".by-outlet td")
    outlets = {th.text: td.text for th, td in zip(names, counts, strict=True)}
    assert outlets == {"Koha": "2", "RTK": "1"}

    exported = await client.get(f"/coverage/report.csv?event_id={ids['event']}")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["headline"] for r in rows] == [
        "Lajmet e mbrëmjes", "Konferenca e Qendrës", "Court delays",
    ]  # fmt: skip
    assert rows[0]["outlet"] == "RTK" and rows[0]["reach"] == "200000"

    pdf = await client.get(f"/coverage/report.pdf?event_id={ids['event']}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert b"Konferenca" in pdf.content or len(pdf.content) > 5_000  # text is compressed

    bad = await client.get("/coverage/report?since=2026-12-01&until=2026-01-01")
    assert bad.status_code == 422 and "before the first" in bad.text
    await login(client, world.emails["outsider"])
    assert (await client.get(f"/coverage/report?event_id={ids['event']}")).status_code == 404


async def test_the_csv_keeps_formulas_as_text(session: AsyncSession, world: World) -> None:
    await items.create_coverage(
        session, world.editor,
        CoverageIn(headline='=HYPERLINK("http://evil.example","Kliko")',
                   authors=["+cmd|' /C calc'!A0"], published_on=date(2026, 11, 3)),
    )  # fmt: skip
    result = await reports.report(
        session, world.editor, since=date(2026, 11, 1), until=date(2026, 11, 30)
    )
    [row] = list(csv.DictReader(io.StringIO((await reports.report_csv(session, result))[1:])))
    assert row["headline"].startswith("'=HYPERLINK")
    assert row["byline"].startswith("'+cmd")


async def test_a_partner_logs_and_reports_coverage_of_a_joint_campaign(
    session: AsyncSession, world: World
) -> None:
    coalition = await coalitions.create_coalition(session, world.owner, "Koalicioni")
    await coalitions.invite_org(session, world.owner, coalition.id or 0, "Other Org")
    await coalitions.respond(session, world.outsider, coalition.id or 0, accept=True)
    joint = Campaign(org_id=world.owner.org_id, coalition_id=coalition.id, name="E përbashkët",
                     status="finished", launched_at=NOW)  # fmt: skip
    session.add(joint)
    await session.flush()
    session.add(Delivery(campaign_id=joint.id or 0, org_id=world.owner.org_id,
                         address="lead@x.net", address_norm="lead@x.net", language="sq",
                         message_id="<j1@q>", status="sent"))  # fmt: skip
    await session.commit()
    await items.create_coverage(
        session, world.outsider,
        CoverageIn(headline="Deklarata e koalicionit", campaign_id=joint.id,
                   published_on=date(2026, 11, 12)),
    )  # fmt: skip
    result = await reports.report(session, world.outsider, campaign_id=joint.id)
    assert [i.headline for i, _ in result.items] == ["Deklarata e koalicionit"]
    assert result.funnel is not None and result.funnel.sent == 0  # the lead's recipients
    lead = await reports.report(session, world.owner, campaign_id=joint.id)
    assert lead.items == [] and lead.funnel is not None and lead.funnel.sent == 1


async def test_dates_narrow_a_campaigns_list_chart_csv_and_pdf_alike(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    """A campaign's report for November (the donor's reporting period): the item of 2
    December is in none of the list, the chart, the CSV or the PDF's link."""
    ids = await _fixture(session, world)
    await login(client, world.emails["viewer"])
    page = await client.get(
        f"/coverage/report?campaign_id={ids['campaign']}&since=2026-11-01&until=2026-11-30"
    )
    soup = BeautifulSoup(page.text, "html.parser")
    listed = [a.text for a in soup.select(".report-items tbody tr td:nth-of-type(2) a")]
    assert listed == ["Konferenca e Qendrës"]
    assert "01.11.2026" in soup.select_one(".period").text
    bars = soup.select("svg.chart rect")
    assert len(bars) == 30 and sum(int(b.title.text.split(": ")[1]) for b in bars) == 1
    wanted = {"campaign_id": [str(ids["campaign"])], "since": ["2026-11-01"],
              "until": ["2026-11-30"]}  # fmt: skip
    for fmt in ("csv", "pdf"):
        link = soup.select_one(f'a[href^="/coverage/report.{fmt}"]')["href"]
        assert parse_qs(urlsplit(str(link)).query) == wanted
    link = str(soup.select_one('a[href^="/coverage/report.csv"]')["href"])
    rows = list(csv.DictReader(io.StringIO((await client.get(link)).content.decode("utf-8-sig"))))
    assert [r["headline"] for r in rows] == listed


async def test_a_campaigns_report_is_all_of_it_unless_dates_are_typed(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    """This month's dates, the report shown first, are not put in the form: choosing a
    campaign there and pressing Show reports all of the campaign, chart included."""
    ids = await _fixture(session, world)
    await login(client, world.emails["viewer"])
    first = BeautifulSoup((await client.get("/coverage/report")).text, "html.parser")
    assert first.select_one("#r-since")["value"] == first.select_one("#r-until")["value"] == ""
    assert "all of its coverage" in first.select_one("#r-dates").text
    page = await client.get(f"/coverage/report?campaign_id={ids['campaign']}&since=&until=")
    soup = BeautifulSoup(page.text, "html.parser")
    assert len(soup.select(".report-items tbody tr")) == 2
    assert soup.select_one("svg.chart text.first").text == "21.11.2026"
    assert soup.select_one("svg.chart text.last").text == "02.12.2026"
    link = soup.select_one('a[href^="/coverage/report.csv"]')["href"]
    assert parse_qs(urlsplit(str(link)).query) == {"campaign_id": [str(ids["campaign"])]}


async def test_the_chart_has_at_most_sixty_bars(session: AsyncSession, world: World) -> None:
    for day in (date(2024, 1, 3), date(2025, 6, 30), date(2026, 12, 31)):
        await items.create_coverage(
            session, world.editor, CoverageIn(headline="H", published_on=day)
        )
    spans = {
        (date(2026, 11, 2), date(2026, 12, 31)): ("day", 60),
        (date(2026, 7, 1), date(2026, 12, 31)): ("week", 27),  # Monday 29.6. to 28.12.
        (date(2024, 1, 1), date(2026, 12, 31)): ("month", 36),
    }
    for (since, until), (per, bars) in spans.items():
        result = await reports.report(session, world.editor, since=since, until=until)
        assert (len(result.over_time), result.per) == (bars, per), (since, until)
        assert sum(n for _, n in result.over_time) == len(result.items)
    three_years = await reports.report(
        session, world.editor, since=date(2024, 1, 1), until=date(2026, 12, 31)
    )
    assert three_years.over_time[0] == (date(2024, 1, 1), 1)
    assert three_years.over_time[17] == (date(2025, 6, 1), 1)
    assert three_years.axis_label(date(2025, 6, 1)) == "06.2025"
    # A campaign with items decades apart: a bar per year, or per two when there would be
    # more than sixty (an item older than the form allows, as an import could store it).
    campaign = Campaign(org_id=world.editor.org_id, name="Arkivi", status="finished")
    session.add(campaign)
    await session.commit()
    for day in (date(1990, 5, 1), date(2026, 5, 1)):
        await items.create_coverage(
            session, world.editor,
            CoverageIn(headline="Arkiv", published_on=day, campaign_id=campaign.id),
        )  # fmt: skip
    archive = await reports.report(session, world.editor, campaign_id=campaign.id)
    assert archive.per == "year" and archive.step == 1 and len(archive.over_time) == 37
    session.add(CoverageItem(org_id=world.editor.org_id, headline="Old", state="confirmed",
                             campaign_id=campaign.id, published_on=date(1925, 5, 1)))  # fmt: skip
    await session.commit()
    archive = await reports.report(session, world.editor, campaign_id=campaign.id)
    assert archive.per == "year" and archive.step == 2 and len(archive.over_time) == 51
    assert archive.bar_label(archive.over_time[0][0]) == "1925–1926"
    assert sum(n for _, n in archive.over_time) == 3


async def test_the_chart_is_labelled_by_what_a_bar_counts(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await items.create_coverage(
        session, world.editor, CoverageIn(headline="H", published_on=date(2025, 6, 30))
    )
    await login(client, world.emails["viewer"])
    page = await client.get("/coverage/report?since=2024-01-01&until=2026-12-31")
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("h3 .per").text == "(per month)"
    assert soup.select_one("svg.chart text.first").text == "01.2024"
    assert soup.select_one("svg.chart text.last").text == "12.2026"
    assert "06.2025: 1" in [t.text for t in soup.select("svg.chart rect title")]


async def test_a_backwards_range_and_a_long_one_say_what_is_wrong(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    with pytest.raises(InvalidInput) as backwards:
        await reports.report(session, world.editor, since=date(2026, 12, 1), until=date(2026, 1, 1))
    assert backwards.value.errors == {"until": "The last day is before the first."}
    with pytest.raises(InvalidInput) as long:
        await reports.report(session, world.editor, since=date(2020, 1, 1), until=date(2026, 1, 1))
    assert long.value.errors == {"until": "Choose a range of at most three years."}
    await login(client, world.emails["viewer"])
    page = await client.get("/coverage/report?since=2026-12-01&until=2026-11-01")
    assert page.status_code == 422
    alert = BeautifulSoup(page.text, "html.parser").select_one("[role=alert]").text
    assert "before the first" in alert and "three years" not in alert


def test_this_month_is_the_organisations_month() -> None:
    """At half past midnight on 1 November in Prishtina it is still 31 October in UTC."""
    assert reports.this_month(datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == (
        date(2026, 11, 1), date(2026, 11, 1),
    )  # fmt: skip
    assert reports.this_month(datetime(2026, 11, 30, 22, 59, tzinfo=UTC)) == (
        date(2026, 11, 1), date(2026, 11, 30),
    )  # fmt: skip


async def test_a_campaign_launched_after_midnight_local_time_is_the_next_months(
    session: AsyncSession, world: World
) -> None:
    """Launched at 00:30 on 1 December in Prishtina (23:30 UTC on 30 November): its
    recipients are in December's funnel, not November's."""
    late = Campaign(org_id=world.editor.org_id, name="Dhjetor", status="finished",
                    launched_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # fmt: skip
    session.add(late)
    await session.flush()
    session.add(Delivery(campaign_id=late.id or 0, org_id=world.editor.org_id,
                         address="a@x.net", address_norm="a@x.net", language="sq",
                         message_id="<late@q>", status="sent"))  # fmt: skip
    await session.commit()
    november = await reports.report(
        session, world.editor, since=date(2026, 11, 1), until=date(2026, 11, 30)
    )
    december = await reports.report(
        session, world.editor, since=date(2026, 12, 1), until=date(2026, 12, 31)
    )
    assert november.funnel is None
    assert december.funnel is not None and december.funnel.sent == 1


async def test_a_long_pdf_lists_five_hundred_items_and_points_to_the_csv(
    client: httpx.AsyncClient, session: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = date(2026, 1, 1)
    session.add_all(
        CoverageItem(org_id=world.editor.org_id, headline=f"Item {n}",
                     published_on=first + timedelta(days=n % 300))
        for n in range(503)
    )  # fmt: skip
    await session.commit()
    printed: list[str] = []

    async def fake_pdf(html: str) -> bytes:
        printed.append(html)
        return b"%PDF-1.7 fake"

    monkeypatch.setattr("web.routes.coverage.pdf_of", fake_pdf)
    await login(client, world.emails["viewer"])
    pdf = await client.get("/coverage/report.pdf?since=2026-01-01&until=2026-12-31")
    assert pdf.status_code == 200
    soup = BeautifulSoup(printed[0], "html.parser")
    assert len(soup.select(".report-items tbody tr")) == 500
    assert soup.select_one(".tiles strong").text == "503"  # the counts are of all of them
    assert "3 more items" in soup.select_one(".more").text
    assert "CSV" in soup.select_one(".more").text
    page = await client.get("/coverage/report?since=2026-01-01&until=2026-12-31")
    page_soup = BeautifulSoup(page.text, "html.parser")
    assert len(page_soup.select(".report-items tbody tr")) == 503  # the page lists them all
    assert page_soup.select_one(".more") is None


class _SlowHtml:
    """Stands in for weasyprint.HTML: counts the renders running at once."""

    running = 0
    most = 0
    lock = threading.Lock()

    def __init__(self, **kwargs: Any) -> None:
        pass

    def write_pdf(self) -> bytes:
        with self.lock:
            _SlowHtml.running += 1
            _SlowHtml.most = max(_SlowHtml.most, _SlowHtml.running)
        time.sleep(0.15)
        with self.lock:
            _SlowHtml.running -= 1
        return b"%PDF-1.7"


async def test_at_most_two_pdfs_are_made_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint

    monkeypatch.setattr(weasyprint, "HTML", _SlowHtml)
    _SlowHtml.running = _SlowHtml.most = 0
    made = await asyncio.gather(*(web_pdf.pdf_of("<p>x</p>") for _ in range(5)))
    assert made == [b"%PDF-1.7"] * 5
    assert _SlowHtml.most == 2


async def test_a_pdf_that_cannot_be_made_says_so(
    client: httpx.AsyncClient, session: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weasyprint

    class BrokenHtml:
        def __init__(self, **kwargs: Any) -> None:
            pass

        def write_pdf(self) -> bytes:
            raise AssertionError("font table broken")

    ids = await _fixture(session, world)
    monkeypatch.setattr(weasyprint, "HTML", BrokenHtml)
    await login(client, world.emails["viewer"])
    response = await client.get(f"/coverage/report.pdf?event_id={ids['event']}")
    assert response.status_code == 503
    text = BeautifulSoup(response.text, "html.parser").select_one(".error-page").text
    assert "could not be made" in text and "CSV" in text
    assert "font table" not in text
