"""Quarantine and file imports: records that could not be read, kept verbatim once per
fingerprint until ops resolve them; the checkpoint of a file imported in batches."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlmodel import Session, col, select

from qcycle.clock import now
from qcycle.crud.base import chunks, complete, insert_if_absent, insert_into, insert_many, to_json
from qcycle.models import ImportCheckpoint, QuarantinedRecord

__all__ = [
    "get_checkpoint",
    "list_quarantine",
    "quarantine",
    "quarantine_many",
    "resolve_quarantine",
    "run_pragmas",
    "sqlite_page_size",
]


def _decode(raw: str | bytes) -> str:
    if isinstance(raw, str):
        return raw
    # Files from local offices are UTF-8 or GB18030 (GBK); never lose a byte either way.
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="backslashreplace")


def quarantine(
    *,
    session: Session,
    source: str,
    raw: str | bytes,
    reason: str,
    round_id: uuid.UUID | None = None,
    fingerprint: str | None = None,
    received_at: dt.datetime | None = None,
    record: Mapping[str, Any] | None = None,
) -> tuple[QuarantinedRecord, bool]:
    """Keep a record that could not be read, verbatim, once per fingerprint.

    ``fingerprint`` defaults to the sha256 of the raw bytes (``raw`` as UTF-8 if text);
    ``record``: a readable record set aside (a conflict), as read.
    """
    raw_bytes = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    fingerprint = fingerprint or hashlib.sha256(raw_bytes).hexdigest()
    candidate = QuarantinedRecord(
        round_id=round_id,
        source=source,
        raw=_decode(raw),
        reason=reason,
        fingerprint=fingerprint,
        received_at=received_at or now(),
        record=to_json(dict(record)) if record is not None else None,
    )
    created = insert_if_absent(session, candidate, keys=["fingerprint"])
    stmt = select(QuarantinedRecord).where(QuarantinedRecord.fingerprint == fingerprint)
    return session.exec(stmt).one(), created


def quarantine_many(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, uuid.UUID]:
    """:func:`quarantine` for many records at once (rows: ``source``, ``raw``, ``reason``,
    ``round_id``, ``fingerprint``); returns ``{fingerprint: id}`` of every row, stored by this
    call or earlier (a repeat keeps the first copy, as :func:`quarantine` does). A few
    statements per batch instead of an INSERT and a SELECT per record: a national file has
    thousands of broken rows."""
    if not rows:
        return {}
    stamp = now()
    values = [complete(QuarantinedRecord, {"round_id": r.get("round_id"), "source": r["source"],
                                           "raw": _decode(r["raw"]), "reason": r["reason"],
                                           "fingerprint": r["fingerprint"], "received_at": stamp})
              for r in rows]  # fmt: skip
    session.flush()  # pending rows (e.g. the round) must reach the database first
    stmt = insert_into(session, QuarantinedRecord).on_conflict_do_nothing(index_elements=["fingerprint"])
    if insert_many(session, stmt, values) == len(values):  # all new: their ids are the ones just written
        return {v["fingerprint"]: v["id"] for v in values}
    found: dict[str, uuid.UUID] = {}  # some kept before (by an earlier import or call): read them all once
    for chunk in chunks(dict.fromkeys(r["fingerprint"] for r in rows)):
        stmt = select(QuarantinedRecord.fingerprint, QuarantinedRecord.id).where(
            col(QuarantinedRecord.fingerprint).in_(chunk))
        found.update(session.exec(stmt).all())
    return found


def list_quarantine(
    *, session: Session, round_id: uuid.UUID | None = None, unresolved_only: bool = True
) -> list[QuarantinedRecord]:
    """Quarantined records, oldest first; ``round_id=None`` means every round and none."""
    stmt = select(QuarantinedRecord)
    if round_id is not None:
        stmt = stmt.where(QuarantinedRecord.round_id == round_id)
    if unresolved_only:
        stmt = stmt.where(col(QuarantinedRecord.resolved_at).is_(None))
    stmt = stmt.order_by(col(QuarantinedRecord.received_at), col(QuarantinedRecord.id))
    return list(session.exec(stmt))


def resolve_quarantine(
    *,
    session: Session,
    record_id: uuid.UUID,
    resolved_by: str,
    resolved_at: dt.datetime | None = None,
) -> QuarantinedRecord:
    """Mark a quarantined record as dealt with (the raw text stays)."""
    record = session.get(QuarantinedRecord, record_id)
    if record is None:
        raise LookupError(f"no quarantined record with id {record_id}")
    record.resolved_at = resolved_at or now()
    record.resolved_by = resolved_by
    session.add(record)
    session.flush()
    return record


# -- files imported in batches ---------------------------------------------------------------


def get_checkpoint(*, session: Session, round_id: Any, fingerprint: str) -> ImportCheckpoint | None:
    """How far the import of a file (by its fingerprint) into the round got; None if never begun."""
    stmt = select(ImportCheckpoint).where(ImportCheckpoint.round_id == round_id,
                                          ImportCheckpoint.fingerprint == fingerprint)  # fmt: skip
    return session.exec(stmt).first()


def run_pragmas(*, session: Session, pragmas: Iterable[str]) -> None:
    """Set SQLite ``pragmas`` (e.g. a bulk import's) on the session's connection."""
    for pragma in pragmas:
        session.connection().exec_driver_sql(pragma)


def sqlite_page_size(*, session: Session) -> int:
    """The SQLite database's page size in bytes (a file keeps the size it was made with)."""
    return int(session.connection().exec_driver_sql("PRAGMA page_size").scalar_one())
