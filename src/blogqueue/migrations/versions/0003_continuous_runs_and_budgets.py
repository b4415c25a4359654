"""continuous runs and budgets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 11:57:20.302056
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=16), nullable=False, server_default="batch"))
        batch_op.add_column(sa.Column("interval_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cron", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("budget_usd", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.drop_column("priority")
        batch_op.drop_column("budget_usd")
        batch_op.drop_column("cron")
        batch_op.drop_column("interval_minutes")
        batch_op.drop_column("mode")
