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
