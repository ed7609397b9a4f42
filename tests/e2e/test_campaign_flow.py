"""In Chromium: write a press release, preview it as a journalist, check and launch it, watch
it go out, and read it in the Mailbox as the journalist received it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import BrowserPage, LiveServer, log_in

pytestmark = pytest.mark.e2e

BODY = """{{ salutation }},

Qendra publikon sot raportin vjetor për **lirinë e shprehjes**.

- Gjetjet sipas rajoneve
- Rekomandimet
"""


async def test_write_preview_launch_and_read_in_the_mailbox(
    live_server: LiveServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    await log_in(page, live_server)

    # Write.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    await page.get_by_role("link", name="New campaign").click()
    await page.get_by_label("Name (for you").fill("Raporti vjetor 2026")
    await page.get_by_label("Default language").select_option("sq")
    albanian = page.locator("details.variant", has_text="Albanian")
    if await albanian.get_attribute("open") is None:  # the org's default language is open
        await albanian.locator("summary").click()
    await albanian.get_by_label("Subject").fill("Raporti vjetor, {{ first_name }}")
    await albanian.get_by_label("Body").fill(BODY)
    contacts = page.get_by_label("Single contacts")
    await contacts.fill("arta@radiodrita.example\nblerta@kallxo.example")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))

    # Preview as one of the journalists: the HTML shows in a sandboxed frame.
    await page.get_by_role("link", name="Preview").click()
    frame = page.frame_locator("iframe.message-html")
    await expect(frame.locator("strong")).to_have_text("lirinë e shprehjes")
    await expect(frame.locator("body")).to_contain_text("Arta")

    # Check and launch.
    await page.go_back()
    await page.get_by_role("link", name="Check and launch").click()
    await expect(page.locator(".launch-count")).to_contain_text("2 journalists")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Send to 2 recipients now").click()

    # Progress updates itself until both are sent.
    await expect(page.locator(".count-sent strong")).to_have_text("2", timeout=20_000)
    await expect(page.locator("#progress .badge").first).to_have_text("finished", timeout=20_000)

    # The Mailbox shows each message as the journalist got it.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Mailbox").click()
    await page.get_by_role("link", name="Raporti vjetor, Blerta").click()
    mail = page.frame_locator("iframe")
    await expect(mail.locator("body")).to_contain_text("Blerta")
    await expect(mail.locator("li").first).to_have_text("Gjetjet sipas rajoneve")
    assert browser_page.console_errors == []
