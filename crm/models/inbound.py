"""Mail that comes back: every inbound message, raw, with what it was classified as and what
it matched; and where the IMAP poller left off in each mailbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, Text
from sqlmodel import Column, Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow

INBOUND_CATEGORIES = (
    "reply",
    "auto_reply",
    "bounce",
    "complaint",
    "calendar_reply",
    "unsubscribe",
    "unmatched",
)
BOUNCE_KINDS = ("hard", "soft", "delayed", "policy")
INBOUND_CHANNELS = ("smtp", "imap", "api")
INBOUND_STATES = ("new", "handled")


class InboundMessage(SQLModel, table=True):
    """One message received. `raw` is stored before anything else is done with it; what it
    matched (delivery, contact, campaign, event) is filled in by classification.

    `org_id` is empty while nothing ties the message to an organisation: such mail is kept
    but shown to nobody."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        Index("ix_inbound_org_time", "org_id", "received_at"),
        Index("ix_inbound_org_category", "org_id", "category", "received_at"),
        Index("ix_inbound_contact", "contact_id"),
        Index("ix_inbound_delivery", "delivery_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, foreign_key="organisation.id", ondelete="CASCADE")
    via: str = Field(max_length=8)  # smtp | imap | api
    # sha256 of the Message-ID (of the raw bytes when there is none): the same message
    # arriving twice, by any path, is stored and acted on once.
    dedup_key: str = Field(max_length=64, unique=True)
    message_id: str = Field(default="", max_length=255)
    envelope_from: str = Field(default="", max_length=320)
    recipients: list[str] = Field(default_factory=list, sa_column=json_column())
    from_address: str = Field(default="", max_length=320)
    from_name: str = Field(default="", max_length=200)
    subject: str = Field(default="", max_length=1000)
    size: int = 0
    # Over the size cap only the headers are kept (`truncated`), and the record says so.
    truncated: bool = False
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    category: str = Field(default="unmatched", max_length=16)
    kind: str = Field(default="", max_length=8)  # a bounce's: hard | soft | delayed | policy
    # What classification extracted: failed address, status, diagnostic, away-until, ...
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # A reply's new text (quoted history and signature stripped).
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", ondelete="SET NULL")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    event_id: int | None = Field(default=None, foreign_key="event.id", ondelete="SET NULL")
    state: str = Field(default="new", max_length=8)  # new | handled
    handled_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    handled_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    answered_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    error: str = Field(default="", max_length=500)
    # When an arrival took it on: a copy arriving while classification has not finished
    # takes it over only once this is old (the process that took it stopped midway).
    claimed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    received_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ImapCursor(SQLModel, table=True):
    """Where polling of one IMAP mailbox got to: a new UIDVALIDITY means the UIDs were
    renumbered, and the mailbox is read again (Message-IDs keep that from acting twice)."""

    __tablename__ = "imap_cursor"
    mailbox: str = Field(primary_key=True, max_length=400)  # user@host:port/mailbox
    uidvalidity: int = 0
    last_uid: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
