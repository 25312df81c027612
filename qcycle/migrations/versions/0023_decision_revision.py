"""``decision_revision``: a token per round that triggers on ``decision`` change on every insert,
update and delete, whoever writes (qcycle, another process, an officer's SQL). Readers keep
what they derived from a round's decisions (the takers, the eliminated, each stage's outcomes)
while the token stands, instead of reading ~10,000 decisions again for every selection of a
national round.

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

_EVENTS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))


def upgrade() -> None:
    op.create_table(
        "decision_revision",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_decision_revision")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION decision_revised() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE changed uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.round_id ELSE NEW.round_id END;
            BEGIN
                INSERT INTO decision_revision (round_id, token) VALUES (changed, gen_random_uuid()::text)
                ON CONFLICT (round_id) DO UPDATE SET token = excluded.token;
                RETURN NULL;
            END $$""")
        for event, _ in _EVENTS:
            op.execute(f"CREATE TRIGGER decision_revised_{event} AFTER {event.upper()} ON decision "
                       "FOR EACH ROW EXECUTE FUNCTION decision_revised()")
        return
    for event, row in _EVENTS:
        op.execute(f"""
            CREATE TRIGGER decision_revised_{event} AFTER {event.upper()} ON decision FOR EACH ROW BEGIN
                INSERT INTO decision_revision (round_id, token) VALUES ({row}.round_id, lower(hex(randomblob(16))))
                ON CONFLICT (round_id) DO UPDATE SET token = excluded.token;
            END""")


def downgrade() -> None:
    for event, _ in _EVENTS:
        op.execute(f"DROP TRIGGER decision_revised_{event}" + (
            " ON decision" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION decision_revised()")
    op.drop_table("decision_revision")
