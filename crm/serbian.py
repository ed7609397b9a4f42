"""Serbian, the parts a mail merge needs: the vocative of a given name, and the two scripts.

Serbian is written in Latin and in Cyrillic, letter for letter, so a text turns into the other
script mechanically. What must not turn: merge tags, placeholders, markup, addresses and links,
and foreign words (anything holding q, w, x or y: "Online", "YouTube"). The letters map one to
one except the Latin digraphs lj, nj and dž, which are one Cyrillic letter each.

(cyrtranslit, the usual library, joins "Lj" but not "LJ", so headlines in capitals come out
wrong, and it knows nothing of tags or links; the mapping itself is thirty letters.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_CYRILLIC = "абвгдђежзијклљмнњопрстћуфхцчџш"
_LATIN = ["a", "b", "v", "g", "d", "đ", "e", "ž", "z", "i", "j", "k", "l", "lj", "m", "n", "nj",
          "o", "p", "r", "s", "t", "ć", "u", "f", "h", "c", "č", "dž", "š"]  # fmt: skip
_TO_LATIN = dict(zip(_CYRILLIC, _LATIN, strict=True))
_TO_LATIN |= {c.upper(): latin.capitalize() for c, latin in _TO_LATIN.items()}
_TO_CYRILLIC = {latin: c for c, latin in _TO_LATIN.items()}
# The upper-case digraphs of headlines ("LJUDSKA PRAVA") and the odd "nJ" typed by hand.
_TO_CYRILLIC |= {"LJ": "Љ", "NJ": "Њ", "DŽ": "Џ", "lJ": "љ", "nJ": "њ", "dŽ": "џ"}

# Kept as they are: Jinja tags, %(name)s and {name} placeholders, HTML tags and entities,
# Markdown link targets, URLs, email addresses, domains, @handles, words with letters Serbian
# does not have, and names the Serbian press writes in Latin in Cyrillic text too.
_BRANDS = "Beatbook JSON CSV PDF vCard SMTP DKIM HTML URL API Excel Online Google Gmail Outlook"
_BRANDS += " Facebook Instagram LinkedIn Mastodon Telegram Viber TikTok"
_KEEP = re.compile(
    r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|%\(\w+\)[sd]|\{\w*\}|</?[A-Za-z][^<>]*>|&#?\w+;"
    r"|\]\([^)]*\)|(?:https?|mailto):[^\s<>\")]+|www\.[^\s<>\")]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b(?:[\w-]+\.)+[a-zA-Z]{2,}\b|@\w+|\w*[qwxyQWXY]\w*"
    rf"|\b(?:{'|'.join(_BRANDS.split())})\b",
    re.DOTALL,
)
_LATIN_LETTER = re.compile(r"[LlNn][jJ]|[Dd][žŽ]|[a-zA-ZčćđšžČĆĐŠŽ]")
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")


def _outside_kept(text: str, convert: Callable[[str], str]) -> str:
    out, last = [], 0
    for kept in _KEEP.finditer(text):
        out.append(convert(text[last : kept.start()]))
        out.append(kept.group())
        last = kept.end()
    out.append(convert(text[last:]))
    return "".join(out)


def _cyrillic(part: str) -> str:
    return _LATIN_LETTER.sub(lambda m: _TO_CYRILLIC.get(m.group(), m.group()), part)


def _latin(part: str) -> str:
    def letter(m: re.Match[str]) -> str:
        c = m.group()
        latin = _TO_LATIN.get(c, c)
        if len(latin) == 2 and c.isupper():
            # Љ in "ЉУДСКА" is LJ; in "Љубица" it is Lj.
            following = part[m.end() : m.end() + 1]
            preceding = part[m.start() - 1 : m.start()]
            if following.isupper() or (not following.isalpha() and preceding.isupper()):
                return latin.upper()
        return latin

    return _CYRILLIC_LETTER.sub(letter, part)


def to_cyrillic(text: str) -> str:
    """Serbian Latin text in Cyrillic; tags, links, addresses and foreign words untouched."""
    return _outside_kept(text, _cyrillic) if text else text


def to_latin(text: str) -> str:
    """Serbian Cyrillic text in Latin; tags, links and addresses untouched."""
    return _outside_kept(text, _latin) if text else text


def to_script(text: str, language: str) -> str:
    """`text` in the script of `language` (sr-Latn or sr-Cyrl); other languages unchanged."""
    if language == "sr-Cyrl":
        return to_cyrillic(text)
    if language == "sr-Latn":
        return to_latin(text)
    return text


# --- the vocative of a given name ---------------------------------------------------------

# Names whose last "a" drops before the ending, and other names the rules get wrong.
_IRREGULAR = {
    "petar": "petre",
    "aleksandar": "aleksandre",
    "dimitar": "dimitre",
}
_PALATAL_U = ("lj", "nj", "j", "ć", "đ")  # Andrej → Andreju, Đorđ → Đorđu
_SOFTENED = {"k": "č", "g": "ž", "h": "š", "c": "č"}  # Vuk → Vuče


@lru_cache(maxsize=4096)
def vocative(given_name: str, form: str = "m") -> str:
    """The suggested vocative of a Serbian given name, in the name's own script.

    Women's names, and men's ending in a vowel (Marko, Nikola, Đorđe), stay as they are in a
    letter's salutation; men's ending in a consonant take -e (Milan → Milane), -u after j, lj,
    nj, ć, đ (Andrej → Andreju), and k, g, h, c soften (Vuk → Vuče). A contact's own vocative
    overrides this. `form` is the contact's salutation form (m, f or neutral): only "m" gets
    an ending, since a wrong one ("Inese" for Ines) is worse than none.
    """
    name = given_name.strip()
    if not name or form != "m" or " " in name or "-" in name:
        return name
    cyrillic = bool(_CYRILLIC_LETTER.search(name))
    latin = to_latin(name) if cyrillic else name
    result = _latin_vocative(latin)
    if result is None:
        return name
    return to_cyrillic(result) if cyrillic else result


def _latin_vocative(name: str) -> str | None:
    lower = name.lower()
    if not lower[-1].isalpha() or lower[-1] in "aeiouy":
        return None
    if lower in _IRREGULAR:
        ending = _IRREGULAR[lower][len(lower) - 2 :]
        return _cased(name[:-2] + ending, name)
    if lower.endswith(_PALATAL_U):
        return _cased(name + "u", name)
    if lower[-1] in _SOFTENED:
        return _cased(name[:-1] + _SOFTENED[lower[-1]] + "e", name)
    return _cased(name + "e", name)


def _cased(result: str, name: str) -> str:
    return result.upper() if name.isupper() and len(name) > 1 else result
