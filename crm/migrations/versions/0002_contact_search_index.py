"""covering index for the contact search page

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_org_sort"))
        batch_op.create_index(
            "ix_contact_org_sort_search", ["org_id", "sort_key", "search_text"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_org_sort_search")
        batch_op.create_index(
            batch_op.f("ix_contact_org_sort"), ["org_id", "sort_key"], unique=False
        )
