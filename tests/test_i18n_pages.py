"""The interface in the officer's language: labels, the names of stored codes, shared beat
names, messages stored filled in, validation errors, dates and numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.beats import ensure_default_beats
from crm.contacts import ContactIn, create_contact
from crm.models import Beat, Interaction
from tests.conftest import World, login


async def _speaking(client: httpx.AsyncClient, email: str, language: str) -> str:
    """Log in and pick the interface language under Settings; returns a CSRF token."""
    csrf = await login(client, email)
    picked = await client.post("/settings/language", data={"language": language, "csrftoken": csrf})
    assert picked.status_code == 303
    return csrf


async def _milan(session: AsyncSession, world: World) -> int:
    await ensure_default_beats(session)
    environment = (
        await session.execute(select(Beat).where(Beat.slug == "environment"))
    ).scalar_one()
    contact = await create_contact(
        session,
        world.editor,
        ContactIn(
            given_name="Milan",
            family_name="Petrović",
            emails=["milan@kim.rs"],
            salutation="m",
            preferred_language="sr-Latn",
            beat_ids=[environment.id],
        ),  # fmt: skip
    )
    # A line our import wrote in English, filled in, on the timeline.
    session.add(
        Interaction(
            org_id=world.editor.org_id,
            contact_id=contact.id,
            kind="import",
            occurred_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
            summary="Imported from novinari.csv, row 7",
        )  # fmt: skip
    )
    await session.commit()
    return contact.id or 0


async def test_an_albanian_officer_reads_a_contact_in_albanian(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    contact_id = await _milan(session, world)
    await _speaking(client, world.emails["editor"], "sq")
    page = BeautifulSoup((await client.get(f"/contacts/{contact_id}")).text, "html.parser")

    assert page.select_one("html")["lang"] == "sq"
    assert page.select_one('nav[aria-label="Kryesore"]') is not None
    assert "Mjedisi" in page.select_one(".chip").get_text()  # the shared beat "Environment"
    assert page.select_one(".salutation").get_text() == "Poštovani Milane"  # mail is Serbian
    entry = page.select_one("ol.timeline > li.kind-import")
    assert "Importuar nga novinari.csv, rreshti 7" in entry.get_text()
    assert "26.11.2026 10:30" in entry.get_text()  # day first, in Prishtina's time


async def test_a_serbian_officer_gets_validation_errors_in_serbian(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await _speaking(client, world.emails["editor"], "sr-Latn")
    data = {"given_name": "M" * 101, "emails": "nije-adresa", "csrftoken": csrf}
    response = await client.post("/contacts", data=data)
    assert response.status_code == 422
    page = BeautifulSoup(response.text, "html.parser")
    errors = " ".join(e.get_text() for e in page.select(".error"))
    assert "Unesite najviše 100 znakova." in errors
    assert "nije-adresa" in errors and "valid" not in errors
    # Nothing the officer typed is lost.
    assert page.select_one("#f-given_name")["value"] == "M" * 101


async def test_an_english_officer_sees_english_dates_and_numbers(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    contact_id = await _milan(session, world)
    await login(client, world.emails["editor"])
    page = BeautifulSoup((await client.get(f"/contacts/{contact_id}")).text, "html.parser")
    entry = page.select_one("ol.timeline > li.kind-import")
    assert "Imported from novinari.csv, row 7" in entry.get_text()
    assert "26/11/2026 10:30" in entry.get_text()
    assert "Environment" in page.select_one(".chip").get_text()
