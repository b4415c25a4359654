"""indexes for newest-first pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 13:10:00

A page of posts (newest first) or of a user's runs walks an index instead of sorting the table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_blog_posts_created_at_id", "blog_posts", ["created_at", "id"])
    op.create_index("ix_generation_runs_user_id_id", "generation_runs", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_generation_runs_user_id_id", table_name="generation_runs")
    op.drop_index("ix_blog_posts_created_at_id", table_name="blog_posts")
