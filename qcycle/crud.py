"""Data access: plain functions, keyword-only arguments, an explicit session.

The caller owns the transaction (``qcycle.db.session_scope``); these functions flush
but never commit. Writes that two workers may race on are single statements
(``INSERT ... ON CONFLICT``) keyed on the table's unique constraint, so the loser neither
raises nor aborts its transaction, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, delete, func, select, update

from qcycle.clock import now
from qcycle.errors import QcycleError
from qcycle.models import (
    ACTION_OUTCOMES,
    DECISION_OUTCOMES,
    SUBMISSION_KINDS,
    SUBMISSION_STATUSES,
    ActionRun,
    AssessmentResult,
    AuditLog,
    Decision,
    ListItem,
    OutboxMessage,
    ProgrammeRound,
    QuarantinedRecord,
    Review,
    RoundAmendment,
    Submission,
    SubmissionRevision,
    Unit,
    UnitExtension,
    identity_text,
)

__all__ = [
    "VERSION_COLUMNS",
    "action_done",
    "add_amendment",
    "add_submission",
    "add_submissions",
    "assign_submission_stages",
    "audit",
    "count_messages",
    "current_submissions",
    "done_action_keys",
    "done_keys_named",
    "earlier_awards",
    "enqueue_message",
    "enqueue_messages",
    "failed_messages",
    "find_message",
    "get_or_create_round",
    "get_round",
    "grant_extension",
    "known_fingerprints",
    "last_amendment_at",
    "list_amendments",
    "list_extensions",
    "list_messages",
    "list_quarantine",
    "list_results",
    "list_revised",
    "message_status_counts",
    "put_decision",
    "put_decisions",
    "put_review",
    "put_reviews",
    "quarantine",
    "quarantine_many",
    "record_action",
    "recorded_actions",
    "resolve_quarantine",
    "revise_submissions",
    "round_fingerprint",
    "round_tallies",
    "save_results",
    "unit_fields",
    "update_round",
    "upsert_list_items",
    "upsert_units",
]


# -- helpers ---------------------------------------------------------------------------------


def _insert(session: Session, model: type[SQLModel]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model.__table__)  # type: ignore[attr-defined]
    if dialect == "sqlite":
        return sqlite.insert(model.__table__)  # type: ignore[attr-defined]
    raise QcycleError(f"unsupported database {dialect!r}: qcycle runs on SQLite or PostgreSQL")


def _row(obj: SQLModel) -> dict[str, Any]:
    """Column values of an unsaved table object, defaults (id, timestamps) included."""
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}  # type: ignore[attr-defined]


@functools.cache
def _column_defaults(model: type[SQLModel]) -> tuple[tuple[str, Any, Any], ...]:
    fields = model.model_fields
    return tuple((c.key, fields[c.key].default, fields[c.key].default_factory)
                 for c in model.__table__.columns)  # type: ignore[attr-defined]


def _complete(model: type[SQLModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`_row` gives for ``model(**values)``, without building the object: a bulk
    write of tens of thousands of rows spent more time constructing objects than writing."""
    out = {}
    for key, default, factory in _column_defaults(model):
        if key in values:
            out[key] = values[key]
        elif factory is not None:
            out[key] = factory()
        elif default is PydanticUndefined:
            raise ValueError(f"{model.__name__}: missing {key}")
        else:
            out[key] = default
    return out


_CHUNK = 500  # values per IN (...): well inside every SQLite build's parameter limit


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _insert_absent(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """INSERT ``rows`` (complete column values) … ON CONFLICT (``keys``) DO NOTHING; returns
    the ``returning`` columns of the rows this call inserted.

    A concurrent writer of the same key makes PostgreSQL wait for it to finish, then do
    nothing: no exception, and the caller's transaction stays usable.
    """
    if not rows:
        return []
    session.flush()  # pending rows (e.g. the round) must reach the database first
    table = model.__table__  # type: ignore[attr-defined]
    # One statement executed for many parameter sets: SQLAlchemy compiles it once and sends
    # the rows a batch per round trip ("insertmanyvalues"), RETURNING only the rows inserted.
    stmt = (
        _insert(session, model)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(*(table.c[c] for c in returning))
    )
    return [tuple(r) for r in session.connection().execute(stmt, list(rows)).all()]


def _insert_if_absent(session: Session, obj: SQLModel, *, keys: Sequence[str]) -> bool:
    """INSERT ``obj`` unless a row with the same ``keys`` exists; True if this call inserted."""
    return bool(_insert_absent(session, type(obj), [_row(obj)], keys=keys))


def _upsert(
    session: Session,
    model: type[SQLModel],
    rows: list[dict[str, Any]],
    *,
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """INSERT ``rows``, or UPDATE ``update_columns`` of rows whose ``keys`` already exist."""
    if not rows:
        return
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in seen:
            # PostgreSQL refuses to update one row twice in a statement; it is a caller bug.
            raise ValueError(f"{model.__name__}: duplicate {dict(zip(keys, key, strict=True))}")
        seen.add(key)
    session.flush()
    # Rows in key order: concurrent upserts then lock rows in one order and cannot deadlock.
    rows = sorted(rows, key=lambda row: tuple(str(row[k]) for k in keys))
    stmt = _insert(session, model)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update_columns}
    )
    session.connection().execute(stmt, rows)  # compiled once, rows sent in batches


def _fields(item: Any) -> dict[str, Any]:
    """Fields of a mapping, pydantic model, dataclass or plain object."""
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, BaseModel):
        return item.model_dump()
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
    if hasattr(item, "__dict__"):
        return dict(vars(item))
    raise TypeError(f"cannot read fields from {type(item).__name__}")


def _kind(value: Any) -> str:
    """A submission kind: a built-in one or one a programme declares (checked at intake)."""
    text = str(value.value if hasattr(value, "value") else value)
    if not _KIND.match(text):
        raise ValueError(f"kind must be a code such as {', '.join(SUBMISSION_KINDS)}; got {text!r}")
    return text


_KIND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    text = str(value.value if hasattr(value, "value") else value)  # plain str or an Enum
    if text not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {text!r}")
    return text


def _json(value: Any) -> Any:
    # Dates, UUIDs, Decimals and models become JSON text the same way everywhere.
    return to_jsonable_python(value)


# -- programme rounds ------------------------------------------------------------------------


def get_round(*, session: Session, code: str) -> ProgrammeRound | None:
    return session.exec(select(ProgrammeRound).where(ProgrammeRound.code == code)).first()


def get_or_create_round(
    *,
    session: Session,
    code: str,
    name: str,
    issuer_code: str,
    config_path: str,
    config_sha256: str,
    first_year: int,
    last_year: int,
    programme: str | None = None,
    config_text: str | None = None,
) -> tuple[ProgrammeRound, bool]:
    """The round with ``code``, created from the other arguments if missing.

    An existing round is returned unchanged: compare its ``config_sha256`` to notice an
    edited programme file, and call :func:`update_round` deliberately.
    """
    candidate = ProgrammeRound(
        code=code,
        name=name,
        issuer_code=issuer_code,
        config_path=config_path,
        config_sha256=config_sha256,
        first_year=first_year,
        last_year=last_year,
        programme=programme,
        config_text=config_text,
    )
    created = _insert_if_absent(session, candidate, keys=["code"])
    found = get_round(session=session, code=code)
    assert found is not None  # inserted or already there
    return found, created


def earlier_awards(*, session: Session, programme: str, grades: Sequence[str], before_round: str,
                   ) -> list[tuple[str, int, str]]:
    """(unit code, year, round code) of every subject graded one of ``grades`` in another round
    of the same programme family: who won, and when (the round's last year)."""
    rows = session.exec(
        select(AssessmentResult.unit_code, ProgrammeRound.last_year, ProgrammeRound.code)
        .join(ProgrammeRound, AssessmentResult.round_id == ProgrammeRound.id)
        .where(ProgrammeRound.programme == programme, ProgrammeRound.code != before_round,
               col(AssessmentResult.grade).in_(list(grades)))
    ).all()
    return [(subject.partition(":")[0], year, code) for subject, year, code in rows]


def update_round(*, session: Session, round_id: uuid.UUID, **changes: Any) -> ProgrammeRound:
    """Set fields of a round (e.g. ``current_stage``, ``config_sha256``); bumps updated_at."""
    rnd = session.get(ProgrammeRound, round_id)
    if rnd is None:
        raise LookupError(f"no programme round with id {round_id}")
    for field, value in changes.items():
        if field not in ProgrammeRound.model_fields or field in {"id", "created_at"}:
            raise ValueError(f"ProgrammeRound has no settable field {field!r}")
        setattr(rnd, field, value)
    session.add(rnd)
    session.flush()
    return rnd


# -- units and list items ----------------------------------------------------------------------


def unit_fields(*, session: Session, round_id: uuid.UUID) -> dict[str, tuple[str, str, str | None]]:
    """The round's units as stored: ``{code: (name, level, parent_code)}``."""
    session.flush()
    stmt = select(Unit.code, Unit.name, Unit.level, Unit.parent_code).where(Unit.round_id == round_id)
    return {code: (name, level, parent) for code, name, level, parent in session.exec(stmt)}


def upsert_units(*, session: Session, round_id: uuid.UUID, units: Iterable[Any]) -> list[Unit]:
    """Insert or update the round's units by code; returns all units of the round by code.

    Each unit is a mapping or object with ``code``, ``name``, ``level`` and ``parent_code``
    (or ``parent``, as in the programme schema). Units missing from ``units`` are kept.
    """
    rows = []
    for item in units:
        f = _fields(item)
        unit = Unit(
            round_id=round_id,
            code=f["code"],
            name=f["name"],
            level=str(f["level"]),
            parent_code=f.get("parent_code", f.get("parent")),
        )
        rows.append(_row(unit))
    _upsert(
        session,
        Unit,
        rows,
        keys=["round_id", "code"],
        update_columns=["name", "level", "parent_code"],
    )
    stmt = (
        select(Unit)
        .where(Unit.round_id == round_id)
        .order_by(col(Unit.code))
        .execution_options(populate_existing=True)
    )
    return list(session.exec(stmt))


def upsert_list_items(
    *, session: Session, round_id: uuid.UUID, items: Iterable[Any]
) -> list[ListItem]:
    """Insert or update list items (``category_code``, ``code``, ``name``) by code."""
    rows = []
    for item in items:
        f = _fields(item)
        rows.append(
            _row(
                ListItem(
                    round_id=round_id,
                    category_code=f["category_code"],
                    code=f["code"],
                    name=f["name"],
                )
            )
        )
    _upsert(
        session,
        ListItem,
        rows,
        keys=["round_id", "code"],
        update_columns=["category_code", "name"],
    )
    stmt = (
        select(ListItem)
        .where(ListItem.round_id == round_id)
        .order_by(col(ListItem.code))
        .execution_options(populate_existing=True)
    )
    return list(session.exec(stmt))


# -- submissions and quarantine ---------------------------------------------------------------


def add_submission(
    *,
    session: Session,
    round_id: uuid.UUID,
    kind: str,
    unit_code: str,
    fingerprint: str,
    submitted_at: dt.datetime,
    source: str,
    payload: Mapping[str, Any] | None = None,
    category_code: str | None = None,
    item_code: str | None = None,
    period: str | None = None,
    external_id: str | None = None,
    late: bool = False,
    status: str = "accepted",
    received_at: dt.datetime | None = None,
    stage: str | None = None,
    identity: str | None = None,
) -> tuple[Submission, bool]:
    """Store a submission once per (round, fingerprint) and per (round, identity);
    ``created`` is False for a repeat.

    A repeat returns the row stored first, unchanged: the first receipt is the record.
    ``identity`` defaults to the default key (stage, unit, item, period).
    """
    row = {"round_id": round_id, "kind": kind, "stage": stage, "unit_code": unit_code, "category_code": category_code,
           "item_code": item_code, "period": period, "external_id": external_id, "fingerprint": fingerprint,
           "payload": payload, "submitted_at": submitted_at, "source": source, "late": late,
           "status": status, "received_at": received_at or now(),
           "identity": identity or identity_text(stage or kind, [unit_code, item_code, period])}
    created = bool(add_submissions(session=session, rows=[row]))
    stmt = select(Submission).where(Submission.round_id == round_id, Submission.fingerprint == fingerprint)
    found = session.exec(stmt).first()
    if found is None:  # the same key with other content: the version in force is the record
        stmt = select(Submission).where(Submission.round_id == round_id, Submission.identity == row["identity"])
        found = session.exec(stmt).one()
    return found, created


def assign_submission_stages(*, session: Session, round_id: uuid.UUID, stage_of_kind: Mapping[str, str]) -> int:
    """Give submissions without a stage the stage that takes their kind; returns how many."""
    n = 0
    for kind, stage in stage_of_kind.items():
        result = session.exec(update(Submission).where(  # type: ignore[call-overload]
            Submission.round_id == round_id, col(Submission.stage).is_(None), Submission.kind == kind)
            .values(stage=stage))
        n += result.rowcount or 0
    return n


def add_submissions(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, uuid.UUID]:
    """Store many submissions, each once per (round, fingerprint) and per (round, identity),
    in one executemany; returns ``{fingerprint: id}`` of the rows this call stored
    (the others are repeats: the first receipt is the record). Each row has
    :func:`add_submission`'s fields."""
    stamp = now()
    values = []
    for r in rows:
        r = dict(r)
        r["kind"] = _kind(r["kind"])
        r["status"] = _choice(r.get("status", "accepted"), SUBMISSION_STATUSES, "status")
        r["payload"] = _json(dict(r.get("payload") or {}))
        r.setdefault("received_at", stamp)
        if r.get("identity") is None:
            r["identity"] = identity_text(r.get("stage") or r["kind"],
                                          [r["unit_code"], r.get("item_code"), r.get("period")])
        values.append(_complete(Submission, r))
    if not values:
        return {}
    session.flush()
    # Without RETURNING the driver's executemany does the work (RETURNING made SQLAlchemy
    # handle every row in Python: most of a large import's time). The ids are made here, so
    # which rows went in is asked afterwards, by primary key; a repeat's id is not there.
    session.connection().execute(_insert(session, Submission).on_conflict_do_nothing(), values)
    fingerprints = {v["id"]: v["fingerprint"] for v in values}
    stored: dict[str, uuid.UUID] = {}
    for chunk in _chunks(fingerprints):
        for submission_id in session.exec(select(Submission.id).where(col(Submission.id).in_(chunk))):
            stored[fingerprints[submission_id]] = submission_id
    return stored


# The columns one version of a submission has (the rest: its id, round, identity, count).
VERSION_COLUMNS = ("kind", "stage", "unit_code", "category_code", "item_code", "period", "external_id",
                   "fingerprint", "payload", "submitted_at", "source", "late", "status", "received_at")


def current_submissions(*, session: Session, round_id: uuid.UUID,
                        identities: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The version in force of each of ``identities`` stored in the round:
    ``{identity: {"id", "revisions", *VERSION_COLUMNS}}``."""
    session.flush()
    table = Submission.__table__  # type: ignore[attr-defined]
    columns = [table.c.identity, table.c.id, table.c.revisions, *(table.c[c] for c in VERSION_COLUMNS)]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(identities):
        stmt = select(*columns).where(table.c.round_id == round_id, table.c.identity.in_(chunk))
        for row in session.connection().execute(stmt).mappings():
            found[row["identity"]] = {k: v for k, v in row.items() if k != "identity"}
    return found


def known_fingerprints(*, session: Session, round_id: uuid.UUID, fingerprints: Iterable[str]) -> set[str]:
    """Which of ``fingerprints`` the round has received: a version in force or an earlier one."""
    session.flush()
    known: set[str] = set()
    for chunk in _chunks(fingerprints):
        for model in (Submission, SubmissionRevision):
            known.update(session.exec(select(model.fingerprint).where(
                model.round_id == round_id, col(model.fingerprint).in_(chunk))))
    return known


def revise_submissions(*, session: Session, round_id: uuid.UUID, versions: Sequence[Mapping[str, Any]],
                       kept: Sequence[Mapping[str, Any]]) -> None:
    """Put each of ``versions`` (``id`` of a stored submission and its new VERSION_COLUMNS) in
    force, and keep ``kept`` (each ``submission_id``, ``fate`` and VERSION_COLUMNS: a version
    replaced, received after a later one, or refused) in submission_revision."""
    stamp = now()
    rows = [_complete(SubmissionRevision, {**{c: v[c] for c in VERSION_COLUMNS}, "round_id": round_id,
                                            "submission_id": v["submission_id"], "fate": v["fate"],
                                            "payload": _json(dict(v.get("payload") or {})),
                                            "recorded_at": stamp})
            for v in kept]
    if rows:
        session.connection().execute(_insert(session, SubmissionRevision), rows)
    for v in versions:
        values = {c: v[c] for c in VERSION_COLUMNS}
        values["payload"] = _json(dict(values.get("payload") or {}))
        session.exec(update(Submission).where(Submission.id == v["id"]).values(**values))  # type: ignore[call-overload]
    counts: dict[Any, int] = {}
    for v in kept:
        counts[v["submission_id"]] = counts.get(v["submission_id"], 0) + 1
    for submission_id, n in counts.items():
        session.exec(update(Submission).where(Submission.id == submission_id)  # type: ignore[call-overload]
                     .values(revisions=Submission.revisions + n))


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
        record=_json(dict(record)) if record is not None else None,
    )
    created = _insert_if_absent(session, candidate, keys=["fingerprint"])
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
    values = [_complete(QuarantinedRecord, {"round_id": r.get("round_id"), "source": r["source"],
                                            "raw": _decode(r["raw"]), "reason": r["reason"],
                                            "fingerprint": r["fingerprint"], "received_at": stamp})
              for r in rows]  # fmt: skip
    _insert_absent(session, QuarantinedRecord, values, keys=["fingerprint"], returning=("fingerprint",))
    found: dict[str, uuid.UUID] = {}
    for chunk in _chunks(dict.fromkeys(r["fingerprint"] for r in rows)):
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


def list_revised(*, session: Session, round_id: uuid.UUID, unit_code: str | None = None,
                 external_id: str | None = None) -> list[tuple[Submission, list[SubmissionRevision]]]:
    """Submissions of a round that have other versions, each with those versions (oldest
    first); optionally only one unit's, or those whose 编号 is ``external_id`` in any version."""
    stmt = select(Submission).where(Submission.round_id == round_id, Submission.revisions > 0)
    if unit_code is not None:
        stmt = stmt.where(Submission.unit_code == unit_code)
    found = list(session.exec(stmt.order_by(col(Submission.unit_code), col(Submission.received_at))))
    history: dict[uuid.UUID, list[SubmissionRevision]] = {s.id: [] for s in found}
    for chunk in _chunks(history):
        revisions = select(SubmissionRevision).where(col(SubmissionRevision.submission_id).in_(chunk))
        for r in session.exec(revisions.order_by(col(SubmissionRevision.received_at))):
            history[r.submission_id].append(r)
    pairs = [(s, history[s.id]) for s in found]
    if external_id is not None:
        pairs = [(s, h) for s, h in pairs if external_id in {s.external_id, *(r.external_id for r in h)}]
    return pairs


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


# -- timetable actions -----------------------------------------------------------------------


def record_action(
    *,
    session: Session,
    round_id: uuid.UUID,
    action_key: str,
    action: str,
    due_at: dt.datetime,
    outcome: str = "done",
    note: str = "",
    done_at: dt.datetime | None = None,
) -> bool:
    """Record that a timetable action was carried out; True if this call recorded it.

    False when the action was already recorded as done or skipped (nothing changes).
    A recorded failure is overwritten, so a retried action can be recorded again.
    """
    outcome = _choice(outcome, ACTION_OUTCOMES, "outcome")
    done_at = done_at or now()
    candidate = ActionRun(
        round_id=round_id,
        action_key=action_key,
        action=action,
        due_at=due_at,
        outcome=outcome,
        note=note,
        done_at=done_at,
    )
    if _insert_if_absent(session, candidate, keys=["round_id", "action_key"]):
        return True
    # One statement, so two retries racing over a failure cannot both overwrite it blindly.
    retried = session.exec(
        update(ActionRun)
        .where(
            col(ActionRun.round_id) == round_id,
            col(ActionRun.action_key) == action_key,
            col(ActionRun.outcome) == "failed",
        )
        .values(outcome=outcome, note=note, done_at=done_at, action=action, due_at=due_at)
        .execution_options(synchronize_session=False)
    )
    return retried.rowcount > 0


def recorded_actions(*, session: Session, round_id: uuid.UUID) -> dict[str, dt.datetime | None]:
    """Every recorded action of the round (done, skipped or failed): key → the moment it was due."""
    return dict(session.exec(select(ActionRun.action_key, ActionRun.due_at).where(
        ActionRun.round_id == round_id)).all())


def round_fingerprint(*, session: Session, code: str) -> tuple[uuid.UUID, str] | None:
    """The round's id and the sha256 of the file it last ran on, without loading the row."""
    row = session.exec(select(ProgrammeRound.id, ProgrammeRound.config_sha256).where(
        ProgrammeRound.code == code)).first()
    return (row[0], row[1]) if row is not None else None


def done_action_keys(*, session: Session, round_id: uuid.UUID) -> set[str]:
    """Keys of the round's actions carried out (outcome ``done``)."""
    return set(session.exec(select(ActionRun.action_key).where(
        ActionRun.round_id == round_id, ActionRun.outcome == "done")).all())


def done_keys_named(*, session: Session, round_id: uuid.UUID, name: str) -> list[str]:
    """Keys carried out of the actions named ``name`` (a key up to its ``@``), whatever day
    they served: the same reminder or opening done for a deadline that has since moved."""
    return list(session.exec(select(ActionRun.action_key).where(
        ActionRun.round_id == round_id, ActionRun.outcome == "done",
        col(ActionRun.action_key).startswith(f"{name}@", autoescape=True))).all())


def action_done(*, session: Session, round_id: uuid.UUID, action_key: str) -> bool:
    """True if the action is recorded as done or skipped (a failure does not count)."""
    stmt = select(ActionRun.id).where(
        ActionRun.round_id == round_id,
        ActionRun.action_key == action_key,
        col(ActionRun.outcome).in_(["done", "skipped"]),
    )
    return session.exec(stmt).first() is not None


# -- amendments ------------------------------------------------------------------------------


def add_amendment(*, session: Session, round_id: uuid.UUID, **fields: Any) -> RoundAmendment:
    """Record a change to the round's programme file (fields of :class:`RoundAmendmentBase`)."""
    row = RoundAmendment(round_id=round_id, **fields)
    session.add(row)
    session.flush()
    return row


def last_amendment_at(*, session: Session, round_id: uuid.UUID) -> dt.datetime | None:
    """When the round's latest amendment was recorded (None if it has none)."""
    return session.exec(select(func.max(RoundAmendment.recorded_at)).where(
        RoundAmendment.round_id == round_id)).one()


def list_amendments(*, session: Session, round_id: uuid.UUID) -> list[RoundAmendment]:
    """The round's amendments, oldest first."""
    return list(session.exec(select(RoundAmendment).where(RoundAmendment.round_id == round_id)
                             .order_by(col(RoundAmendment.recorded_at), col(RoundAmendment.id))).all())


# -- unit extensions (延期申请) -----------------------------------------------------------------


def grant_extension(*, session: Session, round_id: uuid.UUID, stage: str, unit_code: str, period: str | None,
                    deadline: dt.datetime, reason: str, actor: str) -> UnitExtension:
    """Give a unit its own deadline for one window; a later grant for the same window replaces it."""
    row = session.exec(select(UnitExtension).where(
        UnitExtension.round_id == round_id, UnitExtension.stage == stage, UnitExtension.unit_code == unit_code,
        UnitExtension.period == (period or ""))).first()
    if row is None:
        row = UnitExtension(round_id=round_id, stage=stage, unit_code=unit_code, period=period or "",
                            deadline=deadline, reason=reason, actor=actor)
    else:
        row.deadline, row.reason, row.actor, row.granted_at = deadline, reason, actor, now()
    session.add(row)
    session.flush()
    return row


def list_extensions(*, session: Session, round_id: uuid.UUID) -> list[UnitExtension]:
    """The round's unit extensions, by stage, period and unit."""
    return list(session.exec(select(UnitExtension).where(UnitExtension.round_id == round_id).order_by(
        col(UnitExtension.stage), col(UnitExtension.period), col(UnitExtension.unit_code))).all())


# -- audit log -------------------------------------------------------------------------------


def audit(
    *,
    session: Session,
    actor: str,
    action: str,
    round_code: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Append one audit entry (``actor`` like "cli:alice", "flow:reconcile", "schedule")."""
    entry = AuditLog(
        actor=actor, action=action, round_code=round_code, detail=_json(dict(detail or {}))
    )
    session.add(entry)
    session.flush()
    return entry


# -- reviews, decisions, results ---------------------------------------------------------------


def put_review(
    *,
    session: Session,
    round_id: uuid.UUID,
    unit_code: str,
    reviewer: str,
    component_code: str,
    value: float,
    submitted_at: dt.datetime | None = None,
) -> Review:
    """Set one reviewer's value for one component of one unit (a later value replaces it)."""
    put_reviews(session=session, round_id=round_id, submitted_at=submitted_at,
                rows=[{"unit_code": unit_code, "reviewer": reviewer, "component_code": component_code,
                       "value": value}])
    stmt = (
        select(Review)
        .where(
            Review.round_id == round_id,
            Review.unit_code == unit_code,
            Review.reviewer == reviewer,
            Review.component_code == component_code,
        )
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).one()


def put_decision(
    *,
    session: Session,
    round_id: uuid.UUID,
    stage: str,
    subject: str,
    outcome: str,
    decided_by: str,
    note: str = "",
    decided_at: dt.datetime | None = None,
) -> Decision:
    """Set the decision of a stage on a subject (a later decision replaces it; audit it)."""
    put_decisions(session=session, round_id=round_id, stage=stage, outcomes={subject: outcome},
                  decided_by=decided_by, note=note, decided_at=decided_at)
    stmt = (
        select(Decision)
        .where(Decision.round_id == round_id, Decision.stage == stage, Decision.subject == subject)
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).one()


def put_reviews(*, session: Session, round_id: uuid.UUID, rows: Iterable[Mapping[str, Any]],
                submitted_at: dt.datetime | None = None) -> int:
    """:func:`put_review` for many values at once (rows: ``unit_code``, ``reviewer``,
    ``component_code``, ``value``); a later row for the same key wins. Returns how many keys."""
    stamp = submitted_at or now()
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["unit_code"], str(r["reviewer"]), r["component_code"])
        latest[key] = _complete(Review, {"round_id": round_id, "unit_code": key[0], "reviewer": key[1],
                                         "component_code": key[2], "value": float(r["value"]),
                                         "submitted_at": stamp})
    _upsert(session, Review, list(latest.values()), keys=["round_id", "unit_code", "reviewer", "component_code"],
            update_columns=["value", "submitted_at"])
    return len(latest)


def put_decisions(*, session: Session, round_id: uuid.UUID, stage: str, outcomes: Mapping[str, str],
                  decided_by: str, note: str = "", decided_at: dt.datetime | None = None) -> int:
    """:func:`put_decision` for many subjects of one stage at once (``{subject: outcome}``)."""
    stamp = decided_at or now()
    values = [_complete(Decision, {"round_id": round_id, "stage": stage, "subject": subject,
                                   "outcome": _choice(outcome, DECISION_OUTCOMES, "outcome"),
                                   "decided_by": decided_by, "note": note, "decided_at": stamp})
              for subject, outcome in outcomes.items()]
    _upsert(session, Decision, values, keys=["round_id", "stage", "subject"],
            update_columns=["outcome", "decided_by", "note", "decided_at"])
    return len(values)


def list_results(*, session: Session, round_id: uuid.UUID, stage: str | None = None) -> list[AssessmentResult]:
    """The round's assessment results (of one assessment stage), in rank order."""
    stmt = select(AssessmentResult).where(AssessmentResult.round_id == round_id)
    if stage is not None:
        stmt = stmt.where(AssessmentResult.stage == stage)
    return list(session.exec(stmt.order_by(AssessmentResult.stage, AssessmentResult.rank,
                                           AssessmentResult.unit_code)).all())


def save_results(
    *,
    session: Session,
    round_id: uuid.UUID,
    results: Iterable[Any],
    computed_at: dt.datetime | None = None,
    scope: Iterable[str] | None = None,
    stage: str = "",
) -> list[AssessmentResult]:
    """Replace the assessment results of ``scope`` (default: the whole round) with ``results``.

    Each result is a mapping or object with ``unit_code``, ``total``, ``grade``, ``rank``
    and optionally ``components``, ``bonus``, ``deduction``, ``veto``. Subjects in scope but
    absent from ``results`` lose their old result; subjects outside the scope (another
    category assessed on another day) are kept. Results of another ``stage`` (another year's
    assessment in the same round) are never touched. Returns the scope's results by rank.
    """
    computed_at = computed_at or now()
    rows = []
    for item in results:
        f = _fields(item)
        rows.append(
            _row(
                AssessmentResult(
                    round_id=round_id,
                    stage=stage,
                    unit_code=f["unit_code"],
                    total=float(f["total"]),
                    components=_json(dict(f.get("components") or {})),
                    bonus=float(f.get("bonus") or 0.0),
                    deduction=float(f.get("deduction") or 0.0),
                    veto=f.get("veto"),
                    grade=str(f["grade"]),
                    rank=int(f["rank"]),
                    computed_at=computed_at,
                )
            )
        )
    updated = ["total", "components", "bonus", "deduction", "veto", "grade", "rank"]
    _upsert(
        session,
        AssessmentResult,
        rows,
        keys=["round_id", "stage", "unit_code"],
        update_columns=[*updated, "computed_at"],
    )
    # Row by row upserts (not delete-all-then-insert) keep two concurrent saves from colliding.
    stale = delete(AssessmentResult).where(
        col(AssessmentResult.round_id) == round_id,
        col(AssessmentResult.stage) == stage,
        col(AssessmentResult.unit_code).not_in([r["unit_code"] for r in rows]),
    )
    stmt = select(AssessmentResult).where(
        AssessmentResult.round_id == round_id, AssessmentResult.stage == stage
    )
    if scope is not None:
        scope = list(scope)
        stale = stale.where(col(AssessmentResult.unit_code).in_(scope))
        stmt = stmt.where(col(AssessmentResult.unit_code).in_(scope))
    session.exec(stale.execution_options(synchronize_session="fetch"))
    stmt = stmt.order_by(col(AssessmentResult.rank), col(AssessmentResult.unit_code)).execution_options(
        populate_existing=True
    )
    return list(session.exec(stmt))


# -- outbox ----------------------------------------------------------------------------------


def enqueue_message(
    *,
    session: Session,
    idempotency_key: str,
    action: str,
    unit_code: str,
    channel: str,
    logical_date: dt.date,
    subject: str,
    body: str,
    round_id: uuid.UUID | None = None,
    tag: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> tuple[OutboxMessage, bool]:
    """Queue a message once per idempotency key; ``created`` is False for a repeat."""
    created = bool(enqueue_messages(session=session, rows=[{
        "idempotency_key": idempotency_key, "round_id": round_id, "action": action, "unit_code": unit_code,
        "channel": channel, "logical_date": logical_date, "tag": tag, "subject": subject, "body": body,
        "next_attempt_at": next_attempt_at}]))
    stmt = select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    return session.exec(stmt).one(), created


def enqueue_messages(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Queue many messages at once (INSERT … ON CONFLICT DO NOTHING on the idempotency key);
    returns the keys that are new. Each row has the fields of :func:`enqueue_message`."""
    stamp = now()
    values = [_complete(OutboxMessage, {"created_at": stamp, **r}) for r in rows]
    return [k for (k,) in _insert_absent(session, OutboxMessage, values, keys=["idempotency_key"],
                                         returning=("idempotency_key",))]


# -- outbox (reading; queueing and delivery live in qcycle.notify.outbox) -------------------


def _filtered(query: Any, round_id: uuid.UUID | None, status: str | None, unit: str | None,
              channel: str | None) -> Any:
    if round_id is not None:
        query = query.where(OutboxMessage.round_id == round_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    if unit:
        query = query.where(OutboxMessage.unit_code == unit)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    return query


def list_messages(*, session: Session, round_id: uuid.UUID | None = None, status: str | None = None,
                  unit: str | None = None, channel: str | None = None, limit: int = 200,
                  offset: int = 0) -> list[OutboxMessage]:
    """Messages, newest first; ``offset``/``limit`` page through them (see :func:`count_messages`)."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id))
    query = _filtered(query, round_id, status, unit, channel).offset(offset).limit(limit)
    return list(session.exec(query).all())


def count_messages(*, session: Session, round_id: uuid.UUID | None = None, status: str | None = None,
                   unit: str | None = None, channel: str | None = None) -> int:
    """How many messages :func:`list_messages` pages through."""
    query = _filtered(select(func.count()).select_from(OutboxMessage), round_id, status, unit, channel)
    return int(session.exec(query).one())


def message_status_counts(*, session: Session, round_id: uuid.UUID, up_to: dt.date | None = None) -> dict[str, int]:
    """The round's messages by status (those for logical dates up to ``up_to``, if given)."""
    query = select(OutboxMessage.status, func.count()).where(OutboxMessage.round_id == round_id)
    if up_to is not None:
        query = query.where(OutboxMessage.logical_date <= up_to)
    return dict(session.exec(query.group_by(OutboxMessage.status)).all())


def failed_messages(*, session: Session, round_id: uuid.UUID, up_to: dt.date, limit: int = 20
                    ) -> list[tuple[str, str, str]]:
    """(unit, channel, last error) of failed or dead messages for logical dates up to ``up_to``."""
    rows = session.exec(select(OutboxMessage.unit_code, OutboxMessage.channel, OutboxMessage.last_error).where(
        OutboxMessage.round_id == round_id, OutboxMessage.logical_date <= up_to,
        col(OutboxMessage.status).in_(["failed", "dead"])).limit(limit)).all()
    return [(u, c, e or "") for u, c, e in rows]


def round_tallies(*, session: Session, round_id: uuid.UUID) -> dict[str, Any]:
    """A round's closing figures: actions by outcome, submissions by (status, late), quarantined
    records, results by grade, messages by (channel, status)."""
    def grouped(*columns: Any, table: Any) -> dict[Any, int]:
        rows = session.exec(select(*columns, func.count()).where(table.round_id == round_id).group_by(*columns)).all()
        return {(tuple(r[:-1]) if len(r) > 2 else r[0]): r[-1] for r in rows}

    return {
        "actions": grouped(ActionRun.outcome, table=ActionRun),
        "submissions": grouped(Submission.status, Submission.late, table=Submission),
        "quarantined": int(session.exec(select(func.count()).select_from(QuarantinedRecord).where(
            QuarantinedRecord.round_id == round_id)).one()),
        "grades": grouped(AssessmentResult.grade, table=AssessmentResult),
        "messages": grouped(OutboxMessage.channel, OutboxMessage.status, table=OutboxMessage),
    }


def find_message(*, session: Session, ref: str) -> OutboxMessage:
    """The message with this id or id prefix (8+ characters); LookupError otherwise."""
    text = ref.strip().lower().replace("-", "")
    if len(text) < 8:
        raise LookupError("消息编号至少需要前8位")
    if len(text) == 32:
        row = session.get(OutboxMessage, uuid.UUID(text))
        if row is None:
            raise LookupError(f"没有编号为 {ref} 的消息")
        return row
    ids = [i for i in session.exec(select(OutboxMessage.id)).all() if i.hex.startswith(text)]
    if not ids:
        raise LookupError(f"没有编号以 {ref} 开头的消息")
    if len(ids) > 1:
        raise LookupError(f"编号前缀 {ref} 对应 {len(ids)} 条消息，请多写几位")
    return session.get(OutboxMessage, ids[0])
