"""Outbox: started_at (set just before a request leaves; tells "never sent" from "maybe sent").

Revision ID: 0004_outbox_started_at
Revises: 0003_outbox_merge_items
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outbox_started_at"
down_revision: str | Sequence[str] | None = "0003_outbox_merge_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("started_at")
