"""``hand_in_revision``: a token per round and stage that changes with what its hand-ins are read by, so a
process keeps the accepted subjects and who handed a window in while they stand (a national round's ~10,000
applications were read again at every moment, for windows closed months before).

On SQLite, triggers on ``submission`` revise it on every update of a column the hand-ins are read by and on
every delete, whoever writes; qcycle revises it as it stores new submissions, and a row inserted by anyone else
changes the stage's count of submissions, which is read with the token. No trigger on insert: SQLite then
journals each row's pages, and an import's every row cost 60–80 % more. So an outside program's ``REPLACE``
(``INSERT OR REPLACE``) of a row, which deletes the row it replaces without firing the delete trigger and
keeps the count, goes unseen by a running process until the stage's next change: corrections are UPDATEs or
DELETEs (``INSERT … ON CONFLICT DO UPDATE`` fires the update trigger). On PostgreSQL the table stays empty
(nothing is kept there: ``qcycle.crud.hand_ins_token``).

A later migration that rebuilds ``submission`` on SQLite (``batch_alter_table``) drops these triggers and must
create them again (``tests/migrations.py::hand_in_tokens`` fails otherwise).

Revision ID: 0026_hand_in_revision
Revises: 0025_review_note
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_hand_in_revision"
down_revision: str | Sequence[str] | None = "0025_review_note"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the hand-ins are read by (qcycle.crud.handed_in_query, accepted_subjects): an update of any other
# column (a refusal answered, a revision counted) leaves them as they were.
_READ_BY = ("round_id", "stage", "status", "unit_code", "item_code", "category_code", "period")


def _revise(row: str) -> str:
    return ("INSERT INTO hand_in_revision (round_id, stage, token) VALUES "
            f"({row}.round_id, coalesce({row}.stage, ''), lower(hex(randomblob(16))))"
            " ON CONFLICT (round_id, stage) DO UPDATE SET token = excluded.token;")


def upgrade() -> None:
    op.create_table(
        "hand_in_revision",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", "stage", name=op.f("pk_hand_in_revision")),
    )
    if op.get_bind().dialect.name != "sqlite":
        return
    # Stages handed in already get a token: "never revised" would otherwise stand for their rows as they are now
    # and, after a way down and up again (no trigger meanwhile), for other rows of the same count.
    op.execute("INSERT INTO hand_in_revision (round_id, stage, token) SELECT round_id, coalesce(stage, ''),"
               " lower(hex(randomblob(16))) FROM submission GROUP BY round_id, coalesce(stage, '')")
    op.execute(f"CREATE TRIGGER hand_in_revised_update AFTER UPDATE OF {', '.join(_READ_BY)} ON submission"
               f" FOR EACH ROW BEGIN {_revise('NEW')} END")
    # Moved to another round or stage: the one it left changes too.
    op.execute("CREATE TRIGGER hand_in_revised_moved AFTER UPDATE OF round_id, stage ON submission FOR EACH ROW"
               " WHEN OLD.round_id IS NOT NEW.round_id OR OLD.stage IS NOT NEW.stage"
               f" BEGIN {_revise('OLD')} END")
    op.execute(f"CREATE TRIGGER hand_in_revised_delete AFTER DELETE ON submission FOR EACH ROW BEGIN {_revise('OLD')} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("update", "moved", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS hand_in_revised_{event}")
    op.drop_table("hand_in_revision")
