"""Every UI string is marked for translation and present in the catalogues."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from web import i18n

ROOT = Path(__file__).parents[1]


def _extracted() -> set[str]:
    method_map = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options,
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_catalogues_hold_every_marked_string() -> None:
    for language in ("en", "sq", "sr_Latn"):
        with (ROOT / "web/locale" / language / "LC_MESSAGES/messages.po").open("rb") as fh:
            catalog = read_po(fh)
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        missing = _extracted() - ids
        assert not missing, f"{language}: run pybabel extract/update for {sorted(missing)[:5]}"


def test_every_ui_language_loads() -> None:
    for language in i18n.UI_LANGUAGES:
        i18n.activate(language)
        assert i18n.gettext("Contacts")
    i18n.activate("en")
    assert i18n.ngettext("%(num)s contact", "%(num)s contacts", 2) == "%(num)s contacts"
