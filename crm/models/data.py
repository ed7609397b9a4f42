"""Tables for getting data in and out: imports and their reports, suppressions, and the
requests journalists make about their own data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow

IMPORT_STATES = ("uploaded", "queued", "running", "done", "failed")
ROW_OUTCOMES = ("imported", "updated", "skipped", "rejected")
ON_DUPLICATE = ("update", "skip", "create")
SUPPRESSION_REASONS = (
    "unsubscribed",
    "hard_bounce",
    "soft_bounce",
    "objected",
    "erased",
    "complaint",
)
DATA_REQUEST_KINDS = ("copy", "erasure")
DATA_REQUEST_STATES = ("unconfirmed", "confirmed", "fulfilled", "declined")


class ImportBatch(SQLModel, table=True):
    """One uploaded file and what became of it.

    The file itself waits in `import_file` until the import is done, then is deleted: the
    contacts it created hold the data from then on."""

    __tablename__ = "import_batch"
    __table_args__ = (Index("ix_import_batch_org_created", "org_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    filename: str = Field(max_length=255)
    file_format: str = Field(max_length=8)  # csv | xlsx | vcf
    encoding: str = Field(default="", max_length=40)
    delimiter: str = Field(default="", max_length=4)
    # Column index (as text) → contact field, e.g. {"0": "full_name", "3": "emails"}.
    mapping: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    on_duplicate: str = Field(default="skip", max_length=8)
    status: str = Field(default="uploaded", max_length=12)
    total_rows: int = 0
    # Rows before this one (1-based data row numbers) are done and committed.
    next_row: int = 1
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    error: str = Field(default="", sa_column=Column(Text, nullable=False))
    job_id: int | None = Field(default=None, foreign_key="job.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    finished_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class ImportFile(SQLModel, table=True):
    __tablename__ = "import_file"
    batch_id: int = Field(foreign_key="import_batch.id", primary_key=True, ondelete="CASCADE")
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ImportRow(SQLModel, table=True):
    """The outcome of one data row of an import: the report."""

    __tablename__ = "import_row"
    batch_id: int = Field(foreign_key="import_batch.id", primary_key=True, ondelete="CASCADE")
    row_number: int = Field(primary_key=True)  # the line a spreadsheet shows (header = 1)
    outcome: str = Field(max_length=10)
    contact_id: int | None = Field(
        default=None, foreign_key="contact.id", index=True, ondelete="SET NULL"
    )
    field: str = Field(default="", max_length=40)
    reason: str = Field(default="", max_length=300)
    # A likely duplicate (same name, similar outlet) flagged for a person to look at.
    similar_contact_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="SET NULL"
    )


class Suppression(SQLModel, table=True):
    """An address that must never be mailed or silently re-added: kept as an HMAC of the
    normalised address (key BEATBOOK_SUPPRESSION_KEY), never the address itself."""

    __table_args__ = (UniqueConstraint("org_id", "address_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    address_hash: str = Field(max_length=64)
    reason: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class DataRequest(SQLModel, table=True):
    """A journalist asks an organisation for a copy of their data, or its erasure."""

    __tablename__ = "data_request"
    __table_args__ = (Index("ix_data_request_org_status", "org_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    kind: str = Field(max_length=8)
    # Kept until the request is fulfilled or declined, then blanked.
    email: str = Field(default="", max_length=320)
    token_hash: str = Field(max_length=64, index=True)
    status: str = Field(default="unconfirmed", max_length=12)
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    # The language of the page the journalist asked on: the mails answer in it.
    language: str = Field(default="en", max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    confirmed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    fulfilled_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    fulfilled_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    outcome: str = Field(default="", max_length=300)
