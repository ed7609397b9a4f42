"""What an inbound message is: one of the inbound classes of DESIGN.md, with the fields each
class carries. A pure function of the raw message (no database): matching it to deliveries
and acting on it is the pipeline's work.

Beatbook's own addresses at the reply domain name what a message answers:
`reply+TOKEN` (the Reply-To of every campaign message), `bounce+TOKEN` (its envelope sender,
where bounces and most auto-replies go), `unsubscribe+TOKEN` (the List-Unsubscribe mailto)
and `calendar+eID` (the ORGANIZER of an event's invitations). A reply is matched by its token,
else by In-Reply-To / References; never by the From address alone.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from typing import Any

import charset_normalizer

from outreach import calendar
from outreach.inbound import quotes, reports
from outreach.mime import read_reply_token

# A token is 32 lowercase base32 characters (see outreach.mime.reply_token).
_OWN = re.compile(r"^(reply|bounce|unsubscribe)\+([^@]*)$|^calendar\+e(\d{1,9})$", re.I)
MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
# Marks Beatbook's own forwards, so that one polled back from that mailbox is not read again.
FORWARD_HEADER = "X-Beatbook-Forward"
# Quote stripping looks at this much of a body: what a person writes first is at the top.
TEXT_LIMIT = 200_000
# Feedback reports that say a person called the message spam (not DMARC failure reports).
COMPLAINTS = ("abuse", "fraud", "")
# Headers that may carry the address a message was delivered to.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


@dataclass(frozen=True)
class Classified:
    category: str
    kind: str = ""  # a bounce's: hard | soft | delayed | policy
    delivery_id: int | None = None  # named by a valid token
    event_id: int | None = None  # named by calendar+eID
    token: str = ""  # the valid token itself (an unsubscription acts on it)
    references: tuple[str, ...] = ()  # In-Reply-To then References, for matching replies
    original_message_id: str = ""  # the message a bounce or complaint returns
    text: str = ""  # a reply's new text
    fields: dict[str, Any] = field(default_factory=dict)


def parse(raw: bytes) -> EmailMessage:
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def split(raw: bytes) -> tuple[bytes, bytes]:
    """Headers (with the blank line that ends them) and body, at the first blank line."""
    ends = [(at, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (at := raw.find(sep)) >= 0]
    if not ends:
        return raw[:65536], b""
    at, size = min(ends)
    return raw[: at + size], raw[at + size :]


def parse_headers(raw: bytes) -> EmailMessage:
    """Only the header section of a raw message: cheap, and safe on any MIME tree."""
    head = split(raw)[0]
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        head, headersonly=True
    )
    assert isinstance(message, EmailMessage)
    return message


def forward_mark(secret: bytes, message_id: str) -> str:
    """The FORWARD_HEADER value of Beatbook's own forward with this Message-ID: signed, so
    that no one else can have their mail taken for one and left unread."""
    digest = hmac.new(secret, b"forward\x00" + message_id.strip().encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def header(message: Message, name: str) -> str:
    """A header as text; a malformed one reads as its raw value, never raises."""
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 (the email package raises on some broken headers)
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(name, address) pairs of an address header; broken ones are skipped."""
    try:
        values = message.get_all(name) or []
        return [(n, a) for n, a in email.utils.getaddresses([str(v) for v in values]) if a]
    except Exception:  # noqa: BLE001
        return []


def _decoded(part: Message) -> str:
    """A text part's content; a missing or unknown charset is guessed, never raised on."""
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError, KeyError, ValueError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    best = charset_normalizer.from_bytes(payload).best()
    return str(best) if best is not None else payload.decode("utf-8", "replace")


def bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    """The message's own plain-text and HTML bodies (not those of attachments), each cut
    to TEXT_LIMIT characters."""
    found: list[str | None] = []
    for kind in ("plain", "html"):
        try:
            part = message.get_body((kind,))
        except Exception:  # noqa: BLE001 (a broken MIME tree has no body we can trust)
            part = None
        found.append(_decoded(part)[:TEXT_LIMIT] if part is not None else None)
    return found[0], found[1]


def text_of(message: EmailMessage) -> str:
    """The message's readable text: its plain part, else its HTML converted."""
    plain, html = bodies(message)
    if plain is not None and plain.strip():
        return plain
    return quotes.html_to_text(html) if html else ""


def references(message: Message) -> tuple[str, ...]:
    ids: list[str] = []
    for name in ("In-Reply-To", "References"):
        for found in MESSAGE_ID.findall(header(message, name)):
            if found not in ids:
                ids.append(found)
    return tuple(ids)


@dataclass(frozen=True)
class _Address:
    """One of Beatbook's own addresses a message was sent to."""

    role: str  # reply | bounce | unsubscribe | calendar
    delivery_id: int | None = None
    event_id: int | None = None
    token: str = ""
    tampered: bool = False


def own_addresses(
    message: Message, recipients: Sequence[str], *, secret: bytes, reply_domain: str
) -> list[_Address]:
    """Beatbook's addresses among the envelope recipients; without an envelope (IMAP, the
    webhook), among the delivery headers. Where the envelope is known, headers are what the
    sender wrote and name nothing."""
    candidates = list(recipients)
    if not candidates:
        for name in _RECIPIENT_HEADERS:
            candidates += [a for _, a in addresses(message, name)]
    found: list[_Address] = []
    seen: set[str] = set()
    domain = reply_domain.lower()
    for address in candidates:
        local, _, at = address.strip().strip("<>").rpartition("@")
        if at.lower() != domain or local.lower() in seen:
            continue
        seen.add(local.lower())
        match = _OWN.match(local)
        if match is None:
            continue
        if match.group(3):
            found.append(_Address("calendar", event_id=int(match.group(3))))
            continue
        role, token = match.group(1).lower(), match.group(2)
        delivery_id = read_reply_token(secret, token)
        found.append(_Address(role, delivery_id, token=token, tampered=delivery_id is None))
    return found


def _token_in(raw: bytes, secret: bytes, reply_domain: str) -> tuple[int | None, str]:
    """A valid token anywhere in the message: the returned headers of a bounce or complaint
    keep the Reply-To and List-Unsubscribe addresses of the message that bounced."""
    pattern = rb"(?:reply|bounce|unsubscribe)\+([a-z2-7]{32})@" + re.escape(reply_domain.encode())
    for match in re.finditer(pattern, raw, re.I):
        token = match.group(1).decode().lower()
        delivery_id = read_reply_token(secret, token)
        if delivery_id is not None:
            return delivery_id, token
    return None, ""


def classify(
    raw: bytes,
    *,
    secret: bytes,
    reply_domain: str,
    recipients: Sequence[str] = (),
    message: EmailMessage | None = None,
) -> Classified:
    """The class of a raw message and its fields. Machine reports come first (a bounce that
    also says Auto-Submitted is a bounce), then calendar answers, unsubscriptions,
    auto-replies, and last what a person wrote. A MIME tree nested too deep to read is
    `unmatched` ("unreadable"), for a person to look at."""
    try:
        message = message if message is not None else parse(raw)
        return _classify(raw, message, secret, reply_domain, recipients)
    except RecursionError:
        return _unmatched("unreadable", references(parse_headers(raw)))


def _classify(
    raw: bytes,
    message: EmailMessage,
    secret: bytes,
    reply_domain: str,
    recipients: Sequence[str],
) -> Classified:
    mark = header(message, FORWARD_HEADER)
    if mark and hmac.compare_digest(
        mark.encode(), forward_mark(secret, header(message, "Message-ID")).encode()
    ):
        return _unmatched("own_forward", ())
    own = own_addresses(message, recipients, secret=secret, reply_domain=reply_domain)
    valid = [a for a in own if not a.tampered]
    named = next((a for a in valid if a.delivery_id is not None), None)

    complaint = reports.complaint_of(message)
    if complaint is not None and complaint.feedback_type not in COMPLAINTS:
        return _unmatched("report", references(message))  # e.g. a DMARC failure report
    if complaint is not None:
        delivery_id, token = (named.delivery_id, named.token) if named else (None, "")
        if delivery_id is None:
            delivery_id, token = _token_in(raw, secret, reply_domain)
        return Classified(
            "complaint",
            delivery_id=delivery_id,
            token=token,
            original_message_id=complaint.original_message_id,
            fields={"address": complaint.address, "feedback_type": complaint.feedback_type},
        )
    bounce = reports.bounce_of(message)
    if bounce is not None:
        delivery_id, token = (named.delivery_id, named.token) if named else (None, "")
        if delivery_id is None:
            delivery_id, token = _token_in(raw, secret, reply_domain)
        return Classified(
            "bounce",
            kind=bounce.kind,
            delivery_id=delivery_id,
            token=token,
            original_message_id=bounce.original_message_id,
            fields={
                "address": bounce.address,
                "status": bounce.status,
                "diagnostic": bounce.diagnostic,
            },
        )
    if _is_report(message):  # a delivery notice, a read receipt: no one wrote anything
        return _unmatched("report", references(message))
    answers = calendar.read_replies(raw)
    if answers:
        event = next((a.event_id for a in valid if a.role == "calendar"), None)
        return Classified(
            "calendar_reply",
            event_id=event,
            fields={
                "answers": [
                    {"uid": a.uid, "attendee": a.attendee, "partstat": a.partstat} for a in answers
                ]
            },
        )
    unsubscribe = next((a for a in own if a.role == "unsubscribe"), None)
    if unsubscribe is not None:
        if unsubscribe.tampered:
            return _unmatched("tampered", references(message), text=text_of(message))
        return Classified(
            "unsubscribe", delivery_id=unsubscribe.delivery_id, token=unsubscribe.token
        )
    refs = references(message)
    text = text_of(message)
    away = reports.auto_reply_of(message, text)
    if away is not None:
        return Classified(
            "auto_reply",
            delivery_id=named.delivery_id if named else None,
            token=named.token if named else "",
            references=refs,
            fields={
                "away_until": away.away_until.isoformat() if away.away_until else None,
                "signal": away.signal,
            },
        )
    plain, html = bodies(message)
    new_text = quotes.reply_text(plain, html)
    if any(a.tampered and a.role in ("reply", "bounce") for a in own):
        return _unmatched("tampered", refs, text=new_text)
    if named is not None:
        return Classified(
            "reply", delivery_id=named.delivery_id, token=named.token, references=refs,
            text=new_text,
        )  # fmt: skip
    if refs:  # a reply if the pipeline finds one of these among the messages we sent
        return Classified("reply", references=refs, text=new_text)
    return _unmatched("no_reference", refs, text=new_text)


def _is_report(message: EmailMessage) -> bool:
    """A machine report that is neither bounce nor complaint: a delivery success notice
    (RFC 3464, Action: delivered or relayed) or a read receipt (RFC 8098). Only the message's
    own parts count: a report forwarded as an attachment is someone's message."""
    if message.get_content_type() == "multipart/report":
        return True
    if not message.is_multipart():
        return False
    return any(
        part.get_content_type() in ("message/disposition-notification", "message/delivery-status")
        for part in message.iter_parts()
    )


def _unmatched(reason: str, refs: tuple[str, ...], *, text: str = "") -> Classified:
    return Classified("unmatched", references=refs, text=text, fields={"reason": reason})
