"""generation runs, posts, claims and usage

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 11:33:18.334271
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "generation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("media_type", sa.String(length=8), nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("trending_window", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_job_id", sa.String(length=200), nullable=True),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("posts_done", sa.Integer(), nullable=False),
        sa.Column("posts_failed", sa.Integer(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generation_runs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_generation_runs_user_id"), ["user_id"], unique=False)

    op.create_table(
        "blog_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=8), nullable=False),
        sa.Column("poster_url", sa.String(length=500), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("incomplete", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["generation_runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("media_type", "tmdb_id", name="uq_blog_posts_title"),
    )
    with op.batch_alter_table("blog_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blog_posts_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_blog_posts_slug"), ["slug"], unique=True)
        batch_op.create_index(batch_op.f("ix_blog_posts_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_blog_posts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "title_claims",
        sa.Column("media_type", sa.String(length=8), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["generation_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("media_type", "tmdb_id"),
    )
    with op.batch_alter_table("title_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_title_claims_run_id"), ["run_id"], unique=False)

    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["generation_runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_records_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_records_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_records_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_records_user_id"))
        batch_op.drop_index(batch_op.f("ix_usage_records_run_id"))
        batch_op.drop_index(batch_op.f("ix_usage_records_job_id"))

    op.drop_table("usage_records")
    with op.batch_alter_table("title_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_title_claims_run_id"))

    op.drop_table("title_claims")
    with op.batch_alter_table("blog_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blog_posts_user_id"))
        batch_op.drop_index(batch_op.f("ix_blog_posts_status"))
        batch_op.drop_index(batch_op.f("ix_blog_posts_slug"))
        batch_op.drop_index(batch_op.f("ix_blog_posts_run_id"))

    op.drop_table("blog_posts")
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_runs_user_id"))
        batch_op.drop_index(batch_op.f("ix_generation_runs_status"))

    op.drop_table("generation_runs")
