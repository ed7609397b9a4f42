"""Search keys that ignore case, diacritics and script.

`cosic` finds `Ćosić`, `kelmendi` finds `Këlmendi`, `djordjevic` and `dordevic` find
`Đorđević`, and Cyrillic finds Latin and back: everything is folded to plain ASCII Latin
before it is stored or compared.
"""

from __future__ import annotations

import re
import unicodedata

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "č", "џ": "dž", "ш": "š",
}  # fmt: skip
_CYRILLIC_TABLE = str.maketrans(_CYRILLIC)
_NON_WORD = re.compile(r"[^a-z0-9@.+_-]+")


def _strip_marks(text: str) -> str:
    """Decomposed (NFKD), without the combining marks: ë → e, ç → c, š → s."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


# The same, precomputed for each Latin letter with diacritics. NFKD decomposes letter by letter,
# so translating with this table gives what `_strip_marks` gives, several times faster; text it
# leaves non-ASCII (other scripts, loose combining marks) still goes through `_strip_marks`.
_LATIN_TABLE = str.maketrans(
    {chr(c): _strip_marks(chr(c)) for c in (*range(0xA0, 0x250), *range(0x1E00, 0x1F00))}
)


def _fold(text: str, dj: str) -> str:
    text = text.lower().translate(_CYRILLIC_TABLE).replace("đ", dj)
    if not text.isascii():
        text = text.translate(_LATIN_TABLE)
        if not text.isascii():
            text = _strip_marks(text)
    return _NON_WORD.sub(" ", text).strip()


def fold(text: str) -> str:
    """The canonical folded form: lower-case ASCII Latin, `đ` written `dj`."""
    return _fold(text, "dj")


def search_key(*parts: str | None) -> str:
    """What is stored for searching: the folded text, and its `đ` → `d` spelling if different."""
    text = " ".join(p for p in parts if p)
    primary = fold(text)
    lowered = text.lower()
    if "đ" not in lowered and "ђ" not in lowered:  # the only letters the spellings differ on
        return primary
    variant = _fold(text, "d")
    return primary if variant == primary else f"{primary} | {variant}"


class PartFolds:
    """`fold` and `search_key` for many rows whose parts repeat (an import's given names,
    family names, cities, outlets): each distinct part is folded once, and the row's key is
    the parts' folds joined, which is what folding the parts joined gives.

    At most `limit` parts are kept; addresses (parts with an @) are folded but not kept, as
    each is on one row only."""

    def __init__(self, limit: int = 20_000) -> None:
        self._limit = limit
        self._parts: dict[str, tuple[str, str]] = {}

    def part(self, text: str) -> tuple[str, str]:
        """The text folded, and its `đ` → `d` spelling (the same string when there is no đ)."""
        found = self._parts.get(text)
        if found is None:
            primary = fold(text)
            lowered = text.lower()
            variant = _fold(text, "d") if "đ" in lowered or "ђ" in lowered else primary
            found = (primary, variant)
            if "@" not in text and len(self._parts) < self._limit:
                self._parts[text] = found
        return found

    def fold(self, *parts: str | None) -> str:
        """What `fold` gives for the non-empty parts joined by spaces."""
        return " ".join([f for p in parts if p and (f := self.part(p)[0])])

    def search_key(self, *parts: str | None) -> str:
        """What `search_key(*parts)` gives."""
        folded = [self.part(p) for p in parts if p]
        primary = " ".join([f for f, _ in folded if f])
        variant = " ".join([v for _, v in folded if v])
        return primary if variant == primary else f"{primary} | {variant}"


def query_terms(query: str | None) -> list[str]:
    """The folded words of a search box; every one must match."""
    if not query:
        return []
    return [t for t in fold(query).split() if t][:8]


def like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def normalise_email(address: str) -> str:
    """Trimmed, NFC, lower-cased: how two addresses are compared."""
    return unicodedata.normalize("NFC", address.strip()).lower()
