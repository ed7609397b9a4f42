"""Guests answer two ways: a signed link in the invitation (no login), or their calendar's
iTIP REPLY by mail. Both land in `crm.attendance.answer`.

A link names the guest (its attendance row) under an HMAC; which answer it carries is not
secret, since the guest may change it on the page anyway."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import attendance
from crm.errors import Conflict, NotFound
from crm.i18n import N_
from crm.models import Attendance, Event
from crm.search import normalise_email
from crm.settings import Settings
from outreach import calendar
from outreach.mime import read_reply_token, reply_token

# The words of links and pages → the stored answer, and calendars' PARTSTAT → the same.
LINK_ANSWERS = {"yes": "accepted", "maybe": "tentative", "no": "declined"}
PARTSTATS = {"ACCEPTED": "accepted", "TENTATIVE": "tentative", "DECLINED": "declined"}


def _secret(settings: Settings) -> bytes:
    # From the suppression key, which never rotates: links in mail already sent keep working.
    return hmac.new(settings.suppression_hmac_key, b"beatbook rsvp links", "sha256").digest()


def rsvp_token(settings: Settings, guest_id: int) -> str:
    return reply_token(_secret(settings), guest_id)


def rsvp_urls(settings: Settings, guest_id: int) -> dict[str, str]:
    """The merge fields rsvp_yes_url, rsvp_maybe_url and rsvp_no_url of one guest."""
    base = f"{settings.base_url}/rsvp/{rsvp_token(settings, guest_id)}"
    return {f"rsvp_{word}_url": f"{base}?answer={word}" for word in LINK_ANSWERS}


@dataclass
class Guest:
    attendance: Attendance
    event: Event


async def guest_of(session: AsyncSession, settings: Settings, token: str) -> Guest:
    """The guest a link names; NotFound when it is forged, cut short or stale."""
    guest_id = read_reply_token(_secret(settings), token)
    if guest_id is None or guest_id > 2_147_483_647:
        raise NotFound("invitation")
    row = (
        await session.execute(
            select(Attendance, Event)
            .join(Event, Event.id == Attendance.event_id)
            .where(Attendance.id == guest_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFound("invitation")
    return Guest(*row)


async def answer_by_link(session: AsyncSession, settings: Settings, token: str, word: str) -> Guest:
    """The guest's answer from the page their link opened (yes, maybe or no)."""
    guest = await guest_of(session, settings, token)
    if guest.event.status == "cancelled":
        raise Conflict(N_("This event has been cancelled."))
    reply = LINK_ANSWERS.get(word, word)  # an unknown word is refused by answer()
    await attendance.answer(session, guest.attendance, reply, via="link")
    return guest


@dataclass(frozen=True)
class Applied:
    """What one calendar reply did: `recorded` False when it was stale or matched nobody."""

    reply: calendar.Reply
    recorded: bool
    guest_id: int | None = None


async def apply_calendar_replies(session: AsyncSession, raw: bytes) -> list[Applied]:
    """Set the RSVPs a raw message's iTIP REPLYs carry, matched by the event's UID and the
    ATTENDEE address; a reply to an older SEQUENCE than the guest was last sent is ignored,
    and so is one for another guest than the sender (one invitee cannot answer for another:
    every invitee knows the UID)."""
    done = []
    sender = normalise_email(calendar.sender_of(raw) or "")
    for reply in calendar.read_replies(raw):
        status = PARTSTATS.get(reply.partstat)
        if normalise_email(reply.attendee) != sender:
            done.append(Applied(reply, False))
            continue
        row = (
            await session.execute(
                select(Attendance)
                .join(Event, Event.id == Attendance.event_id)
                .where(
                    Event.uid == reply.uid,
                    Attendance.address_norm == normalise_email(reply.attendee),
                )
            )
        ).scalar_one_or_none()
        if row is None or status is None:
            done.append(Applied(reply, False))
            continue
        recorded = await attendance.answer(
            session, row, status, via="calendar", sequence=reply.sequence
        )
        done.append(Applied(reply, recorded, row.id))
    return done
