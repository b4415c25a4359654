"""an index for a user's active runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:00:00

Counting a user's unfinished runs (the active-run cap) and listing them first on the status page
walk this index instead of every run the user ever started.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_generation_runs_user_id_status_id", "generation_runs", ["user_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_generation_runs_user_id_status_id", table_name="generation_runs")
