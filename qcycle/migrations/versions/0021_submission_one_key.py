"""A submission is kept once per key (``round_id``, ``identity``) only: the unique
(``round_id``, ``fingerprint``) key goes. A record's fingerprint repeats only with its key
(the key's values are fields of the record), so intake tells an exact repeat by reading the
version in force under its key, and earlier versions by ``submission_revision``'s own
fingerprint index. Its random 64-hex entries were a third of a large import's writes to the
table (issue 13: ``bench/intake_designs.py``).

Revision ID: 0021_submission_one_key
Revises: 0020_outbox_posted_with
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_submission_one_key"
down_revision: str | Sequence[str] | None = "0020_outbox_posted_with"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_submission_round_id_fingerprint"), type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f("uq_submission_round_id_fingerprint"), ["round_id", "fingerprint"])
