"""Who is coming to an event: guests, their answers (from a link, a calendar, or the officer),
the waitlist when the room is full, and arrival at the door.

A journalist is one guest per event whatever the number of co-hosts who invited them: the
normalised address is the key. Answers and arrivals go on the contact's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.contacts import ContactFilter, matching_ids
from crm.errors import InvalidInput, NotFound
from crm.events import get_event
from crm.health import store as health_store
from crm.i18n import N_
from crm.import_rows import Rejected, check_email
from crm.models import Attendance, Contact, ContactEmail, Event, Interaction
from crm.search import fold, normalise_email

ANSWERS = ("accepted", "tentative", "declined")
_SAID = {
    "accepted": N_("Accepted the invitation to %(event)s"),
    "tentative": N_("Might come to %(event)s"),
    "declined": N_("Declined the invitation to %(event)s"),
}


@dataclass
class Counts:
    accepted: int = 0  # with a seat
    waitlisted: int = 0
    tentative: int = 0
    declined: int = 0
    no_answer: int = 0
    checked_in: int = 0

    @property
    def invited(self) -> int:
        return self.accepted + self.waitlisted + self.tentative + self.declined + self.no_answer


async def guest_list(session: AsyncSession, event_id: int) -> list[Attendance]:
    rows = await session.execute(
        select(Attendance).where(Attendance.event_id == event_id).order_by(Attendance.name)
    )
    return list(rows.scalars())


async def counts(session: AsyncSession, event_id: int) -> Counts:
    """The numbers of an event, for every co-host alike."""
    rows = await session.execute(
        select(
            Attendance.rsvp,
            Attendance.waitlisted_at.is_not(None),
            Attendance.checked_in_at.is_not(None),
            func.count(),
        )
        .where(Attendance.event_id == event_id)
        .group_by(
            Attendance.rsvp,
            Attendance.waitlisted_at.is_not(None),
            Attendance.checked_in_at.is_not(None),
        )
    )
    c = Counts()
    for rsvp, waiting, arrived, n in rows.all():
        if rsvp == "accepted":
            if waiting:
                c.waitlisted += n
            else:
                c.accepted += n
        elif rsvp == "tentative":
            c.tentative += n
        elif rsvp == "declined":
            c.declined += n
        else:
            c.no_answer += n
        if arrived:
            c.checked_in += n
    return c


async def add_guest(
    session: AsyncSession,
    event: Event,
    *,
    org_id: int,
    name: str,
    address: str,
    contact_id: int | None = None,
    invited: bool = True,
    walk_in: bool = False,
) -> Attendance:
    """The guest for `address`, made when first invited (or picked to be invited later, not
    `invited`; or when they walk in); a second co-host's choice of the same address finds
    the same guest."""
    norm = normalise_email(address) if address else ""
    if norm:
        found = await session.execute(
            select(Attendance).where(
                Attendance.event_id == event.id, Attendance.address_norm == norm
            )
        )
        existing = found.scalar_one_or_none()
        if existing is not None:
            return existing
    guest = Attendance(
        event_id=event.id or 0,
        org_id=org_id,
        contact_id=contact_id,
        name=name[:200],
        address_norm=norm,
        invited_at=datetime.now(UTC) if invited else None,
        walk_in=walk_in,
    )
    session.add(guest)
    await session.flush()
    return guest


async def answer(
    session: AsyncSession,
    guest: Attendance,
    reply: str,
    *,
    via: str,
    sequence: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Record a guest's answer (accepted, tentative, declined); False when it was ignored
    because it answers an invitation older than the event's latest change.

    Accepting a full event puts the guest on the waitlist; a seated guest who withdraws
    gives the seat to the first one waiting. Commits."""
    if reply not in ANSWERS:
        raise InvalidInput({"rsvp": N_("Answer yes, maybe or no.")})
    now = now or datetime.now(UTC)
    # Lock the event row (PostgreSQL) so that two last seats are not both given away.
    event = (
        await session.execute(
            select(Event)
            .where(Event.id == guest.event_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if sequence is not None and sequence < guest.sent_sequence:
        return False  # answers an invitation older than the last one sent to them
    seated_before = guest.rsvp == "accepted" and guest.waitlisted_at is None
    if reply == "accepted" and guest.rsvp != "accepted":
        taken = await _seats_taken(session, event.id or 0, other_than=guest.id)
        guest.waitlisted_at = now if event.capacity and taken >= event.capacity else None
    elif reply != "accepted":
        guest.waitlisted_at = None
    changed = guest.rsvp != reply
    guest.rsvp, guest.rsvp_via, guest.rsvp_at = reply, via, now
    guest.rsvp_sequence = max(guest.rsvp_sequence, sequence or 0)
    session.add(guest)
    if changed and guest.contact_id:
        _on_timeline(session, guest, event, "rsvp", _SAID[reply] % {"event": event.title}, now)
    if seated_before and reply != "accepted":
        await _promote(session, event, now)
    await session.commit()
    return True


async def fill_seats(session: AsyncSession, event: Event) -> None:
    """After the room changed (a larger capacity, or none): seat those waiting. Commits."""
    now = datetime.now(UTC)
    if event.capacity is None:
        waiting = await session.execute(
            select(Attendance).where(
                Attendance.event_id == event.id, Attendance.waitlisted_at.is_not(None)
            )
        )
        for guest in waiting.scalars():
            guest.waitlisted_at = None
            session.add(guest)
    else:
        await _promote(session, event, now)
    await session.commit()


async def _seats_taken(session: AsyncSession, event_id: int, *, other_than: int | None) -> int:
    query = select(func.count()).where(
        Attendance.event_id == event_id,
        Attendance.rsvp == "accepted",
        Attendance.waitlisted_at.is_(None),
    )
    if other_than is not None:
        query = query.where(Attendance.id != other_than)
    return (await session.execute(query)).scalar_one()


async def _promote(session: AsyncSession, event: Event, now: datetime) -> None:
    """Give free seats to those waiting longest."""
    free = (event.capacity or 0) - await _seats_taken(session, event.id or 0, other_than=None)
    if not event.capacity or free <= 0:
        return
    waiting = await session.execute(
        select(Attendance)
        .where(Attendance.event_id == event.id, Attendance.waitlisted_at.is_not(None))
        .order_by(Attendance.waitlisted_at, Attendance.id)
        .limit(free)
    )
    for guest in waiting.scalars():
        guest.waitlisted_at = None
        session.add(guest)
        if guest.contact_id:
            said = N_("Moved from the waitlist to a seat at %(event)s", event=event.title)
            _on_timeline(session, guest, event, "rsvp", said, now)


def _on_timeline(
    session: AsyncSession, guest: Attendance, event: Event, kind: str, summary: str, now: datetime
) -> None:
    session.add(
        Interaction(
            org_id=guest.org_id,
            contact_id=guest.contact_id or 0,
            kind=kind,
            direction="in" if kind == "rsvp" else "none",
            occurred_at=now,
            summary=str(summary)[:300],
            event_id=event.id,
        )  # fmt: skip
    )


# --- at the door ----------------------------------------------------------------------------


async def _guest(session: AsyncSession, actor: Actor, event_id: int, guest_id: int) -> Attendance:
    await get_event(session, actor, event_id)  # NotFound outside the organiser and co-hosts
    guest = await session.get(Attendance, guest_id)
    if guest is None or guest.event_id != event_id:
        raise NotFound("guest")
    return guest


async def check_in(
    session: AsyncSession, actor: Actor, event_id: int, guest_id: int, *, arrived: bool = True
) -> Attendance:
    """Tick (or untick) a guest's arrival; it goes on their contact's timeline."""
    actor.require_write()
    guest = await _guest(session, actor, event_id, guest_id)
    event = await get_event(session, actor, event_id)
    now = datetime.now(UTC)
    if arrived and guest.checked_in_at is None:
        guest.checked_in_at = now
        if guest.contact_id:
            said = N_("Attended %(event)s", event=event.title)
            _on_timeline(session, guest, event, "event_attended", said, now)
    elif not arrived and guest.checked_in_at is not None:
        guest.checked_in_at = None
        if guest.contact_id:
            await _forget_attendance(session, guest)
    session.add(guest)
    await session.commit()
    return guest


async def _forget_attendance(session: AsyncSession, guest: Attendance) -> None:
    """An arrival ticked by mistake leaves no trace on the timeline."""
    rows = await session.execute(
        select(Interaction).where(
            Interaction.contact_id == guest.contact_id,
            Interaction.event_id == guest.event_id,
            Interaction.kind == "event_attended",
        )
    )
    for item in rows.scalars():
        await session.delete(item)
    if guest.contact_id:
        await health_store.mark_stale(session, [guest.contact_id])


async def walk_in(
    session: AsyncSession,
    actor: Actor,
    event_id: int,
    *,
    name: str,
    address: str = "",
    contact_id: int | None = None,
) -> Attendance:
    """Someone who came without an invitation: a guest, checked in at once, on the timeline
    of the organisation's contact with that address when there is one."""
    actor.require_write()
    event = await get_event(session, actor, event_id)
    name = name.strip()
    if not name:
        raise InvalidInput({"name": N_("Write the name of who came.")})
    address = address.strip()
    if address:
        try:
            address = check_email(address)
        except Rejected as exc:
            raise InvalidInput({"email": exc.reason}) from exc
        norm = normalise_email(address)
        listed = await session.execute(
            select(Attendance.name).where(
                Attendance.event_id == event_id, Attendance.address_norm == norm
            )
        )
        if (already := listed.scalar_one_or_none()) is not None:
            said = N_("%(name)s is on the list with that address: check them in above.",
                      name=already)  # fmt: skip
            raise InvalidInput({"email": said})
        if contact_id is None:
            held = await session.execute(
                select(ContactEmail.contact_id).where(
                    ContactEmail.org_id == actor.org_id, ContactEmail.normalised == norm
                )
            )
            contact_id = held.scalars().first()
    guest = await add_guest(
        session, event, org_id=actor.org_id, name=name, address=address.strip(),
        contact_id=contact_id, invited=False, walk_in=True,
    )  # fmt: skip
    return await check_in(session, actor, event_id, guest.id or 0)


async def pick_guests(
    session: AsyncSession, actor: Actor, event_id: int, contacts: list[tuple[int, str, str]]
) -> int:
    """A co-host's choice of invitees from its own contacts ((id, name, address) each): guests
    to invite, one per address across co-hosts. Returns how many are new."""
    actor.require_write()
    event = await get_event(session, actor, event_id)
    if event.status == "cancelled":
        raise InvalidInput({"list_id": N_("This event has been cancelled.")})
    before = (await counts(session, event_id)).invited
    for contact_id, name, address in contacts:
        if address:
            await add_guest(
                session, event, org_id=actor.org_id, name=name, address=address,
                contact_id=contact_id, invited=False,
            )  # fmt: skip
    await session.commit()
    return (await counts(session, event_id)).invited - before


async def pick_from_list(session: AsyncSession, actor: Actor, event_id: int, list_id: int) -> int:
    """Pick the members of one of the actor's lists (smart lists as they match now)."""
    await get_event(session, actor, event_id)  # another organisation's event: NotFound first
    try:
        ids = await matching_ids(session, actor, ContactFilter(list_id=list_id))
    except NotFound as exc:
        raise InvalidInput({"list_id": N_("Choose one of your lists.")}) from exc
    people: list[tuple[int, str, str]] = []
    for part in range(0, len(ids), 1000):
        rows = await session.execute(
            select(Contact.id, Contact.given_name, Contact.family_name, ContactEmail.email)
            .join(ContactEmail, ContactEmail.contact_id == Contact.id)
            .where(
                Contact.id.in_(ids[part : part + 1000]),
                Contact.org_id == actor.org_id,
                Contact.do_not_contact.is_(False),
                ContactEmail.position == 0,
            )
        )
        people += [(cid, f"{g} {f}".strip(), email) for cid, g, f, email in rows.all()]
    return await pick_guests(session, actor, event_id, people)


async def held_contacts(
    session: AsyncSession, actor: Actor, guests: list[Attendance]
) -> dict[int, int]:
    """Guest id → the actor's own contact for that guest: the one it invited, or one it holds
    with the same address (a co-host's guest it also knows)."""
    held = {g.id or 0: g.contact_id for g in guests if g.org_id == actor.org_id and g.contact_id}
    others = {g.address_norm: g.id or 0 for g in guests if g.id not in held and g.address_norm}
    norms = list(others)
    for part in range(0, len(norms), 1000):
        rows = await session.execute(
            select(ContactEmail.normalised, ContactEmail.contact_id).where(
                ContactEmail.org_id == actor.org_id,
                ContactEmail.normalised.in_(norms[part : part + 1000]),
            )
        )
        for norm, contact_id in rows.all():
            held.setdefault(others[norm], contact_id)
    return {k: v for k, v in held.items() if v}


async def attended_not_covered(session: AsyncSession, actor: Actor, event_id: int) -> list[Any]:
    """The actor's own contacts who came to the event and have published nothing since it
    began: whom to follow up."""
    event = await get_event(session, actor, event_id)
    covered = (
        select(Interaction.id)
        .where(
            Interaction.contact_id == Attendance.contact_id,
            Interaction.kind == "coverage",
            Interaction.occurred_at >= event.starts_at,
        )
        .exists()
    )
    rows = await session.execute(
        select(Attendance)
        .where(
            Attendance.event_id == event_id,
            Attendance.org_id == actor.org_id,
            Attendance.contact_id.is_not(None),
            Attendance.checked_in_at.is_not(None),
            ~covered,
        )
        .order_by(Attendance.name)
    )
    return list(rows.scalars())


def matches(guest: Attendance, query: str) -> bool:
    """Whether a name typed at the door (with or without diacritics, either script) finds
    the guest."""
    wanted = fold(query).split()
    name = fold(guest.name)
    return all(part in name for part in wanted)
