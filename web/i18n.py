"""UI translations: Babel catalogues compiled in memory at start-up, chosen per request."""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
UI_LANGUAGES = {"en": "English", "sq": "Shqip", "sr-Latn": "Srpski"}
_current: ContextVar[NullTranslations | None] = ContextVar("translations", default=None)


def _locale_dir_name(language: str) -> str:
    return language.replace("-", "_")


@cache
def translations(language: str) -> NullTranslations:
    po = LOCALE_DIR / _locale_dir_name(language) / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=_locale_dir_name(language))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def activate(language: str) -> None:
    _current.set(translations(language if language in UI_LANGUAGES else "en"))


def _active() -> NullTranslations:
    return _current.get() or translations("en")


def N_(message: str) -> str:
    """Marks a message for the catalogue; whoever shows it translates it then."""
    return message


def gettext(message: str) -> str:
    return _active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active().ngettext(singular, plural, n)
