"""Press events: times in Kosovo's zone across the daylight-saving change, SEQUENCE on
change and cancel, who may see an event, the waitlist, the door, and iCalendar read back with
two independent parsers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import vobject
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import attendance, coalitions, privacy
from crm.contacts import ContactIn, create_contact
from crm.errors import Conflict, InvalidInput, NotFound
from crm.events import EventIn, cancel_event, create_event, get_event, list_events, update_event
from crm.interactions import InteractionIn, log_interaction
from crm.models import Attendance, Event, Interaction
from crm.settings import Settings
from outreach import calendar
from tests.conftest import World


def _event_in(**extra: object) -> EventIn:
    values: dict[str, object] = {
        "title": "Raporti për lirinë e medias 2026",
        "description": "Prezantimi i raportit vjetor.",
        "starts_at": "2026-03-29T11:00",  # the morning the clocks go forward
        "ends_at": "2026-03-29T12:30",
        "venue": "Hotel Sirius",
        "address": "Rr. Agim Ramadani, Prishtinë",
        "capacity": 2,
        "speakers": ["Arta Berisha", ""],
    }
    return EventIn.model_validate(values | extra)


async def test_wall_clock_times_are_kept_in_the_events_zone_across_the_clock_change(
    session: AsyncSession, world: World
) -> None:
    summer = await create_event(session, world.editor, _event_in())
    winter = await create_event(
        session, world.editor, _event_in(starts_at="2026-03-28T11:00", ends_at="2026-03-28T12:30")
    )
    assert summer.starts_at == datetime(2026, 3, 29, 9, 0, tzinfo=UTC)  # CEST, UTC+2
    assert winter.starts_at == datetime(2026, 3, 28, 10, 0, tzinfo=UTC)  # CET, UTC+1
    assert summer.speakers == ["Arta Berisha"]

    for event, utc_hour in ((summer, 9), (winter, 10)):
        text = (
            calendar.invitation(
                event, organiser="calendar+e1@replies.qendra.org", organiser_name="Qendra"
            )
            .for_guest("Arbër Krasniqi, Koha", "arber@koha.net")
            .decode()
        )
        assert "DTSTART;TZID=Europe/Belgrade:" in text and "T110000" in text
        # Two parsers that share no code agree on the instant and on the guest.
        parsed = Calendar.from_ical(text)
        vevent = next(iter(parsed.walk("VEVENT")))
        assert vevent.decoded("dtstart").astimezone(UTC).hour == utc_hour
        zone = next(iter(parsed.walk("VTIMEZONE")))
        assert {c.name for c in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}
        card = vobject.readOne(text)
        assert card.vevent.dtstart.value.astimezone(UTC).hour == utc_hour
        assert card.vevent.attendee.value == "mailto:arber@koha.net"
        assert card.vevent.attendee.params["CN"] == ["Arbër Krasniqi, Koha"]
        assert card.vevent.attendee.params["RSVP"] == ["TRUE"]
        assert card.vevent.attendee.params["PARTSTAT"] == ["NEEDS-ACTION"]
        assert card.method.value == "REQUEST" and card.vevent.uid.value == event.uid
        assert card.vevent.organizer.value == "mailto:calendar+e1@replies.qendra.org"


async def test_moving_the_event_raises_its_sequence_and_cancelling_raises_it_again(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in())
    uid = event.uid
    same = await update_event(
        session, world.editor, event.id, _event_in(description="Me pyetje nga gazetarët.")
    )
    assert not same.calendar_changed and same.event.sequence == 0
    moved = await update_event(
        session, world.editor, event.id, _event_in(starts_at="2026-03-29T12:00",
                                                   ends_at="2026-03-29T13:00"),
    )  # fmt: skip
    assert moved.calendar_changed and moved.event.sequence == 1 and moved.event.uid == uid
    cancelled = await cancel_event(session, world.editor, event.id)
    assert cancelled.status == "cancelled" and cancelled.sequence == 2
    text = (
        calendar.invitation(cancelled, organiser="c@r.example", organiser_name="Q", method="CANCEL")
        .for_guest("", "arber@koha.net")
        .decode()
    )
    card = vobject.readOne(text)
    assert card.method.value == "CANCEL"
    assert card.vevent.status.value == "CANCELLED"
    assert card.vevent.sequence.value == "2" and card.vevent.uid.value == uid
    with pytest.raises(Conflict):
        await update_event(session, world.editor, event.id, _event_in())


async def test_bad_input_is_refused_with_a_reason(session: AsyncSession, world: World) -> None:
    for bad in (
        {"ends_at": "2026-03-29T10:00"},  # before it starts
        {"timezone": "Europe/Prishtina"},  # no such zone
        {"online_link": "javascript:alert(1)"},
        {"capacity": 0},
        {"title": "  "},
    ):
        with pytest.raises(ValueError):
            _event_in(**bad)
    viewer_tries = create_event(session, world.viewer, _event_in())
    with pytest.raises(Exception, match="Viewers"):
        await viewer_tries


async def test_an_outsider_cannot_see_an_event_and_a_cohost_sees_but_cannot_change_it(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in())
    with pytest.raises(NotFound):
        await get_event(session, world.outsider, event.id)
    assert event.id not in [e.id for e in await list_events(session, world.outsider.org_id)]

    coalition = await coalitions.create_coalition(session, world.owner, "Koalicioni për Media")
    await coalitions.invite_org(session, world.owner, coalition.id, "Other Org")
    await coalitions.respond(session, world.outsider, coalition.id, accept=True)
    joint = await create_event(session, world.editor, _event_in(coalition_id=coalition.id))
    assert (await get_event(session, world.outsider, joint.id)).id == joint.id
    with pytest.raises(NotFound):
        await get_event(session, world.outsider, event.id)  # not co-hosted: still invisible
    with pytest.raises(Conflict):
        await update_event(session, world.outsider, joint.id, _event_in())


async def test_the_waitlist_fills_beyond_capacity_and_moves_up_in_order(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in(capacity=2))
    guests = {
        name: await attendance.add_guest(
            session, event, org_id=world.editor.org_id, name=name, address=f"{name}@koha.net"
        )
        for name in ("arta", "besa", "drita", "era")
    }
    for name in ("arta", "besa", "drita", "era"):  # in this order
        await attendance.answer(session, guests[name], "accepted", via="link")
    c = await attendance.counts(session, event.id)
    assert (c.accepted, c.waitlisted) == (2, 2)
    assert guests["drita"].waitlisted_at is not None and guests["era"].waitlisted_at is not None

    await attendance.answer(session, guests["besa"], "declined", via="link")
    await session.refresh(guests["drita"])
    await session.refresh(guests["era"])
    assert guests["drita"].waitlisted_at is None  # waited longest: seated
    assert guests["era"].waitlisted_at is not None
    c = await attendance.counts(session, event.id)
    assert (c.accepted, c.waitlisted, c.declined) == (2, 1, 1)
    # A guest invited twice (two co-hosts, same address) is one guest.
    again = await attendance.add_guest(
        session, event, org_id=world.outsider.org_id, name="Arta", address="ARTA@koha.net"
    )
    assert again.id == guests["arta"].id
    with pytest.raises(InvalidInput):
        await attendance.answer(session, guests["arta"], "perhaps", via="link")


async def test_an_answer_to_an_older_invitation_is_ignored(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in())
    guest = await attendance.add_guest(
        session, event, org_id=world.editor.org_id, name="Arta", address="arta@koha.net"
    )
    await update_event(
        session, world.editor, event.id, _event_in(venue="Teatri Kombëtar")
    )  # SEQUENCE 1, but nobody was told yet: an answer to the first invitation still counts
    assert await attendance.answer(session, guest, "tentative", via="calendar", sequence=0)
    guest.sent_sequence = 1  # the update went out
    assert not await attendance.answer(session, guest, "accepted", via="calendar", sequence=0)
    assert guest.rsvp == "tentative"
    assert await attendance.answer(session, guest, "declined", via="calendar", sequence=1)
    assert guest.rsvp == "declined" and guest.rsvp_via == "calendar"


async def test_at_the_door_names_are_found_without_diacritics_and_walk_ins_are_added(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in())
    guest = await attendance.add_guest(
        session, event, org_id=world.editor.org_id, name="Dragana Ćosić", address="d@kossev.info"
    )
    assert attendance.matches(guest, "cosic") and attendance.matches(guest, "Ćosić")
    assert attendance.matches(guest, "drag cos") and not attendance.matches(guest, "jovan")
    arrived = await attendance.check_in(session, world.editor, event.id, guest.id)
    assert arrived.checked_in_at is not None
    walked = await attendance.walk_in(session, world.editor, event.id, name="Shpend Gjinovci")
    assert walked.walk_in and walked.checked_in_at is not None and walked.invited_at is None
    c = await attendance.counts(session, event.id)
    assert c.checked_in == 2
    with pytest.raises(NotFound):
        await attendance.check_in(session, world.outsider, event.id, guest.id)
    with pytest.raises(InvalidInput):
        await attendance.walk_in(session, world.editor, event.id, name=" ")


async def test_the_feed_holds_the_organisations_events_and_parses(
    session: AsyncSession, world: World
) -> None:
    await create_event(session, world.editor, _event_in(starts_at="2027-01-10T10:00",
                                                        ends_at="2027-01-10T11:00"))  # fmt: skip
    events = await list_events(session, world.editor.org_id)
    data = calendar.feed(events, name="Qendra", organiser_domain="replies.qendra.org")
    card = vobject.readOne(data.decode())
    assert card.method.value == "PUBLISH"
    assert [v.summary.value for v in card.vevent_list] == ["Raporti për lirinë e medias 2026"]
    assert isinstance(events[0], Event)


async def test_a_guests_records_join_the_contacts_export_and_erasure(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    event = await create_event(session, world.editor, _event_in())
    contact = await create_contact(
        session, world.editor, ContactIn(given_name="Arta", emails=["arta@koha.net"])
    )
    guest = await attendance.add_guest(
        session, event, org_id=world.editor.org_id, name="Arta", address="arta@koha.net",
        contact_id=contact.id,
    )  # fmt: skip
    await attendance.answer(session, guest, "accepted", via="link")
    data = await privacy.export_contact_data(session, world.editor, contact.id)
    [record] = data["events"]
    assert record["event"] == event.title and record["answer"] == "accepted"
    await privacy.erase_contact(session, world.owner, settings, contact.id)
    left = await session.execute(select(Attendance).where(Attendance.event_id == event.id))
    assert left.scalars().all() == []


async def test_after_the_event_those_who_came_and_have_not_covered_it_are_listed(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in())  # March 2026: over
    came = {}
    for name, email in (("Arta Berisha", "arta@koha.net"), ("Besa Gashi", "besa@rtk.live")):
        data = ContactIn(given_name=name, emails=[email])
        contact = await create_contact(session, world.editor, data)
        guest = await attendance.add_guest(
            session, event, org_id=world.editor.org_id, name=name, address=email,
            contact_id=contact.id,
        )  # fmt: skip
        await attendance.check_in(session, world.editor, event.id, guest.id)
        came[name] = contact.id
    await log_interaction(
        session, world.editor, came["Besa Gashi"],
        InteractionIn(kind="coverage", summary="TV report on the launch",
                      occurred_at=datetime(2026, 3, 30, 18, 0, tzinfo=UTC)),
    )  # fmt: skip
    follow_up = await attendance.attended_not_covered(session, world.editor, event.id)
    assert [g.name for g in follow_up] == ["Arta Berisha"]
    with pytest.raises(NotFound):
        await attendance.attended_not_covered(session, world.outsider, event.id)


async def test_a_larger_room_seats_those_waiting_in_order(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in(capacity=1))
    guests = []
    for name in ("arta", "besa", "drita"):
        guest = await attendance.add_guest(
            session, event, org_id=world.editor.org_id, name=name, address=f"{name}@koha.net"
        )
        await attendance.answer(session, guest, "accepted", via="link")
        guests.append(guest)
    assert (await attendance.counts(session, event.id)).waitlisted == 2
    change = await update_event(session, world.editor, event.id, _event_in(capacity=2))
    await attendance.fill_seats(session, change.event)
    c = await attendance.counts(session, event.id)
    assert (c.accepted, c.waitlisted) == (2, 1)
    await session.refresh(guests[1])
    assert guests[1].waitlisted_at is None  # besa waited longer than drita
    change = await update_event(session, world.editor, event.id, _event_in(capacity=None))
    await attendance.fill_seats(session, change.event)
    assert (await attendance.counts(session, event.id)).waitlisted == 0


async def test_a_walk_in_with_an_address_joins_their_contact_and_never_replaces_a_guest(
    session: AsyncSession, world: World
) -> None:
    event = await create_event(session, world.editor, _event_in())
    contact = await create_contact(
        session, world.editor, ContactIn(given_name="Vjosa", emails=["vjosa@kallxo.com"])
    )
    walked = await attendance.walk_in(
        session, world.editor, event.id, name="Vjosa H.", address="Vjosa@Kallxo.com"
    )
    assert walked.contact_id == contact.id  # her attendance reaches her timeline
    timeline = await session.execute(
        select(Interaction).where(
            Interaction.contact_id == contact.id, Interaction.kind == "event_attended"
        )
    )
    assert timeline.scalar_one().event_id == event.id
    with pytest.raises(InvalidInput) as refused:
        await attendance.walk_in(
            session, world.editor, event.id, name="Someone else", address="vjosa@kallxo.com"
        )
    assert "Vjosa H." in refused.value.errors["email"]
    with pytest.raises(InvalidInput):
        await attendance.walk_in(session, world.editor, event.id, name="X", address="not-mail")
    assert (await attendance.counts(session, event.id)).checked_in == 1
