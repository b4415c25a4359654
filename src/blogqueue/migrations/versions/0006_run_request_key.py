"""a run created from a queued request remembers the job it came from

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:00:00

A `generate` job without a runId creates its run; the unique key (job id and the time it was
added) makes a retried or recovered job find that run instead of making a second one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_runs") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=300), nullable=True))
    op.create_index("ix_generation_runs_request_key", "generation_runs", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_generation_runs_request_key", table_name="generation_runs")
    with op.batch_alter_table("generation_runs") as batch:
        batch.drop_column("request_key")
