"""Record identity: a submission is one per key of its stage, with its earlier versions kept.

``submission.identity`` is the stage and the values of its key (default: unit, item, period),
unique per round; ``submission.revisions`` counts the versions kept in the new table
``submission_revision``; ``quarantined_record.record`` keeps a conflict's record as read, for
ops to put in force. Rows stored before this revision get the default key; where several
rows of one round share it (the old rule let a changed record in as a second submission), the
latest keeps the key and the others keep their content as their identity, so nothing changes
for them.

Revision ID: 0010_submission_identity
Revises: 0009_import_checkpoint
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_submission_identity"
down_revision: str | Sequence[str] | None = "0009_import_checkpoint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, round_id, stage, kind, unit_code, item_code, period, fingerprint FROM submission "
        "ORDER BY submitted_at DESC, received_at DESC")).all()
    taken: set[tuple[str, str]] = set()
    update = sa.text("UPDATE submission SET identity = :identity WHERE id = :id")
    for row in rows:
        # The same text qcycle.intake.records.identity_of makes for the default key.
        identity = json.dumps([row.stage or row.kind, row.unit_code, row.item_code, row.period],
                              ensure_ascii=False, separators=(",", ":"))
        if (str(row.round_id), identity) in taken:
            identity = json.dumps(["fingerprint", row.fingerprint], separators=(",", ":"))
        taken.add((str(row.round_id), identity))
        bind.execute(update, {"identity": identity, "id": row.id})


def upgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("revisions", sa.Integer(), nullable=False, server_default="0"))
    _backfill()
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.alter_column("identity", existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_submission_round_id_identity"), ["round_id", "identity"])
    with op.batch_alter_table("quarantined_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record", sa.JSON(), nullable=True))
    op.create_table(
        "submission_revision",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("category_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("fate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["programme_round.id"],
                                name=op.f("fk_submission_revision_round_id_programme_round")),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"],
                                name=op.f("fk_submission_revision_submission_id_submission")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_revision")),
    )
    op.create_index("ix_submission_revision_round_fingerprint", "submission_revision",
                    ["round_id", "fingerprint"])
    op.create_index(op.f("ix_submission_revision_submission_id"), "submission_revision", ["submission_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_submission_revision_submission_id"), table_name="submission_revision")
    op.drop_index("ix_submission_revision_round_fingerprint", table_name="submission_revision")
    op.drop_table("submission_revision")
    with op.batch_alter_table("quarantined_record", schema=None) as batch_op:
        batch_op.drop_column("record")
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_submission_round_id_identity"), type_="unique")
        batch_op.drop_column("revisions")
        batch_op.drop_column("identity")
