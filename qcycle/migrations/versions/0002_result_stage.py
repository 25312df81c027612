"""Assessment results are kept per assessment stage (a round may assess every year).

Revision ID: 0002_result_stage
Revises: 0001_initial
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002_result_stage"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessment_result") as batch:
        batch.add_column(sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False,
                                   server_default=""))
        batch.drop_constraint("uq_assessment_result_round_id_unit_code", type_="unique")
        batch.create_unique_constraint("uq_assessment_result_round_id_stage_unit_code",
                                       ["round_id", "stage", "unit_code"])
    with op.batch_alter_table("assessment_result") as batch:
        batch.alter_column("stage", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("assessment_result") as batch:
        batch.drop_constraint("uq_assessment_result_round_id_stage_unit_code", type_="unique")
        batch.create_unique_constraint("uq_assessment_result_round_id_unit_code", ["round_id", "unit_code"])
        batch.drop_column("stage")
