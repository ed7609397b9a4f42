"""Confirming and correcting coverage the way an officer does: a suggestion confirmed with
its byline already ticked, a freelancer found by name, a byline written family name first,
the API keeping a suggestion a suggestion until it is confirmed, reading a link without
losing what was typed, and a clipping that downloads under the right extension."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts
from crm.contacts import ContactIn, RoleIn, create_contact
from crm.models import CoverageItem, Interaction
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from outreach.coverage import items
from outreach.coverage.items import CoverageIn
from tests.conftest import World, login
from tests.http_server import HttpServer, running

PAGES = Path(__file__).parent / "fixtures" / "coverage" / "pages"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"coverage_fetch_private": True})


@pytest.fixture
def web() -> Iterator[HttpServer]:
    with running() as server:
        yield server


def _page(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


async def _newsroom(session: AsyncSession, world: World) -> dict[str, int]:
    koha = await create_outlet(
        session, world.editor,
        OutletIn(name="Koha Ditore", medium="online", website="https://www.koha.net"),
    )  # fmt: skip
    rtk = await create_outlet(
        session, world.editor, OutletIn(name="RTK", medium="tv", reach=300_000)
    )
    arben = await create_contact(
        session, world.editor,
        ContactIn(given_name="Arbën", family_name="Krasniqi", roles=[RoleIn(outlet_id=koha.id)]),
    )  # fmt: skip
    # A freelancer: no outlet, so choosing one never offers her.
    vesa = await create_contact(
        session, world.editor, ContactIn(given_name="Vesa", family_name="Hoxha")
    )
    assert koha.id and rtk.id and arben.id and vesa.id
    return {"koha": koha.id, "rtk": rtk.id, "arben": arben.id, "vesa": vesa.id}


async def _suggestion(session: AsyncSession, world: World, **given: object) -> CoverageItem:
    url = str(given.pop("url", "https://www.koha.net/arberi/412345/qendra-kerkon-hetim"))
    key = items.url_key(url)
    values: dict[str, object] = {
        "org_id": world.editor.org_id, "state": "suggested", "source": "feed", "url": url,
        "url_key": key, "feed_key": key, "headline": "Qendra për Drejtësi kërkon hetim",
        "published_on": date(2026, 11, 20), "authors": ["Krasniqi, Arbën"],
        "matched": ["Qendra për Drejtësi"],
    }  # fmt: skip
    values.update(given)
    item = CoverageItem(**values)  # type: ignore[arg-type]
    session.add(item)
    await session.commit()
    return item


async def _timeline(session: AsyncSession, contact_id: int) -> list[Interaction]:
    rows = await session.execute(
        select(Interaction).where(
            Interaction.contact_id == contact_id, Interaction.kind == "coverage"
        )
    )
    return list(rows.scalars())


async def test_correcting_or_dropping_a_suggestions_link_keeps_its_feed_key(
    session: AsyncSession, world: World
) -> None:
    """Monitoring looks an entry up by its feed key: a suggestion confirmed with its address
    corrected (or emptied) must still be found, or the next poll suggests it again."""
    await _newsroom(session, world)
    first = await _suggestion(session, world)
    key = first.feed_key
    data = CoverageIn(
        url="https://www.koha.net/arberi/412345/qendra-kerkon-hetim-per-tenderet",
        headline=first.headline, published_on=date(2026, 11, 20),
    )  # fmt: skip
    await items.update_coverage(session, world.editor, first.id or 0, data, confirm=True)
    second = await _suggestion(session, world, url="https://www.koha.net/feed-entry/99")
    other = second.feed_key
    emptied = CoverageIn(url="", headline="Pa lidhje", published_on=date(2026, 11, 20))
    await items.update_coverage(session, world.editor, second.id or 0, emptied, confirm=True)
    kept = {i.feed_key: i for i in (await session.execute(select(CoverageItem))).scalars()}
    assert set(kept) == {key, other}
    assert kept[key].url_key == items.url_key(data.url)  # the corrected link is the article's
    assert kept[other].url_key is None and kept[other].state == "confirmed"


async def test_a_byline_written_family_name_first_is_one_name(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    assert items.split_byline("Krasniqi, Arbën") == ["Krasniqi, Arbën"]
    assert items.split_byline("Arbën Krasniqi, Vesa Hoxha") == ["Arbën Krasniqi", "Vesa Hoxha"]
    assert items.split_byline("Krasniqi, Arbën; Hoxha, Vesa\nAFP") == [
        "Krasniqi, Arbën", "Hoxha, Vesa", "AFP",
    ]  # fmt: skip
    found, unmatched = await items.contacts_named(session, world.editor, ["KRASNIQI, Arben"])
    assert [c.id for c in found] == [ids["arben"]] and unmatched == []


async def test_confirming_a_suggestion_ticks_whom_its_byline_names(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    item = await _suggestion(session, world, outlet_id=ids["koha"])
    await login(client, world.emails["editor"])
    form = _page(await client.get(f"/coverage/{item.id}/edit"))
    assert [i["value"] for i in form.select("input[name=byline_ids]:checked")] == [
        str(ids["arben"])
    ]
    assert form.select_one("#f-authors").text == "Krasniqi, Arbën"
    assert form.select_one("#coverage-form button[type=submit]").text.strip() == "Confirm"


async def test_the_byline_search_finds_a_freelancer_and_keeps_who_is_ticked(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    await login(client, world.emails["editor"])
    htmx = {"HX-Request": "true"}
    path = f"/coverage/byline?outlet_id={ids['koha']}&byline_ids={ids['arben']}&byline_q=hoxha"
    found = _page(await client.get(path, headers=htmx))
    names = [label.text.strip() for label in found.select("#byline-choices label")]
    assert names == ["Vesa Hoxha", "Arbën Krasniqi"]
    assert [i["value"] for i in found.select("input:checked")] == [str(ids["arben"])]
    # A search without diacritics finds "Arbën"; another organisation finds no one.
    plain = _page(await client.get("/coverage/byline?byline_q=arben", headers=htmx))
    assert [label.text.strip() for label in plain.select("label")] == ["Arbën Krasniqi"]
    await login(client, world.emails["outsider"])
    theirs = _page(await client.get("/coverage/byline?byline_q=hoxha", headers=htmx))
    assert theirs.select("label") == []


async def test_the_api_keeps_a_suggestion_until_it_is_confirmed(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    item = await _suggestion(session, world)
    other_item = await _suggestion(session, world, url="https://www.koha.net/x/7", headline="Jo")
    token = await accounts.create_api_token(session, actor=world.editor, name="test")
    client.headers["Authorization"] = f"Bearer {token}"
    body = {
        "url": item.url, "headline": "Qendra kërkon hetim (korrigjuar)",
        "published_on": "2026-11-20", "byline": [ids["arben"]],
    }  # fmt: skip
    corrected = await client.put(f"/api/v1/coverage/{item.id}", json=body)
    assert corrected.status_code == 200 and corrected.json()["state"] == "suggested"
    assert await _timeline(session, ids["arben"]) == []  # not coverage yet
    confirmed = await client.post(f"/api/v1/coverage/{item.id}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "confirmed"
    [entry] = await _timeline(session, ids["arben"])
    assert entry.summary == "Qendra kërkon hetim (korrigjuar)"
    dismissed = await client.post(f"/api/v1/coverage/{other_item.id}/dismiss")
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"
    again = await client.post(f"/api/v1/coverage/{item.id}/dismiss")
    assert again.status_code == 422  # coverage is not dismissed; it is deleted


async def test_a_dismissed_item_offers_confirm_not_edit(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await _newsroom(session, world)
    item = await _suggestion(session, world, state="dismissed")
    await login(client, world.emails["editor"])
    actions = _page(await client.get(f"/coverage/{item.id}")).select(".page-head .actions a")
    assert [a.text.strip() for a in actions] == ["Confirm…"]


async def test_reading_a_link_fills_only_what_the_page_says(
    client: httpx.AsyncClient, session: AsyncSession, world: World, web: HttpServer
) -> None:
    ids = await _newsroom(session, world)
    web.serve(
        "/sq/lajme/123456",
        body=(PAGES / "rtk_minimal.html").read_bytes(),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    token = await login(client, world.emails["editor"])
    typed = {
        "csrftoken": token, "link": web.url("/sq/lajme/123456"), "headline": "Lajmi i RTK",
        "outlet_id": str(ids["rtk"]), "medium": "tv", "reach": "250000",
        "authors": "Vesa Hoxha", "published_on": "2024-03-01", "byline_ids": str(ids["vesa"]),
    }  # fmt: skip
    page = _page(await client.post("/coverage/fetch", data=typed))
    # What the page says replaces what was typed…
    assert page.select_one("#f-headline")["value"].startswith("Qendra për Drejtësi: Mbi 40 mijë")
    assert page.select_one("#f-published_on")["value"] == "2024-03-14"
    # …and what it does not say is kept.
    assert page.select_one("#f-outlet option[selected]")["value"] == str(ids["rtk"])
    assert page.select_one("#f-medium option[selected]")["value"] == "tv"
    assert page.select_one("#f-reach")["value"] == "250000"
    assert page.select_one("#f-authors").text == "Vesa Hoxha"
    assert [i["value"] for i in page.select("input[name=byline_ids]:checked")] == [str(ids["vesa"])]


async def test_a_clipping_downloads_under_the_extension_of_what_it_is(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await _newsroom(session, world)
    data = CoverageIn(headline="Faqja 3", published_on=date(2026, 11, 20), medium="print")
    item = await items.create_coverage(session, world.editor, data)
    token = await login(client, world.emails["editor"])
    files = {"clipping": ("koha-faqja-3.pdf", PNG, "application/pdf")}  # a scan, misnamed
    sent = await client.post(
        f"/coverage/{item.id}/clipping", data={"csrftoken": token}, files=files
    )
    assert sent.status_code == 303
    download = await client.get(f"/coverage/{item.id}/clipping")
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].endswith("koha-faqja-3.png")
    assert items.clipping_name("Koha 12.03.2026", "application/pdf") == "Koha 12.03.2026.pdf"
    assert items.clipping_name("faqja.JPEG", "image/jpeg") == "faqja.JPEG"
