"""Who wrote an article, by the page's account: byline names from JSON-LD, `<meta>` tags and
rel=author links, without a "By" or "Piše:" in front, split ("A and B") only when every part
is clearly a person's full name, and dropped when they only name the outlet."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bs4 import BeautifulSoup

from outreach.coverage import markup

_BYLINE_PREFIX = re.compile(
    r"^(?:(?:written\s+by|by|nga|od|од)\s+|(?:autor(?:i|ka)?|piše|shkruan|аутор|пише)\s*:\s*)",
    re.I,
)
_CONJUNCTION = re.compile(r"\s*,\s*|\s+(?:and|dhe|i|и|&)\s+")
_PARTICLES = {"van", "von", "de", "der", "di", "da", "del", "la", "le", "bin", "al", "el"}
_URLISH = re.compile(r"@|://|^www\.|^https?:", re.I)


def authors(
    soup: BeautifulSoup,
    metas: dict[str, list[str]],
    graph: markup.Graph,
    article: dict[str, Any],
    *,
    site_name: str,
) -> tuple[str, ...]:
    written = [
        *graph.names(article.get("author")),
        *metas.get("author", []),
        *[v for v in metas.get("article:author", []) if not _URLISH.search(v)],
        *metas.get("sailthru.author", []),
        *metas.get("parsely-author", []),
    ]
    in_article: list[str] = []
    elsewhere: list[str] = []
    for link in soup.find_all("a"):
        if "author" in markup.attr(link, "rel").lower().split():
            (in_article if markup.in_article(link) else elsewhere).append(markup.text_of(link, 200))
            if len(in_article) + len(elsewhere) >= markup.MAX_CANDIDATES:
                break
    names = _names([*written, *in_article], site_name=site_name)
    return names or _names(elsewhere, site_name=site_name)


def _names(written: Iterable[str], *, site_name: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for text in written:
        text = _BYLINE_PREFIX.sub("", markup.clean(text), count=1).strip(" ,;")
        for name in _split_names(text):
            if _is_name(name) and markup.key(name) != markup.key(site_name):
                found.setdefault(name.casefold(), name)
    return tuple(found.values())


def _split_names(text: str) -> list[str]:
    """ "A and B" as two names, only when every part looks like a person's full name."""
    parts = [part for part in _CONJUNCTION.split(text) if part]
    if len(parts) > 1 and all(_looks_like_full_name(part) for part in parts):
        return parts
    return [text]


def _looks_like_full_name(text: str) -> bool:
    words = text.split()
    return 2 <= len(words) <= 4 and all(
        word[0].isupper() or word in _PARTICLES for word in words if word
    )


def _is_name(text: str) -> bool:
    return (
        2 <= len(text) <= 100
        and any(c.isalpha() for c in text)
        and not _URLISH.search(text)
        and not any(c.isdigit() for c in text)
    )
