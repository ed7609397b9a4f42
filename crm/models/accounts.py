"""Organisations, users, memberships, sessions, tokens, one-time links, coalitions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from crm.models.base import json_column, ts_column, utcnow

ROLES = ("owner", "editor", "viewer")


class Organisation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    default_language: str = Field(default="en", max_length=8)
    # Over-pitching guard: warn when a journalist had more pitches than this in 30 days.
    pitch_limit: int = 4
    # Its names in each language, and other words coverage monitoring looks for.
    coverage_keywords: list[str] = Field(default_factory=list, sa_column=json_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=300)
    language: str = Field(default="en", max_length=8)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Membership(SQLModel, table=True):
    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    org_id: int = Field(foreign_key="organisation.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class WebSession(SQLModel, table=True):
    """A login. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_session"
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    expires_at: datetime = Field(sa_column=ts_column())


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    last_used_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class OneTimeLink(SQLModel, table=True):
    """An invitation to join an organisation, or a password reset; used once."""

    __tablename__ = "one_time_link"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # invite | reset
    token_hash: str = Field(max_length=64, unique=True)
    org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    email: str = Field(max_length=320)
    role: str = Field(default="editor", max_length=16)
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE")
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    expires_at: datetime = Field(sa_column=ts_column())
    used_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class LoginFailure(SQLModel, table=True):
    __tablename__ = "login_failure"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, index=True)
    at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Coalition(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    created_by_org_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class CoalitionMember(SQLModel, table=True):
    __tablename__ = "coalition_member"
    __table_args__ = (UniqueConstraint("coalition_id", "org_id"),)
    id: int | None = Field(default=None, primary_key=True)
    coalition_id: int = Field(foreign_key="coalition.id", ondelete="CASCADE")
    org_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=16)  # invited | accepted | declined
    invited_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    responded_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
