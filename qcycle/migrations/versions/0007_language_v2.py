"""Programme language v2.

- The programme family of a round (``round.programme`` in its file, e.g. 区政府质量奖), so a
  later round can read the results of the earlier rounds of the same programme (who won, and
  when: "a winner may apply again only after 5 years").
- The stage a submission was handed in at: two stages may take the same kind of material, and
  hand-ins are counted per stage. Rows from before are given their stage by the next sync of
  their round (the programme file knows which stage takes which kind); the covering index
  ``ix_submission_handed_in`` leads with the stage instead of the kind.

Revision ID: 0007_language_v2
Revises: 0006_status_indexes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_language_v2"
down_revision: str | Sequence[str] | None = "0006_status_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD = ["round_id", "kind", "status", "unit_code", "period", "category_code", "item_code"]
NEW = ["round_id", "stage", "status", "unit_code", "period", "category_code", "item_code"]


def upgrade() -> None:
    with op.batch_alter_table("programme_round") as batch:
        batch.add_column(sa.Column("programme", sa.String(), nullable=True))
        batch.create_index("ix_programme_round_programme", ["programme"])
    op.drop_index("ix_submission_handed_in", table_name="submission")
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("stage", sa.String(), nullable=True))
    op.create_index("ix_submission_handed_in", "submission", NEW)


def downgrade() -> None:
    op.drop_index("ix_submission_handed_in", table_name="submission")
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("stage")
    op.create_index("ix_submission_handed_in", "submission", OLD)
    with op.batch_alter_table("programme_round") as batch:
        batch.drop_index("ix_programme_round_programme")
        batch.drop_column("programme")
