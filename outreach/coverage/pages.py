"""Reading a published article for the coverage form: headline, outlet, byline, time, language.

A pure function of the page's bytes. Outlets describe their articles in several overlapping
ways (Open Graph tags, JSON-LD, plain `<meta>` tags, the `<title>`, `<time>` elements); each
field takes the first of those that says something usable, in the order the field lists.
Pages are outside data: nothing here raises on garbage, a field that cannot be read is left
empty, and only the first 2 MB of a page are looked at.

Bylines are kept as the page writes them; a byline that is only the outlet's own name (a CMS
default such as "Koha.net") is dropped, because the outlet is a field of its own. Links marked
rel=author count when they sit inside the `<article>`, or when nothing else names an author:
elsewhere they are often the bylines of other articles (a "most read" box).
"""

from __future__ import annotations

import codecs
import email.utils
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import urljoin, urlsplit

import charset_normalizer
from bs4 import BeautifulSoup, NavigableString, PageElement, SoupStrainer, Tag
from bs4.exceptions import ParserRejectedMarkup

MAX_BYTES = 2_000_000
MAX_JSON_LD = 200_000
MAX_HEADLINE = 500
MAX_DESCRIPTION = 1000
LANGUAGES = ("sq", "sr-Latn", "sr-Cyrl", "en")

# Only these elements are built into a tree; the rest of the page is tokenised and dropped.
_WANTED = ["meta", "link", "title", "script", "time", "a", "article"]
# rel=author links and <time> elements looked at: a byline or a date is near the top.
_MAX_CANDIDATES = 50
_NOT_PAGES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
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
_DATE_NAMES = (
    "pubdate",
    "publish-date",
    "publish_date",
    "publishdate",
    "date",
    "dc.date.issued",
    "dc.date",
    "dcterms.date",
    "sailthru.date",
    "parsely-pub-date",
)


@dataclass(frozen=True)
class PageMeta:
    url: str  # the page's canonical URL (og:url, rel=canonical), else the one given
    headline: str  # at most 500 characters, without a " - Site" suffix
    site_name: str  # og:site_name, else the JSON-LD publisher's name, else ""
    authors: tuple[str, ...]  # byline names as written, each once, in page order
    published_at: datetime | None  # in UTC
    language: str  # one of LANGUAGES, or ""
    description: str  # at most 1000 characters
    image: str  # absolute http(s) URL, or ""


def read_page(body: bytes, *, url: str, content_type: str = "") -> PageMeta:
    """What the page says about itself; empty fields for what it does not (or for garbage)."""
    if content_type.strip().lower().startswith(_NOT_PAGES):
        return PageMeta(url, "", "", (), None, "", "", "")
    text = _decode(body[:MAX_BYTES], content_type)
    soup = _soup(text)
    metas = _metas(soup)
    graph = _Graph(soup)
    article = graph.article()

    def meta(*names: str) -> str:
        return next((v for name in names for v in metas.get(name, []) if _clean(v)), "")

    site_name = _clean(meta("og:site_name")) or _first(graph.names(article.get("publisher")))
    headline = _headline(
        _clean(meta("og:title", "twitter:title"))
        or _clean(_string(article.get("headline")))
        or _clean(_title(soup)),
        site_name=site_name,
        url=url,
    )
    description = _shorten(
        _clean(meta("og:description", "description", "twitter:description"))
        or _clean(_string(article.get("description"))),
        MAX_DESCRIPTION,
    )
    return PageMeta(
        url=_canonical([meta("og:url"), _link(soup, "canonical")], page_url=url),
        headline=headline,
        site_name=site_name,
        authors=_authors(soup, metas, graph, article, site_name=site_name),
        published_at=_published(soup, metas, article),
        language=_language(_declared_languages(text, metas, graph), f"{headline} {description}"),
        description=description,
        image=_absolute(
            meta("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
            or _first(graph.urls(article.get("image"))),
            base=url,
        ),
    )


# --- decoding -----------------------------------------------------------------------------

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,500}?charset\s*=\s*["']?\s*([a-z0-9_.:-]{1,40})""", re.I
)
_PARAM_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-z0-9_.:-]{1,40})""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that browsers read as another encoding (WHATWG): "latin1" pages are windows-1252.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "unicode": "utf-8",
}
# Python codecs that decode "successfully" into nonsense, or are not about text at all.
_NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "utf-7", "undefined"}


def _decode(body: bytes, content_type: str) -> str:
    """The page as text: BOM, then the HTTP charset, then <meta>, then UTF-8, then a guess."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace").lstrip("\ufeff")
    labels = []
    if header := _PARAM_CHARSET.search(content_type):
        labels.append(header.group(1))
    if meta := _META_CHARSET.search(body[:16_384]):
        labels.append(meta.group(1).decode("ascii"))
    for declared in filter(None, map(_codec, labels)):
        if declared != "utf-8":
            return body.decode(declared, errors="replace")
        # A page that says UTF-8 and is not (an old page behind a new server) falls through
        # to the next declaration, then to guessing.
        if (text := _utf8(body)) is not None:
            return text
    if (text := _utf8(body)) is not None:
        return text
    best = charset_normalizer.from_bytes(body[:65_536]).best()
    guessed = _codec(best.encoding) if best is not None else None
    return body.decode(guessed or "utf-8", errors="replace")


def _codec(label: str) -> str | None:
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_ALIASES.get(label, label)).name
        b"a".decode(name)
    except (LookupError, ValueError):
        return None
    if name in _NOT_CHARSETS or name.startswith("utf-16") or name.startswith("utf-32"):
        # A page read as ASCII to find its <meta> cannot really be UTF-16.
        return "utf-8" if name.startswith("utf-") else None
    return "utf-8" if name == "utf-8" else name


def _utf8(body: bytes) -> str | None:
    """Strict UTF-8, forgiving only a character cut in half at the 2 MB limit."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return None


# --- reading the tree ----------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"<\?xml\b[^>]{0,500}>", re.I)


def _soup(text: str) -> BeautifulSoup:
    """The elements we read, parsed with the standard library's forgiving parser."""
    # An XML declaration (XHTML, or a feed sent our way) makes bs4 warn; we want no warnings.
    text = _XML_DECLARATION.sub("", text)
    if "<" not in text:
        text = ""  # nothing to parse, and bs4 warns about short text that looks like a URL
    try:
        return BeautifulSoup(text, "html.parser", parse_only=SoupStrainer(_WANTED))
    except ParserRejectedMarkup:
        return BeautifulSoup("", "html.parser")


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _metas(soup: BeautifulSoup) -> dict[str, list[str]]:
    """`<meta>` contents by property, name or itemprop (lower case), in page order."""
    found: dict[str, list[str]] = {}
    for tag in soup.find_all("meta"):
        content = _attr(tag, "content")
        if not content:
            continue
        for key in ("property", "name", "itemprop"):
            if name := _attr(tag, key).strip().lower():
                found.setdefault(name, []).append(content)
        if equiv := _attr(tag, "http-equiv").strip().lower():
            found.setdefault(f"http-equiv:{equiv}", []).append(content)
    return found


def _title(soup: BeautifulSoup) -> str:
    tag = soup.find("title")
    return _text_of(tag, MAX_HEADLINE * 4) if isinstance(tag, Tag) else ""


def _text_of(tag: Tag, limit: int) -> str:
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


def _in_article(tag: Tag) -> bool:
    # Only the wanted elements are in the tree, so an enclosing <article> is a few steps up;
    # the cap keeps deeply nested garbage linear.
    return any(parent.name == "article" for parent in islice(tag.parents, 20))


def _link(soup: BeautifulSoup, rel: str) -> str:
    for tag in soup.find_all("link"):
        if rel in _attr(tag, "rel").lower().split():
            return _attr(tag, "href")
    return ""


class _Graph:
    """The page's JSON-LD nodes (top level and inside @graph), with an index by @id."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        for script in soup.find_all("script"):
            if _attr(script, "type").strip().lower() != "application/ld+json":
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
                name = _string(item.get("name")) or " ".join(
                    _string(item.get(part)) for part in ("givenName", "familyName")
                )
                found.append(name)
        return [name for name in map(_clean, found) if name]

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
            if language := _string(node.get("inLanguage")):
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


# --- fields --------------------------------------------------------------------------------

_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\xad\x00-\x08\x0b\x0e-\x1f\x7f]")
_LEFTOVER_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});", re.I)


def _clean(text: str) -> str:
    """Entities decoded (also doubly encoded ones), invisible characters gone, spaces collapsed."""
    if _LEFTOVER_ENTITY.search(text):
        text = html.unescape(text)
    return " ".join(_INVISIBLE.sub("", text).split())


def _string(value: Any) -> str:
    """A JSON-LD value as one string: the first string of a list, else ""."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value if isinstance(value, str) else ""


def _first(values: list[str]) -> str:
    return values[0] if values else ""


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut) + "…"


_SITE_SUFFIX = re.compile(r"\s+(?:[-|–—»·•]|::)\s+(?P<site>[^-|–—»·•]{1,80})$")


def _headline(text: str, *, site_name: str, url: str) -> str:
    """The headline, without a trailing " - Site" that only repeats the outlet's name."""
    match = _SITE_SUFFIX.search(text)
    if match and match.start() > 0 and _is_site(match.group("site"), site_name, url):
        text = text[: match.start()]
    return _shorten(text, MAX_HEADLINE)


def _key(text: str) -> str:
    """Letters and digits only, without case or diacritics: "Kosovski Žurnal" ~ kosovskizurnal."""
    folded = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    return "".join(c for c in folded if c.isalnum())


def _is_site(suffix: str, site_name: str, url: str) -> bool:
    """Whether a title suffix names the site: its og:site_name, its domain or a label of it."""
    key = _key(suffix)
    if len(key) < 2:
        return False
    if site_name and key == _key(site_name):
        return True
    host = _host(url)
    if key == _key(host):
        return True
    # "RTK" on rtklive.com, "N1 Info" on n1info.rs, "Koha Ditore" on koha.net.
    labels = [label for label in host.split(".")[:-1] if len(label) >= 2]
    return any(
        label.startswith(key) or (key.startswith(label) and len(key) <= len(label) + 8)
        for label in labels
    )


def _canonical(candidates: list[str], *, page_url: str) -> str:
    """The first plausible canonical URL the page gives, else the URL we were given."""
    for value in candidates:
        canonical = _absolute(value, base=page_url)
        # A canonical pointing at the home page, from an article, is a theme's mistake.
        if canonical and (_path(canonical) not in ("", "/") or _path(page_url) in ("", "/")):
            return canonical
    return page_url


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return ""


def _absolute(value: str, *, base: str) -> str:
    value = value.strip()
    if not value or len(value) > 2000:
        return ""
    try:
        absolute = urljoin(base, value)
        parts = urlsplit(absolute)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return absolute


# --- authors -------------------------------------------------------------------------------

_BYLINE_PREFIX = re.compile(
    r"^(?:(?:written\s+by|by|nga|od|од)\s+|(?:autor(?:i|ka)?|piše|shkruan|аутор|пише)\s*:\s*)",
    re.I,
)
_CONJUNCTION = re.compile(r"\s*,\s*|\s+(?:and|dhe|i|и|&)\s+")
_PARTICLES = {"van", "von", "de", "der", "di", "da", "del", "la", "le", "bin", "al", "el"}
_URLISH = re.compile(r"@|://|^www\.|^https?:", re.I)


def _authors(
    soup: BeautifulSoup,
    metas: dict[str, list[str]],
    graph: _Graph,
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
        if "author" in _attr(link, "rel").lower().split():
            (in_article if _in_article(link) else elsewhere).append(_text_of(link, 200))
            if len(in_article) + len(elsewhere) >= _MAX_CANDIDATES:
                break
    names = _names([*written, *in_article], site_name=site_name)
    return names or _names(elsewhere, site_name=site_name)


def _names(written: Iterable[str], *, site_name: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for text in written:
        text = _BYLINE_PREFIX.sub("", _clean(text), count=1).strip(" ,;")
        for name in _split_names(text):
            if _is_name(name) and _key(name) != _key(site_name):
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


# --- time ----------------------------------------------------------------------------------

_DOTTED_DATE = re.compile(
    r"^(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})\.\s?(?P<y>\d{4})\.?(?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2}))?$"
)


def _published(
    soup: BeautifulSoup, metas: dict[str, list[str]], article: dict[str, Any]
) -> datetime | None:
    candidates = [
        *metas.get("article:published_time", []),
        _string(article.get("datePublished")),
        *[value for name in _DATE_NAMES for value in metas.get(name, [])],
        *metas.get("datepublished", []),
        *_time_elements(soup),
    ]
    return next((t for t in map(_parse_time, candidates) if t is not None), None)


def _time_elements(soup: BeautifulSoup) -> list[str]:
    """`<time datetime>` values most likely to be the article's: marked as the publication
    date, then inside the article, then the page's only one (more may be a clock or a list)."""
    times = [tag for tag in soup.find_all("time") if _attr(tag, "datetime").strip()]
    times = times[:_MAX_CANDIDATES]
    marked = [
        t
        for t in times
        if _attr(t, "itemprop").lower() == "datepublished"
        or "publish" in _attr(t, "class").lower()
        or "pubdate" in {key.lower() for key in t.attrs}
    ]
    in_article = [t for t in times if _in_article(t)]
    chosen = marked or in_article[:1] or (times if len(times) == 1 else [])
    return [_attr(t, "datetime") for t in chosen]


def _parse_time(value: str) -> datetime | None:
    """An ISO 8601, RFC 2822 or "14.03.2024 10:30" time, in UTC (UTC assumed when unsaid)."""
    value = value.strip()
    if not value or len(value) > 64:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace(" +", "+").replace(" -", "-"))
    except ValueError:
        if match := _DOTTED_DATE.match(value):
            try:
                parsed = datetime(
                    int(match["y"]),
                    int(match["m"]),
                    int(match["d"]),
                    int(match["H"] or 0),
                    int(match["M"] or 0),
                )
            except ValueError:
                return None
        else:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
    if not 1990 <= parsed.year <= 2100:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- language ------------------------------------------------------------------------------

_HTML_TAG = re.compile(r"<html\b[^>]{0,2000}>", re.I)
_SQ_WORDS = {"dhe", "të", "në", "për", "një", "është", "që", "nga", "më", "janë", "kjo", "ka"}
_SR_WORDS = {"je", "da", "su", "za", "od", "na", "se", "koji", "koja", "nije", "kao", "sa", "u"}
_EN_WORDS = {"the", "and", "of", "to", "in", "is", "for", "on", "with", "that", "by", "from"}
_WORD = re.compile(r"\w+")


def _declared_languages(text: str, metas: dict[str, list[str]], graph: _Graph) -> list[str]:
    declared = []
    if match := _HTML_TAG.search(text[:65_536]):
        tag = BeautifulSoup(match.group(0), "html.parser").find("html")
        if isinstance(tag, Tag):
            declared += [_attr(tag, "lang"), _attr(tag, "xml:lang")]
    declared += metas.get("og:locale", [])
    declared += graph.languages(graph.article())
    declared += metas.get("http-equiv:content-language", []) + metas.get("language", [])
    return declared


def _language(declared: list[str], text: str) -> str:
    """One of LANGUAGES or "": the first declared language we know, checked against the text."""
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
