"""coverage feed key

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coverage_item") as batch:
        batch.add_column(
            sa.Column("feed_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch.create_index("ix_coverage_org_feed_key", ["org_id", "feed_key"])
    op.execute("UPDATE coverage_item SET feed_key = url_key WHERE source = 'feed'")


def downgrade() -> None:
    with op.batch_alter_table("coverage_item") as batch:
        batch.drop_index("ix_coverage_org_feed_key")
        batch.drop_column("feed_key")
