"""Press events and who is coming: the event with its calendar identity, and one attendance
row per invited (or walked-in) journalist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, text
from sqlmodel import Column, Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow

EVENT_STATES = ("scheduled", "cancelled")
RSVP_ANSWERS = ("none", "accepted", "tentative", "declined")
RSVP_CHANNELS = ("", "link", "calendar", "officer")


class Event(SQLModel, table=True):
    """A press conference or briefing. Times are stored in UTC and shown in `timezone`; `uid`
    and `sequence` are its identity in every calendar that received an invitation."""

    __table_args__ = (Index("ix_event_org_start", "org_id", "starts_at"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    # Co-hosted by the organisations of this coalition.
    coalition_id: int | None = Field(default=None, foreign_key="coalition.id", ondelete="SET NULL")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    starts_at: datetime = Field(sa_column=ts_column())
    ends_at: datetime = Field(sa_column=ts_column())
    timezone: str = Field(default="Europe/Belgrade", max_length=64)
    venue: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=300)
    online_link: str = Field(default="", max_length=500)
    capacity: int | None = None
    organiser: str = Field(default="", max_length=200)
    speakers: list[str] = Field(default_factory=list, sa_column=json_column())
    # Words that tell this event's coverage apart (monitoring matches them).
    keywords: list[str] = Field(default_factory=list, sa_column=json_column())
    status: str = Field(default="scheduled", max_length=12)
    uid: str = Field(max_length=255, unique=True)
    sequence: int = 0
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Attendance(SQLModel, table=True):
    """One journalist and one event: invited, their answer and how it came, the waitlist,
    and arrival. `org_id` is the co-host whose contact they are; the address, normalised,
    is what makes a journalist invited by two co-hosts one guest."""

    __table_args__ = (
        # One guest per address; walk-ins without one are each their own.
        Index(
            "uq_attendance_event_address",
            "event_id",
            "address_norm",
            unique=True,
            sqlite_where=text("address_norm != ''"),
            postgresql_where=text("address_norm != ''"),
        ),
        Index("ix_attendance_event", "event_id", "rsvp"),
        Index("ix_attendance_contact", "contact_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", ondelete="CASCADE")
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    name: str = Field(default="", max_length=200)
    address_norm: str = Field(default="", max_length=320)
    rsvp: str = Field(default="none", max_length=10)
    rsvp_via: str = Field(default="", max_length=10)
    rsvp_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    # The SEQUENCE of the invitation a calendar answered, and of the last one sent to them:
    # an answer to an older one than that is stale.
    rsvp_sequence: int = 0
    sent_sequence: int = 0
    # Accepted beyond capacity: waiting since then, promoted in that order.
    waitlisted_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    checked_in_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    walk_in: bool = False
    invited_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
