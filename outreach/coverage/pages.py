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

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from outreach.coverage import markup
from outreach.coverage.bylines import authors
from outreach.coverage.charsets import decode
from outreach.coverage.languages import declared_languages, language
from outreach.coverage.published import published

MAX_BYTES = 2_000_000
MAX_HEADLINE = 500
MAX_DESCRIPTION = 1000
LANGUAGES = ("sq", "sr-Latn", "sr-Cyrl", "en")

_NOT_PAGES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")


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
    text = decode(body[:MAX_BYTES], content_type)
    soup = markup.soup(text)
    metas = markup.metas(soup)
    graph = markup.Graph(soup)
    article = graph.article()

    def meta(*names: str) -> str:
        return next((v for name in names for v in metas.get(name, []) if markup.clean(v)), "")

    site_name = markup.clean(meta("og:site_name")) or _first(graph.names(article.get("publisher")))
    headline = _headline(
        markup.clean(meta("og:title", "twitter:title"))
        or markup.clean(markup.string(article.get("headline")))
        or markup.clean(_title(soup)),
        site_name=site_name,
        url=url,
    )
    description = _shorten(
        markup.clean(meta("og:description", "description", "twitter:description"))
        or markup.clean(markup.string(article.get("description"))),
        MAX_DESCRIPTION,
    )
    return PageMeta(
        url=_canonical([meta("og:url"), markup.link(soup, "canonical")], page_url=url),
        headline=headline,
        site_name=site_name,
        authors=authors(soup, metas, graph, article, site_name=site_name),
        published_at=published(soup, metas, article),
        language=language(declared_languages(text, metas, graph), f"{headline} {description}"),
        description=description,
        image=_absolute(
            meta("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
            or _first(graph.urls(article.get("image"))),
            base=url,
        ),
    )


# --- fields --------------------------------------------------------------------------------


def _title(soup: BeautifulSoup) -> str:
    tag = soup.find("title")
    return markup.text_of(tag, MAX_HEADLINE * 4) if isinstance(tag, Tag) else ""


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


def _is_site(suffix: str, site_name: str, url: str) -> bool:
    """Whether a title suffix names the site: its og:site_name, its domain or a label of it."""
    key = markup.key(suffix)
    if len(key) < 2:
        return False
    if site_name and key == markup.key(site_name):
        return True
    host = _host(url)
    if key == markup.key(host):
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
