"""Beats: the shared default taxonomy, plus an organisation's own."""

from __future__ import annotations

import secrets
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm import audit
from crm.accounts import Actor
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.i18n import N_
from crm.models import Beat, ContactBeat
from crm.models.base import Input
from crm.search import fold

# The shared default taxonomy, present in every database (see the initial migration).
DEFAULT_BEATS: list[tuple[str, str]] = [
    ("rule-of-law", N_("Rule of law and justice")),
    ("corruption", N_("Corruption and public procurement")),
    ("eu-integration", N_("EU integration")),
    ("kosovo-serbia-dialogue", N_("Kosovo–Serbia dialogue")),
    ("minority-rights", N_("Minority rights")),
    ("human-rights", N_("Human rights")),
    ("gender-equality", N_("Gender equality")),
    ("gender-based-violence", N_("Gender-based violence")),
    ("environment", N_("Environment")),
    ("air-pollution", N_("Air pollution")),
    ("energy", N_("Energy")),
    ("education", N_("Education")),
    ("health", N_("Health")),
    ("social-welfare", N_("Social welfare")),
    ("local-government", N_("Local government")),
    ("elections", N_("Elections and parliament")),
    ("economy", N_("Economy")),
    ("labour", N_("Labour and employment")),
    ("diaspora", N_("Diaspora")),
    ("culture", N_("Culture")),
    ("youth", N_("Youth")),
    ("media-freedom", N_("Media freedom")),
    ("disability-rights", N_("Disability rights")),
    ("lgbti-rights", N_("LGBTI rights")),
    ("transitional-justice", N_("War crimes and transitional justice")),
]


async def ensure_default_beats(session: AsyncSession) -> None:
    """Insert any default beat that is missing; safe to run on every start."""
    stmt = select(Beat.slug).where(Beat.org_id.is_(None))
    present = set((await session.execute(stmt)).scalars())
    session.add_all(Beat(slug=s, name=n) for s, n in DEFAULT_BEATS if s not in present)
    await session.commit()


class BeatIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


def visible(actor: Actor) -> ColumnElement[bool]:
    return or_(Beat.org_id.is_(None), Beat.org_id == actor.org_id)


async def list_beats(session: AsyncSession, actor: Actor) -> list[tuple[Beat, int]]:
    """Every beat the organisation can use, with how many of its contacts follow it."""
    from crm.models import Contact

    used = (
        select(func.count())
        .select_from(ContactBeat)
        .join(Contact, Contact.id == ContactBeat.contact_id)
        .where(ContactBeat.beat_id == Beat.id, Contact.org_id == actor.org_id)
        .scalar_subquery()
    )
    stmt = select(Beat, used).where(visible(actor)).order_by(Beat.name)
    return [(b, n) for b, n in (await session.execute(stmt)).all()]


async def all_beats(session: AsyncSession, actor: Actor) -> list[Beat]:
    stmt = select(Beat).where(visible(actor)).order_by(Beat.name)
    return list((await session.execute(stmt)).scalars())


async def get_beat(session: AsyncSession, actor: Actor, beat_id: int) -> Beat:
    beat = await session.get(Beat, beat_id)
    if beat is None or beat.org_id not in (None, actor.org_id):
        raise NotFound("beat")
    return beat


async def create_beat(session: AsyncSession, actor: Actor, data: BeatIn) -> Beat:
    actor.require_write()
    slug = fold(data.name).replace(" ", "-")[:80] or f"beat-{secrets.token_hex(4)}"
    taken = await session.execute(select(Beat.id).where(visible(actor), Beat.slug == slug))
    if taken.first() is not None:
        raise InvalidInput({"name": N_("A beat with that name already exists.")})
    beat = Beat(org_id=actor.org_id, slug=slug, name=data.name)
    session.add(beat)
    await session.flush()
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="beat", entity_id=beat.id, changes={"name": beat.name},
    )  # fmt: skip
    await session.commit()
    return beat


async def _own_beat(session: AsyncSession, actor: Actor, beat_id: int) -> Beat:
    actor.require_write()
    beat = await get_beat(session, actor, beat_id)
    if beat.org_id is None:
        raise PermissionDenied(N_("The default beats are shared and cannot be changed."))
    return beat


async def rename_beat(session: AsyncSession, actor: Actor, beat_id: int, data: BeatIn) -> Beat:
    beat = await _own_beat(session, actor, beat_id)
    beat.name = data.name
    session.add(beat)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="beat", entity_id=beat.id, changes={"name": beat.name},
    )  # fmt: skip
    await session.commit()
    return beat


async def delete_beat(session: AsyncSession, actor: Actor, beat_id: int) -> None:
    beat = await _own_beat(session, actor, beat_id)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="delete",
        entity="beat", entity_id=beat.id, changes={"name": beat.name},
    )  # fmt: skip
    await session.delete(beat)
    await session.commit()
