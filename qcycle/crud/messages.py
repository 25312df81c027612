"""Outbox rows (``outbox_message``): queueing once per idempotency key, reading them for ops,
and the statements delivery runs: locking a unit's reminder rows to merge into them, claiming
due rows (``FOR UPDATE SKIP LOCKED``) under a lease or, for the sink, in the sending transaction,
and recording each result.

The rules (what is due, what is merged, when a lease is stale, what a result means) live in
:mod:`qcycle.notify.outbox`; this module only reads and writes rows. Claiming and recording
use plain rows and Core statements: a national fan-out claims tens of thousands of rows, and
ORM objects cost more than the sends to the local sink.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session, col, func, or_, select, update
from sqlmodel.sql.expression import Select

from qcycle.clock import now as clock_now
from qcycle.crud.base import complete, insert_absent, plain_rows
from qcycle.errors import NotFoundError, StateError, UsageError
from qcycle.models import OutboxMessage

__all__ = [
    "Lease",
    "claimable_messages",
    "clear_posted_with",
    "count_messages",
    "enqueue_message",
    "enqueue_messages",
    "failed_messages",
    "find_message",
    "held_letters",
    "lease_holders",
    "lease_messages",
    "list_messages",
    "mark_messages_sent",
    "mark_posted_with",
    "merge_items_of",
    "message_status_counts",
    "record_posts_arrived",
    "reminder_rows",
    "renew_leases",
    "set_message_fields",
    "settle_message",
    "short_id",
    "stamp_started",
    "units_written_by",
]


# -- queueing --------------------------------------------------------------------------------


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
    stamp = clock_now()
    values = [complete(OutboxMessage, {"created_at": stamp, **r}) for r in rows]
    return [k for (k,) in insert_absent(session, OutboxMessage, values, keys=["idempotency_key"],
                                        returning=("idempotency_key",))]


def reminder_rows(*, session: Session, bases: Iterable[str]) -> dict[str, list[OutboxMessage]]:
    """The rows of each reminder key ``base`` (``base``, ``base#2``, ``base#3``, …), oldest
    first, locked (PostgreSQL: a concurrent claim waits, or we see its "sending").

    Exact keys, a few hundred per query, so the unique index answers: a LIKE prefix scan
    read the whole outbox for every unit (37 % of a national year in the benchmark). The bases
    first, then continuations only of the bases found, eight keys at a time while all eight are
    there: most of a day's reminders are a unit's first, and asking eight continuation keys of
    each cost eight lookups that found nothing. It relies on the keys being ``base``, ``#2``,
    ``#3``… with no gap, as :func:`qcycle.notify.reminders.merge_reminders` queues them and
    nothing deletes one row of them.
    """
    found: dict[str, list[OutboxMessage]] = {b: [] for b in bases}
    owner = {b: b for b in found}
    while owner:
        keys = list(owner)
        asked = Counter(owner.values())
        got: Counter[str] = Counter()
        for start in range(0, len(keys), 900):
            for row in session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.idempotency_key).in_(keys[start:start + 900]))
                .with_for_update()  # PostgreSQL: a concurrent claim waits, or we see its "sending"
            ).all():
                base = owner[row.idempotency_key]
                found[base].append(row)
                got[base] += 1
        # The next eight continuation keys of each base whose every key asked was there.
        owner = {f"{b}#{i}": b for b in sorted(got) if got[b] == asked[b]
                 for i in range(len(found[b]) + 1, len(found[b]) + 9)}
    for rows in found.values():
        rows.sort(key=lambda r: r.created_at)
    return found


# -- delivery: claiming under a lease, recording results -------------------------------------


def _scope(round_id: uuid.UUID | None) -> list[Any]:
    return [] if round_id is None else [OutboxMessage.round_id == round_id]


def lease_holders(*, session: Session, round_id: uuid.UUID | None) -> list[str | None]:
    """The holders of the leases on ``sending`` rows (of the round, or of every round)."""
    m = OutboxMessage
    return list(session.exec(select(m.leased_by).where(m.status == "sending", *_scope(round_id)).distinct()).all())


def claimable_messages(*, session: Session, round_id: uuid.UUID | None, now: dt.datetime,
                       holders_gone: Sequence[str], stale_before: dt.datetime, limit: int) -> list[Any]:
    """Up to ``limit`` rows to claim, oldest first, locked and skipping rows another claim has
    locked: queued or failed rows due by ``now``, and ``sending`` rows whose lease is nobody's,
    held by one of ``holders_gone``, or taken before ``stale_before`` (real time). Plain rows
    (``id``, ``status``, ``started_at``, ``reminder`` (merged reminders: whether ``merge_items``
    is set; :func:`merge_items_of` reads them), ``attempts``, ``channel``, ``unit_code``,
    ``subject``, ``body``, ``tag``, ``action``, ``last_error``, ``leased_by``, ``created_at``,
    ``posted_with``, ``parts_sent``, ``sent_chars``, ``sending_chars``)."""
    m = OutboxMessage
    # Select(...) is what select() builds for several columns; select() is typed for at most 4.
    query: Select[*tuple[Any, ...]] = Select(
        col(m.id), col(m.status), col(m.started_at), col(m.merge_items).is_not(None).label("reminder"),
        col(m.attempts), col(m.channel),
        col(m.unit_code), col(m.subject), col(m.body), col(m.tag), col(m.action), col(m.last_error),
        col(m.leased_by), col(m.created_at), col(m.posted_with), col(m.parts_sent), col(m.sent_chars),
        col(m.sending_chars)).where(
        # Implied by the alternatives below, said outright so the (round, status) index is read
        # for these statuses only: without it every sent row of the round was read at each claim.
        col(m.status).in_(["queued", "failed", "sending"]),
        or_(
            col(m.status).in_(["queued", "failed"])
            & or_(col(m.next_attempt_at).is_(None), col(m.next_attempt_at) <= now),
            (col(m.status) == "sending") & or_(col(m.leased_by).is_(None), col(m.leased_by).in_(holders_gone),
                                               col(m.leased_at) <= stale_before),
        ),
        *_scope(round_id),
    ).order_by(col(m.created_at)).limit(limit).with_for_update(skip_locked=True)
    # Through Core: the ORM's per-row bookkeeping, over the tens of thousands of rows a national year claims.
    session.flush()
    return list(session.connection().execute(query).all())


def merge_items_of(*, session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
    """The merged items of reminder rows (``merge_items``), by id: read only for the rows a
    claim needs them for (outside office hours, their deadlines), not for every row claimed."""
    m = OutboxMessage
    found: dict[uuid.UUID, list[dict]] = {}
    for start in range(0, len(ids), 500):
        query = select(m.id, m.merge_items).where(col(m.id).in_(ids[start:start + 500]))
        found.update((message_id, list(items or [])) for message_id, items in session.exec(query).all())
    return found


def units_written_by(*, session: Session, round_id: uuid.UUID, stages: Sequence[str],
                     category: str | None = None, told: bool = False) -> set[tuple[str, str]]:
    """``(stage, unit)`` of the round's messages written by those stages' actions (keys ``stage:…``),
    whatever their status: the units each stage has written to. ``category``: by its actions for that
    category only (keys ``stage:action:category@…``); ``told``: not the messages ops cancelled."""
    if not stages:
        return set()
    m = OutboxMessage
    query = select(m.action, m.unit_code).where(
        m.round_id == round_id, or_(*(col(m.action).startswith(f"{s}:", autoescape=True) for s in stages))).distinct()
    if category is not None:
        query = query.where(col(m.action).contains(f":{category}@", autoescape=True))
    if told:
        query = query.where(m.status != "cancelled")
    return {(action.partition(":")[0], unit) for action, unit in plain_rows(session, query)}


def held_letters(*, session: Session, round_id: uuid.UUID | None,
                 now: dt.datetime) -> dict[tuple[str, str], tuple[dt.datetime, dt.datetime]]:
    """Letters waiting for a later time: reminders held for office hours, and any letter to be
    tried again (after a failure, or held by the endpoint). A unit's later letters wait behind
    them, so they arrive in the order they were written. ``(unit, channel) → (when the earliest
    was queued, when the first goes)``.

    Any letter, not reminders only: until revision 0022 every row's ``merge_items`` was set
    (JSON null), so the reminders-only filter this query had never filtered, and ops have seen
    a failed letter hold the unit's later ones since the rule was made."""
    m = OutboxMessage
    query: Select[*tuple[Any, ...]] = Select(
        col(m.unit_code), col(m.channel), func.min(col(m.created_at)), func.min(col(m.next_attempt_at))).where(
        col(m.status).in_(["queued", "failed"]), col(m.next_attempt_at) > now,
        *_scope(round_id)).group_by(col(m.unit_code), col(m.channel))
    return {(unit, channel): (queued, goes) for unit, channel, queued, goes in session.exec(query).all()}


def set_message_fields(*, session: Session, message_id: uuid.UUID, values: Mapping[str, Any]) -> None:
    """Set columns of one row (a claimed row held, deferred, or given up), through Core."""
    m = OutboxMessage
    session.connection().execute(update(m).where(col(m.id) == message_id).values(**values))


@dataclass(frozen=True)
class Lease:
    """A delivery pass's lease on the rows it claims: the run's logical time ``now``, the real time
    ``wall`` it was taken at, and its ``holder`` ("host:pid:pass")."""

    now: dt.datetime
    wall: dt.datetime
    holder: str

    def values(self) -> dict[str, Any]:
        """What leasing writes on a row: ``sending``, one more attempt, no send started (no post of
        a long message out), alone."""
        return {"status": "sending", "attempts": OutboxMessage.attempts + 1, "next_attempt_at": self.now,
                "started_at": None, "sending_chars": None, "leased_at": self.wall, "leased_by": self.holder, "posted_with": None}

    def with_result(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A result's ``values`` on a row claimed and never leased (:func:`mark_messages_sent`'s
        ``unleased``): what leasing would have written, the result's own values over it; not
        ``posted_with``, which the claim clears (:func:`clear_posted_with`) and :func:`mark_posted_with` sets before the send."""
        lease = {k: v for k, v in self.values().items() if k != "posted_with"}
        return {**lease, **values}


def lease_messages(*, session: Session, ids: Sequence[uuid.UUID], lease: Lease) -> None:
    """Lease rows to ``lease.holder`` for sending (:meth:`Lease.values`): one UPDATE per few hundred ids."""
    conn = session.connection()
    for start in range(0, len(ids), 500):
        conn.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids[start:start + 500]))
                     .values(**lease.values()))


def settle_message(*, connection: Connection, message_id: uuid.UUID, values: Mapping[str, Any],
                   unleased: Lease | None = None, holder: str | None = None) -> int:
    """Record a send's result on its row, unless the row is no longer ``sending`` (a cancel
    from the CLI meanwhile wins) or, ``holder``, no longer leased to it (another run took the lease
    over as stale: the row is that run's); returns how many rows changed (0 or 1). ``connection``: a Core
    connection whose transaction the caller commits at once; or, ``unleased``, the row was claimed in
    ``connection``'s own transaction, still open, and never leased (a local write: nobody else can
    have changed it); recorded whatever its status, with what the lease would have written."""
    guard, written = _as_recorded(values, unleased, holder)
    return connection.execute(
        update(OutboxMessage).where(col(OutboxMessage.id) == message_id, *guard).values(**written)
    ).rowcount


def mark_messages_sent(*, connection: Connection, ids: Sequence[uuid.UUID], at: dt.datetime,
                       unleased: Lease | None = None, holder: str | None = None) -> list[uuid.UUID]:
    """Record rows still ``sending`` (``holder``: leased to it) as sent at ``at``, in one statement; returns
    their ids. ``unleased``: as :func:`settle_message` has it (every row is recorded: the ids given come back)."""
    guard, written = _as_recorded({"status": "sent", "sent_at": at, "last_error": None}, unleased, holder)
    if unleased is not None:
        # No guard, nothing to return but what was given: the driver's ids read back as UUIDs had cost as much
        # as the statement (52,000 a national year).
        changed = connection.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(**written))
        if changed.rowcount != len(set(ids)):
            raise StateError(f"记录发送结果时 {len(set(ids)) - changed.rowcount} 条消息已不在（程序错误）")
        return list(ids)
    done = connection.execute(
        update(OutboxMessage).where(col(OutboxMessage.id).in_(ids), *guard).values(**written)
        .returning(col(OutboxMessage.id))
    ).all()
    return [message_id for (message_id,) in done]


def _as_recorded(values: Mapping[str, Any], unleased: Lease | None,
                 holder: str | None = None) -> tuple[list[Any], Mapping[str, Any]]:
    """A result's guard and values: leased, on a row still ``sending`` (and leased to ``holder``) only;
    unleased, on the row whatever its status, with what the lease would have written (:meth:`Lease.with_result`)."""
    if unleased is None:
        return _sending(holder), values
    return [], unleased.with_result(values)


def _sending(holder: str | None) -> list[Any]:
    """Rows still ``sending``, and leased to ``holder`` when it is given."""
    m = OutboxMessage
    return [col(m.status) == "sending"] + ([col(m.leased_by) == holder] if holder is not None else [])


def clear_posted_with(*, session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Forget which post carried these rows last time (rows claimed without a lease, which does it)."""
    for start in range(0, len(ids), 500):
        session.connection().execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids[start:start + 500]))
                                     .values(posted_with=None))


def mark_posted_with(*, connection: Connection, posts: Iterable[Sequence[uuid.UUID]]) -> None:
    """Record, on each row a group post carries (``posts``: each post's row ids, the first
    standing for it), that first row's id (on itself too)."""
    for ids in posts:
        connection.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(posted_with=ids[0]))


def stamp_started(*, connection: Connection, ids: Sequence[uuid.UUID], at: dt.datetime | None,
                  sending_chars: int | None = None, leased_at: dt.datetime | None = None,
                  holder: str | None = None) -> int:
    """Stamp ``started_at`` on rows still ``sending`` (``holder``: leased to it): their request (one post)
    is about to leave; returns how many were stamped. ``sending_chars``: a post of a long message,
    reaching that far into its text (None: a message in one post, whatever an earlier try of it left);
    ``leased_at``: the lease renewed (real time) for a message of several posts, paced, which takes
    longer to send."""
    values: dict[str, Any] = {"started_at": at, "sending_chars": sending_chars}
    if leased_at is not None:
        values["leased_at"] = leased_at
    return connection.execute(update(OutboxMessage)
                              .where(col(OutboxMessage.id).in_(ids), *_sending(holder))
                              .values(**values)).rowcount


def renew_leases(*, connection: Connection, ids: Sequence[uuid.UUID], at: dt.datetime, holder: str) -> int:
    """Renew (``leased_at`` = ``at``, real time) the lease of those of ``ids`` still ``sending`` and leased to
    ``holder``: a pass's rows waiting in a paced bot lane, so that no other run takes them over as stale while
    this one is still working through them. Rows another transaction holds locked (on PostgreSQL: a run merging
    reminders into them) are skipped, not waited for. Returns how many were renewed."""
    renewed = 0
    m = OutboxMessage
    for start in range(0, len(ids), 500):
        mine = (select(col(m.id)).where(col(m.id).in_(ids[start:start + 500]), *_sending(holder))
                .with_for_update(skip_locked=True))
        renewed += connection.execute(update(m).where(col(m.id).in_(mine)).values(leased_at=at)).rowcount
    return renewed


def record_posts_arrived(*, connection: Connection, ids: Sequence[uuid.UUID], parts_sent: int, sent_chars: int,
                         holder: str | None = None) -> None:
    """Record on rows still ``sending`` (``holder``: leased to it) that ``parts_sent`` posts of their long
    message have arrived, reaching ``sent_chars`` into its text: none is out (a crash now resends none
    that arrived)."""
    connection.execute(update(OutboxMessage)
                       .where(col(OutboxMessage.id).in_(ids), *_sending(holder))
                       .values(parts_sent=parts_sent, sent_chars=sent_chars, started_at=None, sending_chars=None))


# -- reading (qcycle outbox, status) ---------------------------------------------------------


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


_HEX = re.compile(r"[0-9a-f]+")


def short_id(message_id: uuid.UUID) -> str:
    """How ops name a message: the last 8 hex digits of its id. Ids are time-ordered (UUIDv7: a
    fan-out's rows land side by side in the primary key), so their first digits are the minute
    they were made in and their last ones are random."""
    return message_id.hex[-8:]


def find_message(*, session: Session, ref: str, lock: bool = False) -> OutboxMessage:
    """The message with this id, or the one whose id ends (:func:`short_id`) with these 8+ hex
    digits, or begins with them for an id made before ids were time-ordered (a random UUID4,
    named by its first 8); :class:`NotFoundError` if there is none, :class:`UsageError` if the
    digits are too few or name several. ``lock`` (to change it): PostgreSQL waits for a delivery
    holding the row and reads what it left (SQLite's writer already waits for the write lock)."""
    text = ref.strip().lower().replace("-", "")
    if len(text) < 8:
        raise UsageError("消息编号至少需要8位（列表中的编号）")
    if len(text) == 32:
        row = session.get(OutboxMessage, uuid.UUID(text), with_for_update=lock, populate_existing=lock) \
            if _HEX.fullmatch(text) else None
        if row is None:
            raise NotFoundError(f"没有编号为 {ref} 的消息")
        return row
    ids = [i for i in session.exec(select(OutboxMessage.id)).all()
           if i.hex.endswith(text) or (i.version == 4 and i.hex.startswith(text))]
    if not ids:
        raise NotFoundError(f"没有编号为 {ref} 的消息")
    if len(ids) > 1:
        raise UsageError(f"编号 {ref} 对应 {len(ids)} 条消息，请在前面多写几位")
    return session.get_one(OutboxMessage, ids[0], with_for_update=lock, populate_existing=lock)
