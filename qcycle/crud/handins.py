"""The hand-ins token of a round's stage (:class:`qcycle.models.HandInRevision`): what a reader keeps the stage's
accepted subjects and who handed it in under, while they stand.

SQLite only. On PostgreSQL nothing is kept: qcycle would have to take the token's row as it stores each batch,
and two imports of one round would then wait for each other, where today they write side by side.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import Session

__all__ = ["hand_ins_token", "revise_hand_ins"]


def hand_ins_token(*, session: Session, round_id: uuid.UUID, stage: str) -> tuple[str | None, int] | None:
    """``(token, count)``: the stage's revision token (None: never revised) and how many submissions the stage
    holds. It changes with every submission qcycle stores, every update of a column the hand-ins are read by and
    every delete (the token: random, so a write rolled back never brings an old token back), and every row
    anyone else inserts (the count; between two tokens rows only come). None on PostgreSQL (nothing kept)."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    session.flush()  # submissions pending in the session are counted
    # Through the driver, as the decisions token is: asked before each kept value is used.
    row = session.connection().exec_driver_sql(
        "SELECT (SELECT token FROM hand_in_revision WHERE round_id = ? AND stage = ?),"
        " (SELECT count(*) FROM submission WHERE round_id = ? AND stage = ?)",
        (round_id.hex, stage, round_id.hex, stage)).one()
    return row[0], row[1]


def revise_hand_ins(*, session: Session, written: Iterable[tuple[uuid.UUID | str, str | None]]) -> None:
    """A new token for the (round, stage) of each submission ``written`` (a round's id or its hex; the stage, None
    for hand-ins of no stage), in the caller's transaction: called by whatever stores submissions, before a value
    kept under the old token could be read again."""
    if session.get_bind().dialect.name != "sqlite":
        return
    pairs = set(written)  # an import's rows share a few: each converted once
    keys = sorted({(r.hex if isinstance(r, uuid.UUID) else uuid.UUID(r).hex, stage or "") for r, stage in pairs})
    if keys:
        session.connection().exec_driver_sql(
            "INSERT INTO hand_in_revision (round_id, stage, token) VALUES (?, ?, lower(hex(randomblob(16))))"
            " ON CONFLICT (round_id, stage) DO UPDATE SET token = excluded.token", keys)
