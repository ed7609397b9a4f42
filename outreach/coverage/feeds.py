"""Outlets' RSS and Atom feeds, read into plain items.

Pure: `read_feed` takes the bytes someone else fetched and never raises. Which items may be
coverage of an organisation is for `outreach.coverage.keywords` to say.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from crm.i18n import N_

MAX_BODY = 5 * 1024 * 1024
MAX_ITEMS = 500
MAX_KEY = 500
MAX_TITLE = 500
MAX_SUMMARY = 5000
# HTML read per summary or content: plenty for MAX_SUMMARY characters of text, and a bound on
# the work a single huge item costs.
_MAX_HTML = 200_000

log = logging.getLogger("beatbook.coverage")
NOT_A_FEED = N_("This address does not lead to an RSS or Atom feed.")
UNREADABLE = N_("This feed could not be read.")


@dataclass(frozen=True)
class FeedItem:
    key: str  # stable identity within the feed: guid / id, else the url, else a sha256
    url: str  # absolute http(s) link to the article, or ""
    title: str
    summary: str  # plain text, paragraphs on their own lines
    authors: tuple[str, ...]
    published_at: datetime | None  # UTC
    language: str  # "sq", "sr-Latn", "sr-Cyrl", "en" or ""


@dataclass(frozen=True)
class FeedInfo:
    title: str
    link: str
    items: tuple[FeedItem, ...]
    error: str  # "" when the body is a feed, even an empty or damaged one


def read_feed(body: bytes, *, url: str, content_type: str = "") -> FeedInfo:
    """The feed in `body`, fetched from `url` with the `content_type` the server sent.

    Never raises. A damaged feed (cut short, badly encoded) gives the items that could be read
    and no error; only a body that is no feed at all (a web page, an error page, nothing)
    gives an error to show. At most MAX_ITEMS items, from at most MAX_BODY bytes. Slow on
    huge bodies (seconds for 5 MB): call it in a thread from async code."""
    try:
        return _read_feed(body, url=url, content_type=content_type)
    except Exception:  # feedparser's loose parser on hostile input; the contract is no raise
        return FeedInfo(title="", link="", items=(), error=UNREADABLE)


def _read_feed(body: bytes, *, url: str, content_type: str) -> FeedInfo:
    body = _whole_characters(_cut_body(body))
    parsed = feedparser.parse(
        io.BytesIO(body),  # never the bytes themselves: feedparser would try them as a path
        response_headers=_headers(body, content_type),
        sanitize_html=False,  # the HTML is reduced to text here, never shown
        resolve_relative_uris=False,
    )
    feed = parsed.get("feed") or {}
    entries = (parsed.get("entries") or [])[:MAX_ITEMS]
    title = _cut(" ".join(_text(feed.get("title_detail"), feed.get("title")).split()), MAX_TITLE)
    if not entries and not title and (parsed.get("bozo") or not parsed.get("version")):
        return FeedInfo(title="", link="", items=(), error=NOT_A_FEED)
    language = str(feed.get("language") or "")
    items: list[FeedItem] = []
    for entry in entries:
        try:
            items.append(_item(entry, feed_url=url, feed_language=language))
        except Exception:  # noqa: BLE001
            # One entry feedparser made something unforeseen of never costs the others.
            log.warning("an entry of %s could not be read", url, exc_info=True)
    return FeedInfo(
        title=title,
        link=_absolute(feed.get("link"), url),
        items=tuple(_unique_keys(items)),
        error="",
    )


_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']?[A-Za-z]""")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _headers(body: bytes, content_type: str) -> dict[str, str]:
    """What feedparser is told of the response. A document that names its own encoding (a
    byte order mark, an XML declaration) is believed over the server's charset, which in
    practice is more often a default than a fact (windows-1250 feeds served as ISO-8859-1)."""
    if not content_type:
        return {}
    if body.startswith(_BOMS) or _XML_ENCODING.match(body[:500]):
        content_type = content_type.split(";", 1)[0].strip()
    return {"content-type": content_type}


# Numeric character references to the halves of a UTF-16 pair, as some sites write an emoji
# ("&#55357;&#56832;"), also escaped in HTML text ("&amp;#55357;"): feedparser fails on the
# whole feed for one of them.
_HIGH = (  # D800-DBFF
    rb"&(?:amp;)?#(?:[xX]0*[dD][89abAB][0-9a-fA-F]{2}"
    rb"|0*(?:5529[6-9]|55[3-9]\d\d|56[0-2]\d\d|563[01]\d));"
)
_LOW = (  # DC00-DFFF
    rb"&(?:amp;)?#(?:[xX]0*[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|0*(?:563[2-9]\d|56[4-9]\d\d|57[0-2]\d\d|573[0-3]\d|5734[0-3]));"
)
_SURROGATES = re.compile(rb"(?P<high>%b)(?P<low>%b)?|(?P<lone>%b)" % (_HIGH, _LOW, _LOW))


def _whole_characters(body: bytes) -> bytes:
    """References to UTF-16 halves replaced: a pair by a reference to the character it
    stands for, a half alone by one to U+FFFD. Written as references, so that the
    document's encoding does not matter."""
    if b"&" not in body:
        return body
    return _SURROGATES.sub(_whole_character, body)


def _whole_character(match: re.Match[bytes]) -> bytes:
    high, low = match.group("high"), match.group("low")
    if high and low and high.startswith(b"&amp;") == low.startswith(b"&amp;"):
        value = 0x10000 + ((_code(high) - 0xD800) << 10) + (_code(low) - 0xDC00)
        return _reference(high, value)
    return b"".join(_reference(half, 0xFFFD) for half in (high, low, match.group("lone")) if half)


def _code(reference: bytes) -> int:
    digits = reference.rstrip(b";").rpartition(b"#")[2]
    return int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)


def _reference(written: bytes, value: int) -> bytes:
    """A reference to `value`, escaped as `written` was."""
    return (b"&amp;" if written.startswith(b"&amp;") else b"&") + b"#x%X;" % value


def _cut_body(body: bytes) -> bytes:
    """At most MAX_BODY bytes; where it can, cut after a whole item and close the document,
    so that the strict parser reads it rather than the slow loose one after it fails."""
    if len(body) <= MAX_BODY:
        return body
    head = body[:MAX_BODY]
    for end, closing in ((b"</item>", b"</channel></rss>"), (b"</entry>", b"</feed>")):
        at = head.rfind(end)
        if at != -1:
            return head[: at + len(end)] + closing
    return head


def _item(entry: Any, *, feed_url: str, feed_language: str) -> FeedItem:
    title = _cut(" ".join(_text(entry.get("title_detail"), entry.get("title")).split()), MAX_TITLE)
    summary = _cut(_summary(entry), MAX_SUMMARY)
    published_at = _utc(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))
    url = _absolute(entry.get("link"), feed_url)
    key = str(entry.get("id") or "").strip() or url or _hash_key(title or summary, published_at)
    detail = entry.get("title_detail") or entry.get("summary_detail") or {}
    declared = detail.get("language") or feed_language
    return FeedItem(
        key=_short_key(key),
        url=url,
        title=title,
        summary=summary,
        authors=_authors(entry),
        published_at=published_at,
        language=_language(str(declared), f"{title}\n{summary}"),
    )


def _unique_keys(items: list[FeedItem]) -> list[FeedItem]:
    """Items whose guid is shared with another item of the feed (some sites give every item
    the site's address) are known by their url instead, so none is mistaken for another."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.key] = counts.get(item.key, 0) + 1
    return [
        item
        if counts[item.key] == 1
        else replace(item, key=_short_key(item.url or _hash_key(item.title, item.published_at)))
        for item in items
    ]


def _hash_key(text: str, published_at: datetime | None) -> str:
    stamp = published_at.isoformat() if published_at else ""
    return "sha256:" + hashlib.sha256(f"{text}\n{stamp}".encode()).hexdigest()


def _short_key(key: str) -> str:
    return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _absolute(link: object, base: str) -> str:
    """`link` resolved against `base`, if it is an http(s) address; else ""."""
    if not isinstance(link, str) or not link.strip():
        return ""
    try:
        absolute = urljoin(base, link.strip())
        parts = urlsplit(absolute)
    except ValueError:  # a malformed address ("http://[::1")
        return ""
    return absolute if parts.scheme in ("http", "https") and parts.netloc else ""


def _utc(parsed: Any) -> datetime | None:
    """feedparser's time tuple, which is in UTC, as an aware datetime."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in parsed[:6])
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


_EMAIL = re.compile(r"[<(]?\S+@\S+[>)]?")


def _authors(entry: Any) -> tuple[str, ...]:
    names = [a.get("name") for a in entry.get("authors") or [] if isinstance(a, dict)]
    if not any(names):
        names = [(entry.get("author_detail") or {}).get("name") or entry.get("author")]
    found: list[str] = []
    for name in names:
        if not isinstance(name, str):
            continue
        clean = _cut(unicodedata.normalize("NFC", " ".join(_EMAIL.sub(" ", name).split())), 200)
        if clean and clean not in found:
            found.append(clean)
    return tuple(found[:20])


def _summary(entry: Any) -> str:
    """The longest of the summary and the contents: a WordPress item's description is an
    excerpt of its content:encoded, and only the whole article names everyone it mentions."""
    texts = [_text(c, c.get("value")) for c in entry.get("content") or [] if isinstance(c, dict)]
    texts.append(_text(entry.get("summary_detail"), entry.get("summary")))
    return max(texts, key=len)  # the first longest: the content, when they are as long


def _text(detail: Any, value: Any) -> str:
    """Plain text of a feed text construct: HTML reduced to text, entities decoded, NFC."""
    if not isinstance(value, str):
        return ""
    kind = (detail or {}).get("type") or "text/html"
    text = _html_text(value[:_MAX_HTML]) if "html" in kind else _plain_lines(value[:_MAX_HTML])
    return unicodedata.normalize("NFC", text)


def _plain_lines(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# WordPress sites with Yoast SEO end every item with this line, in English whatever the site.
_WORDPRESS_FOOTER = re.compile(r"\n?The post .+ appeared first on .+\.$")


def _html_text(html: str) -> str:
    reader = _TextReader()
    reader.feed(html)
    reader.close()
    text = _plain_lines("".join(reader.parts))
    return _WORDPRESS_FOOTER.sub("", text)


class _TextReader(HTMLParser):
    """The text of an HTML fragment, a line per block; scripts and styles left out."""

    _SKIP = frozenset({"script", "style", "template"})
    _BLOCKS = frozenset(
        "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 "
        "h5 h6 header hr li ol p pre section table td th tr ul".split()
    )
    _SPACE = re.compile(r"\s+")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(self._SPACE.sub(" ", data))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


def _language(declared: str, text: str) -> str:
    """One of ours from a language tag ("sq-AL", "sr_RS@latin", "en-GB"); plain Serbian
    ("sr", "sr-RS") by the script most of the item's letters are in."""
    parts = re.split(r"[-_@.]", declared.strip().lower())
    base, rest = parts[0], set(parts[1:])
    if base in ("sq", "sqi", "alb"):
        return "sq"
    if base in ("en", "eng"):
        return "en"
    if base not in ("sr", "srp"):
        return ""
    if rest & {"latn", "latin"}:
        return "sr-Latn"
    if rest & {"cyrl", "cyrillic"}:
        return "sr-Cyrl"
    cyrillic = len(_CYRILLIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if not cyrillic and not latin:
        return ""
    return "sr-Cyrl" if cyrillic > latin else "sr-Latn"
