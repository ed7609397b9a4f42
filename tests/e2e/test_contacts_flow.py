"""In Chromium: log in, search contacts as you type (diacritics and Cyrillic folded), open a
contact, log a call on the timeline with HTMX, and find it there again after a reload; in
English, and in Albanian after picking it under Settings."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page, Response, expect

from tests.e2e.conftest import BrowserPage, LiveServer

pytestmark = pytest.mark.e2e


def _search_for(text: str):  # type: ignore[no-untyped-def]
    """Matches the HTMX request the search box sends for exactly `text`."""

    def matches(response: Response) -> bool:
        parts = urlsplit(response.url)
        return (
            parts.path == "/contacts"
            and response.request.headers.get("hx-request") == "true"
            and parse_qs(parts.query).get("q") == [text]
        )

    return matches


async def _type_search(page: Page, text: str) -> None:
    """Clear the box and type `text` key by key; wait for the HTMX results for it."""
    box = page.locator("#q")
    async with page.expect_response(_search_for(text)) as info:
        await box.fill("")
        await box.press_sequentially(text, delay=20)
    response = await info.value
    assert response.status == 200, await response.text()
    await expect(
        page.locator("#results"), "the results must replace #results, not nest inside it"
    ).to_have_count(1)


async def _mark_document(page: Page) -> None:
    """Tag the current document; the tag survives HTMX swaps and vanishes on a full load."""
    await page.evaluate("window.__e2eMarker = 'still here'")


async def _same_document(page: Page) -> bool:
    return bool(await page.evaluate("window.__e2eMarker === 'still here'"))


# What the officer reads on the way, in each language of the interface.
WORDS = {
    "en": {
        "main": "Main", "contacts": "Contacts", "empty": "Nothing on the timeline yet.",
        "what": "What", "summary": "Summary", "log": "Log it", "call": "call",
    },
    "sq": {
        "main": "Kryesore", "contacts": "Kontaktet", "empty": "Ende nuk ka asgjë në historik.",
        "what": "Çfarë", "summary": "Përmbledhja", "log": "Regjistroje", "call": "telefonatë",
    },
}  # fmt: skip


@pytest.mark.parametrize("language", ["en", "sq"])
async def test_search_and_log_a_call(
    live_server: LiveServer, browser_page: BrowserPage, language: str
) -> None:
    page = browser_page.page
    words = WORDS[language]

    # Log in through the form (each language its own user: the choice is theirs to keep).
    await page.goto("/login")
    await page.get_by_label("Email").fill(live_server.users[language])
    await page.get_by_label("Password").fill(live_server.password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    if language != "en":  # pick the interface language under Settings
        await page.goto("/settings")
        form = page.locator('form[action="/settings/language"]')
        await form.get_by_label("Language of the interface").select_option(language)
        async with page.expect_navigation():
            await form.get_by_role("button").click()
        await expect(page.locator("html")).to_have_attribute("lang", language)
    nav = page.get_by_role("navigation", name=words["main"])

    # Go to Contacts: everyone is listed.
    await nav.get_by_role("link", name=words["contacts"]).click()
    await expect(page).to_have_url(re.compile(r"/contacts$"))
    results = page.locator("#results")
    await expect(results).to_contain_text("Këlmendi")
    await _mark_document(page)

    # Search as you type, without diacritics: only Ćosić.
    await _type_search(page, "cosic")
    await expect(results.get_by_role("link", name="Dragan Ćosić")).to_be_visible()
    await expect(results).not_to_contain_text("Këlmendi")
    await expect(results).not_to_contain_text("Јовановић")
    await expect(page).to_have_url(re.compile(r"[?&]q=cosic"))

    # With the diacritics typed in.
    await _type_search(page, "Ćosić")
    await expect(results.get_by_role("link", name="Dragan Ćosić")).to_be_visible()
    await expect(results).not_to_contain_text("Këlmendi")

    # Latin finds Cyrillic.
    await _type_search(page, "jovanovic")
    await expect(results.get_by_role("link", name="Јован Јовановић")).to_be_visible()
    await expect(results).not_to_contain_text("Ćosić")
    await expect(results).not_to_contain_text("Këlmendi")
    assert await _same_document(page), "searching reloaded the page instead of swapping results"

    # Open the contact.
    await results.get_by_role("link", name="Јован Јовановић").click()
    await expect(page).to_have_url(re.compile(r"/contacts/\d+$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Јован Јовановић")
    timeline = page.locator("#timeline")
    await expect(timeline).to_contain_text(words["empty"])
    await _mark_document(page)

    # Log a call through the timeline form (HTMX swaps the timeline in place).
    summary = f"Called about the water report; will ring back Thursday ({language})"
    form = timeline.locator("form.log-form")
    await form.get_by_label(words["what"]).select_option("call")
    await form.get_by_label(words["summary"]).fill(summary)
    async with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/interactions")
    ) as info:
        await form.get_by_role("button", name=words["log"]).click()
    response = await info.value
    assert response.status == 200, await response.text()
    entry = timeline.locator("ol.timeline > li.kind-call")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text(summary)
    await expect(entry).to_contain_text(words["call"])
    await expect(timeline).not_to_contain_text(words["empty"])
    assert await _same_document(page), "logging the call reloaded the page"
    # The swapped-in form is ready for the next entry.
    await expect(
        page.locator("#timeline form.log-form").get_by_label(words["summary"])
    ).to_have_value("")

    # A reload shows the call from the database.
    await page.reload()
    assert not await _same_document(page)
    await expect(page.locator("#timeline ol.timeline > li.kind-call")).to_contain_text(summary)

    assert not browser_page.console_errors, "console errors:\n" + "\n".join(
        browser_page.console_errors
    )
