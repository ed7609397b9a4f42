"""In Chromium: add the outlet, paste a link to an article about the organisation, let
Beatbook read the page, confirm what it found, and see the item in the coverage list, in its
campaign's report and on the journalist's timeline."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import BrowserPage, LiveServer, draft_campaign, log_in
from tests.http_server import HttpServer, running

pytestmark = pytest.mark.e2e

ARTICLE = """<!DOCTYPE html>
<html lang="sq">
<head>
<meta charset="UTF-8">
<title>Gjykatat vonojnë lëndët e korrupsionit - Kallxo.com</title>
<meta property="og:site_name" content="Kallxo.com">
<meta property="og:title" content="Gjykatat vonojnë lëndët e korrupsionit, thotë Qendra">
<meta property="og:url" content="https://kallxo.example/lajm/gjykatat-vonojne-lendet/">
<meta property="article:published_time" content="2026-11-24T08:15:00+01:00">
<meta name="author" content="Blerta Hoxha">
</head>
<body><article><h1>Gjykatat vonojnë lëndët e korrupsionit</h1>
<p>Qendra për Drejtësi publikoi sot raportin e saj vjetor…</p></article></body>
</html>"""


@pytest.fixture
def site() -> Iterator[HttpServer]:
    with running() as server:
        server.serve(
            "/lajm/gjykatat-vonojne-lendet/",
            body=ARTICLE,
            headers={"Content-Type": "text/html; charset=UTF-8"},
        )
        yield server


async def test_paste_a_link_confirm_and_find_it_on_the_timeline(
    live_server: LiveServer, browser_page: BrowserPage, site: HttpServer
) -> None:
    page = browser_page.page
    nav = page.get_by_role("navigation", name="Main")
    await log_in(page, live_server)

    await page.goto("/outlets/new")
    await page.get_by_label("Name").fill("Kallxo")
    await page.get_by_label("Medium").select_option("online")
    await page.get_by_label("Website").fill("https://kallxo.example")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()

    # A press release the article came from (a draft is enough to credit it to).
    await draft_campaign(
        page, "Raporti vjetor", "Raporti vjetor i Qendrës", "{{ salutation }},\n\nRaporti.\n"
    )

    await nav.get_by_role("link", name="Coverage").click()
    await page.get_by_role("link", name="Log coverage").click()
    await page.get_by_label("Notes").fill("Blerta called about it on Monday")  # typed first
    await page.get_by_label("Paste a link to the article").fill(
        site.url("/lajm/gjykatat-vonojne-lendet/")
    )
    await page.get_by_role("button", name="Read the page").click()
    # What the page says, filled in for the officer to check.
    headline = page.get_by_label("Headline")
    await expect(headline).to_have_value("Gjykatat vonojnë lëndët e korrupsionit, thotë Qendra")
    await expect(page.get_by_label("Web address")).to_have_value(
        "https://kallxo.example/lajm/gjykatat-vonojne-lendet/"
    )
    await expect(page.get_by_label("Outlet")).to_have_value(
        await page.locator("#f-outlet option", has_text="Kallxo").get_attribute("value") or ""
    )
    await expect(page.get_by_label("Published on")).to_have_value("2026-11-24")
    await expect(page.get_by_label("Blerta Hoxha")).to_be_checked()
    await expect(page.locator(".draft-notes")).to_contain_text("Kallxo")
    await expect(page.get_by_label("Notes")).to_have_value("Blerta called about it on Monday")
    # She corrects the headline and rates the tone.
    await headline.fill("Gjykatat vonojnë lëndët e korrupsionit")
    await page.get_by_label("positive").check()
    await page.get_by_label("Campaign").select_option(label="Raporti vjetor")
    # A second author, a freelancer for Radio Drita: found by name, Enter only searches.
    search = page.get_by_label("Find a contact for the byline")
    await search.press_sequentially("kelmendi", delay=20)
    await search.press("Enter")
    await page.get_by_label("Arta Këlmendi").check()
    await expect(page.get_by_label("Blerta Hoxha")).to_be_checked()
    await expect(page).to_have_url(re.compile(r"/coverage/new$"))
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()
    await expect(page.locator("h1")).to_have_text("Gjykatat vonojnë lëndët e korrupsionit")

    await nav.get_by_role("link", name="Coverage").click()
    await expect(page.locator("#results tbody tr")).to_have_count(1)
    await expect(page.locator("#results tbody tr")).to_contain_text("Kallxo")

    # In the campaign's report, ready for the donor.
    await page.get_by_role("link", name="Report").click()
    await page.get_by_label("Campaign").select_option(label="Raporti vjetor")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator(".report-items tbody tr")).to_have_count(1)
    await expect(page.locator(".by-outlet")).to_contain_text("Kallxo")
    await expect(page.locator(".by-tone")).to_contain_text("positive")

    await nav.get_by_role("link", name="Contacts").click()
    await page.get_by_role("link", name="Blerta Hoxha").click()
    entry = page.locator("#timeline li.kind-coverage")
    await expect(entry).to_contain_text("Gjykatat vonojnë lëndët e korrupsionit — Kallxo")
    await nav.get_by_role("link", name="Contacts").click()
    await page.get_by_role("link", name="Arta Këlmendi").click()
    await expect(page.locator("#timeline li.kind-coverage")).to_have_count(1)
    assert browser_page.console_errors == []
