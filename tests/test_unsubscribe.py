"""Unsubscribing from campaign mail: the page at /u/TOKEN, the button, RFC 8058's one-click
POST from a mail provider, and what an unsubscription changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.i18n import translations
from crm.models import AuditEntry, Campaign, Delivery
from crm.privacy import erase_contact, suppressed
from crm.settings import Settings
from outreach import outbox
from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign
from outreach.catcher import start_catcher
from outreach.compose import reply_secret
from outreach.mime import reply_token
from outreach.unsubscribe import mask
from tests.conftest import World, login
from tests.test_outbox import _campaign, _drain, _people

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def _launched(
    session: AsyncSession,
    world: World,
    settings: Settings,
    specs: list[tuple[str, str, str]] | None = None,
) -> dict[str, Delivery]:
    """A launched campaign's deliveries by address (queued; nothing needs to be sent for the
    link in the message to work)."""
    specs = specs or [("Arbën", "arben@koha.net", "sq")]
    ids = await _people(session, world.editor, specs)
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, settings, campaign.id)
    rows = await session.execute(select(Delivery).where(Delivery.campaign_id == campaign.id))
    return {d.address: d for d in rows.scalars()}


def _token(settings: Settings, delivery: Delivery) -> str:
    return reply_token(reply_secret(settings), delivery.id or 0)


async def _fresh(session: AsyncSession, delivery: Delivery) -> Delivery:
    found = await session.get(Delivery, delivery.id, populate_existing=True)
    assert found is not None
    return found


async def _second_campaign_excludes(
    session: AsyncSession, world: World, settings: Settings, contact_id: int
) -> dict[str, str]:
    """Address → reason for everyone a new campaign to the same contact leaves out."""
    campaign = await _campaign(session, world.editor, [contact_id])
    check = await outbox.check(session, world.editor, settings, campaign.id)
    return {e.address: e.reason for e in check.plan.excluded}


def test_an_address_is_masked_enough_to_recognise() -> None:
    assert mask("arben@koha.net") == "a***@koha.net"
    assert mask("x@kallxo.com") == "x***@kallxo.com"
    assert mask("broken") == "***"
    assert mask("") == ""  # an erased delivery


async def test_the_page_names_the_organisation_and_address_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    arben = (await _launched(session, world, settings))["arben@koha.net"]
    token = _token(settings, arben)

    response = await client.get(f"/u/{token}")

    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    assert "Qendra për Drejtësi" in page.select_one("h1").text
    assert "a***@koha.net" in page.select_one("#unsubscribe").text
    assert "arben@koha.net" not in response.text
    form = page.select_one("#unsubscribe form[method=post]")
    assert form["action"].startswith(f"/u/{token}")
    assert form.select_one("button[type=submit]")
    assert page.select_one("nav[aria-label=Main]") is None  # nothing of the app shows
    assert "set-cookie" not in response.headers  # a journalist gets no cookie from us
    assert response.headers["cache-control"] == "no-store"
    assert (await _fresh(session, arben)).unsubscribed_at is None
    assert await suppressed(session, settings, arben.org_id, [arben.address]) == {}
    assert "arben@koha.net" not in await _second_campaign_excludes(
        session, world, settings, arben.contact_id or 0
    )


async def test_pressing_the_button_unsubscribes_and_the_next_campaign_leaves_them_out(
    client: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    arben = (await _launched(session, world, settings))["arben@koha.net"]
    token = _token(settings, arben)
    page = BeautifulSoup((await client.get(f"/u/{token}")).text, "html.parser")
    action = page.select_one("#unsubscribe form")["action"]

    response = await client.post(action)

    assert response.status_code == 200
    done = BeautifulSoup(response.text, "html.parser")
    assert done.select_one("#unsubscribed h1")
    assert "a***@koha.net" in done.select_one("#unsubscribed").text
    assert done.select_one(f'#unsubscribed a[href$="/privacy/{arben.org_id}/request?lang=sq"]')
    assert (await _fresh(session, arben)).unsubscribed_at is not None
    assert await suppressed(session, settings, arben.org_id, [arben.address]) == {
        "arben@koha.net": "unsubscribed"
    }
    excluded = await _second_campaign_excludes(session, world, settings, arben.contact_id or 0)
    assert excluded["arben@koha.net"] == "unsubscribed"
    # The link keeps saying so, and offers no button any more.
    again = BeautifulSoup((await client.get(f"/u/{token}")).text, "html.parser")
    assert again.select_one("#unsubscribed") and not again.select_one("form")
    entries = await session.execute(select(AuditEntry).where(AuditEntry.action == "unsubscribe"))
    entry = entries.scalar_one()
    assert entry.user_id is None and entry.org_id == arben.org_id
    assert (entry.entity, entry.entity_id) == ("contact", arben.contact_id)


@pytest.fixture
async def provider(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """A mail provider's server: no cookies, no CSRF token, another address."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_one_click_post_from_a_mail_provider_unsubscribes_once(
    provider: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    arben = (await _launched(session, world, settings))["arben@koha.net"]
    url = f"/u/{_token(settings, arben)}"

    first = await provider.post(url, data=ONE_CLICK)
    # Providers may repeat the request, and RFC 8058 prefers multipart/form-data.
    second = await provider.post(url, files={"List-Unsubscribe": (None, "One-Click")})

    assert first.status_code == 200 and second.status_code == 200
    assert second.request.headers["content-type"].startswith("multipart/form-data")
    assert "cookie" not in first.request.headers
    assert await suppressed(session, settings, arben.org_id, [arben.address]) == {
        "arben@koha.net": "unsubscribed"
    }
    stamped = (await _fresh(session, arben)).unsubscribed_at
    assert stamped is not None
    entries = await session.execute(select(AuditEntry).where(AuditEntry.action == "unsubscribe"))
    assert len(entries.scalars().all()) == 1


async def test_the_button_works_in_a_browser_that_has_beatbook_cookies(
    client: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    """The officer trying the link in her own test message: her browser sends the session and
    CSRF cookies, and still no token is needed."""
    arben = (await _launched(session, world, settings))["arben@koha.net"]
    await login(client, world.emails["editor"])
    assert client.cookies.get("csrftoken")

    response = await client.post(f"/u/{_token(settings, arben)}", data=ONE_CLICK)

    assert response.status_code == 200
    assert (await _fresh(session, arben)).unsubscribed_at is not None


async def test_a_tampered_or_cut_token_gets_a_404_page_and_changes_nothing(
    provider: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    arben = (await _launched(session, world, settings))["arben@koha.net"]
    token = _token(settings, arben)
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    forged = reply_token(b"another secret", arben.id or 0)

    for bad in (flipped, token[:-3], forged, "x" * 32, "%C3%AB" * 6):
        for method in ("GET", "POST"):
            response = await provider.request(method, f"/u/{bad}", data=ONE_CLICK)
            assert response.status_code == 404, (bad, method)
            page = BeautifulSoup(response.text, "html.parser")
            assert page.select_one("#link-gone h1"), (bad, method)
    assert await suppressed(session, settings, arben.org_id, [arben.address]) == {}
    assert (await _fresh(session, arben)).unsubscribed_at is None


async def test_a_link_to_a_deleted_campaign_gets_a_404_page(
    provider: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    arben = (await _launched(session, world, settings))["arben@koha.net"]
    token = _token(settings, arben)
    await session.delete(await session.get(Campaign, arben.campaign_id))
    await session.commit()

    response = await provider.post(f"/u/{token}", data=ONE_CLICK)

    assert response.status_code == 404
    assert BeautifulSoup(response.text, "html.parser").select_one("#link-gone")


async def test_the_page_speaks_the_recipients_language_and_can_switch(
    provider: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    ids = await _people(
        session,
        world.editor,
        [("Arbën", "arben@koha.net", "sq"), ("Јован", "jovan@rts.rs", "sr-Cyrl")],
    )
    serbian = VariantIn(subject="Izveštaj", body="{{ salutation }}, izveštaj je objavljen.")
    campaign = await create_campaign(
        session,
        world.editor,
        CampaignIn(
            name="Izveštaj", default_language="sq", audience=AudienceIn(contacts=ids),
            variants={"sq": VariantIn(subject="Raporti", body="Raporti."), "sr-Latn": serbian},
        ),
    )  # fmt: skip
    await outbox.launch(session, world.editor, settings, campaign.id)
    rows = await session.execute(select(Delivery).where(Delivery.campaign_id == campaign.id))
    deliveries = {d.address: d for d in rows.scalars()}
    token = _token(settings, deliveries["arben@koha.net"])
    sq = translations("sq")

    page = BeautifulSoup((await provider.get(f"/u/{token}")).text, "html.parser")

    assert page.select_one("html")["lang"] == "sq"
    assert page.select_one(".languages [aria-current]").text == "Shqip"
    assert page.select_one("#unsubscribe button").text == sq.gettext("Unsubscribe")
    assert page.select_one("#unsubscribe button").text == "Çregjistrohu"
    assert "Të mos merrni më email nga" in page.select_one("h1").text
    assert page.select_one("title").text.startswith(sq.gettext("Unsubscribe"))
    # The switcher keeps the token and changes only the language.
    english = page.select_one('.languages a[lang="en"]')["href"]
    assert english == f"/u/{token}?lang=en"
    page = BeautifulSoup((await provider.get(english)).text, "html.parser")
    assert page.select_one("html")["lang"] == "en"
    assert page.select_one("#unsubscribe form")["action"] == f"/u/{token}?lang=en"
    # A reader of Serbian in Cyrillic gets the Serbian page in Cyrillic, and can switch script.
    cyrillic = _token(settings, deliveries["jovan@rts.rs"])
    page = BeautifulSoup((await provider.get(f"/u/{cyrillic}")).text, "html.parser")
    assert page.select_one("html")["lang"] == "sr-Cyrl"
    assert page.select_one(".languages [aria-current]").text == "Српски"
    assert page.select_one("#unsubscribe button").text == "Одјавите се"
    page = BeautifulSoup((await provider.get(f"/u/{cyrillic}?lang=sr-Latn")).text, "html.parser")
    assert page.select_one("#unsubscribe button").text == "Odjavite se"


async def test_unsubscribing_stops_mail_still_waiting_in_the_outbox(
    provider: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    """A second campaign launched before the click has already planned the address; its row
    is cancelled rather than sent, and a campaign left with nothing to send finishes."""
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    first = await _campaign(session, world.editor, ids)
    second = await _campaign(session, world.editor, ids)
    for campaign in (first, second):
        await outbox.launch(session, world.editor, settings, campaign.id)
    rows = await session.execute(select(Delivery).order_by(Delivery.id))
    clicked, waiting = rows.scalars().all()

    response = await provider.post(f"/u/{_token(settings, clicked)}", data=ONE_CLICK)

    assert response.status_code == 200
    waiting = await _fresh(session, waiting)
    assert (waiting.status, waiting.last_error) == ("cancelled", "Unsubscribed.")
    finished = await session.get(Campaign, second.id, populate_existing=True)
    assert finished is not None and finished.status == "finished"


@pytest.fixture
async def catching(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Settings]:
    catcher = await start_catcher(maker, 0)
    yield settings.model_copy(update={"smtp_host": "", "catcher_port": catcher.port})
    await catcher.close()


async def test_the_link_in_a_sent_message_unsubscribes_with_one_click(
    provider: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    catching: Settings,
) -> None:
    """Launched, sent through the real catcher, and the message's own List-Unsubscribe URL
    POSTed as a mail provider would."""
    from outreach.catcher import caught_message, mailbox, open_message

    arben = (await _launched(session, world, catching))["arben@koha.net"]
    await _drain(maker, catching)
    messages, _total = await mailbox(session, world.editor)
    caught = await caught_message(session, world.editor, messages[0].id or 0)
    headers = dict(open_message(caught.raw).headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_url = headers["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    assert urlsplit(https_url).path in open_message(caught.raw).text

    response = await provider.post(urlsplit(https_url).path, data=ONE_CLICK)

    assert response.status_code == 200
    assert (await _fresh(session, arben)).unsubscribed_at is not None


async def test_the_link_of_an_erased_journalist_says_they_get_no_more_mail(
    provider: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    arben = (await _launched(session, world, settings))["arben@koha.net"]
    token = _token(settings, arben)
    await erase_contact(session, world.owner, settings, arben.contact_id or 0)

    for method in ("GET", "POST"):
        response = await provider.request(method, f"/u/{token}", data=ONE_CLICK)
        assert response.status_code == 200, method
        page = BeautifulSoup(response.text, "html.parser")
        assert page.select_one("#unsubscribed") and not page.select_one("form")
        assert "***" not in response.text
    assert await suppressed(session, settings, arben.org_id, ["arben@koha.net"]) == {
        "arben@koha.net": "erased"
    }


async def test_the_page_speaks_the_journalists_language_even_when_the_mail_could_not(
    provider: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    """A campaign written only in Albanian and English reached a reader of Serbian Cyrillic
    in Albanian; the page they open to leave is still theirs."""
    deliveries = await _launched(session, world, settings, [("Јован", "jovan@rts.rs", "sr-Cyrl")])
    assert deliveries["jovan@rts.rs"].language == "sq"
    token = _token(settings, deliveries["jovan@rts.rs"])
    page = BeautifulSoup((await provider.get(f"/u/{token}")).text, "html.parser")
    assert page.select_one("html")["lang"] == "sr-Cyrl"
    assert page.select_one("#unsubscribe button").text == "Одјавите се"
