"""vCards in and out: phones' and address books' exports read into import records, and
contacts written as vCard 3.0 or 4.0.

Reading splits the file into cards first, so that one broken card becomes one rejected row
of the import report instead of stopping the file; vobject then reads each card (unfolding,
parameters, quoted-printable with its CHARSET, as old Android phones write). Writing is done
here, line by line, because vobject only knows vCard 3.0 and cannot stream.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from charset_normalizer import from_bytes
from vobject.base import ParseError, getLogicalLines, textLineToContentLine

from crm.i18n import N_

VERSIONS = ("3.0", "4.0")
SOCIAL_KEYS = ("x", "linkedin", "facebook", "instagram", "mastodon")
# What address books call each network (X-SOCIALPROFILE TYPE, IMPP service, X-ABLabel).
_SERVICES = {
    "twitter": "x", "x": "x", "x-twitter": "x", "linkedin": "linkedin",
    "facebook": "facebook", "fb": "facebook", "instagram": "instagram", "mastodon": "mastodon",
}  # fmt: skip
_HOSTS = {
    "twitter.com": "x", "x.com": "x", "linkedin.com": "linkedin", "facebook.com": "facebook",
    "fb.com": "facebook", "instagram.com": "instagram",
}  # fmt: skip
# The service name each social network is written with (Apple's names).
_EXPORT_SERVICES = {"x": "twitter", "linkedin": "linkedin", "facebook": "facebook",
                    "instagram": "instagram", "mastodon": "mastodon"}  # fmt: skip
DO_NOT_CONTACT_PROPERTY = "X-BEATBOOK-DO-NOT-CONTACT"
DO_NOT_CONTACT_NOTE = "Do not contact."
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LABEL = re.compile(r"^_\$!<(.*)>!\$_$")  # Apple's built-in labels: _$!<HomePage>!$_


class UnreadableCards(Exception):
    """The file is not a vCard file at all; the message says why, in words for the user."""


@dataclass
class ContactCard:
    """One contact as a vCard carries it."""

    given_name: str
    family_name: str = ""
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    outlet: str = ""  # ORG: the current outlet
    title: str = ""  # TITLE at that outlet
    city: str = ""
    region: str = ""
    notes: str = ""
    social: dict[str, str] = field(default_factory=dict)  # keys of SOCIAL_KEYS
    categories: list[str] = field(default_factory=list)  # tags
    do_not_contact: bool = False
    uid: str = ""  # stable across exports, so an address book updates instead of duplicating


# --- reading ---------------------------------------------------------------------------------


def parse_vcards(data: bytes) -> Iterator[tuple[int, dict[str, list[str]]]]:
    """(card number from 1, record) for each card of `data`, in the import's field names.

    Raises UnreadableCards at once when `data` holds no vCard; a single card that cannot be
    read gives `{"_error": [reason]}` in place of its record."""
    text = _decode(data)
    if not re.search(r"^[ \t]*BEGIN[ \t]*:[ \t]*VCARD[ \t]*\r?$", text, re.I | re.M):
        raise UnreadableCards(N_("This file holds no vCard: no line says BEGIN:VCARD."))
    return _records(text)


def _decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM), UTF-16 with BOM, or a detected charset."""
    if not data.strip():
        raise UnreadableCards(N_("The file is empty."))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableCards(
                N_("This file is not a vCard file: it cannot be read as text.")
            ) from None
    if b"\x00" in data:
        raise UnreadableCards(N_("This file is not a vCard file: it holds binary data."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise UnreadableCards(N_("This file is not a vCard file: it cannot be read as text."))
    return str(best)


def _split_cards(text: str) -> Iterator[tuple[int, str | None]]:
    """(line number of BEGIN, the card's text) for each card; None for a card never closed."""
    current: list[str] | None = None
    start = 0
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        head = line.strip().replace(" ", "").upper()
        if head == "BEGIN:VCARD":
            if current is not None:
                yield start, None
            current, start = [line.strip()], number
        elif current is None:
            continue
        elif head == "END:VCARD":
            current.append(line.strip())
            yield start, "\r\n".join(current) + "\r\n"
            current = None
        else:
            current.append(line)
    if current is not None:
        yield start, None


def _records(text: str) -> Iterator[tuple[int, dict[str, list[str]]]]:
    for number, (start, card) in enumerate(_split_cards(text), start=1):
        if card is None:
            reason = N_(
                "The card that starts on line %(line)s is cut off: it has no END:VCARD.",
                line=start,
            )
            yield number, {"_error": [reason]}
            continue
        try:
            yield number, _record(_props(card, start))
        except Exception as exc:  # vobject raises TypeError too, on odd parameters
            reason = N_("This card could not be read: %(reason)s", reason=_reason(exc))
            yield number, {"_error": [reason]}


def _reason(exc: Exception) -> str:
    if isinstance(exc, ParseError) and exc.lineNumber:
        return N_("line %(line)s of the file is not a vCard property.", line=exc.lineNumber)
    if isinstance(exc, LookupError):
        return N_("it names a character set that does not exist.")
    if isinstance(exc, UnicodeDecodeError):
        return N_("its text is not in the character set it names.")
    message = str(exc).strip().replace("\r", " ").replace("\n", " ")
    return (message or type(exc).__name__)[:200]


@dataclass
class _Prop:
    name: str
    value: str
    params: dict[str, list[str]]
    types: set[str]
    group: str

    @property
    def preferred(self) -> bool:
        return "PREF" in self.types or "PREF" in self.params


def _props(card: str, start: int) -> list[_Prop]:
    """The card's properties with their values still escaped as written.

    vobject unfolds the lines and decodes quoted-printable in the declared CHARSET; its
    value decoding is skipped, since it would cut a 2.1 card's NOTE at its first comma."""
    found = []
    for text, number in getLogicalLines(io.StringIO(card), allowQP=True):
        line = textLineToContentLine(text, start + number - 1)
        name = line.name.upper()
        if name in ("BEGIN", "END", "VERSION"):
            continue
        params = {k.upper(): v for k, v in line.params.items()}
        types = {t.upper() for v in params.get("TYPE", []) for t in v.split(",")}
        types |= {p.upper() for p in line.singletonparams}  # vCard 2.1: TEL;CELL;PREF:
        found.append(_Prop(name, str(line.value), params, types, (line.group or "").lower()))
    return found


def _record(props: list[_Prop]) -> dict[str, list[str]]:
    """What one card says, in the import's field names."""
    labels = {p.group: _label(p.value) for p in props if p.name == "X-ABLABEL" and p.group}
    record: dict[str, list[str]] = {}

    def add(key: str, value: str) -> None:
        value = value.strip()
        if value and value not in record.setdefault(key, []):
            record[key].append(value)

    by_preference = sorted(props, key=lambda p: not p.preferred)
    for p in by_preference:
        if p.name == "EMAIL":
            add("emails", _unescape(p.value).removeprefix("mailto:"))
        elif p.name == "TEL":
            add("phones", _unescape(p.value).removeprefix("tel:"))
    for p in props:
        _read_property(p, labels, record, add)
    if "title" not in record and "_role" in record:
        record["title"] = record["_role"]
    record.pop("_role", None)
    if DO_NOT_CONTACT_PROPERTY in {p.name for p in props}:
        record["do_not_contact"] = ["yes"]
        record["notes"] = [n for n in record.get("notes", []) if n != DO_NOT_CONTACT_NOTE]
        record["notes"] = [n.removeprefix(DO_NOT_CONTACT_NOTE + "\n") for n in record["notes"]]
    return {k: v for k, v in record.items() if v}


def _read_property(
    p: _Prop, labels: dict[str, str], record: dict[str, list[str]], add: Callable[[str, str], None]
) -> None:
    if p.name == "FN":
        add("full_name", _unescape(p.value))
    elif p.name == "N" and "given_name" not in record and "family_name" not in record:
        parts = [" ".join(_split(part, ",")) for part in _split(p.value, ";")] + [""] * 5
        add("family_name", parts[0])
        add("given_name", " ".join(x for x in parts[1:3] if x))
        add("salutation", parts[3])
    elif p.name == "ORG" and "outlet" not in record:
        add("outlet", _split(p.value, ";")[0])
    elif p.name == "TITLE":
        add("title", _unescape(p.value))
    elif p.name == "ROLE":
        add("_role", _unescape(p.value))
    elif p.name == "NOTE":
        add("notes", _unescape(p.value))
    elif p.name == "ADR" and "city" not in record and "region" not in record:
        parts = _split(p.value, ";") + [""] * 7
        add("city", " ".join(_split(parts[3], ",")))
        add("region", " ".join(_split(parts[4], ",")))
    elif p.name == "CATEGORIES":
        for tag in _split(p.value, ","):
            add("tags", tag)
    elif p.name == "LANG":
        add("languages", _language(_unescape(p.value)))
    else:
        key, handle = _social(p, labels.get(p.group, ""))
        if key and key not in record:
            add(key, handle)


def _label(value: str) -> str:
    text = _unescape(value)
    match = _LABEL.match(text)
    return (match.group(1) if match else text).strip().lower()


def _language(tag: str) -> str:
    """LANG:sq, LANG:sr-Cyrl…: the languages Beatbook knows, anything else dropped."""
    parts = tag.strip().lower().split("-")
    if parts[0] in ("sq", "en"):
        return parts[0]
    if parts[0] == "sr":
        return "sr-Cyrl" if "cyrl" in parts else "sr-Latn"
    return ""


def _social(p: _Prop, label: str) -> tuple[str, str]:
    """(social key, handle or URL) for X-SOCIALPROFILE, SOCIALPROFILE, IMPP, URL, X-TWITTER…"""
    value = _unescape(p.value).strip()
    if p.name in ("X-SOCIALPROFILE", "SOCIALPROFILE", "IMPP"):
        names = [t.lower() for t in p.types] + [
            v.lower() for k in ("SERVICE-TYPE", "X-SERVICE-TYPE") for v in p.params.get(k, [])
        ]
        names.append(value.split(":", 1)[0].lower() if ":" in value else "")
        key = next((_SERVICES[n] for n in names if n in _SERVICES), "") or _from_url(value)
        user = p.params.get("X-USER", [""])[0]
        if user and not value.lower().startswith(("http://", "https://")):
            return key, user
        return key, re.sub(r"^(x-apple|twitter|x|linkedin|facebook|instagram):", "", value)
    if p.name == "URL":
        return _SERVICES.get(label, "") or _from_url(value), value
    if p.name.startswith("X-") and p.name[2:].lower() in _SERVICES:
        return _SERVICES[p.name[2:].lower()], value
    return "", ""


def _from_url(value: str) -> str:
    try:
        parts = urlsplit(value if "//" in value else "")
    except ValueError:
        return ""
    host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
    if host in _HOSTS:
        return _HOSTS[host]
    if host and parts.path.startswith("/@"):  # Mastodon profiles live on many servers
        return "mastodon"
    return ""


def _split(value: str, separator: str) -> list[str]:
    """Split on unescaped `separator`, then unescape each part."""
    parts, current, escaped = [], [], False
    for ch in value:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            parts.append(_unescape("".join(current)))
            current = []
        else:
            current.append(ch)
    parts.append(_unescape("".join(current)))
    return [p.strip() for p in parts]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value, flags=re.S)


# --- writing ---------------------------------------------------------------------------------


def export_vcards(cards: Iterable[ContactCard], version: str = "4.0") -> Iterator[str]:
    """Each card as vCard text: CRLF line ends, lines folded at 75 octets, values escaped."""
    if version not in VERSIONS:
        raise ValueError(f"vCard version must be one of {', '.join(VERSIONS)}")
    for card in cards:
        yield "".join(_fold(line) for line in _card_lines(card, version))


def _card_lines(card: ContactCard, version: str) -> Iterator[str]:
    v4 = version == "4.0"
    full_name = f"{card.given_name} {card.family_name}".strip()
    yield "BEGIN:VCARD"
    yield f"VERSION:{version}"
    yield "PRODID:-//Beatbook//Beatbook//EN"
    if v4:
        yield "KIND:individual"
    if card.uid:
        yield f"UID:{_escape(card.uid)}"
    yield f"N:{_escape(card.family_name)};{_escape(card.given_name)};;;"
    yield f"FN:{_escape(full_name or card.outlet or '-')}"
    for i, email in enumerate(card.emails):
        if v4:
            yield f"EMAIL{';PREF=1' if i == 0 else ''}:{_escape(email)}"
        else:
            yield f"EMAIL;TYPE=INTERNET{',PREF' if i == 0 else ''}:{_escape(email)}"
    for i, phone in enumerate(card.phones):
        if v4:
            yield f"TEL;TYPE=voice{';PREF=1' if i == 0 else ''}:{_escape(phone)}"
        else:
            yield f"TEL;TYPE=VOICE{',PREF' if i == 0 else ''}:{_escape(phone)}"
    if card.outlet:
        yield f"ORG:{_escape(card.outlet)}"
    if card.title:
        yield f"TITLE:{_escape(card.title)}"
    if card.city or card.region:
        kind = "work" if v4 else "WORK"
        yield f"ADR;TYPE={kind}:;;;{_escape(card.city)};{_escape(card.region)};;"
    for key in SOCIAL_KEYS:
        if card.social.get(key):
            service = _EXPORT_SERVICES[key]
            yield f"X-SOCIALPROFILE;TYPE={service}:{_escape(card.social[key])}"
    if card.categories:
        yield "CATEGORIES:" + ",".join(_escape(c) for c in card.categories)
    notes = card.notes.strip()
    if card.do_not_contact:
        yield f"{DO_NOT_CONTACT_PROPERTY}:TRUE"
        notes = f"{DO_NOT_CONTACT_NOTE}\n{notes}" if notes else DO_NOT_CONTACT_NOTE
    if notes:
        yield f"NOTE:{_escape(notes)}"
    yield "END:VCARD"


def _escape(value: str) -> str:
    value = _CONTROL.sub("", value)
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return _LINE_BREAK.sub(r"\\n", value)


def _fold(line: str) -> str:
    """The line with CRLF, folded so no physical line passes 75 octets (RFC 6350 3.2),
    never inside a UTF-8 character."""
    if len(line.encode()) <= 75:
        return line + "\r\n"
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for ch in line:
        width = len(ch.encode())
        if size + width > 75:
            pieces.append("".join(current))
            current, size = [" "], 1
        current.append(ch)
        size += width
    pieces.append("".join(current))
    return "\r\n".join(pieces) + "\r\n"
