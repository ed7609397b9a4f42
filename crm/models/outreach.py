"""Tables for sending: sender identities, campaigns and their variants, the outbox of
deliveries, the rate-limit ledger of each SMTP account, and the local mail catcher."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, Text, text
from sqlmodel import Column, Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow

# "answer": one officer's answer to a journalist's reply, sent from the Inbox (never listed).
CAMPAIGN_KINDS = ("press_release", "pitch", "invitation", "reminder", "other", "answer")
CAMPAIGN_STATES = ("draft", "scheduled", "sending", "paused", "finished", "cancelled")
DELIVERY_STATES = ("queued", "sending", "sent", "deferred", "failed", "unknown", "cancelled")
SMTP_TLS = ("starttls", "tls", "none")


class SenderIdentity(SQLModel, table=True):
    """An organisation's From address and the SMTP account that sends as it.

    With no host of its own, it sends through the instance's relay (or the mail catcher)."""

    __tablename__ = "sender_identity"
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    # Set when the identity speaks for a whole coalition (joint statements).
    coalition_id: int | None = Field(default=None, foreign_key="coalition.id", ondelete="CASCADE")
    from_name: str = Field(max_length=200)
    from_address: str = Field(max_length=320)
    smtp_host: str = Field(default="", max_length=255)
    smtp_port: int = 587
    smtp_tls: str = Field(default="starttls", max_length=8)
    smtp_username: str = Field(default="", max_length=320)
    # Fernet token of the password; never shown again once saved.
    smtp_password: str = Field(default="", sa_column=Column(Text, nullable=False))
    per_minute: int | None = None
    per_day: int | None = None
    dkim_selector: str = Field(default="", max_length=63)
    # Fernet token of the PEM private key.
    dkim_key: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Campaign(SQLModel, table=True):
    __table_args__ = (Index("ix_campaign_org_created", "org_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    coalition_id: int | None = Field(default=None, foreign_key="coalition.id", ondelete="SET NULL")
    name: str = Field(max_length=200)
    kind: str = Field(default="press_release", max_length=16)
    # An invitation (or its reminder, update or cancellation) is about this event.
    event_id: int | None = Field(default=None, foreign_key="event.id", ondelete="SET NULL")
    status: str = Field(default="draft", max_length=12)
    sender_id: int | None = Field(
        default=None, foreign_key="sender_identity.id", ondelete="SET NULL"
    )
    default_language: str = Field(default="sq", max_length=8)
    embargo: str = Field(default="", max_length=300)
    # The officer's own merge fields: name → the value every recipient gets.
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # Who it goes to: {"lists": [ids], "contacts": [ids], "outlets": [ids]}.
    audience: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    scheduled_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    deadline_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    consecutive_failures: int = 0
    paused_reason: str = Field(default="", max_length=300)
    # An answer's thread: the Message-IDs it answers, oldest first (References); the last
    # is its In-Reply-To.
    thread: str = Field(default="", max_length=2000)
    # Words that tell this campaign's coverage apart (monitoring matches them).
    keywords: list[str] = Field(default_factory=list, sa_column=json_column())
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    launched_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class CampaignVariant(SQLModel, table=True):
    """The subject and Markdown body of a campaign in one language."""

    __tablename__ = "campaign_variant"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True, ondelete="CASCADE")
    language: str = Field(primary_key=True, max_length=8)
    subject: str = Field(default="", max_length=500)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))


class CampaignAttachment(SQLModel, table=True):
    __tablename__ = "campaign_attachment"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class PersonalLine(SQLModel, table=True):
    """A line the officer wrote for one recipient of a campaign."""

    __tablename__ = "personal_line"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    text: str = Field(max_length=1000)


class Delivery(SQLModel, table=True):
    """One outbox row per (campaign, address): a contact's address or an outlet's desk."""

    __table_args__ = (
        # A double click launches once: one row per address. Test sends are extra rows.
        Index(
            "uq_delivery_campaign_address",
            "campaign_id",
            "address_norm",
            unique=True,
            sqlite_where=text("NOT is_test"),
            postgresql_where=text("NOT is_test"),
        ),
        Index("ix_delivery_claim", "status", "next_attempt_at"),
        Index("ix_delivery_campaign_status", "campaign_id", "status"),
        Index("ix_delivery_message_id", "message_id"),
        Index("ix_delivery_contact", "contact_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    # The organisation that holds the contact (in a coalition campaign, a co-signer).
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    outlet_id: int | None = Field(default=None, foreign_key="outlet.id", ondelete="SET NULL")
    address: str = Field(max_length=320)
    address_norm: str = Field(max_length=320)
    name: str = Field(default="", max_length=200)
    language: str = Field(max_length=8)
    # Merge values taken when the campaign launched; what the pre-launch check saw.
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    personal_line: str = Field(default="", max_length=1000)
    privacy_notice: str = Field(default="", max_length=500)
    is_test: bool = False
    message_id: str = Field(max_length=255)
    status: str = Field(default="queued", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    lease_until: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    worker: str = Field(default="", max_length=100)
    last_error: str = Field(default="", max_length=1000)
    sent_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    replied_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    bounced_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    unsubscribed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class SmtpUsage(SQLModel, table=True):
    """Sends reserved on an SMTP account: the sliding windows of its rate limits are sums
    over these rows, so they hold across restarts and across workers."""

    __tablename__ = "smtp_usage"
    __table_args__ = (Index("ix_smtp_usage_account_at", "account", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=64)
    at: datetime = Field(sa_column=ts_column())
    count: int


class CaughtMessage(SQLModel, table=True):
    """A message the built-in mail catcher received, shown on the Mailbox page."""

    __tablename__ = "caught_message"
    __table_args__ = (Index("ix_caught_message_org", "org_id", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    # Found from the Message-ID of the delivery it came from; NULL for other mail.
    org_id: int | None = Field(default=None, foreign_key="organisation.id", ondelete="CASCADE")
    message_id: str = Field(default="", max_length=255)
    mail_from: str = Field(default="", max_length=320)
    recipients: list[str] = Field(default_factory=list, sa_column=json_column())
    subject: str = Field(default="", max_length=1000)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
