"""What a decision is on: ``decision.decides`` names the stage whose subjects the deciding
stage decides (an application, an earlier decision, an assessment's result). A later round's
eligibility ("no new application within five years of an award") counted every candidate an
assessment graded as a winner, even one the committee then refused; with this column it can
tell the refused from the awarded. Rows stored before are filled from their round's stored
programme text, where it has one.

Revision ID: 0015_decision_decides
Revises: 0014_review_stage
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import yaml
from alembic import op

revision: str = "0015_decision_decides"
down_revision: str | Sequence[str] | None = "0014_review_stage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decides", sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=""))
    bind = op.get_bind()
    rounds = bind.execute(sa.text("SELECT id, config_text FROM programme_round WHERE config_text IS NOT NULL"))
    for round_id, text in rounds.fetchall():
        for stage, decides in _decides(text).items():
            bind.execute(sa.text("UPDATE decision SET decides = :decides WHERE round_id = :round_id AND stage = :stage"),
                         {"decides": decides, "round_id": round_id, "stage": stage})


def _decides(text: str) -> dict[str, str]:
    """``{decision stage: the stage it decides}`` of a stored programme (validated when it ran);
    empty when the text cannot be read as one."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    stages = data.get("stages") if isinstance(data, dict) else None
    return {s["code"]: s["decides"] for s in stages or []
            if isinstance(s, dict) and isinstance(s.get("code"), str) and isinstance(s.get("decides"), str)}


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("decides")
