"""Add coverage by URL: the pasted link is fetched and read, its outlet found by domain and
its byline matched to contacts, and the officer confirms or corrects what was found."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.i18n import N_
from crm.models import Contact, CoverageItem, Outlet
from crm.settings import Settings
from outreach.coverage import fetch, pages
from outreach.coverage.items import (
    CoverageIn,
    contacts_named,
    outlet_by_domain,
    same_article,
    url_key,
)

LOCAL = ZoneInfo("Europe/Belgrade")  # where the outlets publish: a date is theirs
_MEDIUM = {"tv": "tv", "radio": "radio", "print": "print", "online": "online", "agency": "online"}


@dataclass
class Draft:
    values: dict[str, Any]  # the coverage form, filled in with what was found
    byline: list[Contact] = field(default_factory=list)  # byline names matched to contacts
    unmatched: list[str] = field(default_factory=list)  # byline names no contact has
    outlet: Outlet | None = None
    existing: CoverageItem | None = None  # the same article, logged before
    error: str = ""  # why the page could not be read ('' if it was)


FIELDS = (
    "url", "headline", "outlet_id", "authors", "byline_ids", "published_on", "medium", "reach",
    "tone", "language", "key_messages", "campaign_id", "event_id", "notes",
)  # fmt: skip


def blank_values(**given: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "url": "", "headline": "", "outlet_id": None, "authors": "", "byline_ids": [],
        "published_on": datetime.now(LOCAL).date().isoformat(), "medium": "online", "reach": None,
        "tone": "", "language": "", "key_messages": "", "campaign_id": None,
        "event_id": None, "notes": "",
    }  # fmt: skip
    values.update(given)
    return values


async def draft_from_url(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    url: str,
    typed: dict[str, Any] | None = None,
) -> Draft:
    """What the page says, ready for the officer to confirm; a page that cannot be read
    still gives a form with the link in it, to fill in by hand. What the officer `typed`
    before is kept where the page says nothing."""
    url = url.strip()
    given = {k: v for k, v in (typed or {}).items() if k in FIELDS and v not in (None, "", [])}
    try:
        url = CoverageIn.model_validate(
            {"url": url, "headline": "-", "published_on": date.today()}
        ).url
    except ValueError:
        return Draft(
            blank_values(**(given | {"url": url})),
            error=N_("Enter the article's web address, like https://www.outlet.example/…"),
        )
    draft = Draft(blank_values(**(given | {"url": url})))
    draft.existing = await same_article(session, actor, url_key(url), None)
    try:
        page = await fetch.fetch(
            url,
            timeout=settings.coverage_fetch_timeout,
            allow_private=settings.coverage_fetch_private,
        )
    except fetch.FetchError as exc:
        draft.error = exc.args[0]
        draft.outlet = await outlet_by_domain(session, actor, url)
        _from_outlet(draft)
        return draft
    meta = await asyncio.to_thread(
        pages.read_page, page.body, url=page.url, content_type=page.content_type
    )
    found_url = meta.url or page.url
    draft.values["url"] = found_url
    if draft.existing is None:
        draft.existing = await same_article(session, actor, url_key(found_url), None)
    if meta.headline:
        draft.values["headline"] = meta.headline
    if meta.authors:
        draft.values["authors"] = "\n".join(meta.authors)
    if meta.published_at is not None:
        draft.values["published_on"] = meta.published_at.astimezone(LOCAL).date().isoformat()
    if meta.language:
        draft.values["language"] = meta.language
    draft.outlet = await outlet_by_domain(session, actor, found_url)
    _from_outlet(draft)
    draft.byline, draft.unmatched = await contacts_named(session, actor, list(meta.authors))
    ticked = [*draft.values["byline_ids"], *(c.id for c in draft.byline)]
    draft.values["byline_ids"] = list(dict.fromkeys(ticked))
    return draft


def _from_outlet(draft: Draft) -> None:
    """The outlet found by the address, with its medium and reach where none was given."""
    outlet = draft.outlet
    if outlet is None:
        return
    draft.values["outlet_id"] = outlet.id
    if draft.values["medium"] == "online":  # the default: the outlet knows better
        draft.values["medium"] = _MEDIUM.get(outlet.medium, "online")
    if draft.values["reach"] in (None, ""):
        draft.values["reach"] = outlet.reach
    if not draft.values.get("language") and len(outlet.languages) == 1:
        draft.values["language"] = outlet.languages[0]
