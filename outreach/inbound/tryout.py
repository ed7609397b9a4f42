"""Playing the journalist in the built-in Mailbox: with nothing installed, a new user answers
a caught message as its recipient would — a reply from their mail program, or their
calendar's Accept / Decline — and it comes back through the inbound SMTP receiver like real
mail, so the whole loop can be tried."""

from __future__ import annotations

import email.utils
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
from icalendar import Calendar, Event, vCalAddress

from crm.errors import Conflict, InvalidInput
from crm.i18n import N_
from outreach.inbound.classify import addresses, bodies, header, parse

ANSWERS = {"accept": "ACCEPTED", "tentative": "TENTATIVE", "decline": "DECLINED"}
_SUBJECT_WORDS = {"ACCEPTED": "Accepted", "TENTATIVE": "Tentative", "DECLINED": "Declined"}


def _recipient(message: EmailMessage) -> tuple[str, str]:
    found = addresses(message, "To")
    if not found:
        raise Conflict(N_("This message has no recipient to answer as."))
    return found[0]


def _envelope(raw: bytes) -> tuple[str, str, str]:
    """(Date, fresh Message-ID, the recipient's From line) for an answer to a caught mail."""
    message = parse(raw)
    name, address = _recipient(message)
    domain = address.rpartition("@")[2] or "example.org"
    return (
        email.utils.formatdate(localtime=False, usegmt=True),
        f"<{secrets.token_hex(12)}@{domain}>",
        email.utils.formataddr((name, address)),
    )


def journalist_reply(raw: bytes, text: str) -> tuple[bytes, str, str]:
    """A reply as a mail program writes it: to the Reply-To, threaded, quoting the original.
    Returns the message, its sender and its recipient."""
    text = text.strip()
    if not text:
        raise InvalidInput({"text": N_("Write what the journalist answers.")})
    message = parse(raw)
    to = (addresses(message, "Reply-To") or addresses(message, "From") or [("", "")])[0][1]
    if not to:
        raise Conflict(N_("This message says nowhere to reply."))
    date, message_id, sender = _envelope(raw)
    plain, _ = bodies(message)
    original = header(message, "Message-ID")
    quoted = "\n".join(f"> {line}" for line in (plain or "").splitlines())
    reply = EmailMessage()
    reply["Date"] = date
    reply["Message-ID"] = message_id
    reply["From"] = sender
    reply["To"] = to
    reply["Subject"] = f"Re: {header(message, 'Subject')}"
    if original:
        reply["In-Reply-To"] = original
        reply["References"] = original
    wrote = f"On {header(message, 'Date')}, {header(message, 'From')} wrote:"
    reply.set_content(f"{text}\n\n{wrote}\n{quoted}\n")
    return reply.as_bytes(), email.utils.parseaddr(sender)[1], to


def calendar_answer(raw: bytes, answer: str) -> tuple[bytes, str, str]:
    """The iTIP REPLY (RFC 5546) the recipient's calendar sends when they press Accept,
    Maybe or Decline on the invitation. Returns the message, its sender and its recipient."""
    partstat = ANSWERS.get(answer)
    if partstat is None:
        raise InvalidInput({"answer": N_("Choose accept, tentative or decline.")})
    message = parse(raw)
    invite = _invitation(message)
    request = next((c for c in invite.walk("VEVENT")), None)
    if request is None or str(invite.get("method", "")).upper() != "REQUEST":
        raise Conflict(N_("This message holds no invitation to answer."))
    organiser = str(request.get("organizer", "")).removeprefix("mailto:").removeprefix("MAILTO:")
    date, message_id, sender = _envelope(raw)
    name, address = email.utils.parseaddr(sender)
    reply = Calendar()
    reply.add("prodid", "-//Beatbook//Mailbox tryout//EN")
    reply.add("version", "2.0")
    reply.add("method", "REPLY")
    event = Event()
    for key in ("uid", "sequence", "dtstart", "dtend", "summary", "organizer"):
        if key in request:
            event[key] = request[key]
    event.add("dtstamp", datetime.now(UTC))
    attendee = vCalAddress(f"mailto:{address}")
    attendee.params["PARTSTAT"] = partstat
    if name:
        attendee.params["CN"] = name
    event.add("attendee", attendee)
    reply.add_component(event)
    mail = EmailMessage()
    mail["Date"] = date
    mail["Message-ID"] = message_id
    mail["From"] = sender
    mail["To"] = organiser
    mail["Subject"] = f"{_SUBJECT_WORDS[partstat]}: {header(message, 'Subject')}"
    mail.set_content(f"{name or address} {_SUBJECT_WORDS[partstat].lower()} this invitation.\n")
    mail.add_alternative(reply.to_ical(), maintype="text", subtype="calendar",
                         params={"method": "REPLY"})  # fmt: skip
    return mail.as_bytes(), address, organiser


def _invitation(message: EmailMessage) -> Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                try:
                    return Calendar.from_ical(data)
                except ValueError:
                    break
    raise Conflict(N_("This message holds no invitation to answer."))


def is_invitation(raw: bytes) -> bool:
    try:
        return str(_invitation(parse(raw)).get("method", "")).upper() == "REQUEST"
    except Conflict:
        return False


async def deliver(host: str, port: int, raw: bytes, sender: str, recipient: str) -> None:
    """Hand the answer to the inbound receiver over SMTP, as the journalist's server would."""
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    try:
        await aiosmtplib.send(
            raw, sender=sender, recipients=[recipient], hostname=host, port=port, timeout=30
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:  # e.g. sent before the reply domain changed
        raise Conflict(
            N_("The inbound receiver does not take mail for %(address)s.", address=recipient)
        ) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        error = str(exc)
        raise Conflict(
            N_("The inbound receiver could not be reached: %(error)s", error=error)
        ) from exc
