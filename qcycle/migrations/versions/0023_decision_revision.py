"""``decision_revision``: a token per round that triggers on ``decision`` change on every insert,
update and delete, whoever writes (qcycle, another process, an officer's SQL). Readers keep
what they derived from a round's decisions (the takers, the eliminated, each stage's outcomes)
while the token stands, instead of reading ~10,000 decisions again for every selection of a
national round. Rounds with decisions already get a token here.

A later migration that rebuilds ``decision`` on SQLite (``batch_alter_table``) drops these
triggers and must create them again (``tests/migrations.py::decision_tokens`` fails otherwise).

Revision ID: 0023_decision_revision
Revises: 0022_outbox_merge_items_null
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_decision_revision"
down_revision: str | Sequence[str] | None = "0022_outbox_merge_items_null"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = ("insert", "update", "delete")


def _sqlite_revise(row: str) -> str:
    return (f"INSERT INTO decision_revision (round_id, token) VALUES ({row}.round_id, lower(hex(randomblob(16))))"
            " ON CONFLICT (round_id) DO UPDATE SET token = excluded.token;")


def upgrade() -> None:
    op.create_table(
        "decision_revision",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("written_in", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_decision_revision")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    random = "gen_random_uuid()::text" if postgresql else "lower(hex(randomblob(16)))"
    op.execute(f"INSERT INTO decision_revision (round_id, token) SELECT round_id, {random} FROM decision"
               " GROUP BY round_id")
    if postgresql:
        # Once per round and transaction (``written_in``): each change of the one row leaves a
        # version the next must step over until the transaction ends, and 20,000 decisions in
        # one took 5 s instead of 0.8. A reader in the writing transaction keeps nothing (see
        # crud.decisions_token); after the commit, the token stands for all its rows.
        # The round last revised is also noted in a setting of the transaction's own (undone with
        # it, or with a savepoint rolled back), so the rows after the first return at once.
        op.execute("""
            CREATE FUNCTION revise_decisions(round uuid) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                IF current_setting('qcycle.decisions_revised', true) IS NOT DISTINCT FROM round::text THEN
                    RETURN;
                END IF;
                INSERT INTO decision_revision (round_id, token, written_in)
                VALUES (round, gen_random_uuid()::text, txid_current())
                ON CONFLICT (round_id) DO UPDATE SET token = excluded.token, written_in = excluded.written_in
                WHERE decision_revision.written_in IS DISTINCT FROM excluded.written_in;
                PERFORM set_config('qcycle.decisions_revised', round::text, true);
            END $$""")
        # A decision moved to another round changes both rounds; TRUNCATE fires no row trigger,
        # and with no token nothing is kept.
        op.execute("""
            CREATE FUNCTION decision_revised() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'TRUNCATE' THEN
                    DELETE FROM decision_revision;
                    RETURN NULL;
                END IF;
                IF TG_OP <> 'INSERT' THEN
                    PERFORM revise_decisions(OLD.round_id);
                END IF;
                IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.round_id IS DISTINCT FROM OLD.round_id) THEN
                    PERFORM revise_decisions(NEW.round_id);
                END IF;
                RETURN NULL;
            END $$""")
        for event in _EVENTS:
            op.execute(f"CREATE TRIGGER decision_revised_{event} AFTER {event.upper()} ON decision "
                       "FOR EACH ROW EXECUTE FUNCTION decision_revised()")
        op.execute("CREATE TRIGGER decision_revised_truncate AFTER TRUNCATE ON decision "
                   "FOR EACH STATEMENT EXECUTE FUNCTION decision_revised()")
        return
    for event, row in zip(_EVENTS, ("NEW", "NEW", "OLD"), strict=True):
        op.execute(f"CREATE TRIGGER decision_revised_{event} AFTER {event.upper()} ON decision FOR EACH ROW"
                   f" BEGIN {_sqlite_revise(row)} END")
    # A decision moved to another round changes the round it left too.
    op.execute("CREATE TRIGGER decision_revised_moved AFTER UPDATE OF round_id ON decision FOR EACH ROW"
               f" WHEN OLD.round_id IS NOT NEW.round_id BEGIN {_sqlite_revise('OLD')} END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for event in (*_EVENTS, "truncate" if postgresql else "moved"):
        op.execute(f"DROP TRIGGER decision_revised_{event}" + (" ON decision" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION decision_revised()")
        op.execute("DROP FUNCTION revise_decisions(uuid)")
    op.drop_table("decision_revision")
