"""Outbox: the lease of a ``sending`` row, in real time and with its holder.

``leased_at`` (real time of the claim) and ``leased_by`` ("host:pid:pass"): a run takes over
a lease whose holder is gone (a dead process on this host, or a finished pass of this
process) at once, and any other once it is older than ``notify_stale_sending_seconds`` of
real time, whatever the run's logical as-of. Rows leased before this revision have neither:
they are taken over by the next run.

Revision ID: 0008_outbox_lease
Revises: 0007_language_v2
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_outbox_lease"
down_revision: str | Sequence[str] | None = "0007_language_v2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("leased_by", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("leased_by")
        batch_op.drop_column("leased_at")
