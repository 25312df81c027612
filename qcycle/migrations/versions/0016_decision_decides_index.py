"""Index decisions by what they decide on: "was this result refused?" (a committee's decision on
a graded candidate, the government's on the committee's) looks a decision up by round,
``decides`` and subject for every result row; without the index each lookup scanned the
round's decisions (15 s for 3,200 results at national scale).

Revision ID: 0016_decision_decides_index
Revises: 0015_decision_decides
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_decision_decides_index"
down_revision: str | Sequence[str] | None = "0015_decision_decides"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_decision_round_decides_subject", "decision", ["round_id", "decides", "subject"])


def downgrade() -> None:
    op.drop_index("ix_decision_round_decides_subject", table_name="decision")
