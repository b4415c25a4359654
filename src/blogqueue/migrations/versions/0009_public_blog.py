"""the public blog: an index for its pages, and the facts of each post's title

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:00:00

The public blog lists published posts newest publication first: this index hands it one page
without sorting every post ever written. A post keeps its title's facts (release, genres, cast...)
as TMDb gave them, for the post page; posts written before have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blog_posts") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    op.create_index("ix_blog_posts_status_published_at_id", "blog_posts", ["status", "published_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_blog_posts_status_published_at_id", table_name="blog_posts")
    with op.batch_alter_table("blog_posts") as batch:
        batch.drop_column("facts")
