"""One imported row: the values of a spreadsheet row (or a vCard) turned into a contact to
write, or a rejection naming the field and the reason.

Pure functions, no database: the import (crm/imports.py) calls them for every row, so they are
also the hot path of a 100,000-row import and avoid per-row model validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from crm.exports import FORMULA_START
from crm.i18n import N_
from crm.search import PartFolds, fold, normalise_email

# Most addresses are plain ASCII; those are checked with this pattern, the rest (and anything
# it refuses) by email-validator, which also gives the reason.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
# Domains email-validator refuses even when well-formed: those go to it for the reason.
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_SUFFIXES = tuple(f".{d}" for d in SPECIAL_USE_DOMAIN_NAMES)

LANGUAGE_WORDS: dict[str, str] = {
    **{w: "sq" for w in ("sq", "al", "alb", "shqip", "shqipe", "albanian", "albanski")},
    **{w: "en" for w in ("en", "eng", "english", "anglisht", "engleski")},
    **{w: "sr-Latn" for w in ("sr", "sr-latn", "srb", "serbian", "srpski", "serbisht")},
    **{w: "sr-Cyrl" for w in ("sr-cyrl", "srpski cirilica", "cirilica", "српски", "cyrillic")},
}
SALUTATION_WORDS: dict[str, str] = {
    **{w: "m" for w in ("m", "male", "man", "mr", "mr.", "z.", "zoti", "gospodin", "g.", "musko")},
    **{w: "f" for w in ("f", "female", "woman", "ms", "ms.", "mrs", "zonja", "znj.", "gospodja")},
    **{w: "f" for w in ("gda", "gđa", "zensko", "z")},
}
YES_WORDS = {"yes", "y", "true", "1", "x", "po", "da", "ja", "✓"}
SOCIAL_FIELDS = ("x", "linkedin", "facebook", "instagram", "mastodon")
SplitFn = Callable[[str], Sequence[str]]
LIMITS = {"given_name": 100, "family_name": 100, "city": 100, "region": 100, "title": 120}


class Rejected(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(slots=True)
class RowContact:
    """A contact as one row describes it, checked and normalised."""

    row_number: int
    given_name: str
    family_name: str
    emails: list[str] = field(default_factory=list)  # as written, valid, no duplicates
    normalised: list[str] = field(default_factory=list)  # the same, normalised
    phones: list[str] = field(default_factory=list)
    outlet: str = ""
    title: str = ""
    beats: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    preferred_language: str | None = None
    salutation: str | None = None
    city: str = ""
    region: str = ""
    notes: str = ""
    social: dict[str, str] = field(default_factory=dict)
    do_not_contact: bool = False
    # What crm.contacts stores as the sort key: the name folded, family name first. Also how
    # rows and contacts are compared by name.
    sort_key: str = ""
    # Set by the import: the contact this row was written to, and whether it updates one.
    contact_id: int | None = None
    update_only: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


def check_email(value: str) -> str:
    """The address if it is valid; Rejected with email-validator's reason if not."""
    if _PLAIN_EMAIL.fullmatch(value):
        domain = value.rsplit("@", 1)[1].lower()
        if domain not in _SPECIAL and not domain.endswith(_SPECIAL_SUFFIXES):
            return value
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise Rejected(
            "emails",
            N_(
                "“%(address)s” is not a valid email address: %(reason)s",
                address=value[:80],
                reason=str(exc),
            ),
        ) from None


def split_name(full: str) -> tuple[str, str]:
    """ "Krasniqi, Arben" → (Arben, Krasniqi); "Arben Krasniqi" → (Arben, Krasniqi)."""
    full = " ".join(full.split())
    if "," in full:
        family, _, given = full.partition(",")
        return given.strip(), family.strip()
    if " " in full:
        given, _, family = full.rpartition(" ")
        return given, family
    return full, ""


def _one(values: dict[str, list[str]], key: str) -> str:
    cells = values.get(key)
    if not cells:
        return ""
    if len(cells) == 1:
        return cells[0].strip()
    return " ".join(v.strip() for v in cells if v.strip())


def unprotect(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """Undo the apostrophe that exports put before a cell starting with = + - @ (so that
    spreadsheets do not run it), so that an exported file imports back as it was."""
    for key, cells in values.items():
        for v in cells:
            if v[:1] == "'":
                values[key] = [
                    v[1:] if v[:1] == "'" and v[1:2] in FORMULA_START else v for v in cells
                ]
                break
    return values


def language_code(word: str) -> str | None:
    """sq, en, sr-Latn or sr-Cyrl for the ways people write them; None for anything else."""
    if not word.strip():
        return None
    return LANGUAGE_WORDS.get(word.strip().lower()) or LANGUAGE_WORDS.get(fold(word))


def build(
    row_number: int,
    values: dict[str, list[str]],
    split: SplitFn,
    folds: PartFolds | None = None,
) -> RowContact:
    """The contact a row describes. `values` maps import fields to the row's cells for them
    (several for multi-valued fields); `split` splits one cell into several values; `folds`
    folds the name (an import's names repeat: each is folded once)."""
    values = unprotect(values)
    given, family = _one(values, "given_name"), _one(values, "family_name")
    if not given and not family:
        given, family = split_name(_one(values, "full_name"))
    if not given and family:
        given, family = family, ""
    if not given:
        raise Rejected("given_name", N_("The row has no name."))
    city, region, title = _one(values, "city"), _one(values, "region"), _one(values, "title")
    for key, text in (
        ("given_name", given),
        ("family_name", family),
        ("city", city),
        ("region", region),
        ("title", title),
    ):
        if len(text) > LIMITS[key]:
            raise Rejected(key, N_("Longer than %(n)s characters.", n=LIMITS[key]))
    emails: list[str] = []
    normalised: list[str] = []
    for cell in values.get("emails", ()):
        for address in split(cell):
            address = check_email(address.strip().strip("<>").removeprefix("mailto:"))
            norm = normalise_email(address)
            if norm not in normalised:
                emails.append(address)
                normalised.append(norm)
    if len(emails) > 10:
        raise Rejected("emails", N_("More than 10 email addresses."))
    phones: list[str] = []
    for cell in values.get("phones", ()):
        for phone in split(cell):
            phone = phone.strip()
            if len(phone) > 40:
                raise Rejected(
                    "phones", N_("“%(phone)s…” is too long for a phone number.", phone=phone[:40])
                )
            if len(phone) >= 3 and phone not in phones:
                phones.append(phone)
    outlets = [o for cell in values.get("outlet", ()) for o in split(cell) if o.strip()]
    outlet = outlets[0].strip()[:200] if outlets else ""
    # Most rows have no beats, languages or notes: those lines cost nothing then.
    cells = values.get("beats")
    beats = _unique(b.strip()[:120] for c in cells for b in split(c)) if cells else []
    cells = values.get("tags")
    tags = _unique(t.strip().lower() for c in cells for t in split(c)) if cells else []
    if any(len(t) > 60 for t in tags):
        raise Rejected("tags", N_("A tag is longer than 60 characters."))
    # Languages Beatbook does not write in (Outlook's "French", say) are left out, not refused.
    languages: list[str] = []
    if cells := values.get("languages"):
        words = [w for c in cells for w in split(c) if w.strip()]
        languages = _unique(code for w in words if (code := language_code(w)))
    preferred = language_code(_one(values, "preferred_language")) or None
    salutation = None
    if word := _one(values, "salutation"):
        word = fold(word)
        salutation = SALUTATION_WORDS.get(word, SALUTATION_WORDS.get(word.rstrip("."), "neutral"))
    notes = ""
    if cells := values.get("notes"):
        notes = "\n".join(v.strip() for v in cells if v.strip())[:20_000]
    social = {key: handle[:300] for key in SOCIAL_FIELDS if (handle := _one(values, key))}
    dnc = _one(values, "do_not_contact")
    sort_key = (
        folds.fold(family or given, given)
        if folds is not None
        else fold(f"{family or given} {given}")
    )
    return RowContact(
        row_number, given, family, emails, normalised, phones, outlet, title, beats, tags,
        languages, preferred, salutation, city, region, notes, social,
        do_not_contact=bool(dnc) and fold(dnc) in YES_WORDS, sort_key=sort_key[:200],
    )  # fmt: skip


def _unique(items: Iterable[str]) -> list[str]:
    return [x for x in dict.fromkeys(items) if x]
