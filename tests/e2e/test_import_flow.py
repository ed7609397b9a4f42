"""In Chromium: upload an Excel-on-Windows CSV, correct the column mapping, read the dry run,
import, read the report, and merge the likely duplicate the import flagged."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import BrowserPage, LiveServer, log_in

pytestmark = pytest.mark.e2e

# Windows-1250, semicolons, CRLF, Serbian headers, as Excel saves "CSV (semicolon)".
FILE = (
    "Ime;Prezime;E-mail;Medij;Grad;Napomena\r\n"
    "Dragan;Ćosić;d.cosic@kossev.example;KoSSev;Mitrovica;Pratio je protest\r\n"
    "Vesna;Đurić;vesna.djuric@danas.example;Danas;Beograd;\r\n"
    "Loša;Adresa;nije-adresa;Danas;Beograd;\r\n"
).encode("cp1250")


async def test_upload_map_import_and_merge(
    live_server: LiveServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    await log_in(page, live_server)

    # Upload.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    await page.get_by_label("File").set_input_files(
        {"name": "novinari.csv", "mimeType": "text/csv", "buffer": FILE}
    )
    async with page.expect_navigation():
        await page.get_by_role("button", name="Upload and preview").click()
    await expect(page).to_have_url(re.compile(r"/imports/\d+$"))

    # The preview shows the letters right, and the guessed mapping.
    preview = page.locator("#preview")
    await expect(preview).to_contain_text("Đurić")
    await expect(page.get_by_label("Field for column Ime")).to_have_value("given_name")
    await expect(page.get_by_label("Field for column E-mail")).to_have_value("emails")
    # The officer leaves the town out of this import.
    await page.get_by_label("Field for column Grad").select_option("")

    # Dry run: nothing saved, a report of what would happen.
    async with page.expect_navigation():
        await page.get_by_role("button", name="Check the file (nothing is saved)").click()
    counts = page.locator("#counts")
    await expect(counts.locator('[data-count="imported"]')).to_have_text("2", timeout=15_000)
    await expect(counts.locator('[data-count="rejected"]')).to_have_text("1")
    await expect(page.locator("#dry-problems")).to_contain_text("nije-adresa")

    # Import for real; the page follows the job and shows the report.
    async with page.expect_navigation():
        await page.get_by_role("button", name="Import", exact=True).click()
    await expect(page.get_by_role("heading", name="Import finished")).to_be_visible(timeout=15_000)
    problems = page.locator("#problems")
    await expect(problems).to_contain_text("not a valid email address")
    await expect(page.get_by_role("link", name="Download the full report (CSV)")).to_be_visible()

    # Dragan Ćosić was already a contact (without an outlet): flagged, not merged. Merge now.
    await problems.get_by_role("link", name="compare with the existing contact").click()
    await expect(page.locator("#merge-form")).to_be_visible()
    async with page.expect_navigation():
        await page.get_by_role("button", name="Merge").click()
    await expect(page).to_have_url(re.compile(r"/contacts/\d+"))
    await expect(page.locator("main")).to_contain_text("dragan@koha.example")
    await expect(page.locator("main")).to_contain_text("d.cosic@kossev.example")
    await expect(page.locator("main")).to_contain_text("Merged with")

    # The imported town was left out, as mapped.
    await page.goto("/contacts?q=djuric")
    await page.get_by_role("link", name="Vesna Đurić").click()
    await expect(page.locator("main")).not_to_contain_text("Beograd")
    assert not browser_page.console_errors, browser_page.console_errors
