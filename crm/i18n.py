"""Translations: the gettext catalogues (Babel), the language of the moment, and messages
that keep their parameters until someone shows them.

Every layer needs them: the interface (web), the mail and pages journalists read (outreach),
and the messages of domain errors (crm). The catalogues live in `crm/locale`; `make i18n`
extracts the marked strings of all three packages. Serbian Cyrillic has no catalogue of its
own: it is the Serbian Latin one, transliterated letter for letter when first loaded.
"""

from __future__ import annotations

import io
import re
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from crm import serbian

LOCALE_DIR = Path(__file__).parent / "locale"
# Languages a user can work in; journalists' pages also speak Serbian in Cyrillic.
UI_LANGUAGES = {"en": "English", "sq": "Shqip", "sr-Latn": "Srpski"}
PAGE_LANGUAGES = {**UI_LANGUAGES, "sr-Cyrl": "Српски"}
LOCAL_TZ = ZoneInfo("Europe/Belgrade")
_BABEL_LOCALE = {"en": "en_GB", "sq": "sq_XK", "sr-Latn": "sr_Latn_RS", "sr-Cyrl": "sr_Cyrl_RS"}
_current: ContextVar[str] = ContextVar("language", default="en")


def _catalog(language: str) -> Catalog | None:
    po = LOCALE_DIR / language.replace("-", "_") / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return None
    with po.open("rb") as fh:
        return read_po(fh, locale=language.replace("-", "_"))


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of `language` (en, sq, sr-Latn, sr-Cyrl); English for anything else."""
    if language not in PAGE_LANGUAGES:
        language = "en"
    catalog = _catalog("sr-Latn" if language == "sr-Cyrl" else language)
    if catalog is None:
        return NullTranslations()
    if language == "sr-Cyrl":
        for message in catalog:
            if message.id and isinstance(message.string, str):
                message.string = serbian.to_cyrillic(message.string)
            elif message.id:
                message.string = tuple(serbian.to_cyrillic(s) for s in message.string)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def activate(language: str) -> None:
    """Use `language` for what this request or task shows from now on."""
    _current.set(language if language in PAGE_LANGUAGES else "en")


def current() -> str:
    return _current.get()


def N_(message: str, **params: Any) -> str:
    """Marks a message for the catalogue. With parameters, the message keeps them apart
    (`Message`), so that it is translated first and filled in after, when shown."""
    return Message(message, params) if params else message


class Message(str):
    """An English message that remembers its catalogue id and parameters.

    It is a plain string to everything that does not care (logs, the API, tests), and
    `translate` shows it in the reader's language: `N_("Use at most %(n)s characters.", n=5)`.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any]) -> Message:
        made = super().__new__(cls, msgid % params)
        made.msgid, made.params = msgid, params
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.msgid, self.params))


def translate(message: object, language: str | None = None) -> str:
    """`message` in `language` (default: the active one). A `Message` is translated, then
    filled. A plain string is looked up as it is; failing that, it may be a message that
    was filled in English and stored (an import row's reason, a timeline line, a delivery's
    error), which is recognised by its fixed parts. Anything else is shown unchanged."""
    t = translations(language or current())
    if isinstance(message, Message):
        return t.gettext(message.msgid) % _params(message.params, language)
    if not isinstance(message, str):
        return str(message)
    if not message or len(message) > 2000:
        return message
    found = t.gettext(message)
    if found != message or t is translations("en"):
        return found
    for prefix, suffix, msgid, pattern in _filled_patterns():
        if message.startswith(prefix) and message.endswith(suffix):
            match = pattern.fullmatch(message)
            if match:
                return t.gettext(msgid) % _params(match.groupdict(), language)
    return message


# Parameters that hold our own words (a reason, a state, an action) rather than the user's
# (a campaign's name, a file name): only these, and marked messages, are translated.
_WORD_PARAMS = frozenset({"reason", "status", "action"})


def _params(params: dict[str, Any], language: str | None) -> dict[str, Any]:
    return {
        k: translate(v, language) if isinstance(v, Message) or k in _WORD_PARAMS else v
        for k, v in params.items()
    }


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@cache
def _filled_patterns() -> list[tuple[str, str, str, re.Pattern[str]]]:
    """(fixed start, fixed end, msgid, pattern) of each message with parameters whose fixed
    parts are distinctive enough to recognise it filled in; the most specific first, so that
    "Imported from a.csv, row 5" is not taken for "Imported from %(file)s"."""
    catalog = _catalog("en")
    patterns = []
    for m in catalog or []:
        if not isinstance(m.id, str) or "%(" not in m.id:
            continue
        parts = _PLACEHOLDER.split(m.id)  # text, name, text, name, …, text
        names = parts[1::2]
        fixed = parts[::2]
        if len(set(names)) != len(names) or sum(len(f.strip()) for f in fixed) < 8:
            continue
        regex = "".join(
            re.escape(part.replace("%%", "%")) if i % 2 == 0 else f"(?P<{part}>.+?)"
            for i, part in enumerate(parts)
        )
        patterns.append((fixed[0].replace("%%", "%"), fixed[-1].replace("%%", "%"), m.id,
                         re.compile(regex, re.DOTALL)))  # fmt: skip
    patterns.sort(key=lambda p: -len(_PLACEHOLDER.sub("", p[2])))
    return patterns


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


# --- dates and numbers as the reader writes them ------------------------------------------


def locale_of(language: str | None = None) -> Locale:
    return Locale.parse(_BABEL_LOCALE.get(language or current(), "en_GB"))


def format_datetime(value: datetime | None, language: str | None = None) -> str:
    """26.11.2026 14:30 in Kosovo's time zone, as the language writes it."""
    if value is None:
        return ""
    try:
        local = value.astimezone(LOCAL_TZ)
    except (OverflowError, ValueError):
        local = value
    return f"{format_date(local.date(), language)} {local:%H:%M}"


# Day first everywhere, as each language punctuates it: Serbian ends a date with a dot.
_DATE_PATTERN = {
    "en": "{:02d}/{:02d}/{:04d}",
    "sq": "{:02d}.{:02d}.{:04d}",
    "sr-Latn": "{:02d}.{:02d}.{:04d}.",
    "sr-Cyrl": "{:02d}.{:02d}.{:04d}.",
}


def format_date(value: date | datetime | None, language: str | None = None) -> str:
    """26/11/2026, 26.11.2026 or 26.11.2026. (a datetime in Kosovo's time zone)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        try:
            value = value.astimezone(LOCAL_TZ).date()
        except (OverflowError, ValueError):
            value = value.date()
    pattern = _DATE_PATTERN.get(language or current(), _DATE_PATTERN["en"])
    return pattern.format(value.day, value.month, value.year)


def format_long_date(value: date | datetime, language: str | None = None) -> str:
    """ "Thursday, 26 November 2026" / "e enjte, 26 nëntor 2026" / "četvrtak, 26. novembar 2026"."""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ)
    return dates.format_date(value, "full", locale=locale_of(language))


def format_number(value: int | float, language: str | None = None) -> str:
    """12,500 in English, 12.500 in Serbian, 12 500 in Albanian."""
    return numbers.format_decimal(value, locale=locale_of(language))
