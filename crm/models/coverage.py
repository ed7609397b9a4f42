"""What got published: coverage items (confirmed by a person, or suggested by feed monitoring
and waiting to be confirmed or dismissed), their byline contacts, a clipping file, and the
outlets' feeds that are watched."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow

COVERAGE_MEDIA = ("online", "print", "tv", "radio")
TONES = ("positive", "neutral", "negative")
COVERAGE_STATES = ("confirmed", "suggested", "dismissed")
COVERAGE_SOURCES = ("manual", "url", "feed")


class CoverageItem(SQLModel, table=True):
    """One published piece. `url_key` (a hash of the normalised address, or of a feed entry's
    id) is unique per organisation: the same article is logged once, and a suggestion that
    was dismissed is never suggested again."""

    __tablename__ = "coverage_item"
    __table_args__ = (
        UniqueConstraint("org_id", "url_key", name="uq_coverage_org_url"),
        Index("ix_coverage_org_state_date", "org_id", "state", "published_on"),
        Index("ix_coverage_campaign", "campaign_id"),
        Index("ix_coverage_event", "event_id"),
        Index("ix_coverage_org_feed_key", "org_id", "feed_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    state: str = Field(default="confirmed", max_length=10)  # confirmed | suggested | dismissed
    source: str = Field(default="manual", max_length=8)  # manual | url | feed
    url: str = Field(default="", max_length=1000)
    url_key: str | None = Field(default=None, max_length=64)
    # A suggestion's key as its feed gave it: kept when the officer corrects or drops the
    # address, so monitoring never suggests the same entry again.
    feed_key: str | None = Field(default=None, max_length=64)
    headline: str = Field(max_length=500)
    outlet_id: int | None = Field(default=None, foreign_key="outlet.id", ondelete="SET NULL")
    # The byline as the page or the officer wrote it (names matched to contacts are bylines).
    authors: list[str] = Field(default_factory=list, sa_column=json_column())
    published_on: date = Field(sa_column=Column(Date, nullable=False))
    medium: str = Field(default="online", max_length=8)
    reach: int | None = None
    tone: str = Field(default="", max_length=8)  # positive | neutral | negative | '' (not rated)
    language: str = Field(default="", max_length=8)
    key_messages: list[str] = Field(default_factory=list, sa_column=json_column())
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    event_id: int | None = Field(default=None, foreign_key="event.id", ondelete="SET NULL")
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    # A suggestion's excerpt (the feed entry's summary) and the keywords it matched.
    excerpt: str = Field(default="", sa_column=Column(Text, nullable=False))
    matched: list[str] = Field(default_factory=list, sa_column=json_column())
    feed_id: int | None = Field(default=None, foreign_key="outlet_feed.id", ondelete="SET NULL")
    # Headline, byline and address folded (crm.search): what the search box matches.
    search_text: str = Field(default="", max_length=2000)
    clipping_name: str = Field(default="", max_length=200)
    clipping_type: str = Field(default="", max_length=100)
    clipping_size: int = 0
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class CoverageByline(SQLModel, table=True):
    __tablename__ = "coverage_byline"
    coverage_id: int = Field(foreign_key="coverage_item.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(
        foreign_key="contact.id", primary_key=True, index=True, ondelete="CASCADE"
    )


class CoverageClipping(SQLModel, table=True):
    """The clipping file itself, apart, so that lists never load it."""

    __tablename__ = "coverage_clipping"
    coverage_id: int = Field(foreign_key="coverage_item.id", primary_key=True, ondelete="CASCADE")
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class OutletFeed(SQLModel, table=True):
    """An outlet's RSS or Atom feed, polled for coverage; ETag and Last-Modified make the
    next poll a conditional GET."""

    __tablename__ = "outlet_feed"
    __table_args__ = (UniqueConstraint("org_id", "url", name="uq_outlet_feed_url"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    outlet_id: int = Field(foreign_key="outlet.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=1000)
    etag: str = Field(default="", max_length=300)
    last_modified: str = Field(default="", max_length=100)
    polled_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
