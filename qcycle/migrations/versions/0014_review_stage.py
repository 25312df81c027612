"""Reviewers' values per assessment: ``review.stage`` names the assessment stage a value was
given for, and the unique key includes it. Before, a round assessed twice (two assessment
stages) kept one value per reviewer and component: the second assessment's scores replaced the
first's, and an assessment not yet scored silently reused the other's. Rows stored before this
revision get "", read as the round's first assessment (every round had one set of values).

Revision ID: 0014_review_stage
Revises: 0013_submission_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_review_stage"
down_revision: str | Sequence[str] | None = "0013_submission_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "uq_review_round_id_unit_code_reviewer_component_code"
_NEW = "uq_review_round_id_stage_unit_code_reviewer_component_code"


def upgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=""))
        batch_op.drop_constraint(op.f(_OLD), type_="unique")
        batch_op.create_unique_constraint(op.f(_NEW), ["round_id", "stage", "unit_code", "reviewer",
                                                       "component_code"])


def downgrade() -> None:
    # One value per reviewer and component again: the latest given, as the old key kept it.
    op.execute("DELETE FROM review WHERE EXISTS (SELECT 1 FROM review AS later "
               "WHERE later.round_id = review.round_id AND later.unit_code = review.unit_code "
               "AND later.reviewer = review.reviewer AND later.component_code = review.component_code "
               "AND (later.submitted_at > review.submitted_at "
               "OR (later.submitted_at = review.submitted_at AND later.id > review.id)))")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(_NEW), type_="unique")
        batch_op.create_unique_constraint(op.f(_OLD), ["round_id", "unit_code", "reviewer", "component_code"])
        batch_op.drop_column("stage")
