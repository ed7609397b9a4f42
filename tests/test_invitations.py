"""Invitation campaigns through the outbox to a real SMTP server: the MIME structure and the
calendar calendars accept, read back with two parsers; each guest's own ATTENDEE and RSVP
links; the event's fields in the reader's language; and answers coming back from the link
and from a calendar."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import vobject
from bs4 import BeautifulSoup
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import attendance, coalitions, lists
from crm.contacts import ContactIn, create_contact
from crm.errors import Conflict
from crm.events import EventIn, cancel_event, create_event, update_event
from crm.models import Attendance, Contact, Delivery, Event
from crm.settings import Settings
from outreach import calendar, invitations, outbox, rsvp
from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign
from tests.conftest import World, login
from tests.smtp_server import SmtpServer
from tests.test_outbox import _drain

BODY_SQ = (
    "{{ salutation }},\n\nJu ftojmë në **{{ event_title }}**, {{ event_start }}, në {{ venue }}."
    "\n\nDo të vini? [Po]({{ rsvp_yes_url }}) · [Ndoshta]({{ rsvp_maybe_url }}) · "
    "[Jo]({{ rsvp_no_url }})\n"
)
BODY_EN = (
    "{{ salutation }},\n\nPlease join us for {{ event_title }}, {{ event_start }}.\n\n"
    "Yes: {{ rsvp_yes_url }}\nNo: {{ rsvp_no_url }}\n"
)


async def _invited(
    session: AsyncSession, maker, world: World, settings: Settings
) -> tuple[int, dict[str, int]]:  # type: ignore[no-untyped-def]
    event = await create_event(
        session, world.editor,
        EventIn(title="Raporti për lirinë e medias 2026", starts_at="2026-12-15T11:00",
                ends_at="2026-12-15T12:30", venue="Hotel Sirius", capacity=50,
                organiser="Qendra për Drejtësi"),  # type: ignore[arg-type]
    )  # fmt: skip
    people = {}
    for given, family, email, language in (
        ("Arbër", "Krasniqi", "arber@koha.net", "sq"),
        ("John", "Smith", "john@bbc.co.uk", "en"),
    ):
        contact = await create_contact(
            session, world.editor,
            ContactIn(given_name=given, family_name=family, emails=[email],
                      preferred_language=language, salutation="m"),
        )  # fmt: skip
        people[email] = contact.id
    campaign = await create_campaign(
        session, world.editor,
        CampaignIn(
            name="Ftesë", kind="invitation", event_id=event.id, default_language="sq",
            variants={"sq": VariantIn(subject="Ftesë: {{ event_title }}", body=BODY_SQ),
                      "en": VariantIn(subject="Invitation: {{ event_title }}", body=BODY_EN)},
            audience=AudienceIn(contacts=list(people.values())),
        ),
    )  # fmt: skip
    await outbox.launch(session, world.editor, settings, campaign.id, expected=2)
    await _drain(maker, settings)
    return event.id, people


async def _guests(session: AsyncSession, event_id: int) -> dict[str, Attendance]:
    """The event's guests by address."""
    rows = await session.execute(select(Attendance).where(Attendance.event_id == event_id))
    return {g.address_norm: g for g in rows.scalars()}


async def _own_ids(session: AsyncSession, world: World) -> list[int]:
    rows = await session.execute(select(Contact.id).where(Contact.org_id == world.editor.org_id))
    return list(rows.scalars())


def _one(smtp: SmtpServer, address: str) -> EmailMessage:
    [received] = smtp.sink.to(address)
    return received.message


async def test_each_invitation_carries_a_calendar_that_calendars_accept(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    event_id, _people = await _invited(session, maker, world, sending)
    m = _one(smtp, "arber@koha.net")

    # multipart/mixed ⊃ multipart/alternative (text, HTML, text/calendar) + invite.ics
    assert m.get_content_type() == "multipart/mixed"
    outer = list(m.iter_parts())
    assert [p.get_content_type() for p in outer] == ["multipart/alternative", "application/ics"]
    inner = [p.get_content_type() for p in outer[0].iter_parts()]
    assert inner == ["text/plain", "text/html", "text/calendar"]
    part = list(outer[0].iter_parts())[2]
    assert part.get_param("method") == "REQUEST" and part.get_content_charset() == "utf-8"
    inline = part.get_content()
    attached = outer[1].get_content().decode("utf-8")
    assert outer[1].get_filename() == "invite.ics"
    assert inline.replace("\r\n", "\n") == attached.replace("\r\n", "\n")

    cal = Calendar.from_ical(attached)
    assert str(cal["method"]) == part.get_param("method")
    vevent = next(iter(cal.walk("VEVENT")))
    assert {"UID", "DTSTAMP", "SEQUENCE", "ORGANIZER", "ATTENDEE"} <= set(vevent)
    assert str(vevent["organizer"]).endswith(f"calendar+e{event_id}@replies.qendra.org")
    attendee = vevent["attendee"]
    assert str(attendee) == "mailto:arber@koha.net"
    assert attendee.params["RSVP"] == "TRUE" and attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    zone = next(iter(cal.walk("VTIMEZONE")))
    assert {c.name for c in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}
    card = vobject.readOne(attached)
    assert card.vevent.dtstart.value.hour == 11 and card.vevent.dtstart.value.utcoffset()
    assert card.vevent.attendee.params["CN"] == ["Arbër Krasniqi"]

    # The other guest's calendar names them, not Arbër; same event, same UID.
    other = Calendar.from_ical(
        list(_one(smtp, "john@bbc.co.uk").iter_parts())[1].get_content().decode()
    )
    other_event = next(iter(other.walk("VEVENT")))
    assert str(other_event["attendee"]) == "mailto:john@bbc.co.uk"
    assert other_event["uid"] == vevent["uid"]


async def test_the_event_is_told_in_each_readers_language_with_their_own_links(
    client: httpx.AsyncClient, session: AsyncSession, maker, world: World, sending: Settings,
    smtp: SmtpServer,
) -> None:  # fmt: skip
    event_id, _people = await _invited(session, maker, world, sending)
    albanian = _one(smtp, "arber@koha.net")
    text = albanian.get_body(("plain",)).get_content()
    assert str(albanian["Subject"]) == "Ftesë: Raporti për lirinë e medias 2026"
    assert "e martë, 15 dhjetor 2026, 11:00" in text and "Hotel Sirius" in text
    english = _one(smtp, "john@bbc.co.uk").get_body(("plain",)).get_content()
    assert "Tuesday, 15 December 2026, 11:00" in english

    guests = await _guests(session, event_id)
    assert set(guests) == {"arber@koha.net", "john@bbc.co.uk"}
    yes = re.search(r"Yes: (\S+)", english)
    assert yes and yes.group(1).endswith("?answer=yes")
    token = rsvp.rsvp_token(sending, guests["john@bbc.co.uk"].id)
    assert f"/rsvp/{token}?" in yes.group(1)
    own = rsvp.rsvp_token(sending, guests["arber@koha.net"].id)  # each their own
    html_part = albanian.get_body(("html",)).get_content()
    assert f'<a href="{sending.base_url}/rsvp/{own}?answer=yes"' in html_part
    assert f"Po ({sending.base_url}/rsvp/{own}?answer=yes)" in text

    # John answers from the link.
    answered = await client.post(f"/rsvp/{token}", data={"answer": "yes"})
    assert answered.status_code == 303
    await session.refresh(guests["john@bbc.co.uk"])
    assert guests["john@bbc.co.uk"].rsvp == "accepted"


FIXTURES = Path(__file__).parent / "fixtures" / "itip"
FIXTURE_UID = "5f0c2a9e-3b7d-4c1a-9e2f-8a6b1d4c7e90@beatbook"


def test_calendar_replies_of_real_clients_are_read() -> None:
    for case in json.loads((FIXTURES / "expected.json").read_text()):
        replies = calendar.read_replies((FIXTURES / case["file"]).read_bytes())
        assert replies == [calendar.Reply(**r) for r in case["replies"]], case["file"]


async def test_calendar_replies_set_the_rsvp_and_a_stale_one_is_ignored(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(
        session, world.editor,
        EventIn(title="Raporti për lirinë e medias 2026", starts_at="2026-03-29T11:00",
                ends_at="2026-03-29T12:30"),  # type: ignore[arg-type]
    )  # fmt: skip
    event.uid, event.sequence = FIXTURE_UID, 2  # the invitation these clients answered
    guests = {}
    for name, address in (
        ("Arbër Krasniqi", "arber.krasniqi@gmail.com"),
        ("Dragana Ćosić", "dragana.cosic@kossev.info"),
        ("Jelena Đorđević", "jelena.djordjevic@icloud.com"),
        ("Blerta Hoxha", "blerta@kallxo.com"),
    ):
        guests[address] = await attendance.add_guest(
            session, event, org_id=world.editor.org_id, name=name, address=address
        )
        guests[address].sent_sequence = 2  # they were sent the invitation of SEQUENCE 2
    await session.commit()
    results = {}
    for name in ("google_accepted", "outlook_declined", "apple_tentative",
                 "thunderbird_accepted_old_sequence", "not_a_reply"):  # fmt: skip
        results[name] = await rsvp.apply_calendar_replies(
            session, (FIXTURES / f"{name}.eml").read_bytes()
        )
    for guest in guests.values():
        await session.refresh(guest)
    assert guests["arber.krasniqi@gmail.com"].rsvp == "accepted"
    assert guests["arber.krasniqi@gmail.com"].rsvp_via == "calendar"
    assert guests["dragana.cosic@kossev.info"].rsvp == "declined"  # address case ignored
    assert guests["jelena.djordjevic@icloud.com"].rsvp == "tentative"
    assert guests["blerta@kallxo.com"].rsvp == "none"  # answered SEQUENCE 0: stale
    assert [a.recorded for a in results["thunderbird_accepted_old_sequence"]] == [False]
    assert results["not_a_reply"] == []

    # One invitee cannot answer for another, though both know the event's UID.
    raw = (FIXTURES / "apple_tentative.eml").read_bytes()
    forged = re.sub(rb"(?m)^From: .*\r\n", b"From: Blerta Hoxha <blerta@kallxo.com>\r\n", raw)
    guests["jelena.djordjevic@icloud.com"].sent_sequence = 2
    await attendance.answer(session, guests["jelena.djordjevic@icloud.com"], "accepted", via="link")
    [applied] = await rsvp.apply_calendar_replies(session, forged)
    assert not applied.recorded
    await session.refresh(guests["jelena.djordjevic@icloud.com"])
    assert guests["jelena.djordjevic@icloud.com"].rsvp == "accepted"
    # A calendar with nonsense in it is read without raising.
    broken = raw.replace(b"SEQUENCE:2", b"SEQUENCE:abc")
    assert [r.sequence for r in calendar.read_replies(broken)] in ([0], [])


async def _draft_sent(
    session: AsyncSession, maker, world: World, settings: Settings, event_id: int, purpose: str
) -> None:  # type: ignore[no-untyped-def]
    event = await session.get(Event, event_id, populate_existing=True)
    data = invitations.draft_input(event, purpose, "sq")
    data.scheduled_at = None  # send now, not the day before
    campaign = await create_campaign(session, world.editor, data)
    await outbox.launch(session, world.editor, settings, campaign.id)
    await _drain(maker, settings)


def _calendar_of(m: EmailMessage) -> vobject.base.Component:
    return vobject.readOne(list(m.iter_parts())[1].get_content().decode())


async def test_a_change_reaches_all_but_those_who_declined_and_a_cancellation_follows(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    event_id, _people = await _invited(session, maker, world, sending)
    guests = await _guests(session, event_id)
    await attendance.answer(session, guests["john@bbc.co.uk"], "declined", via="link")
    first = _calendar_of(_one(smtp, "arber@koha.net"))
    smtp.sink.arrivals.clear()

    moved = EventIn(title="Raporti për lirinë e medias 2026", starts_at="2026-12-15T12:00",
                    ends_at="2026-12-15T13:30", venue="Hotel Sirius", capacity=50,
                    organiser="Qendra për Drejtësi")  # type: ignore[arg-type]  # fmt: skip
    change = await update_event(session, world.editor, event_id, moved)
    assert change.calendar_changed
    await _draft_sent(session, maker, world, sending, event_id, "update")
    assert smtp.sink.to("john@bbc.co.uk") == []  # declined: not bothered again
    update = _calendar_of(_one(smtp, "arber@koha.net"))
    assert update.method.value == "REQUEST" and update.vevent.uid.value == first.vevent.uid.value
    assert int(update.vevent.sequence.value) == int(first.vevent.sequence.value) + 1
    assert update.vevent.dtstart.value.hour == 12
    smtp.sink.arrivals.clear()

    await cancel_event(session, world.editor, event_id)
    await _draft_sent(session, maker, world, sending, event_id, "cancel")
    cancelled = _calendar_of(_one(smtp, "arber@koha.net"))
    assert cancelled.method.value == "CANCEL" and cancelled.vevent.status.value == "CANCELLED"
    assert cancelled.vevent.uid.value == first.vevent.uid.value
    assert int(cancelled.vevent.sequence.value) == int(update.vevent.sequence.value) + 1
    part = list(list(_one(smtp, "arber@koha.net").iter_parts())[0].iter_parts())[2]
    assert part.get_param("method") == "CANCEL"


async def test_reminders_go_to_those_coming_and_please_reply_only_to_the_silent(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    event_id, people = await _invited(session, maker, world, sending)
    event = await session.get(Event, event_id)
    extra = {}
    for given, email in (("Drita", "drita@rtk.live"), ("Vjosa", "vjosa@kallxo.com")):
        contact = await create_contact(
            session, world.editor, ContactIn(given_name=given, emails=[email])
        )
        extra[email] = await attendance.add_guest(
            session, event, org_id=world.editor.org_id, name=given, address=email,
            contact_id=contact.id,
        )  # fmt: skip
    guests = await _guests(session, event_id)
    await attendance.answer(session, guests["arber@koha.net"], "accepted", via="link")
    await attendance.answer(session, guests["john@bbc.co.uk"], "declined", via="link")
    await attendance.answer(session, guests["drita@rtk.live"], "tentative", via="calendar")
    smtp.sink.arrivals.clear()

    await _draft_sent(session, maker, world, sending, event_id, "remind")
    assert sorted(a.recipients[0] for a in smtp.sink.arrivals) == [
        "arber@koha.net",
        "drita@rtk.live",
    ]
    reminder = _one(smtp, "arber@koha.net")
    assert reminder.get_content_type() == "multipart/alternative"  # no calendar in a reminder
    smtp.sink.arrivals.clear()

    await _draft_sent(session, maker, world, sending, event_id, "ask")
    assert [a.recipients[0] for a in smtp.sink.arrivals] == ["vjosa@kallxo.com"]
    text = _one(smtp, "vjosa@kallxo.com").get_body(("plain",)).get_content()
    token = rsvp.rsvp_token(sending, extra["vjosa@kallxo.com"].id)
    assert f"/rsvp/{token}?answer=yes" in text


async def test_co_hosts_pick_guests_and_a_journalist_both_picked_gets_one_invitation(
    client: httpx.AsyncClient, session: AsyncSession, maker, world: World, sending: Settings,
    smtp: SmtpServer,
) -> None:  # fmt: skip
    coalition = await coalitions.create_coalition(session, world.owner, "Koalicioni për Ujë")
    await coalitions.invite_org(session, world.owner, coalition.id, "Other Org")
    await coalitions.respond(session, world.outsider, coalition.id, accept=True)
    partner = world.outsider  # now a co-host
    event = await create_event(
        session, world.editor,
        EventIn(title="Konferenca për ujin", starts_at="2026-12-15T11:00",
                ends_at="2026-12-15T12:30", coalition_id=coalition.id),  # type: ignore[arg-type]
    )  # fmt: skip

    async def pick(actor, people):  # type: ignore[no-untyped-def]
        ids = []
        for given, email in people:
            c = await create_contact(session, actor, ContactIn(given_name=given, emails=[email]))
            ids.append(c.id)
        lst = await lists.create_list(session, actor, lists.ListIn(name=f"Ftesa {actor.org_id}"))
        await lists.add_members(session, actor, lst.id, ids)
        return await attendance.pick_from_list(session, actor, event.id, lst.id)

    assert await pick(world.editor, [("Arta", "arta@koha.net"), ("Besa", "besa@rtk.live")]) == 2
    # The partner knows Arta too (same address) and one journalist of its own.
    assert await pick(partner, [("Arta K.", "ARTA@koha.net"), ("Dea", "dea@kossev.info")]) == 1

    data = invitations.draft_input(event, "invite", "sq")
    assert data.coalition_id == coalition.id and data.audience.guests == ["picked"]
    campaign = await create_campaign(session, world.editor, data)
    await outbox.launch(session, world.editor, sending, campaign.id, expected=3)
    await _drain(maker, sending)
    got = sorted(a.recipients[0] for a in smtp.sink.arrivals)
    assert got == ["arta@koha.net", "besa@rtk.live", "dea@kossev.info"]  # Arta once
    # A second invitation, to a list, skips whoever the event already invited.
    again = await create_campaign(
        session, world.editor,
        CampaignIn(name="Ftesë 2", kind="invitation", event_id=event.id,
                   variants={"sq": VariantIn(subject="Ftesë", body="{{ rsvp_yes_url }}")},
                   audience=AudienceIn(contacts=[c for c in await _own_ids(session, world)])),
    )  # fmt: skip
    check = await outbox.check(session, world.editor, sending, again.id)
    assert check.plan.recipients == []
    assert {e.reason for e in check.plan.excluded} == {"already_invited"}

    # Each co-host sees every guest and the counts; it opens only contacts it holds.
    await login(client, world.emails["outsider"])
    page = BeautifulSoup((await client.get(f"/events/{event.id}")).text, "html.parser")
    rows = {
        r.select_one("td").get_text(" ", strip=True): r for r in page.select("#guests tbody tr")
    }
    assert len(rows) == 3
    assert "3" in page.select_one("#counts li").get_text()
    linked = {r.select_one("td a").get_text() for r in rows.values() if r.select_one("td a")}
    assert linked == {"Arta", "Dea"} or linked == {"Arta K.", "Dea"}  # its own Arta and Dea
    assert not any("besa@" in r.get_text() for r in rows.values())


async def test_a_reminder_launched_ahead_skips_who_declined_since_and_a_cancel_stops_it(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    event_id, _people = await _invited(session, maker, world, sending)
    guests = await _guests(session, event_id)
    for guest in guests.values():
        await attendance.answer(session, guest, "accepted", via="link")
    smtp.sink.arrivals.clear()
    event = await session.get(Event, event_id)
    data = invitations.draft_input(event, "remind", "sq")
    data.scheduled_at = None
    reminder = await create_campaign(session, world.editor, data)
    await outbox.launch(session, world.editor, sending, reminder.id, expected=2)
    # John declines after the launch, before the worker gets to it.
    await attendance.answer(session, guests["john@bbc.co.uk"], "declined", via="calendar")
    await _drain(maker, sending)
    assert [a.recipients[0] for a in smtp.sink.arrivals] == ["arber@koha.net"]
    rows = await session.execute(
        select(Delivery)
        .where(Delivery.campaign_id == reminder.id)
        .execution_options(populate_existing=True)
    )
    skipped = {d.address: d for d in rows.scalars()}["john@bbc.co.uk"]
    assert skipped.status == "cancelled" and "answer changed" in skipped.last_error

    # A reminder waiting for its day is paused when the event is cancelled.
    data = invitations.draft_input(event, "remind", "sq")
    later = await create_campaign(session, world.editor, data)
    assert later.scheduled_at is not None  # the day before 15 December
    await outbox.launch(session, world.editor, sending, later.id)
    await cancel_event(session, world.editor, event_id)
    await session.refresh(later)
    assert later.status == "paused"
    # Only the cancellation to the guests may go now.
    invite = await create_campaign(
        session, world.editor, invitations.draft_input(event, "invite", "sq")
    )
    with pytest.raises(Conflict):
        await outbox.launch(session, world.editor, sending, invite.id)
    cancel = await create_campaign(
        session, world.editor, invitations.draft_input(event, "cancel", "sq")
    )
    await outbox.launch(session, world.editor, sending, cancel.id)
