"""When an article was published, by the page's account: the first of its `<meta>` tags,
JSON-LD and `<time>` elements that reads as an ISO 8601, RFC 2822 or "14.03.2024 10:30"
time, in UTC."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime
from typing import Any

from bs4 import BeautifulSoup

from outreach.coverage import markup

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
_DOTTED_DATE = re.compile(
    r"^(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})\.\s?(?P<y>\d{4})\.?(?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2}))?$"
)


def published(
    soup: BeautifulSoup, metas: dict[str, list[str]], article: dict[str, Any]
) -> datetime | None:
    candidates = [
        *metas.get("article:published_time", []),
        markup.string(article.get("datePublished")),
        *[value for name in _DATE_NAMES for value in metas.get(name, [])],
        *metas.get("datepublished", []),
        *_time_elements(soup),
    ]
    return next((t for t in map(_parse_time, candidates) if t is not None), None)


def _time_elements(soup: BeautifulSoup) -> list[str]:
    """`<time datetime>` values most likely to be the article's: marked as the publication
    date, then inside the article, then the page's only one (more may be a clock or a list)."""
    times = [tag for tag in soup.find_all("time") if markup.attr(tag, "datetime").strip()]
    times = times[: markup.MAX_CANDIDATES]
    marked = [
        t
        for t in times
        if markup.attr(t, "itemprop").lower() == "datepublished"
        or "publish" in markup.attr(t, "class").lower()
        or "pubdate" in {key.lower() for key in t.attrs}
    ]
    in_article = [t for t in times if markup.in_article(t)]
    chosen = marked or in_article[:1] or (times if len(times) == 1 else [])
    return [markup.attr(t, "datetime") for t in chosen]


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
