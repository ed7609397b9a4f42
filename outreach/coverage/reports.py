"""Coverage reports, for a campaign, an event or a date range: the confirmed items; counts by
outlet, medium, tone and language; total reach; coverage over time; and the funnel from
sent to covered. SQL aggregates over the organisation's own rows only (in a joint campaign,
its own recipients); a donor report is made of these numbers."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.errors import InvalidInput
from crm.events import get_event
from crm.i18n import N_
from crm.models import (
    Attendance,
    Campaign,
    CoverageByline,
    CoverageItem,
    Delivery,
    Event,
    Outlet,
)
from outreach.campaigns import readable_campaign
from outreach.coverage.drafts import LOCAL

MAX_RANGE_DAYS = 3 * 366
MAX_BARS = 60  # the chart of coverage over time never has more bars than this
Per = Literal["day", "week", "month", "year"]


@dataclass
class Funnel:
    sent: int = 0
    delivered: int = 0
    replied: int = 0
    attended: int | None = None  # None: no event in scope
    covered: int = 0  # recipients who wrote about it (on a confirmed item's byline)

    def steps(self) -> list[tuple[str, int | None]]:
        return [
            ("sent", self.sent),
            ("delivered", self.delivered),
            ("replied", self.replied),
            ("attended", self.attended),
            ("covered", self.covered),
        ]


@dataclass
class Report:
    title: str
    scope: dict[str, str]  # what the report covers, as query parameters
    since: date | None
    until: date | None
    items: list[tuple[CoverageItem, str]]  # confirmed items with their outlet's name
    by_outlet: list[tuple[str, int]] = field(default_factory=list)
    by_medium: list[tuple[str, int]] = field(default_factory=list)
    by_tone: list[tuple[str, int]] = field(default_factory=list)
    by_language: list[tuple[str, int]] = field(default_factory=list)
    reach: int = 0
    without_reach: int = 0
    over_time: list[tuple[date, int]] = field(default_factory=list)  # (first day of a bar, n)
    per: Per = "day"  # what one bar of over_time counts
    step: int = 1  # how many of them (years, when even a bar per year would be too many)
    period: str | None = None  # the dates that narrow a campaign's or an event's report
    funnel: Funnel | None = None

    def bar_label(self, start: date) -> str:
        """What one bar of the chart counts, as dates."""
        if self.per == "week":
            return f"{start:%d.%m.}–{start + timedelta(days=6):%d.%m.%Y}"
        if self.per == "year" and self.step > 1:
            return f"{start:%Y}–{start.year + self.step - 1}"
        return self.axis_label(start)

    def axis_label(self, start: date) -> str:
        """A bar's first day, as precisely as the chart counts (a week by its Monday)."""
        return start.strftime({"day": "%d.%m.%Y", "week": "%d.%m.%Y", "month": "%m.%Y",
                               "year": "%Y"}[self.per])  # fmt: skip


def _counted(values: list[str]) -> list[tuple[str, int]]:
    return sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))


def this_month(now: datetime | None = None) -> tuple[date, date]:
    """The first day of this month and today, in the organisation's time zone: the report a
    date-range report shows until the officer chooses."""
    today = (now or datetime.now(UTC)).astimezone(LOCAL).date()
    return today.replace(day=1), today


async def report(
    session: AsyncSession,
    actor: Actor,
    *,
    campaign_id: int | None = None,
    event_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> Report:
    """The report for one campaign, one event, or the items published in a date range."""
    conds = [CoverageItem.org_id == actor.org_id, CoverageItem.state == "confirmed"]
    if since is not None and until is not None and until < since:
        raise InvalidInput({"until": N_("The last day is before the first.")})
    campaign_ids: list[int] = []
    title: str
    scope: dict[str, str] = {}
    attended_event: int | None = None
    if campaign_id is not None:
        campaign = await readable_campaign(session, actor, campaign_id)
        conds.append(CoverageItem.campaign_id == campaign_id)
        campaign_ids, title, scope = [campaign_id], campaign.name, {"campaign_id": str(campaign_id)}
        attended_event = campaign.event_id
    elif event_id is not None:
        event = await get_event(session, actor, event_id)
        invitations = select(Campaign.id).where(Campaign.event_id == event_id)
        conds.append(
            or_(CoverageItem.event_id == event_id, CoverageItem.campaign_id.in_(invitations))  # type: ignore[union-attr]
        )
        campaign_ids = list((await session.execute(invitations)).scalars())
        title, scope, attended_event = event.title, {"event_id": str(event_id)}, event_id
    else:
        if since is None or until is None:
            raise InvalidInput({"since": N_("Choose the first and the last day.")})
        if (until - since).days > MAX_RANGE_DAYS:
            raise InvalidInput({"until": N_("Choose a range of at most three years.")})
        # The campaigns launched on those days where the organisation is, not in UTC.
        start = datetime.combine(since, time(0), tzinfo=LOCAL)
        end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=LOCAL)
        launched = await session.execute(
            select(Campaign.id).where(
                Campaign.org_id == actor.org_id,
                Campaign.kind != "answer",
                Campaign.launched_at >= start,
                Campaign.launched_at < end,
            )
        )
        campaign_ids = list(launched.scalars())
        title = N_("Coverage from %(since)s to %(until)s",
                   since=since.strftime("%d.%m.%Y"), until=until.strftime("%d.%m.%Y"))  # fmt: skip
    # Dates narrow a campaign's or an event's report too, the same for the list, the counts,
    # the chart and the funnel's last step; and they are in its scope, so that the CSV and
    # the PDF are the same report.
    if since is not None:
        conds.append(CoverageItem.published_on >= since)
        scope["since"] = since.isoformat()
    if until is not None:
        conds.append(CoverageItem.published_on <= until)
        scope["until"] = until.isoformat()
    rows = (
        await session.execute(
            select(CoverageItem, Outlet.name)
            .outerjoin(Outlet, Outlet.id == CoverageItem.outlet_id)
            .where(*conds)
            .order_by(CoverageItem.published_on, CoverageItem.id)
        )
    ).all()
    items = [(item, name or "") for item, name in rows]
    result = Report(title, scope, since, until, items)
    if campaign_id is not None or event_id is not None:
        result.period = _period(since, until)
    result.by_outlet = _counted([name or "—" for _, name in items])
    result.by_medium = _counted([i.medium for i, _ in items])
    result.by_tone = _counted([i.tone for i, _ in items])
    result.by_language = _counted([i.language for i, _ in items])
    result.reach = sum(i.reach or 0 for i, _ in items)
    result.without_reach = sum(1 for i, _ in items if i.reach is None)
    result.over_time, result.per, result.step = _over_time(
        [i.published_on for i, _ in items], since, until
    )
    if campaign_id is not None or event_id is not None:
        result.funnel = await _funnel(session, actor, campaign_ids, attended_event, conds)
    elif campaign_ids:
        result.funnel = await _funnel(session, actor, campaign_ids, None, conds)
    return result


def _period(since: date | None, until: date | None) -> str | None:
    if since is not None and until is not None:
        return N_("Published from %(since)s to %(until)s",
                  since=since.strftime("%d.%m.%Y"), until=until.strftime("%d.%m.%Y"))  # fmt: skip
    if since is not None:
        return N_("Published from %(since)s on", since=since.strftime("%d.%m.%Y"))
    if until is not None:
        return N_("Published until %(until)s", until=until.strftime("%d.%m.%Y"))
    return None


def _local_day(day: date) -> date:
    """The day of a date, or of a datetime where the organisation is (naive ones are UTC)."""
    if isinstance(day, datetime):
        return (day if day.tzinfo else day.replace(tzinfo=UTC)).astimezone(LOCAL).date()
    return day


def _over_time(
    days: list[date], since: date | None, until: date | None
) -> tuple[list[tuple[date, int]], Per, int]:
    """Items per day, week (from Monday), month or year: the finest that needs at most
    MAX_BARS bars from the first day to the last. Bars with none are there too, so the
    chart's gaps are real."""
    if not days:
        return [], "day", 1
    days = [_local_day(d) for d in days]
    first, last = since or min(days), until or max(days)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    per: Per = "day"
    step = 1
    if (last - first).days >= MAX_BARS:
        per = "week" if (last - first).days < 366 else "month" if months <= MAX_BARS else "year"
    if per == "year":
        step = -(-(last.year - first.year + 1) // MAX_BARS)  # years per bar, rounded up
    counts = Counter(_bar(d, per, step, first) for d in days)
    out = []
    bar = _bar(first, per, step, first)
    while bar <= last:
        out.append((bar, counts.get(bar, 0)))
        bar = _next_bar(bar, per, step)
    return out, per, step


def _bar(day: date, per: Per, step: int, first: date) -> date:
    """The first day of the bar that counts `day`."""
    if per == "week":
        return day - timedelta(days=day.weekday())
    if per == "month":
        return day.replace(day=1)
    if per == "year":
        return date(day.year - (day.year - first.year) % step, 1, 1)
    return day


def _next_bar(bar: date, per: Per, step: int) -> date:
    if per == "week":
        return bar + timedelta(days=7)
    if per == "month":
        return date(bar.year + bar.month // 12, bar.month % 12 + 1, 1)
    if per == "year":
        return date(bar.year + step, 1, 1)
    return bar + timedelta(days=1)


async def _funnel(
    session: AsyncSession,
    actor: Actor,
    campaign_ids: list[int],
    event_id: int | None,
    coverage_conds: list,  # type: ignore[type-arg]
) -> Funnel:
    """Addresses at each step, so that each step is part of the one before: the organisation's
    own recipients of the campaigns (in a joint campaign, those it holds), not bounced,
    replied, checked in at the event, and on the byline of a confirmed item in scope."""
    mine = [Delivery.org_id == actor.org_id, Delivery.campaign_id.in_(campaign_ids or [0])]
    sent_states = ("sent", "unknown")
    row = (
        await session.execute(
            select(
                func.count(distinct(Delivery.address_norm)),
                func.count(distinct(Delivery.address_norm)).filter(Delivery.bounced_at.is_(None)),
                func.count(distinct(Delivery.address_norm)).filter(
                    Delivery.replied_at.is_not(None)
                ),
            ).where(*mine, Delivery.status.in_(sent_states), Delivery.is_test.is_(False))
        )
    ).one()
    funnel = Funnel(sent=row[0], delivered=row[1], replied=row[2])
    reached = select(Delivery.address_norm).where(
        *mine, Delivery.status.in_(sent_states), Delivery.is_test.is_(False)
    )
    if event_id is not None:
        funnel.attended = (
            await session.execute(
                select(func.count(distinct(Attendance.address_norm))).where(
                    Attendance.event_id == event_id,
                    Attendance.org_id == actor.org_id,
                    Attendance.checked_in_at.is_not(None),
                    Attendance.address_norm.in_(reached),
                )
            )
        ).scalar_one()
    writers = (
        select(CoverageByline.contact_id)
        .join(CoverageItem, CoverageItem.id == CoverageByline.coverage_id)
        .where(*coverage_conds)
    )
    funnel.covered = (
        await session.execute(
            select(func.count(distinct(Delivery.address_norm))).where(
                *mine,
                Delivery.status.in_(sent_states),
                Delivery.is_test.is_(False),
                Delivery.contact_id.in_(writers),
            )
        )
    ).scalar_one()
    return funnel


CSV_COLUMNS = (
    "published_on", "headline", "outlet", "medium", "byline", "reach", "tone", "language",
    "key_messages", "campaign", "event", "url", "notes",
)  # fmt: skip


async def report_csv(session: AsyncSession, result: Report) -> str:
    """The report's items as CSV (UTF-8 with a byte-order mark, which Excel needs to read
    ë and č)."""
    names = await _names(
        session, Campaign.id, Campaign.name, [i.campaign_id for i, _ in result.items]
    )
    events = await _names(session, Event.id, Event.title, [i.event_id for i, _ in result.items])
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item, outlet in result.items:
        writer.writerow([_cell(v) for v in (
            item.published_on.isoformat(), item.headline, outlet, item.medium,
            ", ".join(item.authors), item.reach if item.reach is not None else "", item.tone,
            item.language, "; ".join(item.key_messages), names.get(item.campaign_id or 0, ""),
            events.get(item.event_id or 0, ""), item.url, item.notes,
        )])  # fmt: skip
    return out.getvalue()


async def _names(
    session: AsyncSession, id_column: Any, name_column: Any, ids: list[int | None]
) -> dict[int, str]:
    """Names by id, for the ids given (campaigns' names, events' titles)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(id_column, name_column).where(id_column.in_(wanted)))
    return {row[0]: row[1] for row in rows.all()}


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (headlines and bylines come from outside
    pages and feeds) is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
