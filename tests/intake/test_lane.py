"""The bulk lane of a file import (``qcycle.intake.lane``) decides what per-row intake decides:
the same files imported with the lane and without it store the same rows, quarantine the same
records with the same reasons and count the same outcomes. Each test also checks the lane
took rows, so that none passes by going the per-row way."""

from __future__ import annotations

import itertools
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from qcycle import crud, db
from qcycle.intake.files import importing
from qcycle.intake.files.detect import RecordFile
from qcycle.intake.files.tabular import PlainRows, _csv_rows, csv_batches
from qcycle.models import ordered_hex_ids, ordered_uuid
from qcycle.settings import get_settings
from tests.intake.conftest import P1

HEAD = "材料种类,单位代码,项目代码,提交时间,编号,联系人\n"
APPLICATION = "    lateness: reject\n    reminders: standard\n  - code: takers_review\n"


def _programme(tmp_path: Path, identity: str | None = None) -> Path:
    text = P1.read_text("utf-8")
    if identity is not None:
        assert APPLICATION in text
        text = text.replace(APPLICATION, APPLICATION.replace("    reminders:", f"    identity: {identity}\n"
                                                                            "    reminders:"))
    path = tmp_path / f"p1-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text, "utf-8")
    return path


# Every kind of row a file holds, a few times over so that batches of 4 mix them.
MIXED = (
    "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,王芳\n"
    "揭榜书,510300,cxyl-02,2023-04-19 16:00,A2,\n"            # no contact: no payload
    "揭榜书,510400,zlcx-03,2023-04-21 09:00,A3,李强\n"        # late: refused
    "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,王芳\n"        # the same record again
    "揭榜书,999999,zlcx-01,2023-04-10 10:00,A4,张伟\n"        # unknown unit
    "揭榜书,510500,zlcx-02,2023年13月40日,A5,赵敏\n"         # unreadable time
    "application, 510600 ,zlcx-02, 2023/4/12 9:00 ,A6, 陈静 \n"  # spaces, English kind, another time spelling
    "揭榜书,成都市市场监督管理局,cxyl-01,2023-04-11 08:00,A7,王芳\n"  # a name for the code
    "揭榜书,510700,nope-01,2023-04-11 08:00,A8,王芳\n"        # unknown item
    "揭榜书,510100,zlcx-01,2023-04-18 10:00,A9,李强\n"        # the first key with new content: a revision
    "揭榜书,510100,zlcx-01,2023-04-05 10:00,A10,李强\n"       # and an older version of it
    '揭榜书,510800,"zlcx-01",2023-04-12 10:00,A11,"王,芳"\n'   # quoted cells
    "\n"                                                       # a blank line
    "揭榜书,510900,zlcx-01\n"                                  # too few cells
    "wish,510100,zlcx-01,2023-04-12 10:00,A12,王芳\n"          # unknown kind
    "揭榜书,511000,zlcx-04,2023-04-20 17:30,A13,王芳\n"        # at the deadline: on time
    "揭榜书,511100,,2023-04-12 10:00,A14,王芳\n"               # no item
    "揭榜书,510300,cxyl-02,2023-04-19 16:00,A2,\n"            # A2 again, in another batch
    "揭榜书,510900,zlcx-01,0001-01-01 00:00,A15,王芳\n"       # a time before any time zone: set aside, not a crash
)


def _stored(url: str) -> tuple[list[Any], list[Any], list[Any]]:
    path = url.removeprefix("sqlite:///")
    con = sqlite3.connect(path)
    try:
        cols = ("kind, stage, unit_code, category_code, item_code, period, external_id, fingerprint, payload, "
                "submitted_at, source, late, status, identity, revisions, answered_at")
        rows = sorted(con.execute(f"SELECT {cols} FROM submission").fetchall(), key=repr)
        # (an unreadable row's fingerprint names its round, whose id each database makes)
        aside = sorted(con.execute("SELECT source, raw, reason, record FROM quarantined_record"), key=repr)
        kept = sorted(con.execute("SELECT kind, stage, unit_code, fingerprint, payload, submitted_at, fate, "
                                  "answered_at FROM submission_revision"), key=repr)
        return rows, aside, kept
    finally:
        con.close()


class Stopped(Exception):
    pass


def _stop_after(batches: int):
    seen = []

    def on_batch(done: int, expected: int) -> None:
        seen.append(done)
        if len(seen) == batches:
            raise Stopped

    return on_batch


@pytest.fixture
def both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """import(files, programme, batch_size) into two fresh databases, with the lane and
    without; returns the two reports' lists and how many rows the lane planned."""
    lane_rows: list[int] = []
    take = importing._take_planned

    def counted(session, ctx, report, batch, planned, default_kind):
        lane_rows.append(len(planned.rows))
        return take(session, ctx, report, batch, planned, default_kind)

    monkeypatch.setattr(importing, "_take_planned", counted)
    # The lane's imports plan ahead and drain as they would beside other writers (the write
    # lock's pauses, scripted); the per-row way's write each batch at once: the same rows stored
    # both ways means no batch was lost, doubled or reordered by planning ahead.
    script = itertools.cycle([True, True, False, True, False, False, False])
    pausing = importing._Writer.pausing

    def run(files: list[Path], programme: Path, batch_size: int = 4, stop_after: int | None = None, **kw: Any):
        """``stop_after``: each file's import is stopped after that many batches, then run again."""
        reports: dict[bool, list[Any]] = {}
        stored = {}
        for lane in (True, False):
            url = f"sqlite:///{tmp_path / f'lane-{lane}-{uuid.uuid4().hex[:6]}.db'}"
            db.upgrade(url)
            monkeypatch.setenv("QCYCLE_IMPORT_LANE", "true" if lane else "false")
            monkeypatch.setattr(importing._Writer, "pausing", (lambda _: next(script)) if lane else pausing)
            get_settings.cache_clear()
            reports[lane] = []
            for f in files:
                if stop_after is not None:
                    with pytest.raises(Stopped):
                        importing.import_file_in_batches(path=f, programme=programme, batch_size=batch_size,
                                                         url=url, on_batch=_stop_after(stop_after), **kw)
                reports[lane].append(importing.import_file_in_batches(path=f, programme=programme,
                                                                      batch_size=batch_size, url=url, **kw))
            stored[lane] = _stored(url)
            db.get_engine(url).dispose()
        get_settings.cache_clear()
        for with_lane, without in zip(reports[True], reports[False], strict=True):
            assert with_lane.counts == without.counts
            assert with_lane.not_in_force == without.not_in_force
            # A reason may name when the row was received, to the minute: the two imports may fall either side of one.
            assert [(q.where, _received(q.reason), q.raw) for q in with_lane.quarantined] == \
                [(q.where, _received(q.reason), q.raw) for q in without.quarantined]
        assert stored[True] == stored[False]
        return reports[True], stored[True], sum(lane_rows)

    return run


@pytest.mark.parametrize("identity", [None, "{key: [id]}", "{key: [id], on_change: conflict}"])
def test_a_mixed_file_is_stored_alike_with_the_lane_and_without(both, tmp_path, identity):
    p = _programme(tmp_path, identity)
    f = tmp_path / "mixed.csv"
    f.write_text(HEAD + MIXED, "utf-8")
    reports, (rows, aside, _), planned = both([f], p)
    counts = reports[0].counts
    assert sum(counts.values()) == 18  # every row counted once (the blank line is not a row)
    assert counts["quarantined"] >= 6 and counts["rejected_late"] == 1 and counts["duplicate"] >= 2
    assert planned >= 8  # the lane took the plain rows
    assert any(r[6] == "A7" and r[2] == "510100" for r in rows)  # the unit's name read as its code
    assert any("有 3 列，表头有 6 列" in reason for _, _, reason, _ in aside)
    assert any("'0001-01-01T00:00:00" in reason and "无法识别" in reason for _, _, reason, _ in aside)


def test_a_file_imported_again_and_then_changed_is_stored_alike(both, tmp_path):
    """Repeats and revisions across imports: the lane finds the keys it holds already."""
    p = _programme(tmp_path, "{key: [id]}")
    first = tmp_path / "first.csv"
    first.write_text(HEAD + MIXED, "utf-8")
    changed = tmp_path / "changed.csv"
    changed.write_text(HEAD + MIXED.replace("王芳", "王芳芳").replace("2023-04-19 16:00", "2023-04-19 16:30"), "utf-8")
    reports, (_, _, kept), planned = both([first, first, changed, first], p, batch_size=5)
    assert reports[1].counts["duplicate"] >= 10 and reports[1].counts["accepted"] == 0
    assert reports[2].counts["revised"] == 4 and reports[2].counts["duplicate"] == 7
    assert kept  # earlier versions kept in the history
    assert planned >= 8


def test_an_import_stopped_and_resumed_is_stored_alike(both, tmp_path):
    """Resumed after its committed batches, the lane takes the rest of the file as well."""
    p = _programme(tmp_path, "{key: [id]}")
    f = tmp_path / "resumed.csv"
    f.write_text(HEAD + MIXED + MIXED.replace(",A", ",B"), "utf-8")
    reports, _, planned = both([f], p, batch_size=5, stop_after=3)
    # (batches of 5 lines: the blank line is in the third, which holds 4 rows)
    assert reports[0].resumed_rows == 14 and reports[0].resumed_at == "第 17 行"
    assert sum(reports[0].counts.values()) == 36
    assert planned >= 12  # the batches after the resume went the lane's way


def test_rows_past_a_cell_with_a_line_break_go_the_per_row_way_alike(both, tmp_path):
    p = _programme(tmp_path)
    f = tmp_path / "break.csv"
    f.write_text(HEAD + "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,王芳\n"
                 '揭榜书,510300,cxyl-02,2023-04-11 10:00,A2,"王\n芳"\n' + MIXED, "utf-8")
    reports, _, planned = both([f], p, batch_size=50)
    assert sum(reports[0].counts.values()) == 20
    assert planned == 0  # the first batch held the line break: the whole file went per row


def test_a_future_time_sends_its_batch_the_per_row_way(both, tmp_path):
    p = _programme(tmp_path)
    f = tmp_path / "future.csv"
    f.write_text(HEAD + "揭榜书,510100,zlcx-01,2099-04-10 10:00,A1,王芳\n揭榜书,510300,cxyl-02,2023-04-11 10:00,A2,\n"
                 + "揭榜书,510400,zlcx-01,2023-04-10 10:00,B1,王芳\n揭榜书,510500,cxyl-02,2023-04-11 10:00,B2,\n",
                 "utf-8")
    reports, _, planned = both([f], p, batch_size=2)
    assert reports[0].counts["quarantined"] == 1 and reports[0].counts["accepted"] == 3
    assert planned == 2  # the second batch only


def test_columns_the_lane_does_not_take_go_the_per_row_way(both, tmp_path):
    p = _programme(tmp_path)
    f = tmp_path / "period.csv"
    f.write_text("材料种类,单位代码,项目代码,期次,提交时间\n进展报告,510100,zlcx-01,2023-07,2023-07-10 09:00\n", "utf-8")
    reports, _, planned = both([f], p)
    assert reports[0].counts["accepted"] + reports[0].counts["quarantined"] == 1 and planned == 0


def _same_rows(path: Path, size: int) -> None:
    result = RecordFile(path, "csv")
    batched = [row for batch in csv_batches(path, "utf-8", result, size)
               for row in (batch.file_rows() if isinstance(batch, PlainRows) else batch)]
    expected = list(_csv_rows(path, "utf-8", RecordFile(path, "csv")))
    assert batched == expected


@pytest.mark.parametrize("size", [1, 3, 100])
def test_csv_batches_give_the_rows_the_row_reader_gives(tmp_path, size):
    for n, text in enumerate([
        HEAD + MIXED,
        "\n\n" + HEAD + MIXED + "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,\n,,,,,\n",
        HEAD + MIXED + '揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,"王\n芳"\n' + MIXED,
        HEAD + '揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,"王芳\n' + MIXED,  # a quote left open
        HEAD + "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,王\x00芳\n" + MIXED,  # a NUL
        '"材料种类","单位代码",提交时间\n揭榜书,510100,2023-04-10 10:00\n',  # a quoted header
        # a quote inside an unquoted cell, then a quoted cell left open at a batch's last line
        HEAD + "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,x\n揭榜书,510300,cxyl-02,2023-04-11 10:00,A2,x\n"
        '揭榜书,510400,zlcx-01,2023-04-10 10:00,A"3,"王\n芳"\n' + MIXED,
    ]):
        path = tmp_path / f"f{n}.csv"
        path.write_text(text, "utf-8", newline="")
        _same_rows(path, size)


def test_batch_ids_are_time_ordered_uuids_after_those_made_before():
    before = ordered_uuid()
    ids = ordered_hex_ids(10_000)  # more than one millisecond's counter
    after = ordered_uuid()
    values = [uuid.UUID(i) for i in ids]
    assert [before, *values, after] == sorted([before, *values, after])
    assert len(set(ids)) == len(ids) and all(v.version == 7 and v.variant == uuid.RFC_4122 for v in values)


def test_a_held_key_is_found_when_another_writers_row_lies_among_the_batch_ids(tmp_path):
    """The lane finds which of its rows were stored from the range of the batch's ids; a row
    another writer stored with an id inside that range is not taken for one of them."""
    url = f"sqlite:///{tmp_path / 'range.db'}"
    db.upgrade(url)
    f = tmp_path / "one.csv"
    f.write_text(HEAD + "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1,王芳\n", "utf-8")
    importing.import_file_in_batches(path=f, programme=_programme(tmp_path), url=url)
    columns = importing.Lane.COLUMNS
    at_fp, at_key = columns.index("fingerprint"), columns.index("identity")
    insert = f"INSERT INTO submission ({', '.join(columns)}, revisions) VALUES ({', '.join('?' * len(columns))}, 0)"
    first, middle, last = ordered_hex_ids(3)
    with db.session_scope(url) as session:
        connection = session.connection()
        held = connection.exec_driver_sql(f"SELECT {', '.join(columns)} FROM submission").one()

        def row(row_id: str, key: str, fp: str) -> tuple[Any, ...]:
            values = [row_id, *held[1:]]
            values[at_key], values[at_fp] = key, fp
            return tuple(values)

        connection.exec_driver_sql(insert, row(middle, '["application","other"]', "b" * 64))  # another writer's
        rid, stage = uuid.UUID(held[1]), held[columns.index("stage")]
        before = crud.hand_ins_token(session=session, round_id=rid, stage=stage)
        found = crud.add_planned(session=session, columns=columns, rows=[
            row(first, held[at_key], "c" * 64),     # the stored record's key with new content: not stored
            row(last, '["application","new"]', "d" * 64),  # a new key: stored
        ])
        assert found == {0: held[at_fp]}
        # The lane gives the stage a new hand-ins token as it stores (the count alone would come back after a rollback).
        after = crud.hand_ins_token(session=session, round_id=rid, stage=stage)
        assert after is not None and before is not None and after[0] != before[0] and after[1] == before[1] + 1
        ids = {i for (i,) in connection.exec_driver_sql("SELECT id FROM submission")}
    assert last in ids and middle in ids and first not in ids
    db.get_engine(url).dispose()


def test_the_reasons_listed_past_the_cap_are_the_per_row_ways(both, tmp_path, monkeypatch):
    """The report lists the first LISTED_ASIDE rows set aside, in file order. The lane takes a
    batch in two passes (the rows it sets aside, then conflicts per row): where the cap falls
    inside such a batch, the rows listed are still the file's first ones."""
    monkeypatch.setattr("qcycle.intake.report.LISTED_ASIDE", 4)
    p = _programme(tmp_path, "{key: [id], on_change: conflict}")
    rows = [f"揭榜书,{unit},zlcx-01,2023-04-10 10:00,A{n},王芳\n" for n, unit in enumerate(("510100", "510300", "510400"), 1)]
    first = tmp_path / "first.csv"
    first.write_text(HEAD + "".join(rows), "utf-8")
    changed = tmp_path / "changed.csv"
    changed.write_text(HEAD + "".join([
        rows[0].replace("王芳", "李强"),                         # line 2: A1 changed, a conflict
        "揭榜书,999999,zlcx-01,2023-04-10 10:00,B1,张伟\n",     # line 3: unknown unit
        rows[1].replace("王芳", "李强"),                         # line 4: a conflict
        "揭榜书,510500,zlcx-02,2023年13月40日,B2,赵敏\n",      # line 5: unreadable time
        rows[2].replace("王芳", "李强"),                         # line 6: a conflict
        "揭榜书,999998,zlcx-01,2023-04-10 10:00,B3,张伟\n",     # line 7: unknown unit
        "揭榜书,510900,zlcx-01,2023-04-11 10:00,B4,张伟\n",     # line 8: new, on time
    ]), "utf-8")
    reports, _, planned = both([first, changed], p, batch_size=10)
    assert reports[1].counts["conflict"] == 3 and reports[1].counts["quarantined"] == 3
    assert [q.where for q in reports[1].quarantined] == ["第 2 行", "第 3 行", "第 4 行", "第 5 行"]
    assert planned == 7  # the first file's three, then the three changed (found held: per row) and the new one


def _received(reason: str) -> str:
    """A quarantine reason without the minute it was received (收到时间 2026-12-07 08:33)."""
    return re.sub(r"收到时间 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", "收到时间 …", reason)
