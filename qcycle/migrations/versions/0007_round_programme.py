"""The programme family of a round (``round.programme`` in its file, e.g. 区政府质量奖), so a
later round can read the results of the earlier rounds of the same programme (who won, and
when: "a winner may apply again only after 5 years").

Revision ID: 0007_round_programme
Revises: 0006_status_indexes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_round_programme"
down_revision: str | Sequence[str] | None = "0006_status_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("programme_round") as batch:
        batch.add_column(sa.Column("programme", sa.String(), nullable=True))
        batch.create_index("ix_programme_round_programme", ["programme"])


def downgrade() -> None:
    with op.batch_alter_table("programme_round") as batch:
        batch.drop_index("ix_programme_round_programme")
        batch.drop_column("programme")
