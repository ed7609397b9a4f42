"""The Inbox pages, answering a reply through the outbox, the campaign page's replies, the
owners' banner, the webhook, and playing the journalist in the Mailbox — in-process over
HTTP, with a real SMTP server and the real inbound receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.models import Campaign, Delivery, InboundMessage, SenderIdentity
from crm.privacy import suppress
from crm.settings import Settings
from outreach import outbox
from outreach.catcher import start_catcher
from outreach.inbound import pipeline
from outreach.inbound.receiver import Receiver, start_receiver
from tests import inbound_mail
from tests.conftest import World, csrf_of, login
from tests.smtp_server import Arrival, SmtpServer
from tests.test_outbox import _campaign, _drain, _people
from web.app import create_app


@pytest.fixture
async def web(sending: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        sending.model_copy(update={"inbound_token": "hook-token-1234"}), run_jobs=False
    )
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c
    await app.state.engine.dispose()


async def _replied(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
    text: str = "Faleminderit, do të vij.",
) -> tuple[Arrival, InboundMessage]:
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await _drain(maker, sending)
    [sent] = smtp.sink.arrivals
    raw = inbound_mail.gmail_reply(sent.raw, text, sender="Arbën Krasniqi <arben@koha.net>")
    return sent, await pipeline.receive(session, sending, raw, via="smtp")


def _page(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


async def test_the_inbox_lists_a_reply_and_opens_it(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    _, row = await _replied(session, maker, world, sending, smtp)
    await login(web, world.emails["viewer"])
    listing = _page(await web.get("/inbox"))
    [line] = listing.select("table.inbox tbody tr")
    assert "Arbën Krasniqi" in line.text and "Faleminderit, do të vij." in line.text
    assert listing.select_one('nav.tabs a[href="/inbox?category=reply"] .badge').text == "1"
    assert not _page(await web.get("/inbox?category=bounce")).select("table.inbox tbody tr")

    page = _page(await web.get(f"/inbox/{row.id}"))
    assert page.select_one(".reply-text .mail-text").text == "Faleminderit, do të vij."
    assert page.select_one('a[href^="/contacts/"]').text.strip() == "Arbën Krasniqi"
    assert not page.select("form.answer")  # a viewer reads, and does not answer
    raw = await web.get(f"/inbox/{row.id}.eml")
    assert raw.status_code == 200 and raw.content == row.raw


async def test_the_outsider_gets_404_for_another_organisations_inbound_mail(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    _, row = await _replied(session, maker, world, sending, smtp)
    token = await login(web, world.emails["outsider"])
    assert (await web.get(f"/inbox/{row.id}")).status_code == 404
    assert (await web.get(f"/inbox/{row.id}.eml")).status_code == 404
    denied = await web.post(f"/inbox/{row.id}/state", data={"state": "handled", "csrftoken": token})
    assert denied.status_code == 404
    assert not _page(await web.get("/inbox")).select("table.inbox tbody tr")


async def test_answering_a_reply_sends_it_threaded_through_the_outbox(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    sent, row = await _replied(session, maker, world, sending, smtp)
    token = await login(web, world.emails["editor"])
    response = await web.post(
        f"/inbox/{row.id}/answer",
        data={"body": "Mirë se vini!\nSalla është në katin e dytë. {{ not a field }}\n"
                      "# 1) *ora 11*", "csrftoken": token},
    )  # fmt: skip
    assert response.status_code == 303
    # Nothing goes out from the request: the outbox sends it.
    assert len(smtp.sink.arrivals) == 1
    await _drain(maker, sending)
    answer = smtp.sink.arrivals[-1]
    message = answer.message
    assert answer.recipients == ["arben@koha.net"]
    assert message["In-Reply-To"] == row.message_id
    assert str(message["References"]).split() == [sent.message_id, row.message_id]
    assert str(message["Subject"]).startswith("Re: ")
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    # As written: line breaks kept, nothing read as Markdown or as a merge field.
    assert "Mirë se vini!\nSalla është në katin e dytë. {{ not a field }}\n# 1) *ora 11*" in text
    assert message["List-Unsubscribe"] is None and message["List-Id"] is None
    assert "> Faleminderit, do të vij." in text  # their words quoted below
    assert "/u/" not in text  # a personal letter: no campaign footer
    page = _page(await web.get(f"/inbox/{row.id}"))
    assert page.select_one("#answers .sent-answer .badge").text.strip() == "sent"
    stored = await session.get(InboundMessage, row.id, populate_existing=True)
    assert stored is not None and stored.state == "handled" and stored.answered_at
    # The answer is no campaign of the list.
    listing = _page(await web.get("/campaigns"))
    assert "Re: " not in listing.select_one("main").text


async def test_an_answer_that_cannot_go_keeps_what_the_officer_wrote(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    _, row = await _replied(session, maker, world, sending, smtp)
    token = await login(web, world.emails["editor"])
    empty = await web.post(f"/inbox/{row.id}/answer", data={"body": "  ", "csrftoken": token})
    assert empty.status_code == 422
    assert _page(empty).select_one("#answer-error").text == "Write your answer first."
    await suppress(session, sending, world.editor.org_id, "arben@koha.net", "unsubscribed")
    await session.commit()
    refused = await web.post(
        f"/inbox/{row.id}/answer", data={"body": "Një përgjigje e gjatë", "csrftoken": token}
    )
    assert refused.status_code == 422
    page = _page(refused)
    assert page.select_one("#answer-body").text == "Një përgjigje e gjatë"
    assert "must not be mailed" in page.select_one("#answer-error").text
    count = (await session.execute(select(Campaign).where(Campaign.kind == "answer"))).all()
    assert count == []


async def test_the_campaign_page_shows_replies_and_each_recipients_reply(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    _, row = await _replied(session, maker, world, sending, smtp)
    await login(web, world.emails["viewer"])
    page = _page(await web.get(f"/campaigns/{row.campaign_id}"))
    assert page.select_one(".responses .count-replied strong").text == "1"
    link = page.select_one("table.deliveries td.reply a")
    assert link["href"] == f"/inbox/{row.id}" and link.text == "Faleminderit, do të vij."


async def test_unmatched_mail_is_linked_to_a_contact_by_hand(
    web: httpx.AsyncClient, session: AsyncSession, world: World, sending: Settings
) -> None:
    [contact_id] = await _people(session, world.editor, [("Besa", "besa@kallxo.com", "sq")])
    session.add(
        SenderIdentity(
            org_id=world.editor.org_id, from_name="Qendra", from_address="press@qendra.org"
        )
    )
    await session.commit()
    raw = (
        "Delivered-To: press@qendra.org\r\n"
        "From: Besa <besa.private@gmail.com>\r\nTo: press@qendra.org\r\n"
        "Subject: Pyetje për raportin\r\nMessage-ID: <q1@mail.gmail.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nA mund të më dërgoni raportin e plotë?\r\n"
    ).encode()
    row = await pipeline.receive(session, sending, raw, via="imap")
    assert row.category == "unmatched" and row.org_id == world.editor.org_id
    token = await login(web, world.emails["editor"])
    page = _page(await web.get(f"/inbox/{row.id}?q=Besa"))
    choice = page.select_one('.link-contact input[name="contact_id"]')
    assert choice["value"] == str(contact_id)
    done = await web.post(
        f"/inbox/{row.id}/link", data={"contact_id": contact_id, "csrftoken": token}
    )
    assert done.status_code == 303
    timeline = _page(await web.get(f"/contacts/{contact_id}"))
    assert "A mund të më dërgoni raportin e plotë?" in timeline.text
    again = await web.post(
        f"/inbox/{row.id}/link", data={"contact_id": contact_id, "csrftoken": token}
    )
    assert again.status_code == 422  # no longer unmatched


async def test_owners_see_a_banner_while_a_server_refuses_their_mail(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    sent, _ = await _replied(session, maker, world, sending, smtp)
    dsn = inbound_mail.postfix_dsn(
        sent.raw, sent.mail_from, status="5.7.26",
        diagnostic="550 5.7.26 Unauthenticated email from qendra.org is not accepted due to "
        "domain's DMARC policy.",
    )  # fmt: skip
    await pipeline.receive(session, sending, dsn, via="smtp")
    token = await login(web, world.emails["owner"])
    banner = _page(await web.get("/contacts")).select_one(".banner")
    assert banner is not None and "policy" in banner.text
    await web.post("/inbox/policy/handled", data={"csrftoken": token})
    assert _page(await web.get("/contacts")).select_one(".banner") is None
    await login(web, world.emails["editor"])
    assert _page(await web.get("/contacts")).select_one(".banner") is None


async def test_the_webhook_takes_raw_mail_once_by_message_id(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await _drain(maker, sending)
    raw = inbound_mail.gmail_reply(smtp.sink.arrivals[0].raw, "Po")
    headers = {"Content-Type": "message/rfc822"}
    assert (await web.post("/api/v1/inbound", content=raw, headers=headers)).status_code == 401
    bad = {**headers, "Authorization": "Bearer wrong"}
    assert (await web.post("/api/v1/inbound", content=raw, headers=bad)).status_code == 401
    good = {**headers, "Authorization": "Bearer hook-token-1234"}
    first = await web.post("/api/v1/inbound", content=raw, headers=good)
    assert first.status_code == 201 and first.json()["category"] == "reply"
    second = await web.post("/api/v1/inbound", content=raw, headers=good)
    assert second.status_code == 200 and second.json() == {**first.json(), "duplicate": True}
    assert len((await session.execute(select(InboundMessage))).all()) == 1
    empty = await web.post("/api/v1/inbound", content=b"  ", headers=good)
    assert empty.status_code == 422

    # A message stored but never finished (the process stopped midway) is no duplicate:
    # posted again, it is acted on.
    stuck = inbound_mail.gmail_reply(smtp.sink.arrivals[0].raw, "Vij edhe unë")
    message_id = str(inbound_mail.parse(stuck)["Message-ID"])
    session.add(
        InboundMessage(
            via="api", dedup_key=pipeline.dedup_key(message_id, stuck), message_id=message_id,
            raw=stuck, fields={"reason": "processing"},
        )
    )  # fmt: skip
    await session.commit()
    again = await web.post("/api/v1/inbound", content=stuck, headers=good)
    assert again.status_code == 201
    assert again.json()["category"] == "reply" and not again.json()["duplicate"]


async def test_the_webhook_is_off_without_a_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post("/api/v1/inbound", content=b"Subject: x\r\n\r\nx\r\n")
    assert response.status_code == 404 and "BEATBOOK_INBOUND_TOKEN" in response.json()["detail"]


@pytest.fixture
async def receiving(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[tuple[Settings, Receiver]]:
    """The demo set-up: no relay (mail goes to the catcher) and the inbound receiver on."""
    catcher = await start_catcher(maker, 0)
    local = settings.model_copy(
        update={"smtp_host": "", "catcher_port": catcher.port, "inbound_smtp_port": 0}
    )
    receiver = await start_receiver(maker, local)
    assert receiver is not None
    yield local, receiver
    await receiver.close()
    await catcher.close()


async def test_a_new_user_plays_the_journalist_in_the_mailbox(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    receiving: tuple[Settings, Receiver],
) -> None:
    local, receiver = receiving
    app = create_app(local, run_jobs=False)
    app.state.receiver_port = receiver.port
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
        ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
        campaign = await _campaign(session, world.editor, ids)
        await outbox.launch(session, world.editor, local, campaign.id)
        await _drain(maker, local)
        token = await login(web, world.emails["editor"])
        listing = _page(await web.get("/mailbox"))
        href = listing.select_one("table.mailbox tbody a")["href"]
        page = await web.get(href)
        assert _page(page).select_one("form.reply-as")
        assert not _page(page).select_one("form.calendar-answer")  # no invitation here
        sent = await web.post(
            f"{href}/reply", data={"text": "Faleminderit, vij!", "csrftoken": csrf_of(page.text)}
        )
        assert sent.status_code == 303 and sent.headers["location"] == "/inbox"
        inbox_page = _page(await web.get("/inbox"))
        assert "Faleminderit, vij!" in inbox_page.select_one("table.inbox").text
        delivery = (await session.execute(select(Delivery))).scalar_one()
        await session.refresh(delivery)
        assert delivery.replied_at is not None
        assert token
        # A viewer reads the Mailbox but plays no journalist.
        await web.post("/logout", data={"csrftoken": token})
        viewer = await login(web, world.emails["viewer"])
        refused = await web.post(f"{href}/reply", data={"text": "Jo", "csrftoken": viewer})
        assert refused.status_code == 403
        assert len((await session.execute(select(InboundMessage))).all()) == 1
    await app.state.engine.dispose()


async def test_accept_in_calendar_from_the_mailbox_sets_the_rsvp(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    receiving: tuple[Settings, Receiver],
) -> None:
    from tests.test_invitations import _guests, _invited  # an event and its invitations

    local, receiver = receiving
    app = create_app(local, run_jobs=False)
    app.state.receiver_port = receiver.port
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
        event_id, _ = await _invited(session, maker, world, local)
        await login(web, world.emails["editor"])
        rows = _page(await web.get("/mailbox")).select("table.mailbox tbody tr")
        [row] = [r for r in rows if "arber@koha.net" in r.text]
        href = row.select_one("a")["href"]
        page = await web.get(href)
        form = _page(page).select_one("form.calendar-answer")
        assert form is not None
        done = await web.post(
            f"{href}/calendar", data={"answer": "accept", "csrftoken": csrf_of(page.text)}
        )
        assert done.status_code == 303
        guest = (await _guests(session, event_id))["arber@koha.net"]
        await session.refresh(guest)
        assert (guest.rsvp, guest.rsvp_via) == ("accepted", "calendar")
    await app.state.engine.dispose()


async def test_an_answer_goes_where_a_mail_programs_reply_would(
    web: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await _drain(maker, sending)
    # She answers from her own address, through the newsroom's Reply-To token.
    raw = inbound_mail.gmail_reply(
        smtp.sink.arrivals[0].raw, "Më shkruani këtu.", sender="Arbën <arben.k@gmail.com>"
    )
    row = await pipeline.receive(session, sending, raw, via="smtp")
    token = await login(web, world.emails["editor"])
    page = _page(await web.get(f"/inbox/{row.id}"))
    assert "arben.k@gmail.com" in page.select_one("form.answer label").text
    await web.post(f"/inbox/{row.id}/answer", data={"body": "Sigurisht.", "csrftoken": token})
    await _drain(maker, sending)
    assert smtp.sink.arrivals[-1].recipients == ["arben.k@gmail.com"]
