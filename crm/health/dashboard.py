"""The relationship-health dashboard: SQL aggregates over `contact_health` (kept up to date
by crm.health.store), filtered by beat, outlet and list, over a period of 30, 90 or 365
days. Every number is the organisation's own; nothing here loops over contacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.contacts import ContactFilter, contact_conditions, smart_filters
from crm.health import followups
from crm.health.score import PERIODS, STATES
from crm.models import Beat, Contact, ContactBeat, ContactHealth, ContactOutletRole, Outlet

LETTERS = {"n": "new", "w": "warm", "c": "cooling", "x": "cold"}
OVERPITCH = 4  # pitches in 30 days to one journalist that count as over-pitching
TOP = 3  # strongest relationships shown per beat and per outlet
ROWS = 15


@dataclass(frozen=True)
class Filters:
    beat_id: int | None = None
    outlet_id: int | None = None
    list_id: int | None = None
    period: int = 90

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            object.__setattr__(self, "period", 90)


@dataclass
class Person:
    contact_id: int
    name: str
    score: int
    state: str
    last_two_way_at: datetime | None = None
    pitches: int = 0
    replies: int = 0
    since: datetime | None = None


@dataclass
class Rate:
    """Replies per pitch for one outlet or beat over the period."""

    id: int
    name: str
    pitches: int
    replies: int

    @property
    def percent(self) -> int:
        return round(100 * self.replies / self.pitches) if self.pitches else 0


@dataclass
class Dashboard:
    filters: Filters
    states: dict[str, int]
    states_before: dict[str, int]
    trend: list[dict[str, int]]  # one per week, oldest first: state → contacts
    going_cold: list[Person]
    going_cold_total: int
    strongest_by_beat: list[tuple[str, list[Person]]]
    strongest_by_outlet: list[tuple[str, list[Person]]]
    rate_by_outlet: list[Rate]
    rate_by_beat: list[Rate]
    pitch_spread: dict[str, int]  # pitches in 30 days (0, 1, 2, 3, 4+) → journalists
    over_pitched: list[Person]
    awaiting: list[Person]
    awaiting_total: int
    follow_ups: list[followups.FollowUpRow]
    follow_ups_total: int
    computed_at: datetime | None = None
    total: int = field(default=0)


def _name() -> Any:
    return (Contact.given_name + " " + Contact.family_name).label("name")


async def dashboard(session: AsyncSession, actor: Actor, f: Filters, today: date) -> Dashboard:
    org = actor.org_id
    smart = await smart_filters(session, org, f.list_id)
    chosen = ContactFilter(beat_id=f.beat_id, outlet_id=f.outlet_id, list_id=f.list_id)
    conds = [
        ContactHealth.org_id == org,
        *contact_conditions(org, chosen, smart_lists=smart, for_count=True),
    ]

    def scoped(*columns: Any) -> Any:
        return (
            select(*columns)
            .select_from(ContactHealth)
            .join(Contact, Contact.id == ContactHealth.contact_id)
            .where(*conds)
        )

    states = dict.fromkeys(STATES, 0)
    for state, n in await session.execute(
        scoped(ContactHealth.state, func.count()).group_by(ContactHealth.state)
    ):
        states[state] = n
    before = dict.fromkeys(STATES, 0)
    for state, n in await session.execute(
        scoped(ContactHealth.state_before, func.count()).group_by(ContactHealth.state_before)
    ):
        before[state] = n
    trend = await _trend(session, scoped)
    computed = (await session.execute(scoped(func.max(ContactHealth.computed_at)))).scalar()

    cold_q = scoped(
        ContactHealth.contact_id, _name(), ContactHealth.score, ContactHealth.state,
        ContactHealth.last_two_way_at,
    ).where(ContactHealth.state == "cooling", ContactHealth.state_before == "warm")  # fmt: skip
    going_cold = [
        Person(cid, name, s, st, last)
        for cid, name, s, st, last in await session.execute(
            cold_q.order_by(ContactHealth.score.desc()).limit(ROWS)  # type: ignore[attr-defined]
        )
    ]
    cold_total = (
        await session.execute(select(func.count()).select_from(cold_q.subquery()))
    ).scalar_one()

    pitches = getattr(ContactHealth, f"pitches_{f.period}d")
    replies = getattr(ContactHealth, f"replies_{f.period}d")
    spread = {"0": 0, "1": 0, "2": 0, "3": 0, f"{OVERPITCH}+": 0}
    bucket: Any = func.min(ContactHealth.pitches_30d, OVERPITCH)
    if session.bind.dialect.name != "sqlite":
        bucket = func.least(ContactHealth.pitches_30d, OVERPITCH)
    for n, count in await session.execute(scoped(bucket, func.count()).group_by(bucket)):
        spread["4+" if n >= OVERPITCH else str(n)] = count
    over = [
        Person(cid, name, s, st, pitches=p, replies=r)
        for cid, name, s, st, p, r in await session.execute(
            scoped(
                ContactHealth.contact_id, _name(), ContactHealth.score, ContactHealth.state,
                ContactHealth.pitches_30d, ContactHealth.replies_30d,
            )
            .where(ContactHealth.pitches_30d >= OVERPITCH)
            .order_by(ContactHealth.pitches_30d.desc(), ContactHealth.replies_30d)  # type: ignore[attr-defined]
            .limit(ROWS)
        )
    ]  # fmt: skip
    waiting_q = scoped(
        ContactHealth.contact_id,
        _name(),
        ContactHealth.score,
        ContactHealth.state,
        ContactHealth.awaiting_since,
    ).where(ContactHealth.awaiting_since.is_not(None))  # type: ignore[union-attr]
    awaiting = [
        Person(cid, name, s, st, since=since)
        for cid, name, s, st, since in await session.execute(
            waiting_q.order_by(ContactHealth.awaiting_since).limit(ROWS)
        )
    ]
    waiting_total = (
        await session.execute(select(func.count()).select_from(waiting_q.subquery()))
    ).scalar_one()

    ids = scoped(ContactHealth.contact_id)
    due, due_total = await followups.open_follow_ups(
        session, actor, until=today, contact_ids=ids if _filtered(f) else None, limit=ROWS
    )
    return Dashboard(
        f, states, before, trend, going_cold, int(cold_total),
        await _strongest(session, scoped, by="beat"),
        await _strongest(session, scoped, by="outlet"),
        await _rates(session, scoped, pitches, replies, by="outlet"),
        await _rates(session, scoped, pitches, replies, by="beat"),
        spread, over, awaiting, int(waiting_total), due, due_total, computed,
        sum(states.values()),
    )  # fmt: skip


def _filtered(f: Filters) -> bool:
    return bool(f.beat_id or f.outlet_id or f.list_id)


async def _trend(session: AsyncSession, scoped: Any) -> list[dict[str, int]]:
    """Contacts per state at the end of each week: the histories grouped (few distinct
    strings however many contacts), then counted letter by letter."""
    weeks: list[dict[str, int]] = []
    for history, n in await session.execute(
        scoped(ContactHealth.history, func.count()).group_by(ContactHealth.history)
    ):
        for i, letter in enumerate(history or ""):
            while len(weeks) <= i:
                weeks.append(dict.fromkeys(STATES, 0))
            weeks[i][LETTERS.get(letter, "new")] += n
    return weeks


def _grouping(by: str) -> tuple[Any, Any, Any]:
    """The join to a contact's beats or current outlets: (link table, its key, its name)."""
    if by == "beat":
        return ContactBeat, ContactBeat.beat_id, Beat
    return ContactOutletRole, ContactOutletRole.outlet_id, Outlet


def _joined(query: Select[Any], by: str) -> Select[Any]:
    link, key, named = _grouping(by)
    query = query.join(link, link.contact_id == ContactHealth.contact_id).join(
        named, named.id == key
    )
    if by == "outlet":
        query = query.where(ContactOutletRole.ended_on.is_(None))  # type: ignore[union-attr]
    return query


async def _strongest(
    session: AsyncSession, scoped: Any, *, by: str
) -> list[tuple[str, list[Person]]]:
    """The TOP warmest relationships of each beat or outlet (warm ones only)."""
    _link, key, named = _grouping(by)
    rank = (
        func.row_number()
        .over(partition_by=key, order_by=(ContactHealth.score.desc(), Contact.sort_key))  # type: ignore[attr-defined]
        .label("rank")
    )
    inner = _joined(
        scoped(
            key.label("group_id"), named.name.label("group_name"), ContactHealth.contact_id,
            _name(), ContactHealth.score, ContactHealth.state, rank,
        ).where(ContactHealth.state == "warm"),
        by,
    ).subquery()  # fmt: skip
    rows = await session.execute(
        select(inner).where(inner.c.rank <= TOP).order_by(inner.c.group_name, inner.c.rank)
    )
    groups: dict[str, list[Person]] = {}
    for _gid, group, cid, name, s, st, _rank in rows:
        groups.setdefault(group, []).append(Person(cid, name, s, st))
    return list(groups.items())


async def _rates(
    session: AsyncSession, scoped: Any, pitches: Any, replies: Any, *, by: str
) -> list[Rate]:
    """Replies per pitch by outlet or beat, where the most pitches went first."""
    _link, key, named = _grouping(by)
    sent = func.sum(pitches)
    rows = await session.execute(
        _joined(scoped(key, named.name, sent, func.sum(replies)), by)
        .group_by(key, named.name)
        .having(sent > 0)
        .order_by(sent.desc(), named.name)
        .limit(ROWS)
    )
    return [Rate(i, name, int(p), int(r)) for i, name, p, r in rows]
