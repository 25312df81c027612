"""``programme_round.graded_year``: the year a round's grades are given (its last assessment's
day). An award's validity ("有效期3年（2027年至2029年）") and the re-application bar of later
rounds count from it; they had counted from the round's last year, which a 督办 in the January
after moves on by one. Rounds synced before it keep NULL and count from their last year.

Revision ID: 0025_round_graded_year
Revises: 0024_outbox_round_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_round_graded_year"
down_revision: str | Sequence[str] | None = "0024_outbox_round_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("programme_round") as batch:
        batch.add_column(sa.Column("graded_year", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("programme_round") as batch:
        batch.drop_column("graded_year")
