"""``ingest_many`` (the batch path of the simulator and the benchmark) gives each record the
outcome ``ingest`` gives it one at a time, and stores the same rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import Session, select

from qcycle import db
from qcycle.intake import ingest, ingest_many
from qcycle.intake.normalise import normalise_record
from qcycle.intake.report import open_round
from qcycle.models import QuarantinedRecord, Review, Submission
from tests.homes import migrated
from tests.intake.conftest import BAD_RECORDS, GOOD_RECORDS, P1


def _records() -> list:
    records = [normalise_record(r) if isinstance(r, dict) else r for r in GOOD_RECORDS + BAD_RECORDS]
    # A repeat of the first record within the batch, and a reviewer changing a value.
    return [*records, dict(records[0]), {**records[5], "value": 70}]


def _stored(session: Session) -> tuple:
    subs = sorted((s.unit_code, s.item_code or "", s.kind, s.status, s.late, s.fingerprint)
                  for s in session.exec(select(Submission)))
    reviews = sorted((r.unit_code, r.reviewer, r.component_code, r.value) for r in session.exec(select(Review)))
    quarantined = sorted((q.reason, q.raw) for q in session.exec(select(QuarantinedRecord)))
    return subs, reviews, quarantined


def _fresh(tmp_path: Path, name: str) -> str:
    return migrated(f"sqlite:///{tmp_path / name}")


def test_ingest_many_matches_ingest_one_by_one(tmp_path):
    outcomes, stored = {}, {}
    for way in ("one", "many"):
        url = _fresh(tmp_path, f"{way}.db")
        with Session(db.get_engine(url), expire_on_commit=False) as session:
            ctx = open_round(session, P1)
            args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                        "round_id": ctx.round_id, "source": "test"}
            if way == "one":
                results = [ingest(record=r, **args) for r in _records()]
            else:
                results = ingest_many(records=_records(), **args)
            outcomes[way] = [(r.status, r.reason) for r in results]
            stored[way] = _stored(session)
        db.get_engine(url).dispose()
    assert outcomes["many"] == outcomes["one"]
    assert stored["many"] == stored["one"]
    statuses = [s for s, _ in outcomes["many"]]
    assert {"accepted", "late_accepted", "rejected_late", "quarantined", "duplicate"} <= set(statuses)
    assert statuses[-2] == "duplicate"  # the repeat within the batch
    reviews = stored["many"][1]
    assert ("510100", "张三", "effect", 70.0) in reviews and ("510100", "张三", "effect", 88.0) not in reviews


def test_what_is_handed_in_may_be_named_in_the_programme_s_own_words(tmp_path):
    """An office types the stage's name from its own file (太仓: 申报材料; 四川: 提交揭榜书,
    中期检查（进展报告）): each is that stage's kind. An unknown word is refused with the words
    this round takes."""
    from qcycle.loader import load_programme

    taicang = load_programme(Path(__file__).resolve().parents[2] / "config" / "programmes"
                             / "tc-mayor-quality-award-2024.yaml").programme
    assert taicang.kind_words["申报材料"] == "application"
    url = _fresh(tmp_path, "words.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}
        records = [normalise_record({"kind": kind, "unit": "510100", "item": "zlcx-01", "period": period,
                                     "submitted_at": when, "id": f"w{n}"})
                   for n, (kind, period, when) in enumerate([
                       ("提交揭榜书", None, "2023-04-12T10:00:00+08:00"),
                       ("中期检查（进展报告）", "2023-07", "2023-07-10T10:00:00+08:00"),
                       ("工作总结", None, "2023-07-10T10:00:00+08:00")])]
        results = ingest_many(records=records, **args)
        kinds = sorted(s.kind for s in session.exec(select(Submission)))
    db.get_engine(url).dispose()
    assert [r.status for r in results[:2]] == ["accepted", "accepted"] and kinds == ["application", "progress_report"]
    assert results[2].status == "quarantined"
    assert results[2].reason.startswith("未知的材料种类 '工作总结'（本周期收：揭榜书（application）、")
    assert "评审打分（score）" in results[2].reason


def test_a_record_that_fits_no_window_of_its_stage_is_quarantined_not_counted_on_time(tmp_path):
    """A progress report without a period, with a period the stage does not have, or for a
    period its category does not owe has no deadline: it was counted 按时受理, and its unit
    then chased and 督办'd for the period it did not name. It is set aside, saying why."""
    url = _fresh(tmp_path, "periods.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}
        records = [normalise_record({"kind": "progress_report", "unit": "510100", "item": "zlcx-01",
                                     "period": period, "submitted_at": "2023-07-10T10:00:00+08:00"})
                   for period in (None, "2023-13", "2024-06", "2023-07")]
        # A period on a record of a window that has none: 临江's 统计数据表 had been told to carry an item or category.
        records.append(normalise_record({"kind": "application", "unit": "510100", "item": "zlcx-01", "period": "2023",
                                         "submitted_at": "2023-04-10T10:00:00+08:00"}))
        results = ingest_many(records=records, **args)
        stored = [(s.period, s.status) for s in session.exec(select(Submission))]
        kept = sorted(q.reason for q in session.exec(select(QuarantinedRecord)))
    db.get_engine(url).dispose()
    assert [r.status for r in results] == ["quarantined", "quarantined", "quarantined", "accepted", "quarantined"]
    assert stored == [("2023-07", "accepted")]
    assert results[0].reason == "缺少期次（period）：“中期检查（进展报告）”（阶段 midterm）分期提交（可选：2023-07、2023-10、2024-06）"
    assert results[1].reason.startswith("期次 '2023-13' 不是“中期检查（进展报告）”（阶段 midterm）的期次")
    assert results[2].reason.endswith("期次 2024-06 不收类别 质量创新（zlcx）的材料")
    assert results[4].reason == "期次 '2023'：“提交揭榜书”（阶段 application）不分期提交（不写期次，或注明所属阶段）"
    assert len(kept) == 4


def test_a_record_handed_in_in_the_future_by_its_own_account_is_set_aside(tmp_path):
    """A refused record dated after it was received (a mistyped year) was never answered: the
    letters answer what was handed in by their day. A source clock a few minutes fast is
    believed."""
    from qcycle import clock

    url = _fresh(tmp_path, "future.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}
        records = [normalise_record({"kind": "application", "unit": unit, "item": "zlcx-01",
                                     "submitted_at": when}) for unit, when in
                   (("510100", "2024-04-21T09:00:00+08:00"), ("510300", "2023-04-21T09:10:00+08:00"))]
        with clock.frozen(dt.datetime(2023, 4, 21, 9, 0, tzinfo=clock.TZ)):
            results = ingest_many(records=records, **args)
    db.get_engine(url).dispose()
    assert [r.status for r in results] == ["quarantined", "rejected_late"]
    assert results[0].reason == "提交时间 2024-04-21 09:00 晚于收到时间 2023-04-21 09:00（不能是将来的时间，请核对年份和时区）"


def test_a_score_dated_in_the_future_or_unreadably_is_set_aside(tmp_path):
    """A reviewer's value need not be dated; when it is, a date after it was received (a
    mistyped year) or one that cannot be read is not believed: the sheet is checked, not stored."""
    from qcycle import clock

    url = _fresh(tmp_path, "future-score.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}
        records = [normalise_record({"kind": "score", "unit": "510100", "reviewer": reviewer, "component": "effect",
                                     "value": 80, **({"submitted_at": when} if when else {})})
                   for reviewer, when in (("甲", "2024-12-21T09:00:00+08:00"), ("乙", "12月21日"),
                                          ("丙", "2023-12-21T09:10:00+08:00"), ("丁", None))]
        with clock.frozen(dt.datetime(2023, 12, 21, 9, 0, tzinfo=clock.TZ)):
            results = ingest_many(records=records, **args)
        stored = sorted(r.reviewer for r in session.exec(select(Review)))
    db.get_engine(url).dispose()
    assert [r.status for r in results] == ["quarantined", "quarantined", "accepted", "accepted"]
    assert results[0].reason == "提交时间 2024-12-21 09:00 晚于收到时间 2023-12-21 09:00（不能是将来的时间，请核对年份和时区）"
    assert results[1].reason == "提交时间 '12月21日' 无法识别（应为 ISO 8601，如 2023-04-18T10:00:00+08:00）"
    assert stored == ["丁", "丙"]


def test_a_score_sheet_with_an_item_column_scores_the_item_and_an_unknown_subject_is_set_aside(tmp_path):
    """四川's 评分表 gives 单位代码 and 项目代码 apart: the values were stored under the unit, and the
    item's assessment found none; a subject of no unit in the round was taken in as well."""
    url = _fresh(tmp_path, "scores.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}
        rows = [{"kind": "score", "unit": unit, "item": item, "reviewer": "R1", "component": "effect", "value": 90}
                for unit, item in (("510100", "zlcx-01"), ("510300:cxyl-02", None), ("519999:zlcx-01", None),
                                   ("510100:nosuch", None))]
        results = ingest_many(records=[normalise_record(r) for r in rows], **args)
        stored = sorted(r.unit_code for r in session.exec(select(Review)))
    db.get_engine(url).dispose()
    assert [r.status for r in results] == ["accepted", "accepted", "quarantined", "quarantined"]
    assert stored == ["510100:zlcx-01", "510300:cxyl-02"]
    assert "519999" in results[2].reason and "nosuch" in results[3].reason


def test_a_hand_in_within_the_deadline_s_minute_is_on_time(tmp_path):
    """A hand-in stamped 17:30:30 was refused against a 17:30 deadline, and its letter read
    "17:30:30提交…晚于截止时间（17:30）": deadlines are given to the minute, so is lateness."""
    url = _fresh(tmp_path, "minute.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}
        records = [normalise_record({"kind": "application", "unit": unit, "item": "zlcx-01", "submitted_at": when})
                   for unit, when in (("510100", "2023-04-20T17:30:59+08:00"), ("510300", "2023-04-20T17:31:00+08:00"))]
        results = ingest_many(records=records, **args)
    db.get_engine(url).dispose()
    assert [r.status for r in results] == ["accepted", "rejected_late"]


def test_a_missing_field_is_said_missing_not_none():
    """"提交时间 None 无法识别", "评分 None 不是数字", "未知的材料种类 None" reached the office."""
    from qcycle.intake.checking import _problem
    from qcycle.loader import load_programme

    p = load_programme(P1).programme
    assert _problem(p, {"unit": "510100"}) == "缺少材料种类（kind）"
    assert _problem(p, {"kind": "application", "unit": "510100", "submitted_at": None}) == "缺少提交时间（submitted_at）"
    assert _problem(p, {"kind": "score", "unit": "510100", "reviewer": "R1", "component": "effect",
                        "value": ""}) == "缺少评分（value）"


def test_a_hand_in_of_a_per_item_stage_without_its_item_is_set_aside(tmp_path):
    """A 揭榜书 without its 项目代码 was taken in as on time, applied for nothing, and stood beside
    the same city's later one with the item (审核揭榜书 2 项). 揭榜书 and 进展报告 are per item; an
    award's 申报材料 (no list) is not."""
    url = _fresh(tmp_path, "noitem.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}
        records = [normalise_record(r) for r in (
            {"kind": "application", "unit": "510100", "submitted_at": "2023-04-12T10:00:00+08:00"},
            {"kind": "progress_report", "unit": "510100", "period": "2023-07", "submitted_at": "2023-07-10T10:00:00+08:00"},
            {"kind": "application", "unit": "510100", "item": "zlcx-01", "submitted_at": "2023-04-12T10:00:00+08:00"})]
        results = ingest_many(records=records, **args)
    db.get_engine(url).dispose()
    assert [r.status for r in results] == ["quarantined", "quarantined", "accepted"]
    assert results[0].reason == "缺少榜单项目（item）：“提交揭榜书”按项目提交（一个项目一份）"
    award = P1.with_name("ts-government-quality-award-2024.yaml")
    url = _fresh(tmp_path, "award.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, award)
        unit = next(u.code for u in ctx.loaded.programme.units if u.level == "enterprise")
        [result] = ingest_many(session=session, programme=ctx.loaded.programme, timetable=ctx.timetable,
                               round_id=ctx.round_id, source="test", records=[normalise_record(
                                   {"kind": "application", "unit": unit, "submitted_at": "2024-05-20T10:00:00+08:00"})])
    db.get_engine(url).dispose()
    assert result.status == "accepted", result


def test_a_score_given_again_is_a_duplicate_and_a_changed_one_a_revision_in_the_audit_log(tmp_path):
    """A score sheet imported twice counted every value 按时受理 again, and a reviewer's changed
    value replaced the old one without a trace."""
    from qcycle.models import AuditLog

    url = _fresh(tmp_path, "rescore.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "import:评分.csv"}

        def sheet(*values):
            return [normalise_record({"kind": "score", "unit": "510100", "item": "zlcx-01", "reviewer": "专家甲",
                                      "component": "effect", "value": v}) for v in values]

        first = ingest_many(records=sheet(95, 95), **args)
        again = ingest_many(records=sheet(95), **args)
        changed = ingest_many(records=sheet(60), **args)
        values = [r.value for r in session.exec(select(Review))]
        audit = session.exec(select(AuditLog).where(AuditLog.action == "score:revise")).all()
    db.get_engine(url).dispose()
    assert [r.status for r in first] == ["accepted", "duplicate"] and [r.status for r in again] == ["duplicate"]
    assert changed[0].status == "revised" and changed[0].reason == "评分由 95 改为 60（已记入审计日志）"
    assert values == [60.0]
    assert [(a.detail["old"], a.detail["new"], a.detail["reviewer"]) for a in audit] == [(95.0, 60.0, "专家甲")]


def test_a_hand_in_its_stage_does_not_ask_of_the_unit_is_set_aside_once_the_list_is_made(tmp_path):
    """成都's progress report on an item it never took up was 按时受理 and exported as such: a progress
    report is taken only from a taker of its item, as far as the 揭榜名单 is decided. A subject it
    refused is set aside at once; one it never approved, once nothing is pending (officers decide
    one subject at a time, and the simulated world and a pull may run ahead of them)."""
    from qcycle import crud

    url = _fresh(tmp_path, "owed.db")
    with Session(db.get_engine(url), expire_on_commit=False) as session:
        ctx = open_round(session, P1)
        args = {"session": session, "programme": ctx.loaded.programme, "timetable": ctx.timetable,
                "round_id": ctx.round_id, "source": "test"}

        def hand_in(kind: str, unit: str, item: str, when: str) -> object:
            record = {"kind": kind, "unit": unit, "item": item, "submitted_at": when}
            return ingest(record=normalise_record(record | ({"period": "2023-07"} if kind != "application" else {})),
                          **args)

        def decide(outcomes: dict[str, str]) -> None:
            crud.put_decisions(session=session, round_id=ctx.round_id, stage="takers_review", decides="application",
                               outcomes=outcomes, decided_by="test")

        for unit, item in (("510100", "zlcx-01"), ("510400", "tssd-01"), ("510600", "tssd-01")):
            assert hand_in("application", unit, item, "2023-04-12T10:00:00+08:00").status == "accepted"
        assert hand_in("progress_report", "510300", "cxyl-02", "2023-07-10T10:00:00+08:00").status == "accepted"
        decide({"510100:zlcx-01": "approved", "510400:tssd-01": "rejected"})  # 510600 still pending
        taker = hand_in("progress_report", "510100", "zlcx-01", "2023-07-11T10:00:00+08:00")
        refused = hand_in("progress_report", "510400", "tssd-01", "2023-07-11T10:00:00+08:00")
        early = hand_in("progress_report", "510100", "tssd-01", "2023-07-11T10:00:00+08:00")
        decide({"510600:tssd-01": "approved"})  # the 探索试点 list is made
        again = hand_in("progress_report", "510100", "tssd-01", "2023-07-11T10:00:00+08:00")  # the same file again
        other_item = hand_in("progress_report", "510100", "tssd-01", "2023-07-12T10:00:00+08:00")
    db.get_engine(url).dispose()
    assert taker.status == early.status == "accepted" and again.status == "duplicate"  # received already, as it was
    assert refused.status == other_item.status == "quarantined"
    assert "成都市市场监督管理局（510100）不在“中期检查（进展报告）”的应交名单中（未列入" in other_item.reason
    assert "攀枝花" in refused.reason and "应交名单中" in refused.reason
