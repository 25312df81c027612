"""The bulk lane: a batch of plain file rows planned as submission rows a batch at a time.

A large import spent ~70 µs a row building a dictionary per row, normalising it, planning it
and converting each value for the database (issue 13). Most rows of an office's file are
alike: a known unit and item, a readable time, a stage that takes its kind alone. For those,
:class:`Lane` works the same outcome out from the row's cells with the per-file and per-value
work done once (the columns, each time spelling, each deadline, each payload), and gives the
database's own values. Every other row is left to :func:`qcycle.intake.ingest_many`, which
stays the one definition of what intake decides:

- a row intake sets aside whatever else is stored (unknown unit, unreadable time, …) is left
  over and ingested after the batch's lane rows (its place in the order cannot matter);
- a row whose outcome could depend on what is stored before it in the same batch (a name
  instead of a code is fine; a key intake cannot read is not) sends the whole batch the
  per-row way;
- a lane row whose key is already held is a duplicate when its content is the same, and is
  otherwise ingested per row after the batch's new keys (a revision or a conflict).

The outcomes equal ``ingest_many``'s record for record (``tests/intake/test_lane.py`` imports the same
files both ways and compares every stored row and count).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from json import encoder as _json_encoder
from typing import Any, NamedTuple

from qcycle.clock import now, to_local
from qcycle.intake.checking import CLOCK_SKEW, parse_time_text, read_record
from qcycle.intake.normalise import _columns, _time_text, normalise_kind, normalise_record
from qcycle.intake.placing import lateness_of, own_deadlines, stages_for, unplaced
from qcycle.models import ordered_hex_ids
from qcycle.schema import IDENTITY_FIELDS, Programme, Stage
from qcycle.timetable import Timetable

__all__ = ["Lane", "LanePlan", "lane_for"]

# Text as qcycle's canonical and compact JSON write a string (ensure_ascii=False).
_quote: Callable[[str], str] = _json_encoder.c_encode_basestring  # type: ignore[attr-defined]
# The fields a lane row may have: what the record's identity, category and lateness need and
# nothing intake reads otherwise (a category, period or stage column goes the per-row way).
_LANE_FIELDS = frozenset({"kind", "unit", "item", "submitted_at", "id"})
_CACHED = 65536  # distinct kind cells, times or payloads remembered: memory bounded whatever the file


@dataclass
class LanePlan:
    """A batch planned: ``rows`` to store (each with its place in the batch, ``places``, and
    the outcome it has once stored, ``outcomes``), ``left`` the rows intake sets aside (their
    places, fingerprints and reasons), or ``whole`` when the batch must go the per-row way."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)  # Lane.COLUMNS' values
    places: list[int] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # accepted | late_accepted | rejected_late
    left: list[tuple[int, str, str]] = field(default_factory=list)  # (place, fingerprint, reason)
    whole: bool = False


def lane_for(p: Programme, timetable: Timetable, headers: Sequence[str], *, source: str, round_value: Any,
             convert: Callable[[str, Any], Any], default_kind: str | None = None,
             unit_names: dict[str, str] | None = None) -> Lane | None:
    """The lane for a file with these headers, or None when its columns need the per-row way.
    ``convert(column, value)`` gives a submission column's value as the database stores it."""
    columns = _columns(tuple(headers))
    fields = [f for _, f, _ in columns if f is not None]
    if any(f not in _LANE_FIELDS for f in fields):
        return None
    if "unit" not in fields or "submitted_at" not in fields or ("kind" not in fields and not default_kind):
        return None
    return Lane(p, timetable, columns, source=source, round_value=round_value, convert=convert,
                default_kind=default_kind, unit_names=unit_names or {})


class _Kind(NamedTuple):
    """What the lane needs of a kind cell, worked out once per spelling."""

    kind: str
    stage: Stage
    text: str  # '"kind":"application",' as the record's canonical JSON has it
    # The identity as a format of (id, unit, item, category, period) as JSON: '["application",{0}]'.
    identity: str
    needs_id: bool
    per_item: bool


# (the deadline that applies or None, the verdicts of a hand-in on time and of a late one:
# (the late column's value, status, outcome) each)
_Deadline = tuple[Any, tuple[tuple[Any, str, str], tuple[Any, str, str]]]

_KEY_PLACES = {"id": 0, "unit": 1, "item": 2, "category": 3, "period": 4}


class Lane:
    """See the module's doc. One per file import; not shared between threads."""

    # The submission columns a lane row gives, in this order (the rest take their defaults).
    COLUMNS = ("id", "round_id", "kind", "stage", "unit_code", "category_code", "item_code", "external_id",
               "fingerprint", "identity", "payload", "submitted_at", "source", "late", "status", "received_at")

    def __init__(self, p: Programme, timetable: Timetable, columns: Sequence[tuple[Any, str | None, str]], *,
                 source: str, round_value: Any, convert: Callable[[str, Any], Any], default_kind: str | None,
                 unit_names: dict[str, str]) -> None:
        self.p, self.timetable, self.source, self.round_value = p, timetable, source, round_value
        self.convert = convert
        self.headers = [key for key, _, _ in columns]
        self.default_kind = default_kind
        self.unit_names = unit_names
        self.units = frozenset(u.code for u in p.units)
        at = {f: i for i, (_, f, _) in enumerate(columns) if f is not None}
        self.kind_at, self.unit_at, self.time_at = at.get("kind"), at["unit"], at["submitted_at"]
        self.item_at, self.id_at = at.get("item"), at.get("id")
        # Payload columns: the key the record files each under, in the file's order.
        self.payload_columns = [(pkey, i) for i, (_, f, pkey) in enumerate(columns) if f is None]
        places = [i for _, i in self.payload_columns]
        self.payload_cells: Callable[[Sequence[str]], Any] = (
            operator.itemgetter(*places) if places else lambda cells: ())
        self.kinds: dict[str, _Kind | None] = {}
        self.times: dict[str, tuple[dt.datetime, dt.datetime, str, Any] | None] = {}
        self.cutoffs: dict = {"own": own_deadlines(timetable)}  # lateness_of's own cache
        # Per stage: {category, or (category, unit) for a unit with deadlines of its own: _Deadline}.
        self.deadlines: dict[str, dict[Any, _Deadline | None]] = {}
        self.payloads: dict[Any, tuple[str, Any]] = {}
        self.categories: dict[str | None, str] = {code: _quote(code) for code in set(p.item_category.values())}
        self.categories[None] = "null"
        late = {flag: convert("late", flag) for flag in (False, True)}
        # (the late column's value, status, outcome) of a hand-in on time and of a late one
        self.verdicts = {refused: ((late[False], "accepted", "accepted"),
                                   (late[True], "rejected_late", "rejected_late") if refused else
                                   (late[True], "accepted", "late_accepted")) for refused in (False, True)}

    # -- once per distinct value ------------------------------------------------------------

    def _kind(self, cell: str) -> _Kind | None:
        """A kind cell's kind and its one stage, or None when the lane does not take it."""
        text = cell.strip()
        kind = normalise_kind(text) if text else normalise_kind(self.default_kind) if self.default_kind else None
        kind = self.p.kind_words.get(kind, kind) if isinstance(kind, str) else kind
        stages = stages_for(self.p, kind) if isinstance(kind, str) else []
        stage = stages[0] if len(stages) == 1 else None
        found = None
        if (isinstance(kind, str) and stage is not None and not stage.periods
                and (stage.owed_by is None or stage.owed_by.approved_at is None)
                and set(stage.record_identity.key) <= set(IDENTITY_FIELDS)):  # no payload field (period: none)
            key = stage.record_identity.key
            prefix = f"[{_quote(stage.code)},".replace("{", "{{").replace("}", "}}")
            identity = prefix + ",".join(f"{{{_KEY_PLACES[k]}}}" for k in key) + "]"
            found = _Kind(kind, stage, f'"kind":{_quote(kind)},', identity, "id" in key,
                          stage.code in self.p.per_item_stages)
        if len(self.kinds) >= _CACHED:
            self.kinds.clear()
        self.kinds[cell] = found
        return found

    def _time(self, cell: str) -> tuple[dt.datetime, dt.datetime, str, Any] | None:
        """(local time, to the minute, its ISO text as JSON, the database's value) of a time
        cell; None when unreadable. Kept here alone: the readers' own caches of each spelling
        (``__wrapped__``: not filled) would hold it twice more."""
        text = _time_text.__wrapped__(cell)
        try:
            at = parse_time_text.__wrapped__(text)
        except (TypeError, ValueError, OverflowError):
            result = None
        else:
            result = (at, at.replace(second=0, microsecond=0), _quote(text), self.convert("submitted_at", at))
        if len(self.times) >= _CACHED:
            self.times.clear()
        self.times[cell] = result
        return result

    def _cutoff(self, deadlines: dict[Any, _Deadline | None], key: Any, stage: Stage, unit: str,
                category: str | None, at: dt.datetime) -> _Deadline | None:
        """The deadline that applies and what a hand-in on time and a late one come to, as
        intake finds them (:func:`lateness_of`); None when the record fits no window of its
        stage. Remembered in ``deadlines`` (the stage's) under ``key``."""
        record = {"unit": unit}
        _, _, cutoff = lateness_of(self.timetable, stage, record, category, at, self.cutoffs)
        result: _Deadline | None = (cutoff, self.verdicts[stage.lateness == "reject"])
        if cutoff is None and unplaced(self.p, self.timetable, stage, record, category, self.cutoffs):
            result = None
        deadlines[key] = result
        return result

    def _payload(self, cells: Sequence[str], key: Any) -> tuple[str, Any]:
        """(the record's "payload" member in canonical JSON with its comma, or "" when it has
        none; the database's value) of a row."""
        kept = {k: v for k, i in self.payload_columns if (v := cells[i].strip())}
        text = ",".join(f"{_quote(k)}:{_quote(kept[k])}" for k in sorted(kept))
        if len(self.payloads) >= _CACHED:
            self.payloads.clear()
        self.payloads[key] = found = (f'"payload":{{{text}}},' if text else "", self.convert("payload", kept))
        return found

    # -- a batch -----------------------------------------------------------------------------

    def plan(self, batch: Sequence[Sequence[str] | None]) -> LanePlan:
        """Plan a batch of rows, each as many cells as the headers (None: a row of another width,
        which the per-row way sets aside; places count it)."""
        plan = LanePlan()
        received = now()
        latest = received + CLOCK_SKEW
        stamp = self.convert("received_at", to_local(received))
        ids = iter(ordered_hex_ids(len(batch)))
        kinds, times, payloads, all_deadlines = self.kinds, self.times, self.payloads, self.deadlines
        units, names, own, categories = self.units, self.unit_names, self.cutoffs["own"], self.categories
        item_category, payload_cells = self.p.item_category, self.payload_cells
        kind_at, unit_at, time_at, item_at, id_at = self.kind_at, self.unit_at, self.time_at, self.item_at, self.id_at
        round_value, source, sha = self.round_value, self.source, hashlib.sha256
        rows, places, outcomes = plan.rows, plan.places, plan.outcomes
        kind_cell: str | None = None  # the kind cell the kind's values below are of (a file has one or a few)
        kind: _Kind | None = None
        for index, cells in enumerate(batch):
            if cells is None:
                continue
            cell = cells[kind_at] if kind_at is not None else ""
            if cell != kind_cell:
                kind_cell = cell
                kind = kinds[cell] if cell in kinds else self._kind(cell)
                if kind is not None:
                    word, stage, kind_text, identity, needs_id, per_item = kind
                    code, identity_of = stage.code, identity.format
                    deadlines = all_deadlines.setdefault(code, {})
            cell = cells[time_at]
            at = times[cell] if cell in times else self._time(cell)
            unit = cells[unit_at].strip()
            if names:
                unit = names.get(unit, unit)
            item = cells[item_at].strip() if item_at is not None else ""
            external = cells[id_at].strip() if id_at is not None else ""
            category = item_category.get(item) if item else None
            if (kind is None or at is None or unit not in units or (item and category is None) or at[0] > latest
                    or (needs_id and not external) or (per_item and not item)):
                if not self._left(batch, index, plan):
                    return LanePlan(whole=True)
                continue
            where = (category, unit) if unit in own else category
            deadline = deadlines[where] if where in deadlines else self._cutoff(deadlines, where, stage, unit,
                                                                                 category, at[0])
            if deadline is None:  # fits no window: intake places it by what is stored before it
                return LanePlan(whole=True)
            cutoff, verdicts = deadline
            late, status, outcome = verdicts[cutoff is not None and at[1] > cutoff]
            key = payload_cells(cells)
            payload = payloads[key] if key in payloads else self._payload(cells, key)
            q_unit = _quote(unit)
            q_item = _quote(item) if item else "null"
            q_id = _quote(external) if external else "null"
            # The record's canonical JSON: keys sorted (id, item, kind, payload, submitted_at, unit).
            id_member = f'"id":{q_id},' if external else ""
            item_member = f'"item":{q_item},' if item else ""
            text = f'{{{id_member}{item_member}{kind_text}{payload[0]}"submitted_at":{at[2]},"unit":{q_unit}}}'
            rows.append((next(ids), round_value, word, code, unit, category, item or None, external or None,
                         sha(text.encode()).hexdigest(), identity_of(q_id, q_unit, q_item, categories[category], "null"),
                         payload[1], at[3], source, late, status, stamp))
            places.append(index)
            outcomes.append(outcome)
        return plan

    def _left(self, batch: Sequence[Sequence[str] | None], index: int, plan: LanePlan) -> bool:
        """Leave a row to per-row intake when intake sets it aside whatever is stored (its
        place in the batch cannot matter); False when it does not (the batch goes per row)."""
        cells = batch[index]
        assert cells is not None
        _, fp, why = read_record(self.p, normalise_record(dict(zip(self.headers, cells, strict=True)),
                                                          default_kind=self.default_kind, unit_names=self.unit_names))
        if why is None:
            return False
        plan.left.append((index, fp, why[0]))
        return True
