"""post failures and released titles

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:00:00

A failed post's reason outlives its job (BullMQ may remove it); a run counts the titles it handed
back to the pool.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "post_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=8), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["generation_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_post_failures_run_id", "post_failures", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_post_failures_run_id", table_name="post_failures")
    op.drop_table("post_failures")
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.drop_column("released")
