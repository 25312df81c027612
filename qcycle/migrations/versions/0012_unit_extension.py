"""Unit extensions (延期申请): a unit's own deadline for one window, granted by ops.

One row per round, stage, unit and period ("" without periods); a later grant replaces it.

Revision ID: 0012_unit_extension
Revises: 0011_round_amendment
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_unit_extension"
down_revision: str | Sequence[str] | None = "0011_round_amendment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit_extension",
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["programme_round.id"],
            name=op.f("fk_unit_extension_round_id_programme_round"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_extension")),
        sa.UniqueConstraint(
            "round_id",
            "stage",
            "unit_code",
            "period",
            name=op.f("uq_unit_extension_round_id_stage_unit_code_period"),
        ),
    )


def downgrade() -> None:
    op.drop_table("unit_extension")
