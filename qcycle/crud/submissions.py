"""Submissions: storing hand-ins once (by fingerprint and identity), their versions
(submission_revision), and what the lifecycle asks of them: who handed a stage's submission
in, the decision subjects handed in, when each arrived.

Reads that run at every moment of a national round (tens of thousands of submissions) are
filtered and made distinct by the database and read as plain columns.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    false,
    null,
    or_,
    true,
)
from sqlmodel import Session, col, func, select, update

from qcycle.clock import now
from qcycle.crud.base import (
    CHUNK,
    _plain_bind_processor,
    choice,
    chunks,
    column_values,
    complete,
    insert_absent,
    insert_into,
    insert_many,
    recorded_moment,
    to_json,
)
from qcycle.crud.handins import revise_hand_ins
from qcycle.crud.rounds import lock_round
from qcycle.models import (
    SUBMISSION_KINDS,
    SUBMISSION_STATUSES,
    Submission,
    SubmissionRevision,
    identity_text,
)

__all__ = [
    "HANDED_IN_INDEX",
    "NO_HAND_IN",
    "VERSION_COLUMNS",
    "HandIn",
    "Refusal",
    "accepted_subjects",
    "add_planned",
    "add_submission",
    "add_submissions",
    "assign_submission_stages",
    "count_submissions",
    "current_submissions",
    "defer_handed_in_index",
    "driver_value",
    "first_hand_ins",
    "handed_in_list",
    "handed_in_query",
    "handed_in_units",
    "list_revised",
    "mark_answered",
    "received_fingerprints",
    "refusals_to_answer",
    "restore_handed_in_index",
    "revise_submissions",
]


def _kind(value: Any) -> str:
    """A submission kind: a built-in one or one a programme declares (checked at intake)."""
    text = str(value.value if hasattr(value, "value") else value)
    if not _KIND.match(text):
        raise ValueError(f"kind must be a code such as {', '.join(SUBMISSION_KINDS)}; got {text!r}")
    return text


_KIND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


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
    """Store a submission once per (round, identity); ``created`` is False for a repeat.

    A repeat returns the version in force, unchanged: the first receipt is the record.
    ``identity`` defaults to the default key (stage, unit, item, period).
    """
    row = {"round_id": round_id, "kind": kind, "stage": stage, "unit_code": unit_code, "category_code": category_code,
           "item_code": item_code, "period": period, "external_id": external_id, "fingerprint": fingerprint,
           "payload": payload, "submitted_at": submitted_at, "source": source, "late": late,
           "status": status, "received_at": received_at or now(),
           "identity": identity or identity_text(stage or kind, [unit_code, item_code, period])}
    created = bool(add_submissions(session=session, rows=[row]))
    stmt = select(Submission).where(Submission.round_id == round_id, Submission.identity == row["identity"])
    return session.exec(stmt).one(), created


def assign_submission_stages(*, session: Session, round_id: uuid.UUID, stage_of_kind: Mapping[str, str]) -> int:
    """Give submissions without a stage the stage that takes their kind; returns how many."""
    n = 0
    for kind, stage in stage_of_kind.items():
        result = session.exec(update(Submission).where(
            col(Submission.round_id) == round_id, col(Submission.stage).is_(None), col(Submission.kind) == kind)
            .values(stage=stage))
        n += result.rowcount or 0
    return n


def add_submissions(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, uuid.UUID]:
    """Store many submissions, each once per (round, identity), in one executemany; returns
    ``{fingerprint: id}`` of the rows this call stored (the others are repeats: the first
    receipt is the record). Each row has :func:`add_submission`'s fields."""
    stamp = now()
    values = []
    for r in rows:
        r = dict(r)
        r["kind"] = _kind(r["kind"])
        r["status"] = choice(r.get("status", "accepted"), SUBMISSION_STATUSES, "status")
        r["payload"] = to_json(dict(r.get("payload") or {}))
        r.setdefault("received_at", stamp)
        if r.get("identity") is None:
            r["identity"] = identity_text(r.get("stage") or r["kind"],
                                          [r["unit_code"], r.get("item_code"), r.get("period")])
        values.append(complete(Submission, r))
    stored = dict(insert_absent(session, Submission, values, keys=("round_id", "identity"),
                                returning=("fingerprint", "id")))
    revise_hand_ins(session=session, written={(v["round_id"], v["stage"]) for v in values if v["fingerprint"] in stored})
    return stored


# The columns one version of a submission has (the rest: its id, round, identity, count).
VERSION_COLUMNS = ("kind", "stage", "unit_code", "category_code", "item_code", "period", "external_id",
                   "fingerprint", "payload", "submitted_at", "source", "late", "status", "received_at")


# -- rows planned a batch at a time (the bulk lane of a file import; SQLite) -----------------


def driver_value(*, session: Session) -> Callable[[str, Any], Any]:
    """``convert(column, value)``: a submission column's value as the database driver takes it,
    as :func:`add_submissions` would write it (the column's own bind processing). Nothing is
    remembered here: it lives as long as an import, and its caller keeps bounded caches of its own."""
    dialect = session.connection().dialect
    table = Submission.__table__  # type: ignore[attr-defined]
    processors: dict[str, Any] = {}

    def convert(column: str, value: Any) -> Any:
        if column not in processors:
            processors[column] = _plain_bind_processor(table.c[column], dialect)
        if column == "payload":
            value = to_json(value)
        process = processors[column]
        return value if process is None else process(value)

    return convert


def add_planned(*, session: Session, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> dict[int, str]:
    """SQLite: store rows given as the driver's values of ``columns`` (``id``, ``round_id``
    first; ``identity`` among them; ids as :func:`qcycle.models.ordered_hex_ids` makes them),
    each once per (round, identity), by one executemany. Returns ``{place: fingerprint of the
    version in force}`` of each row whose key was held already (that row was not stored)."""
    if not rows:
        return {}
    session.flush()
    connection = session.connection()
    marks = ", ".join("?" * len(columns))
    sql = (f"INSERT INTO submission ({', '.join(columns)}, revisions) VALUES ({marks}, 0) "
           "ON CONFLICT (round_id, identity) DO NOTHING")
    at_stage = list(columns).index("stage") if "stage" in columns else None
    revise_hand_ins(session=session, written={(row[1], None if at_stage is None else row[at_stage]) for row in rows})
    if connection.exec_driver_sql(sql, list(rows)).rowcount == len(rows):
        return {}
    # Which rows were stored: the batch's ids are time-ordered, so one range of the primary
    # key holds them (a probe of every row's key cost three times as much). Any other id in
    # the range is another writer's.
    ids = [row[0] for row in rows]
    with connection.exec_driver_sql("SELECT id FROM submission WHERE id BETWEEN ? AND ?", (min(ids), max(ids))) as found:
        stored = {i for (i,) in found.cursor.fetchall()}  # the driver's own rows: ~5,000 of them
    at = list(columns).index("identity")
    missed = {str(k): row[at] for k, row in enumerate(rows) if row[0] not in stored}
    probe = ("SELECT j.key, s.fingerprint FROM json_each(?) AS j CROSS JOIN submission AS s "
             "ON s.round_id = ? AND s.identity = j.value")
    return {int(k): fp for k, fp in connection.exec_driver_sql(probe, (json.dumps(missed), rows[0][1]))}


# -- the handed-in index during a large load (SQLite) ---------------------------------------

HANDED_IN_INDEX = "ix_submission_handed_in"


def _handed_in_index() -> Any:
    table = Submission.__table__  # type: ignore[attr-defined]
    return next(i for i in table.indexes if i.name == HANDED_IN_INDEX)


def defer_handed_in_index(*, session: Session) -> None:
    """Drop ``ix_submission_handed_in`` for a large load, to be built once at its end
    (:func:`restore_handed_in_index`): kept up row by row, it was a third of what a
    500,000-row import wrote. Readers meanwhile scan the round's rows (the hand-ins token's count too); the
    answers are the same."""
    _handed_in_index().drop(session.connection(), checkfirst=True)


def restore_handed_in_index(*, session: Session) -> None:
    """Build ``ix_submission_handed_in`` if a large load dropped it (a killed import leaves it
    dropped until the next command that syncs its round)."""
    _handed_in_index().create(session.connection(), checkfirst=True)


def count_submissions(*, session: Session) -> int:
    """Submissions of every round: what rebuilding the handed-in index reads."""
    return session.exec(select(func.count()).select_from(Submission)).one()


def handed_in_list(*, session: Session, round_id: uuid.UUID, stage: str | None = None) -> list[tuple[Any, ...]]:
    """Every hand-in of the round (of one ``stage`` where given) as it stands, accepted or refused as late: (stage,
    period, unit_code, item_code, submitted_at, late, status), in no particular order."""
    s = Submission
    fields = ("stage", "period", "unit_code", "item_code", "submitted_at", "late", "status")
    rows = session.exec(select(*[getattr(s, f) for f in fields]).where(  # type: ignore[call-overload]
        s.round_id == round_id, col(s.status).in_(["accepted", "rejected_late"]),
        *([s.stage == stage] if stage is not None else []))).all()
    return [tuple(row) for row in rows]


def current_submissions(*, session: Session, round_id: uuid.UUID,
                        identities: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The version in force of each of ``identities`` stored in the round:
    ``{identity: {"id", "revisions", "answered_at", *VERSION_COLUMNS}}``."""
    session.flush()
    table = Submission.__table__  # type: ignore[attr-defined]
    columns = [table.c.identity, table.c.id, table.c.revisions, table.c.answered_at,
               *(table.c[c] for c in VERSION_COLUMNS)]
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(identities):
        stmt = select(*columns).where(table.c.round_id == round_id, table.c.identity.in_(chunk))
        for row in session.connection().execute(stmt).mappings():
            found[row["identity"]] = {k: v for k, v in row.items() if k != "identity"}
    return found


def received_fingerprints(*, session: Session, round_id: uuid.UUID, fingerprints: Iterable[str],
                          at_stages: Sequence[str] = ()) -> set[str]:
    """Which of ``fingerprints`` the round keeps as earlier versions (submission_revision), or in
    force at any of ``at_stages`` (a record placed by its time among several stages: its key there
    may not be the one it has now). A version in force is otherwise told by its key
    (:func:`current_submissions`): its fingerprint repeats only with its key."""
    session.flush()
    found: set[str] = set()
    r, s = SubmissionRevision, Submission
    fingerprints = list(fingerprints)
    if not at_stages and len(fingerprints) > CHUNK and session.exec(
            select(r.id).where(r.round_id == round_id).limit(1)).first() is None:
        return found  # nothing kept yet (most rounds, every batch of a first import): one query, not one a chunk
    for chunk in chunks(fingerprints):
        found.update(column_values(session, select(r.fingerprint).where(
            r.round_id == round_id, col(r.fingerprint).in_(chunk))))
        if at_stages:
            found.update(column_values(session, select(s.fingerprint).where(
                s.round_id == round_id, col(s.stage).in_(list(at_stages)), col(s.fingerprint).in_(chunk))))
    return found


def revise_submissions(*, session: Session, round_id: uuid.UUID, versions: Sequence[Mapping[str, Any]],
                       kept: Sequence[Mapping[str, Any]]) -> None:
    """Put each of ``versions`` (``id`` of a stored submission and its new VERSION_COLUMNS) in
    force, and keep ``kept`` (each ``submission_id``, ``fate`` and VERSION_COLUMNS: a version
    replaced, received after a later one, or refused; ``answered_at`` when its unit was told
    of its refusal) in submission_revision."""
    stamp = now()
    rows = [complete(SubmissionRevision, {**{c: v[c] for c in VERSION_COLUMNS}, "round_id": round_id,
                                           "submission_id": v["submission_id"], "fate": v["fate"],
                                           "answered_at": v.get("answered_at"),
                                           "payload": to_json(dict(v.get("payload") or {})),
                                           "recorded_at": stamp})
            for v in kept]
    if rows:
        insert_many(session, insert_into(session, SubmissionRevision), rows)
    # One statement each, executed many times: an import of revisions ran one UPDATE per record
    # (most of its time when most records revise a few hundred keys).
    table = Submission.__table__  # type: ignore[attr-defined]
    session.flush()  # the ORM's pending writes first, as its own UPDATE would
    if versions:
        params = [{"b_id": v["id"], **{f"b_{c}": v[c] for c in VERSION_COLUMNS},
                   "b_payload": to_json(dict(v.get("payload") or {}))} for v in versions]
        session.connection().execute(update(table).where(table.c.id == bindparam("b_id"))
                                     .values({c: bindparam(f"b_{c}") for c in VERSION_COLUMNS}), params)
    counts: dict[Any, int] = {}
    for v in kept:
        counts[v["submission_id"]] = counts.get(v["submission_id"], 0) + 1
    if counts:
        session.connection().execute(update(table).where(table.c.id == bindparam("b_id"))
                                     .values(revisions=table.c.revisions + bindparam("b_n")),
                                     [{"b_id": k, "b_n": n} for k, n in counts.items()])
    changed = {v["id"] for v in versions} | set(counts)
    for obj in [o for o in session.identity_map.values() if isinstance(o, Submission) and o.id in changed]:
        session.expire(obj)  # written past the ORM: a loaded copy reads the new values


def list_revised(*, session: Session, round_id: uuid.UUID, unit_code: str | None = None,
                 external_id: str | None = None) -> list[tuple[Submission, list[SubmissionRevision]]]:
    """Submissions of a round that have other versions, each with those versions (oldest
    first); optionally only one unit's, or those whose 编号 is ``external_id`` in any version."""
    stmt = select(Submission).where(Submission.round_id == round_id, Submission.revisions > 0)
    if unit_code is not None:
        stmt = stmt.where(Submission.unit_code == unit_code)
    found = list(session.exec(stmt.order_by(col(Submission.unit_code), col(Submission.received_at))))
    history: dict[uuid.UUID, list[SubmissionRevision]] = {s.id: [] for s in found}
    for chunk in chunks(history):
        revisions = select(SubmissionRevision).where(col(SubmissionRevision.submission_id).in_(chunk))
        for r in session.exec(revisions.order_by(col(SubmissionRevision.received_at))):
            history[r.submission_id].append(r)
    pairs = [(s, history[s.id]) for s in found]
    if external_id is not None:
        pairs = [(s, h) for s, h in pairs if external_id in {s.external_id, *(r.external_id for r in h)}]
    return pairs


# -- what the lifecycle asks: hand-ins by stage, period and category -------------------------


def _in_category(item_category: Mapping[str, str], category: str | None, *, uncategorised: bool) -> Any:
    """SQL condition: a submission counts for ``category`` (its own category, or its item's,
    ``item_category`` being the programme's item → category); ``uncategorised``: whether one
    with neither counts too. True when ``category`` is None."""
    if category is None:
        return true()
    items = [code for code, cat in item_category.items() if cat == category]
    no_category = col(Submission.category_code).is_(None)
    own_item: ColumnElement[bool] = col(Submission.item_code).in_(items) if items else false()
    if uncategorised:
        known = list(item_category)
        own_item = or_(own_item, col(Submission.item_code).is_(None),
                       col(Submission.item_code).not_in(known) if known else true())
    return or_(col(Submission.category_code) == category, and_(no_category, own_item))


def _subject_column() -> Any:
    """A submission's decision subject: 'unit:item', or 'unit' without an item."""
    return case((col(Submission.item_code).is_(None), Submission.unit_code),
                else_=col(Submission.unit_code) + ":" + col(Submission.item_code))


def _handed_in_by() -> tuple[Any, ...]:
    """The conditions that keep hand-ins made by the moment of :func:`qcycle.crud.as_recorded_at`
    (none outside one): the version in force, or an earlier version of it, handed in by then. A
    record revised since carries its revision's time, but its unit had handed it in."""
    moment = recorded_moment()
    if moment is None:
        return ()
    earlier = select(SubmissionRevision.id).where(SubmissionRevision.submission_id == Submission.id,
                                                  SubmissionRevision.submitted_at <= moment).exists()
    return (or_(col(Submission.submitted_at) <= moment, earlier),)


def handed_in_query(*, round_id: uuid.UUID, stage: str, period: str | None, category: str | None,
                    item_category: Mapping[str, str], status: str = "accepted", subjects: bool = False) -> Any:
    """SELECT the units that handed the stage's submission in (accepted; or with ``status``,
    e.g. refused as late), for a period and category: filtered and made distinct by the
    database, from ``ix_submission_handed_in`` (a national round holds tens of thousands of
    submissions and a status report asks about every past deadline). ``subjects``: the
    subjects ('unit:item', or 'unit') instead of the units."""
    query = select(_subject_column() if subjects else Submission.unit_code).distinct().where(
        Submission.round_id == round_id, Submission.stage == stage,
        Submission.status == status, _in_category(item_category, category, uncategorised=True), *_handed_in_by())
    if period is not None:
        query = query.where(Submission.period == period)
    return query


def handed_in_units(*, session: Session, round_id: uuid.UUID, stage: str, period: str | None,
                    category: str | None, item_category: Mapping[str, str], status: str = "accepted") -> list[str]:
    """The units of :func:`handed_in_query`."""
    return column_values(session, handed_in_query(round_id=round_id, stage=stage, period=period,
                                                  category=category, item_category=item_category, status=status))


def on_time_units(*, session: Session, round_id: uuid.UUID, stage: str, period: str | None,
                  category: str | None, item_category: Mapping[str, str], subjects: bool = False) -> list[str]:
    """The units (``subjects``: 'unit:item' subjects) of :func:`handed_in_query` whose hand-in met its
    deadline: not accepted late, or revised late after a version that met it (the deadline was met;
    the correction came after)."""
    met_before = select(SubmissionRevision.id).where(SubmissionRevision.submission_id == Submission.id,
                                                     col(SubmissionRevision.late).is_(False)).exists()
    query = handed_in_query(round_id=round_id, stage=stage, period=period, category=category,
                            item_category=item_category, subjects=subjects).where(
        or_(col(Submission.late).is_(False), met_before))
    return column_values(session, query)


def handed_in_subjects(*, session: Session, round_id: uuid.UUID, stage: str, period: str | None,
                       category: str | None, item_category: Mapping[str, str], status: str = "accepted") -> list[str]:
    """The subjects of :func:`handed_in_query`: what a taker of several list items handed in, item by item."""
    return column_values(session, handed_in_query(round_id=round_id, stage=stage, period=period, category=category,
                                                  item_category=item_category, status=status, subjects=True))


def accepted_subjects(*, session: Session, round_id: uuid.UUID, stage: str, category: str | None,
                      item_category: Mapping[str, str], uncategorised: bool = True) -> set[str]:
    """The decision subjects ('unit:item', or 'unit') of the stage's accepted hand-ins in ``category``
    (``uncategorised``: of no category too). One row per hand-in, made distinct here: SQL's DISTINCT was a
    third of the query (8.3 against 5.5 ms), asked at every moment of a national round's ~10,000 applications."""
    return set(column_values(session, select(_subject_column()).where(
        Submission.round_id == round_id, Submission.stage == stage, Submission.status == "accepted",
        _in_category(item_category, category, uncategorised=uncategorised), *_handed_in_by())))


class HandIn(NamedTuple):
    """When a subject's hand-in arrived (the first accepted one's submitted_at), and whether it
    was taken late (accept_flag): a subject with an on-time hand-in is not late."""

    at: dt.datetime | None
    late: bool = False


NO_HAND_IN = HandIn(None)


def first_hand_ins(*, session: Session, round_id: uuid.UUID, stage: str,
                   subjects: Sequence[str]) -> dict[str, HandIn]:
    """Each subject's :class:`HandIn` at a stage."""
    subject = _subject_column()
    rows = session.exec(select(subject, func.min(Submission.submitted_at), func.min(cast(Submission.late, Integer))).where(
        Submission.round_id == round_id, Submission.stage == stage, Submission.status == "accepted",
        subject.in_(subjects)).group_by(subject)).all()
    return {key: HandIn(at, bool(late)) for key, at, late in rows}


class Refusal(NamedTuple):
    """A late hand-in refused (不予受理) whose unit has not been told: a record (``in_force_at``
    None) or a late change of one, the version in force handed in at ``in_force_at``."""

    id: uuid.UUID
    unit_code: str
    stage: str
    item_code: str | None
    period: str | None
    category_code: str | None
    submitted_at: dt.datetime
    in_force_at: dt.datetime | None


def refusals_to_answer(*, session: Session, round_id: uuid.UUID, stages: Sequence[str],
                       until: dt.datetime) -> list[Refusal]:
    """Late hand-ins refused at ``stages`` whose unit has not been told, handed in and received
    by ``until`` (a letter dated then cannot answer a later one: a backfill of past days, or a
    run behind another that took it in), by unit and time. Takes the round's row lock first
    (:func:`~qcycle.crud.rounds.lock_round`), so two runs at once do not both answer them."""
    lock_round(session=session, round_id=round_id)
    s, r = Submission, SubmissionRevision
    fields = ("id", "unit_code", "stage", "item_code", "period", "category_code", "submitted_at")
    records = session.exec(select(*[getattr(s, f) for f in fields], null()).where(  # type: ignore[call-overload]
        s.round_id == round_id, col(s.stage).in_(stages), s.status == "rejected_late",
        col(s.answered_at).is_(None), s.submitted_at <= until, s.received_at <= until)).all()
    changes = session.exec(select(*[getattr(r, f) for f in fields], col(s.submitted_at))  # type: ignore[call-overload]
                           .join(s, col(s.id) == r.submission_id).where(
        r.round_id == round_id, col(r.stage).in_(stages), r.fate == "refused_late",
        col(r.answered_at).is_(None), r.submitted_at <= until, r.received_at <= until)).all()
    return sorted((Refusal(*row) for row in [*records, *changes]),
                  key=lambda x: (x.unit_code, x.submitted_at, x.item_code or "", x.period or "", str(x.id)))


def mark_answered(*, session: Session, ids: Sequence[uuid.UUID], at: dt.datetime) -> None:
    """Record that the units were told of these refusals (:func:`refusals_to_answer`)."""
    for part in chunks(ids):
        for model in (Submission, SubmissionRevision):
            session.exec(update(model).where(col(model.id).in_(part)).values(answered_at=at))  # type: ignore[call-overload]
