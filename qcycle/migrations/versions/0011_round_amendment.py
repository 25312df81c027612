"""Round amendments: a running round's programme file may change (延期, 改期, 增减单位).

``programme_round.config_text`` keeps the file the round last ran on, the base that
``qcycle plan FILE --diff`` compares with; ``round_amendment`` records every change: who, when,
why, both versions and the plan diff. Rounds stored before this revision get their text at
their next run (their first change then has no "before" text).

Revision ID: 0011_round_amendment
Revises: 0010_submission_identity
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_round_amendment"
down_revision: str | Sequence[str] | None = "0010_submission_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "round_amendment",
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sha_before", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sha_after", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("config_before", sa.Text(), nullable=True),
        sa.Column("config_after", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["programme_round.id"],
            name=op.f("fk_round_amendment_round_id_programme_round"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_amendment")),
    )
    with op.batch_alter_table("round_amendment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_amendment_round_id"), ["round_id"], unique=False)

    with op.batch_alter_table("programme_round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("programme_round", schema=None) as batch_op:
        batch_op.drop_column("config_text")

    with op.batch_alter_table("round_amendment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_amendment_round_id"))

    op.drop_table("round_amendment")
