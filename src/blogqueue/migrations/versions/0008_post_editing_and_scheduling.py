"""post editing and scheduled publishing

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 16:10:00

A post's `version` rises with every edit, so two editors cannot silently overwrite each other;
`edited_at` says a person changed what the model wrote; `publish_at` is a pending scheduled publication.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blog_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blog_posts", schema=None) as batch_op:
        batch_op.drop_column("publish_at")
        batch_op.drop_column("edited_at")
        batch_op.drop_column("version")
