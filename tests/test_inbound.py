"""Inbound mail end to end on a real database: a campaign really sent to a real SMTP server,
then what comes back for it — a reply, bounces, an out-of-office note, a complaint, an
unsubscribe — through the built-in SMTP receiver (real SMTP) or the pipeline, and what each
does to the timeline, the delivery, suppressions and the Inbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import jobs, privacy
from crm.errors import NotFound
from crm.models import (
    Campaign,
    ContactEmail,
    Delivery,
    InboundMessage,
    Interaction,
    Job,
    Organisation,
    SenderIdentity,
)
from crm.privacy import suppressed
from crm.settings import Settings
from outreach import outbox
from outreach.inbound import answers, inbox, pipeline
from outreach.inbound.receiver import Receiver, start_receiver
from tests import inbound_mail
from tests.conftest import World
from tests.smtp_server import Arrival, SmtpServer
from tests.test_outbox import _campaign, _drain, _people


@pytest.fixture
def sending(sending: Settings) -> Settings:
    """Sending through a relay that lets Beatbook choose the envelope sender."""
    return sending.model_copy(update={"bounce_return_path": True})


@pytest.fixture
async def receiver(
    maker: async_sessionmaker[AsyncSession], sending: Settings
) -> AsyncIterator[Receiver]:
    found = await start_receiver(maker, sending.model_copy(update={"inbound_smtp_port": 0}))
    assert found is not None
    yield found
    await found.close()


async def _sent(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    settings: Settings,
    smtp: SmtpServer,
    people: list[tuple[str, str, str]] | None = None,
) -> list[Arrival]:
    """A campaign launched and really sent; what the SMTP server received, by recipient."""
    ids = await _people(session, world.editor, people or [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, settings, campaign.id)
    await _drain(maker, settings)
    return sorted(smtp.sink.arrivals, key=lambda a: a.recipients[0])


async def _delivery(session: AsyncSession, arrival: Arrival) -> Delivery:
    return (
        await session.execute(
            select(Delivery)
            .where(Delivery.message_id == arrival.message_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def _smtp_send(port: int, raw: bytes, sender: str, recipients: list[str]) -> None:
    """One message over SMTP; an empty sender is the null reverse-path bounces use."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
    await client.connect()
    try:
        await client.mail(sender)
        for recipient in recipients:
            await client.rcpt(recipient)
        await client.data(raw)
    finally:
        await client.quit()


async def _timeline(session: AsyncSession, contact_id: int) -> list[Interaction]:
    rows = await session.execute(
        select(Interaction)
        .where(Interaction.contact_id == contact_id)
        .order_by(Interaction.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def test_a_reply_through_the_receiver_lands_on_the_timeline_and_marks_the_delivery(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
    receiver: Receiver,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    # Bounces and auto-replies will come back to Beatbook, naming the delivery.
    assert sent.mail_from.startswith("bounce+") and sent.mail_from.endswith("@replies.qendra.org")
    reply_to = inbound_mail.parse(sent.raw)["Reply-To"]
    raw = inbound_mail.gmail_reply(
        sent.raw, "Faleminderit! A mund të vij në konferencë?\nArbëni",
        sender="Arbën Krasniqi <arben@koha.net>",
    )  # fmt: skip
    await _smtp_send(receiver.port, raw, "arben@koha.net", [str(reply_to)])

    delivery = await _delivery(session, sent)
    assert delivery.replied_at is not None
    row = (await session.execute(select(InboundMessage))).scalar_one()
    assert (row.via, row.category, row.org_id) == ("smtp", "reply", world.editor.org_id)
    assert row.delivery_id == delivery.id and row.contact_id == delivery.contact_id
    assert row.text == "Faleminderit! A mund të vij në konferencë?\nArbëni"  # no quote
    timeline = await _timeline(session, delivery.contact_id)
    entry = timeline[-1]
    assert entry.kind == "email_in" and entry.direction == "in"
    assert entry.body == row.text and entry.inbound_message_id == row.id
    assert entry.campaign_id == delivery.campaign_id
    assert row.raw == raw.replace(b"\n", b"\r\n") or row.raw == raw  # stored as received

    # The same message again (a retrying server): stored and acted on once.
    await _smtp_send(receiver.port, raw, "arben@koha.net", [str(reply_to)])
    assert (await session.execute(select(func.count(InboundMessage.id)))).scalar_one() == 1
    assert (
        len([i for i in await _timeline(session, delivery.contact_id) if i.kind == "email_in"]) == 1
    )


async def test_a_reply_to_the_from_address_is_matched_by_its_references_never_by_sender(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    threaded = inbound_mail.gmail_reply(sent.raw, "Po, vij.", to="press@qendra.org")
    row = await pipeline.receive(session, sending, threaded, via="imap")
    assert row.category == "reply" and row.delivery_id == (await _delivery(session, sent)).id

    # The same journalist writing afresh (no token, no references) is not taken for a reply.
    fresh = (
        threaded.replace(b"In-Reply-To:", b"X-Was-In-Reply-To:")
        .replace(b"References:", b"X-Was-References:")
        .replace(b"@mail.gmail.com>", b"@mail.gmail.com.fresh>")
    )
    other = await pipeline.receive(session, sending, fresh, via="imap")
    assert other.category == "unmatched" and other.contact_id is None
    assert other.fields["reason"] == "no_reference"
    # On a one-organisation instance it waits in that organisation's Inbox... but this test
    # world has two organisations, so nobody can be told it is theirs.
    assert other.org_id is None


async def test_a_tampered_token_is_unmatched(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    reply_to = str(inbound_mail.parse(sent.raw)["Reply-To"])
    token = reply_to.split("+", 1)[1].split("@", 1)[0]
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    raw = inbound_mail.gmail_reply(sent.raw, "Hello", to=reply_to.replace(token, forged))
    raw = raw.replace(b"In-Reply-To:", b"X-In-Reply-To:").replace(b"References:", b"X-Ref:")
    row = await pipeline.receive(session, sending, raw, via="smtp")
    assert row.category == "unmatched" and row.fields["reason"] == "tampered"
    assert row.delivery_id is None
    assert (await _delivery(session, sent)).replied_at is None


async def test_a_hard_bounce_suppresses_the_address_and_flags_the_contact(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
    receiver: Receiver,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    dsn = inbound_mail.postfix_dsn(sent.raw, sent.mail_from)
    await _smtp_send(receiver.port, dsn, "", [sent.mail_from])

    delivery = await _delivery(session, sent)
    row = (await session.execute(select(InboundMessage))).scalar_one()
    assert (row.category, row.kind) == ("bounce", "hard")
    assert row.fields["status"] == "5.1.1" and "User unknown" in row.fields["diagnostic"]
    assert delivery.bounced_at is not None
    blocked = await suppressed(session, sending, world.editor.org_id, ["arben@koha.net"])
    assert blocked == {"arben@koha.net": "hard_bounce"}
    address = (
        await session.execute(
            select(ContactEmail).where(ContactEmail.contact_id == delivery.contact_id)
        )
    ).scalar_one()
    assert address.bounced_at is not None  # the contact page says "check address"
    entry = (await _timeline(session, delivery.contact_id))[-1]
    assert entry.kind == "bounce" and "moved outlet" in entry.summary


async def test_soft_bounces_suppress_after_the_threshold_and_delays_change_nothing(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    delay = inbound_mail.postfix_dsn(
        sent.raw, sent.mail_from, status="4.4.1", action="delayed",
        diagnostic="connect to mx.kallxo.example[203.0.113.25]:25: Connection timed out",
    )  # fmt: skip
    row = await pipeline.receive(session, sending, delay, via="smtp")
    assert (row.category, row.kind) == ("bounce", "delayed")
    delivery = await _delivery(session, sent)
    assert delivery.bounced_at is None
    assert not await _timeline_kinds(session, delivery.contact_id, "bounce")

    org = world.editor.org_id
    full = "552 5.2.2 <x>: Mailbox full"
    for n in range(1, sending.soft_bounce_limit + 1):
        bounce = inbound_mail.postfix_dsn(sent.raw, sent.mail_from, status="5.2.2", diagnostic=full)
        row = await pipeline.receive(session, sending, bounce, via="smtp")
        assert (row.category, row.kind) == ("bounce", "soft")
        blocked = await suppressed(session, sending, org, ["arben@koha.net"])
        assert blocked == (
            {} if n < sending.soft_bounce_limit else {"arben@koha.net": "soft_bounce"}
        )
    assert len(await _timeline_kinds(session, delivery.contact_id, "bounce")) == 3


async def _timeline_kinds(session: AsyncSession, contact_id: int | None, kind: str) -> list:
    assert contact_id is not None
    return [i for i in await _timeline(session, contact_id) if i.kind == kind]


async def test_a_policy_bounce_alerts_the_owners_once_and_blames_no_journalist(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    arrivals = await _sent(
        session, maker, world, sending, smtp,
        [("Arbën", "arben@koha.net", "sq"), ("Besa", "besa@kallxo.com", "sq")],
    )  # fmt: skip
    smtp.sink.arrivals.clear()
    blocked = (
        "550 5.7.1 Service unavailable, Client host [198.51.100.7] blocked using "
        "Spamhaus; https://www.spamhaus.org/query/ip/198.51.100.7"
    )
    for sent in arrivals:
        raw = inbound_mail.postfix_dsn(sent.raw, sent.mail_from, status="5.7.1", diagnostic=blocked)
        row = await pipeline.receive(session, sending, raw, via="smtp")
        assert (row.category, row.kind, row.state) == ("bounce", "policy", "new")
    assert await suppressed(session, sending, world.editor.org_id, ["arben@koha.net"]) == {}
    assert (await _delivery(session, arrivals[0])).bounced_at is None
    # Owners see a banner; editors do not.
    assert await inbox.policy_blocks(session, world.owner) == 2
    assert await inbox.policy_blocks(session, world.editor) == 0
    # One alert, not one per refused message; it reaches the owner by mail.
    alerts = (await session.execute(select(Job).where(Job.kind == "inbound.policy_alert"))).all()
    assert len(alerts) == 1
    while await jobs.run_one(maker, sending):
        pass
    [alert] = smtp.sink.arrivals
    assert alert.recipients == [world.emails["owner"]]
    assert "Spamhaus" in alert.message.get_body(("plain",)).get_content()
    await inbox.handle_policy_blocks(session, world.owner)
    assert await inbox.policy_blocks(session, world.owner) == 0


async def test_an_out_of_office_note_is_noted_and_is_not_a_reply(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    raw = inbound_mail.exchange_out_of_office(sent.raw, sent.mail_from)
    row = await pipeline.receive(session, sending, raw, via="smtp")
    assert row.category == "auto_reply" and row.fields["away_until"] == "2026-12-07"
    delivery = await _delivery(session, sent)
    assert delivery.replied_at is None
    [entry] = await _timeline_kinds(session, delivery.contact_id, "auto_reply")
    assert entry.summary == "Away until 07.12.2026"


async def test_a_complaint_suppresses_at_once_and_stops_what_is_queued(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    row = await pipeline.receive(
        session, sending, inbound_mail.yahoo_complaint(sent.raw), via="api"
    )
    assert row.category == "complaint" and row.fields["feedback_type"] == "abuse"
    assert await suppressed(session, sending, world.editor.org_id, ["arben@koha.net"]) == {
        "arben@koha.net": "complaint"
    }
    assert (await _delivery(session, sent)).unsubscribed_at is not None


async def test_mail_to_the_unsubscribe_address_unsubscribes(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
    receiver: Receiver,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    raw = inbound_mail.unsubscribe_mail(sent.raw)
    to = str(inbound_mail.parse(raw)["To"])
    await _smtp_send(receiver.port, raw, "arben@koha.net", [to])
    row = (await session.execute(select(InboundMessage))).scalar_one()
    assert row.category == "unsubscribe" and row.state == "handled"
    assert (await _delivery(session, sent)).unsubscribed_at is not None
    assert await suppressed(session, sending, world.editor.org_id, ["arben@koha.net"]) == {
        "arben@koha.net": "unsubscribed"
    }


async def test_the_receiver_is_no_relay(sending: Settings, receiver: Receiver) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientRefused, match="Relaying denied"):
        await _smtp_send(receiver.port, b"Subject: hi\r\n\r\nhi\r\n", "x@example.org",
                         ["someone@gmail.com"])  # fmt: skip


async def test_a_message_over_the_size_cap_is_recorded_with_its_headers(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
    receiver: Receiver,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    small = sending.model_copy(update={"inbound_max_bytes": 50_000})
    raw = inbound_mail.gmail_reply(sent.raw, "Here is the video: " + "x" * 120_000)
    row = await pipeline.receive(session, small, raw, via="smtp")
    assert row.truncated and row.size == len(raw) and len(row.raw) < 5000
    assert "only its headers were kept" in row.error
    # Matched by its headers all the same: the officer knows who answered.
    assert row.category == "reply" and row.delivery_id == (await _delivery(session, sent)).id


async def test_the_outsider_never_sees_another_organisations_inbound_mail(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    row = await pipeline.receive(
        session, sending, inbound_mail.gmail_reply(sent.raw, "Po"), via="api"
    )
    rows, total, _ = await inbox.inbox(session, world.outsider)
    assert total == 0 and rows == []
    with pytest.raises(NotFound):
        await inbox.message(session, world.outsider, row.id)
    mine, total, new = await inbox.inbox(session, world.viewer)
    assert total == 1 and new == {"reply": 1}


async def test_on_a_one_organisation_instance_unmatched_mail_waits_in_its_inbox(
    session: AsyncSession, sending: Settings
) -> None:
    org = Organisation(name="Qendra")
    session.add(org)
    await session.commit()
    raw = (
        b"From: Besa Gashi <besa@kallxo.com>\r\nTo: press@replies.qendra.org\r\n"
        b"Subject: Pyetje\r\nMessage-ID: <abc@kallxo.com>\r\n\r\nA keni raport?\r\n"
    )
    row = await pipeline.receive(session, sending, raw, via="smtp")
    assert row.category == "unmatched" and row.org_id == org.id


async def test_a_failure_while_acting_keeps_the_message_for_a_person(
    session: AsyncSession, sending: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("classifier exploded")

    monkeypatch.setattr(pipeline.classify, "classify", broken)
    raw = b"From: a@b.c\r\nMessage-ID: <x@b.c>\r\nSubject: hi\r\n\r\nhi\r\n"
    row = await pipeline.receive(session, sending, raw, via="smtp")
    assert row.category == "unmatched" and "classifier exploded" in row.error
    assert row.raw == raw


async def test_concurrent_copies_of_one_message_are_stored_once(
    maker: async_sessionmaker[AsyncSession], sending: Settings
) -> None:
    raw = b"From: a@b.c\r\nMessage-ID: <same@b.c>\r\nSubject: hi\r\n\r\nhi\r\n"

    async def one() -> int | None:
        async with maker() as s:
            return (await pipeline.receive(s, sending, raw, via="smtp")).id

    ids = await asyncio.gather(one(), one(), one())
    assert len(set(ids)) == 1


async def test_a_reply_is_forwarded_to_the_sender_addresss_own_mailbox(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    identity = SenderIdentity(
        org_id=world.editor.org_id, from_name="Qendra", from_address="press@qendra.org"
    )
    session.add(identity)
    await session.commit()
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids, sender_id=identity.id)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await _drain(maker, sending)
    [sent] = smtp.sink.arrivals
    raw = inbound_mail.gmail_reply(sent.raw, "Po, vij.", sender="Arbën <arben@koha.net>")
    row = await pipeline.receive(session, sending, raw, via="smtp")
    while await jobs.run_one(maker, sending):
        pass
    forwarded = smtp.sink.arrivals[-1]
    assert forwarded.recipients == ["press@qendra.org"]
    message = forwarded.message
    assert message["Reply-To"] == "arben@koha.net"  # answering the forward answers her
    assert f"/inbox/{row.id}" in message.get_body(("plain",)).get_content()
    [attached] = list(message.iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    assert b"Po, vij." in attached.as_bytes()


async def test_a_contacts_inbound_mail_joins_their_export_and_goes_with_their_erasure(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    delivery = await _delivery(session, sent)
    contact_id = delivery.contact_id
    assert contact_id is not None
    reply = inbound_mail.gmail_reply(
        sent.raw, "Numri im i ri: 044 123 456", sender="arben@koha.net"
    )
    row = await pipeline.receive(session, sending, reply, via="smtp")
    away = await pipeline.receive(
        session, sending, inbound_mail.exchange_out_of_office(sent.raw, sent.mail_from), via="smtp"
    )
    await answers.answer(session, world.editor, sending, row.id, body="Faleminderit, Arbën!")

    data = await privacy.export_contact_data(session, world.editor, contact_id)
    received = {m["kind"]: m for m in data["mail_received"]}
    assert received["reply"]["text"] == "Numri im i ri: 044 123 456"
    assert received["auto_reply"]["details"]["away_until"] == "2026-12-07"
    with pytest.raises(NotFound):
        await privacy.export_contact_data(session, world.outsider, contact_id)

    await privacy.erase_contact(session, world.editor, sending, contact_id)
    left = (await session.execute(select(InboundMessage.id))).scalars().all()
    assert row.id not in left and away.id not in left
    kinds = (await session.execute(select(Campaign.kind))).scalars().all()
    assert "answer" not in kinds  # the answer quoted them: gone too


async def test_machine_reports_that_are_no_bounce_or_complaint_are_never_replies(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    relayed = inbound_mail.postfix_dsn(
        sent.raw, sent.mail_from, status="2.0.0", action="relayed",
        diagnostic="250 2.0.0 Ok: queued as 4XyZ",
    )  # fmt: skip
    row = await pipeline.receive(session, sending, relayed, via="smtp")
    assert row.category == "unmatched" and row.fields["reason"] == "report"
    dmarc = inbound_mail.yahoo_complaint(sent.raw).replace(
        b"Feedback-Type: abuse", b"Feedback-Type: auth-failure"
    )
    row = await pipeline.receive(session, sending, dmarc, via="smtp")
    assert row.category == "unmatched"
    delivery = await _delivery(session, sent)
    assert delivery.replied_at is None and delivery.unsubscribed_at is None
    assert await suppressed(session, sending, world.editor.org_id, ["arben@koha.net"]) == {}


async def test_an_oversized_bounce_is_classified_from_the_whole_message(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    dsn = inbound_mail.postfix_dsn(
        sent.raw, sent.mail_from, status="5.2.2", diagnostic="552 5.2.2 <x>: Mailbox full"
    )
    # A report whose notice runs long (some servers include the whole transcript).
    full = dsn.replace(b"It's attached below.\n", b"It's attached below.\n" + b"x" * 70 * 3000)
    small = sending.model_copy(update={"inbound_max_bytes": 50_000})
    row = await pipeline.receive(session, small, full, via="smtp")
    assert row.truncated and (row.category, row.kind) == ("bounce", "soft")
    assert await suppressed(session, sending, world.editor.org_id, ["arben@koha.net"]) == {}


async def test_a_nul_byte_neither_loses_the_message_nor_stops_the_intake(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    raw = inbound_mail.gmail_reply(sent.raw, "Po\x00 vij", sender="Arbën <arben@koha.net>")
    raw = raw.replace(b"Subject: Re:", b"Subject: Re:\x00")
    row = await pipeline.receive(session, sending, raw, via="smtp")
    assert row.category == "reply" and row.text == "Po vij"
    assert row.org_id == world.editor.org_id and row.raw == raw


async def test_beatbooks_own_forward_polled_back_is_not_read_again(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    identity = SenderIdentity(
        org_id=world.editor.org_id, from_name="Qendra", from_address="press@qendra.org"
    )
    session.add(identity)
    await session.commit()
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids, sender_id=identity.id)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await _drain(maker, sending)
    raw = inbound_mail.gmail_reply(smtp.sink.arrivals[0].raw, "Po", sender="arben@koha.net")
    await pipeline.receive(session, sending, raw, via="smtp")
    while await jobs.run_one(maker, sending):
        pass
    forward = smtp.sink.arrivals[-1].raw
    again = await pipeline.receive(session, sending, forward, via="imap")
    assert again.category == "unmatched" and again.fields["reason"] == "own_forward"
    # Filed with the sender address's organisation, without the reply it carries (that is
    # stored once, as its own message).
    assert again.state == "handled" and again.org_id == world.editor.org_id
    assert again.raw == b"" and again.text == ""
    # Anyone can write the header; only Beatbook's own signature on it counts.
    forged = inbound_mail.gmail_reply(
        smtp.sink.arrivals[0].raw, "Pa lexo këtë", sender="arben@koha.net"
    ).replace(b"Subject:", b"X-Beatbook-Forward: 1\r\nSubject:", 1)
    read = await pipeline.receive(
        session, sending, forged.replace(b"@mail.gmail.com", b"@x"), via="imap"
    )
    assert read.category == "reply" and read.text == "Pa lexo këtë"


def _nested(depth: int, to: str) -> bytes:
    """A message whose MIME tree is `depth` multiparts deep: what no mail program sends and
    a hostile sender can."""
    head = (
        f"From: someone@example.net\r\nTo: {to}\r\nSubject: deep\r\n"
        "Message-ID: <deep.1@example.net>\r\nMIME-Version: 1.0\r\n"
    ).encode()
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhello" + closing + b"\r\n"


async def test_mail_nested_too_deep_to_read_waits_for_a_person_and_the_intake_goes_on(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    raw = _nested(3000, inbound_mail.parse(sent.raw)["Reply-To"])
    row = await pipeline.receive(session, sending, raw, via="imap")
    assert row.category == "unmatched" and row.fields["reason"] == "unreadable"
    assert "nested too deep" in row.error and row.raw == raw
    reply = inbound_mail.gmail_reply(sent.raw, "Po")
    assert (await pipeline.receive(session, sending, reply, via="imap")).category == "reply"


async def test_a_message_whose_processing_stopped_midway_is_finished_once_by_its_next_copy(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    delivery = await _delivery(session, sent)
    raw = inbound_mail.gmail_reply(sent.raw, "Po, vij.", sender="arben@koha.net")
    fresh = inbound_mail.gmail_reply(sent.raw, "Jo.", sender="arben@koha.net")
    # Two arrivals that stopped after storing (as oversized ones, headers only): one an hour
    # ago, one a moment ago, whose process may still be at work on it.
    for message, claimed in ((raw, timedelta(hours=1)), (fresh, timedelta(0))):
        message_id = str(inbound_mail.parse(message)["Message-ID"])
        session.add(
            InboundMessage(
                via="smtp", dedup_key=pipeline.dedup_key(message_id, message),
                message_id=message_id, raw=pipeline.headers_of(message), truncated=True,
                fields={"reason": "processing"}, claimed_at=datetime.now(UTC) - claimed,
            )
        )  # fmt: skip
    await session.commit()

    async def copy(message: bytes) -> None:
        async with maker() as s:
            await pipeline.receive(s, sending, message, via="smtp")

    await asyncio.gather(*(copy(raw) for _ in range(3)), copy(fresh))
    replies = [i for i in await _timeline(session, delivery.contact_id or 0) if i.direction == "in"]
    assert [i.body for i in replies] == ["Po, vij."]  # once, read from the whole copy
    rows = (
        await session.execute(
            select(InboundMessage.category, InboundMessage.fields)
            .order_by(InboundMessage.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    assert [r.category for r in rows] == ["reply", "unmatched"]
    assert rows[1].fields == {"reason": "processing"}  # left to the arrival still at it


async def test_a_failure_after_matching_keeps_the_message_with_its_contact(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)

    async def broken(*args: object) -> None:
        raise RuntimeError("timeline exploded")

    monkeypatch.setitem(pipeline.ACTIONS, "reply", broken)
    row = await pipeline.receive(session, sending, inbound_mail.gmail_reply(sent.raw, "Po"),
                                 via="smtp")  # fmt: skip
    delivery = await _delivery(session, sent)
    assert row.category == "unmatched" and "timeline exploded" in row.error
    assert (row.org_id, row.contact_id, row.delivery_id) == (
        delivery.org_id,
        delivery.contact_id,
        delivery.id,
    )
    assert (await inbox.message(session, world.editor, row.id)).message.id == row.id


async def test_a_notice_forwarded_as_an_attachment_is_a_persons_reply(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    reply = inbound_mail.parse(inbound_mail.gmail_reply(sent.raw, "Shihni njoftimin."))
    notice = inbound_mail.parse(
        inbound_mail.postfix_dsn(sent.raw, sent.mail_from, action="delivered", status="2.0.0")
    )
    reply.make_mixed()
    reply.attach(_rfc822(notice))
    row = await pipeline.receive(session, sending, reply.as_bytes(), via="imap")
    assert row.category == "reply" and row.text == "Shihni njoftimin."


def _rfc822(inner: EmailMessage) -> EmailMessage:
    part = EmailMessage()
    part.set_content(inner)
    return part


async def test_with_an_envelope_the_delivery_headers_name_nothing(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    token_address = str(inbound_mail.parse(sent.raw)["Reply-To"])
    raw = (
        f"Delivered-To: {token_address}\r\nFrom: stranger@example.net\r\n"
        "To: press@replies.qendra.org\r\nSubject: hello\r\nMessage-ID: <s.1@example.net>\r\n"
        "\r\nA message written afresh.\r\n"
    ).encode()
    row = await pipeline.receive(session, sending, raw, via="smtp",
                                 recipients=["press@replies.qendra.org"])  # fmt: skip
    assert row.category == "unmatched" and row.delivery_id is None
    # Polled from a mailbox there is no envelope, and the delivering server's header counts.
    polled = raw.replace(b"<s.1@", b"<s.2@")
    assert (await pipeline.receive(session, sending, polled, via="imap")).category == "reply"


async def test_an_answer_goes_to_a_usable_address_under_a_subject_that_fits(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    [sent] = await _sent(session, maker, world, sending, smtp)
    raw = inbound_mail.gmail_reply(sent.raw, "Po", sender="Arbën <arben@koha.net>")
    raw = raw.replace(
        b"Subject: Re:", b"Reply-To: " + b"a" * 400 + b"@koha.net\nSubject: Re: " + b"{" * 300, 1
    )
    row = await pipeline.receive(session, sending, raw, via="smtp")
    body = "Lista:\n    - e para\n\t- e dyta"
    delivery = await answers.answer(session, world.editor, sending, row.id, body=body)
    assert delivery.address == "arben@koha.net"
    smtp.sink.arrivals.clear()
    await _drain(maker, sending)
    [answer] = smtp.sink.arrivals
    assert answer.recipients == ["arben@koha.net"]
    assert str(answer.message["Subject"]).startswith("Re: " + "{" * 40)
    text = answer.message.get_body(("plain",)).get_content()
    assert "\u00a0" * 4 + "- e para" in text and "\u00a0" * 4 + "- e dyta" in text
