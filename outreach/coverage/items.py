"""Coverage items: what got published, logged by hand (print, TV, radio), from a pasted link,
or confirmed from a monitoring suggestion. A confirmed item is on each byline contact's
timeline; the same article (by its normalised address) is logged once per organisation."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, StringConstraints, field_validator
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, coalitions
from crm.accounts import Actor
from crm.errors import InvalidInput, NotFound
from crm.events import get_event, list_events
from crm.health import store as health_store
from crm.i18n import N_
from crm.models import (
    Campaign,
    Contact,
    ContactOutletRole,
    CoverageByline,
    CoverageClipping,
    CoverageItem,
    Event,
    Interaction,
    Outlet,
)
from crm.models.base import DbId, Input
from crm.search import fold, like_pattern, query_terms, search_key
from crm.settings import Settings
from outreach.campaigns import readable_campaign

MAX_BYLINE = 20
MAX_CANDIDATES = 300  # an outlet's journalists offered for the byline
MAX_FOUND = 20  # contacts a byline search offers
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
# Query parameters that only say where a reader came from: the same article without them.
_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref|share)$", re.I)
# What a clipping may be, by its first bytes (never by the name or type the browser gives).
CLIPPING_TYPES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


class CoverageIn(Input):
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
    headline: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    outlet_id: DbId | None = None
    authors: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]] = Field(
        default_factory=list, max_length=MAX_BYLINE
    )
    byline: list[DbId] = Field(default_factory=list, max_length=MAX_BYLINE)
    published_on: date
    medium: Literal["online", "print", "tv", "radio"] = "online"
    reach: int | None = Field(default=None, ge=0, le=1_000_000_000)
    tone: Literal["positive", "neutral", "negative", ""] = ""
    language: Literal["en", "sq", "sr-Latn", "sr-Cyrl", ""] = ""
    key_messages: list[Text] = Field(default_factory=list, max_length=20)
    campaign_id: DbId | None = None
    event_id: DbId | None = None
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value:
            return value
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value):
            value = "https://" + value
        parts = urlsplit(value)
        bad = any(c.isspace() or ord(c) < 32 for c in value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or bad:
            raise ValueError(
                N_("Enter the article's web address, like https://www.outlet.example/…")
            )
        return value

    @field_validator("authors", "key_messages")
    @classmethod
    def _no_blanks(cls, values: list[str]) -> list[str]:
        seen: list[str] = []
        for value in values:
            if value and value not in seen:
                seen.append(value)
        return seen

    @field_validator("published_on")
    @classmethod
    def _not_ancient(cls, value: date) -> date:
        if value.year < 1990 or value > date.today() + timedelta(days=366):
            raise ValueError(N_("Enter the date it was published."))
        return value


def url_key(url: str) -> str | None:
    """The same article's key however its address was copied: scheme, `www.`, a trailing
    slash, the fragment and tracking parameters do not count."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)))
    basis = urlunsplit(("", host, path, query, ""))
    return hashlib.sha256(basis.encode()).hexdigest()


async def get_coverage(session: AsyncSession, actor: Actor, item_id: int) -> CoverageItem:
    item = await session.get(CoverageItem, item_id)
    if item is None or item.org_id != actor.org_id:
        raise NotFound("coverage")
    return item


@dataclass
class CoverageView:
    item: CoverageItem
    outlet: Outlet | None
    byline: list[Contact]
    campaign_name: str
    event_title: str


async def coverage_view(session: AsyncSession, actor: Actor, item_id: int) -> CoverageView:
    item = await get_coverage(session, actor, item_id)
    outlet = await session.get(Outlet, item.outlet_id) if item.outlet_id else None
    byline = (
        await session.execute(
            select(Contact)
            .join(CoverageByline, CoverageByline.contact_id == Contact.id)
            .where(CoverageByline.coverage_id == item.id)
            .order_by(Contact.family_name, Contact.given_name)
        )
    ).scalars()
    campaign = await session.get(Campaign, item.campaign_id) if item.campaign_id else None
    event = await session.get(Event, item.event_id) if item.event_id else None
    return CoverageView(
        item, outlet, list(byline), campaign.name if campaign else "", event.title if event else ""
    )


@dataclass
class CoverageRow:
    item: CoverageItem
    outlet_name: str


async def list_coverage(
    session: AsyncSession,
    actor: Actor,
    *,
    state: str = "confirmed",
    campaign_id: int | None = None,
    event_id: int | None = None,
    outlet_id: DbId | None = None,
    contact_id: int | None = None,
    q: str = "",
    since: date | None = None,
    until: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[CoverageRow], int]:
    """The organisation's coverage, newest first, and how many there are."""
    conds = [CoverageItem.org_id == actor.org_id, CoverageItem.state == state]
    if campaign_id is not None:
        conds.append(CoverageItem.campaign_id == campaign_id)
    if event_id is not None:
        conds.append(CoverageItem.event_id == event_id)
    if outlet_id is not None:
        conds.append(CoverageItem.outlet_id == outlet_id)
    if contact_id is not None:
        conds.append(
            CoverageItem.id.in_(  # type: ignore[union-attr]
                select(CoverageByline.coverage_id).where(CoverageByline.contact_id == contact_id)
            )
        )
    if since is not None:
        conds.append(CoverageItem.published_on >= since)
    if until is not None:
        conds.append(CoverageItem.published_on <= until)
    for term in query_terms(q):
        conds.append(CoverageItem.search_text.like(like_pattern(term), escape="\\"))
    total = (await session.execute(select(func.count(CoverageItem.id)).where(*conds))).scalar_one()
    rows = await session.execute(
        select(CoverageItem, Outlet.name)
        .outerjoin(Outlet, Outlet.id == CoverageItem.outlet_id)
        .where(*conds)
        .order_by(CoverageItem.published_on.desc(), CoverageItem.id.desc())  # type: ignore[attr-defined]
        .limit(limit)
        .offset(offset)
    )
    return [CoverageRow(item, name or "") for item, name in rows.all()], int(total)


async def _check_links(session: AsyncSession, actor: Actor, data: CoverageIn) -> None:
    """Everything the item points at is the organisation's own (or, for a joint campaign or a
    co-hosted event, one it takes part in)."""
    errors: dict[str, str] = {}
    if data.outlet_id is not None:
        outlet = await session.get(Outlet, data.outlet_id)
        if outlet is None or outlet.org_id != actor.org_id:
            errors["outlet_id"] = N_("Choose one of your outlets.")
    if data.byline:
        found = set(
            (
                await session.execute(
                    select(Contact.id).where(
                        Contact.org_id == actor.org_id,
                        Contact.id.in_(data.byline),  # type: ignore[union-attr]
                    )
                )
            ).scalars()
        )
        if found != set(data.byline):
            errors["byline"] = N_("Choose the byline from your contacts.")
    if data.campaign_id is not None:
        try:
            await readable_campaign(session, actor, data.campaign_id)
        except NotFound:
            errors["campaign_id"] = N_("Choose one of your campaigns.")
    if data.event_id is not None:
        try:
            await get_event(session, actor, data.event_id)
        except NotFound:
            errors["event_id"] = N_("Choose one of your events.")
    if errors:
        raise InvalidInput(errors)


async def same_article(
    session: AsyncSession, actor: Actor, key: str | None, item_id: int | None
) -> CoverageItem | None:
    if key is None:
        return None
    stmt = select(CoverageItem).where(
        CoverageItem.org_id == actor.org_id, CoverageItem.url_key == key
    )
    if item_id is not None:
        stmt = stmt.where(CoverageItem.id != item_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _already_logged(session: AsyncSession, actor: Actor, key: str | None) -> None:
    """Raise the "logged already" error for the item with this key, if there is one."""
    other = await same_article(session, actor, key, None)
    if other is not None:
        raise InvalidInput(
            {"url": N_("This article is logged already: “%(headline)s”.", headline=other.headline)},
            links={"url": f"/coverage/{other.id}"},
        )


def search_text(headline: str, authors: list[str], url: str) -> str:
    """What the coverage search box matches: headline, byline and site, folded."""
    return search_key(headline, " ".join(authors), host_of(url))[:2000]


def _apply(item: CoverageItem, data: CoverageIn) -> None:
    for name, value in data.model_dump(exclude={"byline"}).items():
        setattr(item, name, value)
    item.url_key = url_key(data.url)  # a suggestion's feed_key stays whatever the address
    item.search_text = search_text(data.headline, data.authors, data.url)
    item.updated_at = datetime.now(UTC)


async def _set_byline(
    session: AsyncSession, actor: Actor, item: CoverageItem, contact_ids: list[int]
) -> None:
    """The byline, and the item on each byline contact's timeline (only once confirmed)."""
    assert item.id is not None
    before = await session.execute(
        select(CoverageByline.contact_id).where(CoverageByline.coverage_id == item.id)
    )
    await health_store.mark_stale(session, before.scalars().all())  # off their timelines
    await session.execute(delete(CoverageByline).where(CoverageByline.coverage_id == item.id))
    await session.execute(delete(Interaction).where(Interaction.coverage_id == item.id))
    for contact_id in dict.fromkeys(contact_ids):
        session.add(CoverageByline(coverage_id=item.id, contact_id=contact_id))
    if item.state != "confirmed" or not contact_ids:
        return
    outlet = await session.get(Outlet, item.outlet_id) if item.outlet_id else None
    when = datetime.combine(item.published_on, time(12), tzinfo=UTC)
    summary = f"{item.headline} — {outlet.name}" if outlet else item.headline
    for contact_id in dict.fromkeys(contact_ids):
        session.add(
            Interaction(
                org_id=item.org_id,
                contact_id=contact_id,
                kind="coverage",
                direction="none",
                occurred_at=when,
                summary=summary[:300],
                body=item.url,
                author_id=actor.user_id,
                campaign_id=item.campaign_id,
                event_id=item.event_id,
                coverage_id=item.id,
            )  # fmt: skip
        )
    await session.execute(
        update(Contact)
        .where(
            Contact.id.in_(contact_ids),  # type: ignore[union-attr]
            or_(Contact.last_interaction_at.is_(None), Contact.last_interaction_at < when),  # type: ignore[union-attr,operator]
        )
        .values(last_interaction_at=when)
        .execution_options(synchronize_session=False)
    )


async def create_coverage(
    session: AsyncSession, actor: Actor, data: CoverageIn, *, source: str = "manual"
) -> CoverageItem:
    """Log a published piece. The same article logged before is an error, except when it
    waits as a suggestion (or was dismissed): then the suggestion is what gets confirmed."""
    actor.require_write()
    await _check_links(session, actor, data)
    item = await same_article(session, actor, url_key(data.url), None)
    if item is not None and item.state == "confirmed":
        raise InvalidInput(
            {"url": N_("This article is logged already: “%(headline)s”.", headline=item.headline)},
            links={"url": f"/coverage/{item.id}"},
        )
    if item is None:
        item = CoverageItem(org_id=actor.org_id, headline=data.headline,
                            published_on=data.published_on, source=source,
                            created_by_id=actor.user_id)  # fmt: skip
    item.state = "confirmed"
    _apply(item, data)
    session.add(item)
    try:
        await session.flush()
    except IntegrityError:  # the same article, logged a moment ago (a double submit)
        await session.rollback()
        await _already_logged(session, actor, url_key(data.url))
        raise
    await _set_byline(session, actor, item, data.byline)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="coverage", entity_id=item.id, changes={"headline": item.headline},
    )  # fmt: skip
    await session.commit()
    return item


async def update_coverage(
    session: AsyncSession, actor: Actor, item_id: int, data: CoverageIn, *, confirm: bool = False
) -> CoverageItem:
    """Correct an item; `confirm` also turns a suggestion into coverage."""
    actor.require_write()
    item = await get_coverage(session, actor, item_id)
    await _check_links(session, actor, data)
    other = await same_article(session, actor, url_key(data.url), item.id)
    if other is not None:
        raise InvalidInput(
            {"url": N_("This article is logged already: “%(headline)s”.", headline=other.headline)},
            links={"url": f"/coverage/{other.id}"},
        )
    if confirm:
        item.state = "confirmed"
    _apply(item, data)
    session.add(item)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        await _already_logged(session, actor, url_key(data.url))
        raise
    await _set_byline(session, actor, item, data.byline)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id,
        action="confirm" if confirm else "update", entity="coverage", entity_id=item.id,
        changes={"headline": item.headline},
    )  # fmt: skip
    await session.commit()
    return item


async def confirm_coverage(session: AsyncSession, actor: Actor, item_id: int) -> CoverageItem:
    """A suggestion (or a dismissed one) confirmed as it is: it goes on the byline's timelines."""
    actor.require_write()
    item = await get_coverage(session, actor, item_id)
    if item.state == "confirmed":
        return item
    byline = (
        await session.execute(
            select(CoverageByline.contact_id).where(CoverageByline.coverage_id == item.id)
        )
    ).scalars()
    item.state, item.updated_at = "confirmed", datetime.now(UTC)
    session.add(item)
    await _set_byline(session, actor, item, list(byline))
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="confirm",
        entity="coverage", entity_id=item.id, changes={"headline": item.headline},
    )  # fmt: skip
    await session.commit()
    return item


async def dismiss_coverage(session: AsyncSession, actor: Actor, item_id: int) -> None:
    """A suggestion that is not about the organisation: kept as dismissed, so the same item is
    never suggested again."""
    actor.require_write()
    item = await get_coverage(session, actor, item_id)
    if item.state != "suggested":
        raise InvalidInput({"state": N_("Only a suggestion can be dismissed.")})
    item.state = "dismissed"
    session.add(item)
    audit.record(session, org_id=actor.org_id, user_id=actor.user_id, action="dismiss",
                 entity="coverage", entity_id=item.id)  # fmt: skip
    await session.commit()


async def delete_coverage(session: AsyncSession, actor: Actor, item_id: int) -> None:
    actor.require_write()
    item = await get_coverage(session, actor, item_id)
    byline = await session.execute(
        select(CoverageByline.contact_id).where(CoverageByline.coverage_id == item.id)
    )
    await health_store.mark_stale(session, byline.scalars().all())
    await session.execute(delete(Interaction).where(Interaction.coverage_id == item.id))
    await session.delete(item)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="delete",
        entity="coverage", entity_id=item_id, changes={"headline": item.headline},
    )  # fmt: skip
    await session.commit()


def byline_ids(view: CoverageView) -> list[int]:
    return [c.id for c in view.byline if c.id is not None]


# --- the clipping ------------------------------------------------------------------------


def clipping_type(data: bytes) -> str:
    """The clipping's type by its first bytes: a PDF or an image; '' for anything else."""
    for magic, kind in CLIPPING_TYPES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
              "image/webp": ".webp"}  # fmt: skip


def clipping_name(filename: str, kind: str) -> str:
    """The name to download the clipping by: the uploaded one, safe, ending as its content
    is (a scan named `faqja-1` or a PNG named `.pdf` opens in the right program)."""
    name = re.sub(r"[\x00-\x1f/\\\\]", "_", filename.rsplit("/", 1)[-1]).strip() or "clipping"
    stem, dot, ext = name.rpartition(".")
    ext = "." + ext.lower() if dot else ""
    if ext == ".jpeg" and kind == "image/jpeg":
        return name[:200]
    if ext != EXTENSIONS[kind]:
        wrong = bool(stem) and re.fullmatch(r"\.[a-z]{2,4}", ext) is not None  # .pdf, .jpg…
        name = (stem if wrong else name)[:190] + EXTENSIONS[kind]
    return name[-200:]


async def set_clipping(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    item_id: int,
    *,
    filename: str,
    data: bytes,
) -> CoverageItem:
    actor.require_write()
    item = await get_coverage(session, actor, item_id)
    if not data:
        raise InvalidInput({"clipping": N_("Choose a file.")})
    if len(data) > settings.clipping_max_bytes:
        raise InvalidInput(
            {
                "clipping": N_(
                    "The file is larger than %(n)s MB.",
                    n=f"{settings.clipping_max_bytes / 1048576:.0f}",
                )
            }  # fmt: skip
        )
    kind = clipping_type(data)
    if not kind:
        raise InvalidInput({"clipping": N_("A clipping is a PDF, PNG, JPEG or WebP file.")})
    name = clipping_name(filename, kind)
    existing = await session.get(CoverageClipping, item.id)
    if existing is None:
        assert item.id is not None
        session.add(CoverageClipping(coverage_id=item.id, data=data))
    else:
        existing.data = data
        session.add(existing)
    item.clipping_name, item.clipping_type, item.clipping_size = name, kind, len(data)
    session.add(item)
    await session.commit()
    return item


async def clipping_of(
    session: AsyncSession, actor: Actor, item_id: int
) -> tuple[CoverageItem, bytes]:
    item = await get_coverage(session, actor, item_id)
    stored = await session.get(CoverageClipping, item.id)
    if stored is None:
        raise NotFound("clipping")
    return item, stored.data


async def remove_clipping(session: AsyncSession, actor: Actor, item_id: int) -> None:
    actor.require_write()
    item = await get_coverage(session, actor, item_id)
    await session.execute(delete(CoverageClipping).where(CoverageClipping.coverage_id == item.id))
    item.clipping_name, item.clipping_type, item.clipping_size = "", "", 0
    session.add(item)
    await session.commit()


# --- matching names and addresses ---------------------------------------------------------


def host_of(url: str) -> str:
    return (urlsplit(url if "://" in url else f"https://{url}").hostname or "").removeprefix("www.")


async def outlet_by_domain(session: AsyncSession, actor: Actor, url: str) -> Outlet | None:
    """The organisation's outlet whose website is on the article's domain (or a parent of it:
    `sport.koha.net` is Koha's)."""
    host = host_of(url)
    if not host:
        return None
    outlets = (
        await session.execute(
            select(Outlet).where(Outlet.org_id == actor.org_id, Outlet.website != "")
        )
    ).scalars()
    best: tuple[int, Outlet] | None = None
    for outlet in outlets:
        site = host_of(outlet.website)
        if site and (host == site or host.endswith("." + site)):
            if best is None or len(site) > best[0]:
                best = (len(site), outlet)
    return best[1] if best else None


def split_byline(text: str | None) -> list[str]:
    """The names in a byline as typed: one per line or separated by semicolons; commas
    separate names too, except in one name written family name first ("Krasniqi, Arbën")."""
    names: list[str] = []
    for part in re.split(r"[\n;]", text or ""):
        pieces = [p.strip() for p in part.split(",") if p.strip()]
        if len(pieces) == 2 and all(len(p.split()) == 1 for p in pieces):
            names.append(", ".join(pieces))  # family name, given name
        else:
            names.extend(pieces)
    return names


async def contacts_named(
    session: AsyncSession, actor: Actor, names: list[str]
) -> tuple[list[Contact], list[str]]:
    """The contacts a byline names (case, diacritics and script aside, in either order of
    given and family name), and the names that match no one or more than one contact."""
    found: list[Contact] = []
    unmatched: list[str] = []
    for name in names[:MAX_BYLINE]:
        words = fold(name).replace(",", " ").split()
        if not words:
            continue
        conds = [Contact.org_id == actor.org_id]
        conds += [Contact.search_text.like(like_pattern(w), escape="\\") for w in words[:4]]
        candidates = (await session.execute(select(Contact).where(*conds).limit(20))).scalars()
        wanted = " ".join(sorted(words))
        same = [
            c
            for c in candidates
            if " ".join(sorted(fold(f"{c.given_name} {c.family_name}").split())) == wanted
        ]
        if len(same) == 1 and same[0] not in found:
            found.append(same[0])
        elif not same or len(same) > 1:
            unmatched.append(name)
    return found, unmatched


@dataclass
class Choices:
    """What a coverage form offers: outlets, campaigns and events to link to."""

    outlets: list[Outlet]
    campaigns: list[tuple[int, str]]
    events: list[tuple[int, str]]


async def form_choices(session: AsyncSession, actor: Actor) -> Choices:
    outlets = (
        await session.execute(
            select(Outlet).where(Outlet.org_id == actor.org_id).order_by(Outlet.sort_key)
        )
    ).scalars()
    joint = await coalitions.accepted_coalition_ids(session, actor.org_id)
    campaigns = await session.execute(
        select(Campaign.id, Campaign.name)
        .where(
            (Campaign.org_id == actor.org_id)
            | (Campaign.coalition_id.in_(joint) & (Campaign.status != "draft"))  # type: ignore[union-attr]
        )
        .where(Campaign.kind != "answer")
        .order_by(Campaign.created_at.desc())
        .limit(200)
    )
    events = [
        *await list_events(session, actor.org_id),
        *await list_events(session, actor.org_id, past=True),
    ]
    return Choices(
        list(outlets),
        [(i, n) for i, n in campaigns.all()],
        [(e.id, e.title) for e in events if e.id is not None][:200],
    )


async def byline_candidates(
    session: AsyncSession,
    actor: Actor,
    outlet_id: int | None,
    chosen: list[int],
    q: str = "",
) -> list[Contact]:
    """Whom the byline may be: those chosen (always), the outlet's current journalists, and
    the contacts a name search finds (a freelancer, someone who moved on)."""
    own = Contact.org_id == actor.org_id
    found: dict[int | None, Contact] = {}
    if chosen:
        rows = await session.execute(
            select(Contact).where(own, Contact.id.in_(chosen[:MAX_BYLINE]))  # type: ignore[union-attr]
        )
        found.update((c.id, c) for c in rows.scalars())
    if outlet_id is not None:
        staff = select(ContactOutletRole.contact_id).where(
            ContactOutletRole.outlet_id == outlet_id, ContactOutletRole.ended_on.is_(None)
        )
        rows = await session.execute(
            select(Contact)
            .where(own, Contact.id.in_(staff))  # type: ignore[union-attr]
            .order_by(Contact.sort_key)
            .limit(MAX_CANDIDATES)
        )
        found.update((c.id, c) for c in rows.scalars())
    terms = query_terms(q)
    if terms:
        conds = [Contact.search_text.like(like_pattern(t), escape="\\") for t in terms]
        rows = await session.execute(
            select(Contact).where(own, *conds).order_by(Contact.sort_key).limit(MAX_FOUND)
        )
        found.update((c.id, c) for c in rows.scalars())
    return sorted(found.values(), key=lambda c: c.sort_key)
