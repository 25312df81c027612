"""Submission: a covering index for "who handed in what" (status reports, overdue notices).

Revision ID: 0005_submission_status_index
Revises: 0004_outbox_started_at
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_submission_status_index"
down_revision: str | Sequence[str] | None = "0004_outbox_started_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["round_id", "kind", "period", "status", "category_code", "item_code", "unit_code"]


def upgrade() -> None:
    op.create_index("ix_submission_handed_in", "submission", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_submission_handed_in", table_name="submission")
