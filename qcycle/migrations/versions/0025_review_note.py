"""``review.note``: what a value stands for where a letter says it. A veto recorded as ``veto:…`` = 1 had no facts
behind it: 常德's 澧县 read "因发生较大及以上特种设备事故，实行一票否决" and not which accident.

Revision ID: 0025_review_note
Revises: 0024_outbox_round_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_review_note"
down_revision: str | Sequence[str] | None = "0024_outbox_round_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("review", sa.Column("note", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("review") as batch:
        batch.drop_column("note")
