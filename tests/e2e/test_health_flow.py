"""In Chromium: log a call a journalist made to us, read on her page why the relationship
stands where it does, plan a follow-up, find it due on the Relationships dashboard and mark
it done there."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import BrowserPage, LiveServer, log_in

pytestmark = pytest.mark.e2e


async def test_a_call_a_follow_up_and_the_dashboard(
    live_server: LiveServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    nav = page.get_by_role("navigation", name="Main")
    await log_in(page, live_server)

    # A journalist of her own for this flow (the shared server's others get mail in other
    # flows).
    await page.goto("/contacts/new")
    await page.get_by_label("Given name").fill("Leutrim")
    await page.get_by_label("Family name").fill("Shala")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()
    health = page.locator("#health")
    await expect(health).to_contain_text("new")
    await page.get_by_label("What").select_option("call")
    await page.get_by_label("Who got in touch").select_option(label="they did")
    await page.get_by_label("Summary").fill("He called about the air-quality report")
    await page.get_by_role("button", name="Log it").click()
    await expect(page.locator("#timeline li.kind-call")).to_have_count(1)
    await page.reload()
    await expect(health).to_contain_text("Got in touch first once this year")
    await expect(health).to_contain_text("last two-way contact today")

    # A follow-up for today, with a mistake first: no title.
    today = await page.evaluate("new Date().toLocaleDateString('en-CA')")
    await page.get_by_label("By").fill(today)
    await page.get_by_role("button", name="Add follow-up").click()
    await expect(page.locator("#follow-ups .error")).to_be_visible()
    await expect(page.get_by_label("By")).to_have_value(today)
    await page.get_by_label("Follow up on").fill("Send him the data tables")
    await page.get_by_role("button", name="Add follow-up").click()
    await expect(page.locator("#follow-ups li.follow-up")).to_contain_text(
        "Send him the data tables"
    )

    await nav.get_by_role("link", name="Relationships").click()
    await expect(page.locator("h1")).to_have_text("Relationship health")
    due = page.locator("#due li.follow-up", has_text="Send him the data tables")
    await expect(due).to_contain_text("Leutrim Shala")
    await due.get_by_role("button", name="Done").click()
    await expect(page).to_have_url(f"{live_server.base_url}/health")
    await expect(
        page.locator("#due li.follow-up", has_text="Send him the data tables")
    ).to_have_count(0)
    await expect(page.locator("svg.spread")).to_be_visible()
    # The refused form answered 422 on purpose; nothing else may show in the console.
    assert [e for e in browser_page.console_errors if "status of 422" not in e] == []
