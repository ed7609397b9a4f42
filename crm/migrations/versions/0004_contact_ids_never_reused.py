"""contact ids are never reused on SQLite (AUTOINCREMENT)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite rebuilds the table with AUTOINCREMENT; PostgreSQL's sequences never reuse ids.
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "contact", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "contact", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
