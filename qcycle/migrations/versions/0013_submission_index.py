"""Drop ``ix_submission_round_kind_unit``: no query reads it (hand-ins are asked by stage, from
``ix_submission_handed_in``), and every submission written updated it: a sixth of a large
import's B-tree work.

Revision ID: 0013_submission_index
Revises: 0012_unit_extension
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_submission_index"
down_revision: str | Sequence[str] | None = "0012_unit_extension"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch_op:
        batch_op.drop_index("ix_submission_round_kind_unit")


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch_op:
        batch_op.create_index("ix_submission_round_kind_unit", ["round_id", "kind", "unit_code"], unique=False)
