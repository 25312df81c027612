"""Programme language v2, judged by outcomes (no Prefect): chained decisions, named grades with
caps, selections by rank and by decision, month offsets, voluntary windows, eligibility read
from an earlier round, and the one registry of action kinds."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from sqlmodel import select

from qcycle import crud, db, moment, ops
from qcycle.clock import at
from qcycle.errors import ConfigError
from qcycle.intake import ingest_many
from qcycle.kinds import ACTION_KINDS, STAGE_ACTIONS
from qcycle.lifecycle import HANDLERS, carry_out, decision_subjects, pending_decisions, sync_round
from qcycle.lifecycle.costs import lateness_costs, missing_rule
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.models import ActionRun, AuditLog, Decision, OutboxMessage, Submission
from qcycle.render import render_message
from qcycle.schema import Programme, StageKind
from qcycle.status import round_status
from qcycle.timetable import add_months, expand, name_of
from qcycle.workcal import WorkCalendar


def write(tmp_path: Path, name: str, text: str) -> LoadedProgramme:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_programme(path)


class Round:
    """A round in the test database, driven moment by moment without Prefect."""

    def __init__(self, loaded: LoadedProgramme) -> None:
        self.loaded, self.p = loaded, loaded.programme
        self.t = expand(self.p, WorkCalendar())
        with db.session_scope() as session:
            self.id = sync_round(session, loaded).id
        self.ran: set[str] = set()

    def until(self, day: str) -> None:
        """Run every moment of the timetable up to the end of ``day``."""
        end = at(dt.date.fromisoformat(day), dt.time(23, 59))
        for tick in sorted({a.at for a in self.t.actions if a.at <= end}):
            for o in moment.run_due(self.p, self.id, self.t, tick, template_dir=self.loaded.template_dir,
                                    actor="test"):
                if not o.pending:
                    self.ran.add(o.action.name)

    def hand_in(self, kind: str, units: list[str], when: str, **extra) -> None:
        records = [{"kind": kind, "unit": u, "submitted_at": f"{when}T10:00:00+08:00", "id": f"{kind}-{u}", **extra}
                   for u in units]
        with db.session_scope() as session:
            results = ingest_many(session=session, programme=self.p, timetable=self.t, round_id=self.id,
                                  records=records, source="test")
        assert all(r.status in ("accepted", "late_accepted") for r in results), results

    def scores(self, totals: dict[str, float]) -> None:
        """Each subject's score by one reviewer: a unit's ("e1"), or a list item's ("e1:xc-1")."""
        records = [{"kind": "score", "unit": s.partition(":")[0], **({"item": s.partition(":")[2]} if ":" in s else {}),
                    "reviewer": "r1", "component": "all", "value": v} for s, v in totals.items()]
        with db.session_scope() as session:
            ingest_many(session=session, programme=self.p, timetable=self.t, round_id=self.id,
                        records=records, source="test")

    def decide(self, stage: str, note: str = "", **outcomes: str) -> None:
        with db.session_scope() as session:
            crud.put_decisions(session=session, round_id=self.id, stage=stage,
                               decides=self.p.stage(stage).decides or "", outcomes=outcomes,
                               decided_by="test:ops", note=note)

    def pending(self, stage: str) -> list[str]:
        with db.session_scope() as session:
            return pending_decisions(session, self.p, self.id, self.p.stage(stage), None)

    def subjects(self, stage: str) -> list[str]:
        with db.session_scope() as session:
            return decision_subjects(session, self.p, self.id, self.p.stage(stage), None)

    def letters(self, stage: str) -> dict[str, str]:
        """unit → the rendered body of each message an action of ``stage`` queued."""
        with db.session_scope() as session:
            rows = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == self.id)).all()
        return {r.unit_code: r.body for r in rows if any(k.split(":")[0] == stage for k in r.action.split("+"))}


AWARD = """\
    version: 2
    round: {code: award-2023, name: 2023年度示例区长质量奖, programme: 示例区长质量奖, issuer: amr, years: [2023]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: amr, name: 示例区市场监督管理局, level: county, channels: [sink]}
      - {code: gov, name: 示例区人民政府, level: government, channels: [sink]}
      - {code: e1, name: 甲公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e2, name: 乙公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e3, name: 丙公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e4, name: 丁公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e5, name: 戊公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e6, name: 己公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e7, name: 庚公司, level: enterprise, parent: amr, channels: [sink]}
    reminder_policies:
      std: {before_workdays: [3, 1], escalate_after_workdays: 2}
    stages:
      - code: application
        name: 申报
        kind: submission
        submission: application
        owed_by: {levels: [enterprise]}
        voluntary: true
        opens: 2023-03-01
        deadline: {date: 2023-03-31}
        reminders: std
      - {code: eligibility, name: 资格审核, kind: decision, decides: application, on: 2023-04-04}
      - {code: documents, name: 材料评审, kind: decision, decides: eligibility, on: 2023-04-11}
      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-04-18}
      - {code: committee, name: 评审委员会审议, kind: decision, decides: scoring, on: 2023-04-25,
         among: {grades: [区长质量奖, 提名奖]}}
      - {code: notice, name: 拟授奖名单公示, kind: notice, days: 7, on: 2023-05-04, notify: {approved_at: committee}}
      - code: award
        name: 授予区长质量奖
        kind: notification
        template: praise
        on: 2023-05-15
        sender: gov
        notify: {grades: [区长质量奖, 提名奖], approved_at: committee}
      - {code: results, name: 通知评审结果, kind: notification, template: result, on: 2023-05-16,
         notify: {submitted_at: application, with_rejected: true}}
    assessment:
      result_label: 评审结果
      subjects: {approved_at: documents}
      components: [{code: all, name: 综合评分, weight: 1}]
      grades:
        - {name: 区长质量奖, min_score: 80, max_count: 1}
        - {name: 提名奖, min_score: 70, max_count: 2}
        - {name: 未获奖}
"""


# Two categories of one item each (a QC contest's 现场型 and 攻关型 成果), appended to AWARD.
TWO_KINDS = """\
    categories:
      - {code: xc, name: 现场型, items: [{code: xc-1, name: 现场型成果}]}
      - {code: gg, name: 攻关型, items: [{code: gg-1, name: 攻关型成果}]}
"""


def test_a_vetoed_candidate_left_off_a_list_is_not_told_a_rank_below_lower_scores(tmp_path, home):
    """某市's 公示 told a vetoed enterprise "贵单位得分73.88、排名第6" beside the 4th and 5th at 69.03 and
    67.18: a veto places it last whatever its score, so its letter gives the score and the veto."""
    from qcycle.lifecycle.publicity import left_off

    text = AWARD.replace("      grades:\n        - {name: 区长质量奖,",
                         "      vetoes: [{code: accident, name: 年度内发生重大质量事故, grade: 未获奖}]\n"
                         "      grades:\n        - {name: 区长质量奖,", 1)
    assert text != AWARD
    r = Round(write(tmp_path, "veto.yaml", text))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1", "total": 90, "grade": "区长质量奖", "rank": 1},
            {"unit_code": "e2", "total": 69.03, "grade": "未获奖", "rank": 2},
            {"unit_code": "e3", "total": 73.88, "grade": "未获奖", "rank": 3, "veto": "accident"}])
        told = left_off(session, r.p, r.id, r.p.stage("notice"), ["e1"], None)
    assert told["e3"] == {"standing": "得分73.88", "remarks": "因年度内发生重大质量事故，实行一票否决，等次定为未获奖。"}
    assert told["e2"]["standing"] == "得分69.03、排名第2"


def test_one_left_off_a_list_is_not_told_a_decision_that_kept_it_in_the_round_as_why(tmp_path, home):
    """守合同重信用: a firm scored 24.87 under the 80 line read "未通过年度报告核查，未列入…名单" and "未列入的具体原因已另行告知"
    in its 公示 letter: the 核查 was of its 2023 listing (``eliminates: false``), no part of why the 2025 list left it off."""
    from qcycle.lifecycle.publicity import left_off

    text = AWARD.replace("    assessment:\n", (
        "      - {code: annual, name: 年度报告, kind: submission, submission: self_evaluation, owed_by: {units: [e2]},\n"
        "         opens: 2023-03-01, deadline: {date: 2023-03-31}}\n"
        "      - {code: annual_check, name: 年度报告核查, kind: decision, decides: annual, eliminates: false, on: 2023-04-10}\n"
        "    assessment:\n"), 1)
    r = Round(write(tmp_path, "kept.yaml", text))
    r.hand_in("self_evaluation", ["e2"], "2023-03-20")
    r.decide("annual_check", e2="rejected", note="年度报告所述情况与实际不符")
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1", "total": 90, "grade": "区长质量奖", "rank": 1},
            {"unit_code": "e2", "total": 60, "grade": "未获奖", "rank": 2}])
        told = left_off(session, r.p, r.id, r.p.stage("notice"), ["e1"], None)
    assert "年度报告" not in str(told["e2"]) and told["e2"].get("told") != "apart", told["e2"]
    assert told["e2"] == {"standing": "得分60.00、排名第2", "remarks": "得分未达到提名奖分数线（70分）。"}, told["e2"]


def test_a_notice_to_a_superior_names_its_units_on_the_list(tmp_path, home):
    """守合同重信用: 北岭's 公示 letter listed 6 firms and did not say two were its own recommendations; its 公布 letter
    did ("其中贵单位辖区内2个")."""
    text = REVIEWED + (
        "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-05-05}\n"
        "      - {code: notice, name: 拟列入名单公示, kind: notice, days: 7, on: 2023-05-10,\n"
        "         notify: {any_of: [{grades: [列入]}, {levels: [county]}]}}\n"
        ) + _eligible_scored("[{name: 列入, min_score: 80}, {name: 未列入}]")
    r = Round(write(tmp_path, "listed.yaml", text))
    _items_eligible(r, {"e1": 90, "e2": 85, "e3": 60}, applied=["e1", "e2", "e3"])
    r.until("2023-05-10")
    told = r.letters("notice")
    assert "1. 甲公司；\n2. 乙公司。\n其中贵单位辖区内2家：甲公司、乙公司。" in told["k1"], told["k1"]
    assert "其中贵单位" not in told["k2"] and "其中" not in told["e1"], (told["k2"], told["e1"])
    # A name with brackets of its own is matched whole (某（集团）有限公司 had gone uncounted).
    bracketed = Round(write(tmp_path, "bracketed.yaml", text.replace("name: 甲公司,", "name: 甲（集团）有限公司,", 1)
                            .replace("code: review-2023,", "code: review-2023b,", 1)))
    _items_eligible(bracketed, {"e1": 90, "e2": 85, "e3": 60}, applied=["e1", "e2", "e3"]).until("2023-05-10")
    assert "其中贵单位辖区内2家：甲（集团）有限公司、乙公司。" in bracketed.letters("notice")["k1"], bracketed.letters("notice")["k1"]
    # Nobody on the list: no 公示 at all (湖州's 拟命名名单 went out empty to every unit, and drew objections to nobody).
    objections = ("      - {code: objection, name: 公示异议, kind: submission, submission: objection,\n"
                  "         owed_by: {levels: [county, enterprise]}, voluntary: true, opens: 2023-05-10,\n"
                  "         deadline: {after: {stage: notice, event: closes, days: 0}, time: '17:30', roll: none}}\n")
    empty = Round(write(tmp_path, "empty.yaml", text.replace("code: review-2023,", "code: review-2023e,", 1).replace(
        "    assessment:\n", objections + "    assessment:\n", 1)))
    _items_eligible(empty, {"e1": 70, "e2": 65, "e3": 60}, applied=["e1", "e2", "e3"]).until("2023-05-10")
    assert empty.letters("notice") == {} and empty.letters("objection") == {}, (empty.letters("notice"),
                                                                                 empty.letters("objection"))


def test_a_list_of_letter_grades_names_the_higher_first_each_with_级(tmp_path, home):
    """A 信用等级 公示 read "拟获A" beside others' "拟获AAA级"; labelled, the list must still put AAA
    before AA (whatever the order of the units in the file)."""
    from qcycle.lifecycle.publicity import published_list

    text = AWARD.replace("区长质量奖", "AAA").replace("提名奖", "AA").replace(
        "notify: {approved_at: committee}}", "notify: {grades: [AAA, AA]}}", 1)
    assert "notify: {grades: [AAA, AA]}}" in text
    r = Round(write(tmp_path, "letters.yaml", text))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e2", "total": 90, "grade": "AAA", "rank": 1},
            {"unit_code": "e1", "total": 75, "grade": "AA", "rank": 2}])
        names, proposed, _ = published_list(session, r.p, r.id, r.p.stage("notice"), ["e1", "e2"])
    assert names == ["乙公司（拟获AAA级）", "甲公司（拟获AA级）"]
    assert proposed == {"e2": "AAA级", "e1": "AA级"}


def test_a_list_of_one_category_proposes_each_unit_the_grade_of_its_entry_there(tmp_path, home):
    """某市's QC contest published one list per category: a unit with entries in two categories was
    "拟获二等奖" on the 攻关型 list, where its entry was 三等奖 (its 二等奖 was 服务型), and a list of 11
    showed three 一等奖 against a cap of one."""
    from qcycle.lifecycle.publicity import published_list

    text = AWARD.replace("区长质量奖", "一等奖").replace("提名奖", "二等奖").replace(
        "notify: {approved_at: committee}}", "notify: {grades: [一等奖, 二等奖]}}", 1) + TWO_KINDS
    r = Round(write(tmp_path, "qc.yaml", text))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1:xc-1", "total": 80, "grade": "二等奖", "rank": 2},
            {"unit_code": "e2:xc-1", "total": 90, "grade": "一等奖", "rank": 1},
            {"unit_code": "e1:gg-1", "total": 95, "grade": "一等奖", "rank": 1},
            {"unit_code": "e2:gg-1", "total": 85, "grade": "二等奖", "rank": 2}])
        names, proposed, _ = published_list(session, r.p, r.id, r.p.stage("notice"), ["e1", "e2"], "xc")
        both, _, _ = published_list(session, r.p, r.id, r.p.stage("notice"), ["e1", "e2"])
    assert names == ["乙公司（拟获一等奖）", "甲公司（拟获二等奖）"] and proposed == {"e2": "一等奖", "e1": "二等奖"}
    # One list of both categories names each entry with its own grade (tiers first, then the file's items).
    assert both == ["乙公司（拟获一等奖）（现场型成果）", "甲公司（拟获一等奖）（攻关型成果）",
                    "甲公司（拟获二等奖）（现场型成果）", "乙公司（拟获二等奖）（攻关型成果）"], both


def _through_scoring(r: Round, totals: dict[str, float]) -> None:
    """AWARD's candidates: handed in, approved at both screening steps, scored, up to the committee's day."""
    r.hand_in("application", sorted(totals), "2023-03-20")
    r.decide("eligibility", **dict.fromkeys(totals, "approved"))
    r.decide("documents", **dict.fromkeys(totals, "approved"))
    r.scores(totals)
    r.until("2023-04-25")


def test_an_awards_validity_and_the_bar_count_from_the_year_it_was_graded(tmp_path, home):
    """某市's rating was given in July 2027 and told "有效期3年（2028年至2030年）": the round's years
    ran to 2028 for a 督办 in January. Validity, and a later round's bar, count from the year graded."""
    valid = AWARD.replace("years: [2023]", "years: [2023, 2024]").replace(
        "        - {name: 区长质量奖, min_score: 80, max_count: 1}\n",
        "        - {name: 区长质量奖, min_score: 80, max_count: 1, valid_years: 3}\n", 1)
    assert valid.count("valid_years") == 1 and "[2023, 2024]" in valid
    r = Round(write(tmp_path, "award-2023.yaml", valid))
    _through_scoring(r, {"e1": 90, "e2": 75})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-15")
    assert "有效期为3年（2023年至2025年）" in r.letters("award")["e1"], r.letters("award")["e1"]
    with db.session_scope() as session:  # the bar of a later round counts from the same year
        assert crud.earlier_awards(session=session, programme="示例区长质量奖", grades=["区长质量奖"],
                                   before_round="award-2026") == [("e1", 2023, "区长质量奖")]


def test_a_title_valid_from_its_naming_day_says_the_days(tmp_path, home):
    """诚信计量's and 标准化's titles, named in September and December, read "有效期为3年（2025年至2027年）": the
    certificate runs three years from the day it is named, and the firm had been told it ends nine months early."""
    valid = AWARD.replace(
        "        - {name: 区长质量奖, min_score: 80, max_count: 1}\n",
        "        - {name: 区长质量奖, min_score: 80, max_count: 1, valid_years: 3, valid_from: date}\n", 1)
    assert "valid_from: date" in valid
    r = Round(write(tmp_path, "award-2023.yaml", valid))
    _through_scoring(r, {"e1": 90, "e2": 75})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-15")
    day = r.t.by_name()["award:notify"].at.date()
    until = day.replace(year=day.year + 3) - dt.timedelta(days=1)
    said = f"有效期为3年（{day.year}年{day.month}月{day.day}日至{until.year}年{until.month}月{until.day}日）"
    assert said in r.letters("award")["e1"], r.letters("award")["e1"]
    with pytest.raises(ConfigError, match="valid_from: date 须与 valid_years"):
        write(tmp_path, "bad.yaml", AWARD.replace("{name: 区长质量奖, min_score: 80, max_count: 1}",
                                                  "{name: 区长质量奖, min_score: 80, max_count: 1, valid_from: date}", 1))


def test_decisions_chain_and_a_subject_rejected_anywhere_leaves_every_later_step(tmp_path, home):
    r = Round(write(tmp_path, "award.yaml", AWARD))
    r.hand_in("application", ["e1", "e2", "e3", "e4", "e5", "e6"], "2023-03-20")  # e7 never applies
    r.until("2023-04-04")
    assert r.pending("eligibility") == ["e1", "e2", "e3", "e4", "e5", "e6"]
    r.decide("eligibility", e1="approved", e2="approved", e3="approved", e4="approved", e5="approved",
             e6="rejected")
    r.until("2023-04-11")
    # Step k+1 decides only on what step k approved.
    assert r.subjects("documents") == ["e1", "e2", "e3", "e4", "e5"]
    r.decide("documents", e1="approved", e2="approved", e3="approved", e4="approved", e5="rejected")
    r.scores({"e1": 95, "e2": 90, "e3": 75, "e4": 72, "e5": 99, "e6": 99})
    r.until("2023-04-25")
    with db.session_scope() as session:
        results = {x.unit_code: x.grade for x in crud.list_results(session=session, round_id=r.id)}
    # Only those left by the documents step are scored; caps: 1 award, 2 nominations.
    assert results == {"e1": "区长质量奖", "e2": "提名奖", "e3": "提名奖", "e4": "未获奖"}
    # The committee decides only on the candidates graded for an award (among).
    assert r.subjects("committee") == ["e1", "e2", "e3"]
    r.decide("committee", e1="rejected", e2="approved", e3="approved")
    r.until("2023-05-31")
    # The committee rejected the only award winner: the award stays vacant (空缺), nobody is
    # promoted past the cap, and the rejected never appear in the notice or the award.
    award = r.letters("award")
    assert sorted(award) == ["e2", "e3"] and all("评选中荣获提名奖" in body for body in award.values())
    assert all(body.rstrip().splitlines()[-2] == "示例区人民政府" for body in award.values())  # signed by `sender`
    # e4, scored below both awards, and e1, refused by the committee after scoring, hear of the list while
    # they may object, each with its score, rank and why.
    assert sorted(r.letters("notice")) == ["e1", "e2", "e3", "e4"]
    assert "经评审，贵单位得分" in r.letters("notice")["e4"] and "，未列入拟授奖名单。" in r.letters("notice")["e4"]
    assert "，未列入拟授奖名单。" in r.letters("notice")["e1"] and "得分" in r.letters("notice")["e1"]
    assert "公示期7天" in r.letters("notice")["e2"] and "以书面形式" in r.letters("notice")["e2"]
    # The results letter says where each left the round, never a grade it lost afterwards.
    results = r.letters("results")
    assert sorted(results) == ["e1", "e2", "e3", "e4", "e5", "e6"]
    # Its score, not the grade it reached (湖州's unit taken off after scoring had read no score at all).
    assert "结果为：得分95.00，未通过评审委员会审议。" in results["e1"] and "区长质量奖（" not in results["e1"], results["e1"]
    assert "未通过资格审核" in results["e6"] and "【评审结果】" not in results["e6"]
    assert "评审结果已确定" in results["e4"] and "未获奖" in results["e4"]
    # A score that reached a better grade whose places were taken says why it got less; one that
    # did not reach it (e3: 75 below the award's 80) says nothing of it.
    assert ("说明：区长质量奖名额不超过1个，贵单位得分排名第2；名额内的候选在此后评审中未获通过的，名额空缺，"
            "不由后续名次递补。") in results["e2"]  # e1, the award's one candidate, left at the committee
    assert "说明：提名奖名额不超过2个，贵单位得分排名第4。" in results["e4"]
    assert "说明" not in results["e3"]
    # A voluntary window: nobody is overdue for not applying.
    assert not any(a.action in ("overdue", "escalation") for a in r.t.actions)
    assert "e7" not in {u for s in ("notice", "award") for u in r.letters(s)}
    with db.session_scope() as session:
        e7 = session.exec(select(OutboxMessage.action).where(OutboxMessage.round_id == r.id,
                                                              OutboxMessage.unit_code == "e7")).all()
    assert e7 and all(k.split(":")[1].partition("@")[0] in ("window_open", "reminder")
                      for a in e7 for k in a.split("+"))


def test_a_score_below_every_award_line_is_told_the_line_it_missed(tmp_path, home):
    """温州's 587.77 read "未获奖（得分587.77）" and nothing more, while the sixth-placed above the
    line was told the award's places were full: a unit below the line is now told the line."""
    r = Round(write(tmp_path, "award.yaml", AWARD))
    _through_scoring(r, {"e1": 95, "e2": 65, "e3": 72})
    r.decide("committee", e1="approved", e3="approved")
    r.until("2023-05-31")
    results = r.letters("results")
    assert "结果为：未获奖（得分65.00）。" in results["e2"]
    assert "说明：得分未达到提名奖分数线（70分）。" in results["e2"]
    assert "说明" not in results["e1"] and "分数线" not in results["e3"]  # 区长质量奖; 提名奖 (72, above 70)

@pytest.mark.parametrize("tell", [True, False])
def test_a_rejections_note_reaches_the_unit_only_where_the_stage_says_so(tmp_path, home, tell):
    text = AWARD.replace("kind: decision, decides: application, on: 2023-04-04}",
                         f"kind: decision, decides: application, on: 2023-04-04, tell_reason: {str(tell).lower()}}}")
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    r.hand_in("application", ["e1", "e6"], "2023-03-20")
    r.until("2023-04-04")
    r.decide("eligibility", note="营业执照已过期", e6="rejected")
    r.decide("eligibility", e1="approved")
    r.decide("documents", e1="approved")  # and scored: the results wait for the assessment
    r.scores({"e1": 60})
    r.until("2023-05-31")
    said = r.letters("results")["e6"]
    assert ("未通过资格审核（营业执照已过期）" in said) is tell and "未通过资格审核" in said
    assert "营业执照已过期" not in r.letters("results").get("e1", "")


def test_tell_reason_is_refused_outside_a_decision_stage(tmp_path):
    text = AWARD.replace("voluntary: true", "voluntary: true\n        tell_reason: true")
    with pytest.raises(ConfigError, match="tell_reason、reviewed_by、on_rejection、on_approval、eliminates、rejects_missing 只用于 decision 阶段"):
        write(tmp_path, "award.yaml", text)


def test_the_assessment_waits_for_the_decision_it_reads(tmp_path, home):
    r = Round(write(tmp_path, "award.yaml", AWARD))
    scoring = r.t.by_name()["scoring:assess"]
    assert [name_of(k) for k in scoring.needs] == ["documents:decision_due", "eligibility:decision_due"]
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="approved")
    r.until("2023-04-20")  # documents still undecided: no scoring yet, no crash
    assert "scoring:assess" not in r.ran and "documents:decision_due" not in r.ran
    r.decide("documents", e1="approved", e2="approved")
    r.scores({"e1": 85, "e2": 60})
    r.until("2023-04-20")  # the same moment again: the decision is complete, scoring goes now
    assert {"documents:decision_due", "scoring:assess"} <= r.ran


def test_a_notice_of_working_days_ends_on_the_calendar_and_says_so(tmp_path, home):
    """某市's "公示5个工作日" could only be written as calendar days (the letters read "公示期8天"): a
    公示 of 3 working days from Thursday 2023-05-04 ends on Saturday 05-06, a 调休 working day."""
    text = AWARD.replace("kind: notice, days: 7, on: 2023-05-04,", "kind: notice, workdays: 3, on: 2023-05-04,", 1)
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    close = r.t.by_name()["notice:notice_close"]
    assert close.at.date() == dt.date(2023, 5, 6)
    assert r.t.by_name()["notice:notice_open"].title == "拟授奖名单公示开始（3个工作日，可提出异议）"
    _through_scoring(r, {"e1": 95, "e2": 75})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-04")
    notice = r.letters("notice")["e1"]
    assert "自2023年5月4日起对该名单进行公示，公示期3个工作日，至2023年5月6日止" in notice, notice
    with pytest.raises(ConfigError, match="公示阶段须给出 days（公示天数）或 workdays（公示的工作日数）之一"):
        write(tmp_path, "both.yaml", text.replace("workdays: 3,", "workdays: 3, days: 7,", 1))
    with pytest.raises(ConfigError, match="workdays 只用于公示（notice）阶段"):
        write(tmp_path, "event.yaml", text.replace("kind: assessment, on: 2023-04-18}",
                                                   "kind: assessment, on: 2023-04-18, workdays: 2}", 1))


def test_a_notice_released_late_by_its_committee_keeps_the_period_objections_are_judged_by(tmp_path, home):
    """The committee decides after the 公示's day (05-04): the next moment (05-15) sends it, dated
    then, with the timetable's period (what objections are judged by), not one starting 05-15."""
    r = Round(write(tmp_path, "award.yaml", AWARD))
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="approved")
    r.decide("documents", e1="approved", e2="approved")
    r.scores({"e1": 95, "e2": 75})
    r.until("2023-05-10")
    assert "notice:notice_open" not in r.ran
    r.decide("committee", e1="approved", e2="approved")
    moment.run_due(r.p, r.id, r.t, at(dt.date(2023, 5, 15), dt.time(9, 5)), template_dir=r.loaded.template_dir,
                   actor="test")  # the next run after the decision (the 09:05 safety net)
    notice = r.letters("notice")["e1"]
    assert "自2023年5月4日起对该名单进行公示，公示期7天，至2023年5月10日止" in notice, notice
    assert notice.rstrip().endswith("2023年5月15日")
    with db.session_scope() as session:  # ops are told, in the run's record
        note = session.exec(select(ActionRun.note).where(ActionRun.round_id == r.id,
                                                         ActionRun.action == "notice_open")).one()
    assert "晚于日程（2023-05-04），公示期仍至 2023-05-10，如需顺延请用 qcycle amend 修改周期" in note, note


ASSESSMENT = """\
    version: 2
    round:
      code: county-2015
      name: 2015年度县级质量工作考核
      programme: 县级质量工作考核
      issuer: city
      years: [2016]
      period: {start: 2015-01-01, end: 2015-12-31}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: city, name: 示例市质量强市工作领导小组办公室, level: city, channels: [sink]}
      - {code: c1, name: 一县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c2, name: 二县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c3, name: 三县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c4, name: 四县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}
    reminder_policies:
      std: {before_workdays: [3], escalate_after_workdays: 2, escalate_to: city}
    stages:
      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}
      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}
      - code: report
        name: 书面整改报告
        kind: followup
        submission: rectification_report
        owed_by: {rank: {bottom: 3}}
        opens_after: {stage: results, event: on, days: 0}
        deadline: {after: {stage: results, event: on, months: 1}}
        reminders: std
      - {code: report_review, name: 整改情况审核, kind: decision, decides: report, after: {stage: report, event: deadline, workdays: 3}}
      - {code: summons, name: 约谈整改不到位的县, kind: notification, template: summons, after: {stage: report_review, event: on, workdays: 2},
         notify: {any_of: [{rejected_at: report_review}, {missing_at: report}]}}
    assessment:
      subjects: {levels: [county]}
      components: [{code: all, name: 综合评分, weight: 1}]
      grades: [{name: 合格, min_score: 60}, {name: 不合格}]
"""


def _scored(tmp_path: Path, text: str, until: str) -> Round:
    """An ASSESSMENT-like round with c1…c5 scored 95, 80, 62, 55 and 40, played to the end of ``until``."""
    r = Round(write(tmp_path, "county.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until(until)
    return r


# ASSESSMENT with the city's government, a unit outside the round that results may be reported to.
WITH_GOV = ASSESSMENT.replace(
    "    units:\n", "    units:\n      - {code: gov, name: 示例市人民政府, level: government, channels: [sink]}\n", 1)


def test_pass_fail_bottom_three_report_a_month_after_results_and_only_the_rejected_are_summoned(tmp_path, home):
    r = Round(write(tmp_path, "county.yaml", ASSESSMENT))
    keys = r.t.by_name()
    # One month after the results (2016-03-31 → 04-30, a Saturday, rolled forward to 05-03
    # past the 劳动节 break), worded as 顺延.
    deadline = keys["report:deadline"]
    assert deadline.at.date() == dt.date(2016, 5, 3) and "遇休息日顺延" in deadline.title
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-04-05")
    with db.session_scope() as session:
        grades = {x.unit_code: x.grade for x in crud.list_results(session=session, round_id=r.id)}
    assert grades == {"c1": "合格", "c2": "合格", "c3": "合格", "c4": "不合格", "c5": "不合格"}
    # The last three places owe the report, whatever their grade; the letter says why.
    letters = r.letters("report")
    assert sorted(letters) == ["c3", "c4", "c5"]
    assert "中排名后3名" in letters["c3"] and "考核中考核" not in letters["c3"] and "D级" not in letters["c3"]
    r.hand_in("rectification_report", ["c4", "c5"], "2016-04-20")  # c3 never reports
    r.until("2016-05-06")
    assert r.pending("report_review") == ["c4", "c5"]
    r.decide("report_review", c4="approved", c5="rejected")
    r.until("2016-05-31")
    with db.session_scope() as session:  # the review's own record once everything is decided
        note = session.exec(select(ActionRun.note).where(ActionRun.round_id == r.id,
                                                         ActionRun.action == "decision_due")).one()
    assert note == "整改情况审核：已全部决定", note
    with db.session_scope() as session:  # the sheet says where each stands after the review its place owed
        sheet = {row["单位代码"]: row for row in next(iter(ops.result_rows(session, r.p, r.id).values()))}
    assert [(sheet[u]["整改情况审核"], sheet[u]["最终结果"]) for u in ("c2", "c4", "c5")] == [
        ("", "合格"), ("通过", "不合格"), ("未通过", "不合格，整改情况审核未通过")], sheet
    with db.session_scope() as session:  # c3 never reported: its deadline as due, rolled past 劳动节
        st = round_status(session, r.p, r.id, r.t, at(dt.date(2016, 5, 31), dt.time(10)))
    assert st.overdue == {"书面整改报告（2016-05-03 17:30 截止）": ["三县人民政府"]}, st.overdue
    # Summoned: the rejected response and the report never handed in; not the approved one.
    assert sorted(r.letters("summons")) == ["c3", "c5"]
    assert "约谈" in r.letters("summons")["c5"] and "中未通过整改情况审核。" in r.letters("summons")["c5"]
    assert "中未按期报送“书面整改报告”。" in r.letters("summons")["c3"]
    # When and where is told later: "定于（今天）起约谈" gave no notice at all (a reader's finding).
    assert all("定于" not in body and "另行通知" in body for body in r.letters("summons").values())


def test_a_result_letter_gives_the_place_where_the_programme_tells_it(tmp_path, home):
    """特种设备's counties and 领跑者's enterprises are told their rank in their own letters; only the 通报 had it. With
    ``tells_rank`` a unit's letter gives its place among those ranked with it; by default, grade and score alone."""
    told = _scored(tmp_path, ASSESSMENT.replace("      grades: [{name: 合格", "      tells_rank: true\n      grades: [{name: 合格", 1),
                   "2016-03-31").letters("results")
    assert "贵单位结果为：合格（得分80.00，在5个参评单位中排名第2）。" in told["c2"], told["c2"]
    by_level = _scored(tmp_path, ASSESSMENT.replace("      grades: [{name: 合格", "      tells_rank: true\n      rank_within: level\n"
                                                     "      grades: [{name: 合格", 1).replace("code: county-2015", "code: county-2015r", 1),
                       "2016-03-31").letters("results")
    assert "（得分40.00，在县（市、区）5个参评单位中排名第5）" in by_level["c5"], by_level["c5"]
    plain = _scored(tmp_path, ASSESSMENT.replace("code: county-2015", "code: county-2015p", 1), "2016-03-31").letters("results")
    assert "贵单位结果为：合格（得分80.00）。" in plain["c2"], plain["c2"]


def test_a_summons_does_not_say_the_summons_its_step_brings_twice(tmp_path, home):
    """江州: a 复查 whose rejection brings a 约谈 (on_rejection) had its summons read "未通过复查（…），将由市市场
    监督管理局约谈企业主要负责人。根据有关规定，将对贵单位主要负责同志进行约谈". Its result letter says it."""
    text = ASSESSMENT.replace(
        "kind: decision, decides: report,", "kind: decision, decides: report, tell_reason: true, "
        "on_rejection: 将由市政府约谈县政府主要负责同志,", 1)
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c4", "c5"], "2016-04-20")
    r.until("2016-05-06")
    r.decide("report_review", c4="approved")
    r.decide("report_review", note="整改措施未落实", c5="rejected")
    r.until("2016-05-31")
    body = r.letters("summons")["c5"]
    assert "中未通过整改情况审核（整改措施未落实）。根据有关规定，将对贵单位主要负责同志进行约谈" in body, body
    assert body.count("约谈") == 1 + body.count("【约谈通知】"), body


MIDTERM = """\
    version: 2
    round:
      code: demo-2025
      name: 2024—2026年示范县创建
      programme: 示范县创建
      issuer: prov
      years: [2025]
    channels: [{name: sink, kind: sink}]
    units:
      - {code: prov, name: 示例省食品安全委员会办公室, level: province, channels: [sink]}
      - {code: c1, name: 一县食安办, level: county, parent: prov, channels: [sink]}
      - {code: c2, name: 二县食安办, level: county, parent: prov, channels: [sink]}
      - {code: c3, name: 三县食安办, level: county, parent: prov, channels: [sink]}
    submission_kinds:
      midterm_report: {title: 中期评估自评报告}
    stages:
      - {code: midterm, name: 中期评估自评报告, kind: submission, submission: midterm_report, owed_by: {levels: [county]},
         opens: 2025-06-02, deadline: {date: 2025-06-30}}
      - {code: review, name: 中期评估, kind: decision, decides: midterm, tell_reason: true, on: 2025-07-15}
      - code: fix
        name: 整改报告
        kind: followup
        submission: rectification_report
        owed_by: {any_of: [{rejected_at: review}, {missing_at: midterm}]}
        opens_after: {stage: review, event: on, days: 0}
        deadline: {after: {stage: review, event: on, months: 2}}
"""


@pytest.mark.parametrize(("name", "handed_in"), [
    ("申请材料", "申请材料"), ("申请书", "申请书"), ("申请评价确认", "评价确认申请"), ("提出验收申请", "验收申请"),
    ("报送创建方案", "创建方案"),
    # Read before a closing note: "材料（申请书、自我声明、计量器具台账）申请" had been printed in 98 letters.
    ("申请材料（申请书、自我声明、计量器具台账）", "申请材料（申请书、自我声明、计量器具台账）"),
    ("申请评价确认（第一批）", "评价确认申请（第一批）"),
    # The verb after the thing: "能力验证结果上报" had been asked for as "提交能力验证结果上报" in 31 letters.
    ("能力验证结果上报", "能力验证结果"), ("年度报告报送（上一年度）", "年度报告（上一年度）"), ("整改情况提交", "整改情况"),
    ("报送", "报送"), ("申报", "申报"), ("质量奖申报", "质量奖申报"),
])
def test_a_stage_is_handed_in_as_the_thing_its_name_says(tmp_path, name, handed_in):
    """江西's "申请材料" was printed "材料申请" in 25 enterprises' subject lines; "提出验收申请" as
    "提交提出验收申请"."""
    text = MIDTERM.replace("name: 中期评估自评报告, kind: submission", f"name: {name}, kind: submission", 1)
    assert write(tmp_path, "m.yaml", text).programme.stage("midterm").handed_in == handed_in


ANNUAL_REPORTS = textwrap.dedent("""\
        version: 2
        round: {code: nr-2026, name: 2026年度检验检测机构年度报告报送, programme: 年度报告, issuer: city, years: [2026]}
        submission_kinds: {annual_report: {title: 年度报告}, pt_result: {title: 能力验证检测结果}}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: city, name: 某市市场监督管理局, level: city, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: city, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: city, channels: [sink]}
        reminder_policies:
          std: {before_workdays: [3]}
        stages:
          - {code: results, name: 能力验证结果上报, kind: submission, submission: pt_result,
             owed_by: {levels: [enterprise]}, opens: 2026-03-02, deadline: {date: 2026-03-31}, reminders: std}
          - {code: annual, name: 报送年度报告, kind: submission, submission: annual_report,
             owed_by: {levels: [enterprise]}, opens: 2026-03-02, deadline: {date: 2026-03-31}}
          - {code: order, name: 责令限期改正（补报年度报告）, kind: followup, submission: annual_report,
             owed_by: {missing_at: annual}, opens_after: {stage: annual, event: deadline, workdays: 5},
             deadline: {after: {stage: annual, event: deadline, workdays: 20}}}
        """)


def test_letters_call_a_material_by_the_title_its_kind_declares(tmp_path, home):
    """能力验证: a window named "能力验证结果上报" of a kind titled 能力验证检测结果 was asked for as
    "提交能力验证结果上报"; 年度报告's order "责令限期改正（补报年度报告）" asked for the order itself
    ("请于…前将责令限期改正（补报年度报告）报送"). ``title`` is what letters call a declared kind."""
    text = ANNUAL_REPORTS
    r = Round(write(tmp_path, "nr.yaml", text))
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.until("2026-05-29")
    reminded, ordered = r.letters("results"), r.letters("order")
    assert "能力验证检测结果" in reminded["e1"] and "结果上报" not in reminded["e1"], reminded["e1"]
    assert set(ordered) == {"e2"}
    assert "前将年度报告报送某市市场监督管理局" in ordered["e2"], ordered["e2"]
    assert "将责令限期改正" not in ordered["e2"], ordered["e2"]


def test_a_hand_in_goes_to_the_window_its_unit_owes_of_two_taking_its_kind(tmp_path, home):
    """团体标准培优: city societies applied through their city, provincial ones directly, at two windows of the
    application open together; a city's was filed under the provincial window, skipped its city's recommendation
    and won. Of several windows taking a kind, a hand-in goes to one its unit may owe."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: tb-2026, name: 2026年团体标准培优计划, programme: 团体标准培优, issuer: prov, years: [2026]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: prov, name: 某省市场监督管理局, level: province, channels: [sink]}
          - {code: c1, name: 甲市市场监督管理局, level: city, parent: prov, channels: [sink]}
          - {code: s1, name: 甲市建筑业协会, level: enterprise, parent: c1, channels: [sink]}
          - {code: g1, name: 某省质量管理协会, level: enterprise, parent: prov, channels: [sink]}
        stages:
          - {code: city_apply, name: 申报（设区市推荐）, kind: submission, submission: application, voluntary: true,
             owed_by: {units: [s1]}, opens: 2026-03-02, deadline: {date: 2026-04-15}}
          - {code: prov_apply, name: 申报（省级社会团体）, kind: submission, submission: application, voluntary: true,
             owed_by: {units: [g1]}, opens: 2026-03-02, deadline: {date: 2026-04-15}}
        """)
    r = Round(write(tmp_path, "tb.yaml", text))
    r.hand_in("application", ["s1", "g1"], "2026-04-01")
    with db.session_scope() as session:
        rows = session.exec(select(Submission).where(Submission.round_id == r.id)).all()
        assert sorted((s.unit_code, s.stage) for s in rows) == [("g1", "prov_apply"), ("s1", "city_apply")]


def test_a_unit_the_office_reviews_itself_is_told_of_no_review_by_a_parent(tmp_path, home):
    """团体标准培优: a provincial society, under the province that runs the round, read "所提交的申报书须经某省市场监督管理局
    推荐"; it applies directly. And a review step its name does not say (强检's "现场核查结论") read "须经“现场核查结论”"."""
    def opened(name: str, code: str) -> dict[str, str]:
        text = textwrap.dedent(f"""\
            version: 2
            round: {{code: {code}, name: 2026年团体标准培优计划, programme: 团体标准培优, issuer: prov, years: [2026]}}
            channels: [{{name: sink, kind: sink}}]
            units:
              - {{code: prov, name: 某省市场监督管理局, level: province, channels: [sink]}}
              - {{code: c1, name: 甲市市场监督管理局, level: city, parent: prov, channels: [sink]}}
              - {{code: s1, name: 甲市建筑业协会, level: enterprise, parent: c1, channels: [sink]}}
              - {{code: g1, name: 某省质量管理协会, level: enterprise, parent: prov, channels: [sink]}}
            stages:
              - {{code: apply, name: 申报, kind: submission, submission: application, voluntary: true,
                 owed_by: {{levels: [enterprise]}}, opens: 2026-03-02, deadline: {{date: 2026-04-15}}}}
              - {{code: review, name: {name}, kind: decision, decides: apply, reviewed_by: parent, on: 2026-04-30}}
            """)
        r = Round(write(tmp_path, f"{code}.yaml", text))
        r.until("2026-03-02")
        return r.letters("apply")
    told = opened("设区市推荐", "tb-a")
    assert "须经甲市市场监督管理局推荐" in told["s1"], told["s1"]
    assert "须经" not in told["g1"], told["g1"]
    assert "须经甲市市场监督管理局审核" in opened("现场核查结论", "tb-b")["s1"]


def test_validate_says_a_late_hand_in_taken_after_the_rule_decided_changes_nothing(tmp_path, home):
    """示范县复核: with late reports taken, a county that reported the day after the rule deemed it to have given up was
    accepted and still read "未提交…，视为自动放弃"; nothing had said the two settings meet so."""
    from qcycle.timetable.checks import check_dates

    text = ANNUAL_REPORTS.replace("deadline: {date: 2026-03-31}}\n  - {code: order",  # as by default
                                  "deadline: {date: 2026-03-31}, lateness: accept_flag}\n  - {code: order", 1) + (
        "  - {code: check, name: 年度报告核对, kind: decision, decides: annual, on: 2026-04-15, rejects_missing: true}\n")
    assert "lateness: accept_flag" in text
    _, warnings = check_dates(write(tmp_path, "nr.yaml", text).programme)
    said = dict(warnings).get("stages[3].rejects_missing", "")
    assert "“报送年度报告”逾期提交的仍受理" in said and "不改变该决定" in said, warnings
    _, none = check_dates(write(tmp_path, "nr2.yaml", text.replace("lateness: accept_flag}", "lateness: reject}", 1)).programme)
    assert "stages[3].rejects_missing" not in dict(none), none


def test_a_decision_that_only_asks_whether_it_came_is_made_by_the_rule_both_ways(tmp_path, home):
    """团体标准培优: "未按期报送年度报告的，取消培优资格" could only be a decision the office made on every report; two
    societies that reported on time were refused. ``approves_handed_in``: those who handed it in pass by the rule."""
    keep = ("  - {code: keep, name: 培优资格确认, kind: decision, decides: annual, on: 2026-05-15, rejects_missing: true,\n"
            "     approves_handed_in: true, on_rejection: 取消培优资格}\n")
    r = Round(write(tmp_path, "tb.yaml", ANNUAL_REPORTS + keep))
    assert not [a for a in r.t.actions if a.stage == "keep" and a.action == "decision_request"]
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.until("2026-05-15")
    with db.session_scope() as session:
        made = {(d.subject, d.outcome, d.decided_by) for d in session.exec(select(Decision).where(Decision.round_id == r.id))}
    assert made == {("e1", "approved", "rule:handed_in"), ("e2", "rejected", "rule:missing")}, made
    assert r.pending("keep") == []
    with pytest.raises(ConfigError, match="approves_handed_in"):
        write(tmp_path, "bad.yaml", ANNUAL_REPORTS + keep.replace("rejects_missing: true,", ""))


def test_a_rejection_that_leaves_the_subject_to_a_later_decision_stands_beside_it(tmp_path, home):
    """鄞州's 年终通报: a plant the rule found 未按要求开展自查 (still missing at the 督办) handed in later and was checked
    符合; the 通报 read "“自查报告审查”结论为符合" alone. A rejection at a step that eliminates nobody stands beside a later
    decision on the same window."""
    text = ANNUAL_REPORTS.split("  - {code: order,")[0] + (
        "  - {code: status, name: 自查开展情况认定, kind: decision, decides: annual, on: 2026-04-08, eliminates: false,\n"
        "     rejects_missing: true, approves_handed_in: true, verdicts: {approved: 已开展自查, rejected: 未按要求开展自查}}\n"
        "  - {code: check, name: 自查报告审查, kind: decision, decides: annual, on: 2026-05-15, eliminates: false,\n"
        "     verdicts: {approved: 符合, rejected: 不符合}}\n"
        "  - {code: circular, name: 通报自查情况, kind: notification, template: circular, on: 2026-05-20,\n"
        "     notify: {levels: [enterprise]}}\n")
    r = Round(write(tmp_path, "zc.yaml", text))
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.until("2026-04-09")
    r.hand_in("annual_report", ["e2"], "2026-04-10")  # after the rule found it 未按要求开展自查
    r.until("2026-05-14")
    r.decide("check", e1="approved", e2="approved")
    r.until("2026-05-20")
    told = r.letters("circular")["e1"]
    line = next(x for x in told.splitlines() if "乙公司" in x)
    assert "未按要求开展自查" in line and "符合" in line, told
    assert line.index("未按要求开展自查") < line.index("符合"), line
    # Handed in after the rule: the miss as of the rule's day, beside the late hand-in (not "未提交" and "逾期报送" alike).
    assert "截至2026年4月8日未提交年度报告" in line and "年度报告逾期报送" in line, line
    assert "未按要求开展自查" not in next(x for x in told.splitlines() if "甲公司" in x), told
    assert "现将2026年度检验检测机构年度报告报送自查情况通报如下" in told, told  # 通报自查情况 circulates 情况, not 审核结果


def test_a_letter_on_or_after_the_day_a_rule_decides_a_miss_says_it_as_done(tmp_path, home):
    """鄞州's 督办 of 2月7日 read "按规定，2025年2月7日前仍未提交的，认定为未按要求开展自查" of a finding the rule had made that
    morning. A letter of the rule's day or later says it as done; one before, as to come."""
    text = ANNUAL_REPORTS.split("  - {code: order,")[0].replace(
        "std: {before_workdays: [3]}", "std: {before_workdays: [3], escalate_after_workdays: 5}").replace(
        "deadline: {date: 2026-03-31}}\n", "deadline: {date: 2026-03-31}, reminders: std}\n") + (
        "  - {code: status, name: 自查开展情况认定, kind: decision, decides: annual, after: {stage: annual, event: deadline,\n"
        "     workdays: 5}, rejects_missing: true, approves_handed_in: true, on_rejection: 认定为未按要求开展自查}\n")
    r = Round(write(tmp_path, "zc.yaml", text))
    urged = next(a for a in r.t.actions if a.stage == "annual" and a.action == "escalation")
    ruled = next(a for a in r.t.actions if a.stage == "status")
    assert urged.at.date() == ruled.at.date(), (urged, ruled)
    day = f"{ruled.at.year}年{ruled.at.month}月{ruled.at.day}日"
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.until(ruled.at.date().isoformat())
    with db.session_scope() as session:
        sent = session.exec(select(OutboxMessage.subject, OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "e2")).all()
    overdue = next(b for _, b in sent if "已逾期1个工作日" in b)  # merged with the other window's
    assert f"按规定，{day}前仍未提交的，认定为未按要求开展自查。" in overdue, overdue
    urging = next(b for x, b in sent if "督办" in x and "年度报告逾期未交" in x)
    assert f"按规定，截至{day}仍未提交的，已认定为未按要求开展自查。" in urging, urging
    # A verdict in the step's own words is said as done after its name (not "已“年度报告评定”为不合格").
    from qcycle.lifecycle.costs import missing_rule

    worded = write(tmp_path, "worded.yaml", text.replace("on_rejection: 认定为未按要求开展自查}",
                                                         "verdicts: {approved: 合格, rejected: 不合格}}")).programme
    assert missing_rule(worded, "annual", ruled.at.date()) == f"按规定，截至{day}仍未提交的，“自查开展情况认定”已为不合格。", (
        missing_rule(worded, "annual", ruled.at.date()))


def test_a_window_closed_to_late_hand_ins_whose_miss_the_rule_decided_is_not_urged(tmp_path, home):
    """湖州's 认证证书 window refused late hand-ins and its rule cancelled the 帮扶资格 the next morning: the 逾期提醒 of that
    same minute promised a 督办 that never came, and the plan listed it. Ruled by the overdue day: no overdue notice and no
    督办; ruled between them: the notice, without the promise."""
    text = ANNUAL_REPORTS.split("  - {code: order,")[0].replace(
        "std: {before_workdays: [3]}", "std: {before_workdays: [3], escalate_after_workdays: 3}").replace(
        "deadline: {date: 2026-03-31}}\n", "deadline: {date: 2026-03-31}, lateness: reject, reminders: std}\n") + (
        "  - {code: keep, name: 帮扶资格确认, kind: decision, decides: annual, after: {stage: annual, event: deadline,\n"
        "     workdays: 1}, rejects_missing: true, approves_handed_in: true, on_rejection: 取消帮扶资格}\n")
    r = Round(write(tmp_path, "ruled.yaml", text))
    assert not [a for a in r.t.actions if a.stage == "annual" and a.action in ("overdue", "escalation")], r.t.actions
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.until("2026-04-10")
    with db.session_scope() as session:
        subjects = session.exec(select(OutboxMessage.subject).where(OutboxMessage.round_id == r.id,
                                                                    OutboxMessage.unit_code == "e2")).all()
    assert not any(("逾期提醒" in x or "督办" in x) and "：年度报告" in x for x in subjects), subjects
    assert any("督办" in x and "能力验证" in x for x in subjects), subjects  # the other window, no rule: urged as before
    later = write(tmp_path, "later.yaml", text.replace("workdays: 1}, rejects_missing", "workdays: 2}, rejects_missing")
                  .replace("code: nr-2026,", "code: nr-2026b,", 1))
    kinds = [a.action for a in Round(later).t.actions if a.stage == "annual"]
    assert "overdue" in kinds and "escalation" not in kinds, kinds


def test_a_call_opening_a_window_says_what_the_rule_makes_of_a_miss(tmp_path, home):
    """鄞州's 1月6日 通知 opened the 自查报告 and never said "…前仍未提交的，认定为未按要求开展自查"; those who handed in
    before the first reminder never read the rule."""
    text = ANNUAL_REPORTS.split("  - {code: order,")[0].replace(
        "  - {code: results,", "  - {code: call, name: 印发年度报告工作通知, kind: publication, on: 2026-03-02,\n"
        "     notify: {levels: [enterprise]}}\n  - {code: results,", 1) + (
        "  - {code: status, name: 年度报告核对, kind: decision, decides: annual, on: 2026-04-15, rejects_missing: true,\n"
        "     approves_handed_in: true, on_rejection: 列入经营异常名录}\n")
    r = Round(write(tmp_path, "call.yaml", text))
    r.until("2026-03-02")
    told = r.letters("call")["e1"]
    assert "年度报告自2026年3月2日起开始受理" in told and "按规定，2026年4月15日前仍未提交的，列入经营异常名录。" in told, told


def test_a_visit_is_decided_on_each_unit_it_visits_and_its_conclusion_owes_a_rectification(tmp_path, home):
    """服务站's 年中检查 (合格/限期整改, then a 整改报告 by 7月31日), 抽查's 检验结论: nothing is handed in, so nothing could
    be decided; a conclusion told only in December's result, and nobody owed the 整改报告. A decision on an event decides
    each unit it is for."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: fw-2026, name: 2026年质量服务站星级评价, programme: 服务站星级评价, issuer: bur, years: [2026]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: bur, name: 某区市场监督管理局, level: county, channels: [sink]}
          - {code: so, name: 东街道办事处, level: town, parent: bur, channels: [sink]}
          - {code: s1, name: 东街道质量服务站, level: office, parent: so, channels: [sink]}
          - {code: s2, name: 西街道质量服务站, level: office, parent: so, channels: [sink]}
        stages:
          - {code: visit, name: 年中检查, kind: event, on: 2026-06-15, days: 16,
             notify: {any_of: [{levels: [office]}, {superiors_of: {levels: [office]}}]}}
          - {code: verdict, name: 年中检查结论, kind: decision, decides: visit, on: 2026-06-30, eliminates: false,
             verdicts: {approved: 合格, rejected: 限期整改}}
          - {code: told, name: 告知年中检查结论, kind: notification, template: step_result, on: 2026-07-01,
             notify: {rejected_at: verdict}}
          - {code: fix, name: 整改报告, kind: followup, submission: rectification_report, owed_by: {rejected_at: verdict},
             opens_after: {stage: verdict, event: on, workdays: 1}, deadline: {date: 2026-07-31}}
        """)
    r = Round(write(tmp_path, "fw.yaml", text))
    r.until("2026-06-29")
    assert r.pending("verdict") == ["s1", "s2"]  # not the 街道办 told of its stations' visit
    r.decide("verdict", s1="approved", s2="rejected")
    r.until("2026-07-01")
    assert sorted(r.letters("fix")) == ["s2"] and "“年中检查结论”为限期整改" in r.letters("fix")["s2"], r.letters("fix")
    # An order to rectify is what the 整改通知 is: said, not dropped as a consequence (鄞州's read no 责令改正).
    ordered = Round(write(tmp_path, "ordered.yaml", text.replace("verdicts: {approved: 合格, rejected: 限期整改}}",
                                                                 "verdicts: {approved: 合格, rejected: 不合格}, on_rejection: 责令改正}")
                          .replace("code: fw-2026,", "code: fw-2026o,", 1)))
    ordered.until("2026-06-29")
    ordered.decide("verdict", s1="approved", s2="rejected")
    ordered.until("2026-07-01")
    assert "“年中检查结论”为不合格，责令改正。" in ordered.letters("fix")["s2"], ordered.letters("fix")
    assert sorted(r.letters("told")) == ["s2"], r.letters("told")
    with pytest.raises(ConfigError, match="没有 notify（参加单位）"):
        write(tmp_path, "bad.yaml", text.replace(
            " days: 16,\n     notify: {any_of: [{levels: [office]}, {superiors_of: {levels: [office]}}]}}", " days: 16}"))


def test_a_miss_decided_by_rule_is_said_in_the_decisions_own_words(tmp_path, home):
    """强检计量器具: "截至2027年8月31日仍未提交的，视为未通过“现场核查结论”" went out 61 times where the step's outcomes
    were 合格/不合格."""
    text = ANNUAL_REPORTS + (
        "  - {code: check, name: 现场核查结论, kind: decision, decides: annual, on: 2026-05-15, rejects_missing: true,\n"
        "     verdicts: {approved: 合格, rejected: 不合格}}\n")
    p = write(tmp_path, "nr.yaml", text).programme
    assert missing_rule(p, "annual") == "按规定，2026年5月15日前仍未提交的，“现场核查结论”为不合格。"
    # And the order to rectify says the 不合格, not only the miss that brought it.
    r = Round(write(tmp_path, "nr2.yaml", text + (
        "  - {code: fix, name: 整改报告, kind: followup, submission: rectification_report, owed_by: {rejected_at: check},\n"
        "     opens_after: {stage: check, event: on, days: 1}, deadline: {after: {stage: check, event: on, days: 30}}}\n")))
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.until("2026-05-14")
    r.decide("check", e1="approved")
    r.until("2026-05-20")
    told = r.letters("fix")
    assert sorted(told) == ["e2"] and "中未提交年度报告，“现场核查结论”为不合格。请认真查找原因" in told["e2"], told


def test_a_hand_in_before_the_order_for_missing_it_opens_is_the_missed_one_late(tmp_path, home):
    """临江's 统计数据表 handed in on 4月6日, three days after its deadline and a day before the 责令限期改正 for missing it
    opened, was filed under the order as the nearer window (and set aside there): its unit was then ordered to hand in
    what it had. What comes before such an order is the missed window's, late."""
    r = Round(write(tmp_path, "nr.yaml", ANNUAL_REPORTS))
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.hand_in("annual_report", ["e2"], "2026-04-06")  # deadline 3月31日; the order opens 5 working days after it
    with db.session_scope() as session:
        rows = session.exec(select(Submission).where(Submission.round_id == r.id)).all()
        assert sorted((s.unit_code, s.stage, s.late) for s in rows) == [("e1", "annual", False), ("e2", "annual", True)]
    r.until("2026-05-29")
    assert r.letters("order") == {}


def test_a_circular_without_scores_tells_late_from_on_time_and_a_hand_in_when_ordered_as_late(tmp_path, home):
    """临江's 年度报告报送情况通报 (按时报送、逾期报送、未报送) could not tell late from on time, and read "未提交年度报告"
    of eleven institutions that had handed it in under the 责令限期改正."""
    text = ANNUAL_REPORTS.replace(
        "  - {code: e2, name: 乙公司, level: enterprise, parent: city, channels: [sink]}\n",
        "  - {code: e2, name: 乙公司, level: enterprise, parent: city, channels: [sink]}\n"
        "  - {code: e3, name: 丙公司, level: enterprise, parent: city, channels: [sink]}\n"
        "  - {code: e4, name: 丁公司, level: enterprise, parent: city, channels: [sink]}\n", 1) + (
        "  - {code: circular, name: 印发年度报告报送情况通报, kind: notification, template: circular, on: 2026-07-15,\n"
        "     notify: {levels: [enterprise]}}\n")
    r = Round(write(tmp_path, "nr.yaml", text))
    r.hand_in("pt_result", ["e1", "e2", "e3", "e4"], "2026-03-10")
    r.hand_in("annual_report", ["e1"], "2026-03-20")
    r.hand_in("annual_report", ["e2"], "2026-04-02")  # late, before the order
    r.until("2026-04-10")
    r.hand_in("annual_report", ["e3"], "2026-04-20")  # under the order (opened 4月8日)
    r.until("2026-07-15")
    told = r.letters("circular")["e1"]
    # What it circulates, as its name says (报送情况), not a "审核结果" nobody decided; what the round's name does not
    # say is kept (民生计量's "全年活动开展及报送情况" had been lost).
    assert "现将2026年度检验检测机构年度报告报送情况通报如下" in told, told
    other = Round(write(tmp_path, "nr-other.yaml", text.replace("name: 印发年度报告报送情况通报,", "name: 印发全年检测结果报送情况通报,", 1)
                        .replace("code: nr-2026,", "code: nr-2026o,", 1)))
    other.until("2026-07-15")
    said = other.letters("circular")["e1"]
    assert "现将2026年度检验检测机构年度报告报送全年检测结果报送情况通报如下" in said, said
    assert "甲公司：" not in told.partition("\n")[2], told  # on time: nothing to say of it
    assert "乙公司：年度报告逾期报送" in told and "丙公司：年度报告逾期报送" in told, told
    assert told.count("丁公司：未提交年度报告") == 1 and "丁公司：未提交年度报告；未提交年度报告" not in told, told
    # Owed month by month, one 补报 under the order is not each month's report (a unit had read "逾期报送" of all).
    monthly = Round(write(tmp_path, "nr-monthly.yaml", text.replace("code: nr-2026,", "code: nr-2026m,", 1).replace(
        "    owed_by: {levels: [enterprise]}, opens: 2026-03-02, deadline: {date: 2026-03-31}}\n  - {code: order",
        "    owed_by: {levels: [enterprise]}, periods: [{code: m1, opens: 2026-02-02, deadline: {date: 2026-02-27}},\n"
        "      {code: m2, opens: 2026-03-02, deadline: {date: 2026-03-31}}]}\n  - {code: order", 1)))
    monthly.hand_in("annual_report", ["e1", "e2"], "2026-02-20", period="m1")
    monthly.hand_in("annual_report", ["e1", "e2"], "2026-03-20", period="m2")
    monthly.hand_in("annual_report", ["e4"], "2026-03-05", period="m1")  # each month late: said once with both
    monthly.hand_in("annual_report", ["e4"], "2026-04-02", period="m2")
    monthly.until("2026-04-10")
    monthly.hand_in("annual_report", ["e3"], "2026-04-20", stage="order")
    monthly.until("2026-07-15")
    told = monthly.letters("circular")["e1"]
    assert "丙公司：未提交年度报告（m1、m2）" in told and "；年度报告（m1、m2）逾期报送。" in told, told


def test_the_plan_labels_a_reminder_before_a_deadline_on_a_day_off_as_such(tmp_path, home):
    """江西's 创建方案 due Sunday 3月31日 (not rolled): the plan read "提醒：今日截止" on the Friday."""
    text = MIDTERM.replace("opens: 2025-06-02, deadline: {date: 2025-06-30}}",
                           "opens: 2025-06-02, deadline: {date: 2025-06-29, roll: none}, reminders: std}", 1).replace(
        "    stages:\n", "    reminder_policies:\n      std: {before_workdays: [3], on_deadline_day: true}\n    stages:\n", 1)
    t = Round(write(tmp_path, "m.yaml", text)).t.by_name()["midterm:reminder:T-0"]
    assert t.at.date() == dt.date(2025, 6, 27) and t.title.endswith("提醒：截止前最后一个工作日（06-29截止）"), t


def test_a_rectification_order_says_the_way_each_unit_was_chosen_and_the_reason_it_may_know(tmp_path, home):
    """江西: a county whose self-evaluation was judged 不合格 was also told "未按期报送“中期评估自评报告”" of
    the report it had handed in on time; and 某市's order said "“核查”未获通过" without the reason the
    office gave."""
    r = Round(write(tmp_path, "midterm.yaml", MIDTERM))
    r.hand_in("midterm_report", ["c1", "c2"], "2025-06-20")  # c3 never
    r.until("2025-07-14")
    r.decide("review", c1="approved")
    r.decide("review", note="经核查，自评得分与实际不符", c2="rejected")
    r.until("2025-07-16")
    orders = r.letters("fix")
    assert sorted(orders) == ["c2", "c3"], orders
    assert "中未通过中期评估（经核查，自评得分与实际不符）。" in orders["c2"], orders["c2"]
    assert "未按期报送" not in orders["c2"], orders["c2"]
    assert "中未按期报送“中期评估自评报告”。" in orders["c3"] and "未通过" not in orders["c3"], orders["c3"]
    # What the rejection brings is its own letter's to say: not "…，撤销创建资格。请认真查找原因，制定整改措施".
    r2 = Round(write(tmp_path, "brings.yaml", MIDTERM.replace(
        "tell_reason: true, on: 2025-07-15}", "tell_reason: true, on_rejection: 撤销创建资格, on: 2025-07-15}", 1).replace(
        "code: demo-2025", "code: b-2025")))
    r2.hand_in("midterm_report", ["c2"], "2025-06-20")
    r2.until("2025-07-14")
    r2.decide("review", note="经核查，自评得分与实际不符", c2="rejected")
    r2.until("2025-07-16")
    assert "中未通过中期评估（经核查，自评得分与实际不符）。请认真查找原因" in r2.letters("fix")["c2"], r2.letters("fix")


def test_a_unit_left_off_a_list_is_told_the_reason_its_step_gives(tmp_path, home):
    """江西: a county refused at 确认创建单位 (tell_reason) read "名单共列入10个单位，贵单位未列入。", and the
    reason reached only its city, in a summary two years later."""
    text = MIDTERM + (
        "      - {code: passed, name: 公布中期评估合格名单, kind: publication, on: 2025-07-22,\n"
        "         notify: {any_of: [{approved_at: review}, {rejected_at: review}]}}\n")
    r = Round(write(tmp_path, "midterm.yaml", text))
    r.hand_in("midterm_report", ["c1", "c2"], "2025-06-20")
    r.until("2025-07-14")
    r.decide("review", c1="approved")
    r.decide("review", note="自评报告缺少佐证材料", c2="rejected")
    r.until("2025-07-22")
    told = r.letters("passed")
    assert "名单共列入1个单位，贵单位未列入（自评报告缺少佐证材料）。" in told["c2"], told["c2"]
    assert "贵单位已列入该名单" in told["c1"] and "佐证" not in told["c1"], told["c1"]


def test_an_order_released_late_by_its_decision_is_not_followed_by_a_reminder_the_same_day(tmp_path, home):
    """江州: the 整改通知 waited for a 核查 decided weeks late and went out with the 【提醒】 due that
    morning, both saying "还有5个工作日". The order says it; later reminders still go."""
    text = MIDTERM.replace("    stages:\n", "    reminder_policies:\n      std: {before_workdays: [30, 5]}\n"
                           "    stages:\n", 1).replace(
        "        deadline: {after: {stage: review, event: on, months: 2}}\n",
        "        deadline: {after: {stage: review, event: on, months: 2}}\n        reminders: std\n", 1)
    r = Round(write(tmp_path, "midterm.yaml", text))
    keys = r.t.by_name()
    first, last = keys["fix:reminder:T-30"].at, keys["fix:reminder:T-5"].at
    r.hand_in("midterm_report", ["c1", "c2"], "2025-06-20")
    r.until((first.date() - dt.timedelta(days=1)).isoformat())
    assert r.letters("fix") == {}  # the order waits for the review
    r.decide("review", c1="approved", c2="rejected")
    # The next moment after the decision is the reminder's: the order goes out then, alone.
    moment.run_due(r.p, r.id, r.t, first, template_dir=r.loaded.template_dir, actor="test")
    with db.session_scope() as session:
        sent = session.exec(select(OutboxMessage.subject).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c2",
            OutboxMessage.action.startswith("fix:"))).all()
        skipped = session.exec(select(ActionRun.outcome).where(
            ActionRun.round_id == r.id, ActionRun.action_key == keys["fix:reminder:T-30"].key)).one()
    assert [s[:6] for s in sent] == ["【整改通知】"] and skipped == "skipped", sent
    with db.session_scope() as session:  # ops are told how much of the period is left
        note = session.exec(select(ActionRun.note).where(
            ActionRun.round_id == r.id, ActionRun.action_key == keys["fix:followup_open"].key)).one()
    left, planned = (WorkCalendar().workdays_between(day, dt.date(2025, 9, 15)) for day in (first.date(), dt.date(2025, 7, 15)))
    assert (f"晚于日程（2025-07-15）发出，截止时间仍为 2025-09-15（余 {left} 个工作日，原定 {planned} 个），"
            "如需顺延请用 qcycle amend 修改周期，或用 qcycle extend 为单位延期") in note, note
    moment.run_due(r.p, r.id, r.t, last, template_dir=r.loaded.template_dir, actor="test")
    with db.session_scope() as session:
        reminded = session.exec(select(OutboxMessage.action).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c2",
            OutboxMessage.subject.startswith("【提醒】"))).all()
    assert reminded == [keys["fix:reminder:T-5"].key], reminded


QUALITY_MONTH = """\
        version: 2
        round:
          code: month-2025
          name: 临江市2025年“质量月”活动
          programme: 质量月活动
          issuer: office
          years: [2025]
        channels: [{name: sink, kind: sink}]
        units:
          - {code: office, name: 临江市质量强市工作领导小组办公室, level: office, channels: [sink]}
          - {code: amr, name: 临江市市场监督管理局, level: department, parent: office, channels: [sink]}
          - {code: edu, name: 临江市教育局, level: department, parent: office, channels: [sink]}
          - {code: d1, name: 东城区市场监督管理局, level: county, parent: amr, channels: [sink]}
        submission_kinds:
          month_summary: {title: 活动总结}
        stages:
          - {code: summary, name: 活动总结, kind: submission, submission: month_summary,
             owed_by: {levels: [department, county]}, opens: 2025-09-30, deadline: {date: 2025-10-15}}
          - {code: choose, name: 确定优秀组织单位, kind: decision, decides: summary, on: 2025-10-24}
          - {code: criticise, name: 通报未报送活动总结的单位, kind: notification, template: result, on: 2025-10-31,
             notify: {missing_at: summary}}
"""


def test_a_superior_chosen_for_a_hand_in_it_never_made_is_told_so_not_its_units_results(tmp_path, home):
    """临江's 质量月: the 市场监管局 (over the districts' bureaus) never sent its 活动总结 and was sent
    its districts' results instead of being told it was criticised."""
    r = Round(write(tmp_path, "month.yaml", QUALITY_MONTH))
    r.hand_in("month_summary", ["d1"], "2025-10-10")  # amr and edu never
    r.until("2025-10-24")
    r.decide("choose", d1="approved")
    r.until("2025-10-31")
    told = r.letters("criticise")
    assert sorted(told) == ["amr", "edu"], told
    assert "贵单位结果为：未提交活动总结。" in told["amr"] and "东城区" not in told["amr"], told["amr"]
    assert told["amr"].replace("临江市市场监督管理局", "临江市教育局") == told["edu"]


SPOT_CHECK = """\
    version: 2
    round:
      code: spot-2025
      name: 江州市2025年产品质量监督抽查不合格后处理
      programme: 监督抽查后处理
      issuer: city
      years: [2025]
    channels: [{name: sink, kind: sink}]
    units:
      - {code: city, name: 江州市市场监督管理局, level: city, channels: [sink]}
      - {code: d1, name: 一区市场监督管理局, level: county, parent: city, channels: [sink]}
      - {code: d2, name: 二区市场监督管理局, level: county, parent: city, channels: [sink]}
      - {code: e1, name: 甲公司, level: enterprise, parent: d1, channels: [sink]}
      - {code: e2, name: 乙公司, level: enterprise, parent: d2, channels: [sink]}
    reminder_policies:
      std: {before_workdays: [3], overdue_after_workdays: 1}
    stages:
      - {code: publish, name: 公布抽查结果, kind: publication, on: 2025-06-16, notify: {levels: [enterprise]}}
      - code: fix
        name: 整改报告
        kind: followup
        submission: rectification_report
        owed_by: {levels: [enterprise]}
        report_to: parent
        opens_after: {stage: publish, event: on, days: 0}
        deadline: {after: {stage: publish, event: on, days: 30}}
        reminders: std
"""


def test_the_superiors_of_those_a_step_rejected_owe_a_report_of_their_own(tmp_path, home):
    """江州: the 区县局 of an enterprise that failed its 复查 reports how it was dealt with
    (superiors_of); the language could not say it, and every 区县局 had been asked."""
    text = SPOT_CHECK + (
        "      - {code: recheck, name: 复查, kind: decision, decides: fix, on: 2025-08-15}\n"
        "      - code: dealt\n"
        "        name: 复查不合格企业处理情况报告\n"
        "        kind: followup\n"
        "        submission: rectification_report\n"
        "        owed_by: {superiors_of: {rejected_at: recheck}}\n"
        "        opens_after: {stage: recheck, event: on, days: 0}\n"
        "        deadline: {after: {stage: recheck, event: on, months: 1}}\n")
    r = Round(write(tmp_path, "spot.yaml", text))
    r.hand_in("rectification_report", ["e1", "e2"], "2025-07-10")
    r.until("2025-08-14")
    r.decide("recheck", e1="rejected", e2="approved")
    r.until("2025-08-16")
    assert sorted(r.letters("dealt")) == ["d1"], r.letters("dealt")
    assert ("贵单位辖区内甲公司在江州市2025年产品质量监督抽查不合格后处理中“复查”未获通过。请督促整改，并于"
            "2025年9月15日（星期一）17:30前将复查不合格企业处理情况报告报送江州市市场监督管理局。"
            in r.letters("dealt")["d1"]), r.letters("dealt")["d1"]
    # Chosen by the hierarchy alone, there is no standing to say: the round's arrangement, not "辖区内甲公司。".
    plain = Round(write(tmp_path, "plain.yaml", text.replace(
        "superiors_of: {rejected_at: recheck}", "superiors_of: {levels: [enterprise]}").replace("code: spot-2025", "code: b-2025")))
    plain.until("2025-08-16")
    # A 处理情况报告 is no 整改 of its own: asked for, not "认真查找问题，制定整改措施" (设区市考核's C级 书面报告).
    assert all(body.count("根据江州市2025年产品质量监督抽查不合格后处理工作安排，请贵单位于2025年9月15日") == 1
               for body in plain.letters("dealt").values()), plain.letters("dealt")
    assert "（“复查”未通过的对象）的上级单位" in r.t.by_name()["dealt:followup_open"].owed_by
    with pytest.raises(ConfigError, match=r"superiors_of\.rejected_at"):
        write(tmp_path, "bad.yaml", text.replace("superiors_of: {rejected_at: recheck}", "superiors_of: {rejected_at: nowhere}"))


def test_each_units_superior_may_review_its_rectification_report(tmp_path, home):
    """江州: each 区县局 re-inspects (复查) its own enterprises' 整改报告; reviewed_by had been refused for a
    decision on a follow-up."""
    text = SPOT_CHECK + ("      - {code: recheck, name: 复查, kind: decision, decides: fix, reviewed_by: parent, on: 2025-08-15,\n"
                         "         submit_via: 复查意见表加盖公章后发送至市局邮箱}\n")
    r = Round(write(tmp_path, "spot.yaml", text))
    r.hand_in("rectification_report", ["e1", "e2"], "2025-07-10")
    r.until("2025-07-20")
    asked = r.letters("recheck")
    assert sorted(asked) == ["d1", "d2"], asked
    assert all("报送方式：复查意见表加盖公章后发送至市局邮箱。" in body for body in asked.values()), asked
    assert "贵单位辖区内以下1个单位按时提交了整改报告，请提出复查意见" in asked["d1"] and "甲公司" in asked["d1"], asked
    assert "乙公司" not in asked["d1"], asked["d1"]


# 宁川's 放心消费示范单位复核: the office and one 区县局 (each test adds its markets and stages).
NINGCHUAN = """\
        version: 2
        round: {code: fx-2025, name: 2025年放心消费示范单位复核, programme: 放心消费, issuer: city, years: [2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: city, name: 宁川市市场监督管理局, level: city, channels: [sink]}
          - {code: d1, name: 东湖区市场监督管理局, level: county, parent: city, channels: [sink]}
"""


def test_a_call_tells_reviewers_the_deadline_their_review_follows(tmp_path, home):
    """宁川's 年度复核 reads three quarters' 自查报告: the call told the 区县局 to review "季度自查报告于2025年3月31日
    截止受理后", the first quarter's deadline; they were asked on 10月9日."""
    text = NINGCHUAN + """\
          - {code: s1, name: 惠民农贸市场, level: enterprise, parent: d1, channels: [sink]}
        stages:
          - {code: launch, name: 印发复核工作方案, kind: publication, on: 2025-03-03, notify: {levels: [county, enterprise]}}
          - code: selfcheck
            name: 季度自查报告
            kind: submission
            submission: self_evaluation
            owed_by: {levels: [enterprise]}
            periods:
              - {code: q1, opens: 2025-03-03, deadline: {date: 2025-03-31}}
              - {code: q2, opens: 2025-06-02, deadline: {date: 2025-06-30}}
              - {code: q3, opens: 2025-09-01, deadline: {date: 2025-09-30}}
          - {code: review, name: 年度复核, kind: decision, decides: selfcheck, reviewed_by: parent, on: 2025-11-28}
    """
    r = Round(write(tmp_path, "fx.yaml", text))
    r.until("2025-03-03")
    body = r.letters("launch")["d1"]
    assert "季度自查报告于2025年9月30日截止受理后，请贵单位对辖区内单位提交的季度自查报告提出" in body, body
    assert "3月31日截止受理后" not in body, body


def test_a_deadline_on_a_weekend_working_day_says_it_is_one(tmp_path, home):
    """标准化处: "2026年9月20日（星期日）17:30" read as a mistake to every unit; 9月20日 is a 调休 working day."""
    text = """\
        version: 2
        round: {code: db-2026, name: 2026年度地方标准制修订项目, programme: 地方标准, issuer: city, years: [2026]}
        channels: [{name: sink, kind: sink}]
        reminder_policies:
          std: {before_workdays: [2], overdue_after_workdays: 1}
        units:
          - {code: city, name: 某市市场监督管理局, level: city, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: city, channels: [sink]}
        stages:
          - {code: draft, name: 征求意见稿, kind: submission, submission: progress_report, owed_by: {levels: [enterprise]},
             opens: 2026-09-01, deadline: {date: 2026-09-20}, reminders: std}
    """
    r = Round(write(tmp_path, "db.yaml", text))
    assert [a.title for a in r.t.actions if a.action == "deadline"] == ["征求意见稿 截止（调休上班日）"]
    r.until("2026-09-22")
    with db.session_scope() as session:
        bodies = session.exec(select(OutboxMessage.body).where(OutboxMessage.round_id == r.id)).all()
    kinds = [b for b in bodies if "2026年9月20日（星期日）17:30" in b]
    assert len(kinds) == 4 and all("2026年9月20日（星期日）17:30（调休上班日）" in b for b in kinds), bodies  # 受理, two 提醒, 逾期


def test_a_reviewer_is_told_which_of_its_own_handed_nothing_in(tmp_path, home):
    """某省's cities, asked to check their enterprises' 备案, were shown only those that had handed one in and
    had to ask the province who had not; one with nothing to review heard only "无需报送意见"."""
    text = NINGCHUAN + """\
          - {code: d2, name: 西山区市场监督管理局, level: county, parent: city, channels: [sink]}
          - {code: s1, name: 惠民农贸市场, level: enterprise, parent: d1, channels: [sink]}
          - {code: s2, name: 东湖百货商店, level: enterprise, parent: d1, channels: [sink]}
          - {code: s3, name: 西山超市, level: enterprise, parent: d2, channels: [sink]}
        stages:
          - {code: launch, name: 印发复核工作方案, kind: publication, on: 2025-03-03, notify: {levels: [county, enterprise]}}
          - {code: selfcheck, name: 自查报告, kind: submission, submission: self_evaluation, owed_by: {levels: [enterprise]},
             opens: 2025-03-03, deadline: {date: 2025-03-31}}
          - {code: review, name: 区县局复核, kind: decision, decides: selfcheck, reviewed_by: parent, on: 2025-04-15}
    """
    r = Round(write(tmp_path, "fx.yaml", text))
    r.hand_in("self_evaluation", ["s1"], "2025-03-20")
    r.until("2025-04-01")
    asked = r.letters("review")
    assert "1. 惠民农贸市场（2025年3月20日" in asked["d1"] and "另有1个单位未提交自查报告：东湖百货商店。" in asked["d1"], asked
    assert "无需报送复核意见" in asked["d2"] and "贵单位辖区内1个单位未提交自查报告：西山超市。" in asked["d2"], asked
    # Not applying to a voluntary window is no gap to report.
    chosen = Round(write(tmp_path, "vol.yaml", text.replace("owed_by: {levels: [enterprise]},",
                                                            "owed_by: {levels: [enterprise]}, voluntary: true,", 1)
                         .replace("code: fx-2025", "code: fx-2025v", 1)))
    chosen.hand_in("self_evaluation", ["s1"], "2025-03-20")
    chosen.until("2025-04-01")
    assert all("未提交" not in body for body in chosen.letters("review").values()), chosen.letters("review")
    # Late hand-ins taken after the request reach no reviewer without a reminder: validate says so (鄞州's 所).
    from qcycle.timetable.checks import check_dates

    _, warnings = check_dates(r.p)
    assert "“自查报告”逾期提交的仍受理" in dict(warnings).get("stages[2].reminders", ""), warnings
    reminded = write(tmp_path, "reminded.yaml", text.replace("reviewed_by: parent, on: 2025-04-15}",
                                                             "reviewed_by: parent, on: 2025-04-15, reminders: std}")
                     .replace("        stages:\n", "        reminder_policies:\n          std: {before_workdays: [2]}\n"
                              "        stages:\n", 1))
    assert "stages[2].reminders" not in dict(check_dates(reminded.programme)[1])
    # One refused as late (不予受理) is named apart: 黄山's 区县局 heard nothing of the unit whose report came two days late.
    refusing = Round(write(tmp_path, "late.yaml", text.replace("deadline: {date: 2025-03-31}}",
                                                               "deadline: {date: 2025-03-31}, lateness: reject}", 1)
                           .replace("code: fx-2025", "code: fx-2025r", 1)))
    refusing.hand_in("self_evaluation", ["s1"], "2025-03-20")
    with db.session_scope() as session:
        (late,) = ingest_many(session=session, programme=refusing.p, timetable=refusing.t, round_id=refusing.id,
                              source="test", records=[{"kind": "self_evaluation", "unit": "s3", "id": "late-s3",
                                                       "submitted_at": "2025-03-31T20:00:00+08:00"}])
    assert late.status == "rejected_late", late
    refusing.until("2025-04-01")
    asked = refusing.letters("review")
    assert "另有1个单位未提交自查报告：东湖百货商店。" in asked["d1"] and "逾期" not in asked["d1"], asked["d1"]
    assert "贵单位辖区内1个单位逾期提交自查报告，不予受理：西山超市。" in asked["d2"], asked["d2"]
    assert "未提交" not in asked["d2"], asked["d2"]


def test_a_report_each_unit_sends_its_own_superior_names_that_superior(tmp_path, home):
    """江州: an enterprise's 整改报告 goes to its own 区县局 (report_to: parent); the language had no way
    to say it, and the officer's 报送方式 contradicted the letter's "报送江州市市场监督管理局"."""
    r = Round(write(tmp_path, "spot.yaml", SPOT_CHECK))
    r.until("2025-07-20")  # neither reports
    orders = r.letters("fix")
    with db.session_scope() as session:
        rows = session.exec(select(OutboxMessage.unit_code, OutboxMessage.subject, OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("fix:"))).all()
    by = defaultdict(dict)
    for unit, subject, body in rows:
        by[unit][subject[:subject.index("】") + 1]] = body
    assert "前将整改报告报送一区市场监督管理局" in by["e1"]["【整改通知】"], by["e1"]
    # Chosen by level, with no standing to say: "贵单位在…中经研究确定。" had opened the order.
    assert ("根据江州市2025年产品质量监督抽查不合格后处理工作安排，请贵单位认真查找问题，制定整改措施，于"
            in by["e1"]["【整改通知】"]) and "经研究" not in by["e1"]["【整改通知】"], by["e1"]
    assert "前将整改报告报送二区市场监督管理局" in by["e2"]["【整改通知】"], by["e2"]
    assert "报送一区市场监督管理局" in by["e1"]["【提醒】"] and "江州市市场监督管理局。" not in by["e1"]["【提醒】"], by["e1"]
    assert "向一区市场监督管理局报送的整改报告，至今尚未报送" in by["e1"]["【逾期提醒】"], by["e1"]  # not "…局的整改报告"
    assert orders and all("报送江州市" not in body for body in orders.values()), orders
    with pytest.raises(ConfigError, match="整改报告报送各单位的上级（parent），而 e3 没有上级"):
        write(tmp_path, "orphan.yaml", SPOT_CHECK.replace(
            "      - {code: e2,", "      - {code: e3, name: 丙公司, level: enterprise, channels: [sink]}\n      - {code: e2,", 1))


def test_a_grade_that_withholds_a_title_is_a_result_not_a_title():
    """服务站星级评价: 16 整改通知 read "被评为不评星"."""
    from qcycle.lifecycle.wording import graded_as

    assert graded_as(["不评星"]) == "结果为不评星"
    assert graded_as(["D"]) == "被评为D级" and graded_as(["有问题", "不满意"]) == "被评为有问题或不满意"
    assert graded_as(["二星", "不评星"]) == "被评为二星或结果为不评星"  # each as what it is
    assert graded_as(["限期整改"]) == "结果为限期整改"  # an outcome, not a rating: 黄山's 整改通知 read "被评为限期整改"


def _month_chosen(tmp_path: Path, text: str, refused: str) -> Round:
    """QUALITY_MONTH-like ``text`` played to 10月31日: d1 and ``refused`` hand in their 活动总结, d1 is chosen and
    ``refused`` not."""
    r = Round(write(tmp_path, "month.yaml", text))
    r.hand_in("month_summary", ["d1", refused], "2025-10-10")
    r.until("2025-10-24")
    r.decide("choose", **{"d1": "approved", refused: "rejected"})
    r.until("2025-10-31")
    return r


def test_a_circular_does_not_name_those_a_step_that_chooses_a_few_did_not_choose(tmp_path, home):
    """民生计量: the year's 通报 to every county named five of them "未被确定为报送及时、活动扎实的区（县）" beside the three
    praised; not being chosen among many is no standing to publish."""
    text = QUALITY_MONTH + (
        "          - {code: all, name: 通报确定结果, kind: notification, template: circular, on: 2025-10-31,\n"
        "             notify: {levels: [county, department]}}\n")
    told = _month_chosen(tmp_path, text, "amr").letters("all")["d1"]
    assert "东城区市场监督管理局：被确定为优秀组织单位" in told and "未被确定为" not in told, told
    # What a rule decided there is said (未提交活动总结，通报批评): not the choice, a consequence.
    ruled = Round(write(tmp_path, "ruled.yaml", text.replace(
        "kind: decision, decides: summary, on: 2025-10-24}",
        "kind: decision, decides: summary, on: 2025-10-24, rejects_missing: true, on_rejection: 通报批评}", 1)
        .replace("code: month-2025", "code: month-2025r", 1)))
    ruled.hand_in("month_summary", ["d1"], "2025-10-10")  # amr and edu never
    ruled.until("2025-10-24")
    ruled.decide("choose", d1="approved")
    ruled.until("2025-10-31")
    assert "未提交活动总结，通报批评" in ruled.letters("all")["d1"], ruled.letters("all")["d1"]


def test_a_summary_of_units_decided_but_not_graded_does_not_call_them_参评单位(tmp_path, home):
    """江州, 江西, 江西's 标准化: summaries called enterprises refused as late or never assessed "参评单位"."""
    text = QUALITY_MONTH.replace(
        "          - {code: amr, name: 临江市市场监督管理局, level: department, parent: office,",
        "          - {code: gov, name: 临江市人民政府, level: government, channels: [sink]}\n"
        "          - {code: amr, name: 临江市市场监督管理局, level: department, parent: gov,", 1) + (
        "          - {code: results, name: 通报确定结果, kind: notification, template: result, on: 2025-10-31,\n"
        "             notify: {levels: [government]}}\n")
    r = _month_chosen(tmp_path, text, "amr")
    told = r.letters("results")["gov"]
    # To the government the office answers to, a report (特此报告), not a notice.
    assert "现将所属2个单位的" in told and "贵单位" not in told and "报告如下：" in told and "特此报告。" in told and "参评" not in told, told
    # Headed as the report it is (its subject had read 【考核结果】 over a body ending 特此报告).
    with db.session_scope() as session:
        subject = session.exec(select(OutboxMessage.subject).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "gov", OutboxMessage.action.startswith("results:"))).one()
    assert re.fullmatch(r"【报告】关于.+结果的报告", subject), subject


def test_praise_for_being_chosen_says_what_the_unit_was_chosen_as(tmp_path, home):
    """临江's praise of its 优秀组织单位 read "在…活动中表现突出", never what they were chosen as."""
    text = QUALITY_MONTH + (
        "          - {code: praise, name: 通报表扬优秀组织单位, kind: notification, template: praise, on: 2025-10-31,\n"
        "             notify: {approved_at: choose}}\n")
    r = _month_chosen(tmp_path, text, "edu")
    praised = r.letters("praise")
    assert sorted(praised) == ["d1"], praised
    assert "贵单位在临江市2025年“质量月”活动中被确定为优秀组织单位，成绩突出，现予通报表扬。" in praised["d1"], praised


def test_a_rejected_report_keeps_its_unit_in_the_ranking_and_a_summons_by_place_says_which(tmp_path, home):
    """某市's officer: "the last 2 whose 整改报告 is rejected are 约谈'd" chose nobody (the rejection
    took 甲区 out of the ranking the rank read); a summary after the review told it "结果为：未通过整改
    报告审核" for its 不合格; a 约谈 of the last places said "贵单位在…中—。". A review of a report
    decides the report: the unit keeps its place, its grade, and is told why it is summoned."""
    summons = ("      - {code: summons, name: 约谈整改不到位的县, kind: notification, template: summons, "
               "after: {stage: report_review, event: on, workdays: 2},\n"
               "         notify: {any_of: [{rejected_at: report_review}, {missing_at: report}]}}\n")
    ours = ("      - {code: summons, name: 约谈整改不到位的县, kind: notification, template: summons, "
            "after: {stage: report_review, event: on, workdays: 2},\n"
            "         notify: {rejected_at: report_review, rank: {bottom: 2}}}\n"
            "      - {code: last, name: 约谈排名末位的县, kind: notification, template: summons, "
            "after: {stage: report_review, event: on, workdays: 2},\n"
            "         notify: {rank: {bottom: 1}}}\n"
            "      - {code: summary, name: 考核情况汇总, kind: notification, template: result, "
            "after: {stage: report_review, event: on, workdays: 3},\n"
            "         notify: {rank: {bottom: 3}, with_rejected: true}}\n")
    text = ASSESSMENT.replace(summons, ours)
    assert text != ASSESSMENT
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c3", "c4", "c5"], "2016-04-20")
    r.until("2016-05-06")
    r.decide("report_review", c3="rejected", c4="rejected", c5="approved")
    r.until("2016-05-31")
    # c3 was rejected but is not among the last 2; c4 is both; c5 is last and passed.
    assert sorted(r.letters("summons")) == ["c4"]
    assert "中排名后2名（第4名）；未通过整改情况审核。" in r.letters("summons")["c4"], r.letters("summons")["c4"]
    last = r.letters("last")
    assert sorted(last) == ["c5"] and "贵单位在2015年度县级质量工作考核中排名末位（第5名）。" in last["c5"], last
    summary = r.letters("summary")
    assert sorted(summary) == ["c3", "c4", "c5"]
    assert "不合格" in summary["c4"] and "未通过整改情况审核" in summary["c4"], summary["c4"]
    assert "合格" in summary["c3"] and "未通过整改情况审核" in summary["c3"], summary["c3"]


def test_counties_and_departments_ranked_apart_each_keep_their_own_share(tmp_path, home):
    """分类考核: an office's 优秀 "不超过30%" counted over its 县区 and its 部门 together, so one class
    could hold 40 % of its members as 优秀 (an officer's finding). ``rank_within: level`` ranks each
    level among itself: its places, its shares, its last places, and the letters say among whom."""
    text = ASSESSMENT.replace(
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n",
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n"
        + "".join(f"      - {{code: d{i}, name: 市{n}局, level: department, parent: city, channels: [sink]}}\n"
                  for i, n in enumerate("甲乙丙丁", start=1)))
    text = text.replace("notify: {levels: [county]}}", "notify: {levels: [county, department]}}")
    text = text.replace("owed_by: {rank: {bottom: 3}}", "owed_by: {rank: {bottom: 1}}")
    text = text.replace("    stages:\n", "    stages:\n      - {code: circular, name: 全市通报考核结果, kind: notification, template: circular,"
                        " on: 2016-04-01, notify: {levels: [county, department]}}\n", 1)
    text = text.replace("      subjects: {levels: [county]}\n", "      subjects: {levels: [county, department]}\n      rank_within: level\n")
    text = text.replace("grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
                        "grades: [{name: 优秀, min_score: 90, share: 0.5}, {name: 合格, min_score: 60}, {name: 不合格}]")
    r = Round(write(tmp_path, "classes.yaml", text))
    r.scores({"c1": 95, "c2": 93, "c3": 92, "c4": 55, "c5": 40, "d1": 99, "d2": 98, "d3": 97, "d4": 70})
    r.until("2016-04-05")
    with db.session_scope() as session:
        rows = crud.list_results(session=session, round_id=r.id)
        results = {x.unit_code: (x.rank, x.grade) for x in rows}
    from qcycle.lifecycle.remarks import graded_together
    assert graded_together(r.p, rows) == {**dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], (5, 1, None, "", 0)),
                                          **dict.fromkeys(["d1", "d2", "d3", "d4"], (4, 1, None, "", 0))}  # what each cap counts over
    # Together, 优秀 went to d1, d2, d3 and c1 (4 of 9): c2 at 93 was 合格 beside three departments.
    assert results == {"c1": (1, "优秀"), "c2": (2, "优秀"), "c3": (3, "合格"), "c4": (4, "不合格"), "c5": (5, "不合格"),
                       "d1": (1, "优秀"), "d2": (2, "优秀"), "d3": (3, "合格"), "d4": (4, "合格")}
    results_letters = r.letters("results")
    assert "说明：优秀比例不超过县（市、区）参评对象的50%（参评5个，按比例优秀名额2个），贵单位得分在县（市、区）中排名第3。" in results_letters["c3"]
    assert "说明：优秀比例不超过部门参评对象的50%（参评4个，按比例优秀名额2个），贵单位得分在部门中排名第3。" in results_letters["d3"]
    # A 通报 of both classes says where each stands in its own, and why 92 and 97 are not 优秀 (镇 and 街道 had read as
    # one list of 12, 95.01 as 良好 with no reason).
    circular = r.letters("circular")["c1"]
    assert "三县人民政府：合格（得分92.00，县（市、区）第3名）" in circular and "市丙局：合格（得分97.00，部门第3名）" in circular, circular
    # The classes named (湖南's 领跑者 read "按分组分别计" of its product categories).
    assert "按规定，优秀不超过参评对象的50%（县（市、区）、部门分别计）。" in circular, circular
    reports = r.letters("report")
    assert sorted(reports) == ["c5", "d4"]  # the last place of each class, and among whom it is last
    assert "排名县（市、区）末位（第5名）" in reports["c5"] and "排名部门末位（第4名）" in reports["d4"], reports
    with db.session_scope() as session:
        sheet = next(iter(ops.result_rows(session, r.p, r.id).values()))
    assert [(row["排名组"], row["名次"], row["单位代码"]) for row in sheet][:2] == [("县（市、区）", 1, "c1"), ("县（市、区）", 2, "c2")]
    assert [row["排名组"] for row in sheet][5:] == ["部门"] * 4


def test_results_summed_up_for_a_government_list_each_class_in_its_own_order(tmp_path, home):
    """A 市政府 read counties and departments interleaved by their places in two rankings ("1. 兰溪县：良好；
    2. 生态环境局：优秀；…"): each class is listed whole, in its own rank order."""
    text = ASSESSMENT.replace(
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n",
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n"
        "      - {code: gov, name: 示例市人民政府, level: government, channels: [sink]}\n"
        + "".join(f"      - {{code: d{i}, name: 市{n}局, level: department, parent: city, channels: [sink]}}\n"
                  for i, n in enumerate("甲乙丙", start=1)))
    text = text.replace("notify: {levels: [county]}}", "notify: {levels: [county, department]}}\n"
                        "      - {code: summary, name: 报送考核结果, kind: notification, template: result, on: 2016-03-31,\n"
                        "         notify: {units: [gov]}}")
    text = text.replace("      subjects: {levels: [county]}\n", "      subjects: {levels: [county, department]}\n"
                                                                  "      rank_within: level\n")
    r = Round(write(tmp_path, "classes.yaml", text))
    r.scores({"c1": 95, "c2": 93, "c3": 62, "c4": 55, "c5": 40, "d1": 70, "d2": 98, "d3": 97})
    r.until("2016-03-31")
    listed = re.findall(r"^\d+\. (\S+?)：", r.letters("summary")["gov"], re.MULTILINE)
    assert listed == ["一县人民政府", "二县人民政府", "三县人民政府", "四县人民政府", "五县人民政府",
                      "市乙局", "市丙局", "市甲局"], r.letters("summary")["gov"]
    assert "（得分93.00，县（市、区）第2名）" in r.letters("summary")["gov"], r.letters("summary")["gov"]
    # An office's own word for a level (round.level_names) is how the ranking says it.
    own = Round(write(tmp_path, "own.yaml", text.replace("      period:", "      level_names: {county: 县（市）}\n      period:", 1)
                      .replace("code: county-2015\n", "code: county-2015n\n", 1)))
    own.scores({"c1": 95, "c2": 93, "c3": 62, "c4": 55, "c5": 40, "d1": 70, "d2": 98, "d3": 97})
    own.until("2016-03-31")
    assert "（得分93.00，县（市）第2名）" in own.letters("summary")["gov"], own.letters("summary")["gov"]


def test_a_step_passed_can_be_told_too(tmp_path, home):
    """淮安: a county whose rectification report was accepted heard nothing; a step result may tell
    those a step passed (``approved_at``), each in one sentence."""
    told = ("      - {code: review_result, name: 整改情况审核结果, kind: notification, template: step_result,\n"
            "         after: {stage: report_review, event: on, workdays: 1}, notify: {approved_at: report_review}}\n")
    text = ASSESSMENT.replace("      - {code: summons,", told + "      - {code: summons,", 1)
    assert text != ASSESSMENT
    r = _through_review(tmp_path, text)
    letters = r.letters("review_result")
    assert sorted(letters) == ["c4"]
    assert "贵单位在2015年度县级质量工作考核中通过整改情况审核。特此告知。" in letters["c4"], letters["c4"]
    assert "不再参加" not in letters["c4"]


def test_a_run_caught_up_past_the_escalation_sends_the_escalation_alone(tmp_path, home):
    """An office's run caught up on 26 November sent a 逾期提醒 "如在2026年7月14日前仍未提交，将予以督办" beside the
    督办 itself. Written on or after the escalation's day, the units the office urges itself get the 督办 alone."""
    r = Round(write(tmp_path, "county.yaml", ASSESSMENT))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-04-05")
    r.hand_in("rectification_report", ["c4", "c5"], "2016-04-20")  # c3 never reports
    moment.run_due(r.p, r.id, r.t, at(dt.date(2016, 5, 16), dt.time(10)), template_dir=r.loaded.template_dir,
                   actor="test")  # one run, long after the deadline (05-03) and its escalation
    with db.session_scope() as session:
        told = sorted(m.subject.partition("】")[0] + "】" for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c3")).all() if m.action.startswith("report:"))
    assert told == ["【整改通知】", "【督办】"], told


def test_a_summons_by_one_of_several_ways_names_the_ways_the_unit_met(tmp_path, home):
    """A 约谈 of "不合格 or the last place" told the fourth of five, 不合格, "被评为不合格，排名后1名（第4名）":
    each unit is told the ways it met, not every alternative of the selection."""
    either = ("      - {code: either, name: 约谈, kind: notification, template: summons, on: 2016-04-05,\n"
              "         notify: {any_of: [{grades: [不合格]}, {rank: {bottom: 1}}]}}\n")
    r = Round(write(tmp_path, "county.yaml", ASSESSMENT.replace("      - code: report\n", either + "      - code: report\n", 1)))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-04-06")
    letters = r.letters("either")
    assert sorted(letters) == ["c4", "c5"]
    assert "贵单位在2015年度县级质量工作考核中被评为不合格。" in letters["c4"], letters["c4"]
    # Its place beside the place it explains: "排名末位，被评为不合格（第5名）" had read as the grade's.
    assert "中被评为不合格，排名末位（第5名）。" in letters["c5"], letters["c5"]
    both = Round(write(tmp_path, "both.yaml", ASSESSMENT.replace("      - code: report\n", either.replace(
        "notify: {any_of: [{grades: [不合格]}, {rank: {bottom: 1}}]}", "notify: {any_of: [{rank: {bottom: 2}}, {grades: [不合格]}]}") +
        "      - code: report\n", 1).replace("code: county-2015", "code: county-2015b", 1)))
    both.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    both.until("2016-04-06")
    assert "中排名后2名（第4名），被评为不合格。" in both.letters("either")["c4"], both.letters("either")["c4"]
    # The 整改通知 of such a selection tells each its place beside it too (常德's read "排名后2名，被评为不合格" and no place);
    # one chosen by its grade alone is told no place.
    owed = Round(write(tmp_path, "owed.yaml", ASSESSMENT.replace(
        "owed_by: {rank: {bottom: 3}}", "owed_by: {any_of: [{rank: {bottom: 1}}, {grades: [不合格]}]}").replace(
        "code: county-2015", "code: county-2015c", 1)))
    owed.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    owed.until("2016-03-31")
    orders = owed.letters("report")
    assert "中排名末位（第5名），被评为不合格。" in orders["c5"], orders["c5"]
    assert "中被评为不合格。" in orders["c4"] and "第4名" not in orders["c4"], orders["c4"]


def test_a_decision_before_an_assessment_of_every_county_is_refused(tmp_path):
    """某省's 市级推荐 for 优秀, written as a decision on the counties' 自评: 65 counties refused by their city
    were graded all the same (14 of them A, taking the places) and told only "未获…推荐"."""
    before = ("      - {code: self, name: 自评报告, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},\n"
              "         opens: 2016-01-04, deadline: {date: 2016-01-15}}\n"
              "      - {code: recommend, name: 市级推荐, kind: decision, decides: self, on: 2016-01-29}\n")
    text = ASSESSMENT.replace("      - {code: scoring,", before + "      - {code: scoring,", 1)
    with pytest.raises(ConfigError, match=r"决定阶段“市级推荐”在考核之前，而考核对象按单位或级别选择.*"
                                          r"assessment.subjects: \{approved_at: recommend\}"):
        write(tmp_path, "recommend.yaml", text)
    only_passed = text.replace("      subjects: {levels: [county]}\n", "      subjects: {approved_at: recommend}\n", 1)
    assert write(tmp_path, "passed.yaml", only_passed).programme.assessment.subjects.approved_at == "recommend"
    # A decision on something of units not assessed (the city's own 实施方案) is not theirs to refuse.
    city_plan = text.replace("owed_by: {levels: [county]},\n         opens: 2016-01-04", "owed_by: {levels: [city]},\n         opens: 2016-01-04", 1)
    assert city_plan != text
    assert write(tmp_path, "city.yaml", city_plan).programme.stage("recommend").decides == "self"


def test_a_result_letter_to_units_not_assessed_lists_their_subordinates_results_or_all(tmp_path, home):
    """某省's "向各设区市通报所辖县考核结果", 某市's 市政府 summary and 某区's "告知各区局本区企业获奖情况" passed
    validate and sent nothing: a unit told the results with none of its own is told its subordinates',
    or all of them where it has none (the 市政府). An honour to such units is refused: each had read that
    it was itself commended."""
    text = (ASSESSMENT.replace(
        "      - {code: c4, name: 四县人民政府, level: county, parent: city, channels: [sink]}\n"
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n",
        "      - {code: north, name: 北部片区工作组, level: office, parent: city, channels: [sink]}\n"
        "      - {code: c4, name: 四县人民政府, level: county, parent: north, channels: [sink]}\n"
        "      - {code: c5, name: 五县人民政府, level: county, parent: north, channels: [sink]}\n"
        "      - {code: gov, name: 示例市人民政府, level: government, channels: [sink]}\n", 1).replace(
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n",
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n"
        "      - {code: summary, name: 报送考核结果, kind: notification, template: result, on: 2016-03-31,\n"
        "         notify: {units: [gov, north]}}\n", 1))
    assert text.count("north") == 4
    r = Round(write(tmp_path, "summary.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 70})
    r.until("2016-03-31")
    told = r.letters("summary")
    assert sorted(told) == ["gov", "north"]
    assert ("现将2015年度县级质量工作考核结果报告如下（共5个参评单位）：\n1. 一县人民政府：合格（得分95.00）；\n"
            "2. 二县人民政府：合格（得分80.00）；\n3. 五县人民政府：合格（得分70.00）；\n4. 三县人民政府：合格（得分62.00）；\n"
            "5. 四县人民政府：不合格（得分55.00）。") in told["gov"], told["gov"]
    assert ("贵单位辖区内2个参评单位的结果如下：\n1. 五县人民政府：合格（得分70.00）；\n2. 四县人民政府：不合格（得分55.00）。"
            in told["north"]), told["north"]
    assert "贵单位结果" not in told["gov"] and "一县" not in told["north"]
    # A unit of the assessed population with no result of its own (it handed nothing in) is not told its
    # peers' results: "全部" is for units outside the round, as the 市政府.
    from qcycle.lifecycle.summaries import summary_lines

    assert r.p.participants >= {"c1", "c2"} and "gov" not in r.p.participants
    assert set(summary_lines(r.p, ["gov", "c1"], {}, {"c2": [(None, "合格")]}, {})) == {"gov"}
    praised = text.replace("template: result, on: 2016-03-31,\n         notify: {units: [gov, north]}",
                           "template: praise, on: 2016-03-31,\n         notify: {units: [gov, north]}", 1)
    assert praised != text
    with pytest.raises(ConfigError, match="“报送考核结果”的通报表扬函写给所选单位本身，而它们都不是考核对象"):
        write(tmp_path, "praised.yaml", praised)


def test_a_governments_departments_results_are_its_own_and_a_veto_is_said_beside_the_grade(tmp_path, home):
    """临江's 市政府 read "贵单位辖区内8个参评单位的结果如下" of its own departments, and "文旅局：不合格（得分
    91.92，含加分5分）" with the veto that made the second-best score 不合格 said only to the department."""
    text = ASSESSMENT.replace(
        "      - {code: c4, name: 四县人民政府, level: county, parent: city, channels: [sink]}\n"
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n",
        "      - {code: gov, name: 示例市人民政府, level: government, channels: [sink]}\n"
        "      - {code: d1, name: 示例市工业和信息化局, level: department, parent: gov, channels: [sink]}\n"
        "      - {code: d2, name: 示例市文化广电旅游局, level: department, parent: gov, channels: [sink]}\n", 1).replace(
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n",
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31,\n"
        "         notify: {levels: [county, department]}}\n"
        "      - {code: summary, name: 报送考核结果, kind: notification, template: result, on: 2016-03-31, notify: {units: [gov]}}\n",
        1).replace("      subjects: {levels: [county]}\n", "      subjects: {levels: [county, department]}\n"
                   "      vetoes: [{code: accident, name: 本领域发生重大质量安全事故, grade: 不合格}]\n", 1)
    assert text.count("d2") == 1 and "vetoes" in text and "summary" in text
    r = Round(write(tmp_path, "departments.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "d1": 70, "d2": 92})
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test",
                    records=[{"kind": "score", "unit": "d2", "reviewer": "r1", "component": "veto:accident", "value": 1}])
    r.until("2016-03-31")
    told = r.letters("summary")
    assert ("现将所属2个参评单位的2015年度县级质量工作考核结果报告如下：\n1. 示例市工业和信息化局：合格（得分70.00）；\n"
            "2. 示例市文化广电旅游局：不合格（得分92.00；因本领域发生重大质量安全事故，实行一票否决）。") in told["gov"], told["gov"]
    assert "辖区内" not in told["gov"]  # a 辖区 keeps "辖区内": test_a_result_letter_to_units_not_assessed_*


def _quarterly(window_extra: str, deductions: str) -> str:
    """ASSESSMENT with two quarterly progress reports owed by the counties before it (``window_extra``: more
    keys of that window) and the assessment's ``deductions``."""
    return ASSESSMENT.replace("    stages:\n", f"""    stages:
      - code: progress
        name: 季度进展报告
        kind: submission
        submission: progress_report
        owed_by: {{levels: [county]}}
{window_extra}        periods:
          - {{code: q1, name: 第一期, opens: 2016-01-04, deadline: {{date: 2016-01-15}}}}
          - {{code: q2, name: 第二期, opens: 2016-02-15, deadline: {{date: 2016-02-26}}}}
""", 1).replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                deductions + "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)


def _quarters_handed_in(r: Round) -> None:
    """c2 and c4 are late in the first quarter, c4 in the second; c3 never reports."""
    r.hand_in("progress_report", ["c1", "c5"], "2016-01-12", period="q1")
    r.hand_in("progress_report", ["c2", "c4"], "2016-01-20", period="q1")
    r.hand_in("progress_report", ["c1", "c2", "c5"], "2016-02-24", period="q2")
    r.hand_in("progress_report", ["c4"], "2016-03-01", period="q2")


def test_a_deduction_counted_from_late_hand_ins(tmp_path, home):
    """临江's 进度报送 lost points for each late quarterly report, and officers had to score it by hand
    beside the hand-in record qcycle keeps: ``late_at`` counts each deadline of a window a unit met
    late or not at all, and the result letter says it; a score record for it is refused."""
    text = _quarterly("        lateness: accept_flag\n",
                      "      deductions: [{code: late, name: 进度报送逾期, points: 2, late_at: progress}]\n")
    assert "late_at" in text and "季度进展报告" in text
    r = Round(write(tmp_path, "late.yaml", text))
    _quarters_handed_in(r)
    r.scores(dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 80))
    with db.session_scope() as session:
        refused = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": "c1", "reviewer": "r1", "component": "deduction:late", "value": 1}])
    assert refused[0].reason == "扣分项“进度报送逾期”按“季度进展报告”的逾期情况自动计次，不收评分记录"
    r.until("2016-03-31")
    with db.session_scope() as session:
        totals = {x.unit_code: (x.total, x.deduction) for x in crud.list_results(session=session, round_id=r.id)}
    assert totals == {"c1": (80, 0), "c2": (78, 2), "c3": (76, 4), "c4": (76, 4), "c5": (80, 0)}
    told = r.letters("results")
    assert "进度报送逾期2次（第一期、第二期），扣4分" in told["c4"] and "进度报送逾期1次（第一期），扣2分" in told["c2"], told["c2"]
    assert "进度报送" not in told["c1"]


def test_a_deduction_is_explained_as_the_hand_ins_stood_at_the_assessment(tmp_path, home):
    """包保督导: a ledger handed in the day after the 考核 was counted missing, as "截至考核时仍未报送的，按未报送计"
    says, and then the 通报 explaining that score read "逾期报送" of it: its deductions did not add up to the score."""
    text = _quarterly("        lateness: accept_flag\n",
                      "      deductions: [{code: late, name: 进度报送, points: 2, late_at: progress}]\n")
    r = Round(write(tmp_path, "late.yaml", text))
    _quarters_handed_in(r)
    r.scores(dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 80))
    r.until("2016-03-26")  # scored on 3月25日
    r.hand_in("progress_report", ["c3"], "2016-03-28", period="q2")  # after the 考核, before its results go out
    r.until("2016-03-31")
    told = r.letters("results")["c3"]
    assert "进度报送：未报送2次（第一期、第二期），扣4分" in told, told


def test_a_circular_tells_every_unit_the_results_of_all(tmp_path, home):
    """服务站, 月调度: "通报各区县局各服务站等次" could not be said: a result letter tells a graded unit its own
    result only, and ``report`` wrote "特此报告" upward to the counties. ``template: circular`` is the 通报."""
    text = ASSESSMENT.replace(
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n",
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n"
        "      - {code: circular, name: 通报全部结果, kind: notification, template: circular, on: 2016-04-01,"
        " notify: {levels: [county]}}\n", 1)
    assert "template: circular" in text
    r = _scored(tmp_path, text, "2016-04-01")
    told = r.letters("circular")
    assert sorted(told) == ["c1", "c2", "c3", "c4", "c5"], told
    body = told["c3"]
    assert "现将2015年度县级质量工作考核结果通报如下（共5个参评单位）：" in body, body
    assert "1. 一县人民政府：合格（得分95.00）；" in body and "5. 五县人民政府：不合格（得分40.00）。" in body, body
    assert "特此通报。" in body and body == told["c1"].replace("一县人民政府：\n", "三县人民政府：\n", 1), body
    with db.session_scope() as session:
        subjects = set(session.exec(select(OutboxMessage.subject).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("circular:"))).all())
    assert subjects == {"【通报】2015年度县级质量工作考核结果"}, subjects
    # Each unit's own result letter is still its own.
    assert "五县" not in r.letters("results")["c1"]
    assert "按规定" not in body  # no grade is capped: no rule of places to say
    # A total held below a line it reached by the places taken says why, once under the list (a 通报 of 街道 read
    # "良好（得分95.01）" under "优秀≥90", the two places of 优秀 untold).
    capped = _scored(tmp_path, text.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                                            "      grades: [{name: 优秀, min_score: 75, max_count: 1}, {name: 合格, min_score: 60},"
                                            " {name: 不合格}]\n", 1).replace("code: county-2015\n", "code: county-2015c\n", 1),
                     "2016-04-01")
    body = capped.letters("circular")["c3"]
    assert "2. 二县人民政府：合格（得分80.00）；" in body and "。\n按规定，优秀名额不超过1个。\n\n特此通报。" in body, body


def test_a_praise_cites_the_assessment_its_selection_names(tmp_path, home):
    """浙江制造: a 表扬 of the projects scoring ≥90 at the first review cited the 再审's name and score, for a
    project the 再审 never scored ("在技术再审评分中被评为90分以下…现予通报表扬")."""
    text = ASSESSMENT.replace(
        "      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}\n",
        "      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}\n"
        "      - {code: praise, name: 通报表扬, kind: notification, template: praise, on: 2016-04-25,\n"
        "         notify: {grades: [合格], assessed_at: scoring}}\n"
        "      - {code: rescoring, name: 复核评分, kind: assessment, on: 2016-04-20}\n", 1)
    r = Round(write(tmp_path, "two.yaml", text))
    with db.session_scope() as session:  # the second assessment scores all below the line
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": u, "reviewer": "r1", "component": "all", "value": v, "stage": stage}
            for stage, values in (("scoring", [95, 80, 62, 55, 40]), ("rescoring", [50] * 5))
            for u, v in zip(["c1", "c2", "c3", "c4", "c5"], values, strict=True)])
    r.until("2016-04-25")
    praised = r.letters("praise")
    assert sorted(praised) == ["c1", "c2", "c3"], praised
    assert "考核评分" in praised["c2"] and "复核评分" not in praised["c2"] and "不合格" not in praised["c2"], praised["c2"]


def test_a_window_missed_at_several_periods_is_said_once_with_them(tmp_path, home):
    """月调度's 通报 read "未提交月调度报告（2026年2月）；未提交月调度报告（2026年3月）；…" five times over."""
    text = _quarterly("        reminders: std\n", "").replace(
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n",
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n"
        "      - {code: circular, name: 通报全部结果, kind: notification, template: circular, on: 2016-04-01,"
        " notify: {levels: [county]}}\n", 1)
    r = Round(write(tmp_path, "q.yaml", text))
    _quarters_handed_in(r)  # c3 never reports
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-04-01")
    own, circular = r.letters("results")["c3"], r.letters("circular")["c1"]
    assert "合格（得分62.00）；未提交季度进展报告（第一期、第二期）。" in own, own
    assert "三县人民政府：合格（得分62.00）；未提交季度进展报告（第一期、第二期）；" in circular, circular
    assert circular.count("未提交") == 1, circular


def test_a_unit_never_graded_for_what_it_never_handed_in_is_told_so(tmp_path, home):
    """浙江制造: an enterprise whose 送审稿 never came was not assessed, and the results told it nothing at all
    (its last letter was the 督办)."""
    text = ASSESSMENT.replace("    stages:\n", """    stages:
      - {code: selfcheck, name: 自评报告, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},
         opens: 2016-01-04, deadline: {date: 2016-01-15}}
""", 1).replace("      subjects: {levels: [county]}\n", "      subjects: {submitted_at: selfcheck}\n", 1)
    r = Round(write(tmp_path, "never.yaml", text))
    r.hand_in("self_evaluation", ["c1", "c2", "c3", "c4"], "2016-01-12")
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55})
    r.until("2016-03-31")
    told = r.letters("results")
    assert sorted(told) == ["c1", "c2", "c3", "c4", "c5"], told
    assert "贵单位结果为：未提交自评报告。" in told["c5"], told["c5"]
    assert "未提交" not in told["c1"], told["c1"]


def test_a_round_without_an_assessment_tells_what_a_listed_unit_never_handed_in(tmp_path, home):
    """小微企业帮扶: an enterprise on the 帮扶名单 that never applied for 验收 heard nothing, and its 区县局's summary
    read "列入帮扶名单" of it; one that passed 验收 had no result letter either. A round decided without any
    assessment had said neither a window missed nor where a unit stands."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: xw-2026, name: 2026年小微企业质量管理体系认证提升行动, programme: 小微企业帮扶, issuer: city, years: [2026]}
        submission_kinds: {acceptance_request: {title: 验收申请}}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: city, name: 某市市场监督管理局, level: city, channels: [sink]}
          - {code: d1, name: 东区市场监督管理局, level: county, parent: city, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: d1, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: d1, channels: [sink]}
        stages:
          - {code: apply, name: 申报, kind: submission, submission: application, owed_by: {levels: [enterprise]},
             voluntary: true, opens: 2026-03-02, deadline: {date: 2026-04-15}}
          - {code: confirm, name: 确定帮扶名单, kind: decision, decides: apply, on: 2026-05-11}
          - {code: request, name: 验收申请, kind: submission, submission: acceptance_request,
             owed_by: {approved_at: confirm}, opens: 2026-06-01, deadline: {date: 2026-11-30}}
          - {code: accept, name: 验收, kind: decision, decides: request, on: 2026-12-15, on_approval: 给予帮扶资金2万元}
          - {code: results, name: 通知验收结果, kind: notification, template: result, on: 2026-12-21,
             notify: {any_of: [{approved_at: confirm}, {levels: [county]}]}}
        """)
    def played(r: Round) -> dict[str, str]:  # both listed; e1 applies for 验收 and passes, e2 never applies
        r.hand_in("application", ["e1", "e2"], "2026-04-01")
        r.until("2026-05-11")
        r.decide("confirm", e1="approved", e2="approved")
        r.hand_in("acceptance_request", ["e1"], "2026-11-20")
        r.until("2026-12-15")
        r.decide("accept", e1="approved")
        r.until("2026-12-21")
        return r.letters("results")

    told = played(Round(write(tmp_path, "xw.yaml", text)))
    assert "贵单位各项结果如下：\n1. 列入帮扶名单；\n2. 未提交验收申请。" in told["e2"], told
    assert "1. 甲公司：通过验收，给予帮扶资金2万元；\n2. 乙公司：列入帮扶名单；未提交验收申请。" in told["d1"], told["d1"]
    assert "贵单位结果为：通过验收，给予帮扶资金2万元。" in told["e1"], told["e1"]
    # Told to the enterprises alone (no superior summarised): the same.
    alone = played(Round(write(tmp_path, "alone.yaml", text.replace(
        "{any_of: [{approved_at: confirm}, {levels: [county]}]}", "{approved_at: confirm}", 1).replace("xw-2026", "xw-2026b", 1))))
    assert alone == {u: told[u] for u in ("e1", "e2")}, alone


def test_a_share_cap_says_it_was_counted_without_the_vetoed(tmp_path, home):
    """某省: 20 % of 12 enterprises, 3 vetoed, is 1 place; the second-placed read only "优秀比例不超过参评对象的20%，
    贵单位得分排名第2" and counted 2 places."""
    text = ASSESSMENT.replace(
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
        "      vetoes: [{code: acc, name: 发生重大质量安全事故, grade: 不合格}]\n"
        "      grades: [{name: 优秀, min_score: 60, share: 0.5}, {name: 合格, min_score: 60}, {name: 不合格}]")
    r = Round(write(tmp_path, "veto.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": "c5", "reviewer": "r1", "component": "veto:acc", "value": 1}])
    r.until("2016-03-31")
    told = r.letters("results")["c3"]
    assert ("说明：优秀比例不超过参评对象的50%（参评5个，一票否决的1个不计，按比例优秀名额2个），贵单位得分排名第3。"
            in told), told
    # Counted over all (share_of: all: A级不超过设区市总数的30%), the vetoed one too: 50 % of 5 is 2 places all the same,
    # and the letter says how it counted.
    every = Round(write(tmp_path, "all.yaml", text.replace("      vetoes:", "      share_of: all\n      vetoes:", 1)
                        .replace("code: county-2015\n", "code: county-2015a\n", 1)))
    every.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    with db.session_scope() as session:
        ingest_many(session=session, programme=every.p, timetable=every.t, round_id=every.id, source="test", records=[
            {"kind": "score", "unit": "c5", "reviewer": "r1", "component": "veto:acc", "value": 1, "id": "v-all"}])
    every.until("2016-03-31")
    told = every.letters("results")["c3"]
    assert "说明：优秀比例不超过参评对象的50%（参评5个，按比例优秀名额2个），贵单位得分排名第3。" in told, told


def test_a_veto_recorded_with_its_facts_is_told_with_them(tmp_path, home):
    """常德's 澧县 read "因发生较大及以上特种设备事故，实行一票否决" and not which accident; the export had the veto's name alone.
    A veto record's note (说明) is the facts: the unit's own letter and the export give them, the 通报 does not."""
    text = ASSESSMENT.replace(
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
        "      vetoes: [{code: acc, name: 发生较大及以上特种设备事故, grade: 不合格}]\n"
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]").replace(
        "      - code: report\n", "      - {code: circular, name: 印发考核结果通报, kind: notification, template: circular,"
        " on: 2016-03-31, notify: {levels: [county]}}\n      - code: report\n", 1)
    r = Round(write(tmp_path, "veto.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 70})
    with db.session_scope() as session:
        kept = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": "c5", "reviewer": "市局安全监察科", "component": "veto:acc", "value": 1,
             "payload": {"说明": "2016年2月3日五县某公司起重机械倒塌较大事故"}}])
    assert [x.status for x in kept] == ["accepted"], kept
    r.until("2016-03-31")
    told = r.letters("results")["c5"]
    assert "因发生较大及以上特种设备事故（2016年2月3日五县某公司起重机械倒塌较大事故），实行一票否决，等次定为不合格" in told, told
    assert "起重机械" not in r.letters("circular")["c1"], r.letters("circular")["c1"]  # the facts are the unit's own
    with db.session_scope() as session:
        sheet = {row["单位代码"]: row for row in next(iter(ops.result_rows(session, r.p, r.id).values()))}
    assert sheet["c5"]["否决"] == "发生较大及以上特种设备事故（2016年2月3日五县某公司起重机械倒塌较大事故）", sheet["c5"]
    # The sheet again without its 说明 column keeps the facts (it had erased them and said 重复); a new 说明 is a revision,
    # audited; a reviewer's 0 with a remark is no part of the facts; 备注 is a reviewer's own, never the letter's.
    veto = {"kind": "score", "unit": "c5", "reviewer": "市局安全监察科", "component": "veto:acc", "value": 1}
    with db.session_scope() as session:
        again = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[veto])
        changed = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {**veto, "payload": {"说明": "2016年2月3日起重机械倒塌", "备注": "待核实"}},
            {**veto, "reviewer": "复核组", "value": 0, "payload": {"说明": "经复核不属于责任事故"}}])
    assert [x.status for x in again] == ["duplicate"] and [x.status for x in changed] == ["revised", "accepted"], (
        again, changed)
    assert "说明已更新" in (changed[0].reason or ""), changed[0]
    from qcycle.lifecycle.assessing import veto_facts

    with db.session_scope() as session:
        facts = veto_facts(session, r.p, r.id, "scoring")
        audited = session.exec(select(AuditLog).where(AuditLog.action == "score:revise")).all()
    assert facts == {("c5", "acc"): "2016年2月3日起重机械倒塌"}, facts
    assert audited and audited[-1].detail.get("new_note") == "2016年2月3日起重机械倒塌", [a.detail for a in audited]


def test_a_list_reported_to_the_units_below_is_refused(tmp_path, home):
    """服务站: an officer wrote ``report`` to 通报 the 区县局, and each read "现将…报送如下…特此报告" from its own
    superior; validate said nothing. ``circular`` is the 通报."""
    report = ("      - {code: rep, name: 报送考核结果, kind: notification, template: report, on: 2016-04-01,\n"
              "         notify: {levels: [county]}, lists: {grades: [合格]}}\n")
    text = ASSESSMENT.replace("      - {code: summons,", report + "      - {code: summons,", 1)
    with pytest.raises(ConfigError, match=r"“报送考核结果”（template: report）是向上级报送名单（“特此报告”），而收件单位"
                                          r"一县人民政府、二县人民政府、三县人民政府等是发文单位的下级；向下级通报结果请用 template: circular"):
        write(tmp_path, "down.yaml", text)
    write(tmp_path, "up.yaml", WITH_GOV.replace("      - {code: summons,", report.replace("levels: [county]", "units: [gov]")
                                                + "      - {code: summons,", 1))  # to the government: fine


def test_a_share_of_those_passing_is_said_as_such_in_the_letters(tmp_path, home):
    """江西's 标准化: "AAAAA级比例不超过参评对象的10%" of a cap counted over those confirmed."""
    text = ASSESSMENT.replace("grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
                              "share_of: passing\n      grades: [{name: 优秀, min_score: 90, share: 0.3}, "
                              "{name: 合格, min_score: 60}, {name: 不合格}]")
    r = _scored(tmp_path, text, "2016-04-05")  # 95, 80, 62 reach 60: 30 % of 3 is no place
    with db.session_scope() as session:
        rows = crud.list_results(session=session, round_id=r.id)
    from qcycle.lifecycle.remarks import graded_together
    assert {x.unit_code: x.grade for x in rows} == {"c1": "合格", "c2": "合格", "c3": "合格", "c4": "不合格", "c5": "不合格"}
    assert {u: g.counted for u, g in graded_together(r.p, rows).items()} == dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 3)
    assert ("说明：优秀比例不超过得分达到60分的单位的30%（得分达到60分的单位3个，按比例优秀名额不足1个），贵单位得分排名第1。"
            in r.letters("results")["c1"]), r.letters("results")["c1"]


def test_late_and_never_handed_in_are_counted_apart_where_the_rules_say(tmp_path, home):
    """某市: "逾期报送的每次扣2分" docked a report that never came, and its letter said "逾期报送1次";
    ``counts`` tells a late hand-in from none at all."""
    text = _quarterly("        reminders: std\n",
                      "      deductions:\n"
                      "        - {code: late, name: 进度报告逾期报送, points: 2, late_at: progress, counts: late}\n"
                      "        - {code: none, name: 进度报告未报送, points: 5, late_at: progress, counts: missing}\n")
    r = Round(write(tmp_path, "late.yaml", text))
    _quarters_handed_in(r)
    r.scores(dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 80))
    r.until("2016-03-31")
    with db.session_scope() as session:
        totals = {x.unit_code: x.total for x in crud.list_results(session=session, round_id=r.id)}
    assert totals == {"c1": 80, "c2": 78, "c3": 70, "c4": 76, "c5": 80}
    told = r.letters("results")
    assert "进度报告未报送2次（第一期、第二期），扣10分" in told["c3"] and "逾期报送" not in told["c3"], told["c3"]
    assert "未提交" not in told["c3"], told["c3"]  # the deduction says it: not said again beside the grade
    assert "进度报告逾期报送2次（第一期、第二期），扣4分" in told["c4"] and "未报送" not in told["c4"], told["c4"]
    # The letters asking for the report say what the rules deduct (某省's cities learnt it from their results).
    with db.session_scope() as session:
        asked = session.exec(select(OutboxMessage.subject, OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c3",
            OutboxMessage.action.startswith("progress:"))).all()
    # When late turns into missing, where the two cost apart (某市's bureaus could not tell 1 point from 2).
    costs = "按考核规定，逾期报送的，每次扣2分；未报送的，每次扣5分；截至2016年3月25日考核时仍未报送的，按未报送计。"
    kinds = {s[:s.index("】") + 1] for s, _ in asked}
    assert kinds >= {"【受理】", "【提醒】", "【逾期提醒】", "【督办】"}, kinds
    assert all(costs in body for _, body in asked), asked
    # A unit owing the report and not assessed (a 统计局 beside the counties) is not told of the points.
    c5 = "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n"
    dept_text = text.replace(
        c5, c5 + "      - {code: stats, name: 示例市统计局, level: department, parent: city, channels: [sink]}\n", 1).replace(
        "        owed_by: {levels: [county]}\n        reminders: std\n",
        "        owed_by: {levels: [county, department]}\n        reminders: std\n", 1).replace(
        "code: county-2015", "code: dept-2015", 1)
    with_dept = Round(write(tmp_path, "dept.yaml", dept_text))
    with_dept.until("2016-01-04")
    opened = with_dept.letters("progress")
    assert costs in opened["c1"] and "扣" not in opened["stats"], opened
    # A call that opens the window the same day says it too (no opening letter of its own follows it).
    called = Round(write(tmp_path, "call.yaml", dept_text.replace(
        "    stages:\n", "    stages:\n      - {code: launch, name: 部署考核工作, kind: publication, on: 2016-01-04,"
        " notify: {levels: [county, department]}}\n", 1).replace("code: dept-2015", "code: call-2015", 1)))
    called.until("2016-01-04")
    launch = called.letters("launch")
    assert "季度进展报告" in launch["c1"] and costs in launch["c1"], launch["c1"]
    assert "季度进展报告" in launch["stats"] and "扣" not in launch["stats"], launch["stats"]
    same = text.replace("points: 5, late_at: progress, counts: missing", "points: 2, late_at: progress, counts: missing")
    assert lateness_costs(write(tmp_path, "same.yaml", same).programme, "progress") == \
        "按考核规定，逾期报送或未报送的，每次扣2分。"
    # A round named for its 检查 (results: 检查结果) still deducts by its assessment's rules: not "按检查规定".
    checked = text.replace("name: 2015年度县级质量工作考核", "name: 2015年度县级质量工作落实情况检查", 1)
    assert lateness_costs(write(tmp_path, "check.yaml", checked).programme, "progress") == costs
    assert all(costs not in body for body in told.values()), told
    with pytest.raises(ConfigError, match="counts（按逾期或未报送计次）只与 late_at 一起使用"):
        write(tmp_path, "bare.yaml", text.replace("late_at: progress, counts: late", "counts: late"))


def test_a_score_counted_down_from_a_base_needs_no_component(tmp_path, home):
    """月调度: "100分起，每逾期一次扣2分，未报送一次扣5分" could only be written with a 基础分 part an officer
    had to score by hand (the simulation scored it at random: 94 became 68.20). ``base`` starts every
    subject there; nothing is scored."""
    text = _quarterly("        reminders: std\n",
                      "      deductions:\n"
                      "        - {code: late, name: 进度报告逾期报送, points: 2, late_at: progress, counts: late}\n"
                      "        - {code: none, name: 进度报告未报送, points: 5, late_at: progress, counts: missing}\n"
                      ).replace("      components: [{code: all, name: 综合评分, weight: 1}]\n", "      base: 100\n", 1)
    assert "base: 100" in text
    r = Round(write(tmp_path, "base.yaml", text))
    _quarters_handed_in(r)  # c2 late once, c4 late twice, c3 never: nobody scores anything
    r.until("2016-03-31")
    with db.session_scope() as session:
        totals = {x.unit_code: x.total for x in crud.list_results(session=session, round_id=r.id)}
    assert totals == {"c1": 100, "c2": 98, "c3": 90, "c4": 96, "c5": 100}, totals
    told = r.letters("results")["c4"]
    assert "合格（得分96.00，已扣4分）" in told and "进度报告逾期报送2次（第一期、第二期），扣4分" in told, told
    assert "各部分得分" not in told, told


def test_a_part_scored_by_its_deductions_starts_full_and_loses_them_within_it(tmp_path, home):
    """绩效评价's 进度报送 20 分 (每缺报一次扣5分、逾期一次扣2分) and 首席质量官's 培训出勤 20 分 could only be written as a
    part the experts score plus deductions from the total: a late report cost twice (06's 54.82, 不合格, funds recovered,
    where the rule gives 63.33). A part with ``source: deductions`` starts full and loses its items within it."""
    text = _quarterly("        lateness: accept_flag\n",
                      "      deductions:\n"
                      "        - {code: missing, name: 进度报告未报送, points: 5, late_at: progress, counts: missing, part: reporting}\n"
                      "        - {code: late, name: 进度报告逾期报送, points: 2, late_at: progress, counts: late, part: reporting}\n"
                      ).replace("      components: [{code: all, name: 综合评分, weight: 1}]\n",
                                "      components:\n"
                                "        - {code: all, name: 工作成效, max_points: 80}\n"
                                "        - {code: reporting, name: 进度报送, max_points: 20, source: deductions}\n", 1)
    r = Round(write(tmp_path, "parts.yaml", text))
    _quarters_handed_in(r)  # c2 late once, c4 late twice, c3 never
    r.scores(dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 80))
    with db.session_scope() as session:  # the part is counted, not scored
        kept = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": "c1", "reviewer": "r1", "component": "reporting", "value": 90}])
    assert kept[0].status == "quarantined" and "按计入它的扣分项计分，不收评分记录" in (kept[0].reason or ""), kept[0]
    r.until("2016-03-31")
    with db.session_scope() as session:
        got = {x.unit_code: (x.components, x.deduction, x.total) for x in crud.list_results(session=session, round_id=r.id)}
    assert got["c1"] == ({"all": 64.0, "reporting": 20.0}, 0.0, 84.0), got
    assert got["c4"] == ({"all": 64.0, "reporting": 16.0}, 0.0, 80.0), got  # late twice: 2 × 2 within the part
    assert got["c3"] == ({"all": 64.0, "reporting": 10.0}, 0.0, 74.0), got  # never: 2 × 5
    told = r.letters("results")["c4"]
    assert "进度报送16.00分" in told and "已扣" not in told and "“进度报送”扣4分" in told, told
    with db.session_scope() as session:  # the sheet counts each item too (常德's read 扣分 0.00 and nothing of why)
        sheet = {row["单位代码"]: row for row in next(iter(ops.result_rows(session, r.p, r.id).values()))}
    assert (sheet["c4"]["进度报告逾期报送（次）"], sheet["c4"]["进度报告未报送（次）"]) == (2, 0), sheet["c4"]
    assert (sheet["c3"]["进度报告逾期报送（次）"], sheet["c3"]["进度报告未报送（次）"]) == (0, 2), sheet["c3"]
    # The letters asking for the reports say the part is lost at worst (包保督导's towns never read "扣完为止").
    assert lateness_costs(r.p, "progress") == ("按考核规定，未报送的，每次扣5分；逾期报送的，每次扣2分；截至2016年3月25日考核时"
                                               "仍未报送的，按未报送计；“进度报送”部分20分，扣完为止。"), lateness_costs(r.p, "progress")
    with pytest.raises(ConfigError, match="不是 source: deductions 的评分部分"):
        write(tmp_path, "bad.yaml", text.replace("part: reporting}", "part: all}", 1))
    # Taken past its points, the part stops at 0 and says so (c3's two reports never sent, 15 each, of 20).
    steep = Round(write(tmp_path, "steep.yaml", text.replace("name: 进度报告未报送, points: 5,", "name: 进度报告未报送, points: 15,", 1)
                        .replace("code: county-2015\n", "code: county-2015s\n", 1)))
    _quarters_handed_in(steep)
    steep.scores(dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 80))
    steep.until("2016-03-31")
    told = steep.letters("results")["c3"]
    assert "进度报送0.00分" in told and "“进度报送”扣30分（“进度报送”扣完为止，以0分计）" in told, told


def test_a_deadline_after_the_last_assessment_is_not_told_what_lateness_costs(tmp_path, home):
    """服务站: the fourth quarter, due in January after the December scoring, read "逾期报送的，每次扣2分"
    in its opening, reminder and overdue notice, and nothing ever deducted it; validate says so too."""
    from qcycle.timetable.checks import check_dates

    text = _quarterly("        reminders: std\n",
                      "      deductions: [{code: late, name: 进度报告逾期报送, points: 2, late_at: progress}]\n"
                      ).replace("{code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}",
                                "{code: scoring, name: 考核评分, kind: assessment, on: 2016-02-05}", 1)
    loaded = write(tmp_path, "q.yaml", text)
    _, warnings = check_dates(loaded.programme)
    hint = ("“季度进展报告”第二期（2016-02-26截止）在最后一次考核（2016-02-05）之后："
            "扣分项“进度报告逾期报送”不计这一期，其受理、提醒、逾期函件不写扣分规定")
    assert ("assessment.deductions[0].late_at", hint) in warnings, warnings
    r = Round(loaded)
    r.scores(dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 80))
    r.until("2016-03-04")  # nobody reports: openings, reminders and overdue notices of both quarters
    with db.session_scope() as session:
        asked = session.exec(select(OutboxMessage.logical_date, OutboxMessage.subject, OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c1")).all()
    costs = "按考核规定，逾期报送或未报送的，每次扣2分。"
    first = [body for day, _, body in asked if day < dt.date(2016, 2, 5)]
    second = [body for day, _, body in asked if day >= dt.date(2016, 2, 5) and "季度进展报告" in body]
    assert first and all(costs in body for body in first), first
    assert len(second) >= 3 and all("扣" not in body for body in second), second
    # A launch listing both quarters says the cost of the first only (首席质量官's launch had told a
    # fourth-quarter record, due after the scoring, cost 5 points).
    launch = Round(write(tmp_path, "launch.yaml", text.replace("    stages:\n", (
        "    stages:\n      - {code: launch, name: 启动考核工作, kind: publication, on: 2015-12-30, "
        "notify: {levels: [county]}}\n"), 1).replace("code: county-2015", "code: county-2015b", 1).replace(
        "years: [2016]", "years: [2015, 2016]", 1)))
    launch.until("2015-12-30")
    told = launch.letters("launch")["c1"]
    assert ("季度进展报告：第一期于2016年1月15日前、第二期于2016年2月26日前（按考核规定，逾期报送或未报送的，每次扣2分。"
            "第二期截止时间在考核之后，不在此列）") in told, told


def test_a_late_at_deduction_counts_only_what_was_due_by_its_own_assessment(tmp_path, home):
    """An assessment dated per category (甲类 on 1 February, 乙类 on 25 March) docked every county at the
    first for a quarter due on 26 February; a report met on time and corrected after its deadline was
    docked as late. Each assessment counts the deadlines of its own category up to its own moment, and a
    deadline met is met."""
    from qcycle.lifecycle.assessing import _late_counts
    from qcycle.lifecycle.wording import NOT_HANDED_IN

    text = ASSESSMENT.replace("    stages:\n", """    categories:
      - {code: ca, name: 甲类, items: [{code: a1, name: 甲项目}]}
      - {code: cb, name: 乙类, items: [{code: b1, name: 乙项目}]}
    stages:
      - code: progress
        name: 季度进展报告
        kind: submission
        submission: progress_report
        owed_by: {levels: [county]}
        lateness: accept_flag
        identity: {key: [unit, period], on_change: revise}
        periods:
          - {code: q1, opens: 2016-01-04, deadline: {date: 2016-01-15}}
          - {code: q2, opens: 2016-02-15, deadline: {date: 2016-02-26}}
""", 1).replace("      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}\n",
                "      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-02-01, per_category: {cb: {on: 2016-03-25}}}\n",
                1).replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                           "      deductions: [{code: late, name: 进度报送逾期, points: 2, late_at: progress}]\n"
                           "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    assert "per_category: {cb:" in text
    r = Round(write(tmp_path, "late.yaml", text))
    r.hand_in("progress_report", ["c1", "c2", "c3", "c4", "c5"], "2016-01-12", period="q1")
    with db.session_scope() as session:  # met, then revised late
        revised = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "progress_report", "unit": "c1", "submitted_at": "2016-01-20T10:00:00+08:00", "id": "progress_report-c1",
             "period": "q1", "payload": {"note": "更正"}}])
    assert revised[0].status == "revised", revised
    first, second = sorted((a for a in r.t.actions if a.action == "assess"), key=lambda a: a.at)
    with db.session_scope() as session:
        assert _late_counts(session, r.p, r.id, first) == {"late": {}}  # q2 was not due by 1 February
        # None handed q2 in: counted as missing (``late_or_missing``, the default), not late.
        assert _late_counts(session, r.p, r.id, second) == {"late": {u: [NOT_HANDED_IN + "q2"]
                                                                     for u in ["c1", "c2", "c3", "c4", "c5"]}}


@pytest.mark.parametrize(("where", "item", "said"), [
    ("deductions", "{code: late, name: 迟报, points: 1, late_at: scoring}",
     "[assessment.deductions[0].late_at]: 阶段 'scoring' 不是应交材料的阶段"),
    ("bonuses", "{code: early, name: 早报, points: 1, late_at: report}",
     "[assessment.bonuses[0].late_at]: late_at 按逾期计次，只用于扣分项（deductions）")])
def test_late_at_names_a_window_and_only_deducts(tmp_path, where, item, said):
    text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                              f"      {where}: [{item}]\n      grades: [{{name: 合格, min_score: 60}}, {{name: 不合格}}]\n", 1)
    assert "late_at" in text
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "late.yaml", text)
    (problem,) = exc.value.problems
    assert f"[{problem.path}]: {problem.message}".startswith(said), str(exc.value)


def test_counties_of_two_classes_are_ranked_apart_by_their_group(tmp_path, home):
    """某省's 市辖区 and 县（市） are all county-level governments, ranked and capped apart (A级 at most 20%
    of each class): ranked together, a 县（市）'s second got an A that belonged to the other class.
    ``rank_within: group`` ranks by ``units[].group``, and letters name the class."""
    text = ASSESSMENT
    for code, group in (("c1", "市辖区"), ("c2", "市辖区"), ("c3", "市辖区"), ("c4", "县（市）"), ("c5", "县（市）")):
        text = re.sub(rf"(\{{code: {code}, name: [^,]+, level: county, parent: city), channels",
                      rf"\1, group: {group}, channels", text, count=1)
    text = text.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                        "      rank_within: group\n"
                        "      grades: [{name: 优秀, min_score: 90, max_count: 1}, {name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    assert text.count("group: ") == 5, text
    # The first of each class is praised: for its place, which its grade (合格) would not say; and the
    # list reported upward keeps each class together (ranks restart in each).
    text = text.replace("      - code: report\n", "      - {code: praise, name: 通报表扬, kind: notification, template: praise,"
                        " on: 2016-03-31, notify: {rank: {top: 1}}}\n"
                        "      - {code: upward, name: 报送合格以上名单, kind: notification, template: report, on: 2016-03-31,"
                        " notify: {units: [gov]}, lists: {grades: [优秀, 合格]}}\n      - code: report\n", 1).replace(
        "    units:\n", "    units:\n      - {code: gov, name: 示例市人民政府, level: government, channels: [sink]}\n", 1)
    r = Round(write(tmp_path, "classes.yaml", text))
    r.scores({"c1": 95, "c2": 93, "c3": 62, "c4": 55, "c5": 72})
    r.until("2016-03-31")
    with db.session_scope() as session:
        grades = {x.unit_code: (x.rank, x.grade) for x in crud.list_results(session=session, round_id=r.id)}
    assert grades == {"c1": (1, "优秀"), "c2": (2, "合格"), "c3": (3, "合格"), "c5": (1, "合格"), "c4": (2, "不合格")}
    told = r.letters("results")
    assert "说明：市辖区优秀名额不超过1个，贵单位得分在市辖区中排名第2。" in told["c2"], told["c2"]
    praised = r.letters("praise")
    assert sorted(praised) == ["c1", "c5"]
    assert "贵单位在2015年度县级质量工作考核中排名县（市）第1，成绩突出，现予通报表扬。" in praised["c5"], praised["c5"]
    assert "排名市辖区第1" in praised["c1"] and "被评为" not in praised["c5"]
    assert ("1. 一县人民政府（优秀，得分95.00）；\n2. 二县人民政府（合格，得分93.00）；\n3. 三县人民政府（合格，得分62.00）；\n"
            "4. 五县人民政府（合格，得分72.00）。") in r.letters("upward")["gov"], r.letters("upward")["gov"]
    with db.session_scope() as session:  # the export keeps each class together too (领跑者's were mixed by 名次)
        sheet = next(iter(ops.result_rows(session, r.p, r.id).values()))
    assert [(row["排名组"], row["名次"]) for row in sheet] == [
        ("市辖区", 1), ("市辖区", 2), ("市辖区", 3), ("县（市）", 1), ("县（市）", 2)], sheet
    ungrouped = text.replace(", group: 县（市）", "", 1)
    with pytest.raises(ConfigError, match="单位 c4（四县人民政府）没有 group"):
        write(tmp_path, "ungrouped.yaml", ungrouped)
    with pytest.raises(ConfigError, match="group 只在 assessment.rank_within: group 时使用"):
        write(tmp_path, "unused.yaml", text.replace("      rank_within: group\n", "", 1))


@pytest.mark.parametrize("ties", ["components_in_order", "shared_in"])
def test_a_tie_at_a_caps_last_place_is_said_or_taken_in_whole(tmp_path, home, ties):
    """江城's 白河县 scored 91.00 like two 优秀 and read only "优秀名额不超过3个，贵单位得分排名第4": the
    tie rule that placed it is said. 某市's QC小组 rule takes a tie in whole (并列的一并评入): ``shared_in``."""
    text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                              "      grades: [{name: 优秀, min_score: 90, max_count: 1}, {name: 合格, min_score: 60}, {name: 不合格}]\n"
                              f"      ties: {ties}\n", 1)
    assert text != ASSESSMENT
    r = Round(write(tmp_path, "tie.yaml", text))
    r.scores({"c1": 95, "c2": 95, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-03-31")
    told = r.letters("results")
    if ties == "shared_in":
        assert "结果为：优秀（得分95.00）" in told["c1"] and "结果为：优秀（得分95.00）" in told["c2"], told["c2"]
        assert "排在其后" not in told["c2"]
    else:
        assert "结果为：优秀（得分95.00）" in told["c1"] and "结果为：合格（得分95.00）" in told["c2"], told["c2"]
        assert "说明：优秀名额不超过1个，贵单位得分排名第2（与获评优秀的单位同分，按单位代码排在其后）。" in told["c2"], told["c2"]
        assert "同分" not in told["c3"]


def test_a_tie_may_go_to_the_unit_that_applied_first(tmp_path, home):
    """领跑者: "同分时先申报者在前"; by unit code, the firm that lost the tie would have read "按单位代码排在其后", a reason
    it could not be given. ``ties: submitted_first``: the earlier hand-in ranks first, and the letter says so."""
    text = AWARD.replace("      result_label: 评审结果\n", "      result_label: 评审结果\n      ties: submitted_first\n", 1)
    r = Round(write(tmp_path, "first.yaml", text))
    r.hand_in("application", ["e2"], "2023-03-10")
    r.hand_in("application", ["e1", "e3"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="approved", e3="approved")
    r.decide("documents", e1="approved", e2="approved", e3="approved")
    r.scores({"e1": 85, "e2": 85, "e3": 60})
    r.until("2023-04-18")
    with db.session_scope() as session:
        ranked = {x.unit_code: (x.rank, x.grade) for x in crud.list_results(session=session, round_id=r.id)}
    assert ranked["e2"] == (1, "区长质量奖") and ranked["e1"] == (2, "提名奖"), ranked  # e1 comes first by unit code
    r.until("2023-05-16")
    told = r.letters("results")["e1"]
    assert "（与获评区长质量奖的单位同分，按申报时间先后排在其后）" in told, told


def test_a_step_taking_fewer_places_than_the_grades_is_hinted(tmp_path, home):
    """标准创新贡献奖: 9 award places and a 答辩 of the top 8: the ninth was told it won 三等奖 without any 答辩."""
    from qcycle.timetable.checks import check_dates

    text = AWARD.replace("among: {grades: [区长质量奖, 提名奖]}}", "among: {rank: {top: 2}}}", 1)
    assert "among: {rank: {top: 2}}" in text
    _, warnings = check_dates(write(tmp_path, "top.yaml", text).programme)
    said = dict(warnings).get("stages[4].among", "")
    assert "“评审委员会审议”只对前2名作决定，而等次名额合计3个：第3名起可不经“评审委员会审议”获评提名奖" in said, warnings
    _, fine = check_dates(write(tmp_path, "top3.yaml", text.replace("{rank: {top: 2}}", "{rank: {top: 3}}", 1)).programme)
    assert "stages[4].among" not in dict(fine), fine


def test_a_tie_placed_by_unit_code_says_so_not_the_components(tmp_path, home):
    """某市's letter read "与获评优秀的单位同分，按质量提升得分排在其后" where the 质量提升 scores were
    equal too and the unit code had decided: the rule said is the one that placed it."""
    text = ASSESSMENT.replace(
        "      components: [{code: all, name: 综合评分, weight: 1}]\n"
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
        "      components: [{code: up, name: 质量提升, weight: 0.5}, {code: base, name: 质量基础, weight: 0.5}]\n"
        "      grades: [{name: 优秀, min_score: 90, max_count: 1}, {name: 合格, min_score: 60}, {name: 不合格}]\n"
        "      ties: components_in_order\n", 1)
    assert text != ASSESSMENT
    r = Round(write(tmp_path, "tie.yaml", text))
    values = {"c1": (100, 90), "c2": (90, 100), "c3": (100, 90), "c4": (60, 60), "c5": (50, 50)}
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": u, "reviewer": "r1", "component": c, "value": v}
            for u, (up, base) in values.items() for c, v in (("up", up), ("base", base))])
    r.until("2016-03-31")
    told = r.letters("results")
    assert "结果为：优秀（得分95.00）" in told["c1"], told["c1"]
    # c3 equals c1 on every component: its code placed it; c2 is below on 质量提升.
    assert "贵单位得分排名第2（与获评优秀的单位同分，按单位代码排在其后）。" in told["c3"], told["c3"]
    assert ("贵单位得分排名第3（与获评优秀的单位同分，按质量提升、质量基础得分依次比较排在其后）。"
            in told["c2"]), told["c2"]


@pytest.mark.parametrize(("names", "rule"), [
    (("质量提升", "质量基础"), "按质量提升、质量基础得分依次比较"),
    (("现场发表评分", "成果报告评分"), "按现场发表评分、成果报告评分依次比较"),
    (("现场发表评分",), "按现场发表评分")])
def test_a_tie_rule_names_its_parts_as_scores_once(tmp_path, names, rule):
    """某市's QC contest read "按现场发表评分得分排在其后"."""
    from qcycle.lifecycle.remarks import _tie_rule

    parts = ", ".join(f"{{code: k{i}, name: {n}, weight: {1 / len(names)}}}" for i, n in enumerate(names))
    text = ASSESSMENT.replace("      components: [{code: all, name: 综合评分, weight: 1}]\n",
                              f"      components: [{parts}]\n      ties: components_in_order\n"
                              + ("      tie_order: [k0]\n" if len(names) == 1 else ""), 1)
    if len(names) == 1:
        text = text.replace("weight: 1.0}]", "weight: 0.5}, {code: z, name: 其他, weight: 0.5}]")
    assert _tie_rule(write(tmp_path, "tie.yaml", text).programme) == rule


def test_what_a_rejection_brings_is_told_with_it(tmp_path, home):
    """某市's 撤销 letter read "…未通过整改报告审核（理由）。特此告知。": the 立项 withdrawn went unsaid,
    the language had no way to say it. ``on_rejection`` is told beside the verdict, where it is."""
    told = ("      - {code: review_result, name: 整改情况审核结果, kind: notification, template: step_result,\n"
            "         after: {stage: report_review, event: on, workdays: 1}, notify: {rejected_at: report_review}}\n")
    # A later step (a 年度审定 of the results) does not make the review's letter say "不再参加后续环节": a
    # rejected report leaves the unit in the round.
    later = ("      - {code: final, name: 年度审定, kind: decision, decides: scoring,\n"
             "         after: {stage: report_review, event: on, workdays: 5}}\n")
    text = ASSESSMENT.replace("      - {code: summons,", told + later + "      - {code: summons,", 1).replace(
        "kind: decision, decides: report,", "kind: decision, decides: report, tell_reason: true, on_rejection: 予以通报批评,", 1)
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c4", "c5"], "2016-04-20")
    r.until("2016-05-06")
    r.decide("report_review", c4="approved")
    r.decide("report_review", note="整改措施不具体", c5="rejected")
    r.until("2016-05-31")
    letters = r.letters("review_result")
    assert sorted(letters) == ["c5"]
    assert "贵单位在2015年度县级质量工作考核中未通过整改情况审核（整改措施不具体），予以通报批评。特此告知。" in letters["c5"], letters
    assert "予以通报批评" in r.letters("summons")["c5"]
    with pytest.raises(ConfigError, match="on_rejection、on_approval、eliminates、rejects_missing 只用于 decision 阶段"):
        write(tmp_path, "bad.yaml", text.replace("template: step_result,", "template: step_result, on_rejection: 撤销,", 1))


def test_what_an_approval_brings_is_told_with_it(tmp_path, home):
    """小微企业帮扶: an enterprise passing 验收 read "贵单位在…中通过验收。特此告知。" and never heard of its
    2万元 grant; ``on_approval`` is told beside the verdict, as ``on_rejection`` is."""
    told = ("      - {code: review_result, name: 整改情况审核结果, kind: notification, template: step_result,\n"
            "         after: {stage: report_review, event: on, workdays: 1}, notify: {approved_at: report_review}}\n")
    text = ASSESSMENT.replace("      - {code: summons,", told + "      - {code: summons,", 1).replace(
        "kind: decision, decides: report,", "kind: decision, decides: report, on_approval: 给予帮扶资金2万元,", 1)
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c4", "c5"], "2016-04-20")
    r.until("2016-05-06")
    r.decide("report_review", c4="approved", c5="rejected")
    r.until("2016-05-31")
    letters = r.letters("review_result")
    assert sorted(letters) == ["c4"], letters
    assert "贵单位在2015年度县级质量工作考核中通过整改情况审核，给予帮扶资金2万元。" in letters["c4"], letters
    with pytest.raises(ConfigError, match="on_rejection、on_approval、eliminates、rejects_missing 只用于 decision 阶段"):
        write(tmp_path, "bad2.yaml", text.replace("template: step_result,", "template: step_result, on_approval: 奖励,", 1))


def test_a_rectification_report_goes_to_the_unit_the_programme_names(tmp_path, home):
    """焦作: D级县区 report in writing to the city government, not to the office that writes."""
    text = ASSESSMENT.replace(
        "      - {code: c1,", "      - {code: gov, name: 示例市人民政府, level: government, channels: [sink]}\n"
                             "      - {code: c1,", 1).replace(
        "        submission: rectification_report\n", "        submission: rectification_report\n        report_to: gov\n"
                                                  "        requirements: [逐项分析失分原因。, 整改情况纳入下一年度考核]\n", 1)
    r = _scored(tmp_path, text, "2016-04-05")
    letter = r.letters("report")["c5"]
    assert "前将书面整改报告报送示例市人民政府。" in letter, letter
    assert "整改要求：\n1. 逐项分析失分原因；\n2. 整改情况纳入下一年度考核。" in letter, letter
    assert letter.rstrip().splitlines()[-2] == "示例市质量强市工作领导小组办公室"  # still the office's letter
    # The government is told who owes it a report, why and by when (设区市考核's 省政府 had heard nothing), as a report.
    told = r.letters("report")["gov"]
    assert ("根据2015年度县级质量工作考核工作安排，以下3个单位须于2016年5月3日（星期二）17:30（原定4月30日，遇休息日顺延）"
            "前向贵单位报送书面整改报告：\n1. 三县人民政府：排名后3名（第3名）；") in told, told
    # Written up to its superior, the office asks, it does not instruct (焦作市人民政府 read "请将收件情况告知…").
    assert "收到后，烦请将收件情况告知示例市质量强市工作领导小组办公室，以便登记。特此报告。" in told, told
    with pytest.raises(ConfigError) as misplaced_requirements:
        write(tmp_path, "requirements.yaml", text.replace(
            "template: result, on: 2016-03-31,", "template: result, requirements: [整改], on: 2016-03-31,"))
    assert "requirements（整改要求）只用于 followup（整改）阶段" in str(misplaced_requirements.value)
    with pytest.raises(ConfigError) as unknown:
        write(tmp_path, "unknown.yaml", text.replace("report_to: gov", "report_to: govt"))
    assert "report_to" in str(unknown.value) and "'govt' 未定义" in str(unknown.value)
    with pytest.raises(ConfigError) as misplaced:
        write(tmp_path, "misplaced.yaml", text.replace(
            "template: result, on: 2016-03-31,", "template: result, report_to: gov, on: 2016-03-31,"))
    assert "report_to（材料报送的单位）只用于 submission/followup 阶段" in str(misplaced.value)


def test_an_assessment_inside_its_period_is_a_hint_naming_both_dates(tmp_path):
    """常德's counties are assessed on 12月20日 for their year; refused, the file had to drop its period. A hint now."""
    from qcycle.timetable.checks import check_dates

    early = write(tmp_path, "early.yaml", ASSESSMENT.replace("end: 2015-12-31", "end: 2016-06-30")).programme
    errors, warnings = check_dates(early)
    assert not errors, errors
    assert "考核“考核评分”定于 2016-03-25，考核期到 2016-06-30 才结束：考核日之后的报送和截止不计入本次考核" in dict(
        warnings).get("stages[0]", ""), warnings


def test_eligibility_reads_an_earlier_rounds_winners(tmp_path, home):
    # In 2021 the district government approved what the committee passed (a decision on a decision).
    approval = ("      - {code: approval, name: 区政府审定, kind: decision, decides: committee, on: 2023-05-02}\n"
                "      - {code: notice,")
    earlier = Round(write(tmp_path, "award-2021.yaml", AWARD.replace("award-2023", "award-2021")
                          .replace("2023年度", "2021年度").replace("years: [2023]", "years: [2021]")
                          .replace("      - {code: notice,", approval, 1).replace("2023-", "2021-")))
    with db.session_scope() as session:  # graded at its assessment's moment, as its action saves them
        crud.save_results(session=session, round_id=earlier.id, stage="scoring",
                          computed_at=at(dt.date(2021, 4, 18), dt.time(9, 0)), results=[
            {"unit_code": "e1", "total": 90, "grade": "区长质量奖", "rank": 1},
            {"unit_code": "e4", "total": 85, "grade": "区长质量奖", "rank": 2},
            {"unit_code": "e5", "total": 80, "grade": "区长质量奖", "rank": 3},
            {"unit_code": "e2", "total": 75, "grade": "提名奖", "rank": 4},
            {"unit_code": "e3", "total": 50, "grade": "未获奖", "rank": 5}])
    # The committee refused the second graded candidate, the government the third: both awards
    # stayed vacant.
    earlier.decide("committee", e1="approved", e4="rejected", e5="approved", e2="approved")
    with db.session_scope() as session:  # before the government decides, the sheet says it waits
        waiting = ops.result_rows(session, earlier.p, earlier.id)["评审打分"]
    # 未获奖 goes to neither step (the committee decides among the awards): it waits for nothing.
    assert [r["最终结果"] for r in waiting] == ["区长质量奖（待区政府审定）", "评审委员会审议未通过",
                                              "区长质量奖（待区政府审定）", "提名奖（待区政府审定）", "未获奖"]
    earlier.decide("approval", e1="approved", e5="rejected", e2="approved")
    with db.session_scope() as session:  # and the results sheet says so beside the grade
        sheet = ops.result_rows(session, earlier.p, earlier.id)["评审打分"]
        assert crud.round_tallies(session=session, round_id=earlier.id)["refused"] == {"区长质量奖": 2}
    assert [(r["单位代码"], r["等次"], r["评审委员会审议"], r["区政府审定"]) for r in sheet] == [
        ("e1", "区长质量奖", "通过", "通过"), ("e4", "区长质量奖", "未通过", ""),
        ("e5", "区长质量奖", "通过", "未通过"), ("e2", "提名奖", "通过", "通过"), ("e3", "未获奖", "", "")]
    # What each holds, read without working through the columns (a reader took 等次 for the award).
    assert [r["最终结果"] for r in sheet] == ["区长质量奖", "评审委员会审议未通过", "区政府审定未通过", "提名奖", "未获奖"]
    rule = ("        reminders: std\n        eligibility:\n"
            "          not_awarded: {grades: [区长质量奖], years: 5}\n")
    later = Round(write(tmp_path, "award-2023.yaml", AWARD.replace("        reminders: std\n", rule, 1)))
    later.hand_in("application", ["e1", "e2", "e3", "e4", "e5"], "2023-03-20")
    later.until("2023-04-04")
    # The 2021 winner may apply again from 2026 only; a 2021 nomination is no obstacle, nor a
    # grade the committee or the government refused (e4 and e5 never held the award).
    assert later.pending("eligibility") == ["e2", "e3", "e4", "e5"]
    with db.session_scope() as session:
        refused = session.exec(select(Decision).where(Decision.round_id == later.id,
                                                      Decision.stage == "eligibility")).one()
    assert (refused.subject, refused.outcome, refused.decided_by) == ("e1", "rejected", "rule:eligibility")
    assert "2021年已获示例区长质量奖，" in refused.note and "2026年起" in refused.note
    # It may not apply: it is told so when applications open, and not reminded to apply, as the
    # others who have not applied are.
    later.until("2023-03-31")
    with db.session_scope() as session:
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == later.id)).all()
    told = {(m.unit_code, m.action.split(":")[1].split("@")[0]) for m in sent if m.action.startswith("application:")}
    assert {a for u, a in told if u == "e1"} == {"window_open"} and ("e6", "reminder") in told, sorted(told)
    [(subject, opened)] = [(m.subject, m.body) for m in sent if m.unit_code == "e1"]
    assert ("按规定，贵单位本届不符合申报条件：2021年已获示例区长质量奖，获奖满5年后（2026年起）方可再次申报。"
            in opened and "自愿参加" not in opened), opened
    # Its subject is not an invitation ("申报开始受理，2023年3月31日截止").
    assert subject == "【受理】2023年度示例区长质量奖：本届申报资格告知", subject
    assert "award-2021" not in refused.note  # the award and its year, not the earlier round's code


def test_months_roll_and_by_dates(tmp_path):
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 11, 30), 3) == dt.date(2024, 2, 29)
    text = ASSESSMENT.replace("on: 2016-03-25}", "by: 2016-03-27}")  # a Sunday: held the Friday before
    loaded = write(tmp_path, "by.yaml", text)
    scoring = expand(loaded.programme, WorkCalendar()).by_name()["scoring:assess"]
    # "不晚于3月27日" held on the 25th is on time, not moved: no "（原定…，遇休息日提前）" for the units.
    assert scoring.at.date() == dt.date(2016, 3, 25) and scoring.title == "考核评分"
    # A point event fixed on a day off is allowed, with a notice naming the weekday.
    loaded = write(tmp_path, "sat.yaml", ASSESSMENT.replace("on: 2016-03-25}", "on: 2016-03-26}"))
    assert any("2016-03-26（周六）不是工作日" in str(n) for n in loaded.notices)


def test_every_action_kind_is_planned_handled_and_labelled():
    assert set(HANDLERS) == set(ACTION_KINDS)
    assert all(kind.label and kind.flow for kind in ACTION_KINDS.values())
    windows = {StageKind.submission, StageKind.followup}
    assert set(STAGE_ACTIONS) == {k.value for k in StageKind} - {k.value for k in windows}
    assert set(STAGE_ACTIONS.values()) <= set(ACTION_KINDS)


TWO_WINDOWS = """\
    version: 2
    round: {code: two-2024, name: 2024年度目标备案与自评, programme: 质量工作考核, issuer: city, years: [2024]}
    channels: [{name: sink, kind: sink}]
    submission_kinds:
      target_filing: {title: 质量目标备案}
    units:
      - {code: city, name: 示例市质量办, level: city, channels: [sink]}
      - {code: c1, name: 一县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c2, name: 二县人民政府, level: county, parent: city, channels: [sink]}
    reminder_policies:
      std: {before_workdays: [1], escalate_after_workdays: null}
    stages:
      - {code: filing, name: 质量目标备案, kind: submission, submission: target_filing, owed_by: {levels: [county]},
         opens: 2024-03-01, deadline: {date: 2024-03-15}, reminders: std}
      - {code: midyear, name: 半年自评, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},
         opens: 2024-07-01, deadline: {date: 2024-07-12}, reminders: std}
      - {code: yearend, name: 年终自评, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},
         opens: 2024-12-02, deadline: {date: 2024-12-13}, reminders: std}
"""


def test_hand_ins_are_counted_per_stage_and_kinds_are_declared_in_the_file(tmp_path, home):
    r = Round(write(tmp_path, "two.yaml", TWO_WINDOWS))
    r.hand_in("target_filing", ["c1", "c2"], "2024-03-10")
    r.hand_in("self_evaluation", ["c1", "c2"], "2024-07-08")  # the mid-year one, by its date
    r.until("2024-12-31")
    # Both handed in the mid-year self-evaluation; neither the year-end one: two stages of one
    # kind do not count for each other.
    with db.session_scope() as session:
        rows = session.exec(select(OutboxMessage.unit_code, OutboxMessage.action).where(
            OutboxMessage.round_id == r.id)).all()
    actions = {(unit, key) for unit, merged in rows for key in merged.split("+")}
    overdue = {(unit, key.split(":")[0]) for unit, key in actions if ":overdue" in key}
    assert overdue == {("c1", "yearend"), ("c2", "yearend")}


def test_a_record_placed_by_its_time_is_the_same_record_after_a_deadline_moves(tmp_path, home):
    """Two stages take one kind; a record naming neither is placed by its time. A self-evaluation of
    7月15日, the year-end window open since 7月13日, counted for the year-end one; after the mid-year
    deadline moved to 7月19日 the same record, pulled again, is placed mid-year: it is the record
    already received, not a second hand-in."""
    text = TWO_WINDOWS.replace("opens: 2024-12-02, deadline: {date: 2024-12-13}", "opens: 2024-07-13, deadline: {date: 2024-12-13}")
    r = Round(write(tmp_path, "two.yaml", text))
    record = {"kind": "self_evaluation", "unit": "c1", "submitted_at": "2024-07-15T10:00:00+08:00", "id": "S1"}
    with db.session_scope() as session:
        [first] = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, records=[record],
                              source="test")
    moved = write(tmp_path, "moved.yaml", text.replace("deadline: {date: 2024-07-12}", "deadline: {date: 2024-07-19}"))
    timetable = expand(moved.programme, WorkCalendar())
    with db.session_scope() as session:
        [again] = ingest_many(session=session, programme=moved.programme, timetable=timetable, round_id=r.id,
                              records=[record], source="test")
        stages = session.exec(select(Submission.stage).where(Submission.round_id == r.id)).all()
    assert first.status == "accepted" and again.status == "duplicate", (first, again)
    assert stages == ["yearend"]


def test_a_late_hand_in_answers_the_window_that_opened_not_one_still_to_come(tmp_path, home):
    """某县's late 2025 整改报告 (both years' reports one kind) was filed under the 2026 one, eleven months
    before it opened; the 2025 one stayed missing, and its unit was reported for 督办. A hand-in after
    a window closed, with the next not yet open, is late for the one that closed; a stage's own name
    as the kind (中期自评 and 终期自评 alike are 自评报告) places it there."""
    r = Round(write(tmp_path, "two.yaml", TWO_WINDOWS))
    records = [{"kind": "self_evaluation", "unit": "c1", "submitted_at": "2024-07-15T10:00:00+08:00", "id": "S1"},
               {"kind": "年终自评", "unit": "c2", "submitted_at": "2024-12-05T10:00:00+08:00", "id": "S2"},
               # In December, named the mid-year one: its late mid-year report, not a second year-end one.
               {"kind": "自评报告", "stage": "半年自评", "unit": "c2", "submitted_at": "2024-12-06T11:00:00+08:00", "id": "S3"},
               # Four days before the year-end window opens, months after the mid-year one closed: an early
               # year-end report (taken as a late change of c1's mid-year one, it was chased as missing).
               {"kind": "self_evaluation", "unit": "c1", "submitted_at": "2024-11-28T10:00:00+08:00", "id": "S4"}]
    with db.session_scope() as session:
        results = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, records=records,
                              source="test")
    assert [x.status for x in results] == ["late_accepted", "accepted", "late_accepted", "accepted"], results
    with db.session_scope() as session:
        placed = sorted(session.exec(select(Submission.unit_code, Submission.stage).where(Submission.round_id == r.id)).all())
    assert placed == [("c1", "midyear"), ("c1", "yearend"), ("c2", "midyear"), ("c2", "yearend")]


def test_a_record_naming_a_window_not_yet_open_where_its_time_places_it_at_another_is_set_aside(tmp_path, home):
    """某县's 商务局 handed in its 2025 整改报告 named as the 2026 one (eleven months before that window
    opened): taken on time there, its 2025 report was chased as missing. Set aside, with why; the
    record is kept."""
    from qcycle.models import QuarantinedRecord

    r = Round(write(tmp_path, "two.yaml", TWO_WINDOWS))
    records = [{"kind": "年终自评", "unit": "c1", "submitted_at": "2024-07-10T10:00:00+08:00", "id": "S1"},
               {"kind": "半年自评", "unit": "c2", "submitted_at": "2024-07-10T10:00:00+08:00", "id": "S2"},
               # Named, a few days before its window opens: its time is nearer that window, so it is taken.
               {"kind": "年终自评", "unit": "c2", "submitted_at": "2024-11-29T10:00:00+08:00", "id": "S3"}]
    with db.session_scope() as session:
        results = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, records=records,
                              source="test")
        kept = session.exec(select(QuarantinedRecord.reason).where(QuarantinedRecord.round_id == r.id)).all()
        placed = session.exec(select(Submission.unit_code, Submission.stage).where(Submission.round_id == r.id)).all()
    assert [x.status for x in results] == ["quarantined", "accepted", "accepted"], results
    assert sorted(placed) == [("c2", "midyear"), ("c2", "yearend")]
    assert kept == [("注明的阶段“年终自评”自2024-12-02 09:00起受理，提交时间 2024-07-10 10:00 早于受理开始；"
                    "按提交时间应属“半年自评”：请核对阶段后重新导入")], kept


def test_a_decision_on_a_window_closing_per_category_is_refused_before_the_last_category_closed(tmp_path):
    """四川's 评价确认 decided on all categories at once (its per-category days taken out here) on 2024-01-10,
    while 创先引领 takers had until 2024-12-20 to apply: it had loaded, its request quietly never sent.
    validate refuses it, naming the category; as shipped, each category's request follows its own window."""
    source = Path(__file__).resolve().parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"
    text = source.read_text(encoding="utf-8").replace("    per_category:\n      cxyl: {on: 2025-01-10}\n", "", 1)
    path = tmp_path / "one-day.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"“评价确认”定于 2024-01-10，早于它所依据的“申请评价确认”（创先引领）截止 2024-12-20"):
        load_programme(path)
    shipped = expand(load_programme(source).programme, WorkCalendar()).by_name()
    assert {k for k in shipped if k.startswith("evaluation:decision_request")} == {
        "evaluation:decision_request:zlcx", "evaluation:decision_request:tssd", "evaluation:decision_request:cxyl"}


def test_new_round_moves_dates_onto_working_days_keeps_prose_and_names_the_round(tmp_path):
    from qcycle.newround import next_round

    source = Path(__file__).resolve().parent.parent / "config" / "programmes" / "bs-quality-award-4.yaml"
    made = next_round(source.read_text(encoding="utf-8"), load_programme(source).programme, 2024, WorkCalendar())
    # A code without a year gets one, in the file too (never the code of the round it came from).
    assert made.code == "bs-quality-award-4-2024" and "code: bs-quality-award-4-2024" in made.text
    assert "2022-09-26 报道" in made.text  # an assumption's date cites the source: unchanged
    assert any("2024-08-24" in n and "2024-08-26" in n for n in made.notes)  # a Saturday, moved, listed
    assert any("不含年份" in n for n in made.notes)  # 第4届 in the name needs a person
    path = tmp_path / "next.yaml"
    path.write_text(made.text, encoding="utf-8")
    nxt = load_programme(path).programme
    assert nxt.round.years == [2024] and nxt.stage("presentation").on == dt.date(2024, 8, 26)


def test_new_round_keeps_a_review_after_the_deadline_it_reads_when_that_deadline_rolls(tmp_path):
    """Sichuan 2024: 20 April is a Saturday and the deadline rolls to Monday 22; the review,
    "the working day after", moved from Sunday 21 to Monday 22 too: the same day as what it reads."""
    from qcycle.newround import next_round

    source = Path(__file__).resolve().parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"
    made = next_round(source.read_text(encoding="utf-8"), load_programme(source).programme, 2024, WorkCalendar())
    assert any("“审核揭榜书”2024-04-22" in n and "2024-04-23" in n for n in made.notes), made.notes
    path = tmp_path / "sc-jbgs-2024.yaml"
    path.write_text(made.text, encoding="utf-8")
    nxt = load_programme(path).programme  # valid as written: no edit needed
    assert nxt.stage("takers_review").on == dt.date(2024, 4, 23)
    assert nxt.stage("takers_list").on == dt.date(2024, 4, 24)  # already after the review: kept


def test_new_round_keeps_a_year_end_event_in_its_year(tmp_path):
    """舟山's 2011–2015 round reports on 31 December 2015; moved a year, that is a Saturday and the
    next working day is in 2017, outside the round's years: the working day before is taken."""
    from qcycle.newround import next_round

    source = Path(__file__).resolve().parent.parent / "config" / "programmes" / "zs-csy-ybq-2011.yaml"
    made = next_round(source.read_text(encoding="utf-8"), load_programme(source).programme, 2012, WorkCalendar())
    assert any("2016-12-31" in n and "2016-12-30" in n for n in made.notes), made.notes
    assert "on: 2016-12-30" in made.text and "2017-01-03" not in made.text
    (tmp_path / "next.yaml").write_text(made.text, encoding="utf-8")
    assert load_programme(tmp_path / "next.yaml").programme.stage("results").on == dt.date(2016, 12, 30)


def test_new_round_moves_a_by_day_off_to_the_working_day_before(tmp_path):
    """某省's call "不晚于3月1日" (by) fell on a Sunday in the next round and new-round moved it to
    Monday 3月2日, after the limit: a "by" day goes back to the working day before, as the plan reads it."""
    from qcycle.newround import next_round

    text = ASSESSMENT.replace("on: 2016-03-25}", "by: 2016-03-26}")  # a Saturday: held Friday the 25th
    source = write(tmp_path, "by.yaml", text)
    made = next_round(textwrap.dedent(text), source.programme, 2016, WorkCalendar())  # the period's year: +1
    assert "by: 2017-03-24}" in made.text, made.text  # 2017-03-26 is a Sunday
    assert any("2017-03-26 不是工作日，已改为 2017-03-24" in n for n in made.notes), made.notes


def test_new_round_moves_quarters_named_by_their_year_and_says_a_deadline_that_does_not_roll_stays(tmp_path):
    """某市's 2026 copy kept its periods "2025-Q1"…"2025-Q4" (its letters would read "进展（2025年第一季度）"),
    and told the officer a 25th on a Sunday "将按 roll 规则顺延" where roll: none keeps it."""
    from qcycle.newround import next_round

    text = textwrap.dedent(SELF_OWED.replace(
        "         opens: 2024-11-15, deadline: {date: 2024-11-29}, reminders: std}\n",
        "         reminders: std, periods: [\n"
        "           {code: 2024-Q1, opens: 2024-03-01, deadline: {date: 2024-03-25, roll: none}},\n"
        "           {code: 2024H2, opens: 2024-06-03, deadline: {date: 2024-06-25, roll: none}}]}\n"))
    assert "2024-Q1" in text
    source = tmp_path / "plan-2024.yaml"
    source.write_text(text, encoding="utf-8")
    made = next_round(text, load_programme(source).programme, 2025, WorkCalendar())
    assert "code: 2025-Q1" in made.text and "code: 2025H2" in made.text and "2024-Q1" not in made.text, made.text
    later = next_round(text, load_programme(source).programme, 2029, WorkCalendar())  # 2029-03-25 is a Sunday
    assert any("2029-03-25" in n and "roll: none 不顺延" in n for n in later.notes), later.notes
    assert not any("将按 roll 规则顺延" in n for n in later.notes), later.notes


SELF_OWED = """\
    version: 2
    round: {code: plan-2024, name: 2024年度质量工作督查评估, programme: 质量工作督查评估, issuer: office, years: [2024]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: gov, name: 示例区人民政府, level: government, channels: [sink]}
      - {code: office, name: 示例区市场监督管理局, level: department, parent: gov, channels: [sink]}
      - {code: d1, name: 示例区教育局, level: department, parent: gov, channels: [sink]}
      - {code: d2, name: 示例区财政局, level: department, parent: gov, channels: [sink]}
    reminder_policies:
      std: {before_workdays: [1], escalate_after_workdays: 2}
    stages:
      - {code: report, name: 年度自评, kind: submission, submission: self_evaluation, owed_by: {levels: [department]},
         opens: 2024-11-15, deadline: {date: 2024-11-29}, reminders: std}
"""


def test_the_office_owing_a_report_itself_is_neither_written_to_nor_reported_to_its_superior(tmp_path, home):
    """榆阳: the district's 市场监管局 runs the round and is one of the departments assessed. It
    sends itself nothing, and it does not report itself overdue (督办) to the district government."""
    r = Round(write(tmp_path, "plan.yaml", SELF_OWED))
    r.until("2024-12-31")  # nobody hands in
    letters = r.letters("report")
    assert "office" not in letters and {"d1", "d2", "gov"} <= set(letters)
    # Reported up (报请督办), the late departments are named as they are, not as the government's own (所属).
    assert re.search(r"\n\n(.+?)应于", letters["gov"]).group(1) == "示例区教育局、示例区财政局"
    # Only the office late: nothing to urge the government about.
    alone = Round(write(tmp_path, "alone.yaml", SELF_OWED.replace("plan-2024", "alone-2024")))
    alone.hand_in("self_evaluation", ["d1", "d2"], "2024-11-20")
    alone.until("2024-12-31")
    assert "gov" not in alone.letters("report")


def test_not_applying_to_a_voluntary_window_is_not_being_late(tmp_path, home):
    r = Round(write(tmp_path, "award.yaml", AWARD))
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.until("2023-04-03")
    with db.session_scope() as session:
        st = round_status(session, r.p, r.id, r.t, at(dt.date(2023, 4, 3), dt.time(10)))
    # Nobody is late; the window has closed and the office was asked that Monday to check the
    # applications by 4月4日: the round stands at the check.
    assert st.overdue == {} and st.current_stage == "资格审核"
    with db.session_scope() as session:  # the run's own account says the window closed, no one late
        note = session.exec(select(ActionRun.note).where(ActionRun.round_id == r.id,
                                                         ActionRun.action == "deadline")).one()
    assert note == "申报 截止：受理结束", note


@pytest.mark.parametrize(("period", "label"), [
    ({"code": "2023-07"}, "2023年7月"), ({"code": "2024"}, "2024年度"), ({"code": "2024-Q3"}, "2024年第三季度"),
    ({"code": "2024-H2"}, "2024年下半年"), ({"code": "2023-13"}, "2023-13"), ({"code": "mid1"}, "mid1"),
    ({"code": "mid1", "name": "第一次中期检查"}, "第一次中期检查")])
def test_a_period_is_named_in_letters_as_an_office_writes_it(period, label):
    from qcycle.schema import Period

    assert Period.model_validate({**period, "deadline": {"date": "2023-07-14"}}).label == label


ONSITE = "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-04-18}"


def with_onsite(extra: str) -> str:
    """AWARD with a 现场评审 on Monday 2023-04-17 for those the documents step approved."""
    text = AWARD.replace(ONSITE, "      - {code: onsite, name: 现场评审, kind: event, on: 2023-04-17,\n"
                                 f"         notify: {{approved_at: documents}}{extra}}}\n" + ONSITE)
    assert text != AWARD
    return text


def test_an_event_is_announced_working_days_ahead_to_those_it_concerns(tmp_path, home):
    r = Round(write(tmp_path, "award.yaml", with_onsite(", notify_ahead: 3")))
    notice, node = r.t.by_name()["onsite:event_notice"], r.t.by_name()["onsite:event"]
    # Three working days before Monday the 17th; keyed by the event's day, as a reminder by its deadline's.
    assert notice.at == at(dt.date(2023, 4, 12), dt.time(9)) and notice.key.endswith("@2023-04-17")
    assert [name_of(k) for k in notice.needs] == ["documents:decision_due", "eligibility:decision_due"]
    r.hand_in("application", ["e1", "e2", "e3"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="approved", e3="approved")
    r.decide("documents", e1="approved", e2="approved", e3="rejected")
    r.until("2023-04-17")
    assert {"onsite:event_notice", "onsite:event"} <= r.ran and node.at.date() == dt.date(2023, 4, 17)
    letters = r.letters("onsite")
    assert sorted(letters) == ["e1", "e2"]  # not e3, rejected by the documents step
    body = letters["e1"]
    assert "示例区市场监督管理局定于2023年4月17日（星期一）组织现场评审，请贵单位做好相关准备。" in body
    assert body.rstrip().splitlines()[-1] == "2023年4月12日"  # sent ahead, not on the day
    with db.session_scope() as session:  # the event's own day writes nothing more
        subjects = session.exec(select(OutboxMessage.subject).where(OutboxMessage.round_id == r.id,
                                                                    OutboxMessage.unit_code == "e1")).all()
    assert [s for s in subjects if "现场评审" in s] == ["【通知】2023年度示例区长质量奖：现场评审安排"]


def test_an_events_notice_names_the_entries_of_a_unit_that_take_part(tmp_path, home):
    """江州化工 entered two 成果, one failed 材料初审: the 现场发表 notice did not say which presents."""
    text = with_onsite(", notify_ahead: 3") + TWO_KINDS
    r = Round(write(tmp_path, "award.yaml", text))
    r.hand_in("application", ["e1"], "2023-03-20", item="xc-1", id="a1")
    r.hand_in("application", ["e1"], "2023-03-20", item="gg-1", id="a2")
    r.hand_in("application", ["e2"], "2023-03-20", item="xc-1", id="a3")
    r.decide("eligibility", **{"e1:xc-1": "approved", "e1:gg-1": "approved", "e2:xc-1": "approved"})
    r.decide("documents", **{"e1:xc-1": "rejected", "e1:gg-1": "approved", "e2:xc-1": "approved"})
    r.until("2023-04-17")
    body = r.letters("onsite")["e1"]
    assert "贵单位参加的申报项目：“攻关型成果”。" in body and "现场型成果" not in body, body
    assert "申报项目" not in r.letters("onsite")["e2"]  # it applied for one: it knows which
    # One whose second entry came late and was refused is told which takes part (温州's firms could not tell which
    # award the 现场评审 was for).
    refusing = Round(write(tmp_path, "refusing.yaml", text.replace("deadline: {date: 2023-03-31}",
                                                                   "deadline: {date: 2023-03-31}\n        lateness: reject", 1)
                           .replace("code: award-2023,", "code: award-2023r,", 1)))
    refusing.hand_in("application", ["e2"], "2023-03-20", item="xc-1", id="a3")
    with db.session_scope() as session:
        (late,) = ingest_many(session=session, programme=refusing.p, timetable=refusing.t, round_id=refusing.id,
                              source="test", records=[{"kind": "application", "unit": "e2", "item": "gg-1", "id": "a4",
                                                       "submitted_at": "2023-04-03T10:00:00+08:00"}])
    assert late.status == "rejected_late", late
    refusing.decide("eligibility", **{"e2:xc-1": "approved"})
    refusing.decide("documents", **{"e2:xc-1": "approved"})
    refusing.until("2023-04-17")
    assert "贵单位参加的申报项目：“现场型成果”。" in refusing.letters("onsite")["e2"], refusing.letters("onsite")["e2"]


def test_an_events_time_and_place_are_in_its_notice_and_only_an_event_has_them(tmp_path, home):
    """焦作's 考核会议 was held 7月20日上午: the notice gave the day alone."""
    r = Round(write(tmp_path, "award.yaml", with_onsite(", notify_ahead: 3, time_of_day: 上午, place: 区政府第三会议室")))
    r.hand_in("application", ["e1"], "2023-03-20")
    r.decide("eligibility", e1="approved")
    r.decide("documents", e1="approved")
    r.until("2023-04-17")
    assert "定于2023年4月17日（星期一）上午在区政府第三会议室组织现场评审，请贵单位做好相关准备。" in r.letters("onsite")["e1"]
    with pytest.raises(ConfigError) as caught:
        write(tmp_path, "bad.yaml", AWARD.replace("on: 2023-04-04}", "on: 2023-04-04, place: 会议室}", 1))
    assert "time_of_day、place 只用于 event 阶段" in str(caught.value)


def test_an_events_notice_is_checked_against_what_it_reads_and_not_sent_after_the_event(tmp_path, home):
    from qcycle.timetable import due

    # Five working days ahead (the default) is Monday the 10th, before the documents step decides.
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "early.yaml", with_onsite(""))
    assert ("“现场评审”的提前通知（提前5个工作日）定于 2023-04-10，早于它所依据的“材料评审”日期 2023-04-11"
            "（notify）：应安排在其后，或减少 notify_ahead") in str(exc.value)
    with pytest.raises(ConfigError, match="notify_ahead 只用于有 notify 的 event 或 decision 阶段"):
        write(tmp_path, "bare.yaml", AWARD.replace("on: 2023-04-18}", "on: 2023-04-18, notify_ahead: 2}"))
    # A run catching up on the event's day (the deployment was down) does not invite to it.
    r = Round(write(tmp_path, "award.yaml", with_onsite(", notify_ahead: 3")))
    notice = r.t.by_name()["onsite:event_notice"]
    done = {a.key for a in r.t.actions} - {notice.key}
    assert notice in due(r.t, at(dt.date(2023, 4, 14), dt.time(18)), done).run
    late = due(r.t, at(dt.date(2023, 4, 17), dt.time(9)), done)
    assert notice not in late.run and [a for a, _ in late.skipped] == [notice]


def test_an_event_of_several_days_is_announced_with_its_first_and_last_day(tmp_path, home):
    r = Round(write(tmp_path, "award.yaml", with_onsite(", notify_ahead: 3, days: 3")))
    assert r.t.by_name()["onsite:event"].deadline == at(dt.date(2023, 4, 19), dt.time(23, 59, 59))
    r.hand_in("application", ["e1"], "2023-03-20")
    r.decide("eligibility", e1="approved")
    r.decide("documents", e1="approved")
    r.until("2023-04-12")
    assert ("示例区市场监督管理局定于2023年4月17日（星期一）至2023年4月19日（星期三）组织现场评审，"
            "到各单位的具体时间另行通知，请贵单位做好相关准备。") in r.letters("onsite")["e1"]
    # Held at a place (江西's 成果发表 over three days at a hotel): its place and hour are said, not a visit to each unit.
    held = Round(write(tmp_path, "held.yaml", with_onsite(", notify_ahead: 3, days: 3, time_of_day: 上午8:30, place: 江西宾馆").replace(
        "code: award-2023,", "code: award-2023-held,", 1)))
    held.hand_in("application", ["e1"], "2023-03-20")
    held.decide("eligibility", e1="approved")
    held.decide("documents", e1="approved")
    held.until("2023-04-12")
    assert ("示例区市场监督管理局定于2023年4月17日（星期一）至2023年4月19日（星期三）每天上午8:30在江西宾馆组织现场评审，"
            "各单位的具体时间另行通知，请贵单位做好相关准备。") in held.letters("onsite")["e1"], held.letters("onsite")["e1"]
    with pytest.raises(ConfigError, match="days 只用于公示（notice）阶段的公示天数，或活动（event）阶段的持续天数"):
        write(tmp_path, "bad.yaml", AWARD.replace("on: 2023-04-18}", "on: 2023-04-18, days: 2}"))


STEP_RESULT = """\
      - {code: eligibility_result, name: 资格审核结果, kind: notification, template: step_result,
         after: {stage: eligibility, event: on, workdays: 2}, notify: {rejected_at: eligibility}}
"""


def test_a_unit_rejected_at_a_step_is_told_then_not_months_later(tmp_path, home):
    text = AWARD.replace("kind: decision, decides: application, on: 2023-04-04}",
                         "kind: decision, decides: application, on: 2023-04-04, tell_reason: true}\n" + STEP_RESULT.rstrip())
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    r.hand_in("application", ["e1", "e2", "e6"], "2023-03-20")
    r.decide("eligibility", note="营业执照已过期", e6="rejected")
    r.decide("eligibility", e1="approved", e2="approved")
    r.until("2023-04-07")  # two working days after the decision of 04-04 (05 is 清明)
    told = r.letters("eligibility_result")
    assert sorted(told) == ["e6"]  # not the approved
    assert ("贵单位在2023年度示例区长质量奖中未通过资格审核（营业执照已过期），不再参加后续环节。特此告知。"
            in told["e6"]), told["e6"]
    assert told["e6"].rstrip().splitlines()[-1] == "2023年4月7日"
    # A later step's rejection is not this letter's to tell.
    r.decide("documents", e1="approved", e2="rejected")
    r.scores({"e1": 85})
    r.until("2023-04-20")
    assert sorted(r.letters("eligibility_result")) == ["e6"]


def test_a_rejection_that_brings_its_own_end_does_not_also_leave_later_steps(tmp_path, home):
    """宁川's 区县局复核: "未通过…复核（…），予以摘牌，不再参加后续环节。" on the year's last working day."""
    text = AWARD.replace("kind: decision, decides: application, on: 2023-04-04}",
                         "kind: decision, decides: application, on: 2023-04-04, on_rejection: 取消申报资格}\n"
                         + STEP_RESULT.rstrip())
    r = Round(write(tmp_path, "award.yaml", text))
    r.hand_in("application", ["e1", "e6"], "2023-03-20")
    r.decide("eligibility", e1="approved", e6="rejected")
    r.until("2023-04-07")
    told = r.letters("eligibility_result")["e6"]
    assert "中未通过资格审核，取消申报资格。特此告知。" in told and "后续环节" not in told, told
    # A consequence that does not end its part leaves the phrase: it still leaves the later steps.
    other = Round(write(tmp_path, "other.yaml", text.replace("on_rejection: 取消申报资格", "on_rejection: 予以通报批评").replace(
        "code: award-2023", "code: other-2023")))
    other.hand_in("application", ["e6"], "2023-03-20", id="other-e6")
    other.decide("eligibility", e6="rejected")
    other.until("2023-04-07")
    # What it brings follows the steps it leaves (江西's "可于2027年再次申请验收，不再参加后续环节" read as barring that).
    assert "中未通过资格审核，不再参加后续环节，予以通报批评。" in other.letters("eligibility_result")["e6"]


def test_a_window_for_the_rejected_is_decided_on_for_them(tmp_path, home):
    """某省's 复验申请, owed by the stations that failed 验收: its decision had nobody to decide (the
    failure that called them had taken them out), so no 复验 and no 撤销试点 ever followed."""
    again = ("      - {code: reapply, name: 复核申请, kind: submission, submission: reapplication, voluntary: true,\n"
             "         owed_by: {rejected_at: eligibility}, opens: 2023-04-06, deadline: {date: 2023-04-10}}\n"
             "      - {code: recheck, name: 资格复核, kind: decision, decides: reapply, on: 2023-04-12,\n"
             "         on_rejection: 终止申报}\n"
             "      - {code: recheck_result, name: 复核结果, kind: notification, template: step_result,\n"
             "         after: {stage: recheck, event: on, workdays: 1},\n"
             "         notify: {any_of: [{approved_at: recheck}, {rejected_at: recheck}]}}\n"
             "      - {code: copy, name: 报送资格审核情况, kind: notification, template: result,\n"
             "         after: {stage: recheck, event: on, workdays: 1}, notify: {units: [gov]}}\n"
             "      - {code: standing, name: 告知资格审核情况, kind: notification, template: result,\n"
             "         after: {stage: recheck, event: on, workdays: 1}, notify: {submitted_at: reapply, with_rejected: true}}\n"
             "      - {code: confirm, name: 复核结果审定, kind: decision, decides: recheck, on: 2023-04-14}\n"
             "      - {code: eligibility_result, name: 资格审核结果, kind: notification, template: step_result,\n"
             "         after: {stage: eligibility, event: on, workdays: 1}, notify: {rejected_at: eligibility}}\n")
    text = AWARD.replace("      - {code: documents,", again + "      - {code: documents,", 1).replace(
        "    channels:", "    submission_kinds: {reapplication: {title: 复核申请}}\n    channels:", 1)
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    # The copy dated after the 复核 reports it: it waits for it.
    assert "recheck:decision_due@2023-04-12" in r.t.by_name()["copy:notify"].needs
    r.hand_in("application", ["e1", "e5", "e6", "e7"], "2023-03-20")
    r.decide("eligibility", e5="rejected", e6="rejected", e7="rejected")
    r.decide("eligibility", e1="approved")
    r.until("2023-04-06")  # the working day after (04-05 is 清明)
    # Its rejected may ask again: not told "不再参加后续环节".
    assert "不再参加" not in r.letters("eligibility_result")["e6"], r.letters("eligibility_result")["e6"]
    r.hand_in("reapplication", ["e6", "e7"], "2023-04-07")
    assert r.pending("recheck") == ["e6", "e7"]  # e5 did not ask again
    r.decide("recheck", e6="rejected", e7="approved")
    assert r.subjects("recheck") == ["e6", "e7"] and r.pending("recheck") == []
    r.decide("documents", e1="approved")
    r.until("2023-04-13")
    # Each is told the 复核's own verdict (it had told nobody: the 资格审核 rejection came first).
    told = r.letters("recheck_result")
    assert sorted(told) == ["e6", "e7"]
    assert "未通过资格复核，终止申报" in told["e6"] and "通过资格复核" in told["e7"], told
    # Where each stands now, by its last decision.
    assert ("1. 甲公司：通过材料评审；\n2. 戊公司：未通过资格审核；\n3. 己公司：未通过资格复核，终止申报；\n"
            "4. 庚公司：通过资格复核。") in r.letters("copy")["gov"], r.letters("copy")["gov"]
    # Each is told where it stands now, not its first rejection; the one that passed 复核 is back in the
    # chain (a 审定 of the 复核 had nobody to decide).
    assert r.pending("confirm") == ["e7"]
    # Where no step letter told them, the result letter does, as each stands now.
    import re as _re

    bare = _re.sub(r"      - \{code: (recheck_result|eligibility_result),.*?\n(         .*\n)*", "", text).replace(
        "code: award-2023,", "code: award-2023b,", 1)
    assert "recheck_result" not in bare and "eligibility_result" not in bare and "code: standing" in bare
    again_ = Round(write(tmp_path, "bare.yaml", bare))
    again_.hand_in("application", ["e6", "e7"], "2023-03-20")
    again_.decide("eligibility", e6="rejected", e7="rejected")
    again_.hand_in("reapplication", ["e6", "e7"], "2023-04-07")
    again_.decide("recheck", e6="rejected", e7="approved")
    again_.until("2023-04-13")
    standing = again_.letters("standing")
    assert "结果为：通过资格复核。" in standing["e7"] and "结果为：未通过资格复核，终止申报。" in standing["e6"], standing
    # Who may ask again is who failed: its opening and reminders stay out of the group its peers read
    # (a group of 40 stations was invited to apply for 复验, then read one station's reminder).
    with db.session_scope() as session:
        opened = carry_out(session, r.p, r.id, r.t.by_name()["reapply:window_open"])
    assert sorted(d.unit for d in opened.drafts) == ["e5", "e6", "e7"] and all(d.private for d in opened.drafts)


def test_the_simulated_year_hands_in_a_window_for_the_rejected_once_they_are_known(tmp_path, home):
    """The simulator planned a 复验申请's hand-ins when the window opened, before the failed 验收 it is
    for had been decided, found nobody, and never handed any in: no simulated year showed a 复验."""
    from qcycle.crud import accepted_subjects
    from tests.homes import play_programme

    again = ("      - {code: reapply, name: 复核申请, kind: submission, submission: reapplication, voluntary: true,\n"
             "         owed_by: {rejected_at: eligibility}, opens_after: {stage: eligibility, event: on, days: 0},\n"
             "         deadline: {date: 2023-04-10}}\n"
             "      - {code: recheck, name: 资格复核, kind: decision, decides: reapply, on: 2023-04-12}\n")
    text = AWARD.replace("      - {code: documents,", again + "      - {code: documents,", 1).replace(
        "    channels:", "    submission_kinds: {reapplication: {title: 复核申请}}\n    channels:", 1)
    path = tmp_path / "award.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    *_, round_id = play_programme(path, seed=5)
    with db.session_scope() as session:
        rejected = crud.decided_subjects(session=session, round_id=round_id, stage="eligibility", outcomes=("rejected",))
        asked = accepted_subjects(session=session, round_id=round_id, stage="reapply", category=None, item_category={})
    assert rejected and asked and set(asked) <= set(rejected), (rejected, asked)
    # A second chance for those rejected is not an application: "自愿参加，如需申报" had been written (小微企业's 复验申请).
    from qcycle.lifecycle.drafting import base_context
    p = load_programme(path).programme
    opens = {a.stage: a for a in expand(p, WorkCalendar()).actions if a.action == "window_open"}
    assert base_context(p, opens["reapply"])["second_chance"] and not base_context(p, opens["application"])["second_chance"]


def test_a_decision_that_does_not_eliminate_leaves_its_rejected_in_later_steps(tmp_path, home):
    """某省's 中期评估: a station judged 进展滞后 owes a 整改说明 and goes on to 验收; it had been dropped
    from 验收 and told "不再参加后续环节"."""
    later = ("      - {code: acceptance, name: 验收申请, kind: submission, submission: acceptance_request,\n"
             "         owed_by: {levels: [enterprise]}, opens: 2023-04-06, deadline: {date: 2023-04-10}}\n"
             "      - {code: accept, name: 验收, kind: decision, decides: acceptance, on: 2023-04-12}\n")
    text = (AWARD.replace("kind: decision, decides: application, on: 2023-04-04}",
                          "kind: decision, decides: application, on: 2023-04-04, eliminates: false,\n"
                          "         on_rejection: 请报送整改说明}\n" + STEP_RESULT.rstrip())
            .replace("      - {code: documents,", later + "      - {code: documents,", 1)
            .replace("    channels:", "    submission_kinds: {acceptance_request: {title: 验收申请}}\n    channels:", 1))
    assert text.count("eliminates: false") == 1 and "code: accept," in text
    r = Round(write(tmp_path, "award.yaml", text))
    r.hand_in("application", ["e1", "e6"], "2023-03-20")
    r.decide("eligibility", e1="approved", e6="rejected")
    r.until("2023-04-07")
    told = r.letters("eligibility_result")["e6"]
    assert "未通过资格审核，请报送整改说明。" in told and "不再参加" not in told, told
    r.hand_in("acceptance_request", ["e1", "e6"], "2023-04-07")
    assert r.pending("accept") == ["e1", "e6"]
    # A stage that is not a decision cannot say it.
    with pytest.raises(ConfigError, match="eliminates、rejects_missing 只用于 decision 阶段"):
        write(tmp_path, "bad.yaml", text.replace("kind: assessment, on: 2023-04-18}",
                                                 "kind: assessment, on: 2023-04-18, eliminates: false}"))


def test_a_window_opening_says_why_its_deadline_is_not_the_calls_date(tmp_path, home):
    """福州's call says 6月10日 (端午): the letter opening the window gives the day it really
    closes and why, so it does not silently differ from the call."""
    text = AWARD.replace("deadline: {date: 2023-03-31}", "deadline: {date: 2023-04-01}")  # a Saturday
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    r.until("2023-03-01")
    opened = r.letters("application")
    assert "截止时间为2023年4月3日（星期一）17:30（原定4月1日，遇休息日顺延）。" in opened["e1"], opened["e1"]


def test_a_call_published_before_its_application_window_opens_says_when_it_does(tmp_path, home):
    """江西's 标准化: the call of 2月24日 said only "请及时查阅", its applications opening 3月1日: an
    invitation that opens later is said with its dates, apart from what units must hand in."""
    call = ("      - {code: call, name: 发布申报通知, kind: publication, on: 2023-02-20,\n"
            "         notify: {units: [e1, e2]}}\n")
    text = AWARD.replace("      - code: application\n", call + "      - code: application\n", 1)
    r = Round(write(tmp_path, "award.yaml", text))
    assert [o["stage"] for o in r.t.by_name()["call:publish"].detail["invited"]] == ["application"]
    r.until("2023-02-20")
    called = r.letters("call")["e1"]
    assert ("申报将于2023年3月1日起开始受理，截止时间为2023年3月31日（星期五）17:30。自愿参加，如需申报，"
            "请在受理期间按要求提交。") in called, called
    assert "此后贵单位须按时提交" not in called, called
    # A call written late, the window open already, does not invite to it as if to come (its own letter did).
    with db.session_scope() as session:
        late = carry_out(session, r.p, r.id, r.t.by_name()["call:publish"], as_of=at(dt.date(2023, 3, 6), dt.time(9)))
    assert late.drafts and all("invited" not in d.context for d in late.drafts), late.drafts
    # An objection window is a 公示's, months later: not announced by the call (宝山's read "公示异议将于…").
    with_notice = write(tmp_path, "notice.yaml", text.replace("      - code: award\n", OBJECTIONS + "      - code: award\n"))
    call = next(a for a in expand(with_notice.programme, WorkCalendar()).actions if a.name == "call:publish")
    assert [o["stage"] for o in call.detail["invited"]] == ["application"], call.detail


def test_a_window_opening_the_day_its_call_is_published_is_announced_in_the_call(tmp_path, home):
    """福州's 申报通知 and "申报材料开始受理" were two letters the same morning: the call now says
    when the window closes, and the window writes only to the units the call did not reach."""
    call = ("      - {code: call, name: 发布申报通知, kind: publication, on: 2023-03-01,\n"
            "         notify: {units: [e1, e2, e3, e4, e5]}}\n")
    text = AWARD.replace("      - code: application\n", call + "      - code: application\n", 1)
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    call_action, opening = r.t.by_name()["call:publish"], r.t.by_name()["application:window_open"]
    assert opening.detail["announced_by"] == {"stage": "call", "category": None}
    assert [o["stage"] for o in call_action.detail["openings"]] == ["application"]
    # A run catching up after the window closed publishes the call without announcing the window.
    with db.session_scope() as session:
        late = carry_out(session, r.p, r.id, call_action, as_of=at(dt.date(2023, 4, 3), dt.time(9)))
    assert late.drafts and all("openings" not in d.context for d in late.drafts)
    r.until("2023-03-01")
    called, opened = r.letters("call"), r.letters("application")
    assert sorted(called) == ["e1", "e2", "e3", "e4", "e5"] and sorted(opened) == ["e6", "e7"]  # one letter each
    assert ("示例区市场监督管理局已于2023年3月1日发布申报通知，请及时查阅并按要求做好相关工作。\n"
            "申报自2023年3月1日起开始受理，截止时间为2023年3月31日（星期五）17:30。自愿参加，如需申报，"
            "请在截止时间前按要求提交。") in called["e1"], called["e1"]
    assert "“申报”自2023年3月1日起开始受理" in opened["e6"]
    with db.session_scope() as session:
        subjects = session.exec(select(OutboxMessage.subject).where(OutboxMessage.round_id == r.id,
                                                                     OutboxMessage.unit_code == "e1")).all()
    assert "【通知】2023年度示例区长质量奖：发布申报通知（申报2023年3月31日截止）" in subjects


def test_a_unit_rejected_at_the_last_step_is_not_promised_later_steps(tmp_path, home):
    """No step follows the committee (a 公示 and the award do): its rejection is told without
    "不再参加后续环节"; an earlier step's keeps it."""
    told = ("      - {code: committee_result, name: 审议结果, kind: notification, template: step_result,\n"
            "         after: {stage: committee, event: on, workdays: 1}, notify: {rejected_at: committee}}\n")
    text = AWARD.replace("      - {code: notice,", told + "      - {code: notice,", 1)
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    _through_scoring(r, {"e1": 95, "e2": 75})
    r.decide("committee", e1="rejected", e2="approved")
    r.until("2023-04-27")
    assert r.letters("committee_result")["e1"].split("\n\n")[1] == \
        "贵单位在2023年度示例区长质量奖中得分95.00、排名第1，未通过评审委员会审议。特此告知。"


@pytest.mark.parametrize(("name", "said"), [
    ("所在县区推荐", "未获甲区市场监督管理局推荐"),  # 余姚: not the stage's generic 乡镇（街道）或有关部门推荐
    ("县区初审", "未通过甲区市场监督管理局初审"),  # 福州: not the stage's generic 县（市）区市场监管局初审
])
def test_a_review_each_parent_gives_names_the_parent_that_did_not_pass_or_recommend(tmp_path, home, name, said):
    """A parent's review or recommendation not given names the parent that did not give it."""
    results = ("      - {code: results, name: 告知结果, kind: notification, template: result, on: 2023-04-28,\n"
               "         notify: {submitted_at: application, with_rejected: true}}\n")
    text = REVIEWED.replace("name: 县区初审,", f"name: {name},") + results
    r = Round(write(tmp_path, "review.yaml", text))
    r.hand_in("application", ["e1", "e3"], "2023-03-20")
    r.decide("county_review", e1="rejected", e3="approved")
    r.decide("eligibility", e3="approved")
    r.until("2023-04-28")
    assert f"结果为：{said}。" in r.letters("results")["e1"], r.letters("results")["e1"]


def test_a_recommendation_not_given_is_said_as_chinese_says_it(tmp_path, home):
    """One passes a review (未通过资格审核) but is given a recommendation (未获…推荐)."""
    text = AWARD.replace("{code: eligibility, name: 资格审核,", "{code: eligibility, name: 所在街道推荐,")
    text = text.replace("kind: decision, decides: application, on: 2023-04-04}",
                        "kind: decision, decides: application, on: 2023-04-04}\n" + STEP_RESULT.rstrip())
    assert text.count("所在街道推荐") == 1 and "eligibility_result" in text
    r = Round(write(tmp_path, "award.yaml", text))
    r.hand_in("application", ["e1", "e6"], "2023-03-20")
    r.decide("eligibility", e1="approved", e6="rejected")
    r.until("2023-05-31")
    assert "贵单位在2023年度示例区长质量奖中未获所在街道推荐，不再参加后续环节。" in r.letters("eligibility_result")["e6"]
    # Told when the step was decided, not again by the results (温州 repeated it five months on).
    assert "e6" not in r.letters("results")


REVIEWED = """\
    version: 2
    round: {code: review-2023, name: 2023年度示例市长质量奖, programme: 示例市长质量奖, issuer: amr, years: [2023]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: amr, name: 示例市市场监督管理局, level: city, channels: [sink]}
      - {code: k1, name: 甲区市场监督管理局, level: county, parent: amr, channels: [sink]}
      - {code: k2, name: 乙县市场监督管理局, level: county, parent: amr, channels: [sink]}
      - {code: e1, name: 甲公司, level: enterprise, parent: k1, channels: [sink]}
      - {code: e2, name: 乙公司, level: enterprise, parent: k1, channels: [sink]}
      - {code: e3, name: 丙公司, level: enterprise, parent: k2, channels: [sink]}
      - {code: e4, name: 丁公司, level: enterprise, parent: amr, channels: [sink]}
    stages:
      - {code: application, name: 申报, kind: submission, submission: application, owed_by: {levels: [enterprise]},
         voluntary: true, opens: 2023-03-01, deadline: {date: 2023-03-31}}
      - {code: county_review, name: 县区初审, kind: decision, decides: application, reviewed_by: parent,
         after: {stage: application, event: deadline, workdays: 10}}
      - {code: eligibility, name: 资格审查, kind: decision, decides: county_review, on: 2023-04-21}
"""


def test_a_reviewers_verdict_naming_its_step_is_said_as_the_reviewers(tmp_path, home):
    """湖州's shops not recommended read "“县区局审核推荐”结论为不推荐" once the step had verdicts, the 区县局 unnamed; without
    them, "未获某区局推荐". A verdict naming the step its reviewer takes is said as the reviewer's."""
    text = REVIEWED.replace("name: 县区初审, kind: decision, decides: application, reviewed_by: parent,",
                            "name: 县区局审核推荐, kind: decision, decides: application, reviewed_by: parent,\n"
                            "         verdicts: {approved: 推荐, rejected: 不推荐}, tell_reason: true,", 1) + (
        "      - {code: told, name: 告知审核推荐结果, kind: notification, template: step_result,\n"
        "         after: {stage: county_review, event: on, workdays: 1}, notify: {rejected_at: county_review}}\n")
    r = Round(write(tmp_path, "fx.yaml", text))
    r.hand_in("application", ["e1", "e3"], "2023-03-20")
    r.until("2023-04-13")
    r.decide("county_review", note="申报表所述情况与实际不符", e1="approved", e3="rejected")
    r.until("2023-04-20")
    told = r.letters("told")["e3"]
    assert "未获乙县市场监督管理局推荐（申报表所述情况与实际不符）" in told and "结论为不推荐" not in told, told


def test_a_decisions_list_sent_to_all_tells_its_candidates_left_off(tmp_path, home):
    """湖州's 帮扶名单 (``lists: {approved_at: select}``, sent to every firm and bureau): the firm its 县区局 recommended and
    the 市局 left off read only "名单共列入7个单位", as firms that never applied did, and its 县区局 was not told either."""
    text = REVIEWED + (
        "      - {code: listing, name: 公布帮扶企业名单, kind: publication, on: 2023-04-24,\n"
        "         notify: {levels: [county, enterprise]}, lists: {approved_at: eligibility}}\n")
    r = Round(write(tmp_path, "list.yaml", text))
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.until("2023-04-13")
    r.decide("county_review", e1="approved", e2="approved")
    r.until("2023-04-20")
    r.decide("eligibility", e1="approved", e2="rejected")
    r.until("2023-04-24")
    told = r.letters("listing")
    assert "名单共列入1个单位，贵单位未列入。" in told["e2"], told["e2"]
    assert "其中贵单位辖区内1个：甲公司；乙公司未列入" in told["k1"], told["k1"]
    assert "贵单位已列入该名单（共1个单位）" in told["e1"] and "未列入" not in told["e3"], told


def test_a_window_owed_by_those_a_parent_passed_tells_them_so(tmp_path, home):
    """QC小组's teams recommended by their 分局 were asked for their 成果报告 and never told they had been
    recommended; those not recommended had a letter of their own."""
    text = REVIEWED + (
        "      - {code: docs, name: 申报材料, kind: submission, submission: self_evaluation,\n"
        "         owed_by: {approved_at: county_review}, opens: 2023-04-24, deadline: {date: 2023-05-10}}\n")
    r = Round(write(tmp_path, "docs.yaml", text))
    r.hand_in("application", ["e1", "e3"], "2023-03-20")
    r.decide("county_review", e1="approved", e3="approved")
    r.until("2023-04-24")
    with db.session_scope() as session:
        opened = {m.unit_code: m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("docs:window_open"))).all()}
    assert sorted(opened) == ["e1", "e3"], opened
    assert "贵单位已通过甲区市场监督管理局初审。" in opened["e1"], opened["e1"]
    assert "贵单位已通过乙县市场监督管理局初审。" in opened["e3"], opened["e3"]


def test_reviewers_still_owing_their_opinions_are_reminded_before_the_decisions_day(tmp_path, home):
    """某市's 区局 were asked for their 推荐意见 once and never again: a decision stage with reviewers
    may take ``reminders``; those with subjects still undecided are reminded, the others not."""
    text = (REVIEWED.replace("    stages:\n", "    reminder_policies:\n      std: {before_workdays: [2]}\n    stages:\n", 1)
            .replace("reviewed_by: parent,\n", "reviewed_by: parent, reminders: std,\n", 1))
    assert "reminders: std" in text
    r = Round(write(tmp_path, "review.yaml", text))
    reminder = r.t.by_name()["county_review:review_reminder:T-2"]
    assert reminder.at.date() == dt.date(2023, 4, 13) and reminder.deadline.date() == dt.date(2023, 4, 17)
    r.hand_in("application", ["e1", "e3"], "2023-03-20")
    r.until("2023-04-03")
    r.decide("county_review", e3="approved")  # 乙县's opinion came in
    r.until("2023-04-13")
    with db.session_scope() as session:
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == r.id)).all()
    reminded = [m for m in sent if m.action.startswith("county_review:review_reminder")]
    assert [m.unit_code for m in reminded] == ["k1"], [(m.unit_code, m.action) for m in reminded]
    assert reminded[0].subject == "【提醒】2023年度示例市长质量奖：请于2023年4月17日前报送初审意见"
    assert ("的初审意见应于2023年4月17日（星期一）前报送示例市市场监督管理局，还有2个工作日。贵单位尚未对辖区内以下1个单位"
            "提出初审意见，请抓紧提出并按时报送：\n1. 甲公司（2023年3月20日 10:00提交）。") in reminded[0].body, reminded[0].body
    # A run caught up on or after the decision's day asks for nothing past; of two missed, only the later one goes.
    from qcycle.timetable import due

    twice = expand(write(tmp_path, "twice.yaml", text.replace("before_workdays: [2]", "before_workdays: [3, 1]")).programme,
                   WorkCalendar())
    reminders = [a for a in twice.actions if a.action == "review_reminder"]
    done = {a.key for a in twice.actions} - {a.key for a in reminders}
    assert [a.key for a in due(twice, at(dt.date(2023, 4, 14), dt.time(9)), done).run] == [reminders[1].key]
    assert due(twice, at(dt.date(2023, 4, 17), dt.time(9)), done).run == []
    with pytest.raises(ConfigError, match="reminders 只用于 submission/followup 阶段（以及有 reviewed_by 的 decision 阶段"):
        write(tmp_path, "bad.yaml", text.replace("decides: county_review, on: 2023-04-21}",
                                                 "decides: county_review, on: 2023-04-21, reminders: std}", 1))


def test_a_list_sent_to_units_never_candidates_tells_them_the_list_and_theirs_on_it(tmp_path, home):
    """某省's 标杆名单 sent to the city bureaus told each "名单共列入3个单位，贵单位未列入" (one city's own
    enterprise was on it); an enterprise that never applied read the same."""
    text = REVIEWED + ("      - {code: listing, name: 公布获奖名单, kind: publication, on: 2023-04-28,\n"
                       "         notify: {any_of: [{approved_at: eligibility}, {levels: [county, enterprise]}]}}\n")
    r = Round(write(tmp_path, "review.yaml", text))
    r.hand_in("application", ["e1", "e2", "e3"], "2023-03-20")
    r.decide("county_review", e1="approved", e2="rejected", e3="approved")
    r.decide("eligibility", e1="approved", e3="rejected")
    r.until("2023-04-28")
    told = {u: body.split("\n\n")[1] for u, body in r.letters("listing").items()}
    assert sorted(told) == ["e1", "e2", "e3", "e4", "k1", "k2"]
    assert told["k1"] == ("示例市市场监督管理局已于2023年4月28日公布获奖名单，名单共列入1个单位，其中贵单位辖区内1个：甲公司；"
                          "乙公司未列入，请及时查阅并按要求做好相关工作。"), told["k1"]
    # Its own candidates left off are named (质量攻关's 南屏市局 never heard its one project was not 立项).
    assert told["k2"] == ("示例市市场监督管理局已于2023年4月28日公布获奖名单，名单共列入1个单位，贵单位辖区内丙公司未列入，"
                          "请及时查阅并按要求做好相关工作。"), told["k2"]
    assert told["e4"] == ("示例市市场监督管理局已于2023年4月28日公布获奖名单，名单共列入1个单位，请及时查阅并按要求做好相关工作。")  # it never applied
    assert "贵单位未列入" in told["e2"] and "贵单位未列入" in told["e3"] and "贵单位已列入" in told["e1"]
    # An association's firms are not "辖区内" (一站式服务站: a 行业协会 read "其中贵单位辖区内1个" of its own station).
    sector = Round(write(tmp_path, "sector.yaml", text.replace(
        "      - {code: k1, name: 甲区市场监督管理局, level: county, parent: amr, channels: [sink]}",
        "      - {code: k1, name: 机械行业协会, level: department, parent: amr, channels: [sink]}", 1).replace(
        "code: review-2023,", "code: review-2023s,", 1).replace("{levels: [county, enterprise]}", "{levels: [department, enterprise]}", 1)))
    sector.hand_in("application", ["e1"], "2023-03-20")
    sector.decide("county_review", e1="approved")
    sector.decide("eligibility", e1="approved")
    sector.until("2023-04-28")
    assert "名单共列入1个单位，其中贵单位所在行业（系统）内1个：甲公司" in sector.letters("listing")["k1"], sector.letters("listing")["k1"]


def test_a_list_of_items_counts_them_beside_the_units(tmp_path, home):
    """质量攻关's 立项名单 read "名单共列入9个单位" above the 10 projects of 9 firms."""
    text = REVIEWED + ("      - {code: listing, name: 公布立项名单, kind: publication, on: 2023-04-28,\n"
                       "         notify: {any_of: [{approved_at: eligibility}, {levels: [county]}]}}\n") + TWO_KINDS
    r = Round(write(tmp_path, "items.yaml", text))
    _items_eligible(r).until("2023-04-28")
    told = r.letters("listing")
    assert "名单共列入3个项目（2个单位），其中贵单位辖区内2个：甲公司、乙公司" in told["k1"], told["k1"]


def test_a_county_review_is_asked_of_each_units_parent_the_working_day_after_the_window_closes(tmp_path, home):
    from qcycle.timetable import due

    r = Round(write(tmp_path, "review.yaml", REVIEWED))
    # The call says an application counts once the unit's parent has passed it (某市's said nothing of it).
    r.until("2023-03-01")
    # By its own reviewer, not the step's name in quotes (诚信计量's read "须经“区县局初审”").
    called = r.letters("application")
    assert "自愿参加，如需申报，请在截止时间前按要求提交。所提交的申报须经甲区市场监督管理局初审。" in called["e1"], called["e1"]
    assert "所提交的申报须经乙县市场监督管理局初审。" in called["e3"], called["e3"]
    ask, decision = r.t.by_name()["county_review:review_request"], r.t.by_name()["county_review:decision_due"]
    # Friday 03-31 closes the window: asked on Monday 04-03, to report before the decision's day (清明 off).
    assert ask.at == at(dt.date(2023, 4, 3), dt.time(9)) and decision.at.date() == dt.date(2023, 4, 17)
    r.hand_in("application", ["e1", "e3", "e4"], "2023-03-20")
    r.until("2023-04-03")
    asked = r.letters("county_review")
    assert sorted(asked) == ["k1", "k2"]  # e4's parent is the office itself: it reviews e4 itself
    assert ("“申报”已截止受理。贵单位辖区内以下1个单位按时提交了申报，请提出初审意见，并于2023年4月17日（星期一）前"
            "将意见报送示例市市场监督管理局：\n1. 甲公司（2023年3月20日 10:00提交）。") in asked["k1"], asked["k1"]
    assert "丙公司" in asked["k2"] and "甲公司" not in asked["k2"]
    # Caught up on the decision's day: the request would ask for the past, so it is skipped.
    done = {a.key for a in r.t.actions} - {ask.key}
    assert [a for a, _ in due(r.t, at(dt.date(2023, 4, 17), dt.time(9)), done).skipped] == [ask]
    with pytest.raises(ConfigError, match="应为 parent（各申报单位的上级单位）或单位级别（现有：city、county、enterprise），"
                                          "不是 'province'"):
        write(tmp_path, "bad.yaml", REVIEWED.replace("decides: county_review,", "decides: county_review, reviewed_by: province,"))
    with pytest.raises(ConfigError, match="decides、among、tell_reason、reviewed_by、on_rejection、on_approval、eliminates、rejects_missing 只用于 decision 阶段"):
        write(tmp_path, "bad2.yaml", REVIEWED.replace("voluntary: true,", "voluntary: true, reviewed_by: parent,"))


def test_a_review_of_list_items_counts_its_places_in_items(tmp_path, home):
    """某市's 区级推荐 of pilot projects read "以下9个单位按时提交了申报书…推荐不超过3家" over 8 units'
    9 projects: where the decision is on list items, the letter counts units and items apart."""
    items = ("    categories:\n      - code: k\n        name: 试点\n        items:\n"
             "          - {code: k-1, name: 良好行为试点}\n          - {code: k-2, name: 先进制造试点}\n")
    text = (REVIEWED.replace("    stages:\n", items + "    stages:\n", 1)
            .replace("reviewed_by: parent,", "reviewed_by: parent, per_reviewer: 3,", 1))
    r = Round(write(tmp_path, "review.yaml", text))
    r.hand_in("application", ["e1"], "2023-03-20", item="k-1")
    with db.session_scope() as session:
        assert ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "application", "unit": u, "item": "k-2", "submitted_at": "2023-03-21T10:00:00+08:00",
             "id": f"second-{u}"} for u in ("e1", "e2")])[0].status == "accepted"
    r.until("2023-04-03")
    asked = r.letters("county_review")["k1"]
    assert "贵单位辖区内以下2个单位按时提交了3项申报，请提出初审意见（初审通过不超过3项）" in asked, asked
    assert "1. 甲公司：良好行为试点" in asked and "3. 乙公司：先进制造试点" in asked, asked


TWO_LEVELS = """\
    version: 2
    round: {code: benchmark-2026, name: 某省2026年质量标杆企业遴选, programme: 某省质量标杆企业, issuer: prov, years: [2026]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: prov, name: 某省市场监督管理局, level: province, channels: [sink]}
      - {code: ca, name: 东川市市场监督管理局, level: city, parent: prov, channels: [sink]}
      - {code: cb, name: 西岭市市场监督管理局, level: city, parent: prov, channels: [sink]}
      - {code: ka, name: 青山县市场监督管理局, level: county, parent: ca, channels: [sink]}
      - {code: kb, name: 河口县市场监督管理局, level: county, parent: cb, channels: [sink]}
      - {code: e1, name: 甲公司, level: enterprise, parent: ka, channels: [sink]}
      - {code: e2, name: 乙公司, level: enterprise, parent: ka, channels: [sink]}
      - {code: e3, name: 丙公司, level: enterprise, parent: kb, channels: [sink]}
      - {code: e4, name: 丁公司, level: enterprise, parent: kb, channels: [sink]}
    stages:
      - {code: call, name: 印发遴选通知, kind: publication, on: 2026-03-02, notify: {levels: [enterprise, county, city]}}
      - {code: application, name: 申报, kind: submission, submission: application, owed_by: {levels: [enterprise]},
         voluntary: true, opens: 2026-03-02, deadline: {date: 2026-04-30}}
      - {code: county_review, name: 县级初审推荐, kind: decision, decides: application, reviewed_by: parent, on: 2026-05-20}
      - {code: city_review, name: 设区市推荐, kind: decision, decides: county_review, reviewed_by: city, per_reviewer: 1,
         on: 2026-06-10}
      - {code: panel, name: 专家评审, kind: decision, decides: city_review, on: 2026-07-15}
      - {code: city_result, name: 设区市推荐结果, kind: notification, template: step_result, on: 2026-06-11,
         notify: {rejected_at: city_review}}
"""


def test_a_second_level_recommends_what_the_first_passed_within_its_places(tmp_path, home):
    """某省's 质量标杆企业: counties review their enterprises, then each city recommends at most 5 of
    those its counties passed. The language had no second level (refused) and no places: cities
    never saw whom they recommended, and recommended 7 each unflagged."""
    from qcycle.errors import DecisionError
    from qcycle.ops import DecisionRow, decide

    with pytest.raises(ConfigError, match="阶段 'aplication' 未定义"):  # a typo under a review: no KeyError
        write(tmp_path, "typo.yaml", TWO_LEVELS.replace("decides: application, reviewed_by", "decides: aplication, reviewed_by"))
    with pytest.raises(ConfigError, match="'enterprise' 是申报单位自己的级别"):  # nobody would be asked
        write(tmp_path, "own.yaml", TWO_LEVELS.replace("reviewed_by: city", "reviewed_by: enterprise"))
    from qcycle.render import render_message

    _, first = render_message("review_request.j2", {  # a first-level review's places: 通过, not "初审不超过"
        "unit_name": "甲县局", "programme_name": "某奖", "step": "初审", "handed_in": "申报书", "scope": "辖区内",
        "deadline": dt.date(2026, 5, 20), "sender_name": "某局", "today": dt.date(2026, 5, 6), "limit": 5, "word": "家",
        "items": [{"unit_name": "甲公司", "item": None, "received_at": None}]})
    assert "请提出初审意见（初审通过不超过5家）" in first, first
    r = Round(write(tmp_path, "two.yaml", TWO_LEVELS))
    ask = r.t.by_name()["city_review:review_request"]
    assert ask.at == at(dt.date(2026, 5, 21), dt.time(9))  # the working day after the county step
    r.until("2026-03-02")
    call = r.letters("call")
    assert "申报于2026年4月30日截止受理后，请贵单位对辖区内单位提交的申报提出推荐意见，于2026年5月20日（星期三）前报送" in call["ka"], call["ka"]
    assert ("申报经县级初审推荐后，请贵单位对辖区内通过县级初审推荐的单位提出推荐意见（推荐不超过1家），"
            "于2026年6月10日（星期三）前报送某省市场监督管理局。具体名单届时另行通知。") in call["ca"], call["ca"]
    assert "所提交的申报须经青山县市场监督管理局推荐。" in call["e1"], call["e1"]  # the call's opening, by its reviewer
    r.hand_in("application", ["e1", "e2", "e3", "e4"], "2026-04-10")
    r.until("2026-05-19")
    r.decide("county_review", e1="approved", e2="approved", e3="approved", e4="rejected")
    r.until("2026-05-21")
    asked = r.letters("city_review")
    assert sorted(asked) == ["ca", "cb"]
    assert ("“县级初审推荐”已完成。贵单位辖区内以下2个单位通过县级初审推荐，请提出推荐意见（推荐不超过1家），"
            "并于2026年6月10日（星期三）前将意见报送某省市场监督管理局：\n1. 甲公司") in asked["ca"], asked["ca"]
    assert "乙公司" in asked["ca"] and "丙公司" not in asked["ca"] and "丙公司" in asked["cb"]
    # Ops see each city's candidates together, and later each city's places beside what waits (they
    # could not check a cap from one mixed list).
    from typer.testing import CliRunner

    from qcycle.cli import app

    waiting = CliRunner().invoke(app, ["decide", str(r.loaded.path), "--list"], terminal_width=200)
    assert "  东川市市场监督管理局：\n    e1  甲公司\n    e2  乙公司\n  西岭市市场监督管理局：\n    e3  丙公司" in (
        waiting.output.split("设区市推荐（city_review）")[1]), waiting.output
    # Ops enter the cities' opinions: a second approval for 东川 is refused, naming the city and its places.
    refused = "设区市推荐：每个审核单位最多同意 1 个，东川市市场监督管理局将有 2 个（甲公司、乙公司）"
    with db.session_scope() as session, pytest.raises(DecisionError, match=refused):
        decide(session=session, programme=r.p, round_id=r.id, decided_by="ops", rows=[
            DecisionRow("city_review", "e1", "approve"), DecisionRow("city_review", "e2", "approve")])
    with db.session_scope() as session:
        decide(session=session, programme=r.p, round_id=r.id, decided_by="ops", rows=[
            DecisionRow("city_review", "e1", "approve"), DecisionRow("city_review", "e2", "reject"),
            DecisionRow("city_review", "e3", "approve")])
    listed = CliRunner().invoke(app, ["decide", str(r.loaded.path), "--list"], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "设区市推荐（city_review）：待决定 0 项；已决定 3 项（同意 2，不同意 1）" in listed.output, listed.output
    assert "名额：东川市市场监督管理局 已同意 1 家（不超过 1 家），待决定 0 家" in listed.output
    r.until("2026-06-11")
    assert r.subjects("panel") == ["e1", "e3"]
    # The one its city did not recommend is told by whom: the city, not the step's description.
    assert "贵单位在某省2026年质量标杆企业遴选中未获东川市市场监督管理局推荐，不再参加后续环节。" in r.letters("city_result")["e2"]


def test_a_decision_taken_at_a_meeting_invites_its_candidates_ahead(tmp_path, home):
    """太仓's 陈述答辩: the decision is taken the day the candidates present; they are told ahead."""
    text = AWARD.replace("{code: documents, name: 材料评审, kind: decision, decides: eligibility, on: 2023-04-11}",
                         "{code: documents, name: 陈述答辩, kind: decision, decides: eligibility, on: 2023-04-11,\n"
                         "         notify: {approved_at: eligibility}, notify_ahead: 2}")
    assert text != AWARD
    r = Round(write(tmp_path, "award.yaml", text))
    notice = r.t.by_name()["documents:event_notice"]
    assert notice.at == at(dt.date(2023, 4, 7), dt.time(9)) and r.t.by_name()["documents:decision_due"].at.date() == \
        dt.date(2023, 4, 11)
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="rejected")
    r.until("2023-04-07")
    invited = r.letters("documents")
    assert sorted(invited) == ["e1"] and "定于2023年4月11日（星期二）组织陈述答辩，请贵单位做好相关准备。" in invited["e1"]


OBJECTIONS = """\
      - {code: objection, name: 公示异议, kind: submission, submission: objection, owed_by: {levels: [enterprise]},
         voluntary: true, opens: 2023-05-04, lateness: reject,
         deadline: {after: {stage: notice, event: closes, days: 0}, time: "23:59:59", roll: none}}
      - {code: objection_review, name: 异议调查核实, kind: decision, decides: objection, tell_reason: true,
         after: {stage: objection, event: deadline, workdays: 1}}
      - {code: objection_reply, name: 函复异议处理结果, kind: notification, template: objection_reply,
         after: {stage: objection_review, event: on, workdays: 1},
         notify: {any_of: [{approved_at: objection_review}, {rejected_at: objection_review}]}}
"""


def _objected(tmp_path, name: str, stages: str, objectors: list[str]) -> Round:
    """AWARD with OBJECTIONS and ``stages`` before its award: e1 (95) and e2 (75) approved by the committee and on the
    公示 of 2023-05-04, ``objectors`` objecting the next day."""
    anchor = "      - code: award\n"
    r = Round(write(tmp_path, name, AWARD.replace(anchor, OBJECTIONS + stages + anchor)))
    _through_scoring(r, {"e1": 95, "e2": 75})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-04")
    r.hand_in("objection", objectors, "2023-05-05")
    return r


def test_the_list_is_reviewed_again_with_the_objections_upheld_in_view(tmp_path, home):
    """宝山: an objection names no candidate; the 审定 after it is asked with the upheld ones named."""
    final = ("      - {code: final, name: 审定获奖名单, kind: decision, decides: committee,\n"
             "         after: {stage: objection_review, event: on, workdays: 2}}\n"
             "      - {code: report, name: 质量提升报告, kind: followup, submission: rectification_report,\n"
             "         owed_by: {approved_at: final}, opens_after: {stage: final, event: on, days: 0},\n"
             "         deadline: {after: {stage: final, event: on, months: 1}}}\n"
             "      - {code: report_review, name: 质量提升报告审核, kind: decision, decides: report,\n"
             "         after: {stage: report, event: deadline, workdays: 3}}\n")
    r = _objected(tmp_path, "award.yaml", final, ["e5", "e6"])
    r.until("2023-05-11")
    r.decide("objection_review", note="反映甲公司2022年发生质量事故属实", e5="approved")
    r.decide("objection_review", e6="rejected")
    r.until("2023-05-15")
    asked = r.letters("final")["amr"]
    # whom the objection concerns is in the note ops wrote when they upheld it
    assert ("公示期间，以下异议经核实成立，请在审核时一并考虑：\n1. 戊公司提出的异议，核实情况：反映甲公司2022年发生质量事故属实。"
            in asked), asked
    assert "己公司" not in asked
    # A winner's later report is reviewed without them: 某市's 整改报告审核 of 2027 was shown the
    # 立项公示's objections of 2025.
    r.decide("final", e1="approved", e2="approved")
    r.hand_in("rectification_report", ["e1"], "2023-05-20")
    r.until("2023-06-21")
    reviewed = r.letters("report_review")["amr"]
    assert "甲公司" in reviewed and "异议" not in reviewed, reviewed


def test_an_objection_is_decided_and_answered_and_never_decides_the_objectors_own_candidacy(tmp_path, home):
    anchor = "      - code: award\n"
    r = Round(write(tmp_path, "award.yaml", AWARD.replace(anchor, OBJECTIONS + anchor)))
    assert r.p.objection_decisions == {"objection_review"}
    # The plan says objections close with their window, not with the 公示 (it read "结束，异议受理截止" at 23:59
    # beside the window's own 17:30); a 公示 with no window of its own takes them until it ends.
    assert r.t.by_name()["notice:notice_close"].title == "拟授奖名单公示结束"
    alone = expand(write(tmp_path, "alone.yaml", AWARD).programme, WorkCalendar())
    assert alone.by_name()["notice:notice_close"].title == "拟授奖名单公示结束，异议受理截止"
    r.hand_in("application", ["e1", "e2", "e5"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="approved", e5="approved")
    r.decide("documents", e1="approved", e2="approved", e5="rejected")
    r.scores({"e1": 95, "e2": 75})
    r.until("2023-04-25")
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-04")
    # The objection window is the 公示's: those on the list learn how to object from the 公示's own
    # letter (one letter, not two the same day); the others are sent the 公示, not "异议开始受理".
    publicity, opening = r.letters("notice"), r.letters("objection")
    assert sorted(publicity) == ["e1", "e2"] and sorted(opening) == ["e3", "e4", "e5", "e6", "e7"]
    # A list of two awards says which the unit is proposed for (嘉善).
    assert "贵单位拟获区长质量奖，已列入拟授奖名单。示例区市场监督管理局自2023年5月4日起对该名单进行公示" in publicity["e1"]
    listed = "公示名单（共2家）：\n1. 甲公司（拟获区长质量奖）；\n2. 乙公司（拟获提名奖）。\n"
    assert listed in publicity["e1"]
    assert listed in opening["e5"]  # the list it may object to
    assert opening["e5"].startswith("戊公司：\n\n示例区市场监督管理局自2023年5月4日起对拟授奖名单进行公示，公示期7天，"
                                    "至2023年5月10日止。\n公示名单")
    assert "\n如对公示内容有异议，请于2023年5月10日（星期三）23:59前以书面形式" in opening["e5"]
    assert "开始受理" not in opening["e5"] and "列入" not in opening["e5"]
    r.hand_in("objection", ["e2", "e5"], "2023-05-05")  # a candidate objects, and one left out earlier
    r.until("2023-05-11")
    assert r.pending("objection_review") == ["e2", "e5"]  # e5 left the candidates, not its objection
    r.decide("objection_review", note="所涉情况与事实不符", e2="rejected")
    r.decide("objection_review", e5="approved")
    r.until("2023-05-31")
    replies = r.letters("objection_reply")
    assert sorted(replies) == ["e2", "e5"]
    assert "贵单位于2023年5月5日 10:00提出的异议，经调查核实，异议不成立。核实情况：所涉情况与事实不符。" in replies["e2"]
    assert "经调查核实，异议成立，依规予以处理。" in replies["e5"]
    # e2's objection rejected: e2 is still a candidate, awarded, and its results say nothing of the objection.
    assert "e2" in r.letters("award")
    assert "异议" not in r.letters("results")["e2"] and "未通过异议" not in r.letters("results")["e5"]


def test_a_step_is_passed_or_not_as_chinese_says_it() -> None:
    """宝山's "未通过审定获奖名单" (a verb and its object) reads 未通过获奖名单审定; a noun first stays."""
    from qcycle.lifecycle.drafting import reviewer_step
    from qcycle.lifecycle.standing import not_passed, passed

    assert not_passed("审定获奖名单") == "未通过获奖名单审定" and passed("审核揭榜书") == "通过揭榜书审核"
    assert not_passed("评审委员会审议") == "未通过评审委员会审议" and not_passed("资格审查") == "未通过资格审查"
    assert not_passed("所在街道推荐") == "未获所在街道推荐" and not_passed("审核") == "未通过审核"
    assert reviewer_step("县（市）区市场监管局初审") == "初审" and reviewer_step("乡镇（街道）或有关部门推荐") == "推荐"
    assert reviewer_step("县区审阅") == "县区审阅"
    assert reviewer_step("风险自评表核查") == "核查"  # 特种设备's reminders had read "尚未风险自评表核查"


def test_results_wait_for_an_assessment_that_failed(tmp_path):
    """四川's 评价 failed on too few scores and the same reconcile still sent the results, to the
    ungraded alone, and recorded them done: the graded never heard. What reads an assessment's
    results waits for it as it waits for a decision."""
    from qcycle.timetable import due

    p = write(tmp_path, "award.yaml", AWARD).programme
    t = expand(p, WorkCalendar())
    end = at(dt.date(2023, 5, 16), dt.time(23, 59))
    assess = t.by_name()["scoring:assess"]
    readers = {t.by_name()[n].key for n in ("results:notify", "committee:decision_due", "award:notify")}
    assert all(assess.key in a.needs for a in t.actions if a.key in readers)
    failed = due(t, end, {a.key for a in t.actions if a.at <= end and a.key != assess.key})
    assert [a.key for a in failed.run] == [assess.key]  # tried again; nothing that reads it runs
    done = {a.key for a in t.actions if a.at <= end} - readers
    # once it is done they run (the award after the committee it also waits for)
    assert {a.key for a in due(t, end, done).run} == readers - {t.by_name()["award:notify"].key}


def test_an_indicator_one_unit_reports_counts_its_figure_for_every_subject(home, tmp_path):
    """榆阳's 专栏1 indicators are district statistics: one figure, reported by the 市场监管局, scores
    every department alike. Each department's own figure had scored it on its own value of one
    district statistic (the 农业农村局 at 50 % where the district's rate was 99 %)."""
    from qcycle.lifecycle.assessing import _inputs

    loaded = load_programme(Path(__file__).parents[1] / "config" / "programmes" / "yy-quality-plan-2025.yaml")
    p = loaded.programme
    [agri] = [i for i in p.assessment.indicators if i.code == "agri-pass"]
    assert agri.reported_by == "yy-scjg"
    stage = p.assessment_stages[-1]
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
        crud.put_reviews(session=session, round_id=round_id, rows=[
            {"stage": stage, "unit_code": "yy-scjg", "reviewer": "2025", "component_code": "indicator:agri-pass",
             "value": 99.0},
            {"stage": stage, "unit_code": "yy-nync", "reviewer": "2025", "component_code": "indicator:agri-pass",
             "value": 50.0}])
        inputs = _inputs(session, p, round_id, stage, ["yy-nync", "yy-fgkj"], 2025, None)
    assert [(u.unit, u.indicators) for u in inputs] == [("yy-nync", {"agri-pass": 99.0}), ("yy-fgkj", {"agri-pass": 99.0})]

    # A reporting unit the file does not have is named with its field.
    text = (Path(__file__).parents[1] / "config" / "programmes" / "yy-quality-plan-2025.yaml").read_text("utf-8")
    bad = tmp_path / "yy-bad.yaml"
    bad.write_text(text.replace("year: 2025, reported_by: yy-scjg}", "year: 2025, reported_by: yy-tjj}", 1), "utf-8")
    with pytest.raises(ConfigError, match=r"assessment\.indicators\[0\]\.reported_by.*yy-tjj"):
        load_programme(bad)


def test_the_office_is_asked_to_decide_once_the_window_closes_and_told_by_when(tmp_path, home):
    """天水's 资格审查 was asked for on the day it was due: the office heard of six applications to check
    on 6月28日, the day the check was to be done. It is now asked the working day after applications
    close, with the day the decision is due; on that day it is told the check is due today."""
    r = Round(write(tmp_path, "award.yaml", AWARD))
    request = r.t.by_name()["eligibility:decision_request"]
    assert (request.at, request.deadline) == (at(dt.date(2023, 4, 3), dt.time(9)), at(dt.date(2023, 4, 4), dt.time(9)))
    assert "documents:decision_request" not in r.t.by_name()  # it decides on a decision: its subjects come that day
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.until("2023-04-03")
    with db.session_scope() as session:
        [early] = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == r.id,
                                                           OutboxMessage.action.startswith("eligibility:decision_request"))).all()
    assert early.unit_code == "amr" and early.subject == "【待审核】2023年度示例区长质量奖：资格审核2项"
    assert "截至2023年4月3日" in early.body and "甲公司" in early.body and "乙公司" in early.body
    assert "请于2023年4月4日（星期二）前完成资格审核，以免影响后续环节。" in early.body, early.body
    r.until("2023-04-04")
    with db.session_scope() as session:
        [due] = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == r.id,
                                                         OutboxMessage.action.startswith("eligibility:decision_due"))).all()
    assert "按日程，资格审核应于今日完成" in due.body, due.body

    # A run caught up after downtime says the day has passed, not "请于（a past day）前".
    late = Round(write(tmp_path, "late.yaml", AWARD.replace("award-2023", "late-2023")))
    late.hand_in("application", ["e1"], "2023-03-20")
    late.until("2023-04-03")
    moment.run_due(late.p, late.id, late.t, at(dt.date(2023, 4, 6), dt.time(10)), template_dir=late.loaded.template_dir,
                   actor="test")
    with db.session_scope() as session:
        [caught_up] = session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == late.id, OutboxMessage.action.startswith("eligibility:decision_due"))).all()
    assert "按日程，资格审核应于2023年4月4日（星期二）完成，请尽快审核" in caught_up.body, caught_up.body
    assert caught_up.body.rstrip().endswith("2023年4月6日")


def test_the_simulated_office_keeps_each_reviewers_places(tmp_path, home):
    """The simulated world's cities recommend within their places, as ops are held to: the ones left
    over are refused with that reason, not the canned one."""
    from qcycle import synthetic
    from qcycle.models import Decision

    cut = set()
    for seed in range(6):  # some seed has a city whose counties passed both of its enterprises
        text = TWO_LEVELS.replace("per_reviewer: 1,", "per_reviewer: 1, tell_reason: true,").replace(
            "code: benchmark-2026,", f"code: benchmark-2026-{seed},")
        loaded = write(tmp_path, f"two-{seed}.yaml", text)
        t = expand(loaded.programme, WorkCalendar())
        with db.session_scope() as session:
            rid = sync_round(session, loaded).id
        synthetic.play_locally(loaded, t, rid, seed=seed, deliver=False)
        with db.session_scope() as session:
            city = {d.subject: (d.outcome, d.note) for d in session.exec(select(Decision).where(
                Decision.round_id == rid, Decision.stage == "city_review")).all()}
        for members in (("e1", "e2"), ("e3", "e4")):
            assert sum(city.get(u, ("",))[0] == "approved" for u in members) <= 1, (seed, city)
        cut |= {u for u, (outcome, note) in city.items() if note == "推荐名额已满，每个推荐单位不超过1家"}
    assert cut


def test_a_date_counted_from_the_close_of_an_event_of_several_days_counts_from_its_last_day(tmp_path):
    """"现场评审结束后" of a 现场评审 held over ten days was its first day (closes read as on)."""
    text = ASSESSMENT.replace(
        "      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}",
        "      - {code: visits, name: 现场核查, kind: event, on: 2016-03-07, days: 10}\n"
        "      - {code: scoring, name: 考核评分, kind: assessment, after: {stage: visits, event: closes, workdays: 1}}")
    assert text != ASSESSMENT
    timetable = expand(write(tmp_path, "visits.yaml", text).programme, WorkCalendar())
    assert timetable.by_name()["scoring:assess"].at.date() == dt.date(2016, 3, 17)  # the 16th is the last day


def test_a_rectification_of_one_assessment_of_several_names_that_assessment(tmp_path, home):
    """某县's two-year plan assessed each year: its 2025 整改通知 read "贵单位在某县创建…（2025—2026年）中
    被评为不合格", not which year's assessment."""
    text = ASSESSMENT.replace("{code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}",
                              "{code: scoring, name: 2015年度考核, kind: assessment, on: 2016-03-25}\n"
                              "      - {code: scoring_2, name: 2016年度考核, kind: assessment, on: 2016-12-26}")
    assert text != ASSESSMENT
    r = Round(write(tmp_path, "twice.yaml", text))
    with db.session_scope() as session:  # the 2015 assessment's scores, named as such
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": u, "reviewer": "r1", "component": "all", "value": v, "stage": "scoring"}
            for u, v in {"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40}.items()])
    r.until("2016-04-05")
    letters = r.letters("report")
    assert sorted(letters) == ["c3", "c4", "c5"]
    assert "贵单位在2015年度考核中排名后3名（第5名）" in letters["c5"], letters["c5"]
    once = Round(write(tmp_path, "once.yaml", ASSESSMENT.replace("code: county-2015", "code: county-2015-once")))
    once.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    once.until("2016-04-05")
    assert "贵单位在2015年度县级质量工作考核中排名后3名（第5名）" in once.letters("report")["c5"]


def test_the_top_places_of_an_assessment_per_category_are_each_categorys(tmp_path, home):
    """An office's "现场评审 for the top 20" over two awards assessed apart took 10 of each: the firsts
    of both, then the seconds. Places are the ones the letters tell (each award's own ranking), so
    the first of such an assessment is each award's first."""
    from tests.homes import play_programme
    from tests.test_validate import shipped_variant

    path = shipped_variant(tmp_path, "wz-mayor-quality-award-2021", "among: {grades: [获奖]}",
                           "among: {rank: {top: 1}, assessed_at: scoring}")
    p, _, round_id = play_programme(path, seed=5)
    with db.session_scope() as session:
        results = crud.list_results(session=session, round_id=round_id)
        reviewed = set(crud.outcomes_at(session=session, round_id=round_id, stage="committee"))
    top = {r.unit_code for r in results if r.rank == 1 and not r.veto}
    by_award = {c.code: [r for r in results if p.item_category[r.unit_code.partition(":")[2]] == c.code]
                for c in p.categories}
    assert all(len(rows) > 1 for rows in by_award.values())  # both awards have more candidates than places
    assert reviewed == top and len(top) == 2, (reviewed, top)
    # The export says the others never reached the committee, not that they wait for it.
    with db.session_scope() as session:
        [sheet] = ops.result_rows(session, p, round_id).values()
    finals = {row["单位代码"] + ":" + next(i.code for c in p.categories for i in c.items if i.name == row["项目"]):
              row["最终结果"] for row in sheet}
    assert all(final.endswith("（未进入评审委员会综合审查）") for s, final in finals.items() if s not in top), finals
    assert not any("（待" in final for final in finals.values()), finals


def test_a_rectification_deadline_past_the_known_calendar_is_not_counted_in_working_days(tmp_path, home):
    """某市's 整改通知 of late 2026 told "距报送期限还有66个工作日" to a deadline in 2027, counted on the
    weekends-only fallback that knows no 元旦 or 春节; the date stands, the count is left out."""
    text = (ASSESSMENT.replace("years: [2016]", "years: [2026, 2027]").replace("2015-01-01", "2025-01-01")
            .replace("2015-12-31", "2025-12-31").replace("on: 2016-03-25", "on: 2026-11-20")
            .replace("on: 2016-03-31", "on: 2026-11-27").replace("months: 1}", "months: 3}"))
    r = Round(write(tmp_path, "county.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2026-12-01")
    letters = r.letters("report")
    assert sorted(letters) == ["c3", "c4", "c5"]
    assert all("2027年2月" in body or "2027年3月" in body for body in letters.values()), letters["c5"]
    assert not any("个工作日" in body for body in letters.values()), letters["c5"]
    # Within the calendar's known years the count is told (the 2016 round: "距报送期限还有…个工作日").
    known = Round(write(tmp_path, "known.yaml", ASSESSMENT.replace("code: county-2015", "code: county-2015b")))
    known.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    known.until("2016-04-05")
    assert "距报送期限还有" in known.letters("report")["c5"]


def test_a_list_of_several_items_names_each_beside_its_unit_in_the_programmes_order(tmp_path, home):
    """An office's 公示 of two awards at once listed 15 enterprises mixed, neither saying which award
    (and 某市's 13 projects read as 12 units): each entry names its item, the items in the file's order."""
    from tests.homes import play_programme
    from tests.test_validate import shipped_variant

    path = shipped_variant(tmp_path, "wz-mayor-quality-award-2021",
                           "    per_category:            # 按奖项分别告知，函件写明所公示的奖项\n"
                           "      zl: {on: 2021-10-11}\n      cx: {on: 2021-10-11}\n"
                           "    notify: {approved_at: committee, grades: [获奖]}\n",
                           "    notify: {approved_at: committee, grades: [获奖]}\n")
    *_, round_id = play_programme(path, seed=5)
    with db.session_scope() as session:
        notices = [m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == round_id, OutboxMessage.subject.contains("【公示】"))).all()]
    assert notices
    roster = [line for line in notices[0].splitlines() if re.match(r"\d+\. ", line)]
    awards = [re.search(r"（(温州市[^）]+)）[；。]$", line).group(1) for line in roster]
    assert set(awards) == {"温州市市长质量奖", "温州市质量管理创新奖"}, roster
    assert awards == sorted(awards, key=["温州市市长质量奖", "温州市质量管理创新奖"].index), roster  # the file's order
    assert f"公示名单（共{len(roster)}家）" in notices[0], notices[0]


def _projects_rectified(tmp_path: Path, grades: str, more: str = "", consequence: str = ""
                        ) -> tuple[Programme, uuid.UUID, dict[str, str]]:
    """四川's list with a 整改报告 owed by the projects given ``grades`` ("[不合格]"), ``more`` stages after it and 合格's
    ``consequence``, played (seed 5): (programme, round, unit → its 整改通知 by email)."""
    from tests.homes import play_programme
    from tests.test_validate import shipped_variant

    report = ("  - code: rectify\n    name: 整改报告\n    kind: followup\n    submission: rectification_report\n"
              f"    owed_by: {{grades: {grades}, assessed_at: assessment}}\n"
              "    opens_after: {stage: results, event: on, days: 0}\n"
              "    deadline: {after: {stage: results, event: on, months: 1}}\n"
              "    per_category:  # each category's results come on its own day\n"
              "      cxyl: {deadline: {after: {stage: results, event: on, months: 1}}}\n")
    path = shipped_variant(tmp_path, "sc-jbgs-2023", "    per_category:\n      cxyl: {on: 2025-01-24}\n",
                           "    per_category:\n      cxyl: {on: 2025-01-24}\n" + report + more)
    if consequence:
        path.write_text(path.read_text(encoding="utf-8").replace(
            "    - {name: 合格, min_score: 60}", f"    - {{name: 合格, min_score: 60, consequence: {consequence}}}", 1),
            encoding="utf-8")
    p, _, round_id = play_programme(path, seed=5)
    with db.session_scope() as session:
        orders = {m.unit_code: m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == round_id, OutboxMessage.channel == "email")).all() if m.subject.startswith("【整改通知】")}
    return p, round_id, orders


def test_a_rectification_of_a_project_names_the_project(tmp_path, home):
    """某市's pilot with two projects read "贵单位在…中被评为不合格": which of the two fell short went unsaid."""
    p, round_id, orders = _projects_rectified(tmp_path, "[不合格]")
    with db.session_scope() as session:
        failed = {r.unit_code for r in crud.list_results(session=session, round_id=round_id) if r.grade == "不合格"}
    assert orders and {s.partition(":")[0] for s in failed} >= set(orders), (orders.keys(), failed)
    for subject in failed:
        unit, name = subject.partition(":")[0], p.item_names[subject.partition(":")[2]]
        if unit in orders:
            assert f"中申报的“{name}”被评为不合格。" in orders[unit], orders[unit]


BATCHES = """\
    version: 2
    round: {code: brand-2027, name: 2027年省级品牌培育试点, programme: 省级品牌培育试点, issuer: amr, years: [2027]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: amr, name: 示例省市场监督管理局, level: province, channels: [sink]}
      - {code: e1, name: 甲公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e2, name: 乙公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e3, name: 丙公司, level: enterprise, parent: amr, channels: [sink]}
      - {code: e4, name: 丁公司, level: enterprise, parent: amr, channels: [sink]}
    categories:
      - {code: b1, name: 第一批, items: [{code: b1-01, name: 2027年第一批省级品牌培育试点}]}
      - {code: b2, name: 第二批, items: [{code: b2-01, name: 2027年第二批省级品牌培育试点}]}
    stages:
      - {code: call, name: 申报通知, kind: publication, on: 2027-03-01, per_category: {b2: {on: 2027-08-02}},
         notify: {levels: [enterprise]}}
      - code: application
        name: 申报书
        kind: submission
        submission: application
        owed_by: {levels: [enterprise]}
        voluntary: true
        opens: 2027-03-01
        deadline: {date: 2027-03-31}
        per_category: {b2: {opens: 2027-08-02, deadline: {date: 2027-08-31}}}
"""


def test_the_simulated_world_applies_in_each_batch_for_that_batchs_items(tmp_path, home):
    """省级品牌培育试点's simulated enterprises applied for the August batch in March, and were taken as on
    time: a window dated per category takes its own category's items."""
    from qcycle.synthetic import World

    r = Round(write(tmp_path, "batches.yaml", BATCHES))
    world = World(r.p, r.t, r.id, seed=5, items_per_applicant=(1, 2), malformed_per_window=0)
    with db.session_scope() as session:
        march = world.arriving(session, at(dt.date(2027, 4, 30), dt.time(12, 0)))
        august = world.arriving(session, at(dt.date(2027, 9, 30), dt.time(12, 0)))
    assert march and august
    for arrived, item, first, last in ((march, "b1-01", "2027-03-01", "2027-04-07"),
                                       (august, "b2-01", "2027-08-02", "2027-09-07")):
        assert {record["item"] for record, _ in arrived} == {item}
        assert all(first <= record["submitted_at"][:10] <= last for record, _ in arrived)


MONTH = """\
    version: 2
    round: {code: zly-2025, name: 2025年“质量月”活动, programme: 质量月活动, issuer: office, years: [2025]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: office, name: 某市质量强市工作领导小组办公室, level: city, channels: [sink]}
      - {code: d1, name: 某市教育局, level: department, parent: office, channels: [sink]}
      - {code: d2, name: 某市商务局, level: department, parent: office, channels: [sink]}
      - {code: d3, name: 某市卫生健康委员会, level: department, parent: office, channels: [sink]}
    stages:
      - {code: summary, name: 报送活动总结, kind: submission, submission: self_evaluation, owed_by: {levels: [department]},
         opens: 2025-10-08, deadline: {date: 2025-10-15}}
      - {code: choose, name: 确定优秀组织单位, kind: decision, decides: summary, on: 2025-10-25}
      - {code: praise, name: 通报表扬, kind: notification, template: praise, on: 2025-10-29, notify: {approved_at: choose}}
      - {code: criticism, name: 约谈未报送单位, kind: notification, template: summons, on: 2025-10-29,
         notify: {missing_at: summary}}
"""


def test_a_praise_without_a_grade_and_a_summons_for_a_missed_report_read_once(tmp_path, home):
    """某市's 质量月: the praise read "表现突出，成绩突出" and the letter to a unit that never reported
    "未按期报送“报送活动总结”": what is handed in is named, not the stage's verb phrase."""
    r = Round(write(tmp_path, "month.yaml", MONTH))
    r.hand_in("self_evaluation", ["d1", "d2"], "2025-10-12")
    r.until("2025-10-24")
    r.decide("choose", d1="approved", d2="rejected")
    r.until("2025-10-29")
    praised = r.letters("praise")
    assert sorted(praised) == ["d1"]
    # Chosen at a step that chooses: said so (临江), once "成绩突出" and never "表现突出，成绩突出".
    assert "贵单位在2025年“质量月”活动中被确定为优秀组织单位，成绩突出，现予通报表扬。" in praised["d1"], praised["d1"]
    assert "表现突出" not in praised["d1"], praised["d1"]
    summoned = r.letters("criticism")
    assert sorted(summoned) == ["d3"]
    assert "未按期报送“活动总结”" in summoned["d3"] and "“报送活动总结”" not in summoned["d3"], summoned["d3"]


def test_a_decision_with_places_in_all_holds_ops_and_the_simulation_to_them(tmp_path, home):
    """某市's 质量月 chooses at most 5 优秀组织单位 without scores; nothing could say so, and the
    simulated office praised 10. ``max_approved`` holds ``qcycle decide`` and the simulation to it."""
    from qcycle.errors import DecisionError
    from qcycle.synthetic import World

    text = MONTH.replace("kind: decision, decides: summary, on: 2025-10-25}",
                         "kind: decision, decides: summary, on: 2025-10-25, max_approved: 1}", 1)
    assert "max_approved" in text
    r = Round(write(tmp_path, "month.yaml", text))
    r.hand_in("self_evaluation", ["d1", "d2", "d3"], "2025-10-12")
    r.until("2025-10-24")
    rows = [ops.DecisionRow("choose", s, "approved") for s in ("d1", "d2")]
    with db.session_scope() as session, pytest.raises(DecisionError, match="确定优秀组织单位：最多同意 1 个，将有 2 个"):
        ops.decide(session=session, programme=r.p, round_id=r.id, rows=rows, decided_by="test")
    with db.session_scope() as session:
        assert ops.places_lines(session, r.p, r.id, "choose", ["d1", "d2", "d3"]) == ["名额：已同意 0 个（不超过 1 个），待决定 3 个"]
        world = World(r.p, r.t, r.id, seed=1)
        world.decide(session, at(dt.date(2025, 10, 25), dt.time(12, 0)))
    with db.session_scope() as session:
        made = crud.outcomes_at(session=session, round_id=r.id, stage="choose")
    # The simulated office would approve all three (seed 1): the first in order keeps the one place.
    assert made == {"d1": "approved", "d2": "rejected", "d3": "rejected"}
    with pytest.raises(ConfigError, match="max_approved（最多同意几个）只用于 decision 阶段"):
        write(tmp_path, "wrong.yaml", MONTH.replace("template: praise, on: 2025-10-29,", "template: praise, on: 2025-10-29, max_approved: 1,", 1))


def test_a_list_is_reported_to_a_superior_as_a_report(tmp_path, home):
    """某省's 推荐函 to the national office went as a result letter: "贵单位辖区内11个参评单位的结果如下",
    every applicant and the cities' internal reasons. ``template: report`` sends the list ``lists``
    selects, best placed first, "特此报告"."""
    text = AWARD.replace(
        "      - {code: gov, name: 示例区人民政府, level: government, channels: [sink]}\n",
        "      - {code: gov, name: 示例区人民政府, level: government, channels: [sink]}\n"
        "      - {code: nat, name: 中国质量奖评选表彰工作办公室, level: government, channels: [sink]}\n", 1).replace(
        "      - {code: results, name: 通知评审结果,",
        "      - {code: report, name: 报送推荐名单, kind: notification, template: report, on: 2023-05-16,\n"
        "         notify: {units: [nat]}, lists: {approved_at: committee}}\n"
        "      - {code: results, name: 通知评审结果,", 1)
    assert "lists:" in textwrap.dedent(text)
    r = Round(write(tmp_path, "report.yaml", text))
    _through_scoring(r, {"e1": 85, "e2": 90, "e3": 72, "e4": 60})
    r.decide("committee", e1="approved", e2="approved", e3="rejected")
    r.until("2023-05-16")
    told = r.letters("report")
    assert sorted(told) == ["nat"]
    assert ("根据2023年度示例区长质量奖工作安排，现将推荐名单（共2家）报送如下：\n1. 乙公司（区长质量奖，得分90.00）；\n"
            "2. 甲公司（提名奖，得分85.00）。\n\n特此报告。") in told["nat"], told["nat"]
    assert "丙公司" not in told["nat"] and "丁公司" not in told["nat"]
    with pytest.raises(ConfigError, match="template: report（向上级报送名单）须给出 lists"):
        write(tmp_path, "nolist.yaml", text.replace(", lists: {approved_at: committee}}", "}", 1))


def test_a_review_request_of_a_second_batch_names_its_batch(tmp_path, home):
    """A city asked in September read "“申报书”已截止受理", as if of March's window: a window that
    closes per category is named with its batch."""
    text = BATCHES.replace("2027", "2025").replace(
        "      - {code: e1, name: 甲公司, level: enterprise, parent: amr, channels: [sink]}\n",
        "      - {code: c1, name: 示例市市场监督管理局, level: city, parent: amr, channels: [sink]}\n"
        "      - {code: e1, name: 甲公司, level: enterprise, parent: c1, channels: [sink]}\n", 1) + (
        "      - {code: recommend, name: 市局推荐, kind: decision, decides: application, reviewed_by: parent,\n"
        "         on: 2025-04-15, per_category: {b2: {on: 2025-09-15}}}\n")
    r = Round(write(tmp_path, "batches.yaml", text))
    r.hand_in("application", ["e1"], "2025-08-20", item="b2-01")
    r.until("2025-09-05")
    with db.session_scope() as session:
        asked = [m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c1")) if m.action.startswith("recommend:")]
    assert any("“申报书（第二批）”已截止受理" in body for body in asked), asked
    assert not any("“申报书”" in body for body in asked), asked


def test_letters_asking_for_a_hand_in_say_how_it_goes_and_whom_to_ask(tmp_path, home):
    """An officer's call names where the material goes and a person to ask (报送方式, 联系人); the
    letters had said only "请按时提交"."""
    text = ASSESSMENT.replace(
        "      period: {start: 2015-01-01, end: 2015-12-31}\n",
        "      period: {start: 2015-01-01, end: 2015-12-31}\n      contact: 质量科 张三，0391-1234567\n", 1).replace(
        "        submission: rectification_report\n",
        "        submission: rectification_report\n"
        "        submit_via: 纸质材料一式两份报送市质量办（市政府2号楼305室）。\n"
        "        contact: 督查科 李四，0391-7654321\n", 1)
    r = Round(write(tmp_path, "county.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-05-31")  # c3 never reports
    how = "报送方式：纸质材料一式两份报送市质量办（市政府2号楼305室）。"
    with db.session_scope() as session:
        order = session.exec(select(OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c5",
            OutboxMessage.subject.startswith("【整改通知】"))).one()
    lines = order.splitlines()
    assert how in lines and lines[-4:] == ["联系人：督查科 李四，0391-7654321", "", "示例市质量强市工作领导小组办公室",
                                           "2016年3月31日"], order
    with db.session_scope() as session:
        mine = session.exec(select(OutboxMessage.subject, OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c3")).all()
    chasing = [body for subject, body in mine if subject.startswith(("【提醒】", "【逾期提醒】", "【督办】"))]
    assert len(chasing) >= 3 and all(how in body and "联系人：督查科 李四" in body for body in chasing), mine
    # Letters of other stages: the round's person, and nothing to hand in.
    result = r.letters("results")["c1"]
    assert "联系人：质量科 张三，0391-1234567" in result and "报送方式" not in result
    assert "联系人：质量科 张三" in r.letters("summons")["c3"] and "报送方式" not in r.letters("summons")["c3"]


def test_a_superior_urged_about_a_hand_in_is_given_the_rounds_contact_not_the_windows(tmp_path, home):
    """江州: a window's 联系人 ("所在区县市场监督管理局质量股") is for the units owing it; the 督办 to that
    区县局 about its enterprises had named the 区县局 itself."""
    text = WITH_GOV.replace(
        "      period: {start: 2015-01-01, end: 2015-12-31}\n",
        "      period: {start: 2015-01-01, end: 2015-12-31}\n      contact: 质量科 张三，0391-1234567\n", 1).replace(
        "        submission: rectification_report\n",
        "        submission: rectification_report\n        contact: 所在县人民政府办公室\n", 1).replace(
        "escalate_to: city", "escalate_to: gov", 1)
    r = _scored(tmp_path, text, "2016-05-31")  # c3, c4 and c5 never report
    with db.session_scope() as session:
        urged = session.exec(select(OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "gov",
            OutboxMessage.subject.startswith("【督办】"))).all()
    assert urged and all("联系人：质量科 张三，0391-1234567" in body and "所在县人民政府办公室" not in body
                         for body in urged), urged
    bare = _scored(tmp_path, text.replace("      contact: 质量科 张三，0391-1234567\n", "", 1).replace(
        "code: county-2015", "code: bare-2015", 1), "2016-05-31")
    with db.session_scope() as session:  # no round contact: none, rather than the window's
        urged = session.exec(select(OutboxMessage.body).where(
            OutboxMessage.round_id == bare.id, OutboxMessage.unit_code == "gov",
            OutboxMessage.subject.startswith("【督办】"))).all()
    assert urged and all("联系人" not in body for body in urged), urged
    with db.session_scope() as session:  # those owing it still read the window's
        chased = session.exec(select(OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c3",
            OutboxMessage.subject.startswith("【逾期提醒】"))).all()
    assert chased and all("联系人：所在县人民政府办公室" in body for body in chased), chased


@pytest.mark.parametrize(("where", "said"), [
    ("      contact: 联系人：张三\n", "contact 只写联系人之后的内容"),
    ("      contact: '  '\n", "contact 不能为空白"),
])
def test_a_contact_is_what_follows_its_label(tmp_path, where, said):
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "county.yaml", ASSESSMENT.replace(
            "      period: {start: 2015-01-01, end: 2015-12-31}\n",
            "      period: {start: 2015-01-01, end: 2015-12-31}\n" + where, 1))
    assert said in str(exc.value) and "round.contact" in str(exc.value), str(exc.value)


def test_submit_via_belongs_to_a_window(tmp_path):
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "county.yaml", ASSESSMENT.replace(
            "template: result, on: 2016-03-31,", "template: result, submit_via: 网上填报, on: 2016-03-31,"))
    assert "submit_via（报送方式）只用于 submission/followup 阶段" in str(exc.value) and "stages[1]" in str(exc.value)


def _through_recheck(tmp_path: Path, stage: str) -> Round:
    """ASSESSMENT with its report owed by 不合格 and ``stage`` (a notification a working day after the
    report's review), played through the review (:func:`_through_review`)."""
    return _through_review(tmp_path, ASSESSMENT.replace("owed_by: {rank: {bottom: 3}}", "owed_by: {grades: [不合格]}").replace(
        "    assessment:\n", f"      - {stage}\n    assessment:\n", 1))


def _through_review(tmp_path: Path, text: str) -> Round:
    """An ASSESSMENT-like round played to the end of May: c4 and c5 hand in their report, c4 passes
    the review, c5 does not."""
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c4", "c5"], "2016-04-20")
    r.until("2016-05-06")
    r.decide("report_review", c4="approved", c5="rejected")
    r.until("2016-05-31")
    return r


def test_a_praise_for_passing_the_recheck_a_grade_sent_a_unit_to_says_so_not_the_grade(tmp_path, home):
    """A 标准化试点's 复验 passed after 限期整改 was praised "被评为限期整改，成绩突出"."""
    r = _through_recheck(tmp_path, "{code: named, name: 通报复验通过的县, kind: notification, template: praise,\n"
                                   "         after: {stage: report_review, event: on, workdays: 1}, "
                                   "notify: {approved_at: report_review}}")
    praised = r.letters("named")
    assert sorted(praised) == ["c4"]
    assert "贵单位在2015年度县级质量工作考核中通过整改情况审核" in praised["c4"] and "不合格" not in praised["c4"], praised


def test_a_unit_named_for_passing_the_recheck_its_grade_owed_is_named_the_title_not_that_grade(tmp_path, home):
    """诚信计量示范单位: those that passed 整改后复查 after 限期整改 were sent "被命名为限期整改" beside those named by
    their score; they are named the title the stage confers, with its validity."""
    text = ASSESSMENT.replace("owed_by: {rank: {bottom: 3}}", "owed_by: {grades: [不合格]}").replace(
        "grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
        "grades: [{name: 示范县, min_score: 60, valid_years: 3}, {name: 不合格}]").replace(
        "    assessment:\n",
        "      - {code: naming, name: 命名示范县, kind: notification, template: award,\n"
        "         after: {stage: report_review, event: on, workdays: 1},\n"
        "         notify: {any_of: [{grades: [示范县]}, {approved_at: report_review}]}}\n    assessment:\n", 1)
    r = _through_review(tmp_path, text)
    named = r.letters("naming")
    assert sorted(named) == ["c1", "c2", "c3", "c4"], named
    assert "贵单位在2015年度县级质量工作考核中通过整改情况审核，被命名为示范县。" in named["c4"], named["c4"]
    assert "被命名为示范县。" in named["c1"] and "整改" not in named["c1"], named["c1"]
    assert all("有效期为3年（2016年至2018年）" in body for body in named.values()), named
    assert "不合格" not in "".join(named.values())


def test_a_grade_that_confers_a_title_names_it_in_the_naming_letter_and_keeps_its_name_in_results(tmp_path, home):
    """安徽's 质量强县: "验收通过, 命名为质量强县示范县": 长丰 was sent "被命名为验收通过", and a county named after passing its
    复验 (the naming chose those the 复验 passed, no grade) a 【命名通知】 headed "限期整改"."""
    text = ASSESSMENT.replace("owed_by: {rank: {bottom: 3}}", "owed_by: {grades: [限期整改]}").replace(
        "grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
        "grades: [{name: 验收通过, min_score: 85, title: 质量强县示范县}, {name: 限期整改, min_score: 50}, {name: 验收不通过}]"
    ).replace(
        "    assessment:\n",
        "      - {code: naming, name: 命名质量强县示范县, kind: notification, template: award, on: 2016-04-01,\n"
        "         notify: {grades: [验收通过]}}\n"
        "      - {code: renaming, name: 命名复验通过的质量强县示范县, kind: notification, template: award,\n"
        "         after: {stage: report_review, event: on, workdays: 1}, notify: {approved_at: report_review}}\n"
        "    assessment:\n", 1)
    r = _through_review(tmp_path, text)
    named = r.letters("naming")
    assert sorted(named) == ["c1"], named
    assert "贵单位在2015年度县级质量工作考核中被命名为质量强县示范县。" in named["c1"], named["c1"]
    assert "验收通过" not in named["c1"], named["c1"]
    assert "验收通过（得分95.00）" in r.letters("results")["c1"], r.letters("results")["c1"]
    renamed = r.letters("renaming")
    assert sorted(renamed) == ["c4"], renamed
    assert "通过整改情况审核，被命名为质量强县示范县。" in renamed["c4"], renamed["c4"]
    with db.session_scope() as session:
        subject = session.exec(select(OutboxMessage.subject).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("renaming:"))).first()
    assert subject == "【命名通知】2015年度县级质量工作考核：质量强县示范县", subject
    # Without the title, validate says the letter would name the grade, and what to write.
    bare = write(tmp_path, "bare.yaml", text.replace(", title: 质量强县示范县", ""))
    assert any("“命名质量强县示范县”将写“被命名为验收通过”" in str(n) and "title: 质量强县示范县" in str(n)
               for n in bare.notices), bare.notices
    assert not any("被命名为" in str(n) for n in write(tmp_path, "titled.yaml", text).notices)


def test_a_value_outside_its_choices_lists_them_in_chinese(tmp_path):
    """validate said "应为 'all', 'level' or 'group'": English in an officer's error message."""
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "county.yaml", ASSESSMENT.replace(
            "    assessment:\n", "    assessment:\n      rank_within: levels\n", 1))
    said = str(exc.value)
    assert "assessment.rank_within" in said and "应为 'all'、'level' 或 'group'（实际为 'levels'）" in said, said
    assert " or " not in said


@pytest.mark.parametrize(("level", "whose"), [("enterprise", "贵单位辖区内"), ("office", "贵单位所属")])
def test_a_superior_urging_an_overdue_unit_calls_it_by_how_it_belongs(tmp_path, home, level, whose):
    """A city bureau was told "贵单位所属某公司" of an enterprise it only oversees (辖区内); its own 基层所 are 所属."""
    text = ASSESSMENT.replace("escalate_to: city}", "escalate_to: parent}").replace(
        "      - {code: c3, name: 三县人民政府, level: county, parent: city, channels: [sink]}\n",
        "      - {code: c3, name: 三县人民政府, level: county, parent: city, channels: [sink]}\n"
        "      - {code: bur, name: 示例区市场监督管理局, level: county, parent: city, channels: [sink]}\n"
        f"      - {{code: x1, name: 甲单位, level: {level}, parent: bur, channels: [sink]}}\n", 1).replace(
        "owed_by: {rank: {bottom: 3}}", "owed_by: {units: [c5, x1]}").replace(
        "subjects: {levels: [county]}", "subjects: {units: [c1, c2, c3, c4, c5]}")
    r = Round(write(tmp_path, "county.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-05-31")  # neither reports
    with db.session_scope() as session:
        urged = session.exec(select(OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "bur",
            OutboxMessage.subject.startswith("【督办】"))).one()
    assert f"{whose}甲单位应于2016年5月3日" in urged, urged


def test_a_list_reported_upward_says_a_veto_beside_the_grade_it_forced(tmp_path, home):
    """A 市政府 read "东湖区人民政府（不合格，得分67.93）" above the 60 line, the veto said nowhere."""
    from qcycle.lifecycle.notifying import notify_action

    text = WITH_GOV.replace(
        "notify: {levels: [county]}}", "notify: {levels: [county]}}\n"
        "      - {code: upward, name: 报送考核结果, kind: notification, template: report, on: 2016-03-31,\n"
        "         notify: {units: [gov]}, lists: {grades: [合格, 不合格]}}").replace(
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
        "      vetoes: [{code: accident, name: 发生重大质量安全事故, grade: 不合格}]\n"
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    r = Round(write(tmp_path, "veto.yaml", text))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "c1", "total": 90, "grade": "合格", "rank": 1},
            {"unit_code": "c2", "total": 67.93, "grade": "不合格", "rank": 2, "veto": "accident"}])
        action = next(a for a in r.t.actions if a.stage == "upward")
        (letter,) = notify_action(session, r.p, r.id, action).drafts
    body = render_message(letter.template, letter.context)[1]
    assert "2. 二县人民政府（不合格，得分67.93；因发生重大质量安全事故，实行一票否决）" in body, body
    assert "现将考核结果（共2个）" in body  # county governments: 个 (enterprises 家, entries 项)


def test_a_list_of_entries_reported_upward_counts_them_as_items(tmp_path, home):
    """A QC contest's report to the province read "推荐名单（共3个）" of three 成果."""
    from qcycle.lifecycle.notifying import notify_action

    text = AWARD.replace("区长质量奖", "一等奖").replace("提名奖", "二等奖").replace(
        "      - {code: results, name: 通知评审结果,",
        "      - {code: upward, name: 报送推荐名单, kind: notification, template: report, on: 2023-05-16,\n"
        "         notify: {units: [gov]}, lists: {grades: [一等奖]}}\n"
        "      - {code: results, name: 通知评审结果,", 1) + TWO_KINDS
    r = Round(write(tmp_path, "qc.yaml", text))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1:xc-1", "total": 90, "grade": "一等奖", "rank": 1},
            {"unit_code": "e1:gg-1", "total": 95, "grade": "一等奖", "rank": 1}])
        action = next(a for a in r.t.actions if a.stage == "upward")
        (letter,) = notify_action(session, r.p, r.id, action).drafts
    body = render_message(letter.template, letter.context)[1]
    assert "推荐名单（共2项）" in body, body


def test_a_summary_to_a_superior_says_what_was_never_handed_in_and_the_recheck_after_a_grade(tmp_path, home):
    """A province's summary to its city bureaus read "东州精工：通过中期评估" of a project that never filed
    its 验收申请 (a unit with no decision at all was left out), and after the 复验 repeated the earlier
    summary word for word: "限期整改（得分66.10）" of a project that had just passed it."""
    text = WITH_GOV.replace(
        "      - {code: scoring,",
        "      - {code: selfreport, name: 自评报告, kind: submission, submission: self_evaluation,\n"
        "         owed_by: {levels: [county]}, opens: 2016-03-01, deadline: {date: 2016-03-18}}\n"
        "      - {code: scoring,", 1).replace(
        "owed_by: {rank: {bottom: 3}}", "owed_by: {grades: [不合格]}")
    text = text.replace(
        "      - {code: summons,",
        "      - {code: summary, name: 报送整改情况, kind: notification, template: result,\n"
        "         after: {stage: report_review, event: on, workdays: 1}, notify: {units: [gov]}}\n"
        "      - {code: summons,", 1)
    r = Round(write(tmp_path, "county.yaml", text))
    r.hand_in("self_evaluation", ["c1", "c2", "c4", "c5"], "2016-03-10")  # c3 never
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-04-05")
    r.hand_in("rectification_report", ["c4"], "2016-04-20")  # c5 never reports
    r.until("2016-05-06")
    r.decide("report_review", c4="approved")
    r.until("2016-05-31")
    summary = r.letters("summary")["gov"]
    lines = re.findall(r"^\d+\. (.+?)[；。]?$", summary, re.MULTILINE)
    assert "三县人民政府：合格（得分62.00）；未提交自评报告" in lines, summary
    assert "四县人民政府：不合格（得分55.00）；通过整改情况审核" in lines, summary
    assert "五县人民政府：不合格（得分40.00）；未提交书面整改报告" in lines, summary
    assert "一县人民政府：合格（得分95.00）" in lines, summary


def test_what_a_grade_brings_is_said_beside_it(tmp_path, home):
    """A 标准化试点 read "结果为：不通过（得分37.70）", the 撤销 its rules attach to 不通过 said nowhere."""
    text = WITH_GOV.replace(
        "{name: 不合格}]", "{name: 不合格, consequence: 取消本年度评先评优资格}]").replace(
        "notify: {levels: [county]}}", "notify: {levels: [county]}}\n"
        "      - {code: summary, name: 报送考核结果, kind: notification, template: result, on: 2016-03-31,\n"
        "         notify: {units: [gov]}}")
    r = _scored(tmp_path, text, "2016-03-31")
    told = r.letters("results")
    assert "贵单位结果为：不合格（得分40.00）。\n按规定，取消本年度评先评优资格。" in told["c5"], told["c5"]
    assert "按规定" not in told["c1"]
    assert "五县人民政府：不合格（得分40.00），取消本年度评先评优资格" in r.letters("summary")["gov"]


def test_the_simulated_reviewers_score_a_late_hand_in_that_arrives_at_the_assessments_moment(tmp_path, home):
    """A 品牌目录 that accepts late applications failed its simulated year: applications landing late at
    the assessment's own moment became subjects after the reviewers had been asked ("只有 0 个评分")."""
    from qcycle import synthetic

    text = AWARD.replace(
        "      - {code: eligibility, name: 资格审核, kind: decision, decides: application, on: 2023-04-04}\n"
        "      - {code: documents, name: 材料评审, kind: decision, decides: eligibility, on: 2023-04-11}\n"
        "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-04-18}\n",
        "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-04-10}\n").replace(
        "      - {code: committee, name: 评审委员会审议, kind: decision, decides: scoring, on: 2023-04-25,\n"
        "         among: {grades: [区长质量奖, 提名奖]}}\n", "").replace(
        ", notify: {approved_at: committee}}", ", notify: {grades: [区长质量奖, 提名奖]}}").replace(
        "notify: {grades: [区长质量奖, 提名奖], approved_at: committee}", "notify: {grades: [区长质量奖, 提名奖]}").replace(
        "subjects: {approved_at: documents}", "subjects: {submitted_at: application}")
    assert "eligibility" not in text and "committee" not in text, text
    late = 0
    for seed in range(1, 8):
        loaded = write(tmp_path, f"late-{seed}.yaml", text.replace("code: award-2023,", f"code: award-2023-{seed},"))
        t = expand(loaded.programme, WorkCalendar())
        with db.session_scope() as session:
            rid = sync_round(session, loaded).id
        synthetic.play_locally(loaded, t, rid, seed=seed, deliver=False)
        with db.session_scope() as session:
            handed = session.exec(select(Submission.unit_code, Submission.late).where(Submission.round_id == rid)).all()
            graded = {x.unit_code for x in crud.list_results(session=session, round_id=rid)}
        late += sum(1 for _, was_late in handed if was_late)
        assert {u for u, _ in handed} == graded, seed
    assert late  # some landed late, at the assessment's moment (the first after the deadline), and were scored


def test_a_supervising_office_that_missed_its_own_report_still_hears_of_its_units(tmp_path, home):
    """首席质量官: two 所 that never handed in their own 汇总表 were left out of the summaries of their
    enterprises' results, and an enterprise was told less than its 所 (its missed 半年报告)."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: cqo-2025, name: 2025年度首席质量官履职情况, programme: 首席质量官履职, issuer: bur, years: [2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: bur, name: 示例县市场监督管理局, level: county, channels: [sink]}
          - {code: so1, name: 东关市场监管所, level: office, parent: bur, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: so1, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: so1, channels: [sink]}
        stages:
          - {code: half, name: 半年履职情况报告, kind: submission, submission: progress_report,
             owed_by: {levels: [enterprise]}, opens: 2025-07-01, deadline: {date: 2025-07-15}}
          - {code: digest, name: 辖区汇总表, kind: submission, submission: self_evaluation,
             owed_by: {levels: [office]}, opens: 2025-07-16, deadline: {date: 2025-07-25}}
          - {code: rating, name: 履职评定, kind: assessment, on: 2025-08-15}
          - {code: results, name: 通知评定结果, kind: notification, template: result, on: 2025-08-20,
             notify: {levels: [enterprise, office]}}
        assessment:
          subjects: {levels: [enterprise]}
          components: [{code: all, name: 综合评分, weight: 1}]
          grades: [{name: 合格, min_score: 60}, {name: 不合格}]
        """)
    r = Round(write(tmp_path, "cqo.yaml", text))
    r.hand_in("progress_report", ["e1"], "2025-07-10")  # e2 never; so1 never hands in its 汇总表
    r.scores({"e1": 80, "e2": 50})
    r.until("2025-08-20")
    told = r.letters("results")
    assert sorted(told) == ["e1", "e2", "so1"], told
    assert "1. 甲公司：合格（得分80.00）；\n2. 乙公司：不合格（得分50.00）；未提交半年履职情况报告。" in told["so1"], told["so1"]
    assert "贵单位结果为：不合格（得分50.00）；未提交半年履职情况报告。" in told["e2"], told["e2"]
    assert "未提交" not in told["e1"]


def test_a_directory_is_a_list_its_call_says_how_to_apply_and_its_notice_says_a_name_once(tmp_path, home):
    """市级品牌培育指导目录: the call dropped the file's 报送方式; the 目录's publication told a listed enterprise
    only "本次共安排8个单位参加"; the 公示 read "贵单位已列入拟列入…目录名单"."""
    text = AWARD.replace(
        "        deadline: {date: 2023-03-31}\n",
        "        deadline: {date: 2023-03-31}\n        submit_via: 经所在县（市、区）局报送市局质量发展科\n", 1).replace(
        "    stages:\n",
        "    stages:\n      - {code: call, name: 印发申报通知, kind: publication, on: 2023-03-01, notify: {levels: [enterprise]}}\n", 1).replace(
        "name: 拟授奖名单公示,", "name: 拟列入2023年度品牌培育指导目录名单公示,").replace(
        "      - {code: results, name: 通知评审结果,",
        "      - {code: directory, name: 发布2023年度品牌培育指导目录, kind: publication, on: 2023-05-17,\n"
        "         notify: {approved_at: committee}}\n"
        "      - {code: results, name: 通知评审结果,", 1)
    r = Round(write(tmp_path, "directory.yaml", text))
    r.until("2023-03-01")
    call = r.letters("call")["e1"]
    assert "申报自2023年3月1日起开始受理" in call and "报送方式：经所在县（市、区）局报送市局质量发展科。" in call, call
    _through_scoring(r, {"e1": 85, "e2": 90, "e3": 72, "e4": 60})
    r.decide("committee", e1="approved", e2="approved", e3="rejected")
    r.until("2023-05-17")
    notices = r.letters("notice")
    assert "，在拟列入2023年度品牌培育指导目录名单中。" in notices["e2"] and "列入拟列入" not in notices["e2"], notices["e2"]
    assert "不在拟列入2023年度品牌培育指导目录名单中。" in notices["e4"] and "列入拟列入" not in notices["e4"], notices["e4"]
    published = r.letters("directory")
    assert "已于2023年5月17日发布2023年度品牌培育指导目录，贵单位已列入该目录（共2个单位）" in published["e1"], published["e1"]


def test_a_result_letter_says_how_long_a_grade_holds_where_no_honour_letter_does(tmp_path, home):
    """A 品牌目录 entry "valid 3 years" was told "结果为：入选目录（得分80.00）" and nothing of its validity:
    only award and praise letters said it, and the round sent none."""
    text = ASSESSMENT.replace("grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
                              "grades: [{name: 合格, min_score: 60, valid_years: 3}, {name: 不合格}]")
    r = _scored(tmp_path, text, "2016-03-31")
    told = r.letters("results")
    assert "合格的有效期为3年（2016年至2018年）。" in told["c1"], told["c1"]
    assert "有效期" not in told["c4"]


def test_a_refusal_of_a_late_hand_in_names_whom_to_ask(tmp_path, home):
    """The 【不予受理】 letters were the only ones without the round's 联系人."""
    text = AWARD.replace(
        "years: [2023]}", "years: [2023], contact: 质量科 张三，0571-1234567}", 1).replace(
        "        voluntary: true\n", "        voluntary: true\n        lateness: reject\n", 1)
    r = Round(write(tmp_path, "refused.yaml", text))
    from qcycle import clock

    with db.session_scope() as session, clock.frozen(at(dt.date(2023, 4, 3), dt.time(10))):
        (result,) = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "application", "unit": "e1", "submitted_at": "2023-04-03T10:00:00+08:00", "id": "late-e1"}])
    assert result.status == "rejected_late", result
    with db.session_scope() as session:  # as the next reconcile answers it
        assert moment.answer_refusals(session, r.p, r.id, r.t, at(dt.date(2023, 4, 3), dt.time(17, 35)),
                                      template_dir=r.loaded.template_dir) == 1
    with db.session_scope() as session:
        refused = session.exec(select(OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "e1",
            OutboxMessage.subject.startswith("【不予受理】"))).one()
    assert refused.splitlines()[-4] == "联系人：质量科 张三，0571-1234567", refused


def test_a_refusal_of_a_late_hand_in_is_told_to_the_unit_it_was_handed_to(tmp_path, home):
    """地理标志, 守合同重信用: a 申报书 handed to the 设区市局 (``report_to: parent``) and refused as late was told to the
    applicant alone; the bureau holding it read only "请报送推荐意见" of the others and worked out for itself that it
    would not count."""
    text = REVIEWED.replace("         voluntary: true, opens: 2023-03-01, deadline: {date: 2023-03-31}}",
                            "         voluntary: true, opens: 2023-03-01, deadline: {date: 2023-03-31}, lateness: reject, report_to: parent}", 1)
    assert "report_to: parent}" in text
    r = Round(write(tmp_path, "refused.yaml", text))
    from qcycle import clock

    with db.session_scope() as session, clock.frozen(at(dt.date(2023, 4, 3), dt.time(10))):
        results = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "application", "unit": u, "submitted_at": f"2023-04-03T{h}:00:00+08:00", "id": f"late-{u}"}
            for u, h in (("e1", "08"), ("e2", "09"), ("e3", "10"))])
    assert {x.status for x in results} == {"rejected_late"}, results
    with db.session_scope() as session:
        moment.answer_refusals(session, r.p, r.id, r.t, at(dt.date(2023, 4, 3), dt.time(17, 35)),
                               template_dir=r.loaded.template_dir)
    with db.session_scope() as session:
        sent = {m.unit_code: (m.subject, m.body) for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.subject.startswith("【不予受理】"))).all()}
    assert sorted(sent) == ["e1", "e2", "e3", "k1", "k2"], sorted(sent)
    subject, body = sent["k1"]
    assert subject == "【不予受理】2023年度示例市长质量奖：辖区内2个单位的申报逾期提交", subject
    assert ("贵单位辖区内以下单位报送贵单位的申报晚于截止时间（2023年3月31日 17:30）。按规定，逾期提交的不予受理。具体如下：\n"
            "1. 甲公司：2023年4月3日 08:00提交；\n2. 乙公司：2023年4月3日 09:00提交。\n特此告知。") in body, body
    assert "贵单位辖区内丙公司于2023年4月3日 10:00报送贵单位的申报，晚于截止时间（2023年3月31日 17:30）" in sent["k2"][1], sent["k2"]
    assert sent["e1"][1].startswith("甲公司：\n\n贵单位于2023年4月3日 08:00提交的申报"), sent["e1"]


def test_a_summary_does_not_lead_a_project_that_never_applied_with_an_earlier_pass(tmp_path, home):
    """"东州精工：通过中期评估；未按期提交验收申请": a project that never filed its 验收申请 read as a pass first."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: pilot-2024, name: 省级标准化试点项目, programme: 标准化试点, issuer: prov, years: [2024, 2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: prov, name: 某省市场监督管理局, level: province, channels: [sink]}
          - {code: c1, name: 东州市市场监督管理局, level: city, parent: prov, channels: [sink]}
          - {code: p1, name: 甲公司, level: enterprise, parent: c1, channels: [sink]}
          - {code: p2, name: 乙公司, level: enterprise, parent: c1, channels: [sink]}
        stages:
          - {code: mid, name: 中期评估材料, kind: submission, submission: progress_report,
             owed_by: {levels: [enterprise]}, opens: 2024-06-03, deadline: {date: 2024-06-28}}
          - {code: mid_review, name: 中期评估, kind: decision, decides: mid, on: 2024-07-10}
          - {code: apply, name: 验收申请, kind: submission, submission: evaluation_request,
             owed_by: {approved_at: mid_review}, opens: 2025-03-03, deadline: {date: 2025-03-31}}
          - {code: accept, name: 验收评分, kind: assessment, on: 2025-04-25}
          - {code: results, name: 验收结果汇总, kind: notification, template: result, on: 2025-05-09,
             notify: {levels: [city]}}
        assessment:
          subjects: {submitted_at: apply}
          components: [{code: all, name: 综合评分, weight: 1}]
          grades: [{name: 通过, min_score: 80}, {name: 不通过}]
        """)
    r = Round(write(tmp_path, "pilot.yaml", text))
    r.hand_in("progress_report", ["p1", "p2"], "2024-06-20")
    r.until("2024-07-09")
    r.decide("mid_review", p1="approved", p2="approved")
    r.hand_in("evaluation_request", ["p1"], "2025-03-20")  # p2 never applies
    r.scores({"p1": 90})
    r.until("2025-05-09")
    summary = r.letters("results")["c1"]
    assert "1. 甲公司：通过（得分90.00）；\n2. 乙公司：未提交验收申请。" in summary, summary


PROFICIENCY = """\
    version: 2
    round: {code: pt-2025, name: 2025年检验检测机构能力验证, programme: 能力验证, issuer: prov, years: [2025]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: prov, name: 示例省市场监督管理局, level: province, channels: [sink]}
      - {code: l1, name: 甲检测公司, level: enterprise, parent: prov, channels: [sink]}
      - {code: l2, name: 乙检测公司, level: enterprise, parent: prov, channels: [sink]}
    categories:
      - {code: pt, name: 能力验证项目, items: [{code: nh3, name: 水中氨氮的测定}, {code: steel, name: 钢筋拉伸性能检测}]}
    stages:
      - {code: signup, name: 报名, kind: submission, submission: application, owed_by: {levels: [enterprise]},
         voluntary: true, opens: 2025-03-03, deadline: {date: 2025-03-31}}
      - {code: report, name: 检测结果, kind: submission, submission: progress_report, owed_by: {submitted_at: signup},
         opens: 2025-04-07, deadline: {date: 2025-05-20}}
      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}
    assessment:
      subjects: {submitted_at: signup}
      components: [{code: all, name: 结果评价, weight: 1}]
      vetoes: [{code: late, name: 未按期报送检测结果, grade: 不满意, missing_at: report}]
      grades: [{name: 满意, min_score: 60}, {name: 不满意}]
"""


def _labs_scored(r: Round, reported: dict[tuple[str, str], str], scores: dict[tuple[str, str], float]) -> None:
    """PROFICIENCY's labs apply (甲 for both items, 乙 for 氨氮), report the results on the days given and are
    scored; the round is not played past the reports."""
    for unit, item in (("l1", "nh3"), ("l1", "steel"), ("l2", "nh3")):
        r.hand_in("application", [unit], "2025-03-20", item=item, id=f"a-{unit}-{item}")
    r.until("2025-04-08")
    for (unit, item), day in reported.items():
        r.hand_in("progress_report", [unit], day, item=item, id=f"r-{unit}-{item}")
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": u, "item": i, "reviewer": "r1", "component": "all", "value": v, "stage": "scoring"}
            for (u, i), v in scores.items()])


def _pt_scored(tmp_path: Path, after_scoring: str, text: str = PROFICIENCY) -> Round:
    """``text`` with the stages ``after_scoring`` added after its scoring, played to 2025-06-16: every item reported on
    time, 甲's 氨氮 不满意 (32.47), its 钢筋 and 乙's 氨氮 满意."""
    scoring = "      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}\n"
    r = Round(write(tmp_path, "pt.yaml", text.replace(scoring, scoring + after_scoring, 1)))
    _labs_scored(r, {("l1", "steel"): "2025-05-10", ("l1", "nh3"): "2025-05-10", ("l2", "nh3"): "2025-05-10"},
                 {("l1", "nh3"): 32.47, ("l1", "steel"): 90, ("l2", "nh3"): 88})
    r.until("2025-06-16")
    return r


def test_a_decision_request_names_each_item_owed_and_never_handed_in(tmp_path, home):
    """四川's 评价确认 request named 广元 alone as not handed in: 遂宁 and 达州, owing one item more each, were not said,
    and the office could not tell 32 waiting from the 36 owed. Owed item by item, each unit's missing items are named."""
    text = PROFICIENCY.replace("      - {code: scoring,", "      - {code: check, name: 结果核查, kind: decision, decides: report,"
                                                      " on: 2025-06-03}\n      - {code: scoring,", 1)
    r = Round(write(tmp_path, "pt.yaml", text))
    for unit, item in (("l1", "nh3"), ("l1", "steel"), ("l2", "nh3")):
        r.hand_in("application", [unit], "2025-03-20", item=item, id=f"a-{unit}-{item}")
    r.until("2025-04-08")
    r.hand_in("progress_report", ["l1"], "2025-05-10", item="nh3", id="r-l1-nh3")  # 甲 reports one item of two
    r.until("2025-06-03")
    asked = r.letters("check")["prov"]
    assert "共1项检测结果等待审核：\n1. 甲检测公司：水中氨氮的测定，2025年5月10日 10:00提交。" in asked, asked
    assert ("尚有2项检测结果未提交，不在待审核之列：甲检测公司的“钢筋拉伸性能检测”；乙检测公司的“水中氨氮的测定”。"
            in asked), asked


def test_a_window_owed_for_a_result_says_which_and_why_when_it_opens(tmp_path, home):
    """能力验证: "“补测结果”自2027年6月7日起开始受理" went to 29 laboratories and said nothing of why; the 整改通知
    of the same day said "被评为不满意". A window owed for a result says it as the order does, item by item."""
    opened = _pt_scored(tmp_path, "      - {code: retest, name: 补测结果, kind: submission, submission: self_evaluation,\n"
                                  "         owed_by: {grades: [不满意]}, opens_after: {stage: scoring, event: on, workdays: 1},\n"
                                  "         deadline: {after: {stage: scoring, event: on, days: 30}}}\n").letters("retest")
    assert sorted(opened) == ["l1"], opened
    assert "贵单位在2025年检验检测机构能力验证中申报的“水中氨氮的测定”被评为不满意。“补测结果”自" in opened["l1"], opened["l1"]
    assert "钢筋" not in opened["l1"], opened["l1"]


def test_a_superiors_summary_names_each_thing_its_units_owe_for_their_results_once(tmp_path, home):
    """能力验证: the counties' summaries said the 整改报告 their laboratories owed and not the 补测结果 the same ones owed
    by July; both are said, the units named once ("须于…前报送整改报告、于…前报送补测结果")."""
    with_county = PROFICIENCY.replace(
        "      - {code: l1, name: 甲检测公司, level: enterprise, parent: prov, channels: [sink]}\n"
        "      - {code: l2, name: 乙检测公司, level: enterprise, parent: prov, channels: [sink]}\n",
        "      - {code: c1, name: 甲区市场监督管理局, level: county, parent: prov, channels: [sink]}\n"
        "      - {code: l1, name: 甲检测公司, level: enterprise, parent: c1, channels: [sink]}\n"
        "      - {code: l2, name: 乙检测公司, level: enterprise, parent: c1, channels: [sink]}\n", 1)
    r = _pt_scored(tmp_path, "      - {code: results, name: 通知结果, kind: notification, template: result, on: 2025-06-16,\n"
                             "         notify: {levels: [county]}}\n"
                             "      - {code: fix, name: 整改报告, kind: followup, submission: rectification_report,\n"
                             "         owed_by: {grades: [不满意]}, opens_after: {stage: results, event: on, workdays: 1},\n"
                             "         deadline: {after: {stage: results, event: on, days: 20}}}\n"
                             "      - {code: retest, name: 补测结果, kind: submission, submission: self_evaluation,\n"
                             "         owed_by: {grades: [不满意]}, opens_after: {stage: results, event: on, workdays: 1},\n"
                             "         deadline: {after: {stage: results, event: on, days: 40}}}\n"
                             "      - {code: appeal, name: 复验申请, kind: submission, submission: objection, voluntary: true,\n"
                             "         owed_by: {grades: [不满意]}, opens_after: {stage: results, event: on, workdays: 1},\n"
                             "         deadline: {after: {stage: results, event: on, days: 40}}}\n", with_county)
    told = r.letters("results")["c1"]
    assert "复验申请" not in told, told  # a right the laboratory may use, not a report its county is to chase
    assert ("其中甲检测公司（“水中氨氮的测定”）须于2025年7月7日（星期一）17:30（原定7月6日，遇休息日顺延）前报送整改报告、"
            "于2025年7月28日（星期一）17:30（原定7月26日，遇休息日顺延）前报送补测结果（均将另行通知），请督促按时报送。") in told, told


def test_a_window_owed_for_a_result_and_never_handed_in_is_said_in_the_circular(tmp_path, home):
    """能力验证: the counties were told to see that the 补测结果 came; a later 通报 never said a laboratory had not sent it."""
    r = _pt_scored(tmp_path, "      - {code: retest, name: 补测结果, kind: submission, submission: self_evaluation,\n"
                             "         owed_by: {grades: [不满意]}, opens_after: {stage: scoring, event: on, workdays: 1},\n"
                             "         deadline: {after: {stage: scoring, event: on, days: 30}}}\n"
                             "      - {code: all, name: 通报结果, kind: notification, template: circular, on: 2025-07-30,\n"
                             "         notify: {levels: [enterprise]}}\n")
    r.until("2025-07-30")
    told = r.letters("all")["l2"]
    assert "“水中氨氮的测定”：不满意（得分32.47）；未提交补测结果" in told, told


def test_a_veto_for_a_window_owed_item_by_item_holds_for_the_items_never_handed_in(tmp_path, home):
    """安徽's 能力验证: a lab that reported 钢筋拉伸 on time and never reported 氨氮 had both items vetoed
    as never reported, and went to 整改 and 补测 for the one it had reported."""
    r = Round(write(tmp_path, "pt.yaml", PROFICIENCY))
    _labs_scored(r, {("l1", "steel"): "2025-05-10", ("l2", "nh3"): "2025-05-10"},  # 甲 never reports 氨氮
                 dict.fromkeys([("l1", "nh3"), ("l1", "steel"), ("l2", "nh3")], 90))
    r.until("2025-06-13")
    with db.session_scope() as session:
        graded = {x.unit_code: (x.grade, x.veto) for x in crud.list_results(session=session, round_id=r.id)}
    assert graded == {"l1:nh3": ("不满意", "late"), "l1:steel": ("满意", None), "l2:nh3": ("满意", None)}, graded
    # The letters asking for the results say it (labs learnt of it from their results).
    assert all("按考核规定，截至2025年6月13日考核时仍未报送的，实行一票否决，等次定为不满意。" in body
               for body in r.letters("report").values()), r.letters("report")


def test_a_late_at_deduction_for_a_window_owed_item_by_item_counts_each_item(tmp_path, home):
    """The 能力验证 of 安徽 with points off for a late result: a lab late with one of its two items had been
    docked on both, and a unit assessed whole is docked for each of its items late."""
    text = PROFICIENCY.replace(
        "      vetoes: [{code: late, name: 未按期报送检测结果, grade: 不满意, missing_at: report}]\n",
        "      deductions: [{code: slow, name: 检测结果逾期报送, points: 5, late_at: report, counts: late}]\n", 1)
    r = Round(write(tmp_path, "pt.yaml", text))
    _labs_scored(r, {("l1", "steel"): "2025-05-10", ("l1", "nh3"): "2025-05-26",  # 氨氮 late
                     ("l2", "nh3"): "2025-05-10"}, dict.fromkeys([("l1", "nh3"), ("l1", "steel"), ("l2", "nh3")], 90))
    r.until("2025-06-13")
    with db.session_scope() as session:
        totals = {x.unit_code: x.total for x in crud.list_results(session=session, round_id=r.id)}
    assert totals == {"l1:nh3": 85, "l1:steel": 90, "l2:nh3": 90}, totals
    from qcycle.lifecycle.assessing import _deadlines_of
    named = _deadlines_of({"l1:nh3": ["5月"], "l1:steel": ["5月", "6月"], "u9": ["5月"]})

    def count(code: str) -> int:
        return len(named(code))
    assert [count(c) for c in ("l1:nh3", "l1", "l2", "u9", "u9:x")] == [1, 3, 0, 1, 1]


def test_letters_chasing_a_follow_up_owed_for_some_items_name_them(tmp_path, home):
    """安徽: a lab owing a 原因分析报告 for its 有问题 item, not its 满意 one, was reminded "前提交原因分析报告"
    without which."""
    text = PROFICIENCY.replace(
        "grades: [{name: 满意, min_score: 60}, {name: 不满意}]",
        "grades: [{name: 满意, min_score: 80}, {name: 有问题, min_score: 60}, {name: 不满意}]").replace(
        "    stages:\n", "    reminder_policies:\n      std: {before_workdays: [3]}\n    stages:\n", 1).replace(
        "      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}\n",
        "      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}\n"
        "      - {code: cause, name: 原因分析报告, kind: followup, submission: rectification_report,\n"
        "         owed_by: {grades: [有问题]}, opens_after: {stage: scoring, event: on, days: 0},\n"
        "         deadline: {after: {stage: scoring, event: on, days: 30}}, reminders: std}\n", 1)
    r = Round(write(tmp_path, "pt.yaml", text))
    every = [("l1", "nh3"), ("l1", "steel"), ("l2", "nh3")]
    _labs_scored(r, dict.fromkeys(every, "2025-05-10"), dict(zip(every, (70, 90, 90), strict=True)))
    r.until("2025-07-14")
    with db.session_scope() as session:
        reminded = session.exec(select(OutboxMessage.unit_code, OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.subject.startswith("【提醒】"),
            OutboxMessage.action.startswith("cause:"))).all()
    assert reminded and {u for u, _ in reminded} == {"l1"}, reminded
    assert all("前提交“水中氨氮的测定”原因分析报告" in body and "钢筋" not in body for _, body in reminded), reminded


def test_simulated_reviewers_do_not_score_a_report_a_veto_fails_for_never_coming(tmp_path, home):
    """商标品牌指导站, 能力验证: officers trying their files read "不合格（得分32.67；因未报送年度工作报告，实行一票否决）":
    the simulated reviewers had scored a report never received. They score the others, not those."""
    from qcycle.synthetic import World

    text = textwrap.dedent("""\
        version: 2
        round: {code: sb-2025, name: 2025年商标品牌指导站年度评估, programme: 指导站评估, issuer: bur, years: [2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: bur, name: 示例市市场监督管理局, level: city, channels: [sink]}
          - {code: e1, name: 甲指导站, level: enterprise, parent: bur, channels: [sink]}
          - {code: e2, name: 乙指导站, level: enterprise, parent: bur, channels: [sink]}
        stages:
          - {code: annual, name: 年度工作报告, kind: submission, submission: progress_report,
             owed_by: {levels: [enterprise]}, opens: 2025-07-01, deadline: {date: 2025-07-15}}
          - {code: rating, name: 评估打分, kind: assessment, on: 2025-08-15}
        assessment:
          subjects: {levels: [enterprise]}
          components: [{code: all, name: 评估, weight: 1}]
          vetoes: [{code: none, name: 未报送年度工作报告, grade: 不合格, missing_at: annual}]
          grades: [{name: 合格, min_score: 60}, {name: 不合格}]
        """)
    r = Round(write(tmp_path, "sb.yaml", text))
    r.hand_in("progress_report", ["e1"], "2025-07-10")
    r.until("2025-08-14")
    with db.session_scope() as session:
        scored = World(r.p, r.t, r.id, seed=1).scoring(session, at(dt.date(2025, 8, 15), dt.time(23, 0)))
    assert {record["unit"] for record, _ in scored} == {"e1"}


def test_a_veto_holds_by_itself_for_a_unit_that_never_handed_in(tmp_path, home):
    """首席质量官: "未报送年度报告的评为不合格" could only be written as a 100-point deduction ("得分0.00，已扣100分")."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: cqo-2025, name: 2025年度首席质量官履职情况, programme: 首席质量官履职, issuer: bur, years: [2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: bur, name: 示例县市场监督管理局, level: county, channels: [sink]}
          - {code: gov, name: 示例县人民政府, level: government, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: bur, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: bur, channels: [sink]}
        stages:
          - {code: annual, name: 年度履职情况报告, kind: submission, submission: progress_report,
             owed_by: {levels: [enterprise]}, opens: 2025-07-01, deadline: {date: 2025-07-15}}
          - {code: rating, name: 履职评定, kind: assessment, on: 2025-08-15}
          - {code: results, name: 通知评定结果, kind: notification, template: result, on: 2025-08-20,
             notify: {levels: [enterprise, government]}}
        assessment:
          subjects: {levels: [enterprise]}
          components: [{code: all, name: 综合评分, weight: 1}]
          vetoes: [{code: no-annual, name: 未报送年度履职情况报告, grade: 不合格, missing_at: annual}]
          grades: [{name: 合格, min_score: 60}, {name: 不合格}]
        """)
    r = Round(write(tmp_path, "cqo.yaml", text))
    r.hand_in("progress_report", ["e1"], "2025-07-10")  # e2 never, and nobody scores it
    r.scores({"e1": 70})
    # The veto is judged from the hand-ins: a record of it for e1, whose report is on file, had made its letter
    # say "因未报送年度履职情况报告" (某省's enterprises); it is kept aside with why.
    with db.session_scope() as session:
        kept = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": "e1", "reviewer": "r1", "component": "veto:no-annual", "value": 1}])
    assert [x.status for x in kept] == ["quarantined"] and "按“年度履职情况报告”是否报送自动判定，不收评分记录" in (
        kept[0].reason or ""), kept
    with db.session_scope() as session:  # one kept before intake refused them is not read either
        crud.put_reviews(session=session, round_id=r.id, rows=[
            {"unit_code": "e1", "reviewer": "r0", "component_code": "veto:no-annual", "value": 1}])
    r.until("2025-08-20")
    with db.session_scope() as session:
        graded = {x.unit_code: (x.grade, x.veto) for x in crud.list_results(session=session, round_id=r.id)}
    assert graded == {"e1": ("合格", None), "e2": ("不合格", "no-annual")}, graded
    told = r.letters("results")["e2"]
    assert "因未报送年度履职情况报告，实行一票否决，等次定为不合格" in told and "未提交" not in told, told
    assert "结果为：不合格。" in told and "得分" not in told, told  # nobody scored it: no "得分0.00"
    summary = r.letters("results")["gov"]
    assert "2. 乙公司：不合格（因未报送年度履职情况报告，实行一票否决）。" in summary, summary
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "bad.yaml", text.replace("missing_at: annual", "missing_at: rating"))
    assert "assessment.vetoes[0].missing_at" in str(exc.value), str(exc.value)
    # The letters asking for the report say by when: the assessment's day, a day off kept as the file gives it too
    # (质量月's letters had read "截至评选时" of a Saturday's 评选), or the working day it is rolled to.
    assert "截至2025年8月15日考核时仍未报送的" in lateness_costs(r.p, "annual")
    sunday = write(tmp_path, "sunday.yaml", text.replace("on: 2025-08-15}", "on: 2025-08-17}", 1)).programme
    assert "按考核规定，截至2025年8月17日考核时仍未报送的，实行一票否决" in lateness_costs(sunday, "annual")
    rolled = write(tmp_path, "rolled.yaml", text.replace("on: 2025-08-15}", "on: 2025-08-17, roll: next_workday}", 1))
    assert "截至2025年8月18日考核时仍未报送的" in lateness_costs(rolled.programme, "annual")
    # A day counted from another stage's is said as well (the 20th working day after the deadline).
    counted = write(tmp_path, "counted.yaml", text.replace(
        "on: 2025-08-15}", "after: {stage: annual, event: deadline, workdays: 20}}", 1)).programme
    assert "截至2025年8月12日考核时仍未报送的" in lateness_costs(counted, "annual"), lateness_costs(counted, "annual")
    # A window that refuses late hand-ins decides the miss at its deadline: not "by the assessment" (星级评定's 所 had
    # read it as leave to hand in until November under a 逾期提交的不予受理 of March).
    refused = write(tmp_path, "refused.yaml", text.replace(
        "deadline: {date: 2025-07-15}}", "deadline: {date: 2025-07-15}, lateness: reject}", 1)).programme
    assert lateness_costs(refused, "annual") == "按考核规定，未按时报送的，实行一票否决，等次定为不合格。", lateness_costs(
        refused, "annual")


# 首席质量官's 年度履职报告 50 分, the window a part is bound to (missing_at).
CQO = textwrap.dedent("""\
        version: 2
        round: {code: cqo-2025, name: 2025年度首席质量官履职评价, programme: 首席质量官履职, issuer: bur, years: [2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: bur, name: 示例县市场监督管理局, level: county, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: bur, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: bur, channels: [sink]}
        stages:
          - {code: annual, name: 年度履职报告, kind: submission, submission: progress_report,
             owed_by: {levels: [enterprise]}, opens: 2025-07-01, deadline: {date: 2025-07-15}}
          - {code: rating, name: 履职评价, kind: assessment, on: 2025-08-15}
          - {code: results, name: 通知评价结果, kind: notification, template: result, on: 2025-08-20,
             notify: {levels: [enterprise]}}
        assessment:
          subjects: {levels: [enterprise]}
          components:
            - {code: report, name: 履职报告, max_points: 50, missing_at: annual}
            - {code: effect, name: 质量管理成效, max_points: 50}
          grades: [{name: 合格, min_score: 60}, {name: 不合格}]
        """)


def test_a_part_bound_to_a_window_scores_nothing_for_a_unit_that_never_handed_it_in(tmp_path, home):
    """首席质量官 "年度履职报告 50 分": an enterprise that never sent its report was scored on it from the
    reviews recorded anyway. A part names the window it scores (``missing_at``); missing it scores 0 there."""
    text = CQO
    r = Round(write(tmp_path, "cqo.yaml", text))
    assert lateness_costs(r.p, "annual") == "按评价规定，截至2025年8月15日评价时仍未报送的，“履职报告”部分不得分。"
    r.hand_in("progress_report", ["e1"], "2025-07-10")  # e2 never; both are scored on both parts
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": u, "reviewer": "r1", "component": c, "value": 80}
            for u in ("e1", "e2") for c in ("report", "effect")])
    r.until("2025-08-20")
    with db.session_scope() as session:
        graded = {x.unit_code: (x.components, x.total, x.grade) for x in crud.list_results(session=session, round_id=r.id)}
    assert graded["e1"] == ({"report": 40.0, "effect": 40.0}, 80.0, "合格"), graded
    assert graded["e2"] == ({"report": 0.0, "effect": 40.0}, 40.0, "不合格"), graded
    told = r.letters("results")["e2"]
    assert "履职报告0.00分" in told and "未提交" in told, told
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "bad.yaml", text.replace("missing_at: annual", "missing_at: rating"))
    assert "assessment.components[0].missing_at" in str(exc.value), str(exc.value)


def test_a_part_bound_to_a_window_scores_nothing_for_a_late_hand_in_where_the_rule_says_so(tmp_path, home):
    """质量月 "逾期报送的总结不予评分": a summary taken late was scored from its reviews like one on time. A part
    bound to the window with ``counts: late_or_missing`` scores 0 for a late hand-in too, and the letters say so."""
    text = CQO.replace("  - {code: e2, name: 乙公司, level: enterprise, parent: bur, channels: [sink]}\n",
                       "  - {code: e2, name: 乙公司, level: enterprise, parent: bur, channels: [sink]}\n"
                       "  - {code: e3, name: 丙公司, level: enterprise, parent: bur, channels: [sink]}\n", 1).replace(
        "missing_at: annual}", "missing_at: annual, counts: late_or_missing}", 1)
    r = Round(write(tmp_path, "cqo.yaml", text))
    assert lateness_costs(r.p, "annual") == (
        "按评价规定，逾期报送或截至2025年8月15日评价时仍未报送的，“履职报告”部分不得分。"), lateness_costs(r.p, "annual")
    r.hand_in("progress_report", ["e1"], "2025-07-10")
    r.hand_in("progress_report", ["e2"], "2025-07-18")  # taken late (accept_flag); e3 never
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": u, "reviewer": "r1", "component": c, "value": 80}
            for u in ("e1", "e2", "e3") for c in ("report", "effect")])
    r.until("2025-08-20")
    with db.session_scope() as session:
        graded = {x.unit_code: (x.components, x.total) for x in crud.list_results(session=session, round_id=r.id)}
    assert graded == {"e1": ({"report": 40.0, "effect": 40.0}, 80.0), "e2": ({"report": 0.0, "effect": 40.0}, 40.0),
                      "e3": ({"report": 0.0, "effect": 40.0}, 40.0)}, graded
    letters = r.letters("results")
    assert "履职报告0.00分" in letters["e2"] and "年度履职报告逾期报送" in letters["e2"], letters["e2"]
    assert "未提交" not in letters["e2"], letters["e2"]
    assert "未提交年度履职报告" in letters["e3"] and "逾期" not in letters["e3"], letters["e3"]
    assert "逾期" not in letters["e1"] and "未提交" not in letters["e1"], letters["e1"]
    # Without the rule, a late hand-in is scored as one on time; the rule needs the window it reads.
    plain = write(tmp_path, "plain.yaml", text.replace(", counts: late_or_missing", "")).programme
    assert lateness_costs(plain, "annual") == "按评价规定，截至2025年8月15日评价时仍未报送的，“履职报告”部分不得分。"
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "bad.yaml", text.replace("missing_at: annual, counts", "counts"))
    assert "assessment.components[0]" in str(exc.value) and "missing_at" in str(exc.value), str(exc.value)


def test_a_part_a_late_hand_in_scores_nothing_on_holds_for_each_item_of_its_unit(tmp_path, home):
    """A window owed by the unit (its 总结), a part bound to it with ``counts: late_or_missing``, and subjects that are
    the unit's list items: each item scores nothing there when the unit's 总结 came late, as when it never came."""
    text = (AWARD + TWO_KINDS).replace(
        "      - {code: eligibility,",
        "      - {code: summary, name: 工作总结, kind: submission, submission: self_evaluation,\n"
        "         owed_by: {levels: [enterprise]}, opens: 2023-04-03, deadline: {date: 2023-04-10}}\n"
        "      - {code: eligibility,", 1).replace(
        "      components: [{code: all, name: 综合评分, weight: 1}]\n",
        "      components:\n"
        "        - {code: all, name: 综合评分, max_points: 80}\n"
        "        - {code: sum, name: 工作总结, max_points: 20, missing_at: summary, counts: late_or_missing}\n", 1)
    r = Round(write(tmp_path, "items.yaml", text))
    for unit, item, rid in (("e1", "xc-1", "a"), ("e1", "gg-1", "b"), ("e2", "gg-1", "c")):
        r.hand_in("application", [unit], "2023-03-20", item=item, id=rid)
    r.hand_in("self_evaluation", ["e2"], "2023-04-06")
    r.hand_in("self_evaluation", ["e1"], "2023-04-12")  # late, taken
    every = {"e1:xc-1": "approved", "e1:gg-1": "approved", "e2:gg-1": "approved"}
    r.decide("eligibility", **every)
    r.decide("documents", **every)
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": s, "reviewer": "r1", "component": c, "value": 90}
            for s in every for c in ("all", "sum")])
    r.until("2023-04-18")
    with db.session_scope() as session:
        parts = {x.unit_code: x.components["sum"] for x in crud.list_results(session=session, round_id=r.id)}
    assert parts == {"e1:xc-1": 0.0, "e1:gg-1": 0.0, "e2:gg-1": 18.0}, parts


def test_results_told_before_the_assessment_are_the_decisions_under_their_own_name(tmp_path, home):
    """A 中期评估's results, told before the 验收 scored anything, were headed 【验收结果】 ("…验收结果已确定") and
    reached only the project that failed: the one that passed heard nothing."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: pilot-2025, name: 2025年度标准化试点, programme: 标准化试点, issuer: amr, years: [2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: amr, name: 示例市市场监督管理局, level: city, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: amr, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: amr, channels: [sink]}
        stages:
          - {code: midterm, name: 中期报告, kind: submission, submission: progress_report, owed_by: {levels: [enterprise]},
             opens: 2025-05-06, deadline: {date: 2025-06-30}}
          - {code: mid_review, name: 中期评估, kind: decision, decides: midterm, on: 2025-07-15}
          - {code: mid_results, name: 通知中期评估结果, kind: notification, template: result, on: 2025-07-21,
             notify: {levels: [enterprise]}}
          - {code: final, name: 验收申请, kind: submission, submission: evaluation_request, owed_by: {approved_at: mid_review},
             opens: 2025-09-01, deadline: {date: 2025-10-31}}
          - {code: acceptance, name: 验收评分, kind: assessment, on: 2025-11-20}
          - {code: results, name: 通知验收结果, kind: notification, template: result, on: 2025-11-28,
             notify: {levels: [enterprise]}}
        assessment:
          subjects: {approved_at: mid_review}
          result_label: 验收结果
          components: [{code: all, name: 验收评分, weight: 1}]
          grades: [{name: 通过, min_score: 80}, {name: 不通过}]
        """)
    r = Round(write(tmp_path, "pilot.yaml", text))
    r.hand_in("progress_report", ["e1", "e2"], "2025-06-20")
    r.until("2025-07-15")
    r.decide("mid_review", e1="approved", e2="rejected")
    r.until("2025-07-21")
    with db.session_scope() as session:
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.action.startswith("mid_results"))).all()
    assert {m.unit_code: m.subject for m in sent} == dict.fromkeys(("e1", "e2"), "【中期评估结果】2025年度标准化试点")
    told = {m.unit_code: m.body for m in sent}
    assert "2025年度标准化试点中期评估结果已确定，贵单位结果为：通过中期评估。" in told["e1"], told
    assert "贵单位结果为：未通过中期评估" in told["e2"] and "验收" not in told["e2"], told


def test_results_told_before_the_assessment_name_each_units_own_step_once_per_subject(tmp_path, home):
    """Told before scoring, an enterprise refused at 资格审核 read "…材料评审结果已确定，贵单位结果为：未通过资格审核"
    (the round's latest step, not its own); an item back after a 复核 was listed twice (as passed, and as where
    its rejection left it)."""
    extra = ("      - {code: told, name: 告知审查情况, kind: notification, template: result, on: 2023-04-13,\n"
             "         notify: {submitted_at: application, with_rejected: true}}\n")
    r = Round(write(tmp_path, "a.yaml", AWARD.replace("      - {code: scoring,", extra + "      - {code: scoring,", 1)))
    r.hand_in("application", ["e1", "e2", "e6"], "2023-03-20")
    r.decide("eligibility", e6="rejected", e1="approved", e2="approved")
    r.decide("documents", e1="approved", e2="rejected")
    r.until("2023-04-13")
    told = r.letters("told")
    assert "材料评审结果已确定，贵单位结果为：通过材料评审。" in told["e1"], told["e1"]
    assert "资格审核结果已确定，贵单位结果为：未通过资格审核" in told["e6"] and "材料评审" not in told["e6"], told["e6"]
    again = ("      - {code: reapply, name: 复核申请, kind: submission, submission: reapplication, voluntary: true,\n"
             "         owed_by: {rejected_at: eligibility}, opens: 2023-04-06, deadline: {date: 2023-04-10}}\n"
             "      - {code: recheck, name: 资格复核, kind: decision, decides: reapply, on: 2023-04-12,\n"
             "         on_rejection: 终止申报}\n"
             "      - {code: standing, name: 告知资格审核情况, kind: notification, template: result,\n"
             "         after: {stage: recheck, event: on, workdays: 1}, notify: {submitted_at: reapply, with_rejected: true}}\n")
    text = AWARD.replace("      - {code: documents,", again + "      - {code: documents,", 1).replace(
        "    channels:", "    submission_kinds: {reapplication: {title: 复核申请}}\n    channels:", 1).replace(
        "code: award-2023,", "code: award-2023b,", 1) + TWO_KINDS
    items = Round(write(tmp_path, "items.yaml", text))
    items.hand_in("application", ["e7"], "2023-03-20", item="xc-1", id="a1")
    items.hand_in("application", ["e7"], "2023-03-20", item="gg-1", id="a2")
    items.decide("eligibility", **{"e7:xc-1": "rejected", "e7:gg-1": "approved"})
    items.hand_in("reapplication", ["e7"], "2023-04-07", item="xc-1", id="r1")
    items.decide("recheck", **{"e7:xc-1": "approved"})
    items.decide("documents", **{"e7:xc-1": "approved", "e7:gg-1": "approved"})
    items.until("2023-04-13")
    standing = items.letters("standing")["e7"]
    assert standing.count("现场型成果") == 1 and standing.count("攻关型成果") == 1, standing


def test_a_voluntary_window_of_anything_but_applications_is_not_an_application(tmp_path, home):
    """小微企业's 参与确认书, voluntary (those who do not confirm are out), read "自愿参加，如需申报" in its opening
    and "如需申报，请在截止时间前提交" in its reminders: nothing is applied for."""
    text = AWARD.replace("        submission: application\n        owed_by: {levels: [enterprise]}\n        voluntary: true",
                         "        submission: confirmation\n        owed_by: {levels: [enterprise]}\n        voluntary: true", 1
                         ).replace("    channels:", "    submission_kinds: {confirmation: {title: 参与确认书}}\n    channels:", 1
                                   ).replace("        name: 申报\n", "        name: 参与确认书\n", 1)
    assert "submission: confirmation" in text and "name: 参与确认书" in text
    r = Round(write(tmp_path, "confirm.yaml", text))
    r.until("2023-03-29")  # the opening and the first reminder
    with db.session_scope() as session:
        told = list(session.exec(select(OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "e1")).all())
    assert len(told) >= 2 and all("申报" not in body for body in told), told
    assert any("如需提交参与确认书，请在截止时间前按要求报送。" in body for body in told), told
    assert any("如需提交参与确认书，请在截止时间前报送。" in body for body in told), told
    # The list of those who confirmed tells one that did not why it is not on it (it had read only the count).
    listed = Round(write(tmp_path, "listed.yaml", text.replace("    stages:\n", (
        "    stages:\n      - {code: roster, name: 公布参与企业名单, kind: publication, on: 2023-04-03,"
        " notify: {levels: [enterprise]}, lists: {submitted_at: application}}\n"), 1).replace(
        "code: award-2023,", "code: award-2023c,", 1)))
    listed.hand_in("confirmation", ["e1", "e2"], "2023-03-20")
    listed.until("2023-04-03")
    roster = listed.letters("roster")
    assert "贵单位已列入该名单（共2个单位）" in roster["e1"], roster["e1"]
    assert "名单共列入2个单位，贵单位未列入（未在截止时间前提交参与确认书）。" in roster["e3"], roster["e3"]
    # One that handed it in and is off the list for another reason is not told it never did.
    narrowed = Round(write(tmp_path, "narrowed.yaml", text.replace("    stages:\n", (
        "    stages:\n      - {code: roster, name: 公布参与企业名单, kind: publication, on: 2023-04-03,"
        " notify: {levels: [enterprise]}, lists: {submitted_at: application, units: [e1, e3]}}\n"), 1).replace(
        "code: award-2023,", "code: award-2023d,", 1)))
    narrowed.hand_in("confirmation", ["e1", "e2"], "2023-03-20", id="n")
    narrowed.until("2023-04-03")
    assert "未在截止时间前提交" not in narrowed.letters("roster")["e2"], narrowed.letters("roster")["e2"]


INSPECTED = textwrap.dedent("""\
    version: 2
    round: {code: check-2026, name: 2026年度强检计量器具监督检查, programme: 强检监督检查, issuer: amr, years: [2026]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: amr, name: 示例市市场监督管理局, level: city, channels: [sink]}
      - {code: e1, name: 甲医院, level: enterprise, parent: amr, channels: [sink]}
      - {code: e2, name: 乙加油站, level: enterprise, parent: amr, channels: [sink]}
      - {code: e3, name: 丙市场, level: enterprise, parent: amr, channels: [sink]}
      - {code: e4, name: 丁超市, level: enterprise, parent: amr, channels: [sink]}
    stages:
      - {code: registration, name: 强检器具登记表, kind: submission, submission: progress_report, owed_by: {levels: [enterprise]},
         opens: 2026-03-10, deadline: {date: 2026-04-15}}
      - {code: onsite, name: 现场检查, kind: decision, decides: registration, on: 2026-06-30}
      - {code: rectification, name: 整改报告, kind: followup, submission: rectification_report,
         owed_by: {rejected_at: onsite}, opens_after: {stage: onsite, event: on, days: 0},
         deadline: {after: {stage: onsite, event: on, workdays: 20}}}
      - {code: recheck, name: 整改复查, kind: decision, decides: rectification, after: {stage: rectification, event: deadline, workdays: 10},
         on_rejection: 依法立案查处}
    """)  # a 强检计量器具 inspection: 现场检查, then a 整改报告 from those who failed and its 复查; 丁超市 never registers


def test_a_unit_that_passes_the_recheck_of_its_rectification_is_told_and_back_in(tmp_path, home):
    """强检计量器具检查: a 使用单位 failed on site, rectified and passed the 整改复查; the letter to those approved at
    the 复查 reached nobody (its on-site rejection had left it out of every selection), only the one 立案查处."""
    text = INSPECTED + (
        "  - {code: recheck_result, name: 整改复查结果告知, kind: notification, template: step_result,\n"
        "     after: {stage: recheck, event: on, workdays: 2}, notify: {any_of: [{approved_at: recheck}, {rejected_at: recheck}]}}\n")
    text = text.replace("  - {code: recheck_result,", (
        "  - {code: interim, name: 通知检查结果, kind: notification, template: result, on: 2026-07-20,\n"
        "     notify: {submitted_at: registration, with_rejected: true}}\n  - {code: recheck_result,"), 1)
    r = Round(write(tmp_path, "check.yaml", text))
    r.hand_in("progress_report", ["e1", "e2", "e3"], "2026-04-10")
    r.decide("onsite", e1="approved", e2="rejected", e3="rejected")
    r.hand_in("rectification_report", ["e2"], "2026-07-10")
    r.until("2026-07-28")
    # Told before its 复查: the result is not read as final (a second "结果已确定" followed, saying the opposite), nor
    # for one whose 整改报告 is not yet due.
    interim = r.letters("interim")
    assert "未通过现场检查，整改复查结论另行告知" in interim["e2"] and "整改复查结论另行告知" in interim["e3"], interim
    r.hand_in("rectification_report", ["e3"], "2026-07-27")
    r.until("2026-08-12")
    r.decide("recheck", e2="approved", e3="rejected")
    r.until("2026-09-30")
    told = r.letters("recheck_result")
    assert sorted(told) == ["e2", "e3"], told
    assert "贵单位在2026年度强检计量器具监督检查中通过整改复查。" in told["e2"], told["e2"]
    assert "未通过整改复查，依法立案查处" in told["e3"], told["e3"]


def test_a_circular_of_inspections_says_the_failure_a_recheck_followed(tmp_path, home):
    """双随机 inspections: the 通报 read "湖南湘科检测技术有限公司：通过整改复查", hiding that it had failed its 现场检查."""
    text = INSPECTED + (
        "  - {code: circular, name: 通报检查结果, kind: notification, template: circular, on: 2026-09-30,\n"
        "     notify: {submitted_at: registration, with_rejected: true}}\n")
    r = Round(write(tmp_path, "check.yaml", text))
    r.hand_in("progress_report", ["e1", "e2", "e3"], "2026-04-10")
    r.until("2026-06-30")
    # The office asked to decide is told whom it cannot: 丁超市 never sent its 登记表.
    asked = r.letters("onsite")["amr"]
    assert "尚有1个单位未提交强检器具登记表，不在待审核之列：丁超市。" in asked, asked
    # One refused as late is accounted for apart (星级评定's 塔山所, refused, appeared nowhere).
    late = Round(write(tmp_path, "late.yaml", text.replace("deadline: {date: 2026-04-15}}", "deadline: {date: 2026-04-15}, lateness: reject}", 1)
                       .replace("code: check-2026,", "code: check-2026r,", 1)))
    late.hand_in("progress_report", ["e1", "e2"], "2026-04-10")
    with db.session_scope() as session:
        refused = ingest_many(session=session, programme=late.p, timetable=late.t, round_id=late.id, source="test", records=[
            {"kind": "progress_report", "unit": "e4", "submitted_at": "2026-04-20T10:00:00+08:00", "id": "late-e4"}])
    assert [x.status for x in refused] == ["rejected_late"], refused
    late.until("2026-06-30")
    asked = late.letters("onsite")["amr"]
    assert ("尚有1个单位未提交强检器具登记表，不在待审核之列：丙市场。\n另有1个单位逾期提交，不予受理，不在待审核之列：丁超市。"
            in asked), asked
    # Decided by the rule on the day (rejects_missing), they are named with the rule (镇江's office decided four units
    # "通报批评" by rule in a letter that named none of them).
    ruled = Round(write(tmp_path, "ruled.yaml", text.replace(
        "decides: registration, on: 2026-06-30}", "decides: registration, on: 2026-06-30, rejects_missing: true,\n"
        "         on_missing: 依法立案查处}", 1).replace("code: check-2026,", "code: check-2026m,", 1)))
    ruled.hand_in("progress_report", ["e1", "e2", "e3"], "2026-04-10")
    ruled.until("2026-06-30")
    asked = ruled.letters("onsite")["amr"]
    assert ("尚有1个单位未提交强检器具登记表，不在待审核之列：丁超市。按规定，2026年6月30日前仍未提交的，依法立案查处。"
            in asked), asked
    r.decide("onsite", e1="approved", e2="rejected", e3="rejected")
    r.hand_in("rectification_report", ["e2", "e3"], "2026-07-10")
    r.until("2026-08-12")
    r.decide("recheck", e2="approved", e3="rejected")
    r.until("2026-09-30")
    told = r.letters("circular")["e1"]
    assert "1. 甲医院：通过现场检查；" in told, told
    assert "2. 乙加油站：未通过现场检查，通过整改复查；" in told, told
    assert "3. 丙市场：未通过现场检查，未通过整改复查，依法立案查处；" in told, told
    assert "4. 丁超市：未提交强检器具登记表。" in told, told
    # One that never sent its 整改报告, decided by the rule: said once after the failure it follows (长沙华鼎 had read
    # "未通过现场检查，未提交整改报告，责令暂停…；未提交整改报告").
    ruled = Round(write(tmp_path, "ruled.yaml", text.replace(
        "decides: rectification, after:", "decides: rectification, rejects_missing: true, after:", 1).replace(
        "code: check-2026,", "code: check-2026b,", 1)))
    ruled.hand_in("progress_report", ["e1", "e2", "e3", "e4"], "2026-04-10")
    ruled.until("2026-06-30")
    ruled.decide("onsite", e1="approved", e2="approved", e3="rejected", e4="approved")
    ruled.until("2026-09-30")
    told = ruled.letters("circular")["e1"]
    assert "3. 丙市场：未通过现场检查，未提交整改报告，依法立案查处；" in told, told
    assert told.count("未提交整改报告") == 1, told


def test_a_yes_or_no_bonus_counts_once_and_is_said_without_a_count(tmp_path, home):
    """乡镇考核: "获评省级质量强镇 +3" read "获评省级质量强镇3次，加9分，以上限3分计" in a public 通报: an honour a
    town holds or not. ``once`` takes 0 or 1 and says no count."""
    text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                              "      bonuses: [{code: town, name: 获评省级质量强镇, points: 3, once: true}]\n"
                              "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    r = Round(write(tmp_path, "once.yaml", text))
    with db.session_scope() as session:
        kept = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": "c1", "reviewer": "r1", "component": "bonus:town", "value": 3},
            {"kind": "score", "unit": "c2", "reviewer": "r1", "component": "bonus:town", "value": 1},
            {"kind": "score", "unit": "c2", "reviewer": "r2", "component": "bonus:town", "value": 1}])  # said twice: once
    assert kept[0].status == "quarantined" and "只计有无（0 或 1），不计次数：3" in (kept[0].reason or ""), kept[0]
    assert kept[1].status != "quarantined" and kept[2].status != "quarantined", kept
    r.scores({"c1": 80, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-03-31")
    told = r.letters("results")["c2"]
    assert "获评省级质量强镇，加3分" in told and "次" not in told.split("获评省级质量强镇")[1][:3], told
    with db.session_scope() as session:
        assert {x.unit_code: x.total for x in crud.list_results(session=session, round_id=r.id)}["c2"] == 83.0


def test_the_plan_names_the_units_a_stage_goes_to(tmp_path):
    """乡镇考核's plan showed "单位 gov" for the 报送考核结果 to the 县政府."""
    text = WITH_GOV.replace("    stages:\n", "    stages:\n      - {code: up, name: 报送考核结果, kind: notification, template: result,"
                                             " on: 2016-03-31, notify: {units: [gov]}}\n", 1)
    timetable = expand(write(tmp_path, "up.yaml", text).programme, WorkCalendar())
    assert timetable.by_name()["up:notify"].owed_by == "示例市人民政府"


def test_a_summary_names_a_unit_whose_late_application_was_refused(tmp_path, home):
    """A county bureau's summary of its enterprises' results left out the one whose late application it
    had seen refused (不予受理)."""
    from qcycle import clock

    text = AWARD.replace("        voluntary: true\n", "        voluntary: true\n        lateness: reject\n", 1).replace(
        "      - {code: results, name: 通知评审结果,",
        "      - {code: summary, name: 告知区局评审结果, kind: notification, template: result, on: 2023-05-16,\n"
        "         notify: {units: [amr]}}\n"
        "      - {code: results, name: 通知评审结果,", 1).replace("issuer: amr,", "issuer: gov,", 1)
    r = Round(write(tmp_path, "refused.yaml", text))
    with db.session_scope() as session, clock.frozen(at(dt.date(2023, 4, 3), dt.time(10))):
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "application", "unit": "e4", "submitted_at": "2023-04-03T10:00:00+08:00", "id": "late-e4"}])
    _through_scoring(r, {"e1": 85, "e2": 90, "e3": 72})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-16")
    summary = r.letters("summary")["amr"]
    assert "丁公司：申报逾期提交，不予受理" in summary, summary


@pytest.mark.parametrize(("stage_name", "said"), [
    ("考核评分", "贵单位通过2015年度县级质量工作考核，成绩突出"),
    ("验收评分", "贵单位在2015年度县级质量工作考核中通过验收，成绩突出"),
    ("专家评审", "贵单位通过2015年度县级质量工作考核，成绩突出")])  # not "通过专家"
def test_a_praise_for_a_grade_that_says_passed_names_what_was_passed(tmp_path, home, stage_name, said):
    """A 标准化试点 named after 验收 read "被评为通过，成绩突出"."""
    text = ASSESSMENT.replace("grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
                              "grades: [{name: 通过, min_score: 60}, {name: 不通过}]").replace(
        "name: 考核评分,", f"name: {stage_name},").replace(
        "template: result, on: 2016-03-31, notify: {levels: [county]}}",
        "template: praise, on: 2016-03-31, notify: {grades: [通过]}}").replace("owed_by: {rank: {bottom: 3}}",
                                                                           "owed_by: {grades: [不通过]}")
    r = _scored(tmp_path, text, "2016-03-31")
    praised = r.letters("results")
    assert sorted(praised) == ["c1", "c2", "c3"] and said in praised["c1"] and "被评为" not in praised["c1"], praised


def test_a_window_opening_on_a_reminder_day_sends_one_letter_and_validate_says_what_is_not_sent(tmp_path):
    """镇（街道）: a monthly report opened on the day of its T-1 reminder, and each town had a 受理 and a 提醒
    of it the same morning; the T-3 before the opening was dropped without a word; the January report was
    chased before the 方案 came out."""
    from qcycle.timetable.checks import check_dates

    text = ASSESSMENT.replace("      std: {before_workdays: [3], escalate_after_workdays: 2, escalate_to: city}",
                              "      std: {before_workdays: [3, 1], escalate_after_workdays: 2, escalate_to: city}").replace(
        "    stages:\n", """    stages:
      - {code: call, name: 印发考核方案, kind: publication, on: 2016-01-20, notify: {levels: [county]}}
      - code: monthly
        name: 月度信息
        kind: submission
        submission: progress_report
        owed_by: {levels: [county]}
        reminders: std
        periods:
          - {code: "2016-01", opens: 2016-01-04, deadline: {date: 2016-01-08}}
          - {code: "2016-02", opens: 2016-02-26, deadline: {date: 2016-02-29}}
""", 1)
    p = write(tmp_path, "monthly.yaml", text).programme
    t = expand(p, WorkCalendar())
    feb = [a for a in t.actions if a.stage == "monthly" and a.period == "2016-02"]
    # Opens Friday the 26th, due Monday the 29th: its T-1 is the opening day, told by the 受理 letter alone.
    assert [(a.action, a.at.date()) for a in feb if a.action in ("window_open", "reminder")] == [
        ("window_open", dt.date(2016, 2, 26)), ("reminder", dt.date(2016, 2, 29))], feb  # and on the day itself
    _, warnings = check_dates(p, WorkCalendar())
    said = dict(warnings)
    assert "2016-02-29截止的截止前3个工作日（2016-02-24，受理2016-02-26开始）" in said["stages[1].reminders"], warnings
    assert "有1个截止时间（最早2016-01-08）早于本周期的第一次发布（2016-01-20）" in said["stages[1]"], warnings


def test_a_final_result_letter_says_where_a_recheck_left_the_unit(tmp_path, home):
    """一站式服务站: the final letter to a city repeated the 验收's "基本达标" of a site its 复验 had since
    cancelled, and said nothing of one that passed it."""
    r = _through_recheck(tmp_path, "{code: final, name: 通知最终结果, kind: notification, template: result,\n"
                                   "         after: {stage: report_review, event: on, workdays: 1}, "
                                   "notify: {levels: [county]}}")
    told = r.letters("final")
    assert "贵单位结果为：不合格（得分55.00）；通过整改情况审核。" in told["c4"], told["c4"]
    assert told["c5"].count("未通过整改情况审核") == 1, told["c5"]
    assert "整改情况审核" not in told["c1"]


def test_a_list_of_those_given_a_grade_is_published_as_a_list(tmp_path, home):
    """一站式服务站's 挂牌名录 (the sites 达标) read "已发布…挂牌名录，请及时查阅" to the one city on it, and
    nothing of what was listed."""
    text = WITH_GOV.replace(
        "notify: {levels: [county]}}", "notify: {levels: [county]}}\n"
        "      - {code: listing, name: 发布质量工作合格县名录, kind: publication, on: 2016-04-01,\n"
        "         notify: {any_of: [{grades: [合格]}, {units: [gov]}]}}")
    r = _scored(tmp_path, text, "2016-04-01")
    told = r.letters("listing")
    assert sorted(told) == ["c1", "c2", "c3", "gov"], sorted(told)
    assert "已于2016年4月1日发布质量工作合格县名录，贵单位已列入该名录（共3个单位）" in told["c1"], told["c1"]
    assert "名录共列入3个单位" in told["gov"] and "贵单位已列入" not in told["gov"], told["gov"]


def test_towns_are_a_level_of_their_own(tmp_path):
    """镇（街道）考核: towns had to be written as counties, and the plan called them 县（市、区）."""
    from qcycle.schema import Who

    text = ASSESSMENT.replace("level: county, parent: city", "level: town, parent: city").replace(
        "levels: [county]", "levels: [town]")
    p = write(tmp_path, "towns.yaml", text).programme
    assert {u.level for u in p.units if u.code in ("c1", "c2", "c3", "c4", "c5")} == {"town"}
    assert Who(levels=["town"]).describe() == "乡镇（街道）"


def test_every_letter_giving_a_moved_deadline_says_why_and_the_plan_names_the_urging_alike(tmp_path, home):
    """镇（街道）: the 逾期提醒 read "应于2024年4月7日（星期日）17:30前" with no word of why a Sunday, which only
    the 受理 letter explained; the plan labelled the 督办 of a window owed by a decision "报上级单位督办"
    where the office urged its own counties itself."""
    text = ASSESSMENT.replace("escalate_to: city}", "escalate_to: parent}")
    r = Round(write(tmp_path, "county.yaml", text))
    escalation = r.t.by_name()["report:escalation"]
    assert escalation.title.endswith("由示例市质量强市工作领导小组办公室直接督办"), escalation.title
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-05-31")  # none of the last three reports
    with db.session_scope() as session:
        chased = session.exec(select(OutboxMessage.subject, OutboxMessage.body).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c3")).all()
    said = [body for subject, body in chased if subject.startswith(("【提醒】", "【逾期提醒】", "【督办】"))]
    assert len(said) >= 3 and all("2016年5月3日（星期二）17:30（原定4月30日，遇休息日顺延）" in b for b in said), said


@pytest.mark.parametrize(("name", "said"), [
    ("进度报送逾期（每次）", "进度报送逾期2次，扣4分"),
    ("进度报送逾期（每次2分）", "进度报送逾期2次，扣4分"),
    ("进度报送逾期", "进度报送逾期2次，扣4分"),
    ("报送逾期的单位（每家）", "报送逾期的单位2家，扣4分"),
    ("进度报送逾期（每次扣2分）", "进度报送逾期2次，扣4分"),
    ("进度报送（每逾期1次扣2分）", "进度报送2次，扣4分")])
def test_a_deductions_count_is_said_with_its_measure_word_alone(tmp_path, home, name, said):
    """镇（街道）: "月度信息逾期报送（每次0.5分）" read "逾期报送2次0.5分，扣1分"."""
    text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                              f"      deductions: [{{code: late, name: {name}, points: 2}}]\n"
                              "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    r = Round(write(tmp_path, "count.yaml", text))
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            *({"kind": "score", "unit": u, "reviewer": "r1", "component": "all", "value": 80} for u in ("c1", "c2", "c3", "c4", "c5")),
            {"kind": "score", "unit": "c1", "reviewer": "office", "component": "deduction:late", "value": 2}])
    r.until("2016-03-31")
    assert said in r.letters("results")["c1"], r.letters("results")["c1"]


def test_a_summary_line_of_items_keeps_each_items_name_with_what_it_says(tmp_path, home):
    """The national year's city summary read "“创先引领第5项”：B级（得分82.70）；：“创先引领第10项”揭榜书逾期提交，不予受理"."""
    from qcycle.lifecycle.summaries import summary_lines
    from qcycle.models import AssessmentResult

    text = AWARD + TWO_KINDS
    p = write(tmp_path, "items.yaml", text).programme
    graded = AssessmentResult(round_id=uuid.uuid4(), stage="scoring", unit_code="e1:gg-1", total=82.7, grade="提名奖", rank=1)
    refused = {"e1": [("application", "现场型成果", "申报逾期提交，不予受理")], "e2": [("application", None, "未提交申报")]}
    told = summary_lines(p, ["amr"], {"e1": [graded]}, {}, refused)["amr"][1]
    assert told == ["甲公司“攻关型成果”：提名奖（得分82.70）；“现场型成果”：申报逾期提交，不予受理", "乙公司：未提交申报"], told


def test_a_hand_in_refused_as_late_is_said_as_refused_not_also_as_missed(tmp_path, home):
    """"未按期提交自评报告；自评报告逾期提交，不予受理": a refused late hand-in was said twice."""
    from qcycle import clock

    text = WITH_GOV.replace(
        "      - {code: scoring,",
        "      - {code: selfreport, name: 自评报告, kind: submission, submission: self_evaluation, lateness: reject,\n"
        "         owed_by: {levels: [county]}, opens: 2016-03-01, deadline: {date: 2016-03-10}}\n"
        "      - {code: scoring,", 1).replace(
        "notify: {levels: [county]}}", "notify: {levels: [county, government]}}")
    r = Round(write(tmp_path, "refused.yaml", text))
    r.hand_in("self_evaluation", ["c1", "c2", "c4", "c5"], "2016-03-08")
    with db.session_scope() as session, clock.frozen(at(dt.date(2016, 3, 15), dt.time(10))):
        (late,) = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "self_evaluation", "unit": "c3", "submitted_at": "2016-03-15T10:00:00+08:00", "id": "late-c3"}])
    assert late.status == "rejected_late"
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-03-31")
    told = r.letters("results")
    assert "结果为：合格（得分62.00）；自评报告逾期提交，不予受理。" in told["c3"], told["c3"]
    assert "3. 三县人民政府：合格（得分62.00）；自评报告逾期提交，不予受理；" in told["gov"], told["gov"]
    assert "未提交" not in told["c3"] + told["gov"]


def test_a_list_of_one_category_by_grade_counts_as_candidates_only_those_graded_in_it(tmp_path, home):
    """A unit graded only in another category was told "贵单位未列入" of a category's 名录 it never stood for."""
    from collections import defaultdict

    from qcycle.lifecycle.listing import list_told
    from qcycle.schema import Who

    r = Round(write(tmp_path, "qc.yaml", AWARD.replace("区长质量奖", "一等奖").replace("提名奖", "二等奖") + TWO_KINDS))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1:xc-1", "total": 90, "grade": "一等奖", "rank": 1},
            {"unit_code": "e3:xc-1", "total": 60, "grade": "未获奖", "rank": 2},
            {"unit_code": "e2:gg-1", "total": 95, "grade": "一等奖", "rank": 1}])
        own: dict = defaultdict(dict)
        who = Who(any_of=[Who(grades=["一等奖"]), Who(levels=["enterprise"])])
        takers, items = list_told(session, r.p, r.id, who, ["e1", "e2", "e3"], "xc", own)  # type: ignore[misc]
    assert takers == ["e1"] and items == 1 and own["e1"]["listed_items"] == ["现场型成果"]
    assert own["e2"].get("onlooker") and not own["e3"].get("onlooker"), dict(own)  # e3 stood and was left off


def test_a_circular_names_what_each_total_was_docked_for_late_and_missing_apart(tmp_path, home):
    """安庆's 通报 read "已扣6分" and named one report of the three it was for; a ``late_or_missing`` deduction
    had told 迎江区 "逾期报送1次" of a report it never sent."""
    text = _quarterly("        lateness: accept_flag\n",
                      "      deductions: [{code: late, name: 进度报送逾期或未报送, points: 2, late_at: progress,"
                      " counts: late_or_missing}]\n").replace(
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n",
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n"
        "      - {code: circular, name: 通报全部结果, kind: notification, template: circular, on: 2016-04-01,"
        " notify: {levels: [county]}}\n", 1)
    r = Round(write(tmp_path, "docked.yaml", text))
    r.hand_in("progress_report", ["c1", "c3", "c5"], "2016-01-12", period="q1")
    r.hand_in("progress_report", ["c2", "c4"], "2016-01-20", period="q1")  # late
    r.hand_in("progress_report", ["c1", "c3", "c5"], "2016-02-24", period="q2")
    r.hand_in("progress_report", ["c4"], "2016-03-01", period="q2")  # late; c2 never hands it in
    r.scores(dict.fromkeys(["c1", "c2", "c3", "c4", "c5"], 80))
    r.until("2016-04-01")
    own, circular = r.letters("results"), r.letters("circular")["c1"]
    assert "进度报送逾期或未报送：逾期报送1次（第一期），未报送1次（第二期），扣4分" in own["c2"], own["c2"]
    # All late, it says so: a 乡镇 late with its 台账 had read like one that never sent it.
    assert "进度报送逾期或未报送：逾期报送2次（第一期、第二期），扣4分" in own["c4"], own["c4"]
    assert "二县人民政府：合格（得分76.00）；进度报送逾期或未报送：逾期报送1次（第一期），未报送1次（第二期），扣4分；" \
        in circular, circular
    assert "四县人民政府：合格（得分76.00）；进度报送逾期或未报送：逾期报送2次（第一期、第二期），扣4分。" in circular, circular
    # The deduction says what was missing: not again as 未提交.
    assert "未提交" not in circular and "一县人民政府：合格（得分80.00）；" in circular, circular


def test_a_publicity_of_results_publishes_those_the_rule_decided_out_too(tmp_path, home):
    """示范县复核: the 公示 of results listed 11 of the 16 counties; the five that never sent their 自评报告, deemed to have
    given up their title, read it first in the 通报, with no 公示 to object in."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: zl-2026, name: 2026年质量提升示范县复核, programme: 示范县复核, issuer: prov, years: [2026]}
        submission_kinds: {self_report: {title: 复核自评报告}}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: prov, name: 某省质量强省工作领导小组办公室, level: province, channels: [sink]}
          - {code: c1, name: 一县人民政府, level: county, parent: prov, channels: [sink]}
          - {code: c2, name: 二县人民政府, level: county, parent: prov, channels: [sink]}
          - {code: c3, name: 三县人民政府, level: county, parent: prov, channels: [sink]}
        stages:
          - {code: self, name: 复核自评报告, kind: submission, submission: self_report, owed_by: {levels: [county]},
             lateness: reject, opens: 2026-03-10, deadline: {date: 2026-05-29}}
          - {code: kept, name: 自评报告核对, kind: decision, decides: self, on: 2026-06-01, rejects_missing: true,
             approves_handed_in: true, on_rejection: 视为自动放弃，撤销称号}
          - {code: scoring, name: 复核评分, kind: assessment, on: 2026-08-14}
          - {code: publicity, name: 复核结果公示, kind: notice, workdays: 5, on: 2026-09-10, notify: {levels: [county]}}
        assessment:
          subjects: {approved_at: kept}
          components: [{code: all, name: 复核评分, weight: 1}]
          grades: [{name: 保留称号, min_score: 80}, {name: 撤销称号}]
        """)
    r = Round(write(tmp_path, "zl.yaml", text))
    r.hand_in("self_report", ["c1", "c2"], "2026-05-20")
    r.until("2026-08-13")
    r.scores({"c1": 90, "c2": 70})
    r.until("2026-09-10")
    shown = r.letters("publicity")["c3"]
    assert "公示结果（共3个单位）：" in shown, shown
    assert "三县人民政府：未提交复核自评报告，视为自动放弃，撤销称号" in shown, shown


def test_a_publicity_of_results_publishes_them_and_a_list_tells_those_on_it(tmp_path, home):
    """长兴's 结果公示 invited objections to results it never showed, and its 参评企业名单 was announced to each
    enterprise on it as "已公布…名单，请及时查阅", none told it was on it."""
    text = ASSESSMENT.replace(
        "    stages:\n",
        "    stages:\n      - {code: roster, name: 公布参评县（市、区）名单, kind: publication, on: 2016-01-04,"
        " notify: {levels: [county]}, lists: {levels: [county]}}\n", 1).replace(
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n",
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n"
        "      - {code: publicity, name: 考核结果公示, kind: notice, workdays: 5, after: {stage: results, event: on, workdays: 1},"
        " notify: {levels: [county]}}\n", 1)
    r = _scored(tmp_path, text, "2016-04-01")
    listed = r.letters("roster")
    assert sorted(listed) == ["c1", "c2", "c3", "c4", "c5"], listed
    assert "贵单位已列入该名单（共5个单位）" in listed["c2"], listed["c2"]
    shown = r.letters("publicity")["c4"]
    assert "对考核结果进行公示" in shown and "公示结果（共5个参评单位）：" in shown, shown
    assert "1. 一县人民政府：合格（得分95.00）；" in shown and "5. 五县人民政府：不合格（得分40.00）。" in shown, shown
    assert "如对公示内容有异议" in shown, shown
    # Those invited to object by a window of its own, the 公示 not sent to them, are shown the results as well (江西's
    # firms were asked to object to results their letter never showed).
    invited = _scored(tmp_path, text.replace(
        " notify: {levels: [county]}}\n      - code: report", " notify: {units: [c1, c2]}}\n"
        "      - {code: objection, name: 公示异议, kind: submission, submission: objection, owed_by: {levels: [county]},\n"
        "         voluntary: true, opens_after: {stage: publicity, event: on, days: 0},\n"
        "         deadline: {after: {stage: publicity, event: closes, days: 0}}}\n      - code: report", 1).replace(
        "code: county-2015", "code: county-2015-invited", 1), "2016-04-01")
    asked = invited.letters("objection")
    assert sorted(asked) == ["c3", "c4", "c5"], asked
    assert "公示结果（共5个参评单位）：" in asked["c4"] and "5. 五县人民政府：不合格（得分40.00）。" in asked["c4"], asked["c4"]
    # A launch not named for its list (首席质量官's 印发…工作通知 with the 12 enterprises as `lists`) still tells each
    # unit on it that it is (they had read only "本次共安排12个单位参加").
    launch = Round(write(tmp_path, "launch.yaml", text.replace("name: 公布参评县（市、区）名单,", "name: 印发考核工作通知,", 1)
                         .replace("lists: {levels: [county]}", "lists: {units: [c1, c2]}", 1)
                         .replace("code: county-2015", "code: county-2015b", 1)))
    launch.until("2016-01-04")
    told = launch.letters("roster")
    assert "本次共安排2个单位参加，贵单位为参加单位之一。" in told["c2"], told["c2"]
    assert "本次共安排2个单位参加。" in told["c3"], told["c3"]
    # Those drawn for an inspection are its 检查对象: a laboratory does not "参加" a 监督检查.
    drawn = Round(write(tmp_path, "drawn.yaml", text.replace("name: 公布参评县（市、区）名单,", "name: 印发检查计划,", 1)
                        .replace("lists: {levels: [county]}", "lists: {units: [c1, c2]}", 1)
                        .replace("name: 2015年度县级质量工作考核", "name: 2015年度县级质量工作监督检查", 1)
                        .replace("code: county-2015", "code: county-2015c", 1)))
    drawn.until("2016-01-04")
    told = drawn.letters("roster")
    assert "本次共2个单位列为检查对象，贵单位为其中之一。" in told["c2"], told["c2"]
    assert "本次共2个单位列为检查对象。" in told["c3"] and "参加" not in told["c3"], told["c3"]


def test_a_rejection_says_what_it_brings_after_leaving_the_later_steps(tmp_path, home):
    """江西's 初审 letter read "未通过…初审（…），可于2027年再次申请验收，不再参加后续环节", as if the next year's
    application were barred from later steps."""
    text = AWARD.replace(
        "      - {code: eligibility, name: 资格审核, kind: decision, decides: application, on: 2023-04-04}\n",
        "      - {code: eligibility, name: 资格审核, kind: decision, decides: application, on: 2023-04-04,\n"
        "         on_rejection: 可于下一年度再次申报}\n"
        "      - {code: told, name: 资格审核结果告知, kind: notification, template: step_result, on: 2023-04-06,\n"
        "         notify: {rejected_at: eligibility}}\n", 1)
    r = Round(write(tmp_path, "brings.yaml", text))
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="rejected")
    r.until("2023-04-06")
    told = r.letters("told")
    assert list(told) == ["e2"], told
    assert "未通过资格审核，不再参加后续环节，可于下一年度再次申报。特此告知。" in told["e2"], told["e2"]


def test_a_naming_is_told_as_a_naming_and_a_praise_not_as_its_own_benefit(tmp_path, home):
    """襄阳's 命名 of its 诚信计量示范单位 went out as 【授奖通知】…特予表彰; 长兴's 通报表扬 listed 通报表扬 among its
    own 激励."""
    text = AWARD.replace("name: 2023年度示例区长质量奖", "name: 2023年度示例质量标杆评选").replace(
        "区长质量奖", "质量标杆单位").replace(
        "        name: 授予质量标杆单位\n        kind: notification\n        template: praise\n",
        "        name: 命名质量标杆单位\n        kind: notification\n        template: award\n", 1)
    assert "template: award" in text
    r = Round(write(tmp_path, "naming.yaml", text))
    _through_scoring(r, {"e1": 95, "e2": 72})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-15")
    named = r.letters("award")["e1"]
    assert "贵单位在2023年度示例质量标杆评选中被命名为质量标杆单位。" in named, named
    assert "特予表彰" not in named and "质量管理水平" not in named, named
    with db.session_scope() as session:
        subjects = set(session.exec(select(OutboxMessage.subject).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("award:"))).all())
    assert all(s.startswith("【命名通知】") for s in subjects), subjects
    praised = ASSESSMENT.replace(
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
        "      grades: [{name: 合格, min_score: 60, benefits: [通报表扬, 奖励资金5万元]}, {name: 不合格}]\n", 1).replace(
        "      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}\n",
        "      - {code: scoring, name: 考核评分, kind: assessment, on: 2016-03-25}\n"
        "      - {code: praise, name: 通报表扬, kind: notification, template: praise, on: 2016-03-28,"
        " notify: {grades: [合格]}}\n", 1)
    (tmp_path / "p").mkdir()
    r = _scored(tmp_path / "p", praised, "2016-03-28")
    letter = r.letters("praise")["c1"]
    assert "现予通报表扬" in letter and "奖励资金5万元" in letter and letter.count("通报表扬") == 1, letter


def test_a_late_objection_refused_is_no_part_of_the_objectors_result(tmp_path, home):
    """襄阳's named unit read "诚信计量示范单位（得分88.60）；公示异议逾期提交，不予受理" in its district's summary and
    its own result: the objection had been answered by its own 不予受理."""
    anchor = "      - code: award\n"
    r = Round(write(tmp_path, "award.yaml", AWARD.replace(anchor, OBJECTIONS + anchor)))
    _through_scoring(r, {"e1": 95, "e2": 75})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-13")
    with db.session_scope() as session:
        (refused,) = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "objection", "unit": "e2", "submitted_at": "2023-05-13T10:00:00+08:00", "id": "late-objection"}])
    assert refused.status == "rejected_late", refused
    r.until("2023-05-16")
    told = r.letters("results")
    assert "e2" in told and "异议" not in told["e2"], told["e2"]


def test_a_unit_chosen_for_one_window_it_missed_is_told_the_others_too(tmp_path, home):
    """江西's 修水县, removed for handing in nothing, read only "未提交验收申请及自评报告"; its city's summary said
    "未提交创建工作中期报告；未提交验收申请及自评报告"."""
    head = ASSESSMENT.split("    stages:\n")[0].replace("    reminder_policies:\n", "").replace(
        "      std: {before_workdays: [3], escalate_after_workdays: 2, escalate_to: city}\n", "")
    r = Round(write(tmp_path, "removed.yaml", head + """    stages:
      - {code: midterm, name: 中期报告, kind: submission, submission: progress_report, owed_by: {levels: [county]},
         opens: 2016-01-04, deadline: {date: 2016-01-15}}
      - {code: apply, name: 验收申请, kind: submission, submission: application, owed_by: {levels: [county]},
         opens: 2016-02-01, deadline: {date: 2016-02-26}}
      - {code: removed, name: 告知未报送结果, kind: notification, template: result, on: 2016-03-01,
         notify: {missing_at: apply}}
"""))
    r.hand_in("progress_report", ["c1", "c2", "c4", "c5"], "2016-01-12")
    r.hand_in("application", ["c1", "c2", "c5"], "2016-02-20")
    r.until("2016-03-01")
    told = r.letters("removed")
    assert sorted(told) == ["c3", "c4"], told
    assert "未提交验收申请" in told["c3"] and "未提交中期报告" in told["c3"], told["c3"]
    assert "未提交验收申请" in told["c4"] and "中期报告" not in told["c4"], told["c4"]


def test_a_launch_names_each_later_deadline_its_period_why_it_moved_and_what_missing_it_costs(tmp_path, home):
    """安庆's 考核办法 listed "2026年4月15日、2026年7月14日、2026年10月20日、2027年1月11日前": no quarter, the 方案's
    1月10日 moved without a word, and not the 2 points each late report costs, which every later letter said."""
    text = _quarterly("        lateness: accept_flag\n",
                      "      deductions: [{code: late, name: 进度报送逾期或未报送, points: 2, late_at: progress,"
                      " counts: late_or_missing}]\n").replace(
        "          - {code: q1, name: 第一期, opens: 2016-01-04, deadline: {date: 2016-01-15}}\n",
        "          - {code: q1, name: 第一期, opens: 2016-01-11, deadline: {date: 2016-01-16}}\n", 1).replace(
        "    stages:\n", "    stages:\n      - {code: launch, name: 印发考核办法, kind: publication, on: 2016-01-04,"
        " notify: {levels: [county]}}\n", 1)
    r = Round(write(tmp_path, "launch.yaml", text))
    r.until("2016-01-04")
    told = r.letters("launch")["c1"]
    assert ("1. 季度进展报告：第一期于2016年1月18日（原定1月16日，遇休息日顺延）前、第二期于2016年2月26日前"
            "（按考核规定，逾期报送或未报送的，每次扣2分）。") in told, told


def test_a_reviewer_is_told_of_its_review_with_the_call_though_the_window_opens_later(tmp_path, home):
    """江西's cities, to give the 初审 of their counties' 验收申请, were told nothing with the 3月 call (the window
    opened in July, on its own) and first heard of it eight working days before it was due."""
    text = REVIEWED.replace("voluntary: true, opens: 2023-03-01", "opens: 2023-03-01", 1).replace(
        "    stages:\n", "    stages:\n      - {code: call, name: 印发工作方案, kind: publication, on: 2023-02-20,"
        " notify: {levels: [county, enterprise]}}\n", 1)
    r = Round(write(tmp_path, "later.yaml", text))
    r.until("2023-02-20")
    told = r.letters("call")
    assert ("申报于2023年3月31日截止受理后，请贵单位对辖区内单位提交的申报提出初审意见，于2023年4月17日（星期一）前"
            "报送示例市市场监督管理局。") in told["k1"], told["k1"]
    assert "初审" not in told["e1"] and "1. 申报：2023年3月31日前。" in told["e1"], told["e1"]


def test_a_reviewers_places_are_counted_per_batch_where_the_review_is(tmp_path, home):
    """绍兴's 柯桥区 recommended 3 enterprises for the first batch of its 培育库, and its 3 for the second batch
    were refused "推荐名额已满": a review decided per category (a batch) has places per category."""
    from qcycle.ops import DecisionError, DecisionRow, decide

    batches = ("    categories:\n"
               "      - {code: b1, name: 第一批, items: [{code: b1-x, name: 第一批培育}]}\n"
               "      - {code: b2, name: 第二批, items: [{code: b2-x, name: 第二批培育}]}\n")
    text = (REVIEWED.replace("    stages:\n", batches + "    stages:\n", 1)
            .replace("voluntary: true, opens: 2023-03-01, deadline: {date: 2023-03-31}}",
                     "voluntary: true, opens: 2023-03-01, deadline: {date: 2023-03-31},\n"
                     "         per_category: {b2: {opens: 2023-06-01, deadline: {date: 2023-06-30}}}}", 1)
            .replace("reviewed_by: parent,\n", "reviewed_by: parent, per_reviewer: 1, per_category: {b2: {}},\n", 1)
            .replace("{code: eligibility, name: 资格审查, kind: decision, decides: county_review, on: 2023-04-21}",
                     "{code: eligibility, name: 资格审查, kind: decision, decides: county_review, on: 2023-07-31}", 1))
    r = Round(write(tmp_path, "batches.yaml", text))
    r.hand_in("application", ["e1"], "2023-03-20", item="b1-x")
    r.hand_in("application", ["e2"], "2023-06-20", item="b2-x", id="second")
    r.until("2023-07-20")
    with db.session_scope() as session:  # 甲区's one place in each batch
        decide(session=session, programme=r.p, round_id=r.id, decided_by="ops", rows=[
            DecisionRow("county_review", "e1:b1-x", "approve"), DecisionRow("county_review", "e2:b2-x", "approve")])
    r.hand_in("application", ["e1"], "2023-06-21", item="b2-x", id="third")
    with db.session_scope() as session, pytest.raises(DecisionError, match="甲区市场监督管理局（第二批）将有 2 个"):
        decide(session=session, programme=r.p, round_id=r.id, decided_by="ops", rows=[
            DecisionRow("county_review", "e1:b2-x", "approve")])


@pytest.mark.parametrize("voluntary", ["voluntary: true,", ""])
def test_a_summary_says_where_a_recheck_left_a_grade_and_forgets_a_miss_put_right(tmp_path, home, voluntary):
    """绍兴's county summary after the 复验 read "不通过（得分65.53），可在3个月内申请复验一次" of a project the 复验 had
    passed and named, and "不通过；未提交中期自评报告" of one that had rectified that miss and passed its 复评. A window
    the low grade owes (安徽's 补测 of the 不满意, not voluntary) is a second chance as well: its 通报 had said of those
    who passed it only "不满意（得分72.00），须整改并参加补测"."""
    text = WITH_GOV.replace("    stages:\n", """    submission_kinds:
      supplement: {title: 补报说明}
      recheck_request: {title: 复验申请}
    stages:
      - {code: selfcheck, name: 自评报告, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},
         opens: 2016-01-04, deadline: {date: 2016-01-15}}
      - {code: fix, name: 补报说明, kind: followup, submission: supplement, owed_by: {missing_at: selfcheck},
         opens_after: {stage: selfcheck, event: deadline, days: 1}, deadline: {after: {stage: selfcheck, event: deadline, months: 1}}}
      - {code: fix_review, name: 补报审核, kind: decision, decides: fix, after: {stage: fix, event: deadline, workdays: 3}}
""", 1).replace("    assessment:\n", """      - {code: recheck_request, name: 复验申请, kind: submission, submission: recheck_request, voluntary: true,
         owed_by: {grades: [不合格]}, opens_after: {stage: results, event: on, days: 0},
         deadline: {after: {stage: results, event: on, workdays: 10}}}
      - {code: recheck, name: 复验, kind: decision, decides: recheck_request, on_approval: 改评为合格,
         after: {stage: recheck_request, event: deadline, workdays: 3}}
      - {code: summary, name: 报送考核结果, kind: notification, template: result, after: {stage: recheck, event: on, workdays: 2},
         notify: {levels: [government]}}
    assessment:
""".replace("voluntary: true,", voluntary), 1)
    r = Round(write(tmp_path, "recheck.yaml", text))
    r.hand_in("self_evaluation", ["c1", "c2", "c4", "c5"], "2016-01-12")
    r.hand_in("supplement", ["c3"], "2016-02-01")
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-02-25")
    r.decide("fix_review", c3="approved")
    r.until("2016-04-01")
    r.hand_in("recheck_request", ["c4", "c5"], "2016-04-05")
    r.until("2016-04-20")
    r.decide("recheck", c4="approved")
    r.decide("recheck", c5="rejected")
    r.until("2016-05-31")
    summary = r.letters("summary")["gov"]
    assert "三县人民政府：合格（得分62.00）；" in summary and "自评报告" not in summary, summary
    assert "四县人民政府：不合格（得分55.00）；通过复验，改评为合格；" in summary, summary
    # A 复验 refused leaves the grade it was for standing (it had dropped 不合格（得分40.00）).
    assert "五县人民政府：不合格（得分40.00）；未通过复验。" in summary, summary


def test_a_summons_arranged_for_those_graded_low_stays_out_of_the_group(tmp_path, home):
    """江西's 约谈安排 for its C counties went to the counties' DingTalk group; the 约谈通知 itself by email only."""
    text = ASSESSMENT.replace(
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n",
        "      - {code: results, name: 通报考核结果, kind: notification, template: result, on: 2016-03-31, notify: {levels: [county]}}\n"
        "      - {code: talk, name: 约谈, kind: event, on: 2016-04-20, notify: {grades: [不合格]}, notify_ahead: 3}\n"
        "      - {code: training, name: 业务培训, kind: event, on: 2016-04-20, notify: {levels: [county]}, notify_ahead: 3}\n", 1)
    r = _scored(tmp_path, text, "2016-03-31")
    with db.session_scope() as session:
        talk = carry_out(session, r.p, r.id, r.t.by_name()["talk:event_notice"])
        training = carry_out(session, r.p, r.id, r.t.by_name()["training:event_notice"])
    assert sorted(d.unit for d in talk.drafts) == ["c4", "c5"] and all(d.private for d in talk.drafts)
    assert len(training.drafts) == 5 and not any(d.private for d in training.drafts)


def test_a_list_of_one_grade_is_in_score_order(tmp_path, home):
    """襄阳's 拟命名名单 listed 85.87 before 86.43 (the file's order), while those left off were told their rank."""
    from qcycle.lifecycle.publicity import published_list

    text = AWARD.replace("notify: {approved_at: committee}}", "notify: {grades: [区长质量奖, 提名奖]}}", 1)
    r = Round(write(tmp_path, "order.yaml", text))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1", "total": 72.5, "grade": "提名奖", "rank": 3},
            {"unit_code": "e2", "total": 90, "grade": "区长质量奖", "rank": 1},
            {"unit_code": "e3", "total": 75, "grade": "提名奖", "rank": 2}])
        names, _, _ = published_list(session, r.p, r.id, r.p.stage("notice"), ["e1", "e2", "e3"])
    assert names == ["乙公司（拟获区长质量奖）", "丙公司（拟获提名奖）", "甲公司（拟获提名奖）"], names


def test_a_list_is_the_one_the_file_names_not_one_guessed_from_a_name(tmp_path, home):
    """A 名单 is not taken to be of those it reaches: a 专家名单 sent to the county bureaus had told each "贵单位已列入该名单"
    (a reviewer's probe). The file names the list (``lists``); those not on it are told which of theirs are."""
    text = REVIEWED + ("      - {code: experts, name: 公布考核评审专家名单, kind: publication, on: 2023-04-28,"
                       " notify: {levels: [county]}}\n"
                       "      - {code: roster, name: 公布示范企业名单, kind: publication, on: 2023-04-28,"
                       " notify: {levels: [county, enterprise]}, lists: {units: [e1, e3]}}\n")
    r = Round(write(tmp_path, "superiors.yaml", text))
    r.until("2023-04-28")
    experts = r.letters("experts")
    assert sorted(experts) == ["k1", "k2"] and not any("列入" in body for body in experts.values()), experts
    told = r.letters("roster")
    assert "贵单位已列入该名单（共2个单位）" in told["e1"], told["e1"]
    assert "名单共列入2个单位" in told["e2"] and "已列入" not in told["e2"], told["e2"]
    assert "名单共列入2个单位，其中贵单位辖区内1个：甲公司" in told["k1"], told["k1"]


def test_a_list_approved_from_several_awards_says_which_each_is_proposed_for(tmp_path, home):
    """嘉善's 拟授奖名单 (approved by the committee) listed three names: none could tell 县长质量奖 (50万元) from 提名奖."""
    from qcycle.lifecycle.publicity import published_list

    r = Round(write(tmp_path, "award.yaml", AWARD))
    _through_scoring(r, {"e1": 95, "e2": 75, "e3": 72})
    r.decide("committee", e1="approved", e2="approved", e3="approved")
    with db.session_scope() as session:
        names, proposed, _ = published_list(session, r.p, r.id, r.p.stage("notice"), ["e1", "e2", "e3"])
    assert names == ["甲公司（拟获区长质量奖）", "乙公司（拟获提名奖）", "丙公司（拟获提名奖）"], names
    assert proposed == {"e1": "区长质量奖", "e2": "提名奖", "e3": "提名奖"}, proposed


def test_an_award_valid_for_fewer_years_than_its_bar_says_when_it_may_be_sought_again(tmp_path, home):
    """嘉善's 县长质量奖 is valid 3 years and its winners may apply again only 4 years on; the 授奖通知 said the 3 years
    alone, and a winner of 2026 was never told it waits till 2030."""
    from qcycle.lifecycle.wording import grade_terms

    text = AWARD.replace("        - {name: 区长质量奖, min_score: 80, max_count: 1}\n",
                         "        - {name: 区长质量奖, min_score: 80, max_count: 1, valid_years: 3}\n", 1).replace(
        "        voluntary: true\n",
        "        voluntary: true\n        eligibility: {not_awarded: {grades: [区长质量奖], years: 4}}\n", 1)
    assert "years: 4}}" in text
    p = write(tmp_path, "bar.yaml", text).programme
    assert grade_terms(p, "区长质量奖", 2026)[1] == "3年（2026年至2028年），2030年起方可再次申报"
    same = write(tmp_path, "same.yaml", text.replace("years: 4}}", "years: 3}}")).programme
    assert grade_terms(same, "区长质量奖", 2026)[1] == "3年（2026年至2028年），期满后可再次申报"


def test_a_list_reported_up_carries_the_objections_upheld(tmp_path, home):
    """嘉善's 报送 of the 拟授奖名单 to the 县政府, which 审定s it, named a winner an upheld objection concerned and said
    nothing of the objection."""
    report = ("      - {code: report, name: 报送拟授奖名单, kind: notification, template: report,\n"
              "         after: {stage: objection_review, event: on, workdays: 2},\n"
              "         lists: {approved_at: committee}, notify: {levels: [government]}}\n")
    r = _objected(tmp_path, "report.yaml", report, ["e5"])
    r.until("2023-05-11")
    r.decide("objection_review", note="反映甲公司2022年发生质量事故属实", e5="approved")
    r.until("2023-05-16")
    sent = r.letters("report")["gov"]
    assert "1. 甲公司（区长质量奖，得分95.00）；" in sent, sent
    assert "公示期间，以下异议经核实成立：\n1. 戊公司提出的异议，核实情况：反映甲公司2022年发生质量事故属实。" in sent, sent


def test_a_stage_that_could_write_only_to_its_own_sender_is_refused(tmp_path, home):
    """湖州's 报送 of its 推荐名单 to the province, signed by the province, sent nothing; validate had said 通过."""
    text = AWARD.replace("      - code: award\n", "      - {code: tell, name: 报送推荐名单, kind: notification, template: report,"
                         " on: 2023-05-20,\n         sender: gov, lists: {approved_at: committee},"
                         " notify: {levels: [government]}}\n      - code: award\n", 1)
    with pytest.raises(ConfigError, match="“报送推荐名单”只发给示例区人民政府，而它就是发文单位（sender），不会发出任何函件"):
        write(tmp_path, "self.yaml", text)
    write(tmp_path, "ok.yaml", text.replace("sender: gov, ", "", 1))  # from the office, to the government: fine


def test_a_circular_tells_all_where_each_stands_but_not_a_reviewers_reasons(tmp_path, home):
    """湖州's 通报, posted to the counties' group too, told every team why one enterprise was not recommended
    ("未获…推荐（经核查，申报材料所述情况与实际不符）"): a reason told is the unit's own."""
    text = AWARD.replace("kind: decision, decides: application, on: 2023-04-04}",
                         "kind: decision, decides: application, on: 2023-04-04, tell_reason: true}").replace(
        "      - code: award\n", "      - {code: circular, name: 通报评审结果, kind: notification, template: circular,"
        " on: 2023-05-17, notify: {levels: [enterprise]}}\n      - code: award\n", 1)
    r = Round(write(tmp_path, "circular.yaml", text))
    r.hand_in("application", ["e1", "e2", "e6"], "2023-03-20")
    r.decide("eligibility", note="近三年发生重大质量事故", e6="rejected")
    r.decide("eligibility", e1="approved", e2="approved")
    r.decide("documents", e1="approved", e2="approved")
    r.scores({"e1": 95, "e2": 75})
    r.until("2023-04-25")
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-17")
    told = r.letters("circular")["e2"]
    assert "己公司：未通过资格审核" in told and "重大质量事故" not in told, told
    assert "近三年发生重大质量事故" in r.letters("results")["e6"], r.letters("results")["e6"]  # its own letter says why


def test_a_launch_does_not_tell_all_of_a_window_owed_only_by_those_who_will_miss_another(tmp_path, home):
    """济南's 工作通知 told all twelve labs "此后贵单位须按时提交：责令改正（补报年度报告）：2026年4月30日前", a window owed
    only by those that would miss the 3月31日 年度报告."""
    text = ASSESSMENT.replace("    stages:\n", """    stages:
      - {code: launch, name: 印发考核办法, kind: publication, on: 2016-01-04, notify: {levels: [county]}}
      - {code: selfcheck, name: 自评报告, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},
         opens: 2016-01-11, deadline: {date: 2016-01-29}}
      - {code: remake, name: 补报自评报告, kind: submission, submission: rectification_report,
         owed_by: {missing_at: selfcheck}, opens: 2016-02-01, deadline: {date: 2016-02-26}}
""", 1)
    r = Round(write(tmp_path, "remake.yaml", text))
    later = {d["stage"] for d in r.t.by_name()["launch:publish"].detail.get("later", ())}
    assert later == {"selfcheck"}, later


def test_a_step_of_selection_owed_by_a_grade_ends_the_grade_it_refuses(tmp_path, home):
    """A reviewer's probe: a 陈述答辩 of the award's candidates (a window owed by their grades, not voluntary) is not a
    second chance: a candidate it refuses is told the refusal, not "区长质量奖（得分95.00）；未通过陈述答辩"."""
    text = AWARD.replace("    submission_kinds:\n", "    submission_kinds:\n", 1).replace(
        "      - {code: notice, name: 拟授奖名单公示,",
        "      - {code: talk, name: 陈述材料, kind: submission, submission: self_evaluation,\n"
        "         owed_by: {grades: [区长质量奖, 提名奖]}, opens: 2023-04-19, deadline: {date: 2023-04-21}}\n"
        "      - {code: defence, name: 陈述答辩, kind: decision, decides: talk, on: 2023-04-26}\n"
        "      - {code: notice, name: 拟授奖名单公示,", 1)
    r = Round(write(tmp_path, "defence.yaml", text))
    assert "defence" not in r.p.rechecks
    _through_scoring(r, {"e1": 95, "e2": 75})
    r.hand_in("self_evaluation", ["e1", "e2"], "2023-04-20")
    r.decide("committee", e1="approved", e2="approved")
    r.decide("defence", e1="rejected", e2="approved")
    r.until("2023-05-16")
    told = r.letters("results")["e1"]
    assert "结果为：得分95.00，未通过陈述答辩。" in told and "区长质量奖（" not in told, told  # its score, not the grade


def test_a_list_approved_from_results_without_several_awards_names_no_award(tmp_path, home):
    """A reviewer's probe: a 拟命名示范县名单 approved from 优秀/良好/合格 grades read "贵单位拟获合格": only the awards a decision
    chooses among (``among``) are said beside a name."""
    from qcycle.lifecycle.publicity import published_list

    text = AWARD.replace("\n         among: {grades: [区长质量奖, 提名奖]}}", "}", 1)
    assert "among" not in text
    r = Round(write(tmp_path, "plain.yaml", text))
    _through_scoring(r, {"e1": 95, "e2": 75})
    r.decide("committee", e1="approved", e2="approved")
    with db.session_scope() as session:
        names, proposed, _ = published_list(session, r.p, r.id, r.p.stage("notice"), ["e1", "e2"])
    assert names == ["甲公司", "乙公司"] and proposed == {}, names


def test_an_overdue_notice_says_the_superior_urges_it_the_same_day(tmp_path, home):
    """An overdue notice and the 督办 to the unit's superior on one morning: the notice had said nothing of the
    督办, and the unit heard of it from its superior. The notice says so; the office's own 督办 stays the only
    letter to those it urges itself."""
    same_day = SELF_OWED.replace("escalate_after_workdays: 2", "overdue_after_workdays: 1, escalate_after_workdays: 1")
    assert same_day != SELF_OWED
    r = Round(write(tmp_path, "plan.yaml", same_day))
    r.hand_in("self_evaluation", ["d2"], "2024-11-20")
    r.until("2024-12-31")
    overdue = _subjects_and_bodies(r, "d1", "【逾期提醒】")
    assert len(overdue) == 1 and "贵单位逾期未提交的情况已同时报示例区人民政府督办。" in overdue[0], overdue
    assert "提请" not in overdue[0] and "将于" not in overdue[0], overdue
    # Urged two days later, it says when, as before.
    later = Round(write(tmp_path, "later.yaml", SELF_OWED.replace("plan-2024", "later-2024")))
    later.until("2024-12-31")
    told = _subjects_and_bodies(later, "d1", "【逾期提醒】")
    assert len(told) == 1 and "已同时报" not in told[0] and "如仍未提交，将于2024年12月3日提请示例区人民政府督办。" in told[0], told


def _subjects_and_bodies(r: Round, unit: str, kind: str) -> list[str]:
    """The bodies of the messages of ``kind`` (a subject's 【】 head) queued for ``unit``."""
    with db.session_scope() as session:
        return [m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == unit)).all() if m.subject.startswith(kind)]


def test_a_rectification_chosen_by_several_grades_tells_each_its_own(tmp_path, home):
    """Ten laboratories ordered to rectify items graded 有问题 or 不满意 each read "被评为有问题或不满意": the
    selection, not their own grade. Each project is named with its own grade."""
    from qcycle.render import quoted

    p, round_id, orders = _projects_rectified(tmp_path, "[合格, 不合格]")
    with db.session_scope() as session:
        graded = {r.unit_code: r.grade for r in crud.list_results(session=session, round_id=round_id)
                  if r.grade in ("合格", "不合格")}
    assert orders and set(graded.values()) == {"合格", "不合格"}, graded
    for body in orders.values():
        assert "合格或不合格" not in body, body
    for subject, grade in graded.items():
        unit, name = subject.partition(":")[0], p.item_names[subject.partition(":")[2]]
        assert re.search(re.escape(quoted(name)) + f"(、“[^”]+”)*被评为{grade}[，。]", orders[unit]), orders[unit]


def test_a_circular_says_where_an_items_recheck_left_its_grade(tmp_path, home):
    """临江's 通报 of 20 laboratories after the 补充能力验证 listed each item's first grade with its order ("自结果通知
    之日起30日内提交整改报告…") and, apart, "“水泥胶砂强度检验”：通过补充能力验证结果评价": an item's 复验 goes beside its
    own grade, in place of what the grade had ordered, as a unit's does."""
    from qcycle.render import quoted

    later = ("  - {code: recheck, name: 复验, kind: decision, decides: rectify, on_approval: 改评为良好,\n"
             "     after: {stage: rectify, event: deadline, workdays: 3}, per_category: {cxyl: {}}}\n"
             "  - {code: circular, name: 通报揭榜挂帅成果, kind: notification, template: circular,\n"
             "     after: {stage: recheck, event: on, workdays: 2}, notify: {levels: [city]}, per_category: {cxyl: {}}}\n")
    p, round_id, _ = _projects_rectified(tmp_path, "[合格, 不合格]", later, consequence="限期一个月整改")
    with db.session_scope() as session:
        circulars = [m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == round_id, OutboxMessage.channel == "email")).all() if m.subject.startswith("【通报】")]
        rechecks = crud.outcomes_at(session=session, round_id=round_id, stage="recheck")
        graded = {r.unit_code: r.grade for r in crud.list_results(session=session, round_id=round_id)}
    passed = [s for s, outcome in rechecks.items() if outcome == "approved" and ":" in s]
    assert circulars and passed, (len(circulars), rechecks)
    for subject in passed:
        name = quoted(p.item_names[subject.partition(":")[2]])
        unit = p.unit(subject.partition(":")[0]).name
        line = next(line for c in circulars for line in c.splitlines() if name in line and f". {unit}" in line)
        said = re.search(re.escape(name) + "：([^；。]*（[^）]*）)([^“]*)", line)
        assert said and said.group(1).startswith(graded[subject]), (name, line)
        assert said.group(2).startswith("；通过复验，改评为良好"), line  # beside its grade, not after its order
        assert line.count(name + "：") == 1 and "限期一个月整改" not in said.group(0), line


def test_a_unit_told_its_result_before_a_list_is_published_is_not_told_it_again(tmp_path, home):
    """诚信计量示范单位: units below the 85-point line had their 评审结果 on 7月28日, score and reason; the 公示 of
    8月3日 told them all of it again, with "排名第12" that no rule of the round uses. Told before, a unit hears
    that it is not listed and that its result was told; where no place decides anything, no rank is said."""
    told = AWARD.replace("      - {code: committee,", "      - {code: told, name: 提前告知评审结果, kind: notification, "
                         "template: result, on: 2023-04-20,\n         notify: {approved_at: documents}}\n"
                         "      - {code: committee,", 1)
    assert told != AWARD

    def play(r: Round) -> dict[str, str]:
        r.hand_in("application", ["e1", "e2", "e3", "e4"], "2023-03-20")
        r.until("2023-04-04")
        r.decide("eligibility", e1="approved", e2="approved", e3="approved", e4="approved")
        r.until("2023-04-11")
        r.decide("documents", e1="approved", e2="approved", e3="approved", e4="approved")
        r.scores({"e1": 95, "e2": 90, "e3": 75, "e4": 60})
        r.until("2023-04-25")
        r.decide("committee", **{u: "approved" for u in r.pending("committee")})
        r.until("2023-05-05")
        return r.letters("notice")

    letters = play(Round(write(tmp_path, "told.yaml", told)))
    assert "贵单位未列入拟授奖名单（评审结果已另行告知）。" in letters["e4"], letters["e4"]
    assert "得分" not in letters["e4"] and "排名" not in letters["e4"], letters["e4"]
    # Not told before: its score and place, as before.
    untold = play(Round(write(tmp_path, "untold.yaml", AWARD.replace("award-2023", "untold-2023"))))
    assert "经评审，贵单位得分60.00、排名第4，未列入拟授奖名单。" in untold["e4"], untold["e4"]
    # A line and no places: the score without a rank.
    no_places = AWARD.replace("max_count: 1}", "}").replace("max_count: 2}", "}").replace("untold-2023", "x")
    lines = play(Round(write(tmp_path, "lines.yaml", no_places.replace("award-2023", "lines-2023"))))
    assert "经评审，贵单位得分60.00，未列入拟授奖名单。" in lines["e4"], lines["e4"]


def _capped(tmp_path: Path, better: str) -> Round:
    """The county assessment with ``better`` grades above 合格 and a veto capping at 合格, scored 95, 80, 62, 55, 40, the
    first and the last vetoed, played to its results."""
    text = ASSESSMENT.replace(
        "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
        f"      grades: [{better}, {{name: 合格, min_score: 60}}, {{name: 不合格}}]\n"
        "      vetoes: [{code: accident, name: 发生重大质量安全事故, at_most: 合格}]\n", 1)
    assert text != ASSESSMENT
    r = Round(write(tmp_path, "county.yaml", text))
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    with db.session_scope() as session:
        ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": u, "reviewer": "r1", "component": "veto:accident", "value": 1} for u in ("c1", "c5")])
    r.until("2016-03-31")
    return r


def test_a_veto_barring_the_better_grades_says_so_and_leaves_a_low_score_its_own_grade(tmp_path, home):
    """某市's bureaus: "发生重大质量安全事故的，不得评为优秀、良好". Written as a forced 合格, 西城区's 30.15 had been told
    合格 in its own letter, the 通报 and the report to the 市政府. Capped (``at_most``), a 95 is 合格 and told why,
    a 40 keeps its 不合格 and is told the veto, and the places below the top are by score."""
    r = _capped(tmp_path, "{name: 优秀, min_score: 90}, {name: 良好, min_score: 80}")
    with db.session_scope() as session:
        got = {x.unit_code: (x.grade, x.rank) for x in crud.list_results(session=session, round_id=r.id)}
    assert got == {"c1": ("合格", 1), "c2": ("良好", 2), "c3": ("合格", 3), "c4": ("不合格", 4), "c5": ("不合格", 5)}
    letters = r.letters("results")
    assert "因发生重大质量安全事故，不得评为优秀、良好，等次定为合格" in letters["c1"], letters["c1"]
    assert "贵单位结果为：不合格" in letters["c5"], letters["c5"]
    assert "因发生重大质量安全事故，不得评为优秀、良好；得分未达到合格分数线（60分）。" in letters["c5"], letters["c5"]
    assert "等次定为" not in letters["c5"] and "实行一票否决" not in letters["c5"], letters["c5"]


TWO_POPULATIONS = """\
    version: 2
    round: {code: create-2025, name: 2025年度质量强县示范创建, programme: 质量强县示范创建, issuer: prov, years: [2025, 2026]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: prov, name: 示例省质量强省工作领导小组办公室, level: province, channels: [sink]}
      - {code: city, name: 示例市质量强市工作领导小组办公室, level: city, parent: prov, channels: [sink]}
      - {code: c1, name: 一县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c2, name: 二县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c3, name: 三县人民政府, level: county, parent: city, channels: [sink]}
      - {code: c4, name: 四县人民政府, level: county, parent: city, channels: [sink]}
    submission_kinds:
      acceptance_request: {title: 验收申请}
    stages:
      - {code: annual, name: 年度创建工作报告, kind: submission, submission: self_evaluation, owed_by: {units: [c1, c2]},
         opens: 2025-11-03, deadline: {date: 2025-12-18}}
      - {code: request, name: 验收申请, kind: submission, submission: acceptance_request, owed_by: {units: [c3, c4]},
         opens: 2025-11-03, deadline: {date: 2025-12-18}}
      - {code: review, name: 书面审查, kind: decision, decides: annual, on: 2026-01-15}
      - {code: annual_result, name: 告知书面审查结果, kind: notification, template: result, on: 2026-01-22,
         notify: {any_of: [{submitted_at: annual, with_rejected: true}, {missing_at: annual}, {levels: [city]}]}}
      - {code: acceptance, name: 验收评分, kind: assessment, on: 2026-03-31}
      - {code: acceptance_result, name: 告知验收结果, kind: notification, template: result, on: 2026-04-09,
         notify: {any_of: [{submitted_at: request}, {missing_at: request}, {levels: [city]}]}}
    assessment:
      subjects: {submitted_at: request}
      result_label: 验收结果
      components: [{code: all, name: 综合评分, weight: 1}]
      grades: [{name: 通过验收, min_score: 90}, {name: 未通过验收}]
"""


def test_a_superiors_copy_lists_the_subjects_its_stage_tells_and_those_it_chose_for_a_miss(tmp_path, home):
    """质量强县 creation: the city's copy of the 验收结果 listed again its first-year counties, told their 书面审查 in
    January and never up for 验收; and 青山市, whose two first-year counties never sent their report (each told so),
    had no copy at all. A copy lists the subjects its stage tells, and what those it chose never handed in."""
    r = Round(write(tmp_path, "create.yaml", TWO_POPULATIONS))
    r.hand_in("self_evaluation", ["c1"], "2025-12-10")  # c2 never reports
    r.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    r.until("2026-01-16")
    r.decide("review", c1="approved")
    r.scores({"c3": 95, "c4": 70})
    r.until("2026-04-30")
    with db.session_scope() as session:
        to_city = {m.action.partition(":")[0]: m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "city")).all()}
    january, april = to_city["annual_result"], to_city["acceptance_result"]
    assert "1. 一县人民政府：通过书面审查；" in january and "2. 二县人民政府：未提交年度创建工作报告。" in january, january
    assert "三县" not in january
    assert "一县" not in april and "二县" not in april, april
    assert "三县人民政府：通过验收（得分95.00）" in april and "四县人民政府：未通过验收（得分70.00）" in april, april


def test_an_event_for_those_a_parent_passed_tells_them_so(tmp_path, home):
    """诚信计量示范单位: the 现场评审 notice was the first letter the recommended units had after applying, and it
    never said they had been recommended."""
    text = REVIEWED + (
        "      - {code: onsite, name: 现场评审, kind: event, on: 2023-04-24, notify: {approved_at: county_review}}\n")
    r = Round(write(tmp_path, "onsite.yaml", text))
    r.hand_in("application", ["e1", "e3"], "2023-03-20")
    r.decide("county_review", e1="approved", e3="approved")
    r.until("2023-04-24")
    told = r.letters("onsite")
    assert sorted(told) == ["e1", "e3"], told
    assert "贵单位已通过甲区市场监督管理局初审。示例市市场监督管理局定于2023年4月24日" in told["e1"], told["e1"]
    assert "贵单位已通过乙县市场监督管理局初审。" in told["e3"], told["e3"]


def test_the_plan_says_whose_hand_ins_a_parent_reviews_as_its_letter_lists_them(tmp_path, home):
    """星级所: the plan read "按时提交“自评报告和自评分”的单位的上级单位" while the review request listed the late
    ones taken too ("逾期提交，已受理"). "按时" only where late ones are refused."""
    def asked(text: str) -> str | None:
        t = expand(write(tmp_path, "r.yaml", text).programme, WorkCalendar())
        return next(a.owed_by for a in t.actions if a.action == "review_request")
    assert asked(REVIEWED) == "提交“申报”的单位的上级单位"
    refused = REVIEWED.replace("voluntary: true, opens: 2023-03-01", "voluntary: true, lateness: reject, opens: 2023-03-01", 1)
    assert asked(refused) == "按时提交“申报”的单位的上级单位"


def test_the_plan_says_an_overdue_notice_goes_to_nobody_the_office_urges_that_morning(tmp_path, home):
    """质量月: the plan listed a 逾期提醒 and a 督办 the same morning; the office urged every late unit itself, so the
    notice went to nobody, and the officer checking the plan against the letters found one missing."""
    text = ANNUAL_REPORTS.replace("  std: {before_workdays: [3]}", "  std: {before_workdays: [3], escalate_after_workdays: 1}")
    def overdue(text: str) -> str:
        t = expand(write(tmp_path, "nr.yaml", text).programme, WorkCalendar())
        return next(a.title for a in t.actions if a.action == "overdue" and a.stage == "results")
    assert overdue(text) == "能力验证结果上报 逾期提醒（当日直接督办，不另发）"
    assert overdue(ANNUAL_REPORTS) == "能力验证结果上报 逾期提醒"  # 督办 two working days later: the notice goes
    # Units with no parent are the issuer's to urge, as the 督办 urges them (the plan had still listed the notice).
    assert overdue(text.replace(", parent: city, channels", ", channels")) == "能力验证结果上报 逾期提醒（当日直接督办，不另发）"
    r = Round(write(tmp_path, "nr.yaml", text))
    r.until("2026-04-01")
    sent = {k.split(":")[1].partition("@")[0] for k in _action_kinds(r, "results")}
    assert "overdue" not in sent and "escalation" in sent, sent


def _action_kinds(r: Round, stage: str) -> list[str]:
    with db.session_scope() as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == r.id)).all()
    return [k for m in rows for k in m.action.split("+") if k.split(":")[0] == stage]


def test_an_event_for_those_a_parent_passed_says_the_verdict_in_its_own_words(tmp_path, home):
    """星级所: the 县局初审 was 同意推荐/不同意推荐, and the 现场验收 notice still read "贵单位已通过某区局初审"."""
    text = REVIEWED.replace("kind: decision, decides: application, reviewed_by: parent,",
                            "kind: decision, decides: application, reviewed_by: parent, "
                            "verdicts: {approved: 同意推荐, rejected: 不同意推荐},", 1) + (
        "      - {code: onsite, name: 现场评审, kind: event, on: 2023-04-24, notify: {approved_at: county_review}}\n")
    r = Round(write(tmp_path, "onsite.yaml", text))
    r.hand_in("application", ["e1", "e3"], "2023-03-20")
    r.decide("county_review", e1="approved", e3="approved")
    r.until("2023-04-24")
    told = r.letters("onsite")
    assert "贵单位已经甲区市场监督管理局初审，结论为同意推荐。示例市市场监督管理局定于" in told["e1"], told["e1"]
    assert "已通过" not in told["e3"], told["e3"]
    # A verdict naming the step itself is the reviewer's: not "已经甲区市场监督管理局推荐，结论为同意推荐".
    named = Round(write(tmp_path, "named.yaml", text.replace("name: 县区初审,", "name: 县区推荐,", 1)
                        .replace("code: review-2023", "code: review-2023n", 1)))
    named.hand_in("application", ["e1"], "2023-03-20")
    named.decide("county_review", e1="approved")
    named.until("2023-04-24")
    assert "贵单位已获甲区市场监督管理局同意推荐。" in named.letters("onsite")["e1"], named.letters("onsite")["e1"]


def test_an_item_vetoed_for_never_handing_in_its_results_is_told_no_score(tmp_path, home):
    """临江's 能力验证: "水泥胶砂强度检验：不满意（得分32.47）" of an item whose results were never handed in (a score
    recorded for it all the same); the veto says why, and the 通报 gives no score either."""
    text = PROFICIENCY.replace(
        "      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}\n",
        "      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}\n"
        "      - {code: results, name: 通知结果, kind: notification, template: result, on: 2025-06-20,\n"
        "         notify: {submitted_at: signup}}\n"
        "      - {code: circular, name: 通报结果, kind: notification, template: circular, on: 2025-06-20,\n"
        "         notify: {levels: [enterprise]}}\n", 1)
    r = Round(write(tmp_path, "pt.yaml", text))
    _labs_scored(r, {("l1", "steel"): "2025-05-10", ("l2", "nh3"): "2025-05-10"},  # 甲 never reports 氨氮
                 {("l1", "nh3"): 32.47, ("l1", "steel"): 90, ("l2", "nh3"): 88})
    r.until("2025-06-20")
    own, circular = r.letters("results")["l1"], r.letters("circular")["l2"]
    assert "1. 水中氨氮的测定：不满意；" in own, own
    assert "32.47" not in own and "钢筋拉伸性能检测：满意（得分90.00）" in own, own
    assert "32.47" not in circular and "“水中氨氮的测定”：不满意（因未按期报送检测结果，实行一票否决）" in circular, circular


def _retesting(review: str, lists: str) -> str:
    """PROFICIENCY graded 满意/有问题/不满意 under a national office, with a 补充能力验证 owed by the two lower grades,
    its decision (``review``: more keys) on 2025-07-25, and the list ``lists`` selects reported up on 2025-08-01."""
    return PROFICIENCY.replace(
        "      - {code: prov, name: 示例省市场监督管理局, level: province, channels: [sink]}\n",
        "      - {code: nation, name: 国家市场监督管理总局, level: office, channels: [sink]}\n"
        "      - {code: prov, name: 示例省市场监督管理局, level: province, parent: nation, channels: [sink]}\n", 1).replace(
        "grades: [{name: 满意, min_score: 60}, {name: 不满意}]",
        "grades: [{name: 满意, min_score: 80}, {name: 有问题, min_score: 60}, {name: 不满意}]").replace(
        "      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}\n",
        "      - {code: scoring, name: 结果评价, kind: assessment, on: 2025-06-13}\n"
        "      - {code: retest, name: 补充能力验证结果, kind: followup, submission: rectification_report,\n"
        "         owed_by: {grades: [有问题, 不满意]}, opens_after: {stage: scoring, event: on, days: 0},\n"
        "         deadline: {after: {stage: scoring, event: on, days: 30}}}\n"
        f"      - {{code: retest_review, name: 补充能力验证评价, kind: decision, decides: retest, on: 2025-07-25{review}}}\n"
        "      - {code: report_up, name: 报送补充能力验证不满意机构名单, kind: notification, template: report, on: 2025-08-01,\n"
        f"         notify: {{units: [nation]}}, lists: {lists}}}\n", 1)


def test_a_list_of_failures_reported_up_says_where_each_failed(tmp_path, home):
    """临江's list of 补充能力验证 failures sent to the province gave one lab's first grade ("有问题，得分77.17") for the
    re-test it failed, and another by its bare name for the re-test it never handed in."""
    text = _retesting("", "{any_of: [{rejected_at: retest_review}, {missing_at: retest}]}")
    r = Round(write(tmp_path, "pt.yaml", text))
    every = [("l1", "nh3"), ("l1", "steel"), ("l2", "nh3")]
    _labs_scored(r, dict.fromkeys(every, "2025-05-10"), dict(zip(every, (70, 90, 65), strict=True)))
    r.until("2025-06-20")
    r.hand_in("rectification_report", ["l1"], "2025-06-25", item="nh3", id="retest-l1-nh3")  # l2 never re-tests
    r.until("2025-07-26")
    r.decide("retest_review", **{"l1:nh3": "rejected"})
    r.until("2025-08-01")
    told = r.letters("report_up")["nation"]
    assert "1. 甲检测公司（“水中氨氮的测定”；有问题，得分70.00；未通过补充能力验证评价）；" in told, told
    assert "2. 乙检测公司（“水中氨氮的测定”：未提交补充能力验证结果）。" in told, told


def test_a_circular_of_results_leaves_out_a_report_no_subject_owed(tmp_path, home):
    """质量强县 creation: the 通报 of the counties' 验收结果 listed a city, "未提交中期推进情况", and counted it among
    15 units. A report the assessment read that none of its subjects owed, and no step decides on, is not a result."""
    text = TWO_POPULATIONS.replace(
        "      - {code: review,",
        "      - {code: progress, name: 中期推进情况, kind: submission, submission: progress_report,\n"
        "         owed_by: {levels: [city]}, opens: 2025-07-01, deadline: {date: 2025-07-15}}\n"
        "      - {code: review,", 1).replace(
        "    assessment:\n",
        "      - {code: circular, name: 通报创建结果, kind: notification, template: circular, on: 2026-04-09,\n"
        "         notify: {levels: [city]}}\n    assessment:\n", 1)
    assert "progress" in text and "circular" in text
    r = Round(write(tmp_path, "create.yaml", text))
    r.hand_in("self_evaluation", ["c1"], "2025-12-10")  # c2 never reports; the city never sends its 中期推进情况
    r.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    r.until("2026-01-16")
    r.decide("review", c1="approved")
    r.scores({"c3": 95, "c4": 70})
    r.until("2026-04-30")
    told = r.letters("circular")["city"]
    assert "示例市质量强市工作领导小组办公室：未提交" not in told and "中期推进情况" not in told, told
    assert "（共4个单位）" in told and "二县人民政府：未提交年度创建工作报告" in told, told
    # Owed by the city and the counties alike: what a graded county missed is said, what the city missed is not.
    both = Round(write(tmp_path, "both.yaml", text.replace("owed_by: {levels: [city]}", "owed_by: {levels: [city, county]}", 1)
                       .replace("create-2025", "both-2025", 1)))
    both.hand_in("progress_report", ["c1", "c2", "c4"], "2025-07-10")  # c3 and the city never report
    both.hand_in("self_evaluation", ["c1"], "2025-12-10")
    both.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    both.until("2026-01-16")
    both.decide("review", c1="approved")
    both.scores({"c3": 95, "c4": 70})
    both.until("2026-04-30")
    told = both.letters("circular")["city"]
    assert "三县人民政府：通过验收（得分95.00）；未提交中期推进情况" in told, told
    assert "示例市质量强市工作领导小组办公室：" not in told.partition("\n")[2], told


def test_a_bonus_the_assessors_give_points_to_is_said_by_its_points(tmp_path, home):
    """某市's bureaus: 创新工作 up to 5 points, one item counted, written as 1 point a time: "创新工作2次，加2分" told
    every bureau that two items were counted. ``up_to``: a record's value is the points given (2.5 as well), at most
    the item's, and the letters say the points alone."""
    text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                              "      bonuses: [{code: innovation, name: 创新工作, up_to: 5}]\n"
                              "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    r = Round(write(tmp_path, "given.yaml", text))
    with db.session_scope() as session:
        kept = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "score", "unit": "c1", "reviewer": "r1", "component": "bonus:innovation", "value": 7},
            {"kind": "score", "unit": "c2", "reviewer": "r1", "component": "bonus:innovation", "value": 2.5}])
    assert kept[0].status == "quarantined" and "由评审酌情给分，应在 0–5 分之间：7" in (kept[0].reason or ""), kept[0]
    assert kept[1].status != "quarantined", kept[1]
    r.scores({"c1": 80, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-03-31")
    with db.session_scope() as session:
        assert {x.unit_code: x.total for x in crud.list_results(session=session, round_id=r.id)}["c2"] == 82.5
    told = r.letters("results")["c2"]
    assert "创新工作，加2.5分" in told and "次" not in told, told


def test_an_item_names_points_per_time_or_up_to_one_of_them(tmp_path):
    for item in ("{code: x, name: 创新工作}", "{code: x, name: 创新工作, points: 1, up_to: 5}"):
        text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                                  f"      bonuses: [{item}]\n      grades: [{{name: 合格, min_score: 60}}, {{name: 不合格}}]\n", 1)
        with pytest.raises(ConfigError, match="points（每次的分值）或 up_to"):
            write(tmp_path, "x.yaml", text)
    text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                              "      bonuses: [{code: x, name: 创新工作, up_to: 5, once: true}]\n"
                              "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    with pytest.raises(ConfigError, match="不与 once、late_at、source_round、cap、part 同用"):
        write(tmp_path, "y.yaml", text)


def test_an_award_tells_what_the_winner_owes_later(tmp_path, home):
    """诚信计量示范单位: the 命名通知 of 9月30日 said nothing of the yearly 自查报告; the named units first heard of it
    when its window opened in November. An award lists what its winners owe afterwards, as a publication does."""
    text = AWARD.replace("        template: praise\n", "        template: award\n", 1).replace(
        "      - {code: results,",
        "      - {code: selfcheck, name: 年度自查报告, kind: submission, submission: self_evaluation,\n"
        "         owed_by: {approved_at: committee}, opens: 2023-11-01, deadline: {date: 2023-12-20}}\n"
        "      - {code: results,", 1)
    assert "template: award" in text and "selfcheck" in text
    def awarded(r: Round, until: str) -> Round:  # e1 and e2 awarded, e3 not
        r.hand_in("application", ["e1", "e2", "e3"], "2023-03-20")
        r.until("2023-04-04")
        r.decide("eligibility", e1="approved", e2="approved", e3="approved")
        r.until("2023-04-11")
        r.decide("documents", e1="approved", e2="approved", e3="approved")
        r.scores({"e1": 95, "e2": 85, "e3": 60})
        r.until("2023-04-25")
        r.decide("committee", **{u: "approved" for u in r.pending("committee")})
        r.until(until)
        return r

    told = awarded(Round(write(tmp_path, "award.yaml", text)), "2023-05-15").letters("award")
    assert sorted(told) == ["e1", "e2"], told
    assert "此后贵单位须按时提交：\n1. 年度自查报告：2023年12月20日前。" in told["e1"], told["e1"]
    # A title the round names is said so where the window opens: 湖州's named shops read "被评为放心消费示范单位".
    named = awarded(Round(write(tmp_path, "named.yaml", text.replace("区长质量奖", "示范单位").replace(
        "name: 授予示范单位", "name: 命名示范单位").replace(
        "owed_by: {approved_at: committee}", "owed_by: {grades: [示范单位], approved_at: committee}").replace(
        "code: award-2023,", "code: award-2023n,", 1))), "2023-11-01")
    opened = named.letters("selfcheck")["e1"]
    assert "被命名为示范单位" in opened and "被评为" not in opened, opened


def test_an_event_told_to_the_superiors_of_those_taking_part_names_them(tmp_path, home):
    """质量强县 creation: each city was told to prepare for the 现场验收核查 of its counties, not which of them."""
    text = TWO_POPULATIONS.replace(
        "      - {code: acceptance,",
        "      - {code: onsite, name: 现场验收核查, kind: event, on: 2026-03-02, days: 10,\n"
        "         notify: {any_of: [{submitted_at: request}, {superiors_of: {submitted_at: request}}]}}\n"
        "      - {code: acceptance,", 1)
    assert "onsite" in text
    r = Round(write(tmp_path, "create.yaml", text))
    r.hand_in("acceptance_request", ["c3"], "2025-12-10")  # c4 never applies
    r.until("2026-03-02")
    told = r.letters("onsite")
    assert sorted(told) == ["c3", "city"], told
    assert "到各单位的具体时间另行通知，贵单位辖区内三县人民政府参加，请督促做好相关准备。" in told["city"], told["city"]
    assert "请贵单位做好相关准备。" in told["c3"], told["c3"]


def test_a_veto_barring_a_grade_without_a_line_leaves_a_low_score_its_own_grade(tmp_path, home):
    """A barred 优秀 given by share alone (no line of its own) had counted as reached by every vetoed result: a 40 was told
    "不得评为优秀，等次定为不合格", as if the veto, not its score, had made it 不合格."""
    letters = _capped(tmp_path, "{name: 优秀, share: 0.2}").letters("results")
    assert "因发生重大质量安全事故，不得评为优秀，等次定为合格" in letters["c1"], letters["c1"]
    assert "因发生重大质量安全事故，不得评为优秀；得分未达到合格分数线（60分）。" in letters["c5"], letters["c5"]
    assert "等次定为" not in letters["c5"], letters["c5"]


def test_a_veto_for_a_miss_no_subject_can_have_is_refused(tmp_path, home):
    """星级评定: "未报送自评报告的，不评星" beside subjects chosen by their 初审 (approved_at) never reached the 所 that sent
    none: no result for it, and a 通报 line "七星市场监管所：。". ``validate`` says so and how to grade them too."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: star-2025, name: 2025年度基层所星级评定, programme: 基层所星级评定, issuer: city, years: [2025]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: city, name: 示例市市场监督管理局, level: city, channels: [sink]}
          - {code: k1, name: 甲区市场监督管理局, level: county, parent: city, channels: [sink]}
          - {code: o1, name: 甲区一所, level: office, parent: k1, channels: [sink]}
          - {code: o2, name: 甲区二所, level: office, parent: k1, channels: [sink]}
          - {code: o3, name: 甲区三所, level: office, parent: k1, channels: [sink]}
        stages:
          - {code: self_eval, name: 自评报告, kind: submission, submission: self_evaluation, owed_by: {levels: [office]},
             opens: 2025-03-03, deadline: {date: 2025-03-31}}
          - {code: review, name: 区局初审, kind: decision, decides: self_eval, reviewed_by: parent, on: 2025-04-15}
          - {code: scoring, name: 星级评定打分, kind: assessment, on: 2025-11-28}
          - {code: circular, name: 通报星级评定结果, kind: notification, template: circular, on: 2025-12-05,
             notify: {levels: [office, county]}}
        assessment:
          subjects: {approved_at: review}
          components: [{code: all, name: 综合评分, weight: 1}]
          vetoes: [{code: none, name: 未报送自评报告, grade: 不评星, missing_at: self_eval}]
          grades: [{name: 三星, min_score: 70}, {name: 不评星}]
        """)
    with pytest.raises(ConfigError) as exc:
        write(tmp_path, "star.yaml", text)
    assert "assessment.vetoes[0].missing_at" in str(exc.value) and "{missing_at: self_eval}" in str(exc.value), str(exc.value)
    # A window of several periods may be handed in for one and missed for another: the veto can reach a subject.
    write(tmp_path, "periods.yaml", text.replace("opens: 2025-03-03, deadline: {date: 2025-03-31}}", (
        "periods: [{code: q1, name: 一季度, opens: 2025-03-03, deadline: {date: 2025-03-31}},\n"
        "                       {code: q2, name: 二季度, opens: 2025-06-02, deadline: {date: 2025-06-30}}]}"), 1)
          .replace("on: 2025-04-15}", "on: 2025-07-15}", 1))
    # Chosen for the miss too, the 所 that sent none is graded by the veto and listed so.
    r = Round(write(tmp_path, "graded.yaml", text.replace(
        "subjects: {approved_at: review}", "subjects: {any_of: [{approved_at: review}, {missing_at: self_eval}]}")))
    r.hand_in("self_evaluation", ["o1", "o2"], "2025-03-20")
    r.until("2025-04-15")
    r.decide("review", o1="approved", o2="approved")
    r.scores({"o1": 80, "o2": 60})
    r.until("2025-12-05")
    told = r.letters("circular")
    assert "3. 甲区三所：不评星（因未报送自评报告，实行一票否决）。" in told["k1"], told["k1"]
    assert "：。" not in told["k1"], told["k1"]
    # The 区局 reviews its own 所: "所属", not "辖区内单位".
    asked = r.letters("review")["k1"]
    assert "贵单位所属以下2个单位按时提交了自评报告" in asked and "辖区内" not in asked, asked


def test_a_superior_taking_part_itself_is_told_to_prepare_as_well(tmp_path, home):
    """A city that also takes part in the 现场验收核查 it is told its counties take part in had read only "请督促做好相关
    准备": nothing asked it to prepare for its own."""
    text = TWO_POPULATIONS.replace("owed_by: {units: [c3, c4]}", "owed_by: {units: [city, c3, c4]}", 1).replace(
        "      - {code: acceptance,",
        "      - {code: onsite, name: 现场验收核查, kind: event, on: 2026-03-02, days: 10,\n"
        "         notify: {any_of: [{submitted_at: request}, {superiors_of: {submitted_at: request}}]}}\n"
        "      - {code: acceptance,", 1)
    assert "onsite" in text and "[city, c3, c4]" in text
    r = Round(write(tmp_path, "create.yaml", text))
    r.hand_in("acceptance_request", ["city", "c3"], "2025-12-10")
    r.until("2026-03-02")
    told = r.letters("onsite")
    assert sorted(told) == ["c3", "city"], told
    assert ("到各单位的具体时间另行通知，贵单位及辖区内三县人民政府参加，请做好本单位的准备，并督促上述单位做好准备。"
            in told["city"]), told["city"]
    assert "请贵单位做好相关准备。" in told["c3"], told["c3"]
    # An event named for its arrangements is organised without them ("组织现场验收核查安排", "…安排安排").
    arranged = Round(write(tmp_path, "arranged.yaml", text.replace("name: 现场验收核查,", "name: 现场验收核查安排,", 1)
                           .replace("code: create-2025,", "code: create-2025b,", 1)))
    arranged.hand_in("acceptance_request", ["c3"], "2025-12-10")
    arranged.until("2026-03-02")
    with db.session_scope() as session:
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == arranged.id, OutboxMessage.unit_code == "c3",
                                                        OutboxMessage.action.startswith("onsite"))).one()
    assert sent.subject.endswith("：现场验收核查安排") and "组织现场验收核查，" in sent.body, (sent.subject, sent.body)


def test_a_units_rectification_chosen_by_several_grades_tells_it_its_own(tmp_path, home):
    """The unit-level side of the laboratories' "被评为有问题或不满意": a county is told its own grade."""
    text = ASSESSMENT.replace("grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
                              "grades: [{name: 合格, min_score: 60}, {name: 基本合格, min_score: 50}, {name: 不合格}]", 1).replace(
        "        owed_by: {rank: {bottom: 3}}\n", "        owed_by: {grades: [基本合格, 不合格]}\n", 1)
    assert "基本合格, 不合格]}" in text
    r = _scored(tmp_path, text, "2016-03-31")
    told = r.letters("report")
    assert sorted(told) == ["c4", "c5"], told
    assert "被评为基本合格。" in told["c4"] and "被评为不合格。" in told["c5"], told
    assert all("或" not in body for body in told.values()), told


def test_a_superiors_summary_says_what_its_units_owe_next_by_their_results(tmp_path, home):
    """食品企业风险分级: each 街道所's summary listed its enterprises' C级 and D级 and not that they owed an 整改方案 by 7月8日
    (told to them the same day): a superior asked to see to its units' duties was not told them."""
    text = TWO_POPULATIONS + (
        "      - {code: rectify, name: 整改方案, kind: followup, submission: rectification_report,\n"
        "         owed_by: {grades: [未通过验收]}, opens_after: {stage: acceptance_result, event: on, days: 0},\n"
        "         deadline: {after: {stage: acceptance_result, event: on, workdays: 20}}}\n")
    text = text.replace("    assessment:\n", "", 1).replace("      subjects: {submitted_at: request}\n", "", 1)
    text = text.replace("      result_label: 验收结果\n", "", 1).replace(
        "      components: [{code: all, name: 综合评分, weight: 1}]\n", "", 1).replace(
        "      grades: [{name: 通过验收, min_score: 90}, {name: 未通过验收}]\n", "", 1)
    text += ("    assessment:\n      subjects: {submitted_at: request}\n      result_label: 验收结果\n"
             "      components: [{code: all, name: 综合评分, weight: 1}]\n"
             "      grades: [{name: 通过验收, min_score: 90}, {name: 未通过验收}]\n")
    r = Round(write(tmp_path, "create.yaml", text))
    r.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    r.scores({"c3": 95, "c4": 70})
    r.until("2026-04-09")
    told = r.letters("acceptance_result")
    assert "其中四县人民政府须于2026年5月11日（星期一）17:30前报送整改方案（已另行通知），请督促按时报送。" in told["city"], told["city"]
    assert "须于" not in told["c3"], told["c3"]
    # Ordered later than the summary (10 working days on), it is still to be told: "将另行通知".
    later = Round(write(tmp_path, "later.yaml", text.replace("opens_after: {stage: acceptance_result, event: on, days: 0}",
                                                             "opens_after: {stage: acceptance_result, event: on, workdays: 10}", 1)
                        .replace("code: create-2025,", "code: create-2025l,", 1)))
    later.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    later.scores({"c3": 95, "c4": 70})
    later.until("2026-04-09")
    assert "前报送整改方案（将另行通知），请督促按时报送。" in later.letters("acceptance_result")["city"]
    # Two things owed by two grades, one sentence: 安徽's 设区市局 had read two sentences each opening "其中…".
    two = Round(write(tmp_path, "two.yaml", text.replace(
        "grades: [{name: 通过验收, min_score: 90}, {name: 未通过验收}]",
        "grades: [{name: 通过验收, min_score: 90}, {name: 基本通过验收, min_score: 80}, {name: 未通过验收}]").replace(
        "    assessment:\n",
        "      - {code: explain, name: 情况说明, kind: followup, submission: supplement,\n"
        "         owed_by: {grades: [基本通过验收]}, opens_after: {stage: acceptance_result, event: on, days: 0},\n"
        "         deadline: {after: {stage: acceptance_result, event: on, workdays: 10}}}\n    assessment:\n", 1).replace(
        "code: create-2025,", "code: create-2025t,", 1).replace(
        "      acceptance_request: {title: 验收申请}\n", "      acceptance_request: {title: 验收申请}\n      supplement: {title: 情况说明}\n", 1)))
    two.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    two.scores({"c3": 85, "c4": 70})
    two.until("2026-04-09")
    summary = two.letters("acceptance_result")["city"]
    assert summary.count("其中") == 1, summary
    assert ("其中四县人民政府须于2026年5月11日（星期一）17:30前报送整改方案；三县人民政府须于2026年4月23日（星期四）17:30前"
            "报送情况说明（均已另行通知），请督促按时报送。") in summary, summary
    # Where one of the grades owing it says it beside the line (基本通过验收: 须于1个月内报送整改方案), only the other's units
    # are named.
    part = Round(write(tmp_path, "part.yaml", text.replace(
        "grades: [{name: 通过验收, min_score: 90}, {name: 未通过验收}]",
        "grades: [{name: 通过验收, min_score: 90}, {name: 基本通过验收, min_score: 75, consequence: 须于1个月内报送整改方案},"
        " {name: 未通过验收}]", 1).replace("owed_by: {grades: [未通过验收]}", "owed_by: {grades: [基本通过验收, 未通过验收]}", 1)
        .replace("code: create-2025,", "code: create-2025p,", 1)))
    part.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    part.scores({"c3": 80, "c4": 70})
    part.until("2026-04-09")
    copy = part.letters("acceptance_result")["city"]
    assert "其中四县人民政府须于" in copy and "其中三县" not in copy and "三县" in copy, copy
    # A consequence about something else (每年检查3至4次) does not say it; one naming the 整改方案 does, beside the line.
    for n, (consequence, said) in enumerate((("日常监督检查每年3至4次", True), ("须于1个月内报送整改方案", False),
                                             # Naming the word is not asking for it (地理标志: "限期整改6个月" of a 整改方案 window).
                                             ("整改方案未落实的，撤销资格", True))):
        other = Round(write(tmp_path, "other.yaml", text.replace("{name: 未通过验收}]", f"{{name: 未通过验收, consequence: {consequence}}}]", 1)
                            .replace("code: create-2025,", f"code: create-{n}x,", 1)))
        other.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
        other.scores({"c3": 95, "c4": 70})
        other.until("2026-04-09")
        copy = other.letters("acceptance_result")["city"]
        assert (("请督促按时报送" in copy) is said) and consequence in copy, copy


def test_a_superiors_summary_leaves_out_what_its_units_have_handed_in_already(tmp_path, home):
    """A 整改方案 owed from the day of the scoring and handed in before the results went out: the city's summary still
    read "其中四县人民政府须于…前报送整改方案（已另行通知），请督促按时报送", urging a duty already done."""
    text = TWO_POPULATIONS.replace(
        "    assessment:\n",
        "      - {code: rectify, name: 整改方案, kind: followup, submission: rectification_report,\n"
        "         owed_by: {grades: [未通过验收]}, opens_after: {stage: acceptance, event: on, days: 0},\n"
        "         deadline: {after: {stage: acceptance_result, event: on, workdays: 20}}}\n    assessment:\n", 1)
    assert "code: rectify" in text
    r = Round(write(tmp_path, "create.yaml", text))
    r.hand_in("acceptance_request", ["c3", "c4", "c1"], "2025-12-10")
    r.scores({"c3": 95, "c4": 70, "c1": 60})
    r.until("2026-04-01")
    r.hand_in("rectification_report", ["c4"], "2026-04-02")
    r.until("2026-04-09")
    summary = r.letters("acceptance_result")["city"]
    assert "其中一县人民政府须于2026年5月11日（星期一）17:30前报送整改方案（已另行通知），请督促按时报送。" in summary, summary
    assert "四县人民政府须于" not in summary and "一县人民政府、四县" not in summary, summary
    # All of them handed in: nothing to urge.
    done = Round(write(tmp_path, "done.yaml", text.replace("code: create-2025,", "code: create-2025d,", 1)))
    done.hand_in("acceptance_request", ["c3", "c4"], "2025-12-10")
    done.scores({"c3": 95, "c4": 70})
    done.until("2026-04-01")
    done.hand_in("rectification_report", ["c4"], "2026-04-02")
    done.until("2026-04-09")
    assert "请督促按时报送" not in done.letters("acceptance_result")["city"]


def test_a_call_tells_a_superior_by_when_its_units_owe_the_window_it_opens(tmp_path, home):
    """食品企业风险分级: each 街道所 read "本次共安排30个单位参加，其中贵单位辖区内10个" and no date: the enterprises' own
    letters said 3月31日. A superior that owes nothing itself is told by when its units do."""
    text = TWO_POPULATIONS.replace("    stages:\n", (
        "    stages:\n      - {code: call, name: 印发创建工作通知, kind: publication, on: 2025-11-03,"
        " notify: {levels: [city, county]}}\n"), 1)
    r = Round(write(tmp_path, "create.yaml", text))
    r.until("2025-11-03")
    told = r.letters("call")
    # Named (a 区县局 was asked to urge "2个单位" it was never told of).
    assert ("贵单位辖区内2个单位（一县人民政府、二县人民政府）应于2025年12月18日（星期四）17:30前提交年度创建工作报告，请督促按时提交。\n"
            "贵单位辖区内2个单位（三县人民政府、四县人民政府）应于2025年12月18日（星期四）17:30前提交验收申请，请督促按时提交。\n\n"
            ) in told["city"], told["city"]
    assert "请督促" not in told["c1"] and "年度创建工作报告自2025年11月3日起开始受理" in told["c1"], told["c1"]
    # The office's own superior is not asked by it to see to anything (a 市政府 had read "请督促按时提交").
    up = Round(write(tmp_path, "up.yaml", text.replace("issuer: prov,", "issuer: city,", 1).replace(
        "notify: {levels: [city, county]}", "notify: {levels: [province, county]}", 1).replace(
        "code: create-2025,", "code: create-2025u,", 1)))
    up.until("2025-11-03")
    assert "请督促" not in up.letters("call")["prov"], up.letters("call")["prov"]


def test_a_decision_that_rejects_those_who_never_handed_in(tmp_path, home):
    """质量强县 creation: a first-year county that never sent its 年度创建工作报告 read only "未提交年度创建工作报告", no
    不合格, where the rule treats it as 不合格. ``rejects_missing``: the decision's day decides it 不同意 by the rule,
    told with what that brings, once; its city's copy says it once too."""
    text = TWO_POPULATIONS.replace(
        "      - {code: review, name: 书面审查, kind: decision, decides: annual, on: 2026-01-15}\n",
        "      - {code: review, name: 书面审查, kind: decision, decides: annual, on: 2026-01-15, rejects_missing: true,\n"
        "         on_rejection: 年度创建工作评定为不合格}\n", 1)
    assert "rejects_missing" in text
    r = Round(write(tmp_path, "create.yaml", text))
    r.hand_in("self_evaluation", ["c1"], "2025-12-10")  # c2 never reports
    r.until("2026-01-16")
    # The letters asking for the report said what a miss brings (the rule was applied unannounced).
    asked = r.letters("annual")
    assert "按规定，2026年1月15日前仍未提交的，年度创建工作评定为不合格。" in asked["c2"], asked["c2"]
    # A decision's day counted from the deadline is said as a date too, not "截至“书面审查”时" (1月4日: a 调休 Sunday).
    counted = write(tmp_path, "counted.yaml", text.replace(
        "decides: annual, on: 2026-01-15,", "decides: annual, after: {stage: annual, event: deadline, workdays: 10},", 1))
    assert missing_rule(counted.programme, "annual") == "按规定，2026年1月4日前仍未提交的，年度创建工作评定为不合格。", (
        missing_rule(counted.programme, "annual"))
    # A window refusing late hand-ins has decided the miss at its deadline, as a veto's clause says.
    refused = write(tmp_path, "refused.yaml", text.replace("deadline: {date: 2025-12-18}}", "deadline: {date: 2025-12-18}, lateness: reject}", 1))
    assert missing_rule(refused.programme, "annual") == "按规定，未按时提交的，年度创建工作评定为不合格。", missing_rule(refused.programme, "annual")
    assert r.pending("review") == ["c1"]  # c2 is decided by the rule, not left to the office
    with db.session_scope() as session:
        rule = [(d.subject, d.outcome, d.decided_by, d.note) for d in session.exec(select(Decision).where(
            Decision.round_id == r.id, Decision.stage == "review")).all()]
    assert rule == [("c2", "rejected", "rule:missing", "未提交年度创建工作报告")], rule
    r.decide("review", c1="approved")
    r.until("2026-01-22")
    told = r.letters("annual_result")
    assert "贵单位结果为：未提交年度创建工作报告，年度创建工作评定为不合格。" in told["c2"], told["c2"]
    assert told["city"].count("未提交年度创建工作报告") == 1, told["city"]
    # Only for a window owed: an application (voluntary) is nobody's to miss.
    with pytest.raises(ConfigError, match="rejects_missing（未报送的视为不通过）只用于"):
        write(tmp_path, "bad.yaml", text.replace("owed_by: {units: [c1, c2]},", "owed_by: {units: [c1, c2]}, voluntary: true,", 1)
              .replace("create-2025", "bad-2025", 1))


def test_a_decision_rejecting_misses_decides_each_item_never_handed_in(tmp_path, home):
    """临江's 诚正 re-tested one of its two items and not the other: chased, then never decided, never told and left off
    the province's list. A miss is decided item by item where the window is owed item by item, and the list says it once."""
    text = _retesting(", rejects_missing: true, on_rejection: 暂停该项目", "{rejected_at: retest_review}")
    r = Round(write(tmp_path, "pt.yaml", text))
    every = [("l1", "nh3"), ("l1", "steel"), ("l2", "nh3")]
    _labs_scored(r, dict.fromkeys(every, "2025-05-10"), dict(zip(every, (70, 65, 90), strict=True)))
    r.until("2025-06-20")
    r.hand_in("rectification_report", ["l1"], "2025-06-25", item="steel", id="retest-l1-steel")  # 氨氮 never re-tested
    r.until("2025-07-26")
    with db.session_scope() as session:
        assert crud.outcomes_at(session=session, round_id=r.id, stage="retest_review") == {"l1:nh3": "rejected"}
    assert r.pending("retest_review") == ["l1:steel"]
    r.decide("retest_review", **{"l1:steel": "approved"})
    r.until("2025-08-01")
    told = r.letters("report_up")["nation"]
    assert "甲检测公司（“水中氨氮的测定”；有问题，得分70.00；未提交补充能力验证结果，暂停该项目）" in told, told
    assert told.count("未提交补充能力验证结果") == 1, told


RISK = ASSESSMENT.replace(
    "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
    "      better: lower\n"
    "      grades: [{name: A级, max_score: 30}, {name: B级, max_score: 45}, {name: C级, max_score: 60}, {name: D级}]\n")


def test_a_risk_grading_ranks_the_lowest_score_first_and_tells_the_worst_the_ceiling_it_passed(tmp_path, home):
    """食品生产企业风险分级 (风险分值越高风险越大): written as a score, a 40-point county had been graded 不合格-like
    last and told it "未达到" the line above; the bottom three owing a report are now the three of highest risk."""
    r = _scored(tmp_path, RISK, "2016-03-31")
    results = r.letters("results")
    assert "结果为：B级（得分40.00" in results["c5"] and "说明" not in results["c5"]
    assert "结果为：C级（得分55.00" in results["c4"]
    assert "结果为：D级（得分95.00" in results["c1"]
    assert "说明：得分高于C级分数上限（60分）。" in results["c1"], results["c1"]
    assert "未达到" not in "".join(results.values())
    r.until("2016-04-05")
    assert sorted(r.letters("report")) == ["c1", "c2", "c3"]  # the bottom three by rank: the highest risk


def _rectified_by_rule(tmp_path: Path, window: str = "", brings: str = "on_rejection: 不予命名") -> Round:
    """WITH_GOV with the report owed by 不合格 (c4, c5), its review rejecting those who never handed it in (不予命名),
    and the results reported to the 市政府 after that review; c4 hands in and passes, c5 does not."""
    text = WITH_GOV.replace("owed_by: {rank: {bottom: 3}}", "owed_by: {grades: [不合格]}").replace(
        "        reminders: std\n", "        reminders: std\n" + window, 1).replace(
        "kind: decision, decides: report, after:", "kind: decision, decides: report, rejects_missing: true, "
        f"{brings}, after:").replace("    assessment:\n", (
            "      - {code: summary, name: 报送考核结果, kind: notification, template: result,\n"
            "         after: {stage: report_review, event: on, workdays: 2}, notify: {levels: [government]}}\n"
            "    assessment:\n"), 1)
    assert "rejects_missing: true" in text
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c4"], "2016-04-20")
    return r


def test_a_summary_says_a_miss_the_rule_decided_once_beside_the_grade(tmp_path, home):
    """诚信计量示范单位's 区县局 read "限期整改（得分80.95）；未提交整改报告，不予命名；未提交整改报告；"."""
    r = _rectified_by_rule(tmp_path)
    r.until("2016-05-06")
    r.decide("report_review", c4="approved")
    r.until("2016-05-31")
    summary = r.letters("summary")["gov"]
    assert "五县人民政府：不合格（得分40.00）；未提交书面整改报告，不予命名。" in summary, summary
    assert summary.count("未提交书面整改报告") == 1, summary


def test_a_late_hand_in_refused_after_the_rule_decided_its_miss_is_said_in_one_line(tmp_path, home):
    """江北县通达加油站 read "未提交有效期届满复查申请，视为自动放弃，撤销…称号；有效期届满复查申请逾期提交，不予受理": it had
    handed it in late, after the rule's day, and was refused."""
    r = _rectified_by_rule(tmp_path, "        lateness: reject\n")
    r.until("2016-05-06")
    r.decide("report_review", c4="approved")
    with db.session_scope() as session:
        (refused,) = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "rectification_report", "unit": "c5", "submitted_at": "2016-05-09T10:00:00+08:00", "id": "late"}])
    assert refused.status == "rejected_late", refused
    r.until("2016-05-31")
    summary = r.letters("summary")["gov"]
    assert "五县人民政府：不合格（得分40.00）；书面整改报告逾期提交，不予受理，不予命名。" in summary, summary
    assert "未提交" not in summary, summary


def test_a_circular_of_an_assessments_results_lists_only_those_it_may_grade(tmp_path, home):
    """A 通报 of 区县局's 考核结果 numbered 8 firms' rectification reviews after the 5 bureaus ("共13个单位"): the firms owe
    their reports to the office, but the assessment grades only the bureaus."""
    text = ASSESSMENT.replace(
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n",
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n"
        "      - {code: f1, name: 甲公司, level: enterprise, parent: c1, channels: [sink]}\n"
        "      - {code: f2, name: 乙公司, level: enterprise, parent: c2, channels: [sink]}\n", 1).replace(
        "    stages:\n",
        "    stages:\n"
        "      - {code: firmfix, name: 不合格企业整改报告, kind: followup, submission: self_evaluation, owed_by: {units: [f1, f2]},\n"
        "         opens: 2016-01-04, deadline: {date: 2016-02-15}}\n"
        "      - {code: firmfix_review, name: 整改报告审核, kind: decision, decides: firmfix, on: 2016-02-22}\n"
        "      - {code: circular, name: 全市通报考核结果, kind: notification, template: circular, on: 2016-04-01,\n"
        "         notify: {levels: [county]}}\n", 1)
    r = Round(write(tmp_path, "county.yaml", text))
    r.hand_in("self_evaluation", ["f1"], "2016-02-01")
    r.until("2016-02-20")
    r.decide("firmfix_review", f1="approved")
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    r.until("2016-04-01")
    told = r.letters("circular")
    assert sorted(told) == ["c1", "c2", "c3", "c4", "c5"], sorted(told)
    assert "考核结果通报如下（共5个参评单位）" in told["c1"], told["c1"]
    assert "公司" not in told["c1"] and "5. 五县人民政府：不合格（得分40.00）。" in told["c1"], told["c1"]


def test_a_summary_to_a_reviewer_does_not_tell_it_its_own_refusal_as_a_result(tmp_path, home):
    """某省质量奖: a city's summary read "甲公司：未获贵单位推荐（…）", its own decision told back to it as a result."""
    text = TWO_LEVELS.replace("         notify: {rejected_at: city_review}}\n",
                              "         notify: {rejected_at: city_review}}\n"
                              "      - {code: summary, name: 通报遴选结果, kind: notification, template: result, on: 2026-07-20,\n"
                              "         notify: {levels: [city, county]}}\n", 1)
    r = Round(write(tmp_path, "two.yaml", text))
    r.hand_in("application", ["e1", "e2", "e3", "e4"], "2026-04-10")
    r.until("2026-05-19")
    r.decide("county_review", e1="approved", e2="approved", e3="approved", e4="rejected")
    r.until("2026-06-09")
    r.decide("city_review", e1="approved", e2="rejected", e3="approved")
    r.until("2026-07-14")
    r.decide("panel", e1="approved", e3="approved")
    r.until("2026-07-20")
    told = r.letters("summary")
    assert "乙公司：未获推荐。" in told["ca"] and "未获贵单位" not in told["ca"], told["ca"]
    assert "丁公司：未获推荐。" in told["kb"], told["kb"]  # the county's own 初审推荐
    assert "乙公司：未获东川市市场监督管理局推荐" in told["ka"], told["ka"]  # another's decision keeps its name


def test_a_list_published_with_nobody_on_it_says_so(tmp_path, home):
    """诚信计量's 撤销称号名单 of a year with no revocation read "…已于2025年12月29日公布撤销…名单，请及时查阅并按要求做好
    相关工作": a list of nobody, and nothing to read."""
    text = ASSESSMENT.replace("    assessment:\n", (
        "      - {code: listing, name: 公布整改不到位单位名单, kind: publication, after: {stage: report_review, event: on, workdays: 1},\n"
        "         lists: {rejected_at: report_review}, notify: {levels: [county]}}\n    assessment:\n"), 1)
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c3", "c4", "c5"], "2016-04-20")
    r.until("2016-05-06")
    r.decide("report_review", c3="approved", c4="approved", c5="approved")
    r.until("2016-05-31")
    told = r.letters("listing")
    assert sorted(told) == ["c1", "c2", "c3", "c4", "c5"], told
    assert "公布整改不到位单位名单，本次无单位列入该名单。" in told["c1"], told["c1"]
    assert "查阅" not in told["c1"] and "未列入" not in told["c5"], told["c5"]


def test_an_overdue_notice_says_the_refusal_and_what_a_miss_brings_in_one_rule(tmp_path, home):
    """诚信计量's 逾期提醒 read "按规定，逾期提交的不予受理。\\n按规定，未按时提交的，视为自动放弃，撤销…称号。"."""
    r = _rectified_by_rule(tmp_path, "        lateness: reject\n")
    r.until("2016-05-06")
    with db.session_scope() as session:
        overdue = [m.body for m in session.exec(select(OutboxMessage).where(OutboxMessage.round_id == r.id)).all()
                   if m.unit_code == "c5" and m.subject.startswith("【逾期提醒】")]
    assert overdue and all(body.count("按规定") == 1 for body in overdue), overdue
    assert "按规定，逾期提交的不予受理；未按时提交的，" in overdue[0], overdue[0]


def test_a_call_tells_a_reviewer_its_later_reviews_in_the_order_they_fall_due(tmp_path, home):
    """监督抽查后处理's 区县局 read the fourth quarter's review (2026年3月4日) before the second's (2025年8月25日), each in
    a paragraph of its own ending "具体名单届时另行通知"."""
    text = REVIEWED.replace("    stages:\n", (
        "    stages:\n"
        "      - {code: call, name: 印发工作通知, kind: publication, on: 2023-02-20, notify: {levels: [county]}}\n"
        "      - {code: late_docs, name: 第二期整改报告, kind: submission, submission: rectification_report,\n"
        "         owed_by: {levels: [enterprise]}, opens: 2023-09-01, deadline: {date: 2023-09-15}}\n"
        "      - {code: late_review, name: 第二期审核, kind: decision, decides: late_docs, reviewed_by: parent, on: 2023-09-29}\n"
        "      - {code: early_docs, name: 第一期整改报告, kind: submission, submission: self_evaluation,\n"
        "         owed_by: {levels: [enterprise]}, opens: 2023-06-01, deadline: {date: 2023-06-15}}\n"
        "      - {code: early_review, name: 第一期审核, kind: decision, decides: early_docs, reviewed_by: parent, on: 2023-06-29}\n"), 1)
    r = Round(write(tmp_path, "review.yaml", text))
    r.until("2023-02-20")
    told = r.letters("call")["k1"]
    first, second, apply = (told.index(f"于2023年{d}") for d in ("6月29日", "9月29日", "3月31日截止受理后"))
    assert apply < first < second, told
    assert told.count("具体名单届时另行通知") == 1 and "另行通知。\n\n第" not in told, told


def test_a_reviewer_asked_nothing_is_told_of_a_late_hand_in_as_new(tmp_path, home):
    """监督抽查后处理's 清河县 read "无需报送审核意见" on 11-19, then on 11-27 "以下1个单位尚未审核，请抓紧": the firm's
    report had come late and been accepted, and nobody had asked it for that review. Its reminder says what is new."""
    text = REVIEWED.replace("    stages:\n", "    reminder_policies:\n      rp: {before_workdays: [3]}\n    stages:\n", 1).replace(
        "reviewed_by: parent,\n", "reviewed_by: parent, reminders: rp,\n", 1)
    assert "reminders: rp" in text
    r = Round(write(tmp_path, "review.yaml", text))
    r.until("2023-04-03")  # nothing handed in by the deadline: nothing asked of 甲区
    assert "k1" not in r.letters("county_review")
    r.hand_in("application", ["e2"], "2023-04-04")
    r.until("2023-04-14")
    with db.session_scope() as session:
        reminded = [m.body for m in session.exec(select(OutboxMessage).where(OutboxMessage.round_id == r.id)).all()
                    if m.unit_code == "k1" and m.subject.startswith("【提醒】")]
    assert len(reminded) == 1, reminded
    assert "贵单位辖区内以下1个单位逾期提交的申报已予受理，请提出初审意见并按时报送：\n1. 乙公司（" in reminded[0], reminded[0]
    assert "抓紧" not in reminded[0] and reminded[0].count("逾期提交") == 1, reminded[0]


def test_what_a_miss_brings_is_not_said_of_a_refusal_on_the_merits(tmp_path, home):
    """诚信计量's 复查申请 handed in on time and refused by the office read "未通过复查申请审核，视为自动放弃，撤销…称号":
    自动放弃 is what the rule makes of a miss (on_missing), not of a refusal (on_rejection)."""
    r = _rectified_by_rule(tmp_path, brings="on_rejection: 不予命名, on_missing: 视为自动放弃")
    r.until("2016-05-06")
    r.decide("report_review", c4="rejected")
    r.until("2016-05-31")
    summary = r.letters("summary")["gov"]
    assert "四县人民政府：不合格（得分55.00）；未通过整改情况审核，不予命名；" in summary, summary
    assert "五县人民政府：不合格（得分40.00）；未提交书面整改报告，视为自动放弃。" in summary, summary
    # The order to rectify says what never sending the report brings (黄山's 整改通知 had not; only a later reminder did).
    with db.session_scope() as session:
        order = session.exec(select(OutboxMessage.body).where(OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "c5",
                                                              OutboxMessage.subject.contains("整改通知"))).one()
    assert "按规定，2016年5月6日前仍未提交的，视为自动放弃。" in order, order
    text = r.loaded.path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="on_missing.*只与 rejects_missing: true 一起使用"):
        write(tmp_path, "bad.yaml", text.replace("rejects_missing: true, ", ""))


def test_a_hand_in_each_unit_sends_its_own_superior_is_said_so_to_both(tmp_path, home):
    """省质量奖 and 诚信计量: applications go to the applicant's 设区市局/区县局, which reviews them and reports on; the
    language could only say so in submit_via, and the bureau was told "具体名单届时另行通知" of applications it had
    received itself."""
    text = REVIEWED.replace("voluntary: true, opens: 2023-03-01,", "voluntary: true, report_to: parent, opens: 2023-03-01,", 1
                            ).replace("    stages:\n", "    stages:\n      - {code: call, name: 印发申报通知, kind: publication, "
                                      "on: 2023-02-20, notify: {levels: [county]}}\n", 1)
    assert "report_to: parent" in text
    r = Round(write(tmp_path, "review.yaml", text))
    r.until("2023-03-01")
    called, opened = r.letters("call"), r.letters("application")
    # When it opens and closes, to the hour (黄山's 区县局 read only the day it closed).
    assert ("辖区内单位的申报由贵单位受理，受理时间为2023年3月1日至2023年3月31日（星期五）17:30，请提出初审意见，于2023年4月17日"
            "（星期一）前报送示例市市场监督管理局。\n") in called["k1"], called["k1"]
    assert "另行通知" not in called["k1"], called["k1"]
    assert "申报报送甲区市场监督管理局，须经其初审。" in opened["e1"], opened["e1"]
    assert "申报报送乙县市场监督管理局，须经其初审。" in opened["e3"] and "所提交的" not in opened["e3"], opened["e3"]


def test_an_event_for_those_a_grade_chose_tells_each_its_score(tmp_path, home):
    """省质量奖's 现场评审 notice told the candidates over the line only "定于…组织现场评审": not that their 材料评审
    score had taken them there."""
    text = ASSESSMENT.replace("    assessment:\n", (
        "      - {code: onsite, name: 现场核查, kind: event, on: 2016-04-11, notify: {grades: [合格]}}\n    assessment:\n"), 1)
    r = _scored(tmp_path, text, "2016-04-11")
    told = r.letters("onsite")
    assert sorted(told) == ["c1", "c2", "c3"], told
    assert "贵单位在“考核评分”中得分62.00。示例市质量强市工作领导小组办公室定于2016年4月11日" in told["c3"], told["c3"]
    # Chosen by a low grade (安徽's 复验现场核查 of those 限期整改), its score earned it nothing: not said.
    low = _scored(tmp_path, text.replace("notify: {grades: [合格]}", "notify: {grades: [不合格]}").replace(
        "code: county-2015", "code: county-2015-low"), "2016-04-11").letters("onsite")
    assert sorted(low) == ["c4", "c5"] and not any("得分" in body for body in low.values()), low


def test_an_order_opened_by_a_published_list_says_the_unit_is_on_it(tmp_path, home):
    """监督抽查's 整改通知 to a firm on the 不合格企业名单 published that day read only "根据…工作安排，请贵单位认真查找问题"."""
    text = ASSESSMENT.replace(
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n",
        "      - {code: c5, name: 五县人民政府, level: county, parent: city, channels: [sink]}\n"
        "      - {code: f1, name: 甲公司, level: enterprise, parent: c1, channels: [sink]}\n", 1).replace(
        "    stages:\n",
        "    stages:\n"
        "      - {code: failed, name: 公布第一季度抽查不合格企业名单, kind: publication, on: 2016-01-11,\n"
        "         notify: {units: [f1, c1]}, lists: {units: [f1]}}\n"
        "      - {code: firmfix, name: 不合格企业整改报告, kind: followup, submission: self_evaluation, owed_by: {units: [f1]},\n"
        "         opens_after: {stage: failed, event: on, days: 0}, deadline: {after: {stage: failed, event: on, workdays: 15}}}\n"
        "      - {code: firmfix_review, name: 整改报告审核, kind: decision, decides: firmfix, reviewed_by: parent,\n"
        "         after: {stage: firmfix, event: deadline, workdays: 5}}\n", 1)
    r = Round(write(tmp_path, "county.yaml", text))
    r.until("2016-01-11")
    order = r.letters("firmfix")["f1"]
    assert "贵单位在2015年度县级质量工作考核中已列入第一季度抽查不合格企业名单。请认真查找" in order, order
    # Its reviewer hears of the review with the list (a 区县局 had read only another quarter's review dates).
    listed = r.letters("failed")["c1"]
    assert "不合格企业整改报告于2016年2月1日截止受理后，请贵单位对辖区内单位提交的不合格企业整改报告提出审核意见，于2016年2月6日" in listed, listed


def test_a_public_notice_told_to_others_too_keeps_its_list(tmp_path, home):
    """标准化良好行为's 公示 sent to the 设区市局 as well (``any_of``) lost its list from all 21 letters, and the firms on
    it were not told so: each was asked to object to a list it never saw."""
    text = AWARD.replace("kind: notice, days: 7, on: 2023-05-04, notify: {approved_at: committee}}",
                         "kind: notice, days: 7, on: 2023-05-04,\n"
                         "         notify: {any_of: [{approved_at: committee}, {levels: [government]}]}}", 1)
    assert "levels: [government]" in text
    r = Round(write(tmp_path, "award.yaml", text))
    _through_scoring(r, {"e1": 95, "e2": 75})
    r.decide("committee", e1="approved", e2="approved")
    r.until("2023-05-04")
    told = r.letters("notice")
    assert sorted(told) == ["e1", "e2", "gov"], sorted(told)
    listed = "公示名单（共2家）：\n1. 甲公司（拟获区长质量奖）；\n2. 乙公司（拟获提名奖）。\n"
    assert all(listed in body for body in told.values()), told
    assert "贵单位拟获区长质量奖，已列入拟授奖名单。" in told["e1"], told["e1"]
    assert "列入" not in told["gov"].split("公示名单")[0], told["gov"]


def test_a_review_named_for_what_it_reviews_keeps_it_beside_the_reviewer(tmp_path):
    """特种设备's rejected 隐患整改方案 read "未通过清河县市场监督管理局审核", its passed ones "通过隐患整改方案审核"; a step named
    after its reviewers (县区初审) is said by the reviewer alone."""
    from qcycle.lifecycle.drafting import reviewed_by_whom

    p = write(tmp_path, "r.yaml", REVIEWED.replace("name: 县区初审,", "name: 隐患整改方案审核,", 1)).programme
    assert reviewed_by_whom(p, p.stage("county_review"), "e1") == "甲区市场监督管理局隐患整改方案审核"
    plain = write(tmp_path, "plain.yaml", REVIEWED).programme
    assert reviewed_by_whom(plain, plain.stage("county_review"), "e1") == "甲区市场监督管理局初审"
    # Where the sentence names the thing already: "所提交的申报须经甲区市场监督管理局审核", not "…局申报审核".
    assert reviewed_by_whom(p, p.stage("county_review"), "e1", "隐患整改方案") == "甲区市场监督管理局审核"


def test_a_confirmation_is_no_award(tmp_path, home):
    """标准化良好行为企业确认 went out as 【授奖通知】"被评为AA级，特予表彰": a level confirmed, not an award."""
    text = ASSESSMENT.replace("grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
                              "grades: [{name: AA级, min_score: 60, valid_years: 3}, {name: 不予确认}]").replace(
        "    assessment:\n",
        "      - {code: confirm, name: 公布示范县确认名单, kind: notification, template: award, on: 2016-04-01,\n"
        "         notify: {grades: [AA级]}}\n    assessment:\n", 1)
    _scored(tmp_path, text, "2016-04-01")
    with db.session_scope() as session:
        sent = {m.unit_code: (m.subject, m.body) for m in session.exec(select(OutboxMessage)).all()
                if m.action.startswith("confirm:")}
    subject, body = sent["c1"]
    assert subject.startswith("【确认通知】"), subject
    assert "被确认为AA级。" in body and "确认有效期为3年" in body and "表彰" not in body, body


def test_a_review_of_later_hand_ins_is_not_shown_the_objections(tmp_path, home):
    """标准化良好行为's 年度标准化工作报告 reviews of 2025, 2026 and 2027 were each shown the 公示's objections of August
    2025, about a list the reports have nothing to do with."""
    stages = ("      - {code: final, name: 审定获奖名单, kind: decision, decides: committee,\n"
              "         after: {stage: objection_review, event: on, workdays: 2}}\n"
              "      - {code: annual, name: 年度工作报告, kind: submission, submission: self_evaluation,\n"
              "         owed_by: {approved_at: final}, opens: 2023-06-01, deadline: {date: 2023-06-15}}\n"
              "      - {code: annual_review, name: 年度工作报告审查, kind: decision, decides: annual, on: 2023-06-21}\n")
    r = _objected(tmp_path, "award.yaml", stages, ["e5"])
    r.until("2023-05-11")
    r.decide("objection_review", note="反映甲公司2022年发生质量事故属实", e5="approved")
    r.until("2023-05-15")
    assert "公示期间，以下异议经核实成立" in r.letters("final")["amr"]
    r.decide("final", e1="approved", e2="approved")
    r.hand_in("self_evaluation", ["e1", "e2"], "2023-06-10")
    r.until("2023-06-21")
    asked = r.letters("annual_review")["amr"]
    assert "等待审核" in asked and "异议" not in asked, asked


def test_a_miss_that_ends_it_is_not_told_to_leave_later_steps_too(tmp_path, home):
    """标准化良好行为's firms that never sent a yearly report read "未提交2026年度标准化工作报告，不再参加后续环节，撤销…确认":
    what the rule brings (on_missing) ends it, and there is nothing left to take part in."""
    text = ASSESSMENT.replace("    stages:\n", (
        "    stages:\n"
        "      - {code: selfcheck, name: 自查报告, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},\n"
        "         opens: 2016-01-04, deadline: {date: 2016-01-15}}\n"
        "      - {code: selfcheck_review, name: 自查报告审查, kind: decision, decides: selfcheck, rejects_missing: true,\n"
        "         on_missing: 撤销示范县资格, on: 2016-01-20}\n"
        "      - {code: told, name: 自查报告审查结果, kind: notification, template: step_result, on: 2016-01-21,\n"
        "         notify: {rejected_at: selfcheck_review}}\n"), 1).replace(
        "      subjects: {levels: [county]}", "      subjects: {approved_at: selfcheck_review}", 1)
    r = Round(write(tmp_path, "county.yaml", text))
    r.hand_in("self_evaluation", ["c1", "c2", "c3", "c4"], "2016-01-12")
    r.until("2016-01-20")
    r.decide("selfcheck_review", c1="approved", c2="approved", c3="approved", c4="approved")
    r.until("2016-01-21")
    told = r.letters("told")
    assert sorted(told) == ["c5"], told
    assert "未提交自查报告，撤销示范县资格。特此告知。" in told["c5"] and "后续环节" not in told["c5"], told["c5"]


def test_a_reviewer_is_told_which_of_its_applicants_the_rule_refused(tmp_path, home):
    """省质量奖's 设区市局, receiving the applications itself, was asked to review 4 of its 6 applicants and told nothing
    of the 2 earlier winners the rule refused; they are named to it, with the rule's reason."""
    text = REVIEWED.replace("voluntary: true, opens: 2023-03-01,",
                            "voluntary: true, eligibility: {not_awarded: {grades: [市长质量奖], years: 5}}, opens: 2023-03-01,", 1
                            ) + (
        "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-04-25}\n"
        ) + _eligible_scored("[{name: 市长质量奖, min_score: 80, max_count: 1}, {name: 未获奖}]")
    earlier = Round(write(tmp_path, "review-2021.yaml", text.replace("review-2023", "review-2021").replace(
        "2023年度", "2021年度").replace("years: [2023]", "years: [2021]").replace("2023-", "2021-")))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=earlier.id, stage="scoring", computed_at=at(dt.date(2021, 4, 26), dt.time(9)),
                          results=[{"unit_code": "e1", "total": 90, "grade": "市长质量奖", "rank": 1}])
    r = Round(write(tmp_path, "review-2023.yaml", text))
    r.hand_in("application", ["e1", "e2"], "2023-03-20")
    r.until("2023-04-03")
    asked = r.letters("county_review")["k1"]
    assert "1. 乙公司" in asked and "另有1个单位不符合申报条件，不予受理：甲公司（2021年已获" in asked, asked


def test_an_opening_names_what_is_reviewed_once(tmp_path, home):
    """特种设备's call read "所提交的隐患整改方案须经清河县市场监督管理局隐患整改方案审核"."""
    r = Round(write(tmp_path, "r.yaml", REVIEWED.replace("name: 县区初审,", "name: 申报审核,", 1)))
    r.until("2023-03-01")
    opened = r.letters("application")["e1"]
    assert "所提交的申报须经甲区市场监督管理局审核。" in opened, opened


def test_a_grades_standing_consequence_is_said_once_beside_its_follow_ups_review(tmp_path, home):
    """特种设备's 通报 named 列为重点监管对象 of one D of seven: the six whose 隐患整改方案 were reviewed had lost it."""
    text = WITH_GOV.replace("owed_by: {rank: {bottom: 3}}", "owed_by: {grades: [不合格]}").replace(
        "grades: [{name: 合格, min_score: 60}, {name: 不合格}]",
        "grades: [{name: 合格, min_score: 60}, {name: 不合格, consequence: 列为重点监管对象}]").replace(
        "    assessment:\n",
        "      - {code: summary, name: 报送考核结果, kind: notification, template: result,\n"
        "         after: {stage: report_review, event: on, workdays: 2}, notify: {levels: [government, county]}}\n"
        "    assessment:\n", 1)
    r = _scored(tmp_path, text, "2016-04-05")
    r.hand_in("rectification_report", ["c4", "c5"], "2016-04-20")
    r.until("2016-05-06")
    r.decide("report_review", c4="approved", c5="rejected")
    r.until("2016-05-31")
    told = r.letters("summary")
    assert "四县人民政府：不合格（得分55.00），列为重点监管对象；通过整改情况审核；" in told["gov"], told["gov"]
    assert "五县人民政府：不合格（得分40.00），列为重点监管对象；未通过整改情况审核。" in told["gov"], told["gov"]
    assert told["c5"].count("未通过整改情况审核") == 1, told["c5"]


def test_a_risk_grading_counts_a_share_over_those_within_the_loosest_ceiling(tmp_path, home):
    """``better: lower`` with ``share_of: passing``: counted over those at or under the loosest ceiling, and said so."""
    text = RISK.replace(
        "grades: [{name: A级, max_score: 30}, {name: B级, max_score: 45}, {name: C级, max_score: 60}, {name: D级}]",
        "share_of: passing\n      grades: [{name: A级, max_score: 50, share: 0.2}, {name: B级, max_score: 60}, {name: C级}]")
    assert "share_of: passing" in text
    r = _scored(tmp_path, text, "2016-03-31")
    told = r.letters("results")["c5"]  # 40: within A级's ceiling, and 20 % of the 2 at 60 or under is no place
    assert "结果为：B级（得分40.00" in told, told
    assert "A级比例不超过得分不高于60分的单位的20%（得分不高于60分的单位2个，按比例A级名额不足1个）" in told, told


def test_a_summons_calls_whom_the_programme_names(tmp_path, home):
    """设区市考核's 约谈 is of the 市政府分管负责人; the letter could only say 主要负责同志 (a template copied to change it)."""
    text = ASSESSMENT.replace("template: summons, after:", "template: summons, summoned: 分管负责同志, after:", 1)
    assert "summoned" in text
    r = _through_review(tmp_path, text)
    called = r.letters("summons")["c5"]
    assert "将对贵单位分管负责同志进行约谈" in called and "主要负责" not in called, called
    with pytest.raises(ConfigError, match="summoned（约谈对象）只用于 template: summons"):
        write(tmp_path, "bad.yaml", ASSESSMENT.replace("template: result, on: 2016-03-31,", "template: result, summoned: 张三, on: 2016-03-31,"))


def test_a_reviewer_told_of_its_review_by_a_call_hears_when_it_has_none(tmp_path, home):
    """A 区县局 told by the call of a review of applications opening later heard nothing when none of its firms
    applied: only reviewers told of windows opening with the call were told "无需报送…意见"."""
    text = REVIEWED.replace("    stages:\n", "    stages:\n      - {code: call, name: 印发申报通知, kind: publication, "
                            "on: 2023-02-20, notify: {levels: [county]}}\n", 1)
    r = Round(write(tmp_path, "review.yaml", text))
    r.until("2023-02-20")
    assert "初审意见" in r.letters("call")["k2"], r.letters("call")["k2"]
    r.hand_in("application", ["e1"], "2023-03-20")
    r.until("2023-04-03")
    asked = r.letters("county_review")
    assert "无需报送初审意见" in asked["k2"] and "甲公司" in asked["k1"], asked


def test_a_title_named_on_29_february_is_valid_to_the_28th():
    from qcycle.timetable.dates import years_on

    assert years_on(dt.date(2024, 2, 29), 3) == dt.date(2027, 3, 1)  # valid to 2027-02-28, the day before
    assert years_on(dt.date(2025, 9, 30), 3) == dt.date(2028, 9, 30)


def test_a_steps_result_told_to_the_superiors_of_those_it_rejected_lists_their_units(tmp_path, home):
    """嘉兴's 区县局 were to hear the day two shops of their district lost their titles at the 复核: a
    ``step_result`` to ``superiors_of: {rejected_at: …}`` validated, showed in the plan and sent nothing."""
    text = REVIEWED + (
        "      - {code: told_above, name: 资格审查情况告知, kind: notification, template: step_result,\n"
        "         on: 2023-04-24, notify: {superiors_of: {rejected_at: eligibility}}}\n")
    r = Round(write(tmp_path, "above.yaml", text))
    r.hand_in("application", ["e1", "e2", "e3"], "2023-03-20")
    r.decide("county_review", e1="approved", e2="approved", e3="approved")
    r.until("2023-04-21")
    r.decide("eligibility", e1="rejected", e2="rejected", e3="rejected", note="不符合申报条件")
    r.until("2023-04-24")
    letters = r.letters("told_above")
    assert sorted(letters) == ["k1", "k2"], letters
    assert ("贵单位辖区内2个单位在2023年度示例市长质量奖中的有关结果如下：\n1. 甲公司：未通过资格审查；\n"
            "2. 乙公司：未通过资格审查。\n特此告知。") in letters["k1"], letters["k1"]
    assert "贵单位辖区内丙公司在2023年度示例市长质量奖中未通过资格审查。特此告知。" in letters["k2"], letters["k2"]
    # Among the alternatives of one selection (the 复验's passed and rejected, and their cities): the cities had been
    # listed in the plan and sent nothing.
    among = Round(write(tmp_path, "among.yaml", text.replace(
        "notify: {superiors_of: {rejected_at: eligibility}}",
        "notify: {any_of: [{rejected_at: eligibility}, {superiors_of: {rejected_at: eligibility}}]}", 1).replace(
        "code: review-2023,", "code: review-2023-a,", 1)))
    among.hand_in("application", ["e1", "e3"], "2023-03-20")
    among.decide("county_review", e1="approved", e3="approved")
    among.until("2023-04-21")
    among.decide("eligibility", e1="rejected", e3="rejected", note="不符合申报条件")
    among.until("2023-04-24")
    letters = among.letters("told_above")
    assert sorted(letters) == ["e1", "e3", "k1", "k2"], letters
    assert "贵单位辖区内甲公司在2023年度示例市长质量奖中未通过资格审查。特此告知。" in letters["k1"], letters["k1"]
    assert "辖区内" not in letters["e1"], letters["e1"]
    # One unit's two items are two lines of one unit.
    items = Round(write(tmp_path, "items.yaml", (text + TWO_KINDS).replace("code: review-2023,", "code: review-2023-i,", 1)))
    for item, rid in (("xc-1", "a"), ("gg-1", "b")):
        items.hand_in("application", ["e1"], "2023-03-20", item=item, id=rid)
    items.decide("county_review", **{"e1:xc-1": "approved", "e1:gg-1": "approved"})
    items.until("2023-04-21")
    items.decide("eligibility", **{"e1:xc-1": "rejected", "e1:gg-1": "rejected"})
    items.until("2023-04-24")
    assert "贵单位辖区内1个单位在2023年度示例市长质量奖中的有关结果如下：\n1. 甲公司申报的" in items.letters("told_above")["k1"]


def test_the_enterprises_under_an_association_are_of_its_sector_not_its_area(tmp_path, home):
    """江西's 建筑业协会 recommended its member firms' QC 成果 and then read "贵单位辖区内…参加", "贵单位辖区内1个参评单位":
    an association (or a department) has no area; its call had rightly said 所在行业（系统）内."""
    text = REVIEWED.replace(
        "      - {code: e4, name: 丁公司, level: enterprise, parent: amr, channels: [sink]}\n",
        "      - {code: e4, name: 丁公司, level: enterprise, parent: amr, channels: [sink]}\n"
        "      - {code: assoc, name: 示例市建筑业协会, level: department, parent: amr, channels: [sink]}\n"
        "      - {code: e5, name: 戊公司, level: enterprise, parent: assoc, channels: [sink]}\n", 1) + (
        "      - {code: told_above, name: 资格审查情况告知, kind: notification, template: step_result,\n"
        "         on: 2023-04-24, notify: {superiors_of: {rejected_at: eligibility}}}\n")
    r = Round(write(tmp_path, "sector.yaml", text))
    r.hand_in("application", ["e1", "e5"], "2023-03-20")
    r.decide("county_review", e1="approved", e5="approved")
    r.until("2023-04-21")
    r.decide("eligibility", e1="rejected", e5="rejected")
    r.until("2023-04-24")
    letters = r.letters("told_above")
    assert "贵单位所在行业（系统）内戊公司在2023年度示例市长质量奖中未通过资格审查。" in letters["assoc"], letters["assoc"]
    assert "贵单位辖区内甲公司在" in letters["k1"], letters["k1"]


# 甲公司 applies for both items of TWO_KINDS, 乙公司 for the 攻关型 (subject → record id).
ITEMS_APPLIED = {"e1:xc-1": "a", "e1:gg-1": "b", "e2:gg-1": "c"}



def _eligible_scored(grades: str) -> str:
    """The assessment of REVIEWED's subjects that passed eligibility, one 综合评分, with ``grades``."""
    return ("    assessment:\n"
            "      subjects: {approved_at: eligibility}\n"
            "      components: [{code: all, name: 综合评分, weight: 1}]\n"
            f"      grades: {grades}\n")


def _items_eligible(r: Round, scores: dict[str, float] | None = None, applied: dict[str, str] | list[str] = ITEMS_APPLIED
                    ) -> Round:
    """A REVIEWED round whose applicants (TWO_KINDS's ITEMS_APPLIED, or the units ``applied``) hand in and pass 县区初审
    and 资格审查; scored where given."""
    if isinstance(applied, dict):
        for subject, rid in applied.items():
            unit, _, item = subject.partition(":")
            r.hand_in("application", [unit], "2023-03-20", item=item, id=rid)
    else:
        r.hand_in("application", applied, "2023-03-20")
    every = dict.fromkeys(applied, "approved")
    r.decide("county_review", **every)
    r.until("2023-04-21")
    r.decide("eligibility", **every)
    if scores:
        r.scores(scores)
    return r


def _award_scored(r: Round, scores: dict[str, float]) -> Round:
    """An AWARD-like round whose applicants (the units ``scores`` names) hand in, pass 资格审核 and 材料评审, and are scored."""
    r.hand_in("application", list(scores), "2023-03-20")
    for step in ("eligibility", "documents"):
        r.decide(step, **dict.fromkeys(scores, "approved"))
    r.scores(scores)
    return r


def test_units_the_assessment_never_grades_are_told_their_own_steps_results_after_it(tmp_path, home):
    """安徽's counties in their 中期 (beside those up for 验收) were to hear their 中期评估 after the 验收 was scored: three
    that passed heard nothing, the one that failed was told under 【验收结果】."""
    text = AWARD.replace("    assessment:\n", (
        "      - {code: midterm, name: 中期评估报告, kind: submission, submission: progress_report,\n"
        "         owed_by: {units: [e6, e7]}, opens: 2023-03-01, deadline: {date: 2023-03-31}}\n"
        "      - {code: midterm_review, name: 中期评估, kind: decision, decides: midterm, on: 2023-04-20}\n"
        "      - {code: midterm_results, name: 告知中期评估结果, kind: notification, template: result, on: 2023-05-17,\n"
        "         notify: {units: [e6, e7]}}\n"
        "    assessment:\n"), 1)
    r = _award_scored(Round(write(tmp_path, "midterm.yaml", text)), {"e1": 85, "e2": 60})
    r.hand_in("progress_report", ["e6", "e7"], "2023-03-20")
    r.until("2023-04-20")
    r.decide("midterm_review", e6="approved", e7="rejected")
    r.until("2023-05-17")
    with db.session_scope() as session:
        told = {m.unit_code: m for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("midterm_results:"))).all()}
    assert sorted(told) == ["e6", "e7"], sorted(told)
    assert told["e6"].subject == "【中期评估结果】2023年度示例区长质量奖", told["e6"].subject
    assert "贵单位结果为：通过中期评估。" in told["e6"].body, told["e6"].body
    assert told["e7"].subject == "【中期评估结果】2023年度示例区长质量奖", told["e7"].subject
    assert "贵单位结果为：未通过中期评估。" in told["e7"].body, told["e7"].body


def test_one_left_off_a_list_of_the_best_grade_is_told_the_line_of_that_list(tmp_path, home):
    """安徽's 公示 of the counties 验收通过 (85分) told 固镇 (66.93) it missed 限期整改's line of 75, and those between 75
    and 85 nothing; a list a decision on hand-ins draws (those passing the 复验) told every county scored the year
    before, one named then among them, that it was not on it."""
    from qcycle.lifecycle.publicity import left_off

    text = AWARD.replace("notify: {approved_at: committee}}", "notify: {grades: [区长质量奖]}}", 1)
    r = Round(write(tmp_path, "line.yaml", text))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1", "total": 90, "grade": "区长质量奖", "rank": 1},
            {"unit_code": "e2", "total": 75, "grade": "提名奖", "rank": 2},
            {"unit_code": "e3", "total": 50, "grade": "未获奖", "rank": 3}])
        told = left_off(session, r.p, r.id, r.p.stage("notice"), ["e1"], None)
    assert told["e2"]["remarks"] == "得分未达到区长质量奖分数线（80分）。", told["e2"]
    # Judged as its results are named: "经考核" in an assessment whose results are 考核结果 (江苏's 评估 read "经评审").
    judged = Round(write(tmp_path, "judged.yaml", ASSESSMENT.replace(
        "      - {code: results, name: 通报考核结果,",
        "      - {code: notice, name: 合格名单公示, kind: notice, days: 7, on: 2016-03-28, notify: {grades: [合格]}}\n"
        "      - {code: results, name: 通报考核结果,", 1)))
    judged.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55, "c5": 40})
    judged.until("2016-03-28")
    assert "经考核，贵单位得分55.00" in judged.letters("notice")["c4"], judged.letters("notice")["c4"]
    assert told["e3"]["remarks"] == "得分未达到区长质量奖分数线（80分）。", told["e3"]

    recheck = AWARD.replace("    assessment:\n", (
        "      - {code: fix, name: 整改报告, kind: followup, submission: rectification_report, owed_by: {grades: [提名奖]},\n"
        "         opens: 2023-05-17, deadline: {date: 2023-06-30}}\n"
        "      - {code: recheck, name: 复验, kind: decision, decides: fix, on: 2023-07-10}\n"
        "      - {code: recheck_notice, name: 复验通过名单公示, kind: notice, days: 7, on: 2023-07-12,"
        " notify: {approved_at: recheck}}\n"
        "    assessment:\n"), 1).replace("code: award-2023,", "code: award-2023-recheck,", 1)
    r = Round(write(tmp_path, "recheck.yaml", recheck))
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=r.id, stage="scoring", results=[
            {"unit_code": "e1", "total": 90, "grade": "区长质量奖", "rank": 1},
            {"unit_code": "e2", "total": 75, "grade": "提名奖", "rank": 2},
            {"unit_code": "e3", "total": 72, "grade": "提名奖", "rank": 3}])
        assert left_off(session, r.p, r.id, r.p.stage("recheck_notice"), ["e2"], None) == {}


def test_a_miss_a_steps_own_letter_told_as_its_rejection_is_not_sent_again_as_a_result(tmp_path, home):
    """安徽's 长丰县, rejected by the rule at the 初验 for never handing in its 自评报告, was told so ("未提交…，视为放弃本年度
    验收，取消创建资格") and again, months later, under 【验收结果】: "贵单位结果为：未提交创建工作总结和自评报告"."""
    text = ASSESSMENT.replace("    stages:\n", (
        "    stages:\n"
        "      - {code: selfcheck, name: 自评报告, kind: submission, submission: self_evaluation, owed_by: {levels: [county]},\n"
        "         opens: 2016-01-04, deadline: {date: 2016-01-15}}\n"
        "      - {code: check, name: 初验, kind: decision, decides: selfcheck, on: 2016-01-25, rejects_missing: true,\n"
        "         on_missing: 视为放弃本年度考核}\n"
        "      - {code: check_result, name: 初验结果告知, kind: notification, template: step_result, on: 2016-01-27,\n"
        "         notify: {rejected_at: check}}\n"), 1).replace("subjects: {levels: [county]}", "subjects: {approved_at: check}")
    r = Round(write(tmp_path, "missed.yaml", text))
    r.hand_in("self_evaluation", ["c1", "c2", "c3", "c4"], "2016-01-12")
    r.until("2016-01-25")
    r.decide("check", c1="approved", c2="approved", c3="approved", c4="approved")
    r.scores({"c1": 95, "c2": 80, "c3": 62, "c4": 55})
    r.until("2016-03-31")
    assert "未提交自评报告" in r.letters("check_result")["c5"], r.letters("check_result")
    results = r.letters("results")
    assert sorted(results) == ["c1", "c2", "c3", "c4"], results.get("c5")


def test_a_superiors_report_on_its_units_names_the_items_they_were_chosen_for(tmp_path, home):
    """安徽's 设区市局 were to see that their labs suspend the 项目 that failed the 补测, and were told only "贵单位辖区内芜湖恒通…
    “补测结果评定”未获通过": not which 项目."""
    text = REVIEWED + (
        "      - code: dealt\n"
        "        name: 处理情况报告\n"
        "        kind: followup\n"
        "        submission: rectification_report\n"
        "        owed_by: {superiors_of: {rejected_at: eligibility}}\n"
        "        opens_after: {stage: eligibility, event: on, days: 0}\n"
        "        deadline: {after: {stage: eligibility, event: on, months: 1}}\n") + TWO_KINDS
    r = Round(write(tmp_path, "items.yaml", text))
    r.hand_in("application", ["e1"], "2023-03-20", item="xc-1")
    r.hand_in("application", ["e1"], "2023-03-20", item="gg-1", id="second")
    r.hand_in("application", ["e2"], "2023-03-20", item="gg-1", id="third")
    r.decide("county_review", **{"e1:xc-1": "approved", "e1:gg-1": "approved", "e2:gg-1": "approved"})
    r.until("2023-04-20")
    r.decide("eligibility", **{"e1:xc-1": "rejected", "e1:gg-1": "approved", "e2:gg-1": "rejected"})
    r.until("2023-04-21")
    told = r.letters("dealt")
    assert sorted(told) == ["k1"], told
    assert "贵单位辖区内甲公司（“现场型成果”）、乙公司（“攻关型成果”）在" in told["k1"], told["k1"]


def test_a_circular_with_lists_names_only_those_it_selects(tmp_path, home):
    """江西's 通报 of its QC 成果 named to every city and every competing firm those their cities had not recommended
    ("未获九江市市场监督管理局推荐") and every firm without an award, with its score: a 通报 of the awards lists the awarded."""
    circular = ("      - {code: circular, name: 通报评审结果, kind: notification, template: circular, on: 2023-05-17,\n"
                "         notify: {levels: [enterprise]}, lists: {grades: [区长质量奖, 提名奖]}}\n")
    r = Round(write(tmp_path, "circular.yaml", AWARD.replace("    assessment:\n", circular + "    assessment:\n", 1)))
    r.hand_in("application", ["e1", "e2", "e3", "e4"], "2023-03-20")
    r.decide("eligibility", e1="approved", e2="approved", e3="approved", e4="rejected")
    r.decide("documents", e1="approved", e2="approved", e3="approved")
    r.scores({"e1": 85, "e2": 75, "e3": 50})
    r.until("2023-05-17")
    told = r.letters("circular")["e7"]
    assert "通报如下（参评3个，列入本通报2个）：\n1. 甲公司：区长质量奖（得分85.00）；\n2. 乙公司：提名奖（得分75.00）。" in told, told
    assert "丙公司" not in told and "丁公司" not in told, told
    # One scored and then taken off at a later step (湖州's objection upheld) took part all the same: 参评3, not 2.
    later = Round(write(tmp_path, "later.yaml", AWARD.replace("    assessment:\n", circular + "    assessment:\n", 1).replace(
        "code: award-2023,", "code: award-2023-later,", 1)))
    later.hand_in("application", ["e1", "e2", "e3"], "2023-03-20")
    later.decide("eligibility", e1="approved", e2="approved", e3="approved")
    later.decide("documents", e1="approved", e2="approved", e3="approved")
    later.scores({"e1": 85, "e2": 75, "e3": 50})
    later.until("2023-04-25")
    later.decide("committee", e1="approved", e2="rejected")
    later.until("2023-05-17")
    told = later.letters("circular")["e7"]
    assert "通报如下（参评3个，列入本通报1个）：\n1. 甲公司：区长质量奖（得分85.00）。" in told, told
    # Its own letter gives its score before why it left (湖州's read only "未通过命名名单审定" of 85.39).
    own = later.letters("results")["e2"]
    assert "贵单位结果为：得分75.00，未通过评审委员会审议" in own, own
    # A second 通报 circulates what its own name says: 黄山's read word for word as the first.
    again = Round(write(tmp_path, "again.yaml", AWARD.replace("    assessment:\n", circular + (
        "      - {code: again, name: 通报评审委员会审议结果, kind: notification, template: circular, on: 2023-05-18,\n"
        "         notify: {levels: [enterprise]}, lists: {approved_at: committee}}\n") + "    assessment:\n", 1).replace(
        "code: award-2023,", "code: award-2023-again,", 1)))
    again.hand_in("application", ["e1", "e2"], "2023-03-20")
    again.decide("eligibility", e1="approved", e2="approved")
    again.decide("documents", e1="approved", e2="approved")
    again.scores({"e1": 85, "e2": 75})
    again.until("2023-04-25")
    again.decide("committee", e1="approved", e2="approved")
    again.until("2023-05-18")
    first, second = again.letters("circular")["e7"], again.letters("again")["e7"]
    assert "评审委员会审议结果" not in first and "现将2023年度示例区长质量奖评审委员会审议结果通报如下" in second, (first, second)
    # Counted in units on both sides: one unit's two items listed, another's left off (a reviewer had "参评3个，列入本通报1个").
    items = Round(write(tmp_path, "items.yaml", (AWARD + TWO_KINDS).replace(
        "    assessment:\n", circular + "    assessment:\n", 1).replace("code: award-2023,", "code: award-2023-items,", 1)))
    for unit, item, rid in (("e1", "xc-1", "a"), ("e1", "gg-1", "b"), ("e2", "gg-1", "c")):
        items.hand_in("application", [unit], "2023-03-20", item=item, id=rid)
    every = {"e1:xc-1": "approved", "e1:gg-1": "approved", "e2:gg-1": "approved"}
    items.decide("eligibility", **every)
    items.decide("documents", **every)
    items.scores({"e1:xc-1": 85, "e1:gg-1": 75, "e2:gg-1": 50})
    items.until("2023-05-17")
    assert "通报如下（参评2个，列入本通报1个）：" in items.letters("circular")["e7"], items.letters("circular")["e7"]
    with pytest.raises(ConfigError, match="lists 只用于 template: report"):
        write(tmp_path, "bad.yaml", AWARD.replace("        template: praise\n", "        template: praise\n        lists: {grades: [区长质量奖]}\n", 1))


def test_a_follow_up_owed_item_by_item_is_said_missed_of_the_item_never_sent(tmp_path, home):
    """安徽's 通报 said of a lab that sent its 整改报告 for one 不满意 项目 of two "未提交整改报告", as if it had sent none."""
    text = (AWARD + TWO_KINDS).replace("    assessment:\n", (
        "      - {code: fix, name: 整改报告, kind: followup, submission: rectification_report,\n"
        "         owed_by: {grades: [提名奖]}, opens: 2023-04-19, deadline: {date: 2023-05-05}}\n"
        "      - {code: circular, name: 通报评审结果, kind: notification, template: circular, on: 2023-05-17,\n"
        "         notify: {levels: [enterprise]}}\n"
        "    assessment:\n"), 1)
    r = Round(write(tmp_path, "items.yaml", text))
    for item, rid in (("xc-1", "a"), ("gg-1", "b")):
        r.hand_in("application", ["e1"], "2023-03-20", item=item, id=rid)
    r.decide("eligibility", **{"e1:xc-1": "approved", "e1:gg-1": "approved"})
    r.decide("documents", **{"e1:xc-1": "approved", "e1:gg-1": "approved"})
    r.scores({"e1:xc-1": 75, "e1:gg-1": 72})
    r.until("2023-04-20")
    r.hand_in("rectification_report", ["e1"], "2023-04-25", item="xc-1", id="fix-a")
    r.until("2023-05-17")
    line = r.letters("circular")["e2"]
    assert "“攻关型成果”：提名奖（得分72.00）；未提交整改报告" in line, line
    assert "“现场型成果”：提名奖（得分75.00）。" in line and "甲公司：未提交整改报告" not in line, line


def test_places_set_by_the_reviewers_level_hold_each_reviewer_to_its_own(tmp_path, home):
    """江西's QC 成果 were recommended by the 设区市局 (at most 6) and the 行业协会 (at most 4): one number only could be
    written, and the associations were told "推荐不超过6家"."""
    text = REVIEWED.replace(
        "      - {code: e4, name: 丁公司, level: enterprise, parent: amr, channels: [sink]}\n",
        "      - {code: e4, name: 丁公司, level: enterprise, parent: amr, channels: [sink]}\n"
        "      - {code: assoc, name: 示例市建筑业协会, level: department, parent: amr, channels: [sink]}\n"
        "      - {code: e5, name: 戊公司, level: enterprise, parent: assoc, channels: [sink]}\n", 1).replace(
        "reviewed_by: parent,\n", "reviewed_by: parent, per_reviewer: {county: 1, department: 2},\n", 1)
    assert "per_reviewer: {county: 1" in text
    r = Round(write(tmp_path, "places.yaml", text))
    r.hand_in("application", ["e1", "e2", "e5"], "2023-03-20")
    r.until("2023-04-03")
    asked = r.letters("county_review")
    assert "推荐不超过1家" in asked["k1"] or "通过不超过1家" in asked["k1"], asked["k1"]
    assert "不超过2家" in asked["assoc"], asked["assoc"]
    from qcycle.errors import DecisionError
    from qcycle.ops import DecisionRow, decide

    with db.session_scope() as session, pytest.raises(DecisionError, match="每个审核单位最多同意 1 个"):
        decide(session=session, programme=r.p, round_id=r.id, decided_by="ops", rows=[
            DecisionRow("county_review", "e1", "approve"), DecisionRow("county_review", "e2", "approve")])
    with db.session_scope() as session:
        decide(session=session, programme=r.p, round_id=r.id, decided_by="ops", rows=[
            DecisionRow("county_review", "e5", "approve")])
    from qcycle.ops import places_lines

    with db.session_scope() as session:
        lines = places_lines(session, r.p, r.id, "county_review", ["e1", "e2"])
    assert any("甲区市场监督管理局 已同意 0 家（不超过 1 家），待决定 2 家" in x for x in lines), lines
    assert any("示例市建筑业协会 已同意 1 家（不超过 2 家）" in x for x in lines), lines
    # Every reviewing level is named, and no other.
    with pytest.raises(ConfigError, match=r"per_reviewer.*未给出.*department"):
        write(tmp_path, "short.yaml", text.replace("{county: 1, department: 2}", "{county: 1}"))
    with pytest.raises(ConfigError, match=r"per_reviewer\.town.*没有.*town"):
        write(tmp_path, "extra.yaml", text.replace("{county: 1, department: 2}", "{county: 1, department: 2, town: 3}"))


def test_a_superiors_summary_names_the_items_its_units_owe_a_follow_up_for(tmp_path, home):
    """安徽's 设区市局 read "其中安庆宜城…须于…报送原因分析报告；安庆宜城…、安庆市建筑工程质量检测中心…须于…报送整改报告": a lab
    owing one report for one 项目 and another for the other, named twice, which for which untold."""
    text = REVIEWED + (
        "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-05-05}\n"
        "      - {code: results, name: 告知评审结果, kind: notification, template: result, on: 2023-05-10,\n"
        "         notify: {levels: [county]}}\n"
        "      - {code: fix, name: 整改报告, kind: followup, submission: rectification_report, owed_by: {grades: [不合格]},\n"
        "         opens_after: {stage: results, event: on, days: 0}, deadline: {after: {stage: results, event: on, months: 1}}}\n"
        ) + _eligible_scored("[{name: 合格, min_score: 60}, {name: 不合格}]") + TWO_KINDS
    r = Round(write(tmp_path, "owed.yaml", text))
    _items_eligible(r, {"e1:xc-1": 50, "e1:gg-1": 80, "e2:gg-1": 40})
    r.until("2023-05-10")
    summary = r.letters("results")["k1"]
    assert "其中甲公司（“现场型成果”）、乙公司（“攻关型成果”）须于2023年6月12日（星期一）17:30" in summary, summary
    # Open from the scoring, the report for an item handed in before the results leaves that item (and its unit) out.
    early = Round(write(tmp_path, "early.yaml", text.replace("opens_after: {stage: results, event: on, days: 0}",
                                                           "opens_after: {stage: scoring, event: on, days: 0}", 1)
                        .replace("code: review-2023,", "code: review-2023e,", 1)))
    _items_eligible(early, {"e1:xc-1": 50, "e1:gg-1": 80, "e2:gg-1": 40})
    early.until("2023-05-05")
    early.hand_in("rectification_report", ["e1"], "2023-05-08", item="xc-1", id="fix-a")
    early.until("2023-05-10")
    summary = early.letters("results")["k1"]
    assert "其中乙公司（“攻关型成果”）须于2023年6月12日（星期一）17:30" in summary and "甲公司（" not in summary, summary


def test_a_superiors_escalation_names_the_items_each_unit_owes(tmp_path, home):
    """安徽's 设区市局 were urged about two labs' overdue 整改报告 and not told for which 项目 each was owed: the labs' own
    letters named them, the 督办 to their superior did not."""
    text = REVIEWED.replace("    stages:\n", "    reminder_policies:\n      std: {before_workdays: [1], escalate_after_workdays: 2}\n"
                            "    stages:\n", 1) + (
        "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-05-05}\n"
        "      - {code: fix, name: 整改报告, kind: followup, submission: rectification_report, owed_by: {grades: [不合格]},\n"
        "         opens_after: {stage: scoring, event: on, days: 0}, deadline: {date: 2023-05-19}, reminders: std}\n"
        ) + _eligible_scored("[{name: 合格, min_score: 60}, {name: 不合格}]") + TWO_KINDS
    r = Round(write(tmp_path, "urged.yaml", text))
    _items_eligible(r, {"e1:xc-1": 50, "e1:gg-1": 40, "e2:gg-1": 30})
    r.until("2023-05-10")
    r.hand_in("rectification_report", ["e1"], "2023-05-11", item="gg-1", id="fix-b")
    r.until("2023-05-31")
    urged = r.letters("fix")["k1"]
    assert "贵单位辖区内甲公司（“现场型成果”）、乙公司（“攻关型成果”）应于2023年5月19日" in urged, urged
    # A window owed item by item: one that sent nothing is named with all it owes, not bare beside one that sent some.
    text = REVIEWED.replace("    stages:\n", "    reminder_policies:\n      std: {before_workdays: [1], escalate_after_workdays: 2}\n"
                            "    stages:\n", 1).replace("code: review-2023,", "code: review-2023p,", 1) + (
        "      - {code: progress, name: 进展报告, kind: submission, submission: progress_report,\n"
        "         owed_by: {approved_at: eligibility}, opens: 2023-05-04, deadline: {date: 2023-05-19}, reminders: std}\n") + TWO_KINDS
    r = Round(write(tmp_path, "progress.yaml", text))
    _items_eligible(r).hand_in("progress_report", ["e1"], "2023-05-10", item="gg-1", id="p-b")
    r.until("2023-05-31")
    urged = r.letters("progress")["k1"]
    assert "贵单位辖区内甲公司（“现场型成果”）、乙公司（“攻关型成果”）应于2023年5月19日" in urged, urged
    # Refusing late hand-ins: one item on time, the other refused as late, names the refused one only.
    late = Round(write(tmp_path, "refused.yaml", text.replace("reminders: std}", "reminders: std, lateness: reject}", 1)
                       .replace("code: review-2023p,", "code: review-2023r,", 1)))
    _items_eligible(late).hand_in("progress_report", ["e1"], "2023-05-10", item="gg-1", id="p-b")
    late.until("2023-05-19")
    with db.session_scope() as session:
        (refused,) = ingest_many(session=session, programme=late.p, timetable=late.t, round_id=late.id, source="test",
                                 records=[{"kind": "progress_report", "unit": "e1", "item": "xc-1", "id": "p-a",
                                           "submitted_at": "2023-05-22T10:00:00+08:00"}])
    assert refused.status == "rejected_late", refused
    late.until("2023-05-31")
    urged = late.letters("progress")["k1"]
    assert "贵单位辖区内甲公司（“现场型成果”）、乙公司（“攻关型成果”）应于2023年5月19日" in urged and "逾期提交的不予受理" in urged, urged


# REVIEWED with a 验收 whose 不予通过 ends a subject's part (撤销建设资格), then a 建设进展报告 whose 核查 decides those
# who never sent it 不同意 by rule.
ENDING = REVIEWED.replace("    stages:\n", "    reminder_policies:\n      std: {before_workdays: [1], escalate_after_workdays: 2}\n"
                          "    stages:\n", 1) + (
    "      - {code: selfcheck, name: 验收自评报告, kind: submission, submission: self_evaluation,\n"
    "         owed_by: {approved_at: eligibility}, opens: 2023-04-24, deadline: {date: 2023-04-28}}\n"
    "      - {code: scoring, name: 验收评分, kind: assessment, on: 2023-05-05}\n"
    "      - {code: results, name: 告知验收结果, kind: notification, template: result, on: 2023-05-10,\n"
    "         notify: {approved_at: eligibility}}\n"
    "      - {code: progress, name: 建设进展报告, kind: submission, submission: progress_report,\n"
    "         owed_by: {approved_at: eligibility}, opens: 2023-06-01, deadline: {date: 2023-06-30}, reminders: std}\n"
    "      - {code: progress_check, name: 进展报告核查, kind: decision, decides: progress, on: 2023-07-10,\n"
    "         rejects_missing: true, on_rejection: 撤销建设资格}\n"
    ) + _eligible_scored("[{name: 通过验收, min_score: 60}, {name: 不予通过, consequence: 撤销建设资格, ends: true}]")


def test_a_grade_that_ends_a_units_part_leaves_it_owing_nothing_after(tmp_path, home):
    """地理标志保护示范区: 长林县, 不予通过 and 撤销建设资格 on 11月30日, was told the next day that its 建设进展报告
    window had opened, reminded three times, and would have been urged through its city: a grade's consequence was
    only words. ``ends`` on a grade takes the subject out of every window from its results on."""
    text = ENDING
    r = Round(write(tmp_path, "ends.yaml", text))
    _items_eligible(r, applied=["e1", "e2", "e3"]).hand_in("self_evaluation", ["e1", "e3"], "2023-04-26")  # e2 never sends its 自评报告
    r.scores({"e1": 80, "e2": 40, "e3": 70})
    r.until("2023-06-05")
    # What it missed before its part ended is still told it.
    assert "未提交验收自评报告" in r.letters("results")["e2"], r.letters("results")["e2"]
    # What it hands in after is set aside with why, not taken in.
    with db.session_scope() as session:
        late = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "progress_report", "unit": "e2", "submitted_at": "2023-06-06T10:00:00+08:00", "id": "p-e2"}])
    assert late[0].status == "quarantined" and "乙公司（e2）的考核等次已结束其在本轮的参与" in (late[0].reason or ""), late
    # Handed in before its part ended (its late 自评报告 of 5月4日), taken in whenever it is imported.
    with db.session_scope() as session:
        before = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "self_evaluation", "unit": "e2", "submitted_at": "2023-05-04T10:00:00+08:00", "id": "s-e2"}])
    assert before[0].status == "late_accepted", before
    r.until("2023-07-31")
    # Nor is it decided 不同意 by rule for the window it was never asked for.
    with db.session_scope() as session:
        ruled = {d.subject for d in session.exec(select(Decision).where(Decision.round_id == r.id,
                                                                         Decision.stage == "progress_check")).all()}
    assert "e2" not in ruled and "e1" in ruled, ruled
    with db.session_scope() as session:
        chased = {(m.unit_code, m.action.split(":")[1].partition("@")[0]) for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("progress:"))).all()}
    assert {u for u, _ in chased} == {"e1", "e3", "k1", "k2"}, chased
    assert {("e1", "window_open"), ("e1", "reminder"), ("e1", "overdue")} <= chased, chased
    assert not any("乙公司" in body for body in r.letters("progress").values()), r.letters("progress")  # nor urged through k1
    # The same without ends: the 不予通过 unit is chased as before.
    kept = Round(write(tmp_path, "kept.yaml", text.replace(", ends: true}", "}", 1).replace("code: review-2023,", "code: review-2023k,", 1)))
    kept.hand_in("application", ["e2"], "2023-03-20")
    kept.decide("county_review", e2="approved")
    kept.until("2023-04-21")
    kept.decide("eligibility", e2="approved")
    kept.scores({"e2": 40})
    kept.until("2023-06-01")
    assert "e2" in kept.letters("progress"), kept.letters("progress")
    # A window owed by an ending grade would reach nobody: refused.
    with pytest.raises(ConfigError, match=r"owed_by\.grades.*ends"):
        write(tmp_path, "owed.yaml", text.replace("owed_by: {approved_at: eligibility}, opens: 2023-06-01",
                                                  "owed_by: {grades: [不予通过]}, opens: 2023-06-01", 1))


def test_a_list_item_whose_part_ended_is_not_decided_missing_for_a_window_never_asked_of_it(tmp_path, home):
    """The same 撤销建设资格 owed item by item: 乙公司's one item, 不予通过 (ends), was still decided 不同意 by the rule
    for the 建设进展报告 never asked of it (units that had handed nothing in were left out, their items not). The
    item a unit did not send beside one it did is decided, and named in the office's letter with the rule."""
    r = Round(write(tmp_path, "ends.yaml", ENDING + TWO_KINDS))
    _items_eligible(r, {"e1:xc-1": 80, "e1:gg-1": 70, "e2:gg-1": 40})  # 乙公司's one item 不予通过
    r.until("2023-06-05")
    r.hand_in("progress_report", ["e1"], "2023-06-10", item="xc-1", id="p-1")  # 甲公司 reports one item of two
    r.until("2023-07-31")
    with db.session_scope() as session:
        ruled = {d.subject: d.outcome for d in session.exec(select(Decision).where(
            Decision.round_id == r.id, Decision.stage == "progress_check")).all()}
    assert ruled == {"e1:gg-1": "rejected"}, ruled
    asked = r.letters("progress_check")["amr"]
    assert ("尚有1项建设进展报告未提交，不在待审核之列：甲公司的“攻关型成果”。按规定，2023年7月10日前仍未提交的，撤销建设资格。"
            in asked) and "乙公司" not in asked, asked
    # An item whose part ended beside one its unit reported: not asked for, not decided, not named.
    beside = Round(write(tmp_path, "beside.yaml", (ENDING + TWO_KINDS).replace("code: review-2023,", "code: review-2023b,", 1)))
    _items_eligible(beside, {"e1:xc-1": 80, "e1:gg-1": 40, "e2:gg-1": 70})  # 甲公司's 攻关型成果 不予通过
    beside.until("2023-06-05")
    beside.hand_in("progress_report", ["e1"], "2023-06-10", item="xc-1", id="p-1")
    beside.hand_in("progress_report", ["e2"], "2023-06-10", item="gg-1", id="p-2")
    beside.until("2023-07-31")
    with db.session_scope() as session:
        assert not session.exec(select(Decision).where(Decision.round_id == beside.id, Decision.stage == "progress_check",
                                                       Decision.decided_by == "rule:missing")).all()
    assert "未提交" not in beside.letters("progress_check")["amr"], beside.letters("progress_check")["amr"]


def test_an_item_refused_as_late_is_not_also_said_never_handed_in(tmp_path, home):
    """Said item by item, what a unit never handed in named 甲公司's 现场型成果 twice: "未提交验收自评报告" and "验收自评报告逾期
    提交，不予受理". Refused, not missed; its other item, never sent, is missed."""
    from qcycle.lifecycle.missed import never_handed_in_lines

    r = Round(write(tmp_path, "refused.yaml", (ENDING + TWO_KINDS).replace(
        "deadline: {date: 2023-04-28}}", "deadline: {date: 2023-04-28}, lateness: reject}", 1)))
    _items_eligible(r)
    r.until("2023-04-28")
    with db.session_scope() as session:
        (late,) = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "self_evaluation", "unit": "e1", "item": "xc-1", "id": "s-1", "submitted_at": "2023-05-02T10:00:00+08:00"}])
    assert late.status == "rejected_late", late
    r.scores({"e1:xc-1": 80, "e1:gg-1": 70, "e2:gg-1": 75})
    r.until("2023-05-10")
    with db.session_scope() as session:
        lines = never_handed_in_lines(session, r.p, r.id, r.t.by_name()["results:notify"], "scoring")
    assert lines["e1"] == [("selfcheck", "攻关型成果", "未提交验收自评报告"),
                           ("selfcheck", "现场型成果", "验收自评报告逾期提交，不予受理")], lines["e1"]


def test_letters_that_would_tell_nothing_are_refused_by_validate(tmp_path, home):
    """Listed in the plan, sent to nobody: a 县局's 年中检查结果 (``template: result`` in July, the year's only scoring in
    January) and a 移出名单告知 (``step_result`` to those ``missing_at`` a 年度报告)."""
    early = REVIEWED + (
        "      - {code: midyear, name: 反馈年中检查结果, kind: notification, template: result, on: 2023-04-03,\n"
        "         notify: {levels: [enterprise]}}\n"
        "      - {code: scoring, name: 评审打分, kind: assessment, on: 2023-05-05}\n"
        ) + _eligible_scored("[{name: 合格, min_score: 60}, {name: 不合格}]")
    with pytest.raises(ConfigError, match=r"stages\[3\].*结果通知“反馈年中检查结果”定于 2023-04-03，此前没有任何考核"):
        write(tmp_path, "early.yaml", early)
    # After the first decision it has something to tell.
    write(tmp_path, "later.yaml", early.replace("on: 2023-04-03,", "on: 2023-04-24,", 1))
    missing = REVIEWED + (
        "      - {code: removed, name: 移出名单告知, kind: notification, template: step_result, on: 2023-04-24,\n"
        "         notify: {missing_at: application}}\n")
    with pytest.raises(ConfigError, match=r"stages\[3\]\.notify.*step_result.*rejected_at 或 approved_at"):
        write(tmp_path, "missing.yaml", missing)
    write(tmp_path, "named.yaml", missing.replace("notify: {missing_at: application}",
                                                  "notify: {any_of: [{superiors_of: {rejected_at: eligibility}}]}", 1))


def test_an_order_to_rectify_one_item_a_step_rejected_names_the_item(tmp_path, home):
    """质量攻关: 白河's two projects, one through its 中期检查 and one 限期整改, read "贵单位在…中“中期检查”未获通过" in the
    【整改通知】 the day its 结果告知 said the opposite of the other: the order did not name the project."""
    text = REVIEWED + (
        "      - {code: midterm, name: 中期检查, kind: decision, decides: eligibility, eliminates: false, on: 2023-05-05,\n"
        "         tell_reason: true}\n"
        "      - {code: fix, name: 整改说明, kind: followup, submission: rectification_report, owed_by: {rejected_at: midterm},\n"
        "         opens_after: {stage: midterm, event: on, days: 1}, deadline: {after: {stage: midterm, event: on, workdays: 10}}}\n"
        ) + TWO_KINDS
    r = Round(write(tmp_path, "fix.yaml", text))
    for item, rid in (("xc-1", "a"), ("gg-1", "b")):
        r.hand_in("application", ["e1"], "2023-03-20", item=item, id=rid)
    both = {"e1:xc-1": "approved", "e1:gg-1": "approved"}
    r.decide("county_review", **both)
    r.until("2023-04-21")
    r.decide("eligibility", **both)
    r.until("2023-05-04")
    r.decide("midterm", note="进度滞后", **{"e1:xc-1": "approved", "e1:gg-1": "rejected"})
    r.until("2023-05-08")
    order = r.letters("fix")["e1"]
    assert "申报的“攻关型成果”未通过中期检查（进度滞后）" in order and "现场型成果" not in order, order


def test_a_follow_up_reported_to_each_units_parent_tells_the_parents_who_owes_it(tmp_path, home):
    """加油站计量检查: 整改报告 go to each station's 市场监管所 (``report_to: parent``), and the 所 first heard of them when
    asked for its 复查意见, three days before it was due; a fixed ``report_to`` had been told on the day."""
    text = REVIEWED + (
        "      - {code: verdict, name: 检查结果判定, kind: decision, decides: eligibility, eliminates: false, on: 2023-05-05,\n"
        "         tell_reason: true}\n"
        "      - {code: fix, name: 整改报告, kind: followup, submission: rectification_report, owed_by: {rejected_at: verdict},\n"
        "         report_to: parent, opens_after: {stage: verdict, event: on, days: 1},\n"
        "         deadline: {after: {stage: verdict, event: on, workdays: 10}}}\n")
    r = Round(write(tmp_path, "fix.yaml", text))
    _items_eligible(r, applied=["e1", "e2", "e3"]).until("2023-05-04")
    r.decide("verdict", note="加油机计量误差超出允许范围", e1="rejected", e2="approved", e3="rejected")
    r.until("2023-05-08")
    told = r.letters("fix")
    assert sorted(told) == ["e1", "e3", "k1", "k2"], sorted(told)
    assert ("贵单位辖区内以下1个单位须于2023年5月18日（星期四）17:30前向贵单位报送整改报告：\n1. 甲公司：未通过检查结果判定（加油机计量误差超出允许范围）。"
            in told["k1"]), told["k1"]
    assert "丙公司" in told["k2"] and "甲公司" not in told["k2"], told["k2"]


def test_a_unit_refused_as_late_is_still_urged_through_its_superior(tmp_path, home):
    """加油站计量检查: a station told "将于5月8日报…城关市场监督管理所督办" handed its 自查报告 in late and was refused; its 所
    never heard of it. A hand-in refused counts as none: the superior is urged as promised, told it was refused."""
    text = REVIEWED.replace("    stages:\n", "    reminder_policies:\n      std: {before_workdays: [1], escalate_after_workdays: 2}\n"
                            "    stages:\n", 1) + (
        "      - {code: selfcheck, name: 自查报告, kind: submission, submission: self_evaluation, owed_by: {levels: [enterprise]},\n"
        "         opens: 2023-04-24, deadline: {date: 2023-04-28}, lateness: reject, reminders: std}\n")
    r = Round(write(tmp_path, "late.yaml", text))
    r.hand_in("self_evaluation", ["e2", "e3", "e4"], "2023-04-26")
    r.until("2023-05-04")
    with db.session_scope() as session:
        (late,) = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "self_evaluation", "unit": "e1", "submitted_at": "2023-05-04T10:00:00+08:00", "id": "late-e1"}])
    assert late.status == "rejected_late", late
    r.until("2023-05-10")
    urged = r.letters("selfcheck")["k1"]
    # Named with the day it handed in and was refused: 黄山's 区县局, told of the refusal, then read the same unit's report
    # as 逾期未交 and nothing more.
    assert "贵单位辖区内甲公司应于2023年4月28日（星期五）17:30前提交" in urged, urged
    assert "已逾期2个工作日。其中甲公司于2023年5月4日逾期提交，不予受理。\n按规定，逾期提交的不予受理。" in urged, urged
    assert urged.count("按规定") == 1, urged  # the rule said once
    with db.session_scope() as session:  # the unit itself has its refusal (不予受理), not a 督办 saying "仍未收到"
        to_e1 = session.exec(select(OutboxMessage.subject).where(OutboxMessage.round_id == r.id,
                                                                 OutboxMessage.unit_code == "e1")).all()
    assert to_e1 and not any("督办" in x for x in to_e1), to_e1


def test_an_office_may_urge_the_overdue_unit_itself_copying_its_superior(tmp_path, home):
    """鄞州's 督办 goes to the plant itself, 抄送 its 所; the language could only urge the 所. ``escalate_to: self`` urges the
    unit, ``escalate_cc: parent`` copies its superior, told which of its units were urged; the office copies nobody for
    its own units."""
    text = REVIEWED.replace("    stages:\n", "    reminder_policies:\n      std: {before_workdays: [1], escalate_after_workdays: 2,"
                            " escalate_to: self, escalate_cc: parent}\n    stages:\n", 1) + (
        "      - {code: selfcheck, name: 自查报告, kind: submission, submission: self_evaluation, owed_by: {levels: [enterprise]},\n"
        "         opens: 2023-04-24, deadline: {date: 2023-04-28}, reminders: std}\n")
    r = Round(write(tmp_path, "self.yaml", text))
    r.hand_in("self_evaluation", ["e2", "e3"], "2023-04-26")
    r.until("2023-05-10")
    with db.session_scope() as session:
        urged = {(m.unit_code, m.subject): m.body for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.subject.contains("督办")))}
    assert sorted(u for u, _ in urged) == ["e1", "e4", "k1"], sorted(urged)
    to_e1 = next(b for (u, _), b in urged.items() if u == "e1")
    assert "贵单位应于2023年4月28日（星期五）17:30前提交的自查报告" in to_e1 and to_e1.rstrip().endswith("抄送：甲区市场监督管理局"), to_e1
    to_e4 = next(b for (u, _), b in urged.items() if u == "e4")
    assert "抄送" not in to_e4, to_e4  # its superior is the office itself
    (subject, to_k1), = [(x, b) for (u, x), b in urged.items() if u == "k1"]
    assert subject.endswith("甲公司自查报告逾期未交（抄送）"), subject
    assert "贵单位辖区内甲公司应于2023年4月28日（星期五）17:30前提交" in to_k1 and "已直接督办，特此抄送。请督促其尽快提交。" in to_k1, to_k1
    with db.session_scope() as session:  # warned of it by the office itself, not "将提请…督办"
        warned = session.exec(select(OutboxMessage.body).where(OutboxMessage.round_id == r.id, OutboxMessage.unit_code == "e1",
                                                               OutboxMessage.subject.contains("逾期提醒"))).one()
    assert "如仍未提交，将于2023年5月5日予以督办" in warned and "提请" not in warned, warned
    with pytest.raises(ConfigError, match="escalate_cc"):
        write(tmp_path, "bad.yaml", text.replace(" escalate_to: self,", "", 1))
    # Handed in to that very superior (report_to: parent): the copy says so, and asks it to say if the report came (永固's
    # 所 read "仍未提交" of reports that might be in its own hands).
    received = Round(write(tmp_path, "received.yaml", text.replace("reminders: std}", "reminders: std, report_to: parent}", 1)
                           .replace("code: review-2023,", "code: review-2023r,", 1)))
    received.hand_in("self_evaluation", ["e2", "e3"], "2023-04-26")
    received.until("2023-05-10")
    to_k1 = received.letters("selfcheck")["k1"]
    assert ("贵单位辖区内甲公司应于2023年4月28日（星期五）17:30前向贵单位报送2023年度示例市长质量奖的自查报告，截至2023年5月5日"
            "示例市市场监督管理局尚未登记收到") in to_k1, to_k1
    assert "如贵单位已收到，请即告知示例市市场监督管理局；未收到的，请督促其尽快报送。" in to_k1, to_k1
    with db.session_scope() as session:  # and it was told at the opening that they come to it (永固's 所 never were)
        told = session.exec(select(OutboxMessage.subject, OutboxMessage.body).where(
            OutboxMessage.round_id == received.id, OutboxMessage.unit_code == "k1",
            OutboxMessage.subject.contains("向贵单位报送"))).all()
    assert [x for x, _ in told] == ["【通知】2023年度示例市长质量奖：2个单位须于2023年4月28日前向贵单位报送自查报告"], told
    assert "1. 甲公司；\n2. 乙公司。\n收到后，请将收件情况告知示例市市场监督管理局，以便登记。" in told[0][1], told[0][1]
    # Announced with a same-day call to the owers, the receiver is told all the same (it had heard nothing).
    called = Round(write(tmp_path, "called.yaml", text.replace("reminders: std}", "reminders: std, report_to: parent}", 1)
                         .replace("    stages:\n", "    stages:\n      - {code: call, name: 印发自查通知, kind: publication, "
                                  "on: 2023-04-24, notify: {levels: [enterprise]}}\n", 1)
                         .replace("code: review-2023,", "code: review-2023c,", 1)))
    called.until("2023-04-24")
    assert "须于2023年4月28日（星期五）17:30前向贵单位报送自查报告" in called.letters("selfcheck").get("k1", ""), called.letters("selfcheck")
    # A superior overdue itself the same day hears of its units in its own 督办 (a second letter would share its key).
    both = Round(write(tmp_path, "both.yaml", text.replace("owed_by: {levels: [enterprise]},\n         opens: 2023-04-24",
                                                           "owed_by: {levels: [county, enterprise]},\n         opens: 2023-04-24", 1)
                       .replace("code: review-2023,", "code: review-2023b,", 1)))
    both.hand_in("self_evaluation", ["e2", "e3", "k2"], "2023-04-26")
    both.until("2023-05-10")
    to_k1 = both.letters("selfcheck")["k1"]
    assert "贵单位应于2023年4月28日（星期五）17:30前提交的自查报告" in to_k1, to_k1
    assert "贵单位辖区内甲公司同样逾期未交，已直接督办，特此抄送。" in to_k1, to_k1
    # Copied to a unit that is not their superior: the units named bare, and it is not asked to see to them.
    other = Round(write(tmp_path, "other.yaml", text.replace("escalate_cc: parent", "escalate_cc: k2", 1)
                        .replace("code: review-2023,", "code: review-2023o,", 1)))
    other.hand_in("self_evaluation", ["e2", "e3"], "2023-04-26")
    other.until("2023-05-10")
    to_k2 = other.letters("selfcheck")["k2"]
    assert "乙县市场监督管理局：\n\n甲公司、丁公司应于" in to_k2 and "辖区内" not in to_k2 and "督促" not in to_k2, to_k2


def test_a_superiors_escalation_says_what_missing_the_window_costs(tmp_path, home):
    """一站式服务站: the 主管单位 urged about a station's overdue 年度自评报告 read only "请督促其尽快提交"; the station's own
    letters said "截至…仍未报送的，实行一票否决，等次定为不达标"."""
    text = REVIEWED.split("      - {code: county_review,")[0].replace(
        "    stages:\n", "    reminder_policies:\n      std: {before_workdays: [1], escalate_after_workdays: 2}\n    stages:\n", 1) + (
        "      - {code: selfcheck, name: 年度自评报告, kind: submission, submission: self_evaluation, owed_by: {levels: [enterprise]},\n"
        "         opens: 2023-04-24, deadline: {date: 2023-04-28}, reminders: std}\n"
        "      - {code: scoring, name: 评估打分, kind: assessment, on: 2023-05-31}\n"
        "    assessment:\n"
        "      subjects: {levels: [enterprise]}\n"
        "      components: [{code: all, name: 综合评分, weight: 1}]\n"
        "      vetoes: [{code: none, name: 未报送年度自评报告, grade: 不达标, missing_at: selfcheck}]\n"
        "      grades: [{name: 达标, min_score: 70}, {name: 不达标}]\n")
    r = Round(write(tmp_path, "costs.yaml", text))
    r.hand_in("self_evaluation", ["e2", "e3", "e4"], "2023-04-26")
    r.until("2023-05-10")
    urged = r.letters("selfcheck")["k1"]
    assert "请督促其尽快提交，并将督办情况反馈示例市市场监督管理局。\n" in urged and "实行一票否决" in urged, urged


def test_a_decision_with_verdicts_of_its_own_says_them(tmp_path, home):
    """加油站计量检查 read "通过检查结果判定，判定为合格" (判定 twice, 合格 only by on_approval); 质量攻关's 中期检查 could only
    say "未通过中期检查，限期整改". A decision whose outcomes have names (``verdicts``) says them."""
    text = REVIEWED + (
        "      - {code: verdict, name: 检查结果判定, kind: decision, decides: eligibility, eliminates: false, on: 2023-05-05,\n"
        "         tell_reason: true, verdicts: {approved: 合格, rejected: 不合格}}\n"
        "      - {code: told, name: 告知检查结果, kind: notification, template: step_result, on: 2023-05-08,\n"
        "         notify: {any_of: [{approved_at: verdict}, {rejected_at: verdict}]}}\n"
        "      - {code: midterm, name: 中期检查, kind: decision, decides: eligibility, eliminates: false, on: 2023-05-10,\n"
        "         verdicts: {approved: 通过, rejected: 限期整改}}\n"
        "      - {code: fix, name: 整改说明, kind: followup, submission: rectification_report, owed_by: {rejected_at: midterm},\n"
        "         opens_after: {stage: midterm, event: on, days: 1}, deadline: {after: {stage: midterm, event: on, workdays: 10}}}\n")
    r = Round(write(tmp_path, "named.yaml", text))
    _items_eligible(r, applied=["e1", "e2"]).until("2023-05-04")
    r.decide("verdict", note="加油机计量误差超出允许范围", e1="approved", e2="rejected")
    r.until("2023-05-09")
    r.decide("midterm", e1="rejected", e2="approved")
    r.until("2023-05-12")
    told = r.letters("told")
    assert "贵单位在2023年度示例市长质量奖中“检查结果判定”为合格。" in told["e1"], told["e1"]
    assert "“检查结果判定”为不合格（加油机计量误差超出允许范围）" in told["e2"] and "未通过" not in told["e2"], told["e2"]
    order = r.letters("fix")["e1"]  # quoted: "…质量奖中中期检查" would read as a doubled word
    assert "贵单位在2023年度示例市长质量奖中“中期检查”结论为限期整改。" in order, order
    with pytest.raises(ConfigError, match="verdicts.*只用于 decision 阶段"):
        write(tmp_path, "bad.yaml", text.replace("kind: notification, template: step_result, on: 2023-05-08,",
                                                 "kind: notification, template: step_result, on: 2023-05-08, verdicts: {approved: 合格, rejected: 不合格},", 1))


def test_a_circular_whose_list_is_empty_says_so(tmp_path, home):
    """质量攻关: "向各设区市通报通过验收的项目", and in a year none passed the cities heard nothing at all."""
    circular = ("      - {code: circular, name: 通报合格单位, kind: notification, template: circular, on: 2016-04-01,\n"
                "         notify: {levels: [county]}, lists: {grades: [合格]}}\n")
    text = ASSESSMENT.replace("      - {code: summons,", circular + "      - {code: summons,", 1)
    r = _scored(tmp_path, text.replace("{name: 合格, min_score: 60}", "{name: 合格, min_score: 99}", 1), "2016-04-01")
    told = r.letters("circular")
    assert sorted(told) == ["c1", "c2", "c3", "c4", "c5"], told
    assert "考核结果已确定，参评5个，无列入本通报的单位。\n\n特此通报。" in told["c1"], told["c1"]


def test_a_circular_with_lists_in_a_round_without_scores_names_those_decided(tmp_path, home):
    """镇江's 质量月 通报 (the 优秀组织单位 the office chose, and those 通报批评 for a 总结 never sent) went to nobody: with
    ``lists`` a 通报 kept scored results only, and the round had none."""
    text = REVIEWED + (
        "      - {code: circular, name: 通报资格审查结果, kind: notification, template: circular, on: 2023-04-24,\n"
        "         notify: {levels: [county]}, lists: {approved_at: eligibility}}\n")
    r = Round(write(tmp_path, "decided.yaml", text))
    r.hand_in("application", ["e1", "e2", "e3"], "2023-03-20")
    r.decide("county_review", e1="approved", e2="approved", e3="approved")
    r.until("2023-04-21")
    r.decide("eligibility", e1="approved", e2="rejected", e3="approved")
    r.until("2023-04-24")
    told = r.letters("circular")
    assert sorted(told) == ["k1", "k2"], told
    assert "1. 甲公司：通过资格审查；\n2. 丙公司：通过资格审查。" in told["k1"] and "乙公司" not in told["k1"], told["k1"]


def test_a_request_after_the_results_is_no_ground_and_no_result(tmp_path, home):
    """宜昌's 通报 read "A级（得分91.64）；复核申请逾期提交，不予受理" of a firm whose late 复核申请 was refused, and its D级 firms
    were summoned "被评为D级；未通过复核", as if for having asked."""
    text = ASSESSMENT.replace("    stages:\n", "    submission_kinds:\n      review_request: {title: 复核申请}\n    stages:\n", 1).replace(
        "    assessment:\n", (
            "      - {code: review_req, name: 复核申请, kind: submission, submission: review_request, owed_by: {levels: [county]},\n"
            "         voluntary: true, lateness: reject, opens_after: {stage: results, event: on, days: 0},\n"
            "         deadline: {after: {stage: results, event: on, workdays: 5}}}\n"
            "      - {code: review, name: 复核, kind: decision, decides: review_req, eliminates: false,\n"
            "         after: {stage: review_req, event: deadline, workdays: 1}}\n"
            "      - {code: talk, name: 约谈, kind: notification, template: summons, after: {stage: review, event: on, workdays: 2},\n"
            "         notify: {grades: [不合格]}}\n"
            "      - {code: circular, name: 通报最终考核结果, kind: notification, template: circular,\n"
            "         after: {stage: review, event: on, workdays: 2}, notify: {levels: [county]}}\n"
            "    assessment:\n"), 1)
    r = _scored(tmp_path, text, "2016-04-01")
    r.hand_in("review_request", ["c4"], "2016-04-05")
    with db.session_scope() as session:
        late = ingest_many(session=session, programme=r.p, timetable=r.t, round_id=r.id, source="test", records=[
            {"kind": "review_request", "unit": "c2", "submitted_at": "2016-04-20T10:00:00+08:00", "id": "late"}])
    assert [x.status for x in late] == ["rejected_late"], late
    r.until("2016-04-11")
    r.decide("review", c4="rejected")
    r.until("2016-04-30")
    talk = r.letters("talk")["c4"]
    assert "复核" not in talk and "被评为不合格" in talk, talk
    circular = r.letters("circular")["c1"]
    assert "复核申请" not in circular and "二县人民政府：合格（得分80.00）" in circular, circular


def test_one_refused_after_scoring_is_told_under_the_rounds_results_not_its_step(tmp_path, home):
    """A unit refused by the committee after its score is a graded one refused, not one the assessment never graded: its
    result letter is the round's 【评审结果】, not 【评审委员会审议结果】 (a reviewer's finding)."""
    r = _award_scored(Round(write(tmp_path, "award.yaml", AWARD)), {"e1": 90, "e2": 75})
    r.until("2023-04-24")
    r.decide("committee", e1="rejected", e2="approved")
    r.until("2023-05-16")
    with db.session_scope() as session:
        subjects = {m.unit_code: m.subject for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.round_id == r.id, OutboxMessage.action.startswith("results:"))).all()}
    assert subjects["e1"].startswith("【评审结果】"), subjects


def test_a_voluntary_window_not_used_is_not_called_missed(tmp_path, home):
    """抽查: the 整改通知 to a firm that failed and did not ask for a 复检 read "未按期报送“复检申请”", as if asking were
    owed. A right not used is said as not handed in."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: cc-2026, name: 2026年产品质量监督抽查, programme: 监督抽查, issuer: city, years: [2026]}
        submission_kinds: {retest_request: {title: 复检申请}}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: city, name: 某市市场监督管理局, level: city, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: city, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: city, channels: [sink]}
        stages:
          - {code: report, name: 检验报告, kind: submission, submission: self_evaluation,
             owed_by: {levels: [enterprise]}, opens: 2026-06-01, deadline: {date: 2026-06-30}}
          - {code: verdict, name: 检验结论判定, kind: decision, decides: report, on: 2026-07-09,
             verdicts: {approved: 合格, rejected: 不合格}}
          - {code: retest, name: 复检申请, kind: submission, submission: retest_request, voluntary: true,
             owed_by: {rejected_at: verdict}, opens_after: {stage: verdict, event: on, days: 0},
             deadline: {after: {stage: verdict, event: on, days: 15}}}
          - {code: rectify, name: 整改报告, kind: followup, submission: rectification_report,
             owed_by: {rejected_at: verdict, missing_at: retest},
             opens_after: {stage: retest, event: deadline, workdays: 1},
             deadline: {after: {stage: retest, event: deadline, days: 30}}}
        """)
    r = Round(write(tmp_path, "cc.yaml", text))
    r.hand_in("self_evaluation", ["e1", "e2"], "2026-06-20")
    r.until("2026-07-08")
    r.decide("verdict", e1="rejected", e2="approved")
    r.until("2026-07-30")
    told = r.letters("rectify")
    assert sorted(told) == ["e1"], told
    assert "未在期限内提交“复检申请”" in told["e1"] and "未按期报送" not in told["e1"], told["e1"]
