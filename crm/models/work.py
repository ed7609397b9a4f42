"""The durable job table and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text
from sqlmodel import Column, Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow


class Job(SQLModel, table=True):
    __table_args__ = (Index("ix_job_claim", "status", "run_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)
    org_id: int | None = Field(default=None, foreign_key="organisation.id", ondelete="CASCADE")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    status: str = Field(default="queued", max_length=12)  # queued | running | done | failed
    run_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    lease_until: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    attempts: int = 0
    max_attempts: int = 5
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    progress: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    finished_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class AuditEntry(SQLModel, table=True):
    """Who changed what, when."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_org_at", "org_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
