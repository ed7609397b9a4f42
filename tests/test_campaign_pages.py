"""The campaign pages, in-process: write, preview, check, launch, watch; and the outsider."""

from __future__ import annotations

import httpx
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.contacts import ContactIn, create_contact
from crm.models import Campaign, Delivery
from tests.conftest import World, csrf_of, login


def _form(csrf: str, **more: str) -> dict[str, str]:
    return {
        "csrftoken": csrf,
        "name": "Raporti vjetor",
        "kind": "press_release",
        "default_language": "sq",
        "subject_sq": "Raporti për {{ first_name }}",
        "body_sq": "{{ salutation }},\n\nRaporti ynë vjetor del sot.",
        "subject_en": "",
        "body_en": "",
        **more,
    }


async def _contacts(session: AsyncSession, world: World) -> None:
    for given, email in (("Arbën", "arben@koha.net"), ("Vesa", "vesa@kallxo.com")):
        await create_contact(session, world.editor, ContactIn(given_name=given, emails=[email]))


async def test_an_officer_writes_checks_and_launches_a_campaign(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await _contacts(session, world)
    csrf = await login(client, world.emails["editor"])
    page = await client.get("/campaigns/new")
    assert page.status_code == 200
    made = await client.post(
        "/campaigns", data=_form(csrf, contact_emails="arben@koha.net\nVESA@kallxo.com")
    )
    assert made.status_code == 303, made.text
    url = made.headers["location"]
    check = await client.get(f"{url}/check")
    soup = BeautifulSoup(check.text, "html.parser")
    assert "2" in soup.select_one(".launch-count").text
    expected = soup.select_one("form.launch input[name=expected]")["value"]
    preview = await client.get(f"{url}/preview")
    frame = BeautifulSoup(preview.text, "html.parser").select_one("iframe.message-html")
    assert frame is not None and frame.has_attr("sandbox")
    assert "Raporti ynë vjetor" in frame["srcdoc"]
    launched = await client.post(f"{url}/launch", data={"csrftoken": csrf, "expected": expected})
    assert launched.status_code == 303
    # A second click lands on the campaign page and launches nothing more.
    again = await client.post(f"{url}/launch", data={"csrftoken": csrf, "expected": expected})
    assert again.status_code == 303
    campaign_id = int(url.rsplit("/", 1)[1])
    rows = (
        await session.execute(select(Delivery).where(Delivery.campaign_id == campaign_id))
    ).all()
    assert len(rows) == 2
    detail = await client.get(url)
    soup = BeautifulSoup(detail.text, "html.parser")
    assert soup.select_one("#progress")["hx-trigger"] == "every 2s"
    assert soup.select_one(".count-queued strong").text == "2"
    fragment = await client.get(url, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="progress"')


async def test_a_template_error_shows_on_the_form_and_keeps_what_was_typed(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    response = await client.post(
        "/campaigns", data=_form(csrf, body_sq="Hello {{ ''.__class__.__mro__ }}")
    )
    assert response.status_code == 422
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.select_one(".error")
    assert "__class__" in soup.select_one("#f-body_sq").text
    assert (await session.execute(select(Campaign))).first() is None


async def test_a_bad_date_or_unknown_contact_is_a_clear_message(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    bad_date = await client.post("/campaigns", data=_form(csrf, scheduled_at="tomorrow-ish"))
    assert bad_date.status_code == 422 and "date and time" in bad_date.text
    nobody = await client.post("/campaigns", data=_form(csrf, contact_emails="ghost@nowhere.net"))
    assert nobody.status_code == 422 and "ghost@nowhere.net" in nobody.text


async def test_the_outsider_sees_nothing_of_a_campaign(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    made = await client.post("/campaigns", data=_form(csrf))
    url = made.headers["location"]
    await client.post("/logout", data={"csrftoken": csrf})
    csrf = await login(client, world.emails["outsider"])
    for path in ("", "/check", "/preview", "/edit"):
        assert (await client.get(url + path)).status_code == 404
    assert (await client.post(f"{url}/launch", data={"csrftoken": csrf})).status_code == 404
    listing = await client.get("/campaigns")
    assert "Raporti vjetor" not in listing.text


async def test_viewers_read_campaigns_but_cannot_launch(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    url = (await client.post("/campaigns", data=_form(csrf))).headers["location"]
    await client.post("/logout", data={"csrftoken": csrf})
    csrf = await login(client, world.emails["viewer"])
    assert (await client.get(url)).status_code == 200
    assert (await client.post(f"{url}/launch", data={"csrftoken": csrf})).status_code == 403


async def test_an_attachment_must_be_what_it_claims(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    url = (await client.post("/campaigns", data=_form(csrf))).headers["location"]
    fake = await client.post(
        f"{url}/attachments",
        data={"csrftoken": csrf},
        files={"file": ("report.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
    )
    assert fake.status_code == 422
    real = await client.post(
        f"{url}/attachments",
        data={"csrftoken": csrf},
        files={"file": ("Raporti 2026.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "application/pdf")},
    )
    assert real.status_code == 303, BeautifulSoup(real.text, "html.parser").select_one("main").text
    page = await client.get(url)
    assert "Raporti 2026.pdf" in page.text
    forged = await client.post(
        f"{url}/attachments",
        data={"csrftoken": "nope"},
        files={"file": ("x.pdf", b"%PDF-1.4\n", "application/pdf")},
    )
    assert forged.status_code == 403
    assert csrf_of(page.text)
