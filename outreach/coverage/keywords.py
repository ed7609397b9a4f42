"""The keywords that mark a feed item as possible coverage of an organisation.

Pure: `compile_keywords` builds a `Matcher` that finds an organisation's names, a campaign's or
an event's keywords in an item whatever the case, the diacritics or the script ("Centar za
pravdu" finds "ЦЕНТАР ЗА ПРАВДУ"), through `crm.search` folding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from crm.search import fold, search_key


@dataclass(frozen=True)
class Keyword:
    text: str  # as the user wrote it
    source: str  # the caller's tag: "org", "campaign:12", "event:3"


@dataclass(frozen=True)
class _Phrase:
    index: int  # of the keyword in Matcher.keywords
    words: tuple[str, ...]  # folded
    prefixes: tuple[bool, ...]  # which words were written with a trailing "*"

    def at(self, words: list[str], start: int) -> bool:
        if start + len(self.words) > len(words):
            return False
        for offset, (word, prefix) in enumerate(zip(self.words, self.prefixes, strict=True)):
            seen = words[start + offset]
            if not (seen.startswith(word) if prefix else seen == word):
                return False
        return True


_WORD = re.compile(r"[a-z0-9]+")
_ACRONYM = re.compile(r"[^\W\d_][^\W_]{1,5}")
_TEXT_ACRONYM = re.compile(r"(?<![^\W_])[^\W\d_][^\W_]{1,5}(?![^\W_])")
MIN_LENGTH = 3


class Matcher:
    """Finds keywords in texts, whole words only, ignoring case, diacritics and script.

    - A keyword matches whole folded words: "Qendra për Drejtësi" finds "QENDRA PER DREJTESI"
      and "Qendra. Për drejtësi", and "Centar za pravdu" finds "Центар за правду", but
      "Qendra" does not find "Qendrës".
    - A word ending in "*" matches any word it begins: "Qendr*" finds "Qendrës", and
      "Cent* za pravdu" finds "Centar", "Centra" and "Centru za pravdu" (Serbian and
      Albanian decline names). A "*" elsewhere in a word is no wildcard.
    - A keyword written in capitals as one word of 2 to 6 letters or digits ("UN", "KDI",
      "YIHR", "BIRN") is an acronym: it finds only words written in capitals, in either
      script ("UN" finds "УН" and "UN-it", not "un" or "fund"), so that "KE" (Komisioni
      Evropian) or "CRTA" are not found in every sentence with "ke" or "crta". Headlines
      written all in capitals are a known source of false finds.
    - Any other keyword, one with a "*" included, is found whatever its case; those of fewer
      than MIN_LENGTH folded letters and digits ("e", "un", "UN*") are ignored, and listed
      in `ignored` for the form to say so.
    - "đ" is matched both as "dj" and as "d": "Đorđević" finds "Djordjevic" and "Dordevic".
    """

    def __init__(self, keywords: Iterable[Keyword]) -> None:
        self.keywords: tuple[Keyword, ...] = tuple(dict.fromkeys(keywords))
        self._acronyms: dict[str, list[int]] = {}
        self._by_first: dict[str, list[_Phrase]] = {}  # first word written in full
        self._by_stem: dict[str, list[_Phrase]] = {}  # first word with a "*"
        ignored: list[Keyword] = []
        for index, keyword in enumerate(self.keywords):
            text = keyword.text.strip()
            if _ACRONYM.fullmatch(text) and text.isupper():
                self._acronyms.setdefault(fold(text), []).append(index)
                continue
            phrases = _phrases(index, text)
            if not phrases:
                ignored.append(keyword)
            for phrase in phrases:
                table = self._by_stem if phrase.prefixes[0] else self._by_first
                table.setdefault(phrase.words[0], []).append(phrase)
        self.ignored: tuple[Keyword, ...] = tuple(ignored)
        self._stem_lengths = sorted({len(stem) for stem in self._by_stem})

    def find(self, *texts: str) -> list[Keyword]:
        """The keywords found in any of the texts, each once, in the order they were given."""
        found: set[int] = set()
        for text in texts:
            if not text:
                continue
            # search_key gives the folded text, then its "đ" → "d" spelling if that differs.
            for spelling in search_key(text).split(" | "):
                self._find_phrases(_WORD.findall(spelling), found)
            if self._acronyms:
                self._find_acronyms(text, found)
        return [self.keywords[i] for i in sorted(found)]

    def _find_phrases(self, words: list[str], found: set[int]) -> None:
        by_first, by_stem, lengths = self._by_first, self._by_stem, self._stem_lengths
        for start, word in enumerate(words):
            for phrase in by_first.get(word, ()):
                if phrase.index not in found and phrase.at(words, start):
                    found.add(phrase.index)
            for length in lengths:
                if length > len(word):
                    break
                for phrase in by_stem.get(word[:length], ()):
                    if phrase.index not in found and phrase.at(words, start):
                        found.add(phrase.index)

    def _find_acronyms(self, text: str, found: set[int]) -> None:
        for word in _TEXT_ACRONYM.findall(text):
            if word.isupper():
                found.update(self._acronyms.get(fold(word), ()))


def _phrases(index: int, text: str) -> list[_Phrase]:
    """The keyword's folded words, in its "dj" spelling and, if it has a "đ", its "d" one."""
    spellings: list[list[tuple[str, bool]]] = [[], []]
    for written in text.split():
        prefix = written.endswith("*")
        keys = search_key(written.rstrip("*")).split(" | ")
        for spelling, key in zip(spellings, (keys[0], keys[-1]), strict=True):
            words = _WORD.findall(key)
            spelling.extend((word, prefix and i == len(words) - 1) for i, word in enumerate(words))
    phrases: list[_Phrase] = []
    for spelling in spellings:
        if sum(len(word) for word, _ in spelling) < MIN_LENGTH:
            continue
        phrase = _Phrase(
            index, tuple(word for word, _ in spelling), tuple(prefix for _, prefix in spelling)
        )
        if phrase not in phrases:
            phrases.append(phrase)
    return phrases


def compile_keywords(keywords: Iterable[Keyword]) -> Matcher:
    """A matcher for `keywords`; build it once per organisation and poll, use it per item."""
    return Matcher(keywords)
