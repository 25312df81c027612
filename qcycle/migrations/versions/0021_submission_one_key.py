"""A submission is kept once per key (``round_id``, ``identity``) only: the unique
(``round_id``, ``fingerprint``) key goes. A record's fingerprint repeats only with its key
(the key's values are fields of the record), so intake tells an exact repeat by reading the
version in force under its key, and earlier versions by ``submission_revision``'s own
fingerprint index; a record placed by its time among several stages of its kind (whose key a
moved deadline changes) is also looked for at those stages. Its random 64-hex entries were a
third of a large import's writes to the table (issue 13: ``bench/intake_designs.py``).

Revision ID: 0021_submission_one_key
Revises: 0020_outbox_posted_with
"""

from collections.abc import Callable, Sequence

from alembic import op

revision: str = "0021_submission_one_key"
down_revision: str | Sequence[str] | None = "0020_outbox_posted_with"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keeping_revisions(alter: Callable[[], None]) -> None:
    """Run ``alter`` on ``submission``. SQLite rebuilds the table to change a constraint, and with
    foreign keys on, dropping the old table fails while ``submission_revision`` rows point at it:
    those rows are set aside for the rebuild and put back unchanged."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        alter()
        return
    bind.exec_driver_sql("CREATE TEMP TABLE revisions_0021 AS SELECT * FROM submission_revision")
    bind.exec_driver_sql("DELETE FROM submission_revision")
    alter()
    bind.exec_driver_sql("INSERT INTO submission_revision SELECT * FROM revisions_0021")
    bind.exec_driver_sql("DROP TABLE revisions_0021")


def upgrade() -> None:
    def drop() -> None:
        with op.batch_alter_table("submission", schema=None) as batch_op:
            batch_op.drop_constraint(op.f("uq_submission_round_id_fingerprint"), type_="unique")

    _keeping_revisions(drop)


def downgrade() -> None:
    def create() -> None:
        with op.batch_alter_table("submission", schema=None) as batch_op:
            batch_op.create_unique_constraint(op.f("uq_submission_round_id_fingerprint"), ["round_id", "fingerprint"])

    _keeping_revisions(create)
