"""The Mailbox: campaign mail caught by the built-in catcher, listed and opened as the
journalist would see it, and seen by nobody outside the organisation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.models import CaughtMessage, Delivery
from crm.settings import Settings
from outreach import outbox
from outreach.campaigns import add_attachment
from outreach.catcher import start_catcher, store
from tests.conftest import World, login
from tests.test_outbox import _campaign, _drain, _people

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
async def catching(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Settings]:
    """The real catcher on a free port, and settings that send to it (no relay)."""
    catcher = await start_catcher(maker, 0)
    yield settings.model_copy(update={"smtp_host": "", "catcher_port": catcher.port})
    await catcher.close()


async def _sent(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    settings: Settings,
) -> CaughtMessage:
    """A campaign with a PDF launched to one journalist and sent into the catcher."""
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await add_attachment(
        session, world.editor, settings, campaign.id,
        filename="Raporti 2026 për median.pdf", content_type="application/pdf", content=PDF,
    )  # fmt: skip
    await outbox.launch(session, world.editor, settings, campaign.id)
    await _drain(maker, settings)
    caught = (await session.execute(select(CaughtMessage))).scalar_one()
    assert caught.org_id == world.editor.org_id
    return caught


async def test_a_sent_campaign_arrives_in_the_mailbox_and_opens_as_the_journalist_sees_it(
    client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    catching: Settings,
) -> None:
    caught = await _sent(session, maker, world, catching)
    await login(client, world.emails["viewer"])  # reading the mailbox needs no write role

    listing = BeautifulSoup((await client.get("/mailbox")).text, "html.parser")
    row = listing.select_one("table.mailbox tbody tr")
    cells = [td.text.strip() for td in row.select("td")]
    assert cells[1] == "arben@koha.net" and cells[2] == "Raporti për Arbën"
    assert listing.select_one('nav a[href="/mailbox"][aria-current="page"]')

    response = await client.get(row.select_one("a")["href"])
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    assert page.select_one("h1").text == "Raporti për Arbën"
    frame = page.select_one("iframe.mail-preview")
    assert frame.has_attr("sandbox") and not frame["sandbox"]  # no allow-scripts, no allow-*
    assert "<strong>lirinë e medias</strong>" in frame["srcdoc"]
    assert "/u/" in frame["srcdoc"]  # the footer's unsubscribe link
    assert "I nderuar Arbën" in page.select_one("pre.mail-text").text
    headers = {
        tr.select_one("th").text: tr.select_one("td").text
        for tr in page.select("table.headers tbody tr")
    }
    assert headers["To"].endswith("<arben@koha.net>")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Inline styles in the mail render; scripts and remote content stay blocked.
    csp = response.headers["content-security-policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp

    link = page.select_one(".mail-attachments a")
    assert link.text == "Raporti 2026 për median.pdf"
    download = await client.get(link["href"])
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="raporti 2026 per median.pdf"')
    assert "filename*=UTF-8''Raporti%202026%20p%C3%ABr%20median.pdf" in disposition
    assert download.headers["x-content-type-options"] == "nosniff"

    raw = await client.get(page.select_one(f'a[href="/mailbox/{caught.id}.eml"]')["href"])
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.headers["content-disposition"].startswith("attachment")
    assert raw.content == caught.raw


async def test_the_outsider_neither_sees_nor_opens_another_organisations_mail(
    client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    catching: Settings,
) -> None:
    caught = await _sent(session, maker, world, catching)
    await login(client, world.emails["outsider"])

    listing = BeautifulSoup((await client.get("/mailbox")).text, "html.parser")
    assert listing.select("table.mailbox tbody tr") == []
    assert listing.select_one("p.empty")
    for path in ("", ".eml", "/attachments/1"):
        response = await client.get(f"/mailbox/{caught.id}{path}")
        assert response.status_code == 404, path
        assert caught.raw[:40] not in response.content


async def test_a_missing_attachment_or_message_is_a_404_page(
    client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    catching: Settings,
) -> None:
    caught = await _sent(session, maker, world, catching)
    await login(client, world.emails["editor"])

    for path in (f"/mailbox/{caught.id}/attachments/2", "/mailbox/999999", "/mailbox/0"):
        response = await client.get(path)
        assert response.status_code in (404, 422), path
        assert BeautifulSoup(response.text, "html.parser").select_one(".error-page h1")


async def test_the_mailbox_needs_a_login(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/mailbox")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/mailbox"


def _raw(message_id: str, n: int) -> bytes:
    return (
        f"From: press@qendra.org\r\nTo: arben@koha.net\r\nSubject: Message {n}\r\n"
        f"Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody {n}\r\n"
    ).encode()


async def test_the_mailbox_lists_newest_first_fifty_a_page(
    client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    settings: Settings,
) -> None:
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, settings, campaign.id)
    delivery = (await session.execute(select(Delivery))).scalar_one()
    for n in range(1, 52):
        await store(maker, _raw(delivery.message_id, n), "press@qendra.org", ["arben@koha.net"])
    await store(maker, _raw("<stray@elsewhere.org>", 99), "x@elsewhere.org", ["y@koha.net"])
    await login(client, world.emails["editor"])

    first = BeautifulSoup((await client.get("/mailbox")).text, "html.parser")
    subjects = [a.text for a in first.select("table.mailbox tbody td a")]
    assert len(subjects) == 50 and subjects[0] == "Message 51" and subjects[-1] == "Message 2"
    assert "Message 99" not in subjects  # mail no delivery sent is shown to nobody
    assert first.select_one(".pager a[rel=next]")
    # HTMX asks for the results alone.
    fragment = await client.get("/mailbox?page=2", headers={"HX-Request": "true"})
    part = BeautifulSoup(fragment.text, "html.parser")
    assert part.select_one("html") is None and part.select_one("section#results")
    assert [a.text for a in part.select("table.mailbox tbody td a")] == ["Message 1"]
    assert (await client.get("/mailbox?page=0")).status_code == 422


async def test_a_partners_journalist_in_a_joint_campaign_is_filed_under_the_partner(
    session: AsyncSession, maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    """The lead organisation sends, but the journalist is the partner's: only the partner
    sees that message (the lead never sees a partner's contacts)."""
    from outreach.catcher import mailbox

    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    partner_row = Delivery(
        campaign_id=campaign.id or 0, org_id=world.outsider.org_id, address="vesa@rtk.org",
        address_norm="vesa@rtk.org", language="sq", message_id="<joint-1@qendra.org>",
    )  # fmt: skip
    session.add(partner_row)
    await session.commit()

    await store(maker, _raw("<joint-1@qendra.org>", 1), "press@qendra.org", ["vesa@rtk.org"])

    assert (await mailbox(session, world.editor))[1] == 0
    messages, total = await mailbox(session, world.outsider)
    assert total == 1 and messages[0].recipients == ["vesa@rtk.org"]
