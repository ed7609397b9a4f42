"""Campaign mail as bytes: prepared once per campaign, filled in once per recipient.

Building each message with `email.message.EmailMessage` costs milliseconds, and a campaign
sends thousands of personal messages. So everything every recipient shares (From, List-Id,
boundaries, base64 attachments) is rendered to bytes once, and `fill()` only encodes what
differs: Date, To, Subject, Message-ID, Reply-To, List-Unsubscribe and the two bodies.

The result is CRLF throughout, headers folded at 78 characters and body lines at most 76.
Text is quoted-printable UTF-8, never base64 (SpamAssassin's MIME_BASE64_TEXT). Nothing here
dot-stuffs: aiosmtplib does that on DATA. A body line starting with "." is still written
"=2E" (and "From " as "=46rom "), so a transport that forgets to stuff, or an mbox, cannot
mangle it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr
from functools import lru_cache

import dkim

CRLF = b"\r\n"
DKIM_HEADERS = [
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"List-Unsubscribe",
    b"List-Unsubscribe-Post", b"List-Id", b"MIME-Version", b"Content-Type",
]  # fmt: skip


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_key_pem: bytes


# --- header values --------------------------------------------------------------------------

# C0/C1 controls, line and paragraph separators, and bidi overrides (which make a display
# name read differently from what it says). CR/LF in particular would start a new header.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_DOMAIN = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*"
)
_BARE_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f\x41-\x7e]{1,200}@([a-z0-9.-]{1,253})>", re.I)
_URL = re.compile(r"https?://[^\s<>\"]{1,900}")
_MAILTO = re.compile(r"mailto:[^\s<>\"]{1,900}")
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
# RFC 2047 5(3): the only characters an encoded-word in a phrase may carry literally.
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_LINE = 78  # RFC 5322's recommended line length; 998 is the hard limit


def header_safe(value: str) -> str:
    """The value on one line: CR, LF and other control characters become single spaces."""
    return " ".join(_CONTROLS.sub(" ", value).split())


@lru_cache(maxsize=1024)  # a campaign's recipients share a few hundred domains
def _domain(value: str) -> str:
    """An ASCII domain name (IDN in punycode), lowercased, or ValueError."""
    try:
        domain = (value if value.isascii() else value.encode("idna").decode("ascii")).lower()
    except UnicodeError:
        raise ValueError(f"Not a domain name: {value!r}") from None
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"Not a domain name: {value!r}")
    return domain


def _address(value: str) -> str:
    """A plain ASCII addr-spec, or ValueError."""
    local, _, domain = header_safe(value).rpartition("@")
    if not _LOCAL_PART.fullmatch(local):
        raise ValueError(f"Not an email address: {value!r}")
    return f"{local}@{_domain(domain)}"


def sending_domain(address: str) -> str:
    """The domain of an address ("Name <a@b>" or "a@b"), lowercased."""
    return _address(parseaddr(address)[1] or address).rpartition("@")[2]


def new_message_id(domain: str) -> str:
    """A fresh Message-ID on the sending domain, never the machine's host name."""
    local = base64.b32encode(secrets.token_bytes(15)).decode().lower()
    return f"<{local}@{_domain(domain)}>"


def _encoded_words(value: str, room: int) -> str:
    """RFC 2047 encoded-words for value, each ≤ 75 characters, folded so lines stay ≤ 78.

    room is what is left on the first line. Q keeps Latin script with a few accents readable;
    B is used when a quarter shorter (Cyrillic). Words split between characters, never inside.
    """
    data = value.encode()
    use_b = 4 * _word_size(data, True) < 3 * _word_size(data, False)
    if _word_size(data, use_b) <= min(75, room):  # the usual short name or subject
        return _word(data, use_b)
    words: list[str] = []
    chunk = b""
    for char in value:
        candidate = chunk + char.encode()
        if chunk and _word_size(candidate, use_b) > min(75, room if not words else 75):
            words.append(_word(chunk, use_b))
            candidate = char.encode()
        chunk = candidate
    words.append(_word(chunk, use_b))
    return "\r\n ".join(words)


def _word_size(data: bytes, use_b: bool) -> int:
    if use_b:
        return 12 + 4 * -(-len(data) // 3)
    return 12 + sum(1 if b in _Q_LITERAL or b == 32 else 3 for b in data)


def _word(data: bytes, use_b: bool) -> str:
    if use_b:
        return f"=?utf-8?b?{base64.b64encode(data).decode()}?="
    text = "".join(chr(b) if b in _Q_LITERAL else "_" if b == 32 else f"={b:02X}" for b in data)
    return f"=?utf-8?q?{text}?="


def _fold(words: list[str], used: int) -> str | None:
    """ASCII words joined by spaces, folded before a word that would pass 78; None when a
    word fits no line (the caller encodes instead, and encoded-words split anywhere)."""
    if used + len(words[0]) > _LINE or any(len(word) + 1 > _LINE for word in words):
        return None
    folded, width = words[0], used + len(words[0])
    for word in words[1:]:
        fits = width + 1 + len(word) <= _LINE
        folded += (" " if fits else "\r\n ") + word
        width = (width if fits else 0) + 1 + len(word)
    return folded


@lru_cache(maxsize=512)  # a campaign repeats one subject per language thousands of times
def _unstructured(name: str, value: str) -> bytes:
    """'Name: value' + CRLF for free text such as Subject."""
    value = header_safe(value)
    used = len(name) + 2
    folded = None
    if value.isascii() and "=?" not in value:  # "=?" would read as an encoded-word
        folded = _fold(value.split(" "), used) if value else ""
    if folded is None:
        folded = _encoded_words(value, _LINE - used)
    return f"{name}: {folded}\r\n".encode("ascii")


def _mailbox(name: str, display_name: str, address: str) -> bytes:
    """'Name: display name <address>' + CRLF, the display name encoded when it must be."""
    address = _address(address)
    return f"{name}: {_with_phrase(display_name, f'<{address}>', len(name) + 2)}\r\n".encode()


def _with_phrase(phrase: str, angle: str, used: int) -> str:
    """'phrase <angle>' with phrase quoted or RFC 2047-encoded, folded before <angle>."""
    phrase = header_safe(phrase)
    if not phrase:
        return angle
    text = None
    if phrase.isascii() and "=?" not in phrase:
        quoted = '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + '"'
        text = phrase if _BARE_PHRASE.fullmatch(phrase) else quoted
        if used + len(text) > _LINE:
            text = None
    if text is None:
        text = _encoded_words(phrase, _LINE - used)
    width = (used if "\n" not in text else 0) + len(text.rpartition("\n")[2])
    separator = " " if width + 1 + len(angle) <= _LINE else "\r\n "
    return f"{text}{separator}{angle}"


def _list_unsubscribe(url: str, mailto: str) -> bytes:
    url, mailto = header_safe(url), header_safe(mailto)
    if not _URL.fullmatch(url):
        raise ValueError(f"Unsubscribe URL must be http(s): {url!r}")
    if not _MAILTO.fullmatch(mailto):
        raise ValueError(f"Unsubscribe address must be a mailto: URL: {mailto!r}")
    return f"List-Unsubscribe: <{url}>,\r\n <{mailto}>\r\n".encode("ascii")


def _param(key: str, value: str) -> str:
    """'; key="value"', or RFC 2231 'key*=utf-8''…' (continued when long) for other text."""
    value = header_safe(value)
    if value.isascii() and len(value) <= 50 and not set(value) & set('"\\'):
        return f';\r\n {key}="{value}"'
    # ≤ 50 characters a line, never ending inside a %XX, keeps each line within 78.
    chunks = re.findall(r".{1,50}(?<!%)(?<!%.)", urllib.parse.quote(value, safe=""))
    if len(chunks) == 1:
        return f";\r\n {key}*=utf-8''{chunks[0]}"
    first = f";\r\n {key}*0*=utf-8''{chunks[0]}"
    return first + "".join(f";\r\n {key}*{i}*={c}" for i, c in enumerate(chunks[1:], 1))


# --- reply tokens ---------------------------------------------------------------------------

# 8 bytes of delivery id + 12 of MAC = 20 bytes = exactly 32 base32 characters: no padding
# bits, so changing any character changes the bytes and breaks the MAC.
_MAC_SIZE = 12
_TOKEN_SIZE = 32
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B32_PAIRS = [_B32[i >> 5] + _B32[i & 31] for i in range(1024)]  # 10 bits, two characters


def _token_mac(secret: bytes, body: bytes) -> bytes:
    if not secret:
        raise ValueError("The reply-token secret is empty")
    return hmac.digest(secret, b"beatbook reply token\x00" + body, "sha256")[:_MAC_SIZE]


def reply_token(secret: bytes, delivery_id: int) -> str:
    """A signed, lowercase base32 token naming one delivery, for the Reply-To address."""
    if not 0 <= delivery_id < 2**64:
        raise ValueError(f"Delivery id out of range: {delivery_id}")
    body = delivery_id.to_bytes(8, "big")
    n = int.from_bytes(body + _token_mac(secret, body), "big")  # = base64.b32encode, lower
    return "".join([_B32_PAIRS[(n >> shift) & 1023] for shift in range(150, -1, -10)])


def read_reply_token(secret: bytes, token: str) -> int | None:
    """The delivery id a token names, or None when it was not signed with this secret."""
    if len(token) != _TOKEN_SIZE or not token.isascii():
        return None
    try:
        raw = base64.b32decode(token.upper())
    except (binascii.Error, ValueError):
        return None
    body, mac = raw[:8], raw[8:]
    if not hmac.compare_digest(mac, _token_mac(secret, body)):
        return None
    return int.from_bytes(body, "big")


def reply_address(secret: bytes, delivery_id: int, reply_domain: str) -> str:
    """'reply+TOKEN@domain': replies to it name their delivery (local part is 38 chars)."""
    return _address(f"reply+{reply_token(secret, delivery_id)}@{reply_domain}")


# --- bodies ---------------------------------------------------------------------------------

_BODY_JUNK = bytes([*range(9), 11, 12, *range(14, 32), 127])  # controls but tab, LF, CR
_HTML_TAG = re.compile(r"<html[\s>]", re.IGNORECASE)


def quoted_printable(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line ends, lines ≤ 76, ending in a line break."""
    data = text.encode().translate(None, _BODY_JUNK)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    encoded = binascii.b2a_qp(data)
    if _needs_mending(encoded):
        encoded = b"\n".join(_mended(row) for row in encoded.split(b"\n"))
    return encoded.replace(b"\n", b"\r\n")


def eight_bit(text: str) -> bytes | None:
    """UTF-8 as it is, with CRLF line ends, for servers that take 8BITMIME; None when a line
    is too long for SMTP (998 bytes), so the part must be quoted-printable after all.

    Encoding costs as much as rendering the message; most servers need none of it."""
    data = text.encode().translate(None, _BODY_JUNK)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    if len(data) > 998 and max(map(len, data.split(b"\n"))) > 998:
        return None
    return data.replace(b"\n", b"\r\n")


_PART_HEADS = {
    (subtype, encoding): (
        f"Content-Type: text/{subtype}; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii")
    for subtype in ("plain", "html")
    for encoding in ("8bit", "quoted-printable")
}


def _part(subtype: str, text: str, allow_8bit: bool) -> bytes:
    """A text part, its head and its body: 8bit where allowed and possible, else QP."""
    body = eight_bit(text) if allow_8bit else None
    if body is not None:
        return _PART_HEADS[subtype, "8bit"] + body
    return _PART_HEADS[subtype, "quoted-printable"] + quoted_printable(text)


def _needs_mending(encoded: bytes) -> bool:
    """b2a_qp leaves "." and "From " at line starts (also after its own soft breaks), and an
    escaped trailing space can run its line to 78. Rare, so looked for rather than avoided."""
    if encoded.startswith((b".", b"From ")) or b"\n." in encoded or b"\nFrom " in encoded:
        return True
    for mark in (b"=20\n", b"=09\n"):
        end = encoded.find(mark)
        while end != -1:
            if end + 2 - encoded.rfind(b"\n", 0, end) > 76:  # that line's length
                return True
            end = encoded.find(mark, end + 1)
    return False


def _mended(row: bytes) -> bytes:
    """One encoded line, escaped where it starts with "." or "From " and split at 76."""
    done: list[bytes] = []
    while True:
        if row.startswith((b".", b"From ")):
            row = b"=%02X" % row[0] + row[1:]
        if len(row) <= 76:
            return b"\n".join([*done, row])
        cut = 75 - (row[74] == 61) - 2 * (row[73] == 61)  # not inside an "=XX"
        done.append(row[:cut] + b"=")
        row = row[cut:]


def html_document(html: str) -> str:
    """html itself when it is a document, else the fragment in a minimal UTF-8 document."""
    if _HTML_TAG.search(html):
        return html
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
        f"{html}\n</body></html>\n"
    )


def _boundary() -> str:
    # "=_" cannot occur in quoted-printable or base64, so the boundary never collides.
    return "=_bb" + secrets.token_hex(12)


def _multipart(subtype: str, boundary: str) -> bytes:
    return f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n'.encode("ascii")


def _attachment_part(attachment: Attachment) -> bytes:
    content_type = header_safe(attachment.content_type).lower()
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"Not a MIME type: {attachment.content_type!r}")
    head = (
        f"Content-Type: {content_type}{_param('name', attachment.filename)}\r\n"
        f"Content-Disposition: attachment{_param('filename', attachment.filename)}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode("ascii") + base64.encodebytes(attachment.data).replace(b"\n", CRLF)


@lru_cache(maxsize=8)
def _calendar_head(method: str, encoding: str) -> bytes:
    return (
        f"Content-Type: text/calendar; charset=utf-8; method={method}\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii")


_ICS_HEAD = (
    b'Content-Type: application/ics; name="invite.ics"\r\n'
    b'Content-Disposition: attachment; filename="invite.ics"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
)


def _calendar_part(method: str, ics: bytes, allow_8bit: bool) -> bytes:
    """The invitation as the calendar part of the alternative (RFC 6047): its `method`
    parameter says what the VCALENDAR's METHOD says. The iCalendar is folded at 75 octets
    with CRLF already, so with 8BITMIME it goes as it is."""
    if allow_8bit:
        return _calendar_head(method, "8bit") + ics
    text = ics.decode("utf-8").replace("\r\n", "\n")
    return _calendar_head(method, "quoted-printable") + quoted_printable(text)


def _ics_attachment(ics: bytes) -> bytes:
    """The same invitation as an invite.ics file, for clients that only read attachments."""
    return _ICS_HEAD + base64.encodebytes(ics).replace(b"\n", CRLF)


def _skeleton(
    attachments: Sequence[Attachment], calendar: bool = False
) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """The MIME structure around the parts that differ per recipient: what goes before the
    text part, between text and HTML, after the HTML (before the calendar part of an
    invitation), after the calendar part (before its .ics file), and at the end (with the
    attachments, encoded once here). Without a calendar the last two are empty."""
    alternative, mixed = _boundary(), _boundary()
    head = [b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b"MIME-Version: 1.0\r\n"]
    if attachments or calendar:
        head += [_multipart("mixed", mixed), CRLF, f"--{mixed}\r\n".encode()]
    head += [_multipart("alternative", alternative), CRLF, f"--{alternative}\r\n".encode()]
    middle = f"\r\n--{alternative}\r\n".encode()
    before_calendar = after_calendar = b""
    if calendar:
        before_calendar = middle
        after_calendar = f"\r\n--{alternative}--\r\n\r\n--{mixed}\r\n".encode()
        tail = []
    else:
        tail = [f"\r\n--{alternative}--\r\n".encode()]
    for attachment in attachments:
        tail += [f"\r\n--{mixed}\r\n".encode(), _attachment_part(attachment)]
    if attachments or calendar:
        tail.append(f"\r\n--{mixed}--\r\n".encode())
    return b"".join(head), middle, before_calendar, after_calendar, b"".join(tail)


# --- the message ----------------------------------------------------------------------------


class PreparedMessage:
    """One campaign's shared parts, rendered once; fill() makes each recipient's message."""

    def __init__(
        self,
        *,
        from_name: str,
        from_address: str,
        list_id: str,
        list_name: str,
        attachments: Sequence[Attachment] = (),
        dkim: DkimKey | None = None,
        calendar_method: str = "",
    ) -> None:
        self.domain = sending_domain(from_address)
        list_id = header_safe(list_id)
        if "." not in list_id or not _DOMAIN.fullmatch(list_id):
            raise ValueError(f"A List-Id looks like name.domain: {list_id!r}")
        self._from = _mailbox("From", from_name, from_address)
        self._list = f"List-Id: {_with_phrase(list_name, f'<{list_id}>', 9)}\r\n".encode()
        self.calendar_method = calendar_method  # REQUEST or CANCEL for invitations
        parts = _skeleton(attachments, calendar=bool(calendar_method))
        self._head, self._middle, self._before_calendar, self._after_calendar, self._tail = parts
        self._dkim = dkim
        if dkim:  # a bad key fails here, once, not on every recipient
            self._sign(b"From: x@" + self.domain.encode() + b"\r\n\r\nkey check\r\n")

    def fill(
        self,
        *,
        to_name: str,
        to_address: str,
        subject: str,
        text: str,
        html: str,
        message_id: str,
        reply_to: str,
        unsubscribe_url: str,
        unsubscribe_mailto: str,
        date: datetime | None = None,
        allow_8bit: bool = False,
        calendar: bytes = b"",
        thread: Sequence[str] = (),
        personal: bool = False,
    ) -> bytes:
        """The complete message for one recipient, as bytes ready for SMTP DATA. With
        `allow_8bit` (the server announced 8BITMIME) the text parts go unencoded. An
        invitation's `calendar` (the guest's VCALENDAR) goes in as the third alternative
        and again as invite.ics."""
        if bool(calendar) != bool(self.calendar_method):
            raise ValueError("An invitation needs its calendar, and only an invitation has one.")
        invitation = (
            [
                self._before_calendar,
                _calendar_part(self.calendar_method, calendar, allow_8bit),
                self._after_calendar,
                _ics_attachment(calendar),
            ]
            if calendar
            else []
        )
        message = b"".join(
            [
                b"Date: " + _date(date) + CRLF,
                self._from,
                _mailbox("To", to_name, to_address),
                _unstructured("Subject", subject),
                b"Message-ID: " + self._message_id(message_id) + CRLF,
                _threading(thread),
                b"Reply-To: " + _address(reply_to).encode("ascii") + CRLF,
                # A personal letter (an answer to a journalist) is no list mail.
                b"" if personal else _list_unsubscribe(unsubscribe_url, unsubscribe_mailto),
                b"" if personal else self._list,
                self._head,
                _part("plain", text, allow_8bit),
                self._middle,
                _part("html", html_document(html), allow_8bit),
                *invitation,
                self._tail,
            ]
        )
        return self._sign(message) if self._dkim else message

    def _message_id(self, message_id: str) -> bytes:
        message_id = header_safe(message_id)
        match = _MESSAGE_ID.fullmatch(message_id)
        if not match or match[1].lower() != self.domain:
            raise ValueError(f"Message-ID must be <…@{self.domain}>: {message_id!r}")
        return message_id.encode("ascii")

    def _sign(self, message: bytes) -> bytes:
        assert self._dkim
        signature = dkim.sign(
            message,
            self._dkim.selector.encode("ascii"),
            self._dkim.domain.encode("ascii"),
            self._dkim.private_key_pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=DKIM_HEADERS,
        )
        return signature + message


_THREAD_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII but < and >


def _threading(thread: Sequence[str]) -> bytes:
    """In-Reply-To and References of an answer (RFC 5322 3.6.4): the Message-IDs it answers,
    oldest first. Malformed ids are left out; References keeps the first and the last ten."""
    ids = [i for i in thread if _THREAD_ID.fullmatch(i)]
    if not ids:
        return b""
    kept = ids if len(ids) <= 11 else [ids[0], *ids[-10:]]
    refs = "\r\n ".join(kept)
    return f"In-Reply-To: {ids[-1]}\r\nReferences: {refs}\r\n".encode("ascii")


def _date(date: datetime | None) -> bytes:
    if date is None:
        return _now_formatted()
    if date.tzinfo is None:
        raise ValueError("The Date needs a time zone")
    return _formatted_date(date.replace(microsecond=0))


_now: list[tuple[int, bytes]] = [(-1, b"")]


def _now_formatted() -> bytes:
    """This second's Date, formatted once a second (a campaign sends many each second)."""
    second = int(time.time())
    if _now[0][0] != second:
        stamp = datetime.fromtimestamp(second, UTC)
        _now[0] = (second, format_datetime(stamp).encode("ascii"))
    return _now[0][1]


@lru_cache(maxsize=4)
def _formatted_date(date: datetime) -> bytes:
    return format_datetime(date).encode("ascii")
