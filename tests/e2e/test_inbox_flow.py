"""In Chromium, the whole loop with nothing installed: launch a press release, answer it in
the Mailbox as the journalist, find the reply in the Inbox, on the campaign and on the
contact's timeline, answer it from the Inbox, and read that answer in the Mailbox."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import BrowserPage, LiveServer, draft_campaign, log_in

pytestmark = pytest.mark.e2e


async def test_reply_as_the_journalist_then_answer_from_the_inbox(
    live_server: LiveServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    nav = page.get_by_role("navigation", name="Main")
    await log_in(page, live_server)

    await draft_campaign(
        page, "Ajri në Prishtinë", "Ajri në Prishtinë: raporti i ri",
        "{{ salutation }},\n\nRaporti është gati.\n", recipients="blerta@kallxo.example",
    )  # fmt: skip
    await page.get_by_role("link", name="Check and launch").click()
    async with page.expect_navigation():
        await page.get_by_role("button", name="Send to 1 recipient now").click()
    await expect(page.locator("#progress .badge").first).to_have_text("finished", timeout=20_000)
    campaign_url = page.url

    # The journalist answers from her mail program (played in the Mailbox).
    await nav.get_by_role("link", name="Mailbox").click()
    await page.get_by_role("link", name="Ajri në Prishtinë: raporti i ri").click()
    await page.get_by_label("Their reply").fill("Faleminderit! Kur është konferenca?")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Reply as this journalist").click()

    # It arrives in the Inbox, stripped of the quoted press release.
    await expect(page).to_have_url(re.compile(r"/inbox$"))
    row = page.locator("table.inbox tbody tr", has_text="Kur është konferenca?")
    await expect(row).to_contain_text("reply")
    await row.get_by_role("link", name=re.compile("^Re: ")).click()
    await expect(page.locator(".reply-text .mail-text")).to_have_text(
        "Faleminderit! Kur është konferenca?"
    )

    # The officer answers; the outbox sends it, threaded.
    await page.get_by_label(re.compile("^Answer ")).fill("Të enjten në ora 11, në Hotel Sirius.")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Send the answer").click()
    badge = page.locator("#answers .sent-answer .badge")
    for _ in range(60):  # the page shows the answer's state when loaded: look again
        if (await badge.inner_text()).strip() == "sent":
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(badge).to_have_text("sent")

    # The campaign counts the reply and shows it on the journalist's row.
    await page.goto(campaign_url)
    await expect(page.locator(".count-replied strong")).to_have_text("1")
    await expect(page.locator("table.deliveries td.reply")).to_contain_text("Kur është")
    # And it is on her timeline.
    await page.locator("table.deliveries a[href^='/contacts/']").click()
    await expect(page.locator("main")).to_contain_text("Faleminderit! Kur është konferenca?")

    # The answer reached her, as she sees it in the Mailbox.
    await nav.get_by_role("link", name="Mailbox").click()
    await page.get_by_role("link", name="Re: Ajri në Prishtinë: raporti i ri").click()
    await expect(page.locator("pre.mail-text")).to_contain_text("Të enjten në ora 11")
    assert browser_page.console_errors == []
