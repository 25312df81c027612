"""A refused late hand-in is answered: ``submission.answered_at`` (a record refused) and
``submission_revision.answered_at`` (a late change refused, the version in force kept) say when
the unit was sent its 不予受理 letter, so a run answers each refusal once. Refusals stored
before are left unanswered: the next run of a round still in progress tells those units, and a
finished round is not run again.

Revision ID: 0017_submission_answered
Revises: 0016_decision_decides_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_submission_answered"
down_revision: str | Sequence[str] | None = "0016_decision_decides_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("submission", "submission_revision")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("answered_at")
