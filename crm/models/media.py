"""Outlets, beats, contacts and what hangs off a contact."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, Text
from sqlmodel import Column, Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow

MEDIA = ("tv", "radio", "print", "online", "agency")
LANGUAGES = ("en", "sq", "sr-Latn", "sr-Cyrl")
SALUTATIONS = ("m", "f", "neutral")
LEGAL_BASES = ("legitimate_interest", "consent", "contract", "public_source")


class Outlet(SQLModel, table=True):
    __table_args__ = (Index("ix_outlet_org_name", "org_id", "sort_key"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    medium: str = Field(max_length=16)
    languages: list[str] = Field(default_factory=list, sa_column=json_column())
    region: str = Field(default="", max_length=100)
    website: str = Field(default="", max_length=500)
    desk_email: str = Field(default="", max_length=320)
    reach: int | None = None
    search_text: str = Field(default="", max_length=1000)
    sort_key: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Beat(SQLModel, table=True):
    """A topic. `org_id` NULL: the shared, read-only default taxonomy."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(
        default=None, foreign_key="organisation.id", index=True, ondelete="CASCADE"
    )
    slug: str = Field(max_length=80)
    name: str = Field(max_length=120)


class Contact(SQLModel, table=True):
    __table_args__ = (
        # Covers the name-sorted search page: the search text is read from the index itself.
        Index("ix_contact_org_sort_search", "org_id", "sort_key", "search_text"),
        Index("ix_contact_org_last", "org_id", "last_interaction_at"),
        Index("ix_contact_org_region", "org_id", "region"),
        # On SQLite, never reuse the id of a deleted or merged contact: its audit history
        # refers to it by id, and must not become a newcomer's history.
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    given_name: str = Field(max_length=100)
    family_name: str = Field(default="", max_length=100)
    salutation: str = Field(default="neutral", max_length=8)
    # How a Serbian letter addresses them ("Milane"); empty: suggested from the given name.
    vocative: str = Field(default="", max_length=100)
    preferred_language: str = Field(default="sq", max_length=8)
    languages: list[str] = Field(default_factory=list, sa_column=json_column())
    phones: list[str] = Field(default_factory=list, sa_column=json_column())
    social: dict[str, str] = Field(default_factory=dict, sa_column=json_column())
    city: str = Field(default="", max_length=100)
    region: str = Field(default="", max_length=100)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    legal_basis: str = Field(default="legitimate_interest", max_length=32)
    legal_source: str = Field(default="", max_length=300)
    legal_captured_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    legal_captured_by_id: int | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL"
    )
    do_not_contact: bool = False
    do_not_contact_reason: str = Field(default="", max_length=300)
    # When the first campaign message told this contact where the address came from.
    privacy_notice_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    search_text: str = Field(default="", max_length=2000)
    sort_key: str = Field(default="", max_length=200)
    last_interaction_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class ContactEmail(SQLModel, table=True):
    __tablename__ = "contact_email"
    __table_args__ = (Index("ix_contact_email_org_norm", "org_id", "normalised"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=320)
    normalised: str = Field(max_length=320)
    is_primary: bool = False
    position: int = 0
    # A hard bounce: the address is suppressed and the contact flagged "check address".
    bounced_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class ContactOutletRole(SQLModel, table=True):
    """A contact's job at an outlet over time; freelancers have several at once."""

    __tablename__ = "contact_outlet_role"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    outlet_id: int = Field(foreign_key="outlet.id", index=True, ondelete="CASCADE")
    title: str = Field(default="", max_length=120)
    started_on: date | None = None
    ended_on: date | None = None


class ContactBeat(SQLModel, table=True):
    __tablename__ = "contact_beat"
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    beat_id: int = Field(foreign_key="beat.id", primary_key=True, index=True, ondelete="CASCADE")


class ContactTag(SQLModel, table=True):
    __tablename__ = "contact_tag"
    __table_args__ = (Index("ix_contact_tag_org_tag", "org_id", "tag"),)
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=60)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")


class Interaction(SQLModel, table=True):
    """One dated event on a contact's timeline."""

    __table_args__ = (
        Index("ix_interaction_contact_time", "contact_id", "occurred_at"),
        Index("ix_interaction_org_time", "org_id", "occurred_at"),
        Index("ix_interaction_created", "created_at"),  # what was written since (health)
    )
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    kind: str = Field(max_length=20)
    direction: str = Field(default="none", max_length=4)  # in | out | none
    occurred_at: datetime = Field(sa_column=ts_column())
    summary: str = Field(default="", max_length=300)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", ondelete="SET NULL")
    event_id: int | None = Field(default=None, foreign_key="event.id", ondelete="SET NULL")
    inbound_message_id: int | None = Field(
        default=None, foreign_key="inbound_message.id", ondelete="SET NULL"
    )
    coverage_id: int | None = Field(
        default=None, foreign_key="coverage_item.id", ondelete="CASCADE"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ContactList(SQLModel, table=True):
    """Static members, or a saved filter (a smart list) evaluated when used."""

    __tablename__ = "contact_list"
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=1000)
    kind: str = Field(default="static", max_length=8)  # static | smart
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ListMember(SQLModel, table=True):
    __tablename__ = "list_member"
    list_id: int = Field(foreign_key="contact_list.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(
        foreign_key="contact.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    added_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ListShare(SQLModel, table=True):
    """A list an organisation shares with one of its coalitions, for joint campaigns. Its
    members stay the organisation's contacts; partners see only the list's name and size."""

    __tablename__ = "list_share"
    list_id: int = Field(foreign_key="contact_list.id", primary_key=True, ondelete="CASCADE")
    coalition_id: int = Field(
        foreign_key="coalition.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    shared_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
