"""The audit log: who changed what."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    org_id: int,
    user_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the session; it commits with the change it describes."""
    session.add(
        AuditEntry(
            org_id=org_id,
            user_id=user_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            changes=changes or {},
        )
    )


async def recent_entries(
    session: AsyncSession, *, org_id: int, limit: int = 50
) -> list[tuple[AuditEntry, str | None]]:
    """The organisation's latest changes, with who made them."""
    from sqlalchemy import select

    from crm.models import User

    stmt = (
        select(AuditEntry, User.email)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.org_id == org_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return [(entry, email) for entry, email in (await session.execute(stmt)).all()]
