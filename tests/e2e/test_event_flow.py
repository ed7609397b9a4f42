"""In Chromium: plan a press conference, invite a list from the event's page, read the
invitation in the Mailbox, answer it from its link as the journalist would, and check the
journalist in at the door."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import INVITEES, BrowserPage, LiveServer, log_in

pytestmark = pytest.mark.e2e
TITLE = "Konferenca për ujin e pijshëm"


async def test_plan_invite_answer_and_check_in(
    live_server: LiveServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    await log_in(page, live_server)
    nav = page.get_by_role("navigation", name="Main")

    # Plan the event.
    await nav.get_by_role("link", name="Events").click()
    await page.get_by_role("link", name="New event").click()
    await page.get_by_label("Name of the event").fill(TITLE)
    await page.get_by_label("Starts").fill("2026-12-15T11:00")
    await page.get_by_label("Ends").fill("2026-12-15T12:30")
    await page.get_by_label("Venue").fill("Hotel Sirius")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    await expect(page.locator("#event-facts")).to_contain_text("15 December 2026, 11:00–12:30")

    # Invite a list: the draft comes written, addressed to the event; choose the list.
    async with page.expect_navigation():
        await page.get_by_role("button", name="Invite journalists").click()
    await expect(page.get_by_label("Event")).to_have_value(re.compile(r"\d+"))
    await page.get_by_label(INVITEES).check()
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()
    await page.get_by_role("link", name="Check and launch").click()
    await expect(page.locator(".launch-count")).to_contain_text("2 journalists")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Send to 2 recipients now").click()
    await expect(page.locator(".count-sent strong")).to_have_text("2", timeout=20_000)

    # The journalist's invitation, in the Mailbox: in Albanian, with her own answer links.
    await nav.get_by_role("link", name="Mailbox").click()
    await page.get_by_role("link", name=f"Ftesë: {TITLE}").first.click()
    mail = page.frame_locator("iframe")
    await expect(mail.locator("body")).to_contain_text("e martë, 15 dhjetor 2026, 11:00")
    yes = await mail.get_by_role("link", name="Po").first.get_attribute("href")
    assert yes and "/rsvp/" in yes and yes.endswith("?answer=yes")

    # She answers from the link, on a page in her language, with no login.
    journalist = await page.context.browser.new_context(locale="sq-AL")  # type: ignore[union-attr]
    their = await journalist.new_page()
    await their.goto(yes)
    await expect(their.locator("html")).to_have_attribute("lang", "sq")
    async with their.expect_navigation():
        await their.get_by_role("button", name="Po, do të vij").click()
    await expect(their.locator("#answer")).to_contain_text("Faleminderit")
    await journalist.close()

    # The officer sees the answer, and checks her in at the door.
    await nav.get_by_role("link", name="Events").click()
    await page.get_by_role("link", name=TITLE).click()
    await expect(page.locator("#counts")).to_contain_text("1 coming")
    await page.get_by_role("link", name="Check-in at the door").click()
    search = page.get_by_label("Find a name")
    await search.fill("")
    await search.press_sequentially("hox", delay=30)  # Blerta Hoxha, typed as at the door
    guest = page.locator("#guests li").filter(has_text="Hoxha")
    await expect(page.locator("#guests li")).to_have_count(1)
    await guest.get_by_role("button", name="Check in").click()
    await expect(guest.get_by_role("button", name="Arrived ✓")).to_be_visible()
    await page.reload()
    await expect(page.locator("#arrived")).to_have_text("1 of 2 arrived")
    assert browser_page.console_errors == []
