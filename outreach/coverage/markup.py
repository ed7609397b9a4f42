"""The parts of an article page that describe it: the few elements built into a tree, its
`<meta>` tags, its JSON-LD graph, and their text cleaned and made comparable.

Each reader here is bounded (nodes visited, characters read, JSON-LD size), so that broken or
hostile markup stays cheap.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterator
from itertools import islice
from typing import Any

from bs4 import BeautifulSoup, NavigableString, PageElement, SoupStrainer, Tag
from bs4.exceptions import ParserRejectedMarkup

MAX_JSON_LD = 200_000

# Only these elements are built into a tree; the rest of the page is tokenised and dropped.
_WANTED = ["meta", "link", "title", "script", "time", "a", "article"]
# rel=author links and <time> elements looked at: a byline or a date is near the top.
MAX_CANDIDATES = 50
_ARTICLE_TYPES = {
    "Article",
    "NewsArticle",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "BlogPosting",
    "LiveBlogPosting",
    "Report",
}


_XML_DECLARATION = re.compile(r"<\?xml\b[^>]{0,500}>", re.I)


def soup(text: str) -> BeautifulSoup:
    """The elements we read, parsed with the standard library's forgiving parser."""
    # An XML declaration (XHTML, or a feed sent our way) makes bs4 warn; we want no warnings.
    text = _XML_DECLARATION.sub("", text)
    if "<" not in text:
        text = ""  # nothing to parse, and bs4 warns about short text that looks like a URL
    try:
        return BeautifulSoup(text, "html.parser", parse_only=SoupStrainer(_WANTED))
    except ParserRejectedMarkup:
        return BeautifulSoup("", "html.parser")


def attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def metas(soup: BeautifulSoup) -> dict[str, list[str]]:
    """`<meta>` contents by property, name or itemprop (lower case), in page order."""
    found: dict[str, list[str]] = {}
    for tag in soup.find_all("meta"):
        content = attr(tag, "content")
        if not content:
            continue
        for key in ("property", "name", "itemprop"):
            if name := attr(tag, key).strip().lower():
                found.setdefault(name, []).append(content)
        if equiv := attr(tag, "http-equiv").strip().lower():
            found.setdefault(f"http-equiv:{equiv}", []).append(content)
    return found


def text_of(tag: Tag, limit: int) -> str:
    """The tag's text, read no further than about `limit` characters or a few hundred nodes:
    in broken markup an unclosed tag holds the rest of the page."""
    parts: list[str] = []
    size = 0
    stack: list[PageElement] = [tag]
    for _step in range(500):
        if not stack or size >= limit:
            break
        node = stack.pop()
        if isinstance(node, Tag):
            stack.extend(reversed(node.contents[:200]))
        elif type(node) is NavigableString:  # not a comment, doctype or the like
            parts.append(node)
            size += len(node)
    return "".join(parts)[:limit]


def in_article(tag: Tag) -> bool:
    # Only the wanted elements are in the tree, so an enclosing <article> is a few steps up;
    # the cap keeps deeply nested garbage linear.
    return any(parent.name == "article" for parent in islice(tag.parents, 20))


def link(soup: BeautifulSoup, rel: str) -> str:
    for tag in soup.find_all("link"):
        if rel in attr(tag, "rel").lower().split():
            return attr(tag, "href")
    return ""


class Graph:
    """The page's JSON-LD nodes (top level and inside @graph), with an index by @id."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        for script in soup.find_all("script"):
            if attr(script, "type").strip().lower() != "application/ld+json":
                continue
            self._add(_json(script.get_text()), depth=0)

    def _add(self, item: Any, *, depth: int) -> None:
        if depth > 3:
            return
        if isinstance(item, list):
            for each in item:
                self._add(each, depth=depth + 1)
        elif isinstance(item, dict):
            self._add(item.get("@graph"), depth=depth + 1)
            if "@type" in item:
                self.nodes.append(item)
            ident = item.get("@id")
            if isinstance(ident, str) and len(item) > 1:
                self.by_id.setdefault(ident, item)

    def article(self) -> dict[str, Any]:
        """The first node typed as an article, or {}."""
        for node in self.nodes:
            types = node.get("@type")
            types = types if isinstance(types, list) else [types]
            if any(isinstance(t, str) and t.rsplit("/", 1)[-1] in _ARTICLE_TYPES for t in types):
                return node
        return {}

    def resolve(self, value: Any) -> Any:
        """A node given only by its @id, looked up in the page's graph."""
        if isinstance(value, dict) and "name" not in value:
            ident = value.get("@id")
            if isinstance(ident, str) and ident in self.by_id:
                return self.by_id[ident]
        return value

    def names(self, value: Any) -> list[str]:
        """Names of the person(s) or organisation(s) in a JSON-LD value."""
        found = []
        for item in value if isinstance(value, list) else [value]:
            item = self.resolve(item)
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict):
                name = string(item.get("name")) or " ".join(
                    string(item.get(part)) for part in ("givenName", "familyName")
                )
                found.append(name)
        return [name for name in map(clean, found) if name]

    def urls(self, value: Any) -> list[str]:
        found = []
        for item in value if isinstance(value, list) else [value]:
            item = self.resolve(item)
            if isinstance(item, dict):
                item = item.get("url") or item.get("contentUrl")
            if isinstance(item, str):
                found.append(item)
        return found

    def languages(self, article: dict[str, Any]) -> Iterator[str]:
        for node in [article, *self.nodes]:
            if language := string(node.get("inLanguage")):
                yield language


def _json(text: str) -> Any:
    """Parsed JSON-LD, or None when it is too large or malformed."""
    if len(text) > MAX_JSON_LD:
        return None
    # Some CMSes wrap the block in CDATA comments or leave raw control characters in strings.
    text = text.strip().removeprefix("/*<![CDATA[*/").removesuffix("/*]]>*/").strip()
    try:
        return json.loads(text.rstrip(";"), strict=False)
    except (ValueError, RecursionError):
        return None


# --- text ----------------------------------------------------------------------------------

_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\xad\x00-\x08\x0b\x0e-\x1f\x7f]")
_LEFTOVER_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});", re.I)


def clean(text: str) -> str:
    """Entities decoded (also doubly encoded ones), invisible characters gone, spaces collapsed."""
    if _LEFTOVER_ENTITY.search(text):
        text = html.unescape(text)
    return " ".join(_INVISIBLE.sub("", text).split())


def string(value: Any) -> str:
    """A JSON-LD value as one string: the first string of a list, else ""."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value if isinstance(value, str) else ""


def key(text: str) -> str:
    """Letters and digits only, without case or diacritics: "Kosovski Žurnal" ~ kosovskizurnal."""
    folded = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    return "".join(c for c in folded if c.isalnum())
