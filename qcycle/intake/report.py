"""What one import or pull did, and the round context every source ingests into.

Files and HTTP pages both end here: a readable row goes through :func:`ingest` (stored once,
lateness rule applied, or quarantined with the reason); a row that cannot even be read is
quarantined verbatim with where it was (``第 5 行``, ``第 2 页``). Nothing is dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.intake.normalise import normalise_record
from qcycle.intake.records import IngestResult, ingest, ingest_many
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.timetable import Timetable

__all__ = [
    "LISTED_ASIDE",
    "STATUSES",
    "STATUS_LABELS",
    "ImportReport",
    "IncomingRow",
    "QuarantinedRow",
    "RoundContext",
    "open_round",
    "raw_json",
    "readable_rows",
]

# Rows set aside that a report lists with their reasons (every one is counted, and kept in the
# quarantine table): a file of half a million bad rows held them all in memory.
LISTED_ASIDE = 1000

# Every row in is exactly one of these (the counts add up to the rows read).
STATUSES = ("accepted", "late_accepted", "rejected_late", "duplicate", "revised", "conflict", "quarantined")
STATUS_LABELS = {
    "accepted": "按时受理",
    "late_accepted": "逾期已受理",
    "rejected_late": "逾期不予受理",
    "duplicate": "重复",
    "revised": "修改重报",
    "conflict": "冲突隔离",
    "quarantined": "隔离",
}


@dataclass(frozen=True)
class RoundContext:
    """A round as the database knows it, with its timetable (the deadlines ingest applies)."""

    loaded: LoadedProgramme
    timetable: Timetable
    round_id: uuid.UUID
    # The file differs from the one the round last ran on: opening it recorded an amendment (no reason).
    amended: bool = False

    @property
    def unit_names(self) -> dict[str, str]:
        return {u.name: u.code for u in self.loaded.programme.units}


def open_round(session: Session, programme: str | Path | LoadedProgramme) -> RoundContext:
    """Load the programme (unless loaded), make the database know the round, expand its dates."""
    # Imported here: lifecycle is the heavier module and may one day import intake itself.
    from qcycle.lifecycle import round_timetable, sync_round

    loaded = programme if isinstance(programme, LoadedProgramme) else load_programme(programme)
    before = crud.get_round(session=session, code=loaded.programme.round.code)
    ran_on = before.config_sha256 if before is not None else None
    row = sync_round(session, loaded)
    return RoundContext(loaded, round_timetable(session, loaded.programme, row.id), row.id,
                        amended=ran_on is not None and ran_on != loaded.sha256)


@dataclass(frozen=True)
class IncomingRow:
    """One row of a file or one item of a page: its fields, or (``fields is None``) why it
    could not be read."""

    where: str  # "第 5 行" / "第 2 页第 3 条"
    raw: str
    fields: Mapping[str, Any] | None
    problem: str = ""


Readable = list[tuple[int, dict[str, Any]]]  # (index in the batch, normalised record)


def readable_rows(ctx: RoundContext, rows: Sequence[IncomingRow], default_kind: str | None = None) -> Readable:
    """The batch's readable rows as records: plain work, which a file import does before it
    takes the write lock."""
    names = ctx.unit_names
    return [(i, normalise_record(r.fields, default_kind=default_kind, unit_names=names))
            for i, r in enumerate(rows) if r.fields is not None]  # fmt: skip


@dataclass(frozen=True)
class QuarantinedRow:
    where: str  # "第 5 行", "第 2 页第 3 条"
    reason: str
    raw: str
    record_id: uuid.UUID | None = None

    def __str__(self) -> str:
        return f"{self.where}：{self.reason}"


@dataclass
class ImportReport:
    source: str
    round_code: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    pages: int = 0
    stopped: str = ""  # why a pull ended before its last page ("" when it ran to the end)
    # A file import that resumed a killed one: where it went on, and how many rows were
    # already committed (their counts are included; their quarantine reasons are not listed).
    resumed_at: str = ""
    resumed_rows: int = 0
    amended: bool = False  # taking it recorded the programme file's changes as an amendment (RoundContext.amended)
    # Revisions handed in before the version in force: kept in its history, not in force (an officer
    # read 修改重报 1 as the correction having taken effect).
    not_in_force: int = 0
    aside: int = 0  # rows this run set aside (quarantined or conflicts); the first LISTED_ASIDE are listed
    _uncapped: bool = field(default=False, init=False, repr=False, compare=False)  # in listing_in_file_order

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """按时受理 3，逾期已受理 1，逾期不予受理 0，重复 2，修改重报 1（其中 1 份早于现行版本提交，未生效），冲突隔离 0，隔离 1"""
        older = f"（其中 {self.not_in_force} 份早于现行版本提交，未生效）" if self.not_in_force else ""
        return "，".join(f"{STATUS_LABELS[s]} {self.counts.get(s, 0)}{older if s == 'revised' else ''}" for s in STATUSES)

    def aside_reasons(self, shown: int) -> list[str]:
        """The first ``shown`` reasons for rows set aside ("第 12 行：…"), then, when there were
        more, how many and where to read them all: for a terminal or a run's artifact, which are
        no place for thousands (the quarantine keeps every one)."""
        lines = [str(q) for q in self.quarantined[:shown]]
        if self.aside > shown:
            lines.append(f"……另有 {self.aside - shown} 条（本次共隔离 {self.aside} 条），"
                         f"全部原因：qcycle quarantine --round {self.round_code}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "round_code": self.round_code,
            "counts": dict(self.counts),
            "not_in_force": self.not_in_force,
            "pages": self.pages,
            "stopped": self.stopped,
            "quarantined": [
                {"where": q.where, "reason": q.reason, "raw": q.raw,
                 "id": str(q.record_id) if q.record_id else None}
                for q in self.quarantined
            ],
        }  # fmt: skip

    # -- taking rows ------------------------------------------------------------------------

    def take_rows(self, *, session: Session, ctx: RoundContext, rows: Sequence[IncomingRow],
                  default_kind: str | None = None, readable: Readable | None = None) -> None:
        """Count and store a batch of rows (a file's batch, a page) with the outcome
        :meth:`take` / :meth:`set_aside` give one by one, in a few statements
        (:func:`ingest_many`). ``readable``: :func:`readable_rows` of ``rows``, when the
        caller normalised them already."""
        if readable is None:
            readable = readable_rows(ctx, rows, default_kind)
        try:
            results = ingest_many(session=session, programme=ctx.loaded.programme,
                                  timetable=ctx.timetable, round_id=ctx.round_id,
                                  records=[record for _, record in readable], source=self.source,
                                  raws=[rows[i].raw for i, _ in readable],
                                  wheres=[rows[i].where for i, _ in readable])  # fmt: skip
        except (TypeError, ValueError):
            # A value ingest did not foresee: row by row, so only that row is set aside.
            # Quarantine and reviewers' values are idempotent, so redoing the batch is safe.
            results = None
        outcome = dict(zip((i for i, _ in readable), results or [], strict=False))
        broken = [row for row in rows if row.fields is None]
        kept = iter(self.keep_aside(session=session, ctx=ctx, rows=[(r.where, r.raw) for r in broken],
                                    reasons=[r.problem for r in broken]))  # a few statements, not two a row
        for i, row in enumerate(rows):
            if row.fields is None:
                self.count_aside(where=row.where, raw=row.raw, reason=row.problem, record_id=next(kept))
            elif results is None:
                self.take(session=session, ctx=ctx, row=row.fields, raw=row.raw, where=row.where,
                          default_kind=default_kind)  # fmt: skip
            else:
                self.count(outcome[i], where=row.where, raw=row.raw)

    def take(
        self,
        *,
        session: Session,
        ctx: RoundContext,
        row: Mapping[str, Any],
        raw: str,
        where: str,
        default_kind: str | None = None,
    ) -> str:
        """Normalise and ingest one readable row; returns its status."""
        record = normalise_record(row, default_kind=default_kind, unit_names=ctx.unit_names)
        try:
            result = ingest(session=session, programme=ctx.loaded.programme,
                            timetable=ctx.timetable, round_id=ctx.round_id, record=record,
                            source=self.source, raw=raw)  # fmt: skip
        except (TypeError, ValueError) as exc:
            # A value ingest did not foresee: keep the row rather than lose the batch.
            return self.set_aside(session=session, ctx=ctx, raw=raw, where=where,
                                  reason=f"无法处理：{exc}")  # fmt: skip
        return self.count(result, where=where, raw=raw)

    def count(self, result: IngestResult, *, where: str, raw: str) -> str:
        """Count one row's outcome (rows ingested in bulk come here after ``ingest_many``)."""
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        self.not_in_force += not result.in_force
        if result.status in ("quarantined", "conflict"):
            self._list(QuarantinedRow(where, result.reason, raw, result.record_id))
        return result.status

    def set_aside(
        self, *, session: Session, ctx: RoundContext, raw: str, where: str, reason: str
    ) -> str:
        """Quarantine text that cannot be read as a record; the reason says where it was."""
        q, _ = crud.quarantine(session=session, source=self.source, raw=raw, reason=f"{where}：{reason}",
                               round_id=ctx.round_id, fingerprint=self._aside_key(ctx, where, raw))  # fmt: skip
        return self.count_aside(where=where, raw=raw, reason=reason, record_id=q.id)

    def keep_aside(self, *, session: Session, ctx: RoundContext,
                   rows: Sequence[tuple[str, str]], reasons: Sequence[str]) -> list[uuid.UUID]:
        """Quarantine many unreadable texts (``(where, raw)`` with their reasons) as
        :meth:`set_aside` does, in a few statements; returns their ids, in order. The caller
        counts each with :meth:`count_aside`, in file order."""
        keys = [self._aside_key(ctx, where, raw) for where, raw in rows]
        ids = crud.quarantine_many(session=session, rows=[
            {"source": self.source, "raw": raw, "reason": f"{where}：{reason}", "round_id": ctx.round_id,
             "fingerprint": key} for (where, raw), reason, key in zip(rows, reasons, keys, strict=True)])
        return [ids[key] for key in keys]

    def count_aside(self, *, where: str, raw: str, reason: str, record_id: uuid.UUID | None) -> str:
        self.counts["quarantined"] = self.counts.get("quarantined", 0) + 1
        self._list(QuarantinedRow(where, reason, raw, record_id))
        return "quarantined"

    def _list(self, row: QuarantinedRow) -> None:
        self.aside += 1
        if self._uncapped or len(self.quarantined) < LISTED_ASIDE:
            self.quarantined.append(row)

    @contextlib.contextmanager
    def listing_in_file_order(self, line_of: Mapping[str, int]) -> Iterator[None]:
        """Rows set aside in the block, counted in another order than the file's (the lane
        takes a batch in two passes: the rows it sets aside, then others per row), are listed
        as if they had come in file order (``line_of[where]``): all are kept until the block
        ends, then sorted and cut to LISTED_ASIDE."""
        start, self._uncapped = len(self.quarantined), True
        try:
            yield
        finally:
            self._uncapped = False
            kept = sorted(self.quarantined[start:], key=lambda q: line_of.get(q.where, sys.maxsize))
            self.quarantined[start:] = kept[:max(0, LISTED_ASIDE - start)]

    def _aside_key(self, ctx: RoundContext, where: str, raw: str) -> str:
        # Once per round, source, place and text: importing the same file twice keeps one
        # copy, while two identical broken lines of one file are both kept.
        key = "\n".join((str(ctx.round_id), self.source, where, raw))
        return hashlib.sha256(key.encode()).hexdigest()


def raw_json(value: Any) -> str:
    """A record as received, for quarantine (stable key order is not wanted: keep it as sent)."""
    return json.dumps(value, ensure_ascii=False, default=str)
