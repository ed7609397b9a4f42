"""Relationship health kept up to date for the dashboard (each contact's score, state and
trend, recomputed by a background job from the timeline), and follow-ups: tasks with a due
date tied to a contact, written by hand or suggested from the timeline."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from crm.models.base import ts_column, utcnow

HEALTH_STATES = ("new", "warm", "cooling", "cold")
FOLLOW_UP_STATES = ("open", "done", "dismissed")
FOLLOW_UP_REASONS = ("", "reply", "no_coverage", "untouched")


class ContactHealth(SQLModel, table=True):
    """One contact's health as of `computed_at`: crm.health.score over its timeline, the
    state 30 days before (who is going cold), the weekly trend (`history`, one letter a
    week, oldest first), and the pitch and reply counts the dashboard sums by outlet, beat
    and period. A derived row: the refresh job rewrites it whenever the timeline moves."""

    __tablename__ = "contact_health"
    __table_args__ = (
        Index("ix_contact_health_org_state_score", "org_id", "state", "score"),
        # The dashboard's one pass over states, states before and histories reads only this.
        Index("ix_contact_health_org_summary", "org_id", "state", "state_before", "history"),
        Index("ix_contact_health_org_computed", "org_id", "computed_at"),
        Index("ix_contact_health_org_pitches", "org_id", "pitches_30d"),
        Index("ix_contact_health_org_pitches_90d", "org_id", "pitches_90d"),
        Index("ix_contact_health_org_pitches_365d", "org_id", "pitches_365d"),
        Index("ix_contact_health_org_awaiting", "org_id", "awaiting_since"),
    )
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    score: int = 0
    state: str = Field(default="new", max_length=8)
    state_before: str = Field(default="new", max_length=8)  # 30 days before computed_at
    history: str = Field(default="", max_length=20)
    last_two_way_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    awaiting_since: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    pitches_30d: int = 0
    pitches_90d: int = 0
    pitches_365d: int = 0
    replies_30d: int = 0  # of those pitches, how many were answered
    replies_90d: int = 0
    replies_365d: int = 0
    computed_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class FollowUp(SQLModel, table=True):
    """Something to do about a contact by a date. A suggestion carries the `reason` and a
    `cause` naming what prompted it (one per organisation), so it is never suggested twice,
    done or dismissed."""

    __tablename__ = "follow_up"
    __table_args__ = (
        UniqueConstraint("org_id", "cause", name="uq_follow_up_cause"),
        Index("ix_follow_up_org_state_due", "org_id", "state", "due_on"),
    )
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=300)
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    state: str = Field(default="open", max_length=10)  # open | done | dismissed
    reason: str = Field(default="", max_length=12)  # '' (by hand) | reply | no_coverage | untouched
    cause: str | None = Field(default=None, max_length=80)
    snoozed: bool = False
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    done_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
