"""The letter check: every letter of every shipped programme, at each of its moments (a whole
round without Prefect), read as the unit receiving it would. It fails on a doubled word, a date
run into a number, an award said as a grade (被评为…奖), named twice or its result called 考核,
公示 or 评审 said twice, a leftover placeholder, a subject listing more than three names, an ASCII word in
Chinese text (codes, commands and URLs aside), a date line or "截至…" date other than the
action's logical moment, any other cited date not taken from the round's timetable, two colons
in one sentence, and a sender equal to the addressee."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import and_
from sqlmodel import select

from qcycle import db
from qcycle.lifecycle.headings import name_beside
from qcycle.lifecycle.wording import achievement_of, call_subject, result_kind
from qcycle.loader import load_programme
from qcycle.models import (
    NEGATIVE_OUTCOMES,
    ActionRun,
    AssessmentResult,
    Decision,
    OutboxMessage,
    Submission,
)
from qcycle.schema import StageKind
from qcycle.settings import get_settings
from qcycle.timetable import Timetable, name_of
from tests.homes import leave_home, play_programme, use_home

PROGRAMMES = sorted((Path(__file__).resolve().parent.parent / "config" / "programmes").glob("*.yaml"))
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_DOUBLED = re.compile(r"([\u4e00-\u9fff]{2,})\1")
_RUN_ON = re.compile(r"\d{1,2}月\d{1,2}日\d+")
_ISO_LIKE = re.compile(r"(?<![\d.])\d{4}-(?:\d{1,2}|[QqHh]\d)\b")
# Words of a command ops type (the decision request points at `qcycle decide FILE --list`, FILE
# the round's programme file).
_ALLOWED_ASCII = {"qcycle", "decide", "list", "file", "csv"}
UNPLACED = "未获奖"  # the award programmes' grade below every award


@dataclass
class Round:
    programme: object
    timetable: Timetable
    messages: list[OutboxMessage]
    # (subject, decision stage) of each decision made on an assessment result graded 未获奖
    decided_unplaced: list[tuple[str, str]]
    unplaced: set[str]  # units with a result graded 未获奖
    unplaced_subjects: set[str]  # those results' subjects (unit, or unit:item)
    vetoed: dict[str, str]  # unit → the veto that forced its grade
    decisions: list[Decision]
    notes: dict[str, str]  # action key → the run's note (ops read it in the run history)
    sink: Path  # what was delivered, a JSON file per post (the round delivers to the local sink)
    bonused: set[str]  # units with a result holding bonus or deduction points


_runs: dict[Path, Round] = {}


def run(path: Path, tmp_path_factory, monkeypatch) -> Round:
    if path in _runs:
        return _runs[path]
    use_home(monkeypatch, tmp_path_factory.mktemp(path.stem))
    sink = get_settings().effective_sink_dir
    try:
        p, timetable, round_id = play_programme(path, seed=5)
        with db.session_scope() as session:
            messages = list(session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all())
            unplaced = select(AssessmentResult).where(AssessmentResult.round_id == round_id,
                                                      AssessmentResult.grade == UNPLACED).subquery()
            decided = list(session.exec(select(Decision.subject, Decision.stage).join(unplaced, and_(
                Decision.round_id == unplaced.c.round_id, Decision.decides == unplaced.c.stage,
                Decision.subject == unplaced.c.unit_code))).all())
            subjects = set(session.exec(select(unplaced.c.unit_code)).all())
            units = {code.partition(":")[0] for code in subjects}
            vetoed = dict(session.exec(select(AssessmentResult.unit_code, AssessmentResult.veto).where(
                AssessmentResult.round_id == round_id, AssessmentResult.veto.is_not(None))).all())
            decisions = list(session.exec(select(Decision).where(Decision.round_id == round_id)).all())
            notes = dict(session.exec(select(ActionRun.action_key, ActionRun.note).where(
                ActionRun.round_id == round_id)).all())
            bonused = {row.unit_code.partition(":")[0] for row in session.exec(select(AssessmentResult).where(
                AssessmentResult.round_id == round_id)).all() if row.bonus or row.deduction}
    finally:
        leave_home()
    _runs[path] = Round(p, timetable, messages, [tuple(row) for row in decided], units, subjects, vetoed,
                       decisions, notes, sink, bonused)
    return _runs[path]


def _played(stem: str, seed: int, tmp_path_factory, monkeypatch) -> tuple[object, Timetable, list[OutboxMessage]]:
    """A shipped programme's whole round at ``seed`` in a home of its own: (programme, timetable, its messages)."""
    use_home(monkeypatch, tmp_path_factory.mktemp(f"{stem}-{seed}"))
    try:
        p, timetable, round_id = play_programme(next(x for x in PROGRAMMES if x.stem == stem), seed=seed)
        with db.session_scope() as session:
            messages = list(session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all())
    finally:
        leave_home()
    return p, timetable, messages


def _dates(text: str) -> list[dt.date]:
    return [dt.date(int(y), int(m), int(d)) for y, m, d in _CN_DATE.findall(text)]


def _award_name(text: str) -> str:
    """An award's name without its year and with 人民政府 said as 政府, to compare two spellings."""
    return re.sub(r"^\d{4}年度?", "", text).replace("人民政府", "政府")


def _scores_not_adding_up(text: str) -> list[str]:
    """A total whose parts, bonus and deduction, as the letter gives them, do not add up to it to
    the cent (舟山's 住建局 read "得分67.05" over parts of 53.33 and 13.71)."""
    found = []
    inline = [(m[1], m[2], m[3].split("，")) for m in re.finditer(r"得分(\d+\.\d\d)([^；）]*)；([^）]+)）", text)]
    listed = [(m[1], m[2], m[3].split("；"))
              for m in re.finditer(r"得分(\d+\.\d\d)([^）]*)）[^\n]*\n各部分得分：([^\n]+?)。", text)]
    for total, extras, parts in inline + listed:
        # A unit's own letter gives each part's full marks after it ("自评65.73分（满分100分）"): never above them.
        fulls = [(float(m[1]), float(m[2])) for x in parts if (m := re.search(r"([\d.]+)分（满分([\d.]+)分）$", x))]
        found += [f"a part above its full marks: {parts!r}" for got, full in fulls if got > full + 1e-9]
        parts = [re.sub(r"（满分[\d.]+分）$", "", x) for x in parts]
        points = [re.search(r"(\d+(?:\.\d+)?)分$", x) for x in parts]
        if not all(points):
            found.append(f"parts without points: {parts!r}")
            continue
        bonus = sum(float(x) for x in re.findall(r"含加分([\d.]+)分", extras))
        deduction = sum(float(x) for x in re.findall(r"已扣([\d.]+)分", extras))
        added = max(0.0, sum(float(x[1]) for x in points if x) + bonus - deduction)
        if f"{added:.2f}" != total:
            found.append(f"parts add up to {added:.2f}, not the total {total}: {parts!r}")
    return found


def problems_of(p, timetable: Timetable, m: OutboxMessage) -> list[str]:
    found = []
    text = f"{m.subject}\n{m.body}"
    for bad in ("{{", "}}", "{%", "None", "undefined", "—级"):
        if bad in text:
            found.append(f"leftover {bad!r}")
    for match in _DOUBLED.finditer(text):
        found.append(f"doubled word {match.group(0)!r}")
    for match in re.finditer(r"被评为(?:[^，。；\n]*奖(?=[，。；])|获奖)", text):  # an award is won (荣获), not rated
        found.append(f"an award said as a grade: {match.group(0)!r}")
    if m.action.startswith(tuple(f"{st.code}:" for st in p.stages if st.submission == "objection")) and "申报" in m.body:
        found.append("an objection window asks for applications (申报)")
    for said_twice in ("起对公示", "公示进行公示", "评审评价", "评审考核"):  # 对{公示事项}进行公示, {周期}{结果}
        if said_twice in text:
            found.append(f"said twice: {said_twice!r}")
    for sentence in re.split(r"[。；\n]", text):  # 榆阳: "…（2024—2025年督查评估）2024年度质量工作督查评估结果"
        found += [f"said twice in a sentence: {w!r}" for w in ("督查评估", "质量工作考核")
                  if sentence.count(w) > 1]
        if sentence.count("评审") > 2:  # 广州: "在…市长质量奖评审中未通过材料评审，不再参加后续评审环节"
            found.append(f"评审 three times in a sentence: {sentence!r}")
    for line_of_letter in text.splitlines():  # 雅安: one per item, thrice (a summary's lines each say their own)
        missed_lines = Counter(re.findall(r"得分(?:未达到|高于)\S+?(?:分数线|分数上限)（", line_of_letter))
        found += [f"a line missed said twice: {line!r}" for line, n in missed_lines.items() if n > 1]
    for sentence in re.split(r"[。\n]", text):  # 温州: "…排名第11；名额内的候选…不由后续名次递补；…排名第9；名额内的候选…"
        clauses = Counter(c for c in re.split(r"[；，]", sentence) if len(c) >= 12)
        found += [f"a clause said twice in a sentence: {c!r}" for c, n in clauses.items() if n > 1]
    for a, b in itertools.pairwise(text.splitlines()):  # 按事项统计: "审核揭榜书：…，5项；\n审核揭榜书：…" on every line
        head = re.match(r"[^\d：，。；]{2,}：", a)
        if head and b.startswith(head.group(0)):
            found.append(f"lines begin alike: {head.group(0)!r}")
    if re.search(r"(?:^|[。；\n])届时", text):  # "请尽快提交。\n届时仍未提交的": 届时 needs a time named before it
        found.append("届时 opening a sentence")
    if re.search(r"\d:\d{2}:\d{2}", text):  # "11:53:06提交": lateness is judged to the minute
        found.append("a time with seconds")
    place = re.search(r"[\u4e00-\u9fff]{2,3}?[省市区县]", re.sub(r"\d{4}年度?|第\S+?届", "", p.round.name))
    award = re.sub(r"^\d{4}年度?|^第\S+?届", "", p.round.name).removesuffix("评审").removesuffix("评选")
    if m.subject.count(award) > 1:  # 2024年度天水市人民政府质量奖评审：发布天水市人民政府质量奖申报通知
        found.append(f"the round named twice in the subject: {m.subject!r}")
    if place and place.group() not in m.subject:  # 太仓's units also hear of 苏州's 市长质量奖
        found.append(f"a subject without the round's place {place.group()!r}")
    if m.subject.startswith("【结果】"):  # 淮安's and 焦作's: the kind of result is said in the heading
        found.append("a bare 【结果】 heading")
    if "）（" in text:  # 中期检查（进展报告）（2024年6月）（创先引领类）: one pair, its parts run together
        found.append("brackets after brackets")
    if re.search(r"年度[^（）。，\n]{0,8}（\d{4}年度", text):  # 舟山's 年度培育进展（2011年度）
        found.append("年度 said twice")
    for contest, won in re.findall(r"在([^，。]+?)(?:评审|评选)?中荣获([^，。（]+)", text):
        if _award_name(contest) == _award_name(won):  # 在2026年度某市人民政府质量奖评选中荣获某市政府质量奖
            found.append(f"the award named twice: {contest!r}, {won!r}")
    if p.round.name.endswith(("奖", "评审", "评选")) and "考核" in text:  # an award is reviewed (评审), not assessed
        found.append("an award round's letter says 考核")
    if m.subject.count("、") > 2:  # a subject is read at a glance: "甲等5个单位", the body lists them
        found.append(f"a subject lists names: {m.subject!r}")
    for match in _ISO_LIKE.finditer(text):  # "中期检查（2023-07）": a letter writes 2023年7月
        found.append(f"a date or period written as a code: {match.group(0)!r}")
    for match in _RUN_ON.finditer(text):  # "已于2016年7月15日2015—2016年度……启动": no verb
        found.append(f"a date runs into a number: {match.group(0)!r}")
    words = {w for w in re.findall(r"[A-Za-z]{2,}", re.sub(r"https?://\S+|\S+@\S+|(?<=qcycle decide )\S+", "", text))}
    if words - _ALLOWED_ASCII - {u.code for u in p.units}:
        found.append(f"English words {sorted(words - _ALLOWED_ASCII)}")
    lines = m.body.strip().splitlines()
    if _dates(lines[-1]) != [m.logical_date]:
        found.append(f"date line {lines[-1]!r} is not the logical date {m.logical_date}")
    for match in re.finditer(r"截至(\d{4}年\d{1,2}月\d{1,2}日)", text):
        if _dates(match.group(1)) != [m.logical_date]:
            found.append(f"截至 {match.group(1)} is not the logical date {m.logical_date}")
    known = {a.at.date() for a in timetable.actions} | {a.deadline.date() for a in timetable.actions if a.deadline}
    # When something was handed in (an objection raised) is a fact of the round, not of the timetable.
    cited = re.sub(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}(?::\d{2})?(?:提交|提出)", "", text)
    for day in _dates(cited):
        if day not in known and day != m.logical_date:
            found.append(f"cited date {day} is not in the timetable")
    if lines[-3].strip():
        found.append("no blank line before the signature")
    if len(lines) < 2 or lines[1].strip():
        found.append("no blank line after the salutation")
    for sentence in re.split(r"[。；\n]", m.body):
        if sentence.count("：") > 1:  # "结果为：某项目：良好" reads as a form, not a letter
            found.append(f"two colons in one sentence: {sentence!r}")
    depth = 0
    for ch in text:  # "初审（示例船舶修造（福州）有限公司，…提交）": brackets in brackets
        depth += {"（": 1, "）": -1}.get(ch, 0)
        if depth > 1:
            found.append("brackets inside brackets")
            break
    found += _scores_not_adding_up(text)
    addressee = lines[0].rstrip("：")
    sender = lines[-2].strip()
    if addressee == sender:
        found.append(f"sender is the addressee ({sender})")
    return found


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_every_letter_reads_as_an_office_would_write_it(path, tmp_path_factory, monkeypatch):
    r = run(path, tmp_path_factory, monkeypatch)
    assert r.messages
    bad = {}
    for m in r.messages:
        problems = problems_of(r.programme, r.timetable, m)
        if problems:
            bad.setdefault(tuple(problems), (m.unit_code, m.action, m.body))
    assert bad == {}


def test_a_round_assessed_each_year_says_which_year_each_letter_is_of(tmp_path_factory, monkeypatch):
    path = next(p for p in PROGRAMMES if p.stem == "yy-quality-plan-2025")  # assessed in 2024 and in 2025
    r = run(path, tmp_path_factory, monkeypatch)
    results = {m.action.partition(":")[0]: m for m in r.messages if m.action.startswith("results_") and m.unit_code == "yy-czj"}
    assert results["results_2024"].subject.startswith("【2024年度质量工作督查评估结果】")
    assert "2025年度质量工作督查评估结果已确定" in results["results_2025"].body
    # A praise names the year's assessment it is for, not the plan's name with the year run on.
    praised = [m.body for m in r.messages if m.action.startswith("praise_2025:")]
    assert praised and all("贵单位在2025年度质量工作督查评估中被评为A级" in body for body in praised), praised[:1]
    # Scored afresh each year: not last year's marks to the decimal.
    scores = [re.search(r"得分([\d.]+)", results[k].body).group(1) for k in ("results_2024", "results_2025")]
    assert scores[0] != scores[1]


def test_letter_grades_read_alike_whatever_their_length():
    """A 信用等级 round told one enterprise "拟获A" and "结果为：A级", and others "AA" and "AAA": every
    grade of letters alone reads with 级, named grades as they are."""
    from qcycle.schema import grade_label

    assert [grade_label(g) for g in ("AAA", "AA", "A", "D", "优秀", "5A", "Ab", "ABCDEF")] == [
        "AAA级", "AA级", "A级", "D级", "优秀", "5A", "Ab", "ABCDEF"]


def test_a_grade_forced_by_a_veto_says_so_in_the_result_letter(tmp_path_factory, monkeypatch):
    """焦作: 74.85 points reads as C级; the county is told its D级 comes from the veto it incurred."""
    path = next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016")
    r = run(path, tmp_path_factory, monkeypatch)
    names = {v.code: v.name for v in r.programme.assessment.vetoes}
    assert r.vetoed, "the simulated round has no vetoed county: the test reads nothing"
    results = {m.unit_code: m.body for m in r.messages if m.action.startswith("results:")}
    for unit, veto in r.vetoed.items():
        # (followed by its bonus and deduction items, where it has any)
        assert f"说明：因{names[veto]}，实行一票否决，等次定为D级" in results[unit], results[unit]
    assert not any("一票否决" in body for unit, body in results.items() if unit not in r.vetoed)



@pytest.mark.parametrize("stem", ["ha-county-assessment-2015", "jz-assessment-2016"])
def test_a_unit_owing_a_rectification_because_of_a_veto_is_told_so(stem, tmp_path_factory, monkeypatch):
    """淮安's 金湖县 was told only "排名后2名": it is last because of its accident, not its score."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    names = {v.code: v.name for v in r.programme.assessment.vetoes}
    letters = {m.unit_code: m.body for m in r.messages if m.subject.startswith("【整改通知】")}
    assert set(r.vetoed) & set(letters), "no vetoed unit owes a rectification here: the test reads nothing"
    for unit, body in letters.items():
        told = f"（因{names[r.vetoed[unit]]}，实行一票否决）。" if unit in r.vetoed else None
        assert (told in body) if told else "一票否决" not in body, body
    # One there by its rank is told its place, one of the last (淮阴区 read "排名后2名" and not which).
    [stage] = [s for s in r.programme.stages if s.kind is StageKind.followup]
    if stage.owed_by.rank is not None:
        assessed = len(r.programme.units_matching(r.programme.assessment.subjects))
        places = [int(m.group(1)) for u, body in letters.items() if u not in r.vetoed
                  for m in [re.search(r"排名后\d+名（第(\d+)名）。", body)] if m]
        assert places and len(places) == len(set(letters) - set(r.vetoed))
        assert all(assessed - stage.owed_by.rank.bottom < n <= assessed for n in places), places


def test_a_taker_whose_project_fails_its_evaluation_is_told_so_with_the_results(tmp_path_factory, monkeypatch):
    """四川: the results go to the takers; one whose project was not confirmed (评价确认不予通过)
    hears it then, by name of the project, not nothing."""
    path = next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023")
    r = run(path, tmp_path_factory, monkeypatch)
    failed = [d.subject for d in r.decisions if d.stage == "evaluation" and d.outcome in NEGATIVE_OUTCOMES]
    assert failed, "no project failed its evaluation in the simulated round: the test reads nothing"
    letters = [m for m in r.messages if m.action.startswith("results:")]
    for subject in failed:
        unit, _, item = subject.partition(":")
        name = next(i.name for _, i in r.programme.items if i.code == item)
        assert any(m.unit_code == unit and f"{name}：未通过评价确认" in m.body for m in letters), subject


def test_an_office_escalating_to_its_own_superior_reports_and_names_only_its_units_as_its_own(
        tmp_path_factory, monkeypatch):
    """淮安 and 榆阳 escalate to the government above the office: a report asking it to urge (报请督办),
    not an order to report back to the office. A report up names the late units as they are: "贵单位所属"
    is how an office writes down to its own units, not up to its government (a reader's finding)."""
    for stem in ("ha-county-assessment-2015", "yy-quality-plan-2025"):
        r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
        letters = [m for m in r.messages if name_of(m.action).split(":")[1:2] == ["escalation"]]
        assert letters, stem
        for m in letters:
            assert m.subject.startswith("【报请督办】") and "特此报告" in m.body and "反馈" not in m.body, m.body
            named = m.body.split("应于", 1)[0].splitlines()[-1].split("、")
            assert "贵单位" not in m.body and "所属" not in m.body, m.body
            assert named and set(named) <= {u.name for u in r.programme.units}, m.body
            # The run's own account says the same: reported to its superior, not "督办 1 个上级".
            superior = r.programme.unit(m.unit_code).name
            assert f"报请{superior}督办" in r.notes[m.action] and "个上级" not in r.notes[m.action], r.notes[m.action]


def test_a_long_decision_request_gives_the_command_for_the_rest_with_the_rounds_own_file(tmp_path_factory,
                                                                                        monkeypatch):
    path = next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023")  # 22 applications to review: 20 listed
    r = run(path, tmp_path_factory, monkeypatch)
    request = next(m for m in r.messages if m.action.startswith("takers_review:decision_due"))
    assert f"完整清单：qcycle decide {path} --list；" in request.body, request.body


def test_a_place_left_vacant_is_said_once_for_a_firms_two_awards(tmp_path_factory, monkeypatch):
    """温州's 评审结果 to a firm ranked for both its awards said "名额内的候选在此后评审中未获通过的，名额空缺，不由后续
    名次递补" after each award's rank, the second time word for word. Said once, after the last (seed 76 ranks a firm
    for both awards with places left vacant in both; another seed may be needed if the simulated year changes)."""
    p, timetable, messages = _played("wz-mayor-quality-award-2021", 76, tmp_path_factory, monkeypatch)
    said = [m.body for m in messages if "不由后续名次递补" in m.body]
    both = [b for b in said if b.count("该项目得分排名第") > 1 and b.count("的获奖名额不超过") > 1]
    assert both, said  # the case arises: a firm ranked for two awards, places vacant in both
    assert all(b.count("不由后续名次递补") == 1 for b in said), [b for b in said if b.count("不由后续名次递补") > 1]
    # The letter check's rule for it, on this seed too (its other rules run on seed 5 above).
    assert [x for m in messages for x in problems_of(p, timetable, m) if x.startswith("a clause said twice")] == []


def test_a_refusal_of_an_entry_named_like_the_round_names_its_category_in_the_subject(tmp_path_factory, monkeypatch):
    """温州's late 市长质量奖 application was answered "【不予受理】2021年度温州市市长质量奖评审：“温州市市长质量奖”申报
    材料逾期提交": the award twice in one subject. The subject says its category; the letter names the entry (seed 4
    refuses one such entry as late)."""
    p, timetable, messages = _played("wz-mayor-quality-award-2021", 4, tmp_path_factory, monkeypatch)
    refused = [m for m in messages if m.subject.startswith("【不予受理】")]
    award = [m for m in refused if "提交的“温州市市长质量奖”申报材料" in m.body]
    assert award, [m.subject for m in refused]
    assert all(m.subject == "【不予受理】2021年度温州市市长质量奖评审：质量奖申报材料逾期提交" for m in award), award
    assert [x for m in refused for x in problems_of(p, timetable, m)] == []


def test_a_results_letter_of_one_category_says_only_the_reports_missed_for_its_items(tmp_path_factory, monkeypatch):
    """The national year's 探索试点类 results told a county "未提交中期检查（进展报告，2025年10月）" of a report its 探索试点
    item had sent: the miss was its 质量创新 item's (a window owed item by item was read unit by unit). Each miss a
    category's letter says is one of that unit's items of the category (400 units of bench/generate.py: one such miss
    at seed 5)."""
    from bench import generate

    path = generate.write_programme(tmp_path_factory.mktemp("national"), 400)
    use_home(monkeypatch, tmp_path_factory.mktemp("national-home"))
    try:
        p, _, round_id = play_programme(path, seed=5)
        with db.session_scope() as session:
            letters = [m for m in session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all()
                       if m.action.startswith("results:")]
            handed = set(session.exec(select(Submission.unit_code, Submission.item_code, Submission.period).where(
                Submission.round_id == round_id, Submission.stage == "midterm", Submission.status == "accepted")).all())
            taken = [tuple(x.split(":")) for x in session.exec(select(Decision.subject).where(
                Decision.round_id == round_id, Decision.stage == "takers_review", Decision.outcome == "approved")).all()]
    finally:
        leave_home()
    category = {c.name: c.code for c in p.categories}
    said = []
    for m in letters:
        of = category[re.search(r"（([^（）]+?)类）$", m.subject).group(1)]
        for year, month in re.findall(r"未提交中期检查（进展报告，(\d{4})年(\d{1,2})月", m.body):
            owing = [i for u, i in taken if u == m.unit_code and p.item_category[i] == of
                     and (u, i, f"{year}-{int(month):02d}") not in handed]
            # And it names the item (366 counties' letters had listed "1. 未提交中期检查（…）；2. 未提交评价确认申请"
            # with no item at all), once however much the item missed.
            names = [i.name for _, i in p.items if i.code in owing]
            said.append((m.unit_code, of, year, month, bool(owing) and any(f"{n}：" in m.body for n in names)))
            assert not any(m.body.count(f"{n}：") > 1 for n in names), m.body
    assert said and all(owed for *_, owed in said), [x for x in said if not x[-1]]
    # A letter whose one line is an item's reads as a list ("结果如下：\n某项：…"), not "结果为：某项：…".
    assert not [m.body for m in letters if any(s.count("：") > 1 for s in re.split(r"[。；\n]", m.body))]


def test_items_that_missed_one_line_are_named_together(tmp_path_factory, monkeypatch):
    """四川's 雅安 read "说明：“A”得分未达到合格分数线（60分）；“B”得分未达到合格分数线（60分）；“C”…" in one result: the
    line is said once, after the items that missed it (seed 2 fails two items of a city on it)."""
    p, timetable, messages = _played("sc-jbgs-2023", 2, tmp_path_factory, monkeypatch)
    results = [m for m in messages if m.action.startswith("results:")]
    together = [m.body for m in results if re.search(r"”、“[^”]+”得分未达到合格分数线（60分）", m.body)]
    assert together, [m.body for m in results if "分数线" in m.body][:2]
    assert [x for m in results for x in problems_of(p, timetable, m) if x.startswith("a line missed")] == []


def test_a_candidate_on_a_list_of_two_awards_is_told_which_it_is_proposed_for(tmp_path_factory, monkeypatch):
    """广州's 公示 lists the 市长质量奖 and its 提名奖: a nominee is not told it is on the list as if for the award."""
    r = run(next(p for p in PROGRAMMES if p.stem == "gz-mayor-quality-award-2024"), tmp_path_factory, monkeypatch)
    notices = {m.unit_code: m.body for m in r.messages if m.action.startswith("notice:")}
    nominees = {m.unit_code for m in r.messages if m.action.startswith("award_nominee:")}
    winners = {m.unit_code for m in r.messages if m.action.startswith("award:")}
    assert nominees and winners
    assert {u for u, body in notices.items() if "贵单位拟获市长质量奖提名奖，已列入" in body} == nominees
    assert {u for u, body in notices.items() if "贵单位拟获市长质量奖，已列入" in body} == winners
    # The list itself gives the award's candidates first, then the nominees (太仓's mixed its two tiers).
    roster = next(iter(notices.values())).partition("公示名单")[2]
    tiers = re.findall(r"（拟获(市长质量奖(?:提名奖)?)）", roster)
    assert tiers == sorted(tiers, key=len) and len(tiers) == len(nominees | winners), roster


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_a_refused_late_hand_in_is_answered_by_the_next_safety_net_run(path, tmp_path_factory, monkeypatch):
    """四川's 揭榜书 handed in on 26 April were answered on 3 July in the simulated year (its next
    action); a deployment's safety net answers them within half a working day, and so does the year."""
    from qcycle.timetable import next_safety_net
    from qcycle.workcal import WorkCalendar

    r = run(path, tmp_path_factory, monkeypatch)
    refusals = [m for m in r.messages if ":refused_late" in m.action]
    for m in refusals:
        handed = re.search(r"贵单位于(\d{4})年(\d{1,2})月(\d{1,2})日 (\d{2}):(\d{2})(?::(\d{2}))?提交", m.body)
        when = dt.datetime(*map(int, handed.groups("0")), tzinfo=dt.timezone(dt.timedelta(hours=8)))
        assert m.logical_date <= next_safety_net(when, WorkCalendar()).date(), (m.logical_date, m.body)
    if any(st.lateness == "reject" and st.kind.value == "submission" and not st.voluntary for st in r.programme.stages):
        assert refusals, "a refusing window with no late hand-in refused: the test reads nothing"


def test_an_applicant_left_off_the_takers_list_is_told_so(tmp_path_factory, monkeypatch):
    """四川's 绵阳 applied, was turned down at the review and heard nothing more: the list's letter now
    reaches it too, saying which of its items is not on the list and why (it read "贵单位未列入" alone)."""
    r = run(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023"), tmp_path_factory, monkeypatch)
    review = [d for d in r.decisions if d.stage == "takers_review"]
    approved = {d.subject.partition(":")[0] for d in review if d.outcome not in NEGATIVE_OUTCOMES}
    left_off = {d.subject.partition(":")[0] for d in review if d.outcome in NEGATIVE_OUTCOMES} - approved
    assert left_off, "no applicant was turned down in the simulated round: the test reads nothing"
    letters = {m.unit_code: m.body for m in r.messages if m.action.startswith("takers_list:")}
    # A list of items counts them beside the units (名单共列入10个项目（9个单位）).
    items = {d.subject for d in review if d.outcome not in NEGATIVE_OUTCOMES}
    counted = f"{len(items)}个项目（{len(approved)}个单位）" if len(items) != len(approved) else f"{len(approved)}个单位"
    said = {u: re.search(f"发布揭榜名单，名单共列入{re.escape(counted)}，贵单位申报的(.+?)。\n", body) for u, body in letters.items()}
    assert {u for u, found in said.items() if found} == left_off
    for u in left_off:  # each item with its own reason (the step tells its reasons)
        told = [f"“{r.programme.item_names[d.subject.partition(':')[2]]}”未列入（{d.note}）" for d in review
                if d.subject.partition(":")[0] == u]
        assert told and sorted(said[u][1].split("、")) == sorted(told), said[u][0]
    assert {u for u, body in letters.items() if f"贵单位已列入该名单（共{len(approved)}个单位）" in body} == approved


def test_units_on_a_list_are_told_what_they_will_owe_and_by_when(tmp_path_factory, monkeypatch):
    """A pilot named in May heard of its 中期报告 and 18-month 验收申请 only as each window opened: the
    list's letter tells each unit on it what it will owe, by its own categories (四川's 创先引领 items
    report once more in 2024 and ask for evaluation a year later); those left off are told nothing of it."""
    r = run(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023"), tmp_path_factory, monkeypatch)
    review = [d for d in r.decisions if d.stage == "takers_review"]
    approved = {d.subject for d in review if d.outcome not in NEGATIVE_OUTCOMES}
    categories: dict[str, set[str]] = {}
    for subject in approved:
        categories.setdefault(subject.partition(":")[0], set()).add(r.programme.item_category[subject.partition(":")[2]])
    letters = {m.unit_code: m.body for m in r.messages if m.action.startswith("takers_list:")}
    assert {"cxyl"} < set().union(*categories.values()), "no 创先引领 taker beside the others: the test reads less"
    names = {"cxyl": "创先引领", "zlcx": "质量创新", "tssd": "探索试点"}
    for unit, mine in categories.items():
        owed = ["中期检查（进展报告）：2023年7月14日、2023年10月20日前"]
        owed += ["中期检查（进展报告，创先引领类）：2024年6月14日前"] if "cxyl" in mine else []
        owed += [f"评价确认申请（{names[c]}类）：2023年12月20日前" for c in sorted(mine - {"cxyl"})]
        owed += ["评价确认申请（创先引领类）：2024年12月20日前"] if "cxyl" in mine else []
        told = re.search("此后贵单位须按时提交：\n(.+?)\n\n", letters[unit], re.DOTALL)
        assert told, letters[unit]
        assert sorted(re.sub(r"^\d+\. |[；。]$", "", line) for line in told[1].splitlines()) == sorted(owed), told[1]
    assert not [u for u, body in letters.items() if u not in categories and "此后" in body]
    # The call owes nothing yet to anyone (its application is voluntary, announced in the call itself).
    assert not [m for m in r.messages if m.action.startswith("publish_list:") and "此后" in m.body]


# Award letters signed by the government that confers the award (太仓's 办法 excerpt does not say who
# does: a 市长质量奖 is the city government's, its file says so as an assumption).
GOVERNMENT_AWARDS = ["bs-quality-award-4", "fz-government-quality-award-2024", "gz-mayor-quality-award-2024",
                     "tc-mayor-quality-award-2024", "ts-government-quality-award-2024", "wz-mayor-quality-award-2021",
                     "yy-government-quality-award-2026"]


@pytest.mark.parametrize("stem", ["ha-county-assessment-2015", "yy-quality-plan-2025"])
def test_a_result_names_the_indicators_not_met_with_figure_and_target(stem, tmp_path_factory, monkeypatch):
    """淮安's counties read "工作指标完成情况48.00分" and could not tell which indicators to rectify:
    each letter of a unit whose indicators part is short names those it missed, its figure and the
    target, and a unit with the part in full names none."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    scheme = r.programme.assessment
    [part] = [c for c in scheme.components if c.source == "indicators"]
    full = f"{part.name}{part.max_points or part.weight * scheme.scale:.2f}分"  # type: ignore[operator]
    results = [m for m in r.messages if m.channel == "email" and f"{part.name}" in m.body and "各部分得分" in m.body]
    assert results
    for m in results:
        names = [i.name for i in scheme.indicators if i.name in m.body.partition("未完成的指标：")[2]]
        assert bool(names) == (full not in m.body), m.body
        assert all(re.search(rf"{re.escape(n)}[^；。]*（(?:[^；。（）]*，)?目标[≥≤＞＜]?\d", m.body) for n in names), m.body
    if stem.startswith("ha-"):  # every county there misses some (榆阳's district figures met them all here)
        assert any("未完成的指标：" in m.body for m in results)


def test_a_result_tells_what_its_grade_brings_where_no_honour_is_sent(tmp_path_factory, monkeypatch):
    """四川 promises its 优秀 takers 加分激励 and 经费倾斜 but sends no 通报表扬: 雅安's 优秀 letter gave
    the score alone. The result letter says it, and only to units with an item graded 优秀."""
    r = run(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023"), tmp_path_factory, monkeypatch)
    [best] = [g for g in r.programme.assessment.grades if g.benefits]
    results = [m for m in r.messages if m.subject.startswith("【评价确认结果】") and m.channel == "email"]
    promise = f"按规定，对评为{best.name}的项目，四川省市场监督管理局将{'，'.join(best.benefits)}。"
    told = [m for m in results if promise in m.body]
    assert told and all(f"{best.name}（得分" in m.body or f"结果为：{best.name}" in m.body for m in told)
    assert not [m for m in results if promise not in m.body and (f"{best.name}（得分" in m.body
                                                                  or f"结果为：{best.name}" in m.body)]


@pytest.mark.parametrize("stem", ["fz-government-quality-award-2024", "jz-assessment-2016"])
def test_an_honour_lists_what_its_grade_brings_and_a_result_its_bonus(stem, tmp_path_factory, monkeypatch):
    """福州's award is 奖牌、证书 and 100万元, 焦作's A 在项目安排上优先考虑: the letters of the honour
    said neither. 焦作's 解放区 is A by its bonus: its result letter says so beside the total."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    benefits = {g.name: g.benefits for g in r.programme.assessment.grades if g.benefits}
    honours = [m for m in r.messages if m.subject.startswith(("【授奖通知】", "【通报表扬】"))]
    assert benefits and honours
    for m in honours:
        [grade] = [g for g in benefits if g in m.body]
        assert all(b in m.body for b in benefits[grade]) and "享受以下" in m.body, m.body
    results = [m for m in r.messages if m.unit_code in r.bonused and "得分" in m.body and m.channel == "email"]
    assert bool(results) == (stem == "jz-assessment-2016")  # 福州's scheme has no bonus
    assert all("含加分" in m.body or "已扣" in m.body for m in results), [m.body for m in results][:1]
    # And names the items: "说明：辖区企业获得省长质量奖或市长质量奖2家，加2分" (解放区's A was a bare "+2").
    scheme = r.programme.assessment
    named = [b.name.partition("（每")[0] for b in [*scheme.bonuses, *scheme.deductions]]
    assert all(any(n in m.body.partition("说明：")[2] for n in named) for m in results), [m.body for m in results][:1]


def test_a_result_says_where_a_cap_cut_its_bonus_or_deduction_points():
    """Each item within its own cap, and the total's cap where it cut the sum (焦作: 扣分 at most 10)."""
    from qcycle.lifecycle.remarks import result_remarks
    from qcycle.models import AssessmentResult

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016")).programme
    r = AssessmentResult(stage="assessment", unit_code="410802", total=70, bonus=3, deduction=6, grade="C", rank=5)
    said = result_remarks(p, [r], (), {"410802": ({"award": 5}, {"incident": 4})})
    # Each item's own cap said where it cut (某市's 3 honours at 2 points each had read "加5分").
    assert said == ("辖区企业获得省长质量奖或市长质量奖5家，应加5分，按上限计3分；"
                    "发生较大质量安全事件被通报4起，应扣8分，按上限计6分。")
    tight = p.model_copy(update={"assessment": p.assessment.model_copy(update={"deduction_cap": 4})})
    r = AssessmentResult(stage="assessment", unit_code="410802", total=70, bonus=0, deduction=4, grade="C", rank=5)
    assert result_remarks(tight, [r], (), {"410802": ({}, {"incident": 3})}) == (
        "发生较大质量安全事件被通报3起，应扣6分；扣分合计按上限计4分。")  # not two sums (设区市考核)


def test_a_result_held_below_a_line_it_reached_by_a_share_says_so():
    """An officer's 优秀 "得分90分以上且不超过30%": a unit above the line, held back by the share, read
    "良好（得分92.00）" and nothing of why. The nearest capped grade above is named, with its limits."""
    from qcycle.lifecycle.remarks import Graded, result_remarks
    from qcycle.models import AssessmentResult
    from qcycle.schema.assessment import Grade

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016")).programme
    grades = [Grade(name="A", min_score=90, share=0.3), Grade(name="B", min_score=80, max_count=3, share=0.5),
              Grade(name="C", min_score=60), Grade(name="D")]
    shares = p.model_copy(update={"assessment": p.assessment.model_copy(update={"grades": grades, "ties": "shared"})})
    held = AssessmentResult(stage="assessment", unit_code="410802", total=92, grade="B", rank=4)
    assert result_remarks(shares, [held]) == "A级比例不超过参评对象的30%，贵单位得分排名第4。"
    # Tied first over one place (某省's two counties at 90.00): the tie is said, not a bare "排名第1".
    tie = AssessmentResult(stage="assessment", unit_code="410802", total=92, grade="B", rank=1)
    assert result_remarks(shares, [tie], sizes={"410802": Graded(5, 2, None, "")}) == (
        "A级比例不超过参评对象的30%（参评5个，按比例A级名额1个），贵单位得分排名第1（2个并列，超出名额的并列者整组评为下一等次）。")
    # Tied sixth under 3 places: the tie did not put it below the line, and nothing is said of it.
    sixth = AssessmentResult(stage="assessment", unit_code="410802", total=92, grade="B", rank=6)
    assert result_remarks(shares, [sixth], sizes={"410802": Graded(10, 2, None, "")}) == (
        "A级比例不超过参评对象的30%（参评10个，按比例A级名额3个），贵单位得分排名第6。")
    # Counted over those not vetoed (某省: 20 % of 12 enterprises, 3 vetoed, is 1 place): said, with how many.
    second = AssessmentResult(stage="assessment", unit_code="410802", total=92, grade="B", rank=2)
    assert result_remarks(shares, [second], sizes={"410802": Graded(9, 1, None, "", 3)}) == (
        "A级比例不超过参评对象的30%（参评12个，一票否决的3个不计，按比例A级名额2个），贵单位得分排名第2。")
    twice = AssessmentResult(stage="assessment", unit_code="410802", total=92, grade="C", rank=7)
    assert result_remarks(shares, [twice]) == "B级名额不超过3个、比例不超过参评对象的50%，贵单位得分排名第7。"
    below = AssessmentResult(stage="assessment", unit_code="410802", total=85, grade="B", rank=5)
    assert result_remarks(shares, [below]) is None  # 85 did not reach A's line: nothing was held back
    # A share without a line above a line missed: 70 is C for missing B's 80, not for A's share; 50 missed C's 60.
    unlined = [Grade(name="A", share=0.3), Grade(name="B", min_score=80), Grade(name="C", min_score=60), Grade(name="D")]
    lines = p.model_copy(update={"assessment": p.assessment.model_copy(update={"grades": unlined})})
    seventy = AssessmentResult(stage="assessment", unit_code="410802", total=70, grade="C", rank=9)
    fifty = AssessmentResult(stage="assessment", unit_code="410802", total=50, grade="D", rank=12)
    assert result_remarks(lines, [seventy]) is None
    assert result_remarks(lines, [fifty]) == "得分未达到C级分数线（60分）。"


def test_a_place_refused_by_cumulative_bands_names_the_band_it_counts_with():
    """Under bands from the top (一等奖前10%、二等奖接下来的20%) 17 subjects give 二等奖 4 places, 24 % of
    them: "二等奖比例不超过参评对象的20%" beside 4 places would be false. The band's share is said with the
    grades it is counted with."""
    from qcycle.lifecycle.remarks import Graded, result_remarks
    from qcycle.models import AssessmentResult
    from qcycle.schema.assessment import Grade

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016")).programme
    grades = [Grade(name="一等奖", min_score=70, share=0.1), Grade(name="二等奖", min_score=70, share=0.2),
              Grade(name="三等奖", min_score=70), Grade(name="未获奖")]
    banded = p.model_copy(update={"assessment": p.assessment.model_copy(
        update={"grades": grades, "share_rounding": "cumulative"})})
    sixth = AssessmentResult(stage="assessment", unit_code="410802", total=88, grade="三等奖", rank=6)
    assert result_remarks(banded, [sixth], sizes={"410802": Graded(17, 1, None, "")}) == (
        "二等奖与一等奖合计比例不超过参评对象的30%（参评17个，按比例二等奖名额4个），贵单位得分排名第6。")
    second = AssessmentResult(stage="assessment", unit_code="410802", total=90, grade="二等奖", rank=2)
    assert result_remarks(banded, [second], sizes={"410802": Graded(17, 1, None, "")}) == (
        "一等奖比例不超过参评对象的10%（参评17个，按比例一等奖名额1个），贵单位得分排名第2。")


def test_a_publicity_of_results_says_the_places_each_grade_may_take():
    """QC小组's 公示 listed 88.39 as 三等奖 and 85.71 as 优秀奖 under a rule of "70分以上" for awards, and said nothing
    of the caps that held them there: objections would follow."""
    from qcycle.lifecycle.remarks import places_rule
    from qcycle.schema.assessment import Grade

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016")).programme
    grades = [Grade(name="一等奖", min_score=70, share=0.1), Grade(name="二等奖", min_score=70, share=0.2),
              Grade(name="三等奖", min_score=70, share=0.3), Grade(name="优秀奖", min_score=60), Grade(name="未获奖")]
    banded = p.model_copy(update={"assessment": p.assessment.model_copy(
        update={"grades": grades, "share_rounding": "cumulative"})})
    assert places_rule(banded) == ("按规定，一等奖不超过参评对象的10%，二等奖与一等奖合计不超过参评对象的30%，"
                                   "三等奖与一等奖、二等奖合计不超过参评对象的60%。")
    each = p.model_copy(update={"assessment": p.assessment.model_copy(update={"grades": [
        Grade(name="A", min_score=90, max_count=2, share=0.3), Grade(name="B", min_score=60), Grade(name="C")]})})
    assert places_rule(each) == "按规定，A级名额不超过2个、不超过参评对象的30%。"
    assert places_rule(p) is None  # 焦作's grades have lines only


def test_what_a_unit_never_handed_in_is_said_before_its_items_not_after_the_last():
    """绩效评价's 通报 read "“食品快检能力提升”：不合格（得分26.99）；未提交年度绩效自评报告": the report missing was the
    unit's other project's, and every unit read it as this one's."""
    from qcycle.lifecycle.summaries import summary_lines
    from qcycle.models import AssessmentResult

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023")).programme
    graded = AssessmentResult(stage="evaluation_scoring", unit_code="510300:cxyl-02", total=26.99, grade="不合格", rank=9)
    lines = summary_lines(p, [""], {"510300": [graded]}, {}, {"510300": [("midterm", None, "未提交中期检查")]},
                       everyone=True)[""][1]
    assert lines == ["自贡市市场监督管理局：未提交中期检查；“争创国家级质量标准实验室”：不合格（得分26.99）"], lines


def test_a_cap_counted_per_category_names_the_category_not_the_project():
    """某市's 验收 (优秀 ≤ 20 %, each category apart) told a pilot "先进制造业标准化试点的优秀比例不超过参评对象的
    20%", as if its project had a cap of its own: the places are the category's. 温州's award, one item a
    category, keeps the award's name; a round counted as a whole names no group."""
    from qcycle.lifecycle.remarks import Graded, result_remarks
    from qcycle.models import AssessmentResult
    from qcycle.schema.assessment import Grade

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "wz-mayor-quality-award-2021")).programme
    grades = [Grade(name="优秀", min_score=90, share=0.2), Grade(name="合格")]
    shares = p.model_copy(update={"assessment": p.assessment.model_copy(update={"grades": grades, "ties": "shared"})})
    held = AssessmentResult(stage="scoring", unit_code=f"{p.units[-1].code}:zl-award", total=95, grade="合格", rank=2)
    assert result_remarks(shares, [held]) == "温州市市长质量奖的优秀比例不超过参评对象的20%，该项目得分排名第2。"
    zl = p.category("zl")
    second = zl.items[0].model_copy(update={"code": "zl-second", "name": "温州市质量标杆"})
    wider = shares.model_copy(update={"categories": [zl.model_copy(update={"items": [*zl.items, second]}),
                                                     *[c for c in p.categories if c.code != "zl"]]})
    assert result_remarks(wider, [held]) == "质量奖的优秀比例不超过参评对象的20%，该项目得分排名第2。"
    # A category of one project that is no award is still named as the category (某市's 农业标准化).
    pilot = zl.model_copy(update={"name": "农业标准化", "items": [zl.items[0].model_copy(update={"name": "示范基地"})]})
    farm = shares.model_copy(update={"categories": [pilot, *[c for c in p.categories if c.code != "zl"]]})
    assert result_remarks(farm, [held]) == "农业标准化类项目的优秀比例不超过参评对象的20%，该项目得分排名第2。"
    # The first of 3 under 20 %: there was no place, not one taken by others.
    first = held.model_copy(update={"rank": 1})
    assert result_remarks(farm, [first], sizes={first.unit_code: Graded(3, 1, None, "")}) == (
        "农业标准化类项目的优秀比例不超过参评对象的20%（参评3个，按比例优秀名额不足1个），该项目得分排名第1。")
    assert "不足1个" not in result_remarks(farm, [first], sizes={first.unit_code: Graded(5, 1, None, "")})
    whole = wider.model_copy(update={"stages": [s.model_copy(update={"per_category": {}}) for s in wider.stages]})
    assert result_remarks(whole, [held]) == "优秀比例不超过参评对象的20%，该项目得分排名第2。"


def test_a_task_reads_with_its_own_verb_and_measure_word_and_a_county_goal_as_the_countys():
    """某县's tasks all read "培育N家以上" (开展质量安全隐患排查：培育12家以上) and its goals "全市目标"."""
    from qcycle.lifecycle.quota_wording import quota_goals, quota_tasks
    from qcycle.schema.units import Unit

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "zs-csy-ybq-2011")).programme
    assert quota_tasks(p, "zs-zj")[0] == "质量管理创优行动（质量管理标杆企业）：培育10家以上"  # as 舟山 writes it
    assert quota_goals(p, {})[0].startswith("质量管理创优行动（质量管理标杆企业）：全市目标20家以上")
    # A task one unit holds alone is its own, not the city's goal told to every unit ("尚差1项" was 住建局's).
    alone = p.model_copy(update={"quotas": p.quotas.model_copy(update={"actions": [
        p.quotas.actions[0].model_copy(update={"per_unit": {"zs-zj": 10}}), *p.quotas.actions[1:]]})})
    assert [g.partition("：")[0] for g in quota_goals(alone, {})] == [a.name for a in p.quotas.actions[1:]]
    checks = p.quotas.actions[0].model_copy(update={"name": "开展质量安全隐患排查", "verb": "开展", "counter": "次"})
    county = p.model_copy(update={
        "quotas": p.quotas.model_copy(update={"actions": [checks]}),
        "units": [u if u.code != p.round.issuer else Unit(**{**u.model_dump(), "level": "county", "name": "某县人民政府"})
                  for u in p.units]})
    assert quota_tasks(county, "zs-zj") == ["开展质量安全隐患排查：开展10次以上"]
    assert quota_tasks(county, "zs-zj", {"glcy": 12}) == ["开展质量安全隐患排查：任务10次以上，完成12次"]
    assert quota_goals(county, {"zs-zj": {"glcy": 12}}) == ["开展质量安全隐患排查：全县目标20次以上，各单位合计完成12次，尚差8次"]
    # An office as issuer, named for its county; and the result letter's heading over the goals.
    from qcycle.lifecycle.quota_wording import quota_area
    from qcycle.render import render_message

    office = p.model_copy(update={"units": [u if u.code != p.round.issuer else Unit(
        **{**u.model_dump(), "level": "office", "name": "某县质量强县工作领导小组办公室"}) for u in p.units]})
    district = p.model_copy(update={"units": [u if u.code != p.round.issuer else Unit(
        **{**u.model_dump(), "level": "county", "name": "宝山区市场监督管理局"}) for u in p.units]})
    assert (quota_area(office), quota_area(p), quota_area(district)) == ("全县", "全市", "全区")
    assert quota_goals(p, {}, 2010)[0].endswith("各单位合计完成0家，尚无进度要求")  # before the plan: none due
    _, body = render_message("result.j2", {"unit_name": "某局", "programme_name": "某县创建", "result_label": "考核结果",
                                           "result": "合格", "sender_name": "某办", "today": dt.date(2025, 12, 30),
                                           "goals": ["开展排查：全县目标20次以上，各单位合计完成12次，尚差8次"],
                                           "goals_area": "全县"})
    assert "\n全县目标完成情况：\n1. 开展排查" in body and "全市" not in body, body


def test_a_plan_tells_each_unit_its_tasks_and_its_result_what_it_reached(tmp_path_factory, monkeypatch):
    """舟山's departments were never told their tasks (质监 10 质量管理标杆企业, …), and their final
    result said "B级（得分87.50）" where 80 % of the score is what they reached against them; nor
    was anyone told how the city stood against its goals."""
    r = run(next(p for p in PROGRAMMES if p.stem == "zs-csy-ybq-2011"), tmp_path_factory, monkeypatch)
    plan = r.programme.quotas
    mail = [m for m in r.messages if m.channel == "email"]
    totals: Counter[str] = Counter()
    results: list[str] = []
    for unit in {u for a in plan.actions for u in a.per_unit}:
        tasks = [f"{a.name}：培育{a.per_unit[unit]}家以上" for a in plan.actions if unit in a.per_unit]
        launch = [m.body for m in mail if m.unit_code == unit and m.action.startswith("launch:")]
        opened = [m.body for m in mail if m.unit_code == unit and m.action.startswith(f"{plan.progress_stage}:window_open")]
        [result] = [m.body for m in mail if m.unit_code == unit and m.subject.startswith("【考核结果】")]
        assert launch and opened and all(t in b for t in tasks for b in launch + opened), (launch, opened)
        reached = re.findall(r"：任务(\d+)家以上，完成(\d+)家", result)
        assert [int(t) for t, _ in reached] == [a.per_unit[unit] for a in plan.actions if unit in a.per_unit], result
        done = dict(zip((a.code for a in plan.actions if unit in a.per_unit), (int(n) for _, n in reached), strict=True))
        totals.update(done)
        results.append(result)
    # And the city-wide goals (20/20/30/30, the 百强) against what the departments reached together,
    # the same in every letter: never reported before.
    assert len(results) == 4
    for a in plan.actions:
        short = a.goal - totals[a.code]
        line = (f"{a.name}：全市目标{a.goal}家以上，各单位合计完成{totals[a.code]}家，"
                + ("已完成目标" if short <= 0 else f"尚差{short}家"))
        assert all("全市目标完成情况：" in b and line in b for b in results), (line, results[0])


def test_a_report_owed_to_another_office_is_reminded_as_sent_to_it(tmp_path_factory, monkeypatch):
    """焦作's rectification report goes to the city government: the notice and the overdue letter
    said "报送焦作市人民政府", the reminders between them "提交" (to the office writing)."""
    r = run(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016"), tmp_path_factory, monkeypatch)
    reminders = [m.body for m in r.messages if m.action.startswith("rectification:reminder")]
    assert reminders and all("将书面整改报告报送焦作市人民政府" in b and "提交" not in b for b in reminders), reminders[:1]


def test_an_upheld_objection_names_its_candidate_and_that_candidate_is_not_awarded(tmp_path_factory, monkeypatch):
    """宝山's simulated office upheld eight objections of nine, naming nobody, and awarded every
    candidate: the year a demonstration shows must read as an office's would."""
    r = run(next(p for p in PROGRAMMES if p.stem == "bs-quality-award-4"), tmp_path_factory, monkeypatch)
    p = r.programme
    on_objections = [d for d in r.decisions if d.stage in p.objection_decisions]
    upheld = [d for d in on_objections if d.outcome not in NEGATIVE_OUTCOMES]
    assert upheld and len(upheld) < len(on_objections) / 2, [(d.subject, d.outcome) for d in on_objections]
    named = {u.code for d in upheld for u in p.units if u.name in d.note}
    assert len(named) >= 1 and all(any(u.name in d.note for u in p.units) for d in upheld)
    later = [d for d in r.decisions if d.subject in named and d.decided_at > max(x.decided_at for x in upheld)]
    assert later and all(d.outcome in NEGATIVE_OUTCOMES for d in later), [(d.subject, d.stage, d.outcome) for d in later]
    assert not [m for m in r.messages if m.unit_code in named and m.subject.startswith("【授奖通知】")]
    # …and it is told why, as the reviewers were (宝山's 审定 tells its reasons).
    told = [m.body for m in r.messages if m.unit_code in named and m.subject.startswith("【结果告知】")]
    assert told and all("异议经核实成立" in b for b in told), told
    # A reply says it was checked once: "经调查核实，异议不成立。核实情况：…", not "核实情况：经核查，…".
    replies = [m.body for m in r.messages if m.subject.startswith("【异议处理结果】")]
    assert replies and not [b for b in replies if "核实情况：经" in b or "。特此函复" in b], replies[:1]


@pytest.mark.parametrize("stem", GOVERNMENT_AWARDS)
def test_a_winner_is_told_its_award_once(stem, tmp_path_factory, monkeypatch):
    """广州's nominee heard its 提名奖 from the government (授奖) and again the same day from the
    secretariat as a result: one award, one letter."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    awarded = {(m.unit_code, m.channel) for m in r.messages if m.subject.startswith("【授奖通知】")}
    told_again = [m for m in r.messages if (m.unit_code, m.channel) in awarded
                  and m.subject.startswith("【") and "结果" in m.subject.split("】")[0]
                  and any(grade in m.body for grade in ("荣获", "结果为：") if "未获奖" not in m.body)]
    assert awarded and not told_again, told_again[0].body if told_again else ""
    # 温州's winner of two awards got two letters with one subject: each names its award, unless the
    # round's name already does (not "2026年度余姚市人民政府质量奖：余姚市人民政府质量奖").
    subjects = Counter((m.unit_code, m.channel, m.subject) for m in r.messages if m.subject.startswith("【授奖通知】"))
    assert all(n == 1 for n in subjects.values()), subjects
    for _, _, subject in subjects:
        award = subject.partition("：")[2]
        assert not award or (award not in r.programme.round.name and award not in ("获奖", "未获奖")), subject


@pytest.mark.parametrize("stem", GOVERNMENT_AWARDS)
def test_a_candidate_refused_after_scoring_is_told_its_score_and_rank(stem, tmp_path_factory, monkeypatch):
    """天水's second-placed, refused by the committee, heard only "未通过评审委员会审议" where those
    below it were told their score and rank (its rank where places decide the award)."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    p = r.programme
    on_results = set(p.assessment_stages)
    for s in p.stages:  # the decisions on an assessment's results, through the decisions they decide on
        if s.kind.value == "decision" and s.decides in on_results | {x.code for x in p.stages if x.decides in on_results}:
            on_results.add(s.code)
    refused = {d.subject for d in r.decisions if d.stage in on_results - set(p.assessment_stages)
               and d.outcome in NEGATIVE_OUTCOMES}
    told = [m for m in r.messages if m.subject.startswith("【结果告知】") and m.unit_code in refused]
    # Its rank where a place decides anything (places for the awards); 宝山's awards have none: its score alone.
    said = r"得分\d+\.\d{2}、排名第\d+，未通过" if p.places_decide else r"得分\d+\.\d{2}，未通过"
    assert all(re.search(said, m.body) for m in told), [m.body for m in told][:1]


@pytest.mark.parametrize("stem", GOVERNMENT_AWARDS)
def test_an_award_is_conferred_by_the_government_that_gives_it(stem, tmp_path_factory, monkeypatch):
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    awards = [m for m in r.messages if m.subject.startswith("【授奖通知】")]
    assert awards
    assert all(m.body.rstrip().splitlines()[-2].endswith("人民政府") for m in awards), awards[0].body


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_no_unit_is_told_about_one_overdue_item_twice_in_a_day(path, tmp_path_factory, monkeypatch):
    """An overdue notice (逾期提醒) and a 督办 addressed to the same unit on the same day about the
    same stage say one thing twice: the 督办 says it all (焦作: escalation after one working day,
    by the office itself)."""
    r = run(path, tmp_path_factory, monkeypatch)
    told: dict[tuple, list[str]] = {}
    for m in r.messages:
        for key in m.action.split("+"):  # merged reminders carry each item's action key
            stage, kind = name_of(key).split(":")[:2]
            if kind in ("overdue", "escalation"):
                told.setdefault((m.unit_code, m.channel, m.logical_date, stage), []).append(kind)
    assert {k: v for k, v in told.items() if len(v) > 1} == {}
    if path.stem == "jz-assessment-2016":  # the case that made this test: urged directly, told once
        assert any(v == ["escalation"] for v in told.values())


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_a_committee_reviews_only_the_candidates_proposed_for_an_award(path, tmp_path_factory, monkeypatch):
    """A committee (or the government after it) decides on the list proposed for an award, not on
    a candidate scored below every award: that one would be told the committee refused it (温州,
    广州, 宝山, 太仓, 余姚 before their committees named their candidates with ``among``). Each
    such candidate still learns its result where the programme sends results."""
    r = run(path, tmp_path_factory, monkeypatch)
    assert r.decided_unplaced == []
    results = {st.code for st in r.programme.stages if st.template == "result"}
    if results and r.unplaced:
        told = {m.unit_code for m in r.messages if name_of(m.action).partition(":")[0] in results}
        assert r.unplaced - told == set()
    if path.stem == "wz-mayor-quality-award-2021":  # the case that made this test
        assert r.unplaced


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_a_candidate_on_a_published_list_is_told_it_is_on_it(path, tmp_path_factory, monkeypatch):
    """A 公示 letter goes to the candidates on the list: it says so, not only that a list is out."""
    r = run(path, tmp_path_factory, monkeypatch)
    notices = {st.code for st in r.programme.stages if st.kind.value == "notice"}
    letters = [m for m in r.messages if name_of(m.action).partition(":")[0] in notices and "，未列入" not in m.body]
    assert all(len(re.findall(r"贵单位(?:拟获[^，。]+，)?已列入", m.body)) == 1 and "对该名单进行公示" in m.body
               for m in letters)
    if notices:  # every award programme publishes its list
        assert letters


@pytest.mark.parametrize("path", PROGRAMMES, ids=lambda p: p.stem)
def test_a_scored_candidate_left_off_a_published_list_is_told_while_it_may_object(path, tmp_path_factory, monkeypatch):
    """天水's third, 0.11 points behind the last winner, first heard of its place at the award,
    weeks after the 公示 had closed: the candidates scored and still in the running hear the list
    on its first day, by email (their standing is their own), with the objection deadline."""
    r = run(path, tmp_path_factory, monkeypatch)
    notices = {st.code: st for st in r.programme.stages if st.kind.value == "notice"
               and st.notify and st.notify.grades}
    if not notices:
        return
    judged = re.compile(r"经(?:评审|评估|考核|验收|评价|评选)，贵单位")  # as the results are named
    told = [m for m in r.messages if name_of(m.action).partition(":")[0] in notices and judged.search(m.body)]
    listed = {m.unit_code for m in r.messages if name_of(m.action).partition(":")[0] in notices and "已列入" in m.body}
    assert not any(judged.search(m.body) for m in r.messages if m.unit_code in listed and
                   name_of(m.action).partition(":")[0] in notices)
    # Every candidate scored and not listed: graded below the list, or refused at a later step (see below).
    refused = {d.subject.partition(":")[0] for d in r.decisions if d.outcome in NEGATIVE_OUTCOMES}
    assert {s.partition(":")[0] for s in r.unplaced_subjects} - listed <= {m.unit_code for m in told}
    assert {m.unit_code for m in told} <= ({s.partition(":")[0] for s in r.unplaced_subjects} | refused) - listed
    for m in told:
        notice = r.programme.stage(name_of(m.action).partition(":")[0])
        # How to object: by the objection window's own deadline, or, with none, while the 公示 runs (its
        # letters said "23:59前" for the end of its last day).
        window = any(r.programme.publicity_of(s.code) is notice for s in r.programme.stages)
        said = (re.search(r"如对公示内容有异议，请于[^，。]+（星期.）[\d:]+前以书面形式", m.body) if window
                else "如对公示内容有异议，请在公示期内以书面形式" in m.body)
        assert m.channel == "email" and said, m.body
        assert window or "23:59" not in m.body, m.body
        assert re.search(r"经(?:评审|评估|考核|验收|评价|评选)，贵单位(?:申报的“[^”]+”)?得分[\d.]+[^。]*，未列入", m.body), m.body
        assert m.body.count("排名第") == 1 or "排名第" not in m.body, m.body
        assert m.logical_date == notice.on, (m.unit_code, m.logical_date)
    # One placed by its score and refused after is told why it is not listed: "排名第2，未列入" with one
    # award listed read as if its rank had kept it off (天水). The step is named, with its reason, or,
    # where a letter of the step's own tells it, said to be told apart (not told twice: 温州).
    from qcycle.lifecycle.standing import steps_told_alone

    apart = steps_told_alone(r.programme)
    unplaced = {s.partition(":")[0] for s in r.unplaced_subjects}
    for m in (m for m in told if m.unit_code in refused - unplaced):
        steps = {d.stage for d in r.decisions if d.outcome in NEGATIVE_OUTCOMES and d.subject.partition(":")[0] == m.unit_code}
        if steps & apart:
            said = re.search(r"说明：[^\n]*未列入的具体原因(已?)另行告知。", m.body)
            assert said, m.body
            # 已另行告知 once the step's own letter has gone (温州's of 9月27日, before its 10月11日 公示), not before.
            own = [x.logical_date for x in r.messages if x.unit_code == m.unit_code and x.subject.startswith("【结果告知】")]
            assert own, m.body
            if max(own) < m.logical_date:
                assert said[1] == "已", (own, m.body)
            elif min(own) > m.logical_date:
                assert said[1] == "", (own, m.body)
        # The step is named either way (广州's 5th of 5 places, refused by 市政府审定, read "排名第5，未列入"),
        # its reason only where no letter of the step's own tells it (not told twice).
        if steps <= apart:
            assert re.search(r"，未(?:通过|获)[^。（]+，未列入", m.body), m.body
        else:
            assert re.search(r"，未(?:通过|获)[^。]+，未列入", m.body), m.body
    if path.stem.startswith(("gz-", "ts-", "wz-")):  # a later step refuses one of the candidates placed
        assert any(m.unit_code in refused - unplaced for m in told)
    pinned = {"ts-": "经评审，贵单位得分913.66、排名第2，未通过评审委员会审议，未列入拟获奖名单。",  # the seed's 2nd, refused by the committee
              "gz-": "排名第5，未通过市政府审定，未列入市长质量奖拟授奖名单。",  # the last of 5 places
              "wz-": "说明：申报的“温州市质量管理创新奖”未列入的具体原因已另行告知。"}  # a unit's item named
    for prefix, text in pinned.items():
        if path.stem.startswith(prefix):
            assert any(text in m.body and re.search("未列入的具体原因已?另行告知。", m.body) for m in told), [
                m.body for m in told]
    if path.stem.startswith("ts-"):
        assert told  # 天水 scores more candidates than it awards


def test_a_refusal_no_letter_of_its_own_told_is_said_in_the_public_notice(tmp_path_factory, monkeypatch):
    """天水 without its 评审委员会审议结果 letter: the 公示's letter to the 2nd, refused by the committee,
    is the first to tell it, so it names the step and its reason (not "排名第2，未列入" alone)."""
    ts = next(p for p in PROGRAMMES if p.stem == "ts-government-quality-award-2024")
    text = ts.read_text(encoding="utf-8")
    start, end = text.index("  - code: committee_result\n"), text.index("  - code: notice\n")
    folder = tmp_path_factory.mktemp("ts-untold")
    (folder / ts.name).write_text(text[:start] + text[end:], encoding="utf-8")
    use_home(monkeypatch, folder / "home")
    try:
        *_, round_id = play_programme(folder / ts.name, seed=5)
        with db.session_scope() as session:
            notices = [m for m in session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all()
                       if name_of(m.action) == "notice:notice_open" and "经评审，贵单位" in m.body]
    finally:
        leave_home()
    [letter] = [m for m in notices if m.unit_code == "ts-e04"]  # the seed's 2nd, refused by the committee
    assert re.search(r"经评审，贵单位得分[\d.]+、排名第2，未通过评审委员会审议（经核查，申报材料所述情况与实际不符），"
                     r"未列入拟获奖名单。", letter.body), letter.body
    assert "另行告知" not in letter.body


@pytest.mark.parametrize(("round_name", "items", "grade", "reads"), [
    ("2024年度太仓市市长质量奖", "", "市长质量奖", "荣获2024年度太仓市市长质量奖"),
    ("2024年广州市市长质量奖评审", "", "市长质量奖提名奖", "在2024年广州市市长质量奖评审中荣获市长质量奖提名奖"),
    # 温州: the awards are the list items, the grade only says "won"; the round's own award once.
    ("2021年度温州市市长质量奖评审", "温州市市长质量奖", "获奖", "荣获2021年度温州市市长质量奖"),
    ("2021年度温州市市长质量奖评审", "温州市质量管理创新奖", "获奖",
     "在2021年度温州市市长质量奖评审中荣获温州市质量管理创新奖"),
    ("焦作市2015—2016年度质量工作考核", "", "A", "在焦作市2015—2016年度质量工作考核中被评为A级"),
    # A title won, not an award: "在…奖补评选（质量标杆企业）中荣获获奖" (an officer's finding).
    ("东湖区2026年度质量标杆企业评选与质量提升奖补", "质量标杆企业", "获奖",
     "在东湖区2026年度质量标杆企业评选与质量提升奖补中被评为质量标杆企业"),
    ("2026年度某区质量奖", "", "获奖", "在2026年度某区质量奖评选中获奖"),
])
def test_an_award_is_won_and_named_once_a_grade_is_rated(round_name, items, grade, reads):
    assert achievement_of(round_name, items, grade) == reads


@pytest.mark.parametrize(("stem", "title", "reads"), [
    ("ha-county-assessment-2015", "印发县区质量工作考核通知", "印发淮安市2015年度县区质量工作考核通知"),
    ("gz-mayor-quality-award-2024", "发布2024年广州市市长质量奖申报通知", "发布2024年广州市市长质量奖申报通知"),
    ("fz-government-quality-award-2024", "发布福州市政府质量奖申报通知", "发布第七届福州市政府质量奖申报通知"),
    ("ts-government-quality-award-2024", "发布天水市人民政府质量奖申报通知", "发布2024年度天水市人民政府质量奖申报通知"),
    ("bs-quality-award-4", "发布第4届区政府质量奖申报通知", "发布宝山区第4届区政府质量奖申报通知"),
    # "市政府质量奖" is not 余姚's name from its place on: the round's name goes first.
    ("yy-government-quality-award-2026", "发布市政府质量奖申报推荐通知",
     "2026年度余姚市人民政府质量奖：发布市政府质量奖申报推荐通知"),
    # A title with its own spelling of the year or edition, or another place's award, is not rewritten.
    ("gz-mayor-quality-award-2024", "发布2024年度广州市市长质量奖申报通知",
     "2024年广州市市长质量奖评审：发布2024年度广州市市长质量奖申报通知"),
    ("bs-quality-award-4", "发布第四届区政府质量奖申报通知", "宝山区第4届区政府质量奖：发布第四届区政府质量奖申报通知"),
    ("tc-mayor-quality-award-2024", "转发苏州市市长质量奖申报通知", "2024年度太仓市市长质量奖：转发苏州市市长质量奖申报通知"),
    ("zs-csy-ybq-2011", "印发《推进质量强市建设开展“创四优、育百强”行动方案》",
     "舟山市质量强市“创四优、育百强”行动（2011—2015）：印发《推进质量强市建设开展“创四优、育百强”行动方案》"),
])
def test_a_call_s_subject_names_the_round_once(stem, title, reads):
    p = load_programme(next(path for path in PROGRAMMES if path.stem == stem)).programme
    assert call_subject(p, title) == reads


def test_a_subject_does_not_repeat_the_round_name_s_qualifier():
    yy = "榆阳区贯彻落实《质量强国建设纲要》实施意见（2024—2025年督查评估）"
    assert name_beside(yy, "2024年度质量工作督查评估结果") == "榆阳区贯彻落实《质量强国建设纲要》实施意见"
    assert name_beside(yy, "考核结果") == yy  # the qualifier says what the heading does not
    assert name_beside("2024年广州市市长质量奖评审", "评审结果") == "2024年广州市市长质量奖评审"


def test_results_are_called_as_the_programme_works():
    kinds = {path.stem: result_kind(load_programme(path).programme) for path in PROGRAMMES}
    assert kinds["sc-jbgs-2023"] == "评价确认结果" and kinds["jz-assessment-2016"] == "考核结果"
    assert kinds["zs-csy-ybq-2011"] == "考核结果"  # a list of actions, its departments assessed
    awards = [stem for stem in kinds if "award" in stem]
    assert len(awards) == 7 and {kinds[stem] for stem in awards} == {"评审结果"}
    # An enterprise award with two categories and no 评价确认 (its letters had read "【评价确认结果】").
    wz = load_programme(next(p for p in PROGRAMMES if p.stem == "wz-mayor-quality-award-2021")).programme
    named = wz.model_copy(update={"round": wz.round.model_copy(update={"name": "东湖区2026年度质量标杆企业评选与质量提升奖补"})})
    assert result_kind(named) == "评选结果"
    # Prizes graded (某市's QC 成果发布: 一等奖…) are 评审结果; a round with no assessment (中期评估, 验收)
    # has 审核结果 (a pilot's letters had read "考核结果已确定").
    contest = named.model_copy(update={"round": wz.round.model_copy(update={"name": "临江市2026年QC小组活动成果发布"})})
    assert result_kind(contest) == "评审结果"
    jz = load_programme(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016")).programme
    assert result_kind(jz.model_copy(update={"assessment": None})) == "审核结果"
    # A round named for what it does (…建设与评估) says its results so, not 考核结果.
    assessed = jz.model_copy(update={"round": jz.round.model_copy(update={"name": "2026年度一站式服务站建设与评估"})})
    assert result_kind(assessed) == "评估结果"


def test_what_is_owed_is_named_as_a_thing_handed_in(tmp_path_factory, monkeypatch):
    """A stage named by its verb is handed in as a noun: 提交揭榜书 → 揭榜书, 申请评价确认 →
    评价确认申请 ("应于…前提交评价确认申请", not "提交申请评价确认")."""
    path = next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023")
    r = run(path, tmp_path_factory, monkeypatch)
    owed = [m for m in r.messages if name_of(m.action).startswith("evaluation_request:")]
    assert owed and all("评价确认申请" in m.body and "申请评价确认" not in m.body for m in owed)
    assert any("前提交评价确认申请" in m.body for m in owed)


def test_a_refusal_names_its_item_and_what_was_handed_in_once():
    """温州's window is named for both awards ("市长质量奖、质量管理创新奖申报材料"): a refusal of
    one award's application names that award and its 申报材料, not the two awards again."""
    from qcycle.crud import Refusal
    from qcycle.lifecycle.answers import _what

    p = load_programme(next(p for p in PROGRAMMES if p.stem == "wz-mayor-quality-award-2021")).programme
    late = dt.datetime(2021, 6, 1, 19, 14, tzinfo=dt.UTC)
    row = Refusal(uuid.uuid4(), "wz-e12", "application", "cx-award", None, None, late, None)
    assert _what(p, row) == "“温州市质量管理创新奖”申报材料"
    sc = load_programme(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023")).programme
    item = next(i.code for _, i in sc.items)
    row = Refusal(uuid.uuid4(), "510100", "application", item, None, None, late, None)
    assert _what(sc, row).endswith("”揭榜书")  # a window named by what it takes is cited whole


def test_a_taker_that_never_asked_for_evaluation_is_told_its_result(tmp_path_factory, monkeypatch):
    """四川: a taker escalated for never applying for 评价确认 is not graded; the results say why,
    instead of leaving it without a word."""
    path = next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023")
    r = run(path, tmp_path_factory, monkeypatch)
    escalated = {m.unit_code for m in r.messages if name_of(m.action).startswith("evaluation_request:escalation")}
    results = {m.unit_code: m.body for m in r.messages if m.channel == "email" and
               any(name_of(k).startswith("results:") for k in m.action.split("+"))}
    assert escalated and escalated <= set(results), escalated - set(results)
    for unit in escalated:  # the item it took, as every other result letter of the day names it (with any other
        # window it missed, as its superior's summary says: 江西's 修水县 read less than its city)
        assert re.search(r"(结果为：|\n1\. )未提交“[^“”]+”评价确认申请[。；]", results[unit]), results[unit]


def test_a_unit_that_never_handed_in_what_was_assessed_is_not_praised(tmp_path_factory, monkeypatch):
    """焦作's 修武县 was 督办'd for its 自我评价报告, never handed it in, and was graded A and praised:
    the simulated reviewers now mark down what they were never given (the run's note still asks ops
    to check)."""
    r = run(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016"), tmp_path_factory, monkeypatch)
    note = next(n for k, n in r.notes.items() if k.startswith("scoring:assess"))
    assert "未交自我评价报告及考核资料（修武县人民政府），请核实" in note, note
    assert "410821" not in {m.unit_code for m in r.messages if m.action.startswith("praise:")}


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_a_step_told_at_once_is_not_told_again_by_the_results(path, tmp_path_factory, monkeypatch):
    """温州's 未获奖 letter of 11月5日 repeated the 资格审查 refusal told on 6月17日, and listed the
    item the government's 授奖通知 awarded that same day: a letter about what was graded 未获奖."""
    r = run(path, tmp_path_factory, monkeypatch)
    steps = {s.code for s in r.programme.stages if s.template == "step_result"}
    # Result letters (a 公示's letter names the step that refused a placed candidate, without its reason:
    # test_a_scored_candidate_left_off_a_published_list_is_told_while_it_may_object).
    results = {s.code for s in r.programme.stages if s.template in (None, "result") and s.kind.value != "notice"}
    email = [m for m in r.messages if m.channel == "email"]
    told = {(m.unit_code, verdict) for m in email if m.action.partition(":")[0] in steps
            for verdict in re.findall(r"(未(?:通过|获)[^，。；（]+)", m.body)}
    for m in email:
        if m.action.partition(":")[0] in results:
            again = [v for u, v in told if u == m.unit_code and v in m.body]
            assert not again, (m.unit_code, again, m.body)
            if path.stem == "wz-mayor-quality-award-2021":
                assert "：获奖" not in m.body, m.body


def test_a_result_letter_names_every_item_its_unit_took(tmp_path_factory, monkeypatch):
    """四川's 凉山 took 争创国家级质量标准实验室, never applied to have it evaluated, and its result
    letter named only the other item, refused at the review: an item it took is in its letter,
    graded or "未按期提交…评价确认申请"."""
    use_home(monkeypatch, tmp_path_factory.mktemp("sc-seed-3"))
    try:  # the seed where 凉山 does so
        p, _, round_id = play_programme(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023"), seed=3)
        with db.session_scope() as session:
            messages = list(session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all())
            decisions = list(session.exec(select(Decision).where(Decision.round_id == round_id)).all())
    finally:
        leave_home()
    taken = {(d.subject.partition(":")[0], d.subject.partition(":")[2]) for d in decisions
             if d.stage == "takers_review" and d.outcome == "approved"}
    letters = [m for m in messages if m.channel == "email" and m.action.startswith("results:")]
    assert letters
    for m in letters:
        category = m.action.split("@")[0].split(":")[2] if m.action.count(":") >= 2 else None
        for unit, item in taken:
            if unit == m.unit_code and (category is None or p.item_category[item] == category):
                name = next(i.name for _, i in p.items if i.code == item)
                inner = name.replace("“", "‘").replace("”", "’")  # as it reads inside quotation marks
                assert name in m.body or inner in m.body, (unit, name, m.body)
    liangshan = [m.body for m in letters if m.unit_code == "513400"]
    assert any("未提交" in body for body in liangshan), liangshan
    # Its item left off the 揭榜名单 was told then ("申报的“…”未列入"), not again as a result.
    assert not any("未通过揭榜书审核" in body for body in liangshan), liangshan
    listed = [m.body for m in messages if m.channel == "email" and m.unit_code == "513400"
              and m.action.startswith("takers_list:")]
    assert any("未列入" in body for body in listed), listed


def test_results_published_by_category_say_which_category_each_letter_is_of(tmp_path_factory, monkeypatch):
    """四川 publishes each category's results by itself (创先引领 a year later); 阿坝 took items in
    质量创新 and 探索试点 and had two letters on 2024-01-24 with the same subject and opening line.
    Each now names its category, so neither reads as a copy or a correction of the other."""
    r = run(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023"), tmp_path_factory, monkeypatch)
    letters = [m for m in r.messages if m.channel == "email" and m.action.startswith("results:")]
    assert letters
    names = {c.code: c.name for c in r.programme.categories}
    for m in letters:
        category = m.action.split("@")[0].split(":")[2]
        assert m.subject.endswith(f"（{names[category]}类）"), m.subject
        assert f"（{names[category]}类）评价确认结果已确定" in m.body, m.body
    # No two letters to a unit on one day read alike.
    assert len({(m.unit_code, m.logical_date, m.subject) for m in letters}) == len(letters)


PRIVATE_SUBJECTS = ("【评价确认结果】", "【考核结果】", "【结果】", "【结果告知】", "【逾期提醒】", "【督办】", "【整改通知】",
                    "【约谈通知】", "【不予受理】", "【异议处理结果】")


@pytest.mark.parametrize("stem", ["sc-jbgs-2023", "ha-county-assessment-2015", "jz-assessment-2016"])
def test_a_letter_about_one_units_standing_is_not_posted_where_its_peers_read_it(stem, tmp_path_factory,
                                                                                 monkeypatch):
    """四川's cities share one WeCom group, 淮安's counties one DingTalk group: 阿坝's 不合格, 金湖's
    一票否决 and each 督办 were posted there for all to read. Such a letter goes by the unit's own
    channels (email); reminders and notices still reach the group."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    shared = r.programme.shared_channels
    assert shared, "no channel is shared: the test reads nothing"
    in_groups = [m for m in r.messages if m.channel in shared]
    assert in_groups, "nothing reached the group at all"
    leaked = [(m.unit_code, m.subject) for m in in_groups if m.subject.startswith(PRIVATE_SUBJECTS)]
    assert leaked == [], leaked[:3]
    # Nor merged with its reminders of the day: "眉山市…：贵单位…已逾期1个工作日" read by all 21 cities.
    assert not [m.subject for m in in_groups if "已逾期" in m.body], [m.subject for m in in_groups if "已逾期" in m.body][:3]
    private = [m for m in r.messages if m.subject.startswith(PRIVATE_SUBJECTS)]
    assert private and all(m.channel == "email" for m in private)


@pytest.mark.parametrize("stem", ["sc-jbgs-2023", "ha-county-assessment-2015", "fz-government-quality-award-2024"])
def test_a_group_reads_each_notice_once_addressed_to_the_units_it_concerns(stem, tmp_path_factory, monkeypatch):
    """四川's WeCom group read the call for applications 21 times in a minute, each copy
    addressed to one city: what the cities of a group are told alike is one post to them all."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    groups = r.programme.group_channels
    posts = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(r.sink.glob("*.json"))]
    posts = [m for m in posts if m["channel"] in groups]
    rows = [m for m in r.messages if m.channel in groups and m.status == "sent"]
    assert rows and len(posts) < len(rows), "nothing was posted together: the test reads nothing"
    assert len(posts) == len({m.posted_with or m.id for m in rows})
    seen = Counter((m["channel"], m["written_at"], m["subject"], m["body"].partition("\n")[2]) for m in posts)
    assert [k for k, n in seen.items() if n > 1] == []
    # Left off a published list is a refusal, told to the unit alone ("各单位未列入" in 四川's group).
    assert [m["body"] for m in posts if "未列入" in m["body"]] == []
    names = {u.name for u in r.programme.units}
    salutations = {c.salutation for c in r.programme.channels if c.salutation}
    together = [m for m in posts if m["body"].partition("：")[0] not in names]
    assert together
    for m in together:
        head = m["body"].partition("\n")[0]
        assert head.endswith("：") and "贵单位" not in m["body"], m["body"]
        assert head[:-1] in salutations or "、" in head, head
        if head[:-1] not in salutations:  # each unit named, its office once after the last
            *firsts, last = head[:-1].split("、")
            assert last in names and any(last.endswith(o) and all(f + o in names or f in names for f in firsts)
                                         for o in ("市场监督管理局", "人民政府", "")), head


def test_an_award_valid_for_some_years_says_which(tmp_path_factory, monkeypatch):
    """天水's award is valid 5 years (第六条): its winners are told the years, counted from the year it is
    won as its re-application bar counts them, and only its winners."""
    r = run(next(p for p in PROGRAMMES if p.stem == "ts-government-quality-award-2024"), tmp_path_factory, monkeypatch)
    [grade] = [g for g in r.programme.assessment.grades if g.valid_years]
    awards = [m for m in r.messages if m.subject.startswith("【授奖通知】")]
    assert awards and grade.valid_years == 5
    assert all("所获奖项有效期为5年（2024年至2028年），期满后可再次申报。" in m.body for m in awards), awards[0].body
    assert not [m for m in r.messages if "有效期" in m.body and not m.subject.startswith("【授奖通知】")]


def test_a_unit_that_will_review_its_subordinates_is_told_so_with_the_call(tmp_path_factory, monkeypatch):
    """福州's county bureaus were sent the call with "请及时查阅", and heard of their 初审 only when the
    applications had closed: the call now tells each the step, when the window closes and when their
    opinions are due, the days its later request (请报送初审意见) names."""
    r = run(next(p for p in PROGRAMMES if p.stem == "fz-government-quality-award-2024"), tmp_path_factory, monkeypatch)
    p = r.programme
    calls = {m.unit_code: m.body for m in r.messages if m.action.startswith("call:") and m.channel == "email"}
    review = r.timetable.by_name()["county_review:decision_due"]
    closes = r.timetable.by_name()["application:deadline"]
    bureaus = {u.parent for u in p.units if u.level == "enterprise" and u.parent} - {p.round.issuer}
    line = (f"申报材料于{closes.at.month}月{closes.at.day}日截止受理后".replace("于", f"于{closes.at.year}年", 1)
            + f"，请贵单位对辖区内单位提交的申报材料提出初审意见，于{review.at.year}年{review.at.month}月{review.at.day}日"
            + f"（星期{'一二三四五六日'[review.at.weekday()]}）前报送")
    told = {u for u, body in calls.items() if line in body}
    assert bureaus and told == bureaus, (line, next(iter(calls.values())))
    assert all("具体名单届时另行通知" in calls[u] for u in told)
    # And every one of them hears again when the window closes: its list, or that it has none to review.
    asked = {m.unit_code: m for m in r.messages if ":review_request" in m.action and m.channel == "email"}
    assert asked.keys() == told, sorted(told - asked.keys())


def test_a_reviewer_told_with_the_call_hears_when_it_has_nothing_to_review(tmp_path_factory, monkeypatch):
    """余姚's 凤山街道 and 阳明街道 read with the call "具体名单届时另行通知", and heard nothing more: no enterprise
    of theirs had an application to recommend. And a department recommends its sector's enterprises: it has
    no 辖区 (住建局 read "贵单位辖区内以下1个单位")."""
    r = run(next(p for p in PROGRAMMES if p.stem == "yy-government-quality-award-2026"), tmp_path_factory, monkeypatch)
    p = r.programme
    calls = {m.unit_code for m in r.messages if m.action.startswith("call:") and "具体名单届时另行通知" in m.body}
    asked = {m.unit_code: m for m in r.messages if ":review_request" in m.action and m.channel == "email"}
    assert calls and asked.keys() == calls
    none = {u for u, m in asked.items() if "无需报送推荐意见" in m.subject}
    assert none and none != calls, sorted(none)
    for u in none:
        assert f"贵单位{'所在行业（系统）内' if p.unit(u).level == 'department' else '辖区内'}没有需要推荐的申报材料，" \
               "无需报送推荐意见。" in asked[u].body, asked[u].body
    for u, m in asked.items():
        departmental = p.unit(u).level == "department"
        assert ("辖区" in m.body) != departmental and ("所在行业（系统）内" in m.body) == departmental, m.body
    # An enterprise not recommended is told why (it read "未获…推荐，不再参加后续环节" and no more).
    refused = [m.body for m in r.messages if m.channel == "email" and re.search(r"未获\S+推荐", m.body)]
    assert refused and all(re.search(r"未获\S+推荐（[^）]+）", b) for b in refused), refused[:1]
    # A reviewer the call was not sent to was never told it would review: it is asked for its list, if any,
    # and not told it has none.
    yy = next(x for x in PROGRAMMES if x.stem == "yy-government-quality-award-2026")
    folder = tmp_path_factory.mktemp("yy-call-to-enterprises")
    text = yy.read_text(encoding="utf-8")
    assert text.count("notify: {levels: [enterprise, government, department]}") == 1
    (folder / yy.name).write_text(text.replace("notify: {levels: [enterprise, government, department]}",
                                               "notify: {levels: [enterprise]}"), encoding="utf-8")
    use_home(monkeypatch, folder / "home")
    try:
        *_, round_id = play_programme(folder / yy.name, seed=5)
        with db.session_scope() as session:
            requests = [m for m in session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all()
                        if ":review_request" in m.action and m.channel == "email"]
    finally:
        leave_home()
    assert {m.unit_code for m in requests} == asked.keys() - none, sorted(m.unit_code for m in requests)
    assert not [m for m in requests if "无需" in m.subject]


def test_a_reviewers_list_of_its_own_applicants_is_not_posted_in_a_shared_group(tmp_path_factory, monkeypatch):
    """余姚's four towns and three departments share one DingTalk group: each town's 请报送推荐意见, listing
    the enterprises of its own that applied and when, was posted there for all of them, before any 公示."""
    r = run(next(p for p in PROGRAMMES if p.stem == "yy-government-quality-award-2026"), tmp_path_factory, monkeypatch)
    asked = [m for m in r.messages if ":review_request" in m.action]
    assert asked and {m.channel for m in asked} == {"email"}, sorted({m.channel for m in asked})


def test_a_follow_up_owed_by_the_last_is_reminded_only_to_them_privately(tmp_path_factory, monkeypatch):
    """淮安's 整改通知 ("贵单位…排名后2名") went to each county's own email, but its reminders and overdue
    notices ("淮安市清浦区、淮安市淮阴区人民政府：…提交整改报告") were posted in the group all eight counties
    read: who came last, told to all."""
    r = run(next(p for p in PROGRAMMES if p.stem == "ha-county-assessment-2015"), tmp_path_factory, monkeypatch)
    followups = {s.code for s in r.programme.stages if s.kind is StageKind.followup}
    chased = [m for m in r.messages if m.action.partition(":")[0] in followups]
    assert any(":reminder" in m.action for m in chased) and any(":overdue" in m.action for m in chased)
    assert {m.channel for m in chased} == {"email"}, sorted({m.channel for m in chased})


def test_a_result_gives_its_parts_and_a_self_named_call_is_not_prefixed_again(tmp_path_factory, monkeypatch):
    """榆阳's departments read "D级（得分48.46）" and no more: now the parts, which add up to the total. And 广州's
    call read "【通知】2024年广州市市长质量奖评审：发布2024年广州市市长质量奖申报通知": the year and award twice."""
    r = run(next(p for p in PROGRAMMES if p.stem == "yy-quality-plan-2025"), tmp_path_factory, monkeypatch)
    names = [c.name for c in r.programme.assessment.components]
    results = [m.body for m in r.messages if m.action.startswith("results_") and m.channel == "email"]
    assert results
    for body in results:
        total = float(re.search(r"得分([\d.]+)）", body).group(1))
        said = re.search(r"各部分得分：(.+)。", body).group(1)
        # Each part out of what (星级所's "自评65.73分" had not said it was of 100, the 现场验收 of 900): all the scale.
        fulls = [float(x) for x in re.findall(r"（满分([\d.]+)分）", said)]
        assert len(fulls) == len(names) and sum(fulls) == r.programme.assessment.scale, body
        parts = [re.sub(r"（满分[\d.]+分）$", "", x) for x in said.split("；")]
        assert [p.rpartition("分")[0].rstrip("0123456789.") for p in parts] == names, body
        assert abs(sum(float(re.search(r"([\d.]+)分$", p).group(1)) for p in parts) - total) < 0.02, body
        # And what the result counts toward, as its source says ("考核结果纳入年度目标责任考核内容").
        assert body.count("考核结果纳入年度目标责任考核。") == 1, body
    # A unit's item lines give theirs inline (四川's 阿坝 read "…：不合格（得分32.58）" and nothing of its parts).
    sc = run(next(p for p in PROGRAMMES if p.stem == "sc-jbgs-2023"), tmp_path_factory, monkeypatch)
    names = [c.name for c in sc.programme.assessment.components]
    lines = [m.group(1, 2) for msg in sc.messages if msg.action.startswith("results") and msg.channel == "email"
             for m in re.finditer(r"（得分([\d.]+)；([^）]+)）", msg.body)]
    assert lines
    for total, parts in lines:
        values = [re.fullmatch(rf"{re.escape(n)}([\d.]+)分", x) for n, x in zip(names, parts.split("，"), strict=True)]
        assert all(values) and abs(sum(float(v.group(1)) for v in values) - float(total)) < 0.02, (total, parts)
    gz = run(next(p for p in PROGRAMMES if p.stem == "gz-mayor-quality-award-2024"), tmp_path_factory, monkeypatch)
    calls = {m.subject for m in gz.messages if m.action.startswith("call:")}
    assert calls and all(s.startswith("【通知】发布2024年广州市市长质量奖申报通知") for s in calls), calls
    # One that names only the award keeps the round's 第七届, once: in the award's name, not before it again.
    fz = run(next(p for p in PROGRAMMES if p.stem == "fz-government-quality-award-2024"), tmp_path_factory, monkeypatch)
    calls = {m.subject for m in fz.messages if m.action.startswith("call:")}
    assert calls and all(s.startswith("【通知】发布第七届福州市政府质量奖申报通知") for s in calls), calls


def test_a_notice_of_an_event_does_not_ask_its_units_to_read_it(tmp_path_factory, monkeypatch):
    """焦作's counties read "……已于2016年7月15日启动考核工作，请及时查阅并按要求做好相关工作": nothing was
    issued to read. A document issued (淮安's 印发…通知) is still to be read."""
    jz = run(next(p for p in PROGRAMMES if p.stem == "jz-assessment-2016"), tmp_path_factory, monkeypatch)
    launch = [m.body for m in jz.messages if m.action.startswith("launch:")]
    assert launch and all("已于2016年7月15日启动考核工作，请按要求做好相关工作。" in b and "查阅" not in b
                          for b in launch), launch[:1]
    ha = run(next(p for p in PROGRAMMES if p.stem == "ha-county-assessment-2015"), tmp_path_factory, monkeypatch)
    issued = [m.body for m in ha.messages if m.action.startswith("launch:")]
    assert issued and all("印发县区质量工作考核通知，请及时查阅并按要求做好相关工作。" in b for b in issued), issued[:1]


@pytest.mark.parametrize(("stem", "warns"), [
    ("yy-quality-plan-2025", "如仍未提交，将于2024年12月4日提请榆林市榆阳区人民政府督办。"),
    ("sc-jbgs-2023", "如仍未提交，将于2023年10月25日予以督办。"),
])
def test_an_overdue_notice_says_when_and_by_whom_a_unit_will_be_urged(stem, warns, tmp_path_factory, monkeypatch):
    """榆阳's 12月2日 逾期提醒 did not say that 区政府 would be asked to urge the late departments on 12月4日; each
    unit urged then had been warned, with the day and by whom (the office itself: 予以督办)."""
    r = run(next(p for p in PROGRAMMES if p.stem == stem), tmp_path_factory, monkeypatch)
    day = re.search(r"将于(\d{4})年(\d+)月(\d+)日", warns)
    escalation = dt.date(*(int(x) for x in day.groups()))
    overdue = {m.unit_code: m.body for m in r.messages if m.channel == "email" and m.subject.startswith("【逾期提醒】")
               and warns in m.body}
    assert overdue, stem
    urged = [m for m in r.messages if m.channel == "email" and m.logical_date == escalation and "督办" in m.subject]
    named = {u.code for m in urged for u in r.programme.units if u.code == m.unit_code or u.name in m.body}
    assert urged and named & overdue.keys(), (stem, [m.subject for m in urged][:2])
    assert all(m.body.count("督办") == 1 for m in r.messages if m.subject.startswith("【逾期提醒】")), stem


def test_a_rectification_deadline_moved_off_a_rest_day_says_so(tmp_path_factory, monkeypatch):
    """淮安's 整改 is due a month after the results, 5月22日, a Sunday: the letter gave 5月23日 without saying
    why, where its other letters say "（原定…，遇休息日顺延）"."""
    r = run(next(p for p in PROGRAMMES if p.stem == "ha-county-assessment-2015"), tmp_path_factory, monkeypatch)
    orders = [m.body for m in r.messages if m.subject.startswith("【整改通知】")]
    assert orders and all("于2016年5月23日（星期一）17:30（原定5月22日，遇休息日顺延）前将整改报告报送" in b
                          for b in orders), orders[:1]


@pytest.mark.parametrize(("family", "grade", "reads"), [
    ("福州市政府质量奖", "福州市政府质量奖", "已获福州市政府质量奖"),
    ("广州市市长质量奖", "市长质量奖", "已获广州市市长质量奖"),
    ("广州市市长质量奖", "提名奖", "已获广州市市长质量奖提名奖"),
    # A tier named with the award in it had read "已获中国质量奖中国质量奖提名奖".
    ("中国质量奖", "中国质量奖提名奖", "已获中国质量奖提名奖"),
    # A family named after its contest: "2024年已获东湖区质量标杆企业评选" (an officer's finding).
    ("东湖区质量标杆企业评选", "质量标杆企业", "已在东湖区质量标杆企业评选中获评质量标杆企业"),
    ("东湖区质量标杆企业评选", "获奖", "已在东湖区质量标杆企业评选中获奖"),
    # A family named after its title: it had read "已在湖南省省级质量标杆中获评省级质量标杆".
    ("湖南省省级质量标杆", "省级质量标杆", "已获评湖南省省级质量标杆"),
    # An entry in a list: it had read "已在江州市市级品牌培育指导目录中获评入选目录，获奖满4年后".
    ("江州市市级品牌培育指导目录", "入选目录", "已入选江州市市级品牌培育指导目录"),
])
def test_an_earlier_win_is_named_as_what_was_won(family, grade, reads):
    from qcycle.lifecycle.eligibility import _since, _won

    assert _won(family, grade) == reads
    # Only an award is won ("获奖满5年后"); a title or an entry in a list is held ("满4年后").
    assert _since(family, grade) == ("获奖" if "奖" in reads else "")


@pytest.mark.parametrize(("name", "label", "reads"), [
    ("焦作市2015—2016年度质量工作考核", "考核结果", "焦作市2015—2016年度质量工作考核结果"),
    # "…任务落实与年度评估年度评估结果已确定" (an officer's finding): the four characters said once.
    ("某市2026年度质量提升行动计划任务落实与年度评估", "年度评估结果", "某市2026年度质量提升行动计划任务落实与年度评估结果"),
    ("2023年度示例区长质量奖", "评审结果", "2023年度示例区长质量奖评审结果"),
    # The name ends with the label's last words: "…建设与评估服务站评估结果" (an officer's finding).
    ("2026年度质量基础设施一站式服务站建设与评估", "服务站评估结果", "2026年度质量基础设施一站式服务站建设与评估结果"),
    ("2026年度地方标准制修订项目计划", "项目评价结果", "2026年度地方标准制修订项目计划项目评价结果"),  # not its end
    # 复核 is not in the name: another assessment, its words kept.
    ("2026年度质量基础设施一站式服务站建设与评估", "复核评估结果", "2026年度质量基础设施一站式服务站建设与评估复核评估结果"),
    # One of the steps the name joins: "…验收及中期评估验收结果的报告" (an officer's finding).
    ("2026年度质量强县（市、区）示范创建验收及中期评估", "验收结果", "2026年度质量强县（市、区）示范创建验收及中期评估结果"),
    ("2026年度质量强县（市、区）示范创建验收", "复验结果", "2026年度质量强县（市、区）示范创建验收复验结果"),
    # Joined to what is no step (a reviewer's finding): the name keeps its words.
    ("某市2026年度质量工作考核与奖励实施方案", "考核结果", "某市2026年度质量工作考核与奖励实施方案考核结果"),
    ("2025年度质量工作考核和督查激励", "考核结果", "2025年度质量工作考核和督查激励考核结果"),
])
def test_a_result_label_overlapping_the_rounds_name_is_said_once(name, label, reads):
    from qcycle.lifecycle.headings import name_overlap

    assert name + label[name_overlap(name, label):] == reads


@pytest.mark.parametrize(("step", "yes", "no"), [
    ("资格审查", "通过资格审查", "未通过资格审查"),
    ("审定获奖名单", "通过获奖名单审定", "未通过获奖名单审定"),
    ("乡镇（街道）推荐", "获乡镇（街道）推荐", "未获乡镇（街道）推荐"),
    # 某市's 市政府 read "通过确定优秀组织单位", and of those not chosen "未通过…", as if they had failed.
    ("确定优秀组织单位", "被确定为优秀组织单位", "未被确定为优秀组织单位"),
    ("评选质量标杆", "被评为质量标杆", "未被评为质量标杆"),
    ("确定拟推荐名单", "列入拟推荐名单", "未列入拟推荐名单"),
    # A choosing verb before a process is still the process (the review's finding).
    ("遴选推荐", "获遴选推荐", "未获遴选推荐"),
    ("评选委员会审议", "通过评选委员会审议", "未通过评选委员会审议"),
    ("认定审核", "通过认定审核", "未通过认定审核"),
])
def test_a_step_is_passed_given_or_chosen_as_chinese_says_it(step, yes, no):
    from qcycle.lifecycle.standing import not_passed, passed

    assert (passed(step), not_passed(step)) == (yes, no)


def test_a_praise_for_first_place_per_category_says_what_it_was_first_in(tmp_path, home):
    """温州 ranks its two awards apart: a praise of the first of each told two units "排名第1" alike
    (the review's finding); each is told the award it was first in."""
    from sqlmodel import select

    from qcycle import db
    from qcycle.models import OutboxMessage
    from tests.homes import play_programme
    from tests.test_validate import shipped_variant

    path = shipped_variant(tmp_path, "wz-mayor-quality-award-2021", "  - code: committee\n",
                           "  - {code: praise, name: 通报表扬, kind: notification, template: praise, on: 2021-09-15,"
                           " notify: {rank: {top: 1}, assessed_at: scoring}}\n  - code: committee\n")
    _, _, round_id = play_programme(path, seed=5)
    with db.session_scope() as session:
        bodies = [m.body for m in session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id))
                  if m.action.startswith("praise:")]
    said = sorted(re.search(r"贵单位在(.+?)排名第1", b)[1] for b in bodies)
    assert len(said) == 2 and said[0] != said[1], said
    assert all("（" in s for s in said), said


def test_each_departments_tasks_reach_it_alone(tmp_path_factory, monkeypatch):
    """江西's 考核方案 and each quarter's 受理 were posted to the counties' group eleven times, one county's tasks each."""
    r = run(next(p for p in PROGRAMMES if p.stem == "zs-csy-ybq-2011"), tmp_path_factory, monkeypatch)
    tasked = [m for m in r.messages if "贵单位的任务" in m.body or "请报告以下各项任务的进展" in m.body]
    assert tasked and {m.channel for m in tasked} == {"email"}, {(m.unit_code, m.channel) for m in tasked}


def test_a_rule_of_places_counted_in_each_category_says_so():
    """江苏's 设区市局 read "按规定，领跑者名额不超过3个。" of a round that named 6 领跑者, 3 in each of two products: places
    counted in each category are said to be ("按类别分别计"), as those of each level or group already were."""
    from qcycle.lifecycle.remarks import places_rule
    from qcycle.loader import load_programme
    from qcycle.models import AssessmentResult

    p = load_programme(next(x for x in PROGRAMMES if x.stem == "wz-mayor-quality-award-2021")).programme
    scoring = next(s.code for s in p.stages if s.kind.value == "assessment")
    held = [AssessmentResult(unit_code=f"u{i}:{item}", total=700 - i, grade="未获奖" if i == 6 else "获奖", rank=i,
                             stage=scoring, round_id=uuid.uuid4())
            for item in ("zl-award", "cx-award") for i in range(1, 7)]
    assert places_rule(p, held) == "按规定，获奖名额不超过5个（按类别分别计）。"
    assert places_rule(p, held[:6]) == "按规定，获奖名额不超过5个。"  # one category's own places


@pytest.mark.parametrize(("name", "item", "reads"), [
    # "镇江市2026年“质量月”活动的活动安排" (an officer's finding): the words said once.
    ("镇江市2026年“质量月”活动", "活动安排", "镇江市2026年“质量月”活动安排"),
    ("2015年度县级质量工作考核", "自评报告", "2015年度县级质量工作考核的自评报告"),
    ("某市质量工作考核", "考核自评报告", "某市质量工作考核自评报告"),
])
def test_an_item_of_a_round_whose_name_ends_with_its_first_words_says_them_once(name, item, reads):
    from qcycle.render import of_round

    assert of_round(name, item) == reads
