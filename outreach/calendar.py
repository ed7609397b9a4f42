"""iCalendar for events (RFC 5545, iTIP RFC 5546, iMIP RFC 6047): invitations, updates and
cancellations made once per event and filled with each guest's ATTENDEE line, the
organisation's subscribable feed, and reading the REPLY a guest's calendar sends back.

Times carry their TZID with a VTIMEZONE (standard and summer time) for the span of the
event, so a calendar in any zone shows the right moment, across daylight-saving changes."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from functools import cached_property

from icalendar import Calendar, Timezone, vCalAddress
from icalendar import Event as VEvent

from crm.events import local
from crm.models import Event

PRODID = "-//Beatbook//Press events//EN"
_ATTENDEE_MARK = "mailto:attendee@beatbook.invalid"


def organiser_address(event: Event, reply_domain: str) -> str:
    """Where guests' calendars send their answers: an address Beatbook itself receives."""
    return f"calendar+e{event.id}@{reply_domain}"


def _zone(zone: str, events: Iterable[Event]) -> Timezone | None:
    """The VTIMEZONE of `zone` over the whole years of `events`, both of its offsets."""
    spans = [(local(e.starts_at, zone).date(), local(e.ends_at, zone).date()) for e in events]
    if not spans:
        return None
    first = date(min(s for s, _ in spans).year, 1, 1)
    last = date(max(e for _, e in spans).year, 12, 31)
    try:
        return Timezone.from_tzid(zone, first_date=first, last_date=last)
    except ValueError:  # not a zone icalendar knows: the times still carry it
        return None


def _vevent(event: Event, organiser: str, organiser_name: str, stamp: datetime) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstart", local(event.starts_at, event.timezone))
    vevent.add("dtend", local(event.ends_at, event.timezone))
    vevent.add("summary", event.title)
    description = event.description
    if event.online_link:
        description = f"{description}\n\n{event.online_link}".strip()
    if description:
        vevent.add("description", description)
    place = ", ".join(p for p in (event.venue, event.address) if p)
    if place:
        vevent.add("location", place)
    elif event.online_link:
        vevent.add("location", event.online_link)
    if event.online_link:
        vevent.add("url", event.online_link)
    who = vCalAddress(f"mailto:{organiser}")
    who.params["CN"] = organiser_name or "Beatbook"
    vevent.add("organizer", who)
    vevent.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    return vevent


def _calendar(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


_UNSAFE_IN_PARAM = re.compile(r'[\x00-\x1f\x7f"]')


def _param_value(value: str) -> str:
    """An RFC 5545 parameter value: no controls or DQUOTE, quoted when it holds , ; or :."""
    value = _UNSAFE_IN_PARAM.sub(" ", value).strip()
    return f'"{value}"' if any(c in value for c in ",;:") else value


def _folded(line: bytes) -> bytes:
    """A content line folded at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    parts, limit = [], 75
    while len(line) > limit:
        cut = limit
        while cut > 1 and line[cut] & 0xC0 == 0x80:
            cut -= 1
        parts.append(line[:cut])
        line, limit = line[cut:], 74  # the next line starts with the folding space
    parts.append(line)
    return b"\r\n ".join(parts)


@dataclass(frozen=True)
class Invitation:
    """An event's calendar for one method (REQUEST or CANCEL), serialised once around the
    place where each guest's ATTENDEE line goes."""

    method: str
    before: str
    after: str

    @cached_property
    def _ends(self) -> tuple[bytes, bytes]:
        return self.before.encode(), b"\r\n" + self.after.encode()

    def for_guest(self, name: str, address: str) -> bytes:
        """The whole VCALENDAR for one guest, UTF-8 with CRLF line ends (RFC 5545). Made
        thousands of times per campaign, so the one line that differs is written here."""
        cn = f"CN={_param_value(name)};" if name.strip() else ""
        rsvp = "" if self.method == "CANCEL" else ";RSVP=TRUE"  # nothing to answer
        line = f"ATTENDEE;{cn}ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION{rsvp}:mailto:{address}"
        before, after = self._ends
        return before + _folded(line.encode()) + after


def invitation(
    event: Event,
    *,
    organiser: str,
    organiser_name: str,
    method: str = "REQUEST",
    stamp: datetime | None = None,
) -> Invitation:
    """The REQUEST (new or changed) or CANCEL of `event`, ready for each guest's line."""
    cal = _calendar(method)
    zone = _zone(event.timezone, [event])
    if zone is not None:
        cal.add_component(zone)
    vevent = _vevent(event, organiser, organiser_name, stamp or datetime.now(UTC))
    vevent.add("attendee", vCalAddress(_ATTENDEE_MARK))
    cal.add_component(vevent)
    text = cal.to_ical().decode()
    start = text.index("ATTENDEE:" + _ATTENDEE_MARK)
    end = text.index("\r\n", start) + 2
    return Invitation(method, text[:start], text[end:])


def feed(events: Iterable[Event], *, name: str, organiser_domain: str) -> bytes:
    """An organisation's events as one subscribable calendar (METHOD:PUBLISH)."""
    cal = _calendar("PUBLISH")
    cal.add("x-wr-calname", name)
    stamp = datetime.now(UTC)
    items = list(events)
    for zone_name in sorted({e.timezone for e in items}):
        zone = _zone(zone_name, [e for e in items if e.timezone == zone_name])
        if zone is not None:
            cal.add_component(zone)
    for event in items:
        cal.add_component(_vevent(event, organiser_address(event, organiser_domain), name, stamp))
    return cal.to_ical()


# --- what comes back ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One guest's answer from their calendar (iTIP METHOD:REPLY)."""

    uid: str
    attendee: str  # the address, as the calendar wrote it
    partstat: str  # ACCEPTED, TENTATIVE, DECLINED (or another the guest's calendar used)
    sequence: int


def _sequence(value: object) -> int:
    """A SEQUENCE as a number the database holds; nonsense reads as 0."""
    try:
        number = int(value[0] if isinstance(value, list) else value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return min(max(number, 0), 2_000_000_000)


def _calendars(message: EmailMessage) -> Iterable[bytes]:
    for part in message.walk():
        kind = part.get_content_type()
        filename = (part.get_filename() or "").lower()
        if kind in ("text/calendar", "application/ics") or filename.endswith(".ics"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                yield payload


def sender_of(raw: bytes) -> str:
    """The address a raw message says it is from (for matching it to the ATTENDEE)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        return email.utils.parseaddr(str(message.get("From", "")))[1]
    except Exception:  # noqa: BLE001 (a broken header is no sender)
        return ""


def read_replies(raw: bytes) -> list[Reply]:
    """The iTIP REPLYs in a raw RFC 822 message (inline or attached); none when it holds no
    calendar answer. Unreadable calendars are skipped, never raised."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    replies: list[Reply] = []
    seen: set[tuple[str, str]] = set()
    for data in _calendars(message):
        try:
            cal = Calendar.from_ical(data)
        except Exception:  # noqa: BLE001 (whatever a sender's calendar holds, never raised)
            continue
        if str(cal.get("method", "")).upper() != "REPLY":
            continue
        for vevent in cal.walk("VEVENT"):
            attendees = vevent.get("attendee")
            if attendees is None:
                continue
            for attendee in attendees if isinstance(attendees, list) else [attendees]:
                address = str(attendee)
                if address[:7].lower() == "mailto:":
                    address = address[7:]
                key = (str(vevent.get("uid", "")), address.lower())
                if key in seen:
                    continue
                seen.add(key)
                replies.append(
                    Reply(
                        uid=key[0],
                        attendee=address,
                        partstat=str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
                        sequence=_sequence(vevent.get("sequence", 0)),
                    )
                )
    return replies
