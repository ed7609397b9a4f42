"""The language an article page is in: what the page declares, checked against the script
and the words of its headline and description."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from outreach.coverage import markup

_HTML_TAG = re.compile(r"<html\b[^>]{0,2000}>", re.I)
_SQ_WORDS = {"dhe", "të", "në", "për", "një", "është", "që", "nga", "më", "janë", "kjo", "ka"}
_SR_WORDS = {"je", "da", "su", "za", "od", "na", "se", "koji", "koja", "nije", "kao", "sa", "u"}
_EN_WORDS = {"the", "and", "of", "to", "in", "is", "for", "on", "with", "that", "by", "from"}
_WORD = re.compile(r"\w+")


def declared_languages(text: str, metas: dict[str, list[str]], graph: markup.Graph) -> list[str]:
    declared = []
    if match := _HTML_TAG.search(text[:65_536]):
        tag = BeautifulSoup(match.group(0), "html.parser").find("html")
        if isinstance(tag, Tag):
            declared += [markup.attr(tag, "lang"), markup.attr(tag, "xml:lang")]
    declared += metas.get("og:locale", [])
    declared += graph.languages(graph.article())
    declared += metas.get("http-equiv:content-language", []) + metas.get("language", [])
    return declared


def language(declared: list[str], text: str) -> str:
    """One of pages.LANGUAGES or "": the first declared language we know, checked against
    the text."""
    tag = next((t for t in map(_language_tag, declared) if t), "")
    guess, margin = _guess_language(text)
    script = _script(text)
    if tag == "sr":
        return "sr-Cyrl" if script == "Cyrl" else "sr-Latn"
    if tag in ("sr-Latn", "sr-Cyrl") and script and tag != f"sr-{script}":
        return f"sr-{script}"  # sites that transliterate often keep one lang attribute
    # WordPress says "en-US" until someone changes it; trust clear Albanian or Serbian text.
    if tag == "en" and guess not in ("", "en") and margin >= 4:
        return guess
    if tag == "other":
        return ""
    return tag or guess


def _language_tag(value: str) -> str:
    """ "sq", "sr" (script unknown), "sr-Latn", "sr-Cyrl", "en", "other", or "" (nothing said)."""
    parts = value.strip().replace("_", "-").lower().split("-")
    primary = parts[0]
    if primary in ("sq", "sqi", "alb"):
        return "sq"
    if primary in ("sr", "srp", "bs", "bos", "hr", "hrv", "sh", "cnr"):
        if "cyrl" in parts:
            return "sr-Cyrl"
        return "sr-Latn" if "latn" in parts or primary in ("hr", "hrv") else "sr"
    if primary in ("en", "eng"):
        return "en"
    return "other" if primary.isalpha() else ""


def _script(text: str) -> str:
    """ "Cyrl" or "Latn" when at least 80% of a dozen or more letters are in it, else ""."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 12:
        return ""
    cyrillic = sum("\u0400" <= c <= "\u04ff" for c in letters)
    if cyrillic >= 0.8 * len(letters):
        return "Cyrl"
    return "Latn" if cyrillic <= 0.2 * len(letters) else ""


def _guess_language(text: str) -> tuple[str, int]:
    """The language the text looks like, and by how much it beats the next best."""
    lower = text.lower()
    letters = [c for c in lower if c.isalpha()]
    if not letters:
        return "", 0
    cyrillic = sum("\u0400" <= c <= "\u04ff" for c in letters)
    if cyrillic > len(letters) / 2:
        return "sr-Cyrl", cyrillic
    words = _WORD.findall(lower)
    scores = {
        "sq": sum(c in "ëç" for c in letters) + sum(w in _SQ_WORDS for w in words),
        "sr-Latn": sum(c in "čćšžđ" for c in letters) + sum(w in _SR_WORDS for w in words),
        "en": sum(w in _EN_WORDS for w in words),
    }
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < 2 or top == second:
        return "", 0
    return best, top - second
