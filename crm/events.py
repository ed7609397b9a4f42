"""Press events: planning them, who may see them (the organiser and its coalition's
co-hosts), and the calendar identity every invitation carries (UID, SEQUENCE).

Times arrive as the officer means them, in the event's time zone, and are stored in UTC; a
change to what a guest's calendar shows (time, place, link, title) raises the SEQUENCE, so
that calendars take the update for the same event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, StringConstraints, field_validator, model_validator
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, coalitions
from crm.accounts import Actor
from crm.errors import Conflict, NotFound
from crm.i18n import N_
from crm.models import Campaign, Event
from crm.models.base import DbId, Input, sensible_year

DEFAULT_ZONE = "Europe/Belgrade"  # Kosovo's
# What a guest's calendar shows: changing any of it sends them an update.
CALENDAR_FIELDS = ("title", "starts_at", "ends_at", "timezone", "venue", "address", "online_link")

Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class EventIn(Input):
    """An event as the officer enters it; start and end are wall-clock times in `timezone`
    (a time with its own offset, from the API, is taken as that instant)."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=20000)] = ""
    starts_at: datetime
    ends_at: datetime
    timezone: str = DEFAULT_ZONE
    venue: Line = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    online_link: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    capacity: int | None = Field(default=None, ge=1, le=100_000)
    organiser: Line = ""
    speakers: list[Line] = Field(default_factory=list, max_length=30)
    coalition_id: DbId | None = None

    _years = field_validator("starts_at", "ends_at")(sensible_year)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        value = value.strip()
        if value not in _zones():
            raise ValueError(N_("Choose a time zone such as Europe/Belgrade."))
        return value

    @field_validator("online_link")
    @classmethod
    def _web_link(cls, value: str) -> str:
        if value and (
            not value.lower().startswith(("https://", "http://"))
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)
        ):
            raise ValueError(N_("Enter a web address starting with http:// or https://."))
        return value

    @field_validator("speakers")
    @classmethod
    def _no_blank_speakers(cls, value: list[str]) -> list[str]:
        return [s for s in value if s]

    @model_validator(mode="after")
    def _ends_after_start(self) -> EventIn:
        if self.utc_end() <= self.utc_start():
            raise ValueError(N_("The event must end after it starts."))
        return self

    def _utc(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(self.timezone))
        return value.astimezone(UTC)

    def utc_start(self) -> datetime:
        return self._utc(self.starts_at)

    def utc_end(self) -> datetime:
        return self._utc(self.ends_at)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def local(value: datetime, zone: str) -> datetime:
    """`value` on the wall clock of `zone` (UTC when the zone is unknown)."""
    try:
        return value.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return value.astimezone(UTC)


def _values(data: EventIn) -> dict[str, Any]:
    return {
        "title": data.title,
        "description": data.description,
        "starts_at": data.utc_start(),
        "ends_at": data.utc_end(),
        "timezone": data.timezone,
        "venue": data.venue,
        "address": data.address,
        "online_link": data.online_link,
        "capacity": data.capacity,
        "organiser": data.organiser,
        "speakers": data.speakers,
        "coalition_id": data.coalition_id,
    }


async def create_event(session: AsyncSession, actor: Actor, data: EventIn) -> Event:
    actor.require_write()
    if data.coalition_id is not None:
        await coalitions.require_member(session, actor, data.coalition_id)
    event = Event(
        org_id=actor.org_id,
        uid=f"{uuid.uuid4()}@beatbook",
        created_by_id=actor.user_id,
        **_values(data),
    )
    session.add(event)
    await session.flush()
    _audit(session, actor, "create", event, {"title": event.title})
    await session.commit()
    return event


@dataclass
class Change:
    """What an edit did: whether guests' calendars must hear of it."""

    event: Event
    calendar_changed: bool


async def update_event(session: AsyncSession, actor: Actor, event_id: int, data: EventIn) -> Change:
    """Edit an event the actor's organisation organises; a change guests' calendars show
    raises the SEQUENCE."""
    actor.require_write()
    event = await _own_event(session, actor, event_id)
    if event.status == "cancelled":
        raise Conflict(N_("This event is cancelled; it can no longer be changed."))
    if data.coalition_id is not None and data.coalition_id != event.coalition_id:
        await coalitions.require_member(session, actor, data.coalition_id)
    values = _values(data)
    changed = any(getattr(event, k) != values[k] for k in CALENDAR_FIELDS)
    for key, value in values.items():
        setattr(event, key, value)
    if changed:
        event.sequence += 1
    event.updated_at = datetime.now(UTC)
    session.add(event)
    _audit(session, actor, "update", event, {"sequence": event.sequence})
    await session.commit()
    return Change(event, changed)


async def cancel_event(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    actor.require_write()
    event = await _own_event(session, actor, event_id)
    if event.status == "cancelled":
        return event
    event.status = "cancelled"
    event.sequence += 1
    event.updated_at = datetime.now(UTC)
    session.add(event)
    # Invitations and reminders still going out would now be wrong: they wait for the officer.
    await session.execute(
        update(Campaign)
        .where(Campaign.event_id == event.id, Campaign.status.in_(("scheduled", "sending")))
        .values(status="paused", paused_reason=N_("The event was cancelled."))
    )
    _audit(session, actor, "cancel", event, {"sequence": event.sequence})
    await session.commit()
    return event


def _audit(
    session: AsyncSession, actor: Actor, action: str, event: Event, changes: dict[str, Any]
) -> None:
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action=action, entity="event",
        entity_id=event.id, changes=changes,
    )  # fmt: skip


async def visible_to(session: AsyncSession, org_id: int) -> Any:
    """Whose events an organisation sees: its own and those co-hosted by its coalitions."""
    joined = await coalitions.accepted_coalition_ids(session, org_id)
    if not joined:
        return Event.org_id == org_id
    return or_(Event.org_id == org_id, Event.coalition_id.in_(joined))


async def get_event(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    """An event the actor's organisation organises or co-hosts; NotFound for anyone else."""
    found = await session.execute(
        select(Event).where(Event.id == event_id, await visible_to(session, actor.org_id))
    )
    event = found.scalar_one_or_none()
    if event is None:
        raise NotFound("event")
    return event


async def _own_event(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    """Only the organiser edits or cancels; co-hosts see the event but not its settings."""
    event = await get_event(session, actor, event_id)
    if event.org_id != actor.org_id:
        raise Conflict(N_("Only the organisation that organises this event can change it."))
    return event


async def list_events(session: AsyncSession, org_id: int, *, past: bool = False) -> list[Event]:
    """Upcoming events soonest first (or past ones, latest first)."""
    now = datetime.now(UTC)
    query = select(Event).where(await visible_to(session, org_id))
    if past:
        query = query.where(Event.ends_at < now).order_by(Event.starts_at.desc())
    else:
        query = query.where(Event.ends_at >= now).order_by(Event.starts_at)
    return list((await session.execute(query.limit(500))).scalars())


async def feed_events(session: AsyncSession, org_id: int) -> list[Event]:
    """An organisation's events for its calendar feed: from a month ago on."""
    since = datetime.now(UTC) - timedelta(days=31)
    query = (
        select(Event)
        .where(await visible_to(session, org_id), Event.ends_at >= since)
        .order_by(Event.starts_at)
        .limit(1000)
    )
    return list((await session.execute(query)).scalars())
