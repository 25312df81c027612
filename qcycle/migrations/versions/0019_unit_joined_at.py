"""``unit.joined_at``: when a unit was added to a round that had begun (an amendment); None for
the units there from the start. A unit added after a window closed was listed by ``status`` as
overdue for it, though it was never called; a deadline before it joined is not its deadline.

Revision ID: 0019_unit_joined_at
Revises: 0018_outbox_status_day_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_unit_joined_at"
down_revision: str | Sequence[str] | None = "0018_outbox_status_day_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_column("joined_at")
