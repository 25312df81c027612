"""Outbox: merge_items (merged reminders keep what they were rendered from).

Revision ID: 0003_outbox_merge_items
Revises: 0002_result_stage
Create Date: 2026-11-23 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_outbox_merge_items"
down_revision: str | Sequence[str] | None = "0002_result_stage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merge_items", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("merge_items")
