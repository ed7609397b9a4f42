"""Every string a user or a journalist can read is marked, in the catalogues, and translated
into Albanian and Serbian; Serbian Cyrillic comes from the Latin catalogue."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from crm import i18n
from crm.i18n import N_

ROOT = Path(__file__).parents[1]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}|<[^>]+>")


def _extracted() -> set[str]:
    """Every msgid in the code of the three packages and in the templates."""
    found = set()
    for package in ("crm", "outreach", "web"):
        method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
        options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
        for _f, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), method_map, options, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(language: str) -> Catalog:
    with (ROOT / "crm/locale" / language / "LC_MESSAGES/messages.po").open("rb") as fh:
        return read_po(fh, locale=language)


@pytest.mark.parametrize("language", ["en", "sq", "sr_Latn"])
def test_catalogues_hold_every_marked_string(language: str) -> None:
    catalog = _catalog(language)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    missing = sorted(_extracted() - ids)
    assert not missing, f"{language}: run `make i18n`, then translate {missing[:5]}"


@pytest.mark.parametrize("language", ["sq", "sr_Latn"])
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    catalog = _catalog(language)
    problems = []
    for m in catalog:
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        if m.fuzzy or not all(s.strip() for s in strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = [sorted(PLACEHOLDER.findall(i)) for i in ids]
        for s in strings:
            if sorted(PLACEHOLDER.findall(s)) not in wanted:
                problems.append(f"placeholders differ: {ids[0]!r} → {s!r}")
    problems += [f"{msg.id!r}: {e}" for msg, errors in catalog.check() for e in errors]
    assert not problems, f"{language}: {len(problems)} problems, e.g. {problems[:5]}"


def test_serbian_plurals_have_three_forms_and_albanian_two() -> None:
    assert _catalog("sr_Latn").num_plurals == 3
    assert _catalog("sq").num_plurals == 2
    i18n.activate("sr-Latn")
    forms = [i18n.ngettext("%(num)s contact", "%(num)s contacts", n) for n in (1, 3, 5, 21)]
    assert len(set(forms[:3])) == 3 and forms[3] == forms[0]


def test_each_language_speaks_its_own_words_and_cyrillic_is_transliterated() -> None:
    said = {}
    for language in i18n.PAGE_LANGUAGES:
        i18n.activate(language)
        said[language] = i18n.gettext("Contacts")
    assert said["en"] == "Contacts"
    assert len(set(said.values())) == 4
    latin, cyrillic = said["sr-Latn"], said["sr-Cyrl"]
    assert cyrillic != latin and re.search("[\u0400-\u04ff]", cyrillic)
    i18n.activate("en")


def test_a_message_with_parameters_is_translated_then_filled() -> None:
    message = N_("Use at most %(n)s characters.", n=100)
    assert message == "Use at most 100 characters."  # a plain string to everyone else
    albanian = i18n.translate(message, "sq")
    assert "100" in albanian and albanian != message
    # Unknown text is shown as it is, never lost.
    assert i18n.translate("Server said: 550 no such user", "sq") == "Server said: 550 no such user"


def test_dates_and_numbers_as_each_language_writes_them() -> None:
    moment = datetime(2026, 3, 29, 12, 5, tzinfo=UTC)  # 14:05 in Prishtina, summer time
    assert i18n.format_datetime(moment, "en") == "29/03/2026 14:05"
    assert i18n.format_datetime(moment, "sq") == "29.03.2026 14:05"
    assert i18n.format_datetime(moment, "sr-Latn") == "29.03.2026. 14:05"
    assert i18n.format_date(date(2026, 11, 26), "sr-Cyrl") == "26.11.2026."
    assert i18n.format_number(12500, "en") == "12,500"
    assert i18n.format_number(12500, "sr-Latn") == "12.500"
    assert i18n.format_number(12500, "sq").replace("\u202f", " ").replace("\xa0", " ") == "12 500"
    assert "nëntor" in i18n.format_long_date(date(2026, 11, 26), "sq")
    assert "novembar" in i18n.format_long_date(date(2026, 11, 26), "sr-Latn")
    assert "новембар" in i18n.format_long_date(date(2026, 11, 26), "sr-Cyrl")
