"""Import checkpoints: a file import commits in batches, and each batch records how far it got.

One row per round and file fingerprint (sha256 of the bytes, with --sheet/--kind when given):
rows committed so far, their counts by outcome, and whether the import finished. Rerunning a
killed import of the same file resumes after its last committed batch.

Revision ID: 0009_import_checkpoint
Revises: 0008_outbox_lease
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_import_checkpoint"
down_revision: str | Sequence[str] | None = "0008_outbox_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_checkpoint",
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["programme_round.id"],
            name=op.f("fk_import_checkpoint_round_id_programme_round"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_checkpoint")),
        sa.UniqueConstraint(
            "round_id", "fingerprint", name=op.f("uq_import_checkpoint_round_id_fingerprint")
        ),
    )


def downgrade() -> None:
    op.drop_table("import_checkpoint")
