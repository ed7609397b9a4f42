"""The relationship-health dashboard: SQL aggregates over `contact_health` (kept up to date
by crm.health.store), filtered by beat, outlet and list, over a period of 30, 90 or 365
days. Every number is the organisation's own; nothing here loops over contacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.contacts import ContactFilter, contact_conditions, smart_filters
from crm.health import followups
from crm.health.score import PERIODS, STATES
from crm.models import (
    Beat,
    Contact,
    ContactBeat,
    ContactHealth,
    ContactOutletRole,
    ListMember,
    Outlet,
)

LETTERS = {"n": "new", "w": "warm", "c": "cooling", "x": "cold"}
OVERPITCH = 4  # pitches in 30 days to one journalist that count as over-pitching
TOP = 3  # strongest relationships shown per beat and per outlet
ROWS = 15
AWAITING_DAYS = 60


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
    conds: list[Any] = [ContactHealth.org_id == org, *await _chosen(session, org, f)]
    ids = select(ContactHealth.contact_id).where(*conds) if _filtered(f) else None

    def scoped(*columns: Any) -> Any:
        return select(*columns).select_from(ContactHealth).where(*conds)

    def named(*columns: Any) -> Any:
        return scoped(ContactHealth.contact_id, _name(), *columns).join(
            Contact, Contact.id == ContactHealth.contact_id
        )

    summary = await _summary(session, scoped)
    cold_q = named(ContactHealth.score, ContactHealth.state, ContactHealth.last_two_way_at).where(
        ContactHealth.state.in_(("cooling", "cold")),
        ContactHealth.state_before == "warm",  # type: ignore[attr-defined]
    )
    going_cold = [
        Person(cid, name, s, st, last)
        for cid, name, s, st, last in await session.execute(
            cold_q.order_by(ContactHealth.score.desc(), ContactHealth.contact_id).limit(ROWS)  # type: ignore[attr-defined]
        )
    ]
    over = [
        Person(cid, name, s, st, pitches=p, replies=r)
        for cid, name, s, st, p, r in await session.execute(
            named(
                ContactHealth.score, ContactHealth.state, ContactHealth.pitches_30d,
                ContactHealth.replies_30d,
            )
            .where(ContactHealth.pitches_30d >= OVERPITCH)
            .order_by(ContactHealth.pitches_30d.desc(), ContactHealth.replies_30d)  # type: ignore[attr-defined]
            .limit(ROWS)
        )
    ]  # fmt: skip
    # Replies of the last AWAITING_DAYS: an older "thanks" is no longer waiting for anyone.
    waiting = ContactHealth.awaiting_since >= datetime.combine(
        today - timedelta(days=AWAITING_DAYS), time(0), tzinfo=UTC
    )
    awaiting = [
        Person(cid, name, s, st, since=since)
        for cid, name, s, st, since in await session.execute(
            named(ContactHealth.score, ContactHealth.state, ContactHealth.awaiting_since)
            .where(waiting)
            .order_by(ContactHealth.awaiting_since.desc(), ContactHealth.contact_id)  # type: ignore[union-attr]
            .limit(ROWS)
        )
    ]
    waiting_total = (await session.execute(scoped(func.count()).where(waiting))).scalar_one()
    due, due_total = await followups.open_follow_ups(
        session, actor, until=today, contact_ids=ids, limit=ROWS
    )
    pitches = getattr(ContactHealth, f"pitches_{f.period}d")
    replies = getattr(ContactHealth, f"replies_{f.period}d")
    return Dashboard(
        f, summary.states, summary.before, summary.trend, going_cold, summary.going_cold,
        await _strongest(session, scoped, by="beat"),
        await _strongest(session, scoped, by="outlet"),
        await _rates(session, scoped, pitches, replies, by="outlet"),
        await _rates(session, scoped, pitches, replies, by="beat"),
        summary.spread, over, awaiting, int(waiting_total), due, due_total, summary.computed_at,
        sum(summary.states.values()),
    )  # fmt: skip


async def _chosen(session: AsyncSession, org: int, f: Filters) -> list[Any]:
    """The filters as conditions on `contact_health`: each an id subquery that the database
    reads first, then looks the rows up by key (a smart list, as the contacts list filters)."""
    conds: list[Any] = []
    key = ContactHealth.contact_id
    if f.beat_id:
        conds.append(
            key.in_(select(ContactBeat.contact_id).where(ContactBeat.beat_id == f.beat_id))
        )  # type: ignore[attr-defined]
    if f.outlet_id:
        at = select(ContactOutletRole.contact_id).where(
            ContactOutletRole.outlet_id == f.outlet_id,
            ContactOutletRole.ended_on.is_(None),  # type: ignore[union-attr]
        )
        conds.append(key.in_(at))  # type: ignore[attr-defined]
    if f.list_id:
        smart = await smart_filters(session, org, f.list_id)  # 404 for another's list
        if smart:
            inner = ContactFilter(**{k: v for k, v in smart[f.list_id].items() if k != "list_id"})
            members: Any = select(Contact.id).where(*contact_conditions(org, inner, for_count=True))
        else:
            members = select(ListMember.contact_id).where(ListMember.list_id == f.list_id)
        conds.append(key.in_(members))  # type: ignore[attr-defined]
    return conds


def _filtered(f: Filters) -> bool:
    return bool(f.beat_id or f.outlet_id or f.list_id)


@dataclass
class _Summary:
    states: dict[str, int]
    before: dict[str, int]
    trend: list[dict[str, int]]
    spread: dict[str, int]
    going_cold: int
    computed_at: datetime | None


async def _summary(session: AsyncSession, scoped: Any) -> _Summary:
    """States now and 30 days before, the weekly trend and who is going cold, from one pass
    over an index: the combinations are few (histories repeat), so they are grouped in SQL
    and added up here. Then the spread of pitches and the time of the scores."""
    columns = (ContactHealth.state, ContactHealth.state_before, ContactHealth.history)
    rows = await session.execute(scoped(*columns, func.count()).group_by(*columns))
    found = _Summary(dict.fromkeys(STATES, 0), dict.fromkeys(STATES, 0), [],
                     {"0": 0, "1": 0, "2": 0, "3": 0, f"{OVERPITCH}+": 0}, 0, None)  # fmt: skip
    for state, before, history, n in rows:
        found.states[state] = found.states.get(state, 0) + n
        found.before[before] = found.before.get(before, 0) + n
        if state in ("cooling", "cold") and before == "warm":
            found.going_cold += n
        for i, letter in enumerate(history or ""):
            while len(found.trend) <= i:
                found.trend.append(dict.fromkeys(STATES, 0))
            found.trend[i][LETTERS.get(letter, "new")] += n
    pitched = ContactHealth.pitches_30d
    for n, count in await session.execute(scoped(pitched, func.count()).group_by(pitched)):
        found.spread[f"{OVERPITCH}+" if n >= OVERPITCH else str(n)] += count
    found.computed_at = (
        await session.execute(scoped(func.max(ContactHealth.computed_at)))
    ).scalar()
    return found


def _grouping(by: str) -> tuple[Any, Any, Any]:
    """A contact's beats or current outlets, once each (a contact may hold two roles at one
    outlet): (the pairs as a subquery, its group key, the group's table)."""
    if by == "beat":
        pairs = select(ContactBeat.contact_id, ContactBeat.beat_id.label("group_id"))  # type: ignore[attr-defined]
        named: Any = Beat
    else:
        pairs = (
            select(ContactOutletRole.contact_id, ContactOutletRole.outlet_id.label("group_id"))  # type: ignore[attr-defined]
            .where(ContactOutletRole.ended_on.is_(None))  # type: ignore[union-attr]
            .distinct()
        )
        named = Outlet
    link = pairs.subquery()
    return link, link.c.group_id, named


def _joined(query: Select[Any], link: Any, key: Any, named: Any) -> Select[Any]:
    return query.join(link, link.c.contact_id == ContactHealth.contact_id).join(
        named, named.id == key
    )


async def _strongest(
    session: AsyncSession, scoped: Any, *, by: str
) -> list[tuple[str, list[Person]]]:
    """The TOP warmest relationships of each beat or outlet (warm ones only), names read for
    those alone."""
    link, key, named = _grouping(by)
    rank = (
        func.row_number()
        .over(partition_by=key, order_by=(ContactHealth.score.desc(), ContactHealth.contact_id))  # type: ignore[attr-defined]
        .label("rank")
    )
    inner = _joined(
        scoped(
            key.label("group_id"), named.name.label("group_name"), ContactHealth.contact_id,
            ContactHealth.score, rank,
        ).where(ContactHealth.state == "warm"),
        link, key, named,
    ).subquery()  # fmt: skip
    top = (
        await session.execute(
            select(inner.c.group_id, inner.c.group_name, inner.c.contact_id, inner.c.score)
            .where(inner.c.rank <= TOP)
            .order_by(inner.c.group_name, inner.c.group_id, inner.c.rank)
        )
    ).all()
    names: dict[int, str] = dict(
        (
            await session.execute(
                select(Contact.id, _name()).where(
                    Contact.id.in_({cid for _i, _g, cid, _s in top})  # type: ignore[union-attr]
                )
            )
        ).all()
    )
    groups: dict[int, tuple[str, list[Person]]] = {}  # by id: two beats may share a name
    for gid, group, cid, score in top:
        groups.setdefault(gid, (group, []))[1].append(
            Person(cid, names.get(cid, ""), score, "warm")
        )
    return list(groups.values())


async def _rates(
    session: AsyncSession, scoped: Any, pitches: Any, replies: Any, *, by: str
) -> list[Rate]:
    """Replies per pitch by outlet or beat, where the most pitches went first."""
    link, key, named = _grouping(by)
    sent = func.sum(pitches)
    rows = await session.execute(
        _joined(
            scoped(key, named.name, sent, func.sum(replies)).where(pitches > 0), link, key, named
        )
        .group_by(key, named.name)
        .having(sent > 0)
        .order_by(sent.desc(), named.name)
        .limit(ROWS)
    )
    return [Rate(i, name, int(p), int(r)) for i, name, p, r in rows]
