"""``outbox_message.parts_sent``, ``sent_chars``, ``sending_chars``: a bot message longer than the
service takes (WeCom's text: 2,048 bytes) goes as several posts in order; the row keeps how many
arrived and how far into the text they reach, and how far the post out reaches, so that a later
try sends the rest and no post that arrived again. Such a message had been cut at the limit, and
what followed the cut (the last items of a 待审核 of forty) never reached anyone.

Revision ID: 0027_outbox_parts_sent
Revises: 0026_hand_in_revision
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_outbox_parts_sent"
down_revision: str | Sequence[str] | None = "0026_hand_in_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_message", sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("outbox_message", sa.Column("sent_chars", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("outbox_message", sa.Column("sending_chars", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        for column in ("sending_chars", "sent_chars", "parts_sent"):
            batch.drop_column(column)
