"""The plain-text part of a message, read from its sanitised HTML: paragraphs, "- " and
"1. " lists, links as "text (url)", quotes with "> ", no entity left."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from crm.i18n import N_


class TextWriter(HTMLParser):
    """Readable text from the sanitised HTML: paragraphs, "- " lists, links as "text (url)"."""

    _BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "hr", "blockquote"}

    def __init__(self, marker: re.Pattern[str], whole_links: frozenset[str] = frozenset()) -> None:
        super().__init__(convert_charrefs=True)  # so no entity is left in the text
        self.marker = marker
        self.whole_links = whole_links
        self.out = ""
        self.lists: list[list[Any]] = []  # [tag, next number]
        self.links: list[tuple[str, int]] = []
        self.quotes: list[int] = []
        self.pre = self.item_start = False

    def _break(self, newlines: int) -> None:
        if self.out and not self.item_start:
            self.out = self.out.rstrip(" ")
            self.out += "\n" * max(0, newlines - (len(self.out) - len(self.out.rstrip("\n"))))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href" and value in self.whole_links:
                continue  # a link field of our own making, standing for the whole address
            if self.marker.search(value or ""):
                raise ValueError(N_("merge fields cannot be used inside a link address or title"))
        if tag in self._BLOCKS or (tag in ("ul", "ol") and not self.lists):
            self._break(2)
        if tag == "hr":
            self.out += "----"
        elif tag == "br":
            self.out += "\n"
        elif tag in ("ul", "ol"):
            self.lists.append([tag, int(dict(attrs).get("start") or 1)])
        elif tag == "li" and self.lists:
            self._break(1)
            kind, number = self.lists[-1]
            self.lists[-1][1] += 1
            self.out += "  " * (len(self.lists) - 1) + ("- " if kind == "ul" else f"{number}. ")
            self.item_start = True
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.out)))
        elif tag == "blockquote":
            self.quotes.append(len(self.out))
        elif tag in ("pre", "tr"):
            self.pre = self.pre or tag == "pre"
            self._break(1)
        elif tag in ("td", "th") and not self.out.endswith("\n"):
            self.out = self.out.rstrip(" ") + " | "

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = self.out[start:].strip()
            if href and href not in (label, f"mailto:{label}"):
                self.out += f" ({href})"
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "blockquote" and self.quotes:
            start = self.quotes.pop()
            lines = self.out[start:].strip("\n").split("\n")
            self.out = self.out[:start] + "\n".join(f"> {line}".rstrip() for line in lines)
            self._break(2)
        elif tag in self._BLOCKS or tag == "li":
            self.pre = self.pre and tag != "pre"
            self._break(1 if tag == "li" else 2)

    def handle_data(self, data: str) -> None:
        if not self.pre:
            # HTML's white space only: a no-break space is text, and kept.
            data = _HTML_SPACE.sub(" ", data)
            if not self.out or self.out.endswith("\n") or self.item_start:
                data = data.lstrip(" ")
        if data:
            self.out += data
            self.item_start = False


_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def from_html(html: str, marker: re.Pattern[str], whole_links: frozenset[str] = frozenset()) -> str:
    """The text part of a message from its sanitised HTML; `marker` finds merge-field
    placeholders, which may not sit in a link's address or title, except those in
    `whole_links` as a link's entire address."""
    writer = TextWriter(marker, whole_links)
    writer.feed(html)
    writer.close()
    return writer.out.strip()
