"""`beatbook demo`: a realistic, fictional landscape to try Beatbook with."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import coalitions, demo_landscape, lists
from crm.accounts import Actor, create_user, get_or_create_org
from crm.beats import all_beats
from crm.contacts import ContactIn, RoleIn, create_contact
from crm.errors import InvalidInput
from crm.lists import ListIn
from crm.models import (
    COVERAGE_MEDIA,
    Contact,
    CoverageByline,
    CoverageItem,
    Interaction,
    Organisation,
    Outlet,
)
from crm.outlets import OutletIn, create_outlet
from crm.search import search_key

DEMO_PASSWORD = "beatbook-demo"
ORGS = (
    ("Qendra për Drejtësi dhe Transparencë", "qdt", 300),
    ("Rrjeti Gjelbër i Kosovës", "rgk", 120),
)


# What coverage monitoring looks for: each organisation's name in the other languages.
KEYWORDS = {
    "qdt": ["Centar za pravdu i transparentnost", "Center for Justice and Transparency", "QDT"],
    "rgk": ["Zelena mreža Kosova", "Kosovo Green Network", "RGK"],
}


async def load_demo(session: AsyncSession, *, seed: int = 7) -> list[tuple[str, str, str]]:
    """Load demo data into an empty database; returns the (org, email, role) logins made."""
    if (await session.execute(select(func.count(Organisation.id)))).scalar_one():
        return []
    rng = random.Random(seed)
    logins: list[tuple[str, str, str]] = []
    actors: list[Actor] = []
    for name, short, _ in ORGS:
        org = await get_or_create_org(session, name)
        org.coverage_keywords = KEYWORDS[short]
        for role in ("owner", "editor", "viewer"):
            email = f"{role}@{short}.example"
            await create_user(
                session, email=email, password=DEMO_PASSWORD, org=org, role=role,
                name=f"{role.capitalize()} ({short.upper()})",
            )  # fmt: skip
            logins.append((name, email, role))
        await session.commit()
        actors.append(Actor(None, org.id or 0, "owner"))
    journalists = demo_landscape.generate_journalists(rng, 300, len(demo_landscape.OUTLETS))
    for actor, (_, _, count) in zip(actors, ORGS, strict=True):
        await _load_org(session, actor, rng, journalists[:count])
    coalition = await coalitions.create_coalition(
        session, actors[0], "Koalicioni për Ajër të Pastër"
    )
    await coalitions.invite_org(session, actors[0], coalition.id or 0, ORGS[1][0])
    await coalitions.respond(session, actors[1], coalition.id or 0, accept=True)
    return logins


async def _load_org(
    session: AsyncSession,
    actor: Actor,
    rng: random.Random,
    journalists: list[dict[str, Any]],
) -> None:
    outlets: list[Outlet] = []
    for raw in demo_landscape.OUTLETS:
        outlets.append(await create_outlet(session, actor, OutletIn.model_validate(raw)))
    beats = {b.slug: b.id for b in await all_beats(session, actor)}
    now = datetime.now(UTC)
    created: list[int] = []
    for j in journalists:
        roles = [RoleIn(outlet_id=outlets[j["outlet_index"]].id or 0, title=j["title"])]
        extra = j.get("freelance_extra_outlet_index")
        if extra is not None and extra != j["outlet_index"]:
            roles.append(RoleIn(outlet_id=outlets[extra].id or 0, title=j["title"]))
        data = ContactIn(
            given_name=j["given_name"],
            family_name=j["family_name"],
            emails=j["emails"],
            phones=j["phones"],
            social=j["social"],
            salutation=j["gender"],
            preferred_language=j["preferred_language"],
            languages=j["languages"],
            city=j["city"],
            region=j["region"],
            notes=j["notes"],
            beat_ids=[beats[s] for s in j["beat_slugs"] if s in beats],
            tags=j["tags"],
            roles=roles,
            legal_basis="public_source",
            legal_source="Outlet website and press accreditation list",
        )
        try:
            contact = await create_contact(session, actor, data)
        except InvalidInput:
            await session.rollback()
            continue
        await _add_history(session, actor, contact, outlets[j["outlet_index"]], rng, now)
        created.append(contact.id or 0)
    await session.commit()
    invitees = await lists.create_list(
        session, actor, ListIn(name="Press conference invitees", description="Usual Prishtina list")
    )
    await lists.add_members(session, actor, invitees.id or 0, rng.sample(created, 25))
    await lists.create_list(
        session,
        actor,
        ListIn(
            name="Environment reporters",
            kind="smart",
            filter={"beat_id": beats["environment"]},
        ),
    )
    for contact_id in rng.sample(created, 3):
        quiet = await session.get(Contact, contact_id)
        assert quiet is not None
        quiet.do_not_contact = True
        quiet.do_not_contact_reason = "Asked not to receive press releases"
    await session.commit()


async def _add_history(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    outlet: Outlet,
    rng: random.Random,
    now: datetime,
) -> None:
    """A few months of calls, meetings, notes, emails and coverage (each piece of coverage
    logged, with the journalist on its byline)."""
    last = None
    for _ in range(rng.choice((0, 1, 2, 3, 4, 6, 9))):
        kind = rng.choices(
            ("email_out", "email_in", "call", "meeting", "note", "coverage"), (5, 3, 3, 1, 2, 1)
        )[0]
        when = now - timedelta(days=rng.uniform(0, 150), hours=rng.uniform(0, 10))
        summary = rng.choice(demo_landscape.INTERACTION_SUMMARIES[kind])
        item = await _coverage(session, actor, contact, outlet, rng, when, summary)
        session.add(
            Interaction(
                org_id=actor.org_id,
                contact_id=contact.id or 0,
                kind=kind,
                direction={"email_out": "out", "email_in": "in", "call": "out"}.get(kind, "none"),
                occurred_at=when,
                summary=f"{summary} — {outlet.name}" if item else summary,
                coverage_id=item.id if item else None,
            )
        )
        last = max(last or when, when)
    if last:
        contact.last_interaction_at = last
        session.add(contact)


async def _coverage(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    outlet: Outlet,
    rng: random.Random,
    when: datetime,
    headline: str,
) -> CoverageItem | None:
    """A logged piece of coverage for a "coverage" line of the history (None for the rest)."""
    if headline not in demo_landscape.INTERACTION_SUMMARIES["coverage"]:
        return None
    medium = outlet.medium if outlet.medium in COVERAGE_MEDIA else "online"
    tone = rng.choices(("positive", "neutral", "negative", ""), (5, 4, 1, 2))[0]
    item = CoverageItem(
        org_id=actor.org_id, headline=headline, outlet_id=outlet.id,
        authors=[contact.full_name], published_on=when.date(), medium=medium,
        reach=outlet.reach, tone=tone,
        language=contact.preferred_language, search_text=search_key(headline, contact.full_name),
    )  # fmt: skip
    session.add(item)
    await session.flush()
    session.add(CoverageByline(coverage_id=item.id or 0, contact_id=contact.id or 0))
    return item
