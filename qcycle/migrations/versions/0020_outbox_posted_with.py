"""``outbox_message.posted_with``: the row whose group post carried this one. A group bot several
units share (四川's 21 cities in one WeCom group) received the same notice once per unit, each
copy addressed to one of them; such messages now go out as one post addressed to them all, and
each unit's row records which post told it (None: it went out alone).

Revision ID: 0020_outbox_posted_with
Revises: 0019_unit_joined_at
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_outbox_posted_with"
down_revision: str | Sequence[str] | None = "0019_unit_joined_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("posted_with", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("posted_with")
