"""Campaigns through the outbox to a real SMTP server that can misbehave."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.accounts import Actor
from crm.contacts import ContactIn, RoleIn, create_contact
from crm.errors import Conflict, InvalidInput
from crm.models import Campaign, Contact, Delivery, Interaction
from crm.outlets import OutletIn, create_outlet
from crm.privacy import suppress
from crm.settings import Settings
from outreach import outbox, sender
from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign
from outreach.compose import Outgoing, reply_secret
from outreach.mime import read_reply_token
from outreach.sender import SenderWorker
from tests.conftest import World
from tests.smtp_server import SmtpServer

BODY_SQ = "{{ salutation }},\n\nQendra publikon raportin për **lirinë e medias** në {{ outlet }}.\n"
BODY_EN = "{{ salutation }},\n\nWe publish our report on **media freedom** at {{ outlet }}.\n"


async def _people(
    session: AsyncSession, actor: Actor, specs: list[tuple[str, str, str]]
) -> list[int]:
    outlet = await create_outlet(session, actor, OutletIn(name="Koha Ditore", medium="print"))
    ids = []
    for given, email, language in specs:
        contact = await create_contact(
            session,
            actor,
            ContactIn(
                given_name=given,
                family_name="Krasniqi",
                emails=[email] if email else [],
                preferred_language=language,
                salutation="m",
                roles=[RoleIn(outlet_id=outlet.id)],
            ),
        )
        ids.append(contact.id)
    return ids


async def _campaign(
    session: AsyncSession, actor: Actor, contact_ids: list[int], **extra
) -> Campaign:
    data = CampaignIn(
        name="Media freedom report",
        default_language="sq",
        variants={
            "sq": VariantIn(subject="Raporti për {{ first_name }}", body=BODY_SQ),
            "en": VariantIn(subject="The report, {{ first_name }}", body=BODY_EN),
        },
        audience=AudienceIn(contacts=contact_ids),
        **extra,
    )
    return await create_campaign(session, actor, data)


async def _drain(
    maker: async_sessionmaker[AsyncSession], settings: Settings, rounds: int = 50
) -> None:
    """Run the sender until nothing is due (waiting out short retries)."""
    worker = SenderWorker(maker, settings)
    idle = 0
    for _ in range(rounds):
        if await worker.run_once():
            idle = 0
            continue
        idle += 1
        if idle > 3:
            break
        await asyncio.sleep(0.3)
    await worker.close()


async def _deliveries(session: AsyncSession, campaign_id: int) -> dict[str, Delivery]:
    rows = await session.execute(
        select(Delivery)
        .where(Delivery.campaign_id == campaign_id)
        .execution_options(populate_existing=True)
    )
    return {d.address: d for d in rows.scalars()}


async def test_each_journalist_gets_a_personal_message_in_their_language(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(
        session, world.editor, [("Arbën", "arben@koha.net", "sq"), ("John", "john@bbc.co.uk", "en")]
    )
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id, expected=2)
    await _drain(maker, sending)

    arben = smtp.sink.to("arben@koha.net")
    john = smtp.sink.to("john@bbc.co.uk")
    assert len(arben) == 1 and len(john) == 1
    m = arben[0].message
    assert str(m["Subject"]) == "Raporti për Arbën"
    assert "I nderuar Arbën" in m.get_body(("plain",)).get_content()
    assert "<strong>lirinë e medias</strong>" in m.get_body(("html",)).get_content()
    assert "Koha Ditore" in m.get_body(("plain",)).get_content()
    assert str(john[0].message["Subject"]) == "The report, John"
    assert m["Message-ID"].endswith("@qendra.org>")
    assert str(m["From"]) == "Qendra për Drejtësi <press@qendra.org>"  # the org, not the server
    # Replies can be matched to this delivery by the signed token.
    reply_to = str(m["Reply-To"])
    local, domain = reply_to.split("@")
    assert domain == "replies.qendra.org" and len(local) <= 64
    deliveries = await _deliveries(session, campaign.id)
    token = local.removeprefix("reply+")
    assert read_reply_token(reply_secret(sending), token) == deliveries["arben@koha.net"].id
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in str(m["List-Unsubscribe"]) and "mailto:" in str(m["List-Unsubscribe"])
    assert m["List-Id"]
    assert all(d.status == "sent" and d.sent_at for d in deliveries.values())
    # The first message says where the address came from, and that is remembered.
    assert "Qendra për Drejtësi" in m.get_body(("plain",)).get_content()
    contact = await session.get(Contact, ids[0], populate_existing=True)
    assert contact.privacy_notice_at is not None
    timeline = await session.execute(
        select(Interaction).where(Interaction.contact_id == ids[0], Interaction.kind == "email_out")
    )
    item = timeline.scalar_one()
    assert item.campaign_id == campaign.id and item.delivery_id == deliveries["arben@koha.net"].id
    finished = await session.get(Campaign, campaign.id, populate_existing=True)
    assert finished.status == "finished"


async def test_the_privacy_notice_comes_only_with_the_first_message(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids, first = await _sent(session, maker, world, sending, [("Arbën", "arben@koha.net", "sq")])
    second = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, second.id)
    await _drain(maker, sending)
    texts = [a.message.get_body(("plain",)).get_content() for a in smtp.sink.to("arben@koha.net")]
    assert len(texts) == 2
    assert "Qendra për Drejtësi" in texts[0] and "Qendra për Drejtësi" not in texts[1]


async def test_a_temporary_refusal_is_retried_later(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(session, world.editor, [("Vesa", "tempfail@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    worker = SenderWorker(maker, sending)
    await worker.run_once()
    row = (await _deliveries(session, campaign.id))["tempfail@koha.net"]
    assert row.status == "deferred" and row.last_error.startswith("451")
    assert row.next_attempt_at > datetime.now(UTC)
    assert smtp.sink.to("tempfail@koha.net") == []
    await _drain(maker, sending)
    row = (await _deliveries(session, campaign.id))["tempfail@koha.net"]
    assert row.status == "sent" and row.attempts == 2
    assert len(smtp.sink.to("tempfail@koha.net")) == 1


async def test_a_permanent_refusal_fails_that_recipient_only_and_is_not_retried(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(
        session,
        world.editor,
        [("Nobody", "reject@koha.net", "sq"), ("Arta", "arta@koha.net", "sq")],
    )
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await _drain(maker, sending)
    rows = await _deliveries(session, campaign.id)
    assert rows["reject@koha.net"].status == "failed"
    assert rows["reject@koha.net"].last_error.startswith("550")
    assert rows["reject@koha.net"].attempts == 1
    assert rows["arta@koha.net"].status == "sent"
    assert len(smtp.sink.to("arta@koha.net")) == 1
    assert smtp.sink.to("reject@koha.net") == []


async def test_connection_lost_after_data_leaves_row_unknown_and_resend_keeps_message_id(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids, campaign = await _sent(session, maker, world, sending, [("Drin", "drop@koha.net", "sq")])
    row = (await _deliveries(session, campaign.id))["drop@koha.net"]
    assert row.status == "unknown"
    first = smtp.sink.to("drop@koha.net")
    assert len(first) == 1 and first[0].message_id == row.message_id
    await outbox.resolve_unknown(session, world.editor, campaign.id, [row.id], "resend")
    await _drain(maker, sending)
    again = smtp.sink.to("drop@koha.net")
    assert len(again) == 2 and again[1].message_id == row.message_id


async def test_the_deadline_stops_a_stale_send(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    deadline = datetime.now(UTC) + timedelta(hours=1)
    campaign = await _campaign(session, world.editor, ids, deadline_at=deadline)
    await outbox.launch(session, world.editor, sending, campaign.id)
    # An outage: by the time a worker runs, the deadline has passed.
    past = datetime.now(UTC) - timedelta(minutes=1)
    await session.execute(
        update(Campaign).where(Campaign.id == campaign.id).values(deadline_at=past)
    )
    await session.commit()
    await _drain(maker, sending)
    row = (await _deliveries(session, campaign.id))["arta@koha.net"]
    assert row.status == "cancelled" and "deadline" in row.last_error
    assert smtp.sink.arrivals == []
    assert (await session.get(Campaign, campaign.id, populate_existing=True)).status == "finished"


async def test_a_double_click_launches_once(
    maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    async with maker() as session:
        ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
        campaign = await _campaign(session, world.editor, ids)

    async def click() -> str:
        async with maker() as s:
            try:
                await outbox.launch(s, world.editor, sending, campaign.id)
            except Conflict:
                return "conflict"
            return "launched"

    outcomes = await asyncio.gather(click(), click())
    assert sorted(outcomes) == ["conflict", "launched"]
    async with maker() as session:
        assert len(await _deliveries(session, campaign.id)) == 1


async def test_exclusions_are_shown_with_their_reasons_and_addresses_collapse(
    session: AsyncSession, maker, world: World, sending: Settings
) -> None:
    ids = await _people(
        session,
        world.editor,
        [
            ("Arta", "arta@koha.net", "sq"),
            ("Besa", "", "sq"),  # no email
            ("Dren", "dren@koha.net", "sq"),  # unsubscribed
            ("Era", "era@koha.net", "sq"),  # do-not-contact
        ],
    )
    era = await session.get(Contact, ids[3])
    era.do_not_contact, era.do_not_contact_reason = True, "asked us in person"
    session.add(era)
    await suppress(session, sending, world.editor.org_id, "dren@koha.net", "unsubscribed")
    # Arta also reads the desk mailbox: the same address, written differently.
    desk = await create_outlet(
        session, world.editor, OutletIn(name="Zëri", medium="online", desk_email="ARTA@koha.net")
    )
    await session.commit()
    campaign = await _campaign(session, world.editor, ids)
    campaign.audience = {"lists": [], "contacts": ids, "outlets": [desk.id]}
    session.add(campaign)
    await session.commit()
    check = await outbox.check(session, world.editor, sending, campaign.id)
    assert [r.address for r in check.plan.recipients] == ["arta@koha.net"]
    reasons = {e.name.split()[0]: e.reason for e in check.plan.excluded}
    assert reasons == {
        "Zëri": "duplicate",
        "Besa": "no_email",
        "Dren": "unsubscribed",
        "Era": "do_not_contact",
    }
    with pytest.raises(Conflict):  # the officer confirmed a count that is no longer true
        await outbox.launch(session, world.editor, sending, campaign.id, expected=2)


async def test_a_recipient_whose_message_would_fail_is_listed_before_launch(
    session: AsyncSession, world: World, sending: Settings
) -> None:
    ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    outletless = await create_contact(
        session, world.editor, ContactIn(given_name="Faton", emails=["faton@gmail.com"])
    )
    campaign = await _campaign(session, world.editor, [*ids, outletless.id])
    check = await outbox.check(session, world.editor, sending, campaign.id)
    failing = [e for e in check.plan.excluded if e.reason == "render"]
    assert [e.contact_id for e in failing] == [outletless.id]
    assert "outlet" in failing[0].why


async def test_templates_that_try_to_escape_the_sandbox_are_refused_on_save(
    session: AsyncSession, world: World
) -> None:
    for body in (
        "{{ ''.__class__.__mro__ }}",
        "{{ first_name|attr('upper') }}",
        "{% for i in range(99999999) %}x{% endfor %}",
    ):
        with pytest.raises(InvalidInput):
            await create_campaign(
                session,
                world.editor,
                CampaignIn(
                    name="x",
                    default_language="sq",
                    variants={"sq": VariantIn(subject="s", body=body)},
                ),
            )


async def test_over_pitched_journalists_are_flagged_before_launch(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    org_limit = 2
    from crm.models import Organisation

    org = await session.get(Organisation, world.editor.org_id)
    org.pitch_limit = org_limit
    session.add(org)
    await session.commit()
    for _ in range(org_limit + 1):
        c = await _campaign(session, world.editor, ids)
        await outbox.launch(session, world.editor, sending, c.id)
        await _drain(maker, sending)
    nxt = await _campaign(session, world.editor, ids)
    check = await outbox.check(session, world.editor, sending, nxt.id)
    assert [(o.contact_id, o.count) for o in check.plan.over_pitched] == [(ids[0], org_limit + 1)]


async def test_an_unreachable_server_stops_the_batch_and_pauses_the_campaign(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    broken = sending.model_copy(
        update={"smtp_port": 1, "send_failures_to_pause": 3, "send_retry_seconds": 0}
    )
    ids = await _people(
        session, world.editor, [(f"P{i}", f"p{i}@koha.net", "sq") for i in range(4)]
    )
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, broken, campaign.id)
    worker = SenderWorker(maker, broken)
    await worker.run_once()
    rows = await _deliveries(session, campaign.id)
    # The first tries (one per connection) found the server gone; the rest were not made.
    attempts = [d.attempts for d in rows.values()]
    assert 1 <= sum(attempts) <= broken.send_concurrency < len(attempts) and min(attempts) == 0
    for _ in range(5):
        await worker.run_once()
    paused = await session.get(Campaign, campaign.id, populate_existing=True)
    assert paused.status == "paused" and "failures in a row" in paused.paused_reason
    assert paused.consecutive_failures >= 3
    # Paused rows are not sent, even once due.
    await session.execute(update(Delivery).values(next_attempt_at=datetime.now(UTC)))
    await session.commit()
    assert await SenderWorker(maker, sending).run_once() == 0
    await outbox.change_state(session, world.editor, campaign.id, "resume")
    await _drain(maker, sending)
    assert len(smtp.sink.arrivals) == 4


async def test_refused_addresses_do_not_pause_a_healthy_campaign(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    strict = sending.model_copy(update={"send_failures_to_pause": 2})
    ids = await _people(
        session, world.editor, [(f"R{i}", f"reject{i}@koha.net", "sq") for i in range(4)]
    )
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, strict, campaign.id)
    await _drain(maker, strict)
    finished = await session.get(Campaign, campaign.id, populate_existing=True)
    assert finished.status == "finished" and finished.consecutive_failures == 0


async def test_a_sender_refused_at_mail_from_is_retried_not_failed(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    smtp.sink.refuse_sender = "554 5.2.0 SubmissionQuotaExceeded"
    ids = await _people(
        session, world.editor, [("Arta", "arta@koha.net", "sq"), ("Besa", "besa@koha.net", "sq")]
    )
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await SenderWorker(maker, sending).run_once()
    rows = await _deliveries(session, campaign.id)
    # Not the journalists' fault: nobody failed, all wait for a retry.
    assert {d.status for d in rows.values()} <= {"deferred", "queued"}
    assert (
        "SubmissionQuotaExceeded"
        in rows["arta@koha.net"].last_error + rows["besa@koha.net"].last_error
    )
    smtp.sink.refuse_sender = ""  # the quota resets
    await _drain(maker, sending)
    assert len(smtp.sink.arrivals) == 2


async def test_an_address_unsubscribed_after_launch_is_not_mailed(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(
        session, world.editor, [("Arta", "arta@koha.net", "sq"), ("Besa", "besa@koha.net", "sq")]
    )
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await suppress(session, sending, world.editor.org_id, "ARTA@koha.net", "unsubscribed")
    besa = await session.get(Contact, ids[1])
    besa.do_not_contact = True
    session.add(besa)
    await session.commit()
    await _drain(maker, sending)
    assert smtp.sink.arrivals == []
    rows = await _deliveries(session, campaign.id)
    assert rows["arta@koha.net"].status == "cancelled"
    assert "unsubscribed since the launch" in rows["arta@koha.net"].last_error
    assert "do-not-contact" in rows["besa@koha.net"].last_error
    assert (await session.get(Campaign, campaign.id, populate_existing=True)).status == "finished"


async def test_a_message_that_cannot_be_made_fails_alone(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(
        session, world.editor, [("Arta", "arta@koha.net", "sq"), ("Besa", "besa@koha.net", "sq")]
    )
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    # An address no SMTP server takes without SMTPUTF8 (the import let it in).
    await session.execute(
        update(Delivery).where(Delivery.address == "arta@koha.net").values(address="artë@koha.net")
    )
    await session.commit()
    await _drain(maker, sending)
    rows = {d.name: d for d in (await _deliveries(session, campaign.id)).values()}
    assert rows["Arta Krasniqi"].status == "failed"
    assert "cannot be made" in rows["Arta Krasniqi"].last_error
    assert rows["Besa Krasniqi"].status == "sent"


async def test_cancel_stops_what_is_not_yet_sent(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await outbox.change_state(session, world.editor, campaign.id, "cancel")
    await _drain(maker, sending)
    assert smtp.sink.arrivals == []
    assert (await _deliveries(session, campaign.id))["arta@koha.net"].status == "cancelled"


@pytest.mark.parametrize("action", ["pause", "cancel"])
async def test_a_batch_claimed_just_before_a_pause_or_cancel_is_not_sent(
    session: AsyncSession,
    maker,
    world: World,
    sending: Settings,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    claim = sender.claim

    async def officer_clicks_meanwhile(worker_session: AsyncSession, *args: Any) -> list[Outgoing]:
        rows = await claim(worker_session, *args)
        await outbox.change_state(worker_session, world.editor, campaign.id, action)
        return rows

    monkeypatch.setattr(sender, "claim", officer_clicks_meanwhile)
    await SenderWorker(maker, sending).run_once()
    assert smtp.sink.arrivals == []
    arta = (await _deliveries(session, campaign.id))["arta@koha.net"]
    if action == "cancel":
        assert (arta.status, arta.last_error) == ("cancelled", "Campaign cancelled.")
        return
    assert (arta.status, arta.attempts) == ("queued", 0)  # waits, unattempted, for the resume
    monkeypatch.setattr(sender, "claim", claim)
    await outbox.change_state(session, world.editor, campaign.id, "resume")
    await _drain(maker, sending)
    assert len(smtp.sink.to("arta@koha.net")) == 1


async def test_a_test_send_reaches_the_officer_as_the_chosen_recipient(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids = await _people(session, world.editor, [("Arbën", "arben@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.send_test(
        session, world.editor, sending, campaign.id, to="editor@example.org", as_contact_id=ids[0]
    )
    await _drain(maker, sending)
    [arrival] = smtp.sink.to("editor@example.org")
    assert str(arrival.message["Subject"]) == "[TEST] Raporti për Arbën"
    assert smtp.sink.to("arben@koha.net") == []
    draft = await session.get(Campaign, campaign.id, populate_existing=True)
    assert draft.status == "draft"


async def test_another_organisation_cannot_see_or_launch_a_campaign(
    session: AsyncSession, world: World, sending: Settings
) -> None:
    from crm.errors import NotFound

    ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    with pytest.raises(NotFound):
        await outbox.check(session, world.outsider, sending, campaign.id)
    with pytest.raises(NotFound):
        await outbox.launch(session, world.outsider, sending, campaign.id)


async def test_a_contacts_campaign_mail_joins_their_export_and_erasure(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    from crm.models import CaughtMessage
    from crm.privacy import erase_contact, export_contact_data

    ids, campaign = await _sent(session, maker, world, sending, [("Arbën", "arben@koha.net", "sq")])
    row = (await _deliveries(session, campaign.id))["arben@koha.net"]
    session.add(CaughtMessage(org_id=world.editor.org_id, message_id=row.message_id, raw=b"x"))
    await session.commit()
    exported = await export_contact_data(session, world.editor, ids[0])
    [message] = exported["campaign_messages"]
    assert message["address"] == "arben@koha.net" and message["status"] == "sent"
    assert message["merge_fields"]["first_name"] == "Arbën"
    await erase_contact(session, world.editor, sending, ids[0])
    rows = await _deliveries(session, campaign.id)
    [kept] = rows.values()
    assert kept.status == "sent" and kept.contact_id is None
    assert kept.address == "" and kept.fields == {} and "arben" not in kept.address_norm
    assert (await session.execute(select(CaughtMessage))).first() is None


async def test_an_address_that_keeps_deferring_is_given_up(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    once = sending.model_copy(update={"send_max_attempts": 1})
    ids = await _people(session, world.editor, [("Vesa", "tempfail@koha.net", "sq")])
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, once, campaign.id)
    await SenderWorker(maker, once).run_once()
    row = (await _deliveries(session, campaign.id))["tempfail@koha.net"]
    assert row.status == "failed" and "Gave up after 1 attempts" in row.last_error


async def test_a_scheduled_campaign_waits_for_its_time(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    from crm import jobs
    from crm.models import Job

    ids = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    later = datetime.now(UTC) + timedelta(hours=2)
    campaign = await _campaign(session, world.editor, ids, scheduled_at=later)
    launched = await outbox.launch(session, world.editor, sending, campaign.id)
    assert launched.status == "scheduled"
    assert await SenderWorker(maker, sending).run_once() == 0
    assert not await jobs.run_one(maker, sending)  # the start job is not due yet
    # Two hours pass.
    await session.execute(update(Job).values(run_at=datetime.now(UTC) - timedelta(seconds=1)))
    await session.commit()
    assert await jobs.run_one(maker, sending)
    await _drain(maker, sending)
    assert len(smtp.sink.to("arta@koha.net")) == 1


async def test_another_organisations_contacts_cannot_be_put_in_an_audience(
    session: AsyncSession, world: World
) -> None:
    theirs = await create_contact(
        session, world.outsider, ContactIn(given_name="Secret", emails=["secret@source.net"])
    )
    with pytest.raises(InvalidInput):
        await create_campaign(
            session,
            world.editor,
            CampaignIn(
                name="x",
                variants={"sq": VariantIn(subject="s", body="b")},
                audience=AudienceIn(contacts=[theirs.id]),
            ),
        )


async def test_resolving_foreign_ids_touches_nothing_of_another_organisation(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    ids, mine = await _sent(session, maker, world, sending, [("Arta", "arta@koha.net", "sq")])
    theirs = await create_contact(
        session, world.outsider, ContactIn(given_name="Ilir", emails=["ilir@kanal10.net"])
    )
    other = await _their_campaign(session, world, sending, theirs.id)
    await _drain(maker, sending)
    their_row = next(iter((await _deliveries(session, other.id)).values()))
    n = await outbox.resolve_unknown(session, world.editor, mine.id, [their_row.id], "sent")
    assert n == 0
    timeline = await session.execute(select(Interaction).where(Interaction.contact_id == theirs.id))
    assert len(timeline.all()) == 1


async def test_erasure_leaves_other_organisations_mail_to_the_address_alone(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    from crm.privacy import erase_contact

    ours = await _people(session, world.editor, [("Arta", "arta@koha.net", "sq")])
    theirs = await create_contact(
        session, world.outsider, ContactIn(given_name="Arta", emails=["arta@koha.net"])
    )
    other = await _their_campaign(session, world, sending, theirs.id)
    await erase_contact(session, world.editor, sending, ours[0])
    their_row = next(iter((await _deliveries(session, other.id)).values()))
    assert their_row.address == "arta@koha.net" and their_row.status == "queued"


async def _their_campaign(
    session: AsyncSession, world: World, sending: Settings, contact_id: int
) -> Campaign:
    """The other organisation launches a campaign to one of its own contacts."""
    campaign = await create_campaign(
        session,
        world.outsider,
        CampaignIn(
            name="Theirs",
            variants={"sq": VariantIn(subject="s", body="b")},
            audience=AudienceIn(contacts=[contact_id]),
        ),
    )
    await outbox.launch(session, world.outsider, sending, campaign.id)
    return campaign


async def _sent(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    sending: Settings,
    people: list[tuple[str, str, str]],
) -> tuple[list[int], Campaign]:
    """The editor's contacts, a campaign to them, launched and sent to the end."""
    ids = await _people(session, world.editor, people)
    campaign = await _campaign(session, world.editor, ids)
    await outbox.launch(session, world.editor, sending, campaign.id)
    await _drain(maker, sending)
    return ids, campaign
