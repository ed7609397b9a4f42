"""Mail that machines send back after a campaign: bounces, auto-replies and complaints.

Pure functions of a parsed message (`BytesParser(policy=email.policy.default)`), no database:

- `bounce_of`: RFC 3464 delivery status notifications (Postfix, Exim 4.9x, Exchange, Gmail,
  IIS), and the older plain-text ones (Exim's "This message was created automatically by
  mail delivery software", qmail's "Hi. This is the qmail-send program"), where flufl.bounce
  finds the failed address and the kind, status and diagnostic are read from the text.
- `auto_reply_of`: RFC 3834 Auto-Submitted, the vendor headers (X-Autoreply, X-Autorespond,
  Precedence) and auto-reply subjects in English, Albanian and Serbian (both scripts), with the
  date the person is back when the text says it.
- `complaint_of`: RFC 5965 feedback reports (Yahoo, Microsoft JMRP, Validity-run loops).

Everything here reads untrusted mail: no function raises (odd input gives None or empty
fields), every regular expression is linear or bounded, and texts are cut to a size.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from flufl.bounce import all_failures

_MAX_PARTS = 200  # of one message's own MIME tree
_MAX_TEXT = 64_000  # characters of a notification or auto-reply read at all


@dataclass(frozen=True)
class Bounce:
    kind: str  # "hard" | "soft" | "delayed" | "policy"
    address: str  # the failed recipient, lowercased ('' if none found)
    status: str  # enhanced status code like "5.1.1" ('' if none)
    diagnostic: str  # the remote server's words, one line, <= 500 chars ('' if none)
    original_message_id: str  # "<...>" of the message that bounced ('' if absent)


@dataclass(frozen=True)
class AutoReply:
    away_until: date | None  # the date the person is back / away until, where the text says it
    signal: str  # what gave it away: "Auto-Submitted: auto-replied", "X-Autoreply", "subject"…


@dataclass(frozen=True)
class Complaint:
    address: str  # the complaining recipient, '' if none
    feedback_type: str  # "abuse", "fraud", … as the report says, lowercased
    original_message_id: str  # "<...>" of our message, '' if absent


# --- reading a message without trusting it ---------------------------------------------------

_ADDRESS = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}"
)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_MESSAGE_ID_LINE = re.compile(r"^message-id:[ \t]*(<[^<>\s]{1,250}>)", re.I | re.M)
_TAG = re.compile(r"<[^<>]{0,2000}>")  # bounded, so a lone "<" costs nothing


def _header(msg: Message, name: str) -> str:
    """A header on one line; a malformed one reads as '' (the email package can raise)."""
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(msg: Message, name: str) -> list[str]:
    try:
        values = [str(v) for v in msg.get_all(name) or []]
        return [a.lower() for _, a in getaddresses(values) if "@" in a]
    except Exception:  # noqa: BLE001
        return []


def _clean_address(value: str) -> str:
    """'rfc822; <A@B.example>' -> 'a@b.example'; '' when it is not an address."""
    value = value.rpartition(";")[2].strip().strip("<>").strip().lower()
    return value if _ADDRESS.fullmatch(value) else ""


def _message_id(value: str) -> str:
    found = _MESSAGE_ID.search(value)
    if found:
        return found.group()
    return f"<{value}>" if _ADDRESS.fullmatch(value) else ""


def _own_parts(msg: Message) -> list[Message]:
    """The message's own leaves and message/* parts, in order; never those inside a returned
    message (its text is our press release, not the server's words)."""
    found: list[Message] = []
    stack, steps = [msg], 0
    while stack and len(found) < _MAX_PARTS and steps < 10 * _MAX_PARTS:
        part, steps = stack.pop(), steps + 1
        payload = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
        else:
            found.append(part)
    return found


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # IIS says "unicode-1-1-utf-7"
        return payload.decode("utf-8", "replace")


def _notification(parts: list[Message]) -> str:
    """The report's human-readable words: its own text parts, else its HTML as text."""
    texts: list[str] = []
    for subtype in ("plain", "html"):
        for part in parts:
            if part.get_content_type() == f"text/{subtype}" and (
                part.get_content_disposition() != "attachment"
            ):
                text = _decoded(part)
                texts.append(html.unescape(_TAG.sub(" ", text)) if subtype == "html" else text)
        if texts:
            break
    return "\n".join(texts)[:_MAX_TEXT]


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    data = part.get_payload(decode=True)  # a part sent encoded is left as a string
    if not isinstance(data, bytes):
        return []
    parser = BytesHeaderParser(policy=policy.default)
    return [
        parser.parsebytes(b.strip() + b"\n") for b in re.split(rb"\r?\n\r?\n", data[:_MAX_TEXT])
    ]


def _returned(parts: list[Message]) -> Message | None:
    """The returned message, or its headers (text/rfc822-headers), as headers to read."""
    for part in parts:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                return BytesHeaderParser(policy=policy.default).parsebytes(data[:_MAX_TEXT])
    return None


# --- bounces ----------------------------------------------------------------------------------

# Where a plain-text bounce starts quoting the message it returns.
_RETURNED_COPY = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]*(?:this is a copy of|below this line is a copy|original message"
    r"|returned message|undelivered message)|original message headers:)",
    re.I | re.M,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|returning message|failure notice|non.?delivery|mail delivery"
    r"|not delivered|could not be delivered|address not found|delayed mail|delivery delayed"
    r"|delivery (?:status notification|failure|failed|has failed|problem|notification)"
    r"|warning: message \S{1,40} delayed",
    re.I,
)
_BOUNCE_TEXT = re.compile(
    r"created automatically by mail delivery software|this is the qmail-send program"
    r"|this is the mail system at host|delivery (?:has failed|is delayed) to these recipients"
    r"|your message (?:wasn't|was not|couldn't be|could not be) delivered|wasn't able to deliver"
    r"|could not be delivered to one or more|delivery to the following recipients? (?:failed"
    r"|has been delayed)|warning message only|has not yet been delivered|message not delivered"
    r"|automatically generated delivery status notification|address not found",
    re.I,
)
_REPLY_PREFIX = re.compile(r"^\s*(?:re|fwd?|aw|wg|tr|rv|sv|vs|odg|përgj)\s*:", re.I)
_DAEMON = re.compile(r"^(?:mailer-daemon|mail-daemon|mailerdaemon|postmaster)@", re.I)
_DELAY_SUBJECT = re.compile(
    r"\(delay\)|delivery delayed|delayed mail|warning: message \S{1,40} delayed", re.I
)
_DELAY_TEXT = re.compile(
    r"has not yet been delivered|warning message only|delivery is delayed to|still being retried",
    re.I,
)
_STATUS = re.compile(r"(?<!\d)(?<!\d\.)([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
_REPLY_CODE = re.compile(r"(?<![\w.])[45]\d\d(?=[ -]\S)")
_LEADING_REPLY = re.compile(r"([45]\d\d)[ -]((?:[245]\.\d{1,3}\.\d{1,3})?)\s*")
_DIAGNOSTIC_TYPE = re.compile(r"^[\w-]{1,20}\s*;\s*")  # "smtp;", "X-Postfix;"

# The server's words, when the status code says too little ("5.0.0", or none).
_POLICY = re.compile(
    r"spamhaus|spamcop|barracuda|block ?list|black ?list|blocked|\brbl\b|dmarc|\bspf\b"
    r"|unauthenticated|reputation|spam|polic(?:y|ies)|\bS3150\b|not (?:authori[sz]ed|permitted)",
    re.I,
)
_FULL = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota|inbox is full|out of storage|insufficient storage",
    re.I,
)
_UNKNOWN = re.compile(
    r"user unknown|unknown (?:user|recipient)|no such (?:user|mailbox|recipient)|not exist"
    r"|doesn't exist|does not exist|couldn't be found|not found|no mailbox|invalid (?:recipient"
    r"|mailbox|address)|mailbox unavailable|disabled|deactivated|doesn't have a",
    re.I,
)
_TEMPORARY = re.compile(r"temporar|try again later|retry timeout exceeded|timed out", re.I)


def bounce_of(msg: EmailMessage) -> Bounce | None:
    """The bounce a message reports, or None when it is no bounce (a complaint is not)."""
    try:
        return _bounce(msg)
    except Exception:  # noqa: BLE001 (untrusted mail: a surprise is "not a bounce")
        return None


def _bounce(msg: Message) -> Bounce | None:
    parts = _own_parts(msg)
    if any(p.get_content_type() == "message/feedback-report" for p in parts):
        return None
    told, rest = _split_returned(_notification(parts))
    blocks = [b for p in parts if p.get_content_type() == "message/delivery-status"
              for b in _blocks(p)]  # fmt: skip
    recipients = [b for b in blocks if _header(b, "Action") or _header(b, "Final-Recipient")]
    original = _original_id(msg, parts, rest, blocks)
    if recipients:
        return _from_dsn(msg, recipients, told, original)
    if not _looks_like_bounce(msg, told):
        return None
    diagnostic = _said(told)
    found = _STATUS.search(diagnostic) or _STATUS.search(told)
    status = found.group() if found else ""
    delayed = _DELAY_SUBJECT.search(_header(msg, "Subject")) or _DELAY_TEXT.search(told)
    kind = "delayed" if delayed else _kind(status, diagnostic or told)
    return Bounce(kind, _failed_address(msg, told), status, diagnostic, original)


def _split_returned(text: str) -> tuple[str, str]:
    """The notification's own words, and the copy of the returned message it quotes."""
    found = _RETURNED_COPY.search(text)
    return (text[: found.start()], text[found.start() :]) if found else (text, "")


def _from_dsn(msg: Message, recipients: list[Message], told: str, original: str) -> Bounce | None:
    """RFC 3464: the first failed recipient, else the first delayed one; a report of only
    successful deliveries (relayed, delivered, expanded) is no bounce."""
    failed, delayed = [], []
    for block in recipients:
        action = _header(block, "Action").lower() or ("failed" if _header(block, "Status") else "")
        if action.startswith(("fail", "error")):  # opensmtpd says "error"
            failed.append(block)
        elif action.startswith("delay"):
            delayed.append(block)
    if not failed and not delayed:
        return None
    block = (failed or delayed)[0]
    diagnostic = _one_line(_DIAGNOSTIC_TYPE.sub("", _header(block, "Diagnostic-Code")))
    diagnostic = diagnostic or _said(told)
    status = _status(_header(block, "Status"), diagnostic)
    address = (
        _clean_address(_header(block, "Original-Recipient"))  # what we wrote, before aliases
        or _clean_address(_header(block, "Final-Recipient"))
        or _failed_address(msg, told)
    )
    kind = _kind(status, diagnostic or told) if failed else "delayed"
    return Bounce(kind, address, status, diagnostic, original)


def _looks_like_bounce(msg: Message, told: str) -> bool:
    """A bounce without a delivery-status part: Exim's header, or two of the three signs
    (a mailer daemon's address, a bounce subject, a bounce's opening words). A person
    replying to or forwarding a bounce keeps the subject but is no daemon."""
    if _header(msg, "X-Failed-Recipients"):
        return True
    subject = _header(msg, "Subject")
    by_subject = bool(_BOUNCE_SUBJECT.search(subject)) and not _REPLY_PREFIX.match(subject)
    by_text = bool(_BOUNCE_TEXT.search(told[:8000]))
    daemon = any(_DAEMON.match(a) for a in _addresses(msg, "From"))
    return (daemon and (by_subject or by_text)) or (by_subject and by_text)


def _status(given: str, diagnostic: str) -> str:
    """The Status field, unless it is the generic x.0.0 (Exim's habit) and the server's own
    words carry a precise code."""
    field, said = _STATUS.search(given), _STATUS.search(diagnostic)
    if field and not (said and field.group(2, 3) == ("0", "0")):
        return field.group()
    return said.group() if said else ""


def _kind(status: str, words: str) -> str:
    """hard, soft or policy for a failure, from RFC 3463's code first, then the words."""
    code = status.split(".") if status else ["", "", ""]
    klass, topic = code[0], tuple(code[1:])
    if topic[:1] == ("7",) or topic in (("2", "3"), ("3", "4")):
        return "policy"  # refused for what we sent (spam, DMARC, size): the sender's to fix
    if topic in (("2", "2"), ("4", "7")):
        return "soft"  # mailbox full; delivery time expired
    if klass == "5" and (topic[:1] == ("1",) or topic in (("2", "1"), ("4", "4"))):
        return "hard"  # no such user or domain, mailbox disabled, unroutable
    for pattern, kind in ((_POLICY, "policy"), (_FULL, "soft"), (_UNKNOWN, "hard")):
        if pattern.search(words[:4000]):
            return kind
    if klass == "4" or (not klass and _TEMPORARY.search(words[:4000])):
        return "soft"  # a temporary failure the server gave up on
    return "hard"


def _one_line(text: str) -> str:
    """Whitespace collapsed, and a multi-line SMTP reply's repeated "550-5.1.1" said once."""
    words = " ".join(text.split())
    lead = _LEADING_REPLY.match(words)
    if lead:
        code, status = lead.groups()
        again = re.compile(rf"(?<=\s){code}[ -]{re.escape(status)}(?=\s|$)")
        words = " ".join(f"{code} {status} {again.sub(' ', words[lead.end() :])}".split())
    return words[:500]


def _said(told: str) -> str:
    """The remote server's words in a notification: the line with its SMTP reply (and lines
    indented under it), else the line with a status code, else one naming the problem."""
    lines = told.splitlines()[:400]
    for i, line in enumerate(lines):
        reply = _REPLY_CODE.search(line[:2000])
        if reply:
            indent = len(line) - len(line.lstrip())
            said = [line[reply.start() :]]
            for following in lines[i + 1 : i + 20]:
                if not following.strip() or len(following) - len(following.lstrip()) <= indent:
                    break
                said.append(following)
            words = _one_line(" ".join(said))
            return words[:-1] if "returned '" in line and words.endswith("'") else words
    for pattern in (_STATUS, _FULL, _UNKNOWN, _POLICY):
        for line in lines:
            if pattern.search(line[:2000]):
                return _one_line(line)
    return ""


def _failed_address(msg: Message, told: str) -> str:
    """Exim's X-Failed-Recipients, else what flufl.bounce finds in the notification (first
    named first), else the first address in it that is not one of the message's own."""
    for address in _addresses(msg, "X-Failed-Recipients"):
        if _ADDRESS.fullmatch(address):
            return address
    lowered = told.lower()
    found = [a for a in _flufl(told) if _ADDRESS.fullmatch(a)]
    if found:
        return min(found, key=lambda a: (lowered.find(a) % (len(lowered) + 1), a))
    own = {a for name in ("From", "To", "Cc", "Reply-To", "Return-Path", "Delivered-To",
                          "X-Original-To") for a in _addresses(msg, name)}  # fmt: skip
    for match in _ADDRESS.finditer(told[:16_000]):
        address = match.group().lower().rstrip(".")
        if address not in own and not _DAEMON.match(address):
            return address
    return ""


def _flufl(told: str) -> list[str]:
    """flufl.bounce's detectors, run on the notification alone: some of their patterns are
    quadratic in a line's length, so lines are cut and the text is kept short."""
    probe = Message()
    probe["From"] = "MAILER-DAEMON@localhost"  # a detector (yale) fails on a message without
    probe.set_payload("\n".join(line[:500] for line in told[:16_000].splitlines()))
    try:
        temporary, permanent = all_failures(probe)
    except Exception:  # noqa: BLE001
        return []
    return sorted(a.decode("ascii", "replace").lower() for a in temporary | permanent)


def _original_id(msg: Message, parts: list[Message], rest: str, blocks: list[Message]) -> str:
    """The Message-ID of what bounced: from the returned message or headers, else a copy
    quoted in the text, else the report's X-Original-Message-ID (Gmail), else In-Reply-To
    (Exchange and Gmail point it at the message that bounced)."""
    returned = _returned(parts)
    if returned is not None and _message_id(_header(returned, "Message-ID")):
        return _message_id(_header(returned, "Message-ID"))
    quoted = _MESSAGE_ID_LINE.search(rest)
    if quoted:
        return quoted.group(1)
    for block in blocks[:1]:
        if _message_id(_header(block, "X-Original-Message-ID")):
            return _message_id(_header(block, "X-Original-Message-ID"))
    return _message_id(_header(msg, "In-Reply-To"))


# --- complaints -------------------------------------------------------------------------------


def complaint_of(msg: EmailMessage) -> Complaint | None:
    """The complaint an ARF feedback report carries, or None when the message is none."""
    try:
        return _complaint(msg)
    except Exception:  # noqa: BLE001
        return None


def _complaint(msg: Message) -> Complaint | None:
    parts = _own_parts(msg)
    report = next((p for p in parts if p.get_content_type() == "message/feedback-report"), None)
    if report is None:
        return None
    fields = (_blocks(report) or [Message()])[0]
    returned = _returned(parts) or Message()
    # Microsoft's reports often lack Original-Rcpt-To; the copy then names the recipient.
    address = (
        _clean_address(_header(fields, "Original-Rcpt-To"))
        or _clean_address(_header(returned, "X-HmXmrOriginalRecipient"))
        or next(iter(_addresses(returned, "To")), "")
    )
    return Complaint(
        address=address,
        feedback_type=_header(fields, "Feedback-Type").lower(),
        original_message_id=_message_id(_header(returned, "Message-ID")),
    )


# --- auto-replies -----------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[ -]?(?:reply|response)|autoreply|auto:"
    r"|out of (?:the )?office|ooo\b|away\b|on (?:leave|holiday|vacation)|vacation|holiday"
    r"|automatische antwort|abwesen|réponse automatique"
    r"|përgjigje automatike|pergjigje automatike|jashtë zyrës|jashte zyres|mungesë|mungese"
    r"|automatski odgovor|odsutan|odsutna|odsustvo|van kancelarije"
    r"|аутоматски одговор|одсутан|одсутна|одсуство|ван канцеларије)",
    re.I,
)
_NOT_AUTO_REPLIES = {
    "message/delivery-status",
    "message/feedback-report",
    "message/disposition-notification",  # a read receipt
    "text/calendar",  # a calendar answer
}
# Where an auto-reply starts quoting the message it answers.
_QUOTED = re.compile(
    r"^(?:-{2,}\s*original message|_{10,}\s*$|(?:from|nga|od|од):\s|(?:on|më|dana|am|le)\s"
    r".{0,200}(?:wrote|shkroi|napisa|написа|schrieb|écrit))",
    re.I | re.M,
)
# A month by its first three letters: English, Serbian (Latin and Cyrillic), Albanian.
_MONTHS = {
    stem: number
    for number, stems in enumerate(
        ("jan јан", "feb shk феб", "mar мар", "apr pri апр", "may maj мај", "jun qer јун",
         "jul kor јул", "aug avg gus авг", "sep sht сеп", "oct okt tet окт", "nov nën nen нов",
         "dec dhj дец"),
        start=1,
    )
    for stem in stems.split()
}  # fmt: skip
_MONTH = rf"(?:{'|'.join(_MONTHS)})[^\W\d_]{{0,9}}"
# "until Monday, December 7, 2026", "back on 07/12/2026", "deri më 7 dhjetor",
# "kthehem më 8 dhjetor", "do 7. decembra", "do 07.12.2026.", "до 7. децембра".
_AWAY = re.compile(
    r"(?<!\w)(?:until|till|through|back on|back|returning on|returning|return on|return"
    r"|deri|kthehem|rikthehem|do|vraćam se|vracam se|до|враћам се)\s+"
    r"(?:[^\W\d_]{2,15}\.?,?\s+){0,2}?"
    r"(?:(?P<d1>\d{1,2})[./](?P<m1>\d{1,2})(?:[./](?P<y1>\d{4}|\d{2})(?!\d))?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\.?\s*(?:of\s+)?(?P<m2>{_MONTH})\.?(?:,?\s+(?P<y2>\d{{4}}))?"
    rf"|(?P<m3>{_MONTH})\.?\s+(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y3>\d{{4}}))?)",
    re.I,
)


def auto_reply_of(msg: EmailMessage, text: str) -> AutoReply | None:
    """The auto-reply a message is, or None: a bounce, complaint, read receipt or calendar
    answer is none, nor is an Apple Mail unsubscription, nor what a person wrote."""
    try:
        return _auto_reply(msg, text)
    except Exception:  # noqa: BLE001
        return None


def _auto_reply(msg: Message, text: str) -> AutoReply | None:
    if msg.get_content_type() == "multipart/report" or _header(msg, "X-Apple-Unsubscribe"):
        return None
    if any(p.get_content_type() in _NOT_AUTO_REPLIES for p in _own_parts(msg)):
        return None
    if _bounce(msg) is not None or _complaint(msg) is not None:
        return None
    signal = _auto_signal(msg)
    if not signal:
        return None
    return AutoReply(_away_until(text, _header(msg, "Subject"), _sent_on(msg)), signal)


def _auto_signal(msg: Message) -> str:
    """What marks the message as automatic; Precedence: bulk and X-Auto-Response-Suppress
    ride on ordinary mail too (newsletters, Outlook), so they count only with the subject."""
    submitted = re.split(r"[\s;(]", _header(msg, "Auto-Submitted").lower(), maxsplit=1)[0]
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    if _header(msg, "X-Autoreply").lower() not in ("", "no"):
        return "X-Autoreply"
    if _header(msg, "X-Autorespond"):
        return "X-Autorespond"
    precedence = _header(msg, "Precedence").lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply"
    if not _AUTO_SUBJECT.match(_header(msg, "Subject")):
        return ""
    if precedence in ("bulk", "junk"):
        return f"Precedence: {precedence}"
    return "X-Auto-Response-Suppress" if _header(msg, "X-Auto-Response-Suppress") else "subject"


def _sent_on(msg: Message) -> date:
    try:
        return parsedate_to_datetime(_header(msg, "Date")).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return datetime.now(UTC).date()


def _away_until(text: str, subject: str, sent: date) -> date | None:
    """The first date the text (else the subject) gives after "until"/"back on"/"deri më"/
    "do"/"до"…, day first; without a year, the first such day on or after `sent`."""
    text = text[:_MAX_TEXT]
    quoted = _QUOTED.search(text)
    text = text[: quoted.start()] if quoted else text
    own = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    for source in (own, subject):
        for match in _AWAY.finditer(source):
            day = match["d1"] or match["d2"] or match["d3"]
            month_name = match["m2"] or match["m3"]
            month = int(match["m1"]) if match["m1"] else _MONTHS.get(month_name[:3].lower(), 0)
            found = _date(int(day), month, match["y1"] or match["y2"] or match["y3"], sent)
            if found is not None:
                return found
    return None


def _date(day: int, month: int, year: str | None, sent: date) -> date | None:
    try:
        if year:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        found = date(sent.year, month, day)
        return found if found >= sent else date(sent.year + 1, month, day)
    except ValueError:  # 31.02., 29 February of the next year, month 13 (or 0: not a month)
        return None
