"""``outbox_message``: the index on ``round_id`` alone goes. ``ix_outbox_message_round_status``
(round, status, logical date) begins with the same column and serves every lookup by round
(and the foreign key's), so the second index was one more B-tree to write for each message
queued: ~7 % of inserting a national year's 51,000 messages.

Revision ID: 0024_outbox_round_index
Revises: 0023_decision_revision
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_outbox_round_index"
down_revision: str | Sequence[str] | None = "0023_decision_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_outbox_message_round_id", table_name="outbox_message")


def downgrade() -> None:
    op.create_index("ix_outbox_message_round_id", "outbox_message", ["round_id"], unique=False)
