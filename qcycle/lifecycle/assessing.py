"""What an assessment action does: score the subjects from the values stored for them (reviews,
indicators, bonuses earned in other rounds), grade them, save the results, and say in the run's
record whom it graded without what they owed."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.drafting import item_name
from qcycle.lifecycle.outcome import Outcome
from qcycle.lifecycle.plan import kept_timetable
from qcycle.lifecycle.who import (
    called_to,
    missing_subjects,
    outstanding,
    owed_subjects,
    p_unit_name,
    select_subjects,
)
from qcycle.lifecycle.wording import NOT_HANDED_IN
from qcycle.schema import Assessment, Programme, grade_label
from qcycle.scoring import (
    YEARLY_PREFIXES,
    UnitInput,
    assess,
    cumulated,
    indicator_met,
    target_by,
    unit_input,
)
from qcycle.timetable import Action, Timetable

__all__ = ["Counted", "assess_action", "assessment_subjects", "quota_achieved", "taken_late",
           "veto_facts", "what_counted", "windows_never_handed_in", "windows_taken_late"]


def assess_action(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> Outcome:
    """An assessment action: score its subjects from the stored values, grade them, save the results."""
    scheme = p.assessment
    if scheme is None:
        return Outcome(action, note="本周期没有考核方案")
    subjects = assessment_subjects(session, p, round_id, action.category)
    # What was owed and never handed in, for the run's record; the vetoes read it subject by subject.
    timetable = kept_timetable(session, p, round_id)
    missed = windows_never_handed_in(session, p, round_id, timetable, action)
    inputs = _inputs(session, p, round_id, action.stage, subjects, action.at.year, action)
    deadlines = _deadlines_assessed(timetable, action)
    _judged_by_hand_ins(session, p, round_id, inputs, deadlines)
    if scheme.ties == "submitted_first":  # 领跑者: 同分时先申报者在前
        first = _first_handed_in(session, round_id)
        for u in inputs:
            u.handed_in_at = first.get(u.unit) or first.get(u.unit.partition(":")[0])
    groups: dict[str, list[UnitInput]] = defaultdict(list)  # ranked apart (rank_within: level), or all together
    for i in inputs:
        groups[p.rank_group(i.unit)].append(i)
    results = [r for group in groups.values() for r in assess(scheme, group, p.quotas)]
    crud.save_results(session=session, round_id=round_id, results=[
        {"unit_code": r.unit, "total": r.total, "components": r.components, "bonus": r.bonus,
         "deduction": r.deduction, "veto": r.veto, "grade": r.grade, "rank": r.rank} for r in results
    ], scope=subjects, stage=action.stage,  # other categories and other years keep their results
        computed_at=action.at)  # as of its moment, as a status of a past moment reads them
    grades: dict[str, int] = defaultdict(int)
    for result in results:
        grades[result.grade] += 1
    summary = "，".join(f"{grade_label(g)} {grades[g]}" for g in scheme.grade_names if grades[g])
    return Outcome(action, results=results, counts=dict(grades), note=f"{action.title}：{len(results)} 个对象，"
                   f"{summary or '无'}{_scored_without(p, missed, subjects)}"
                   f"{_figures_missing(p, scheme, inputs)}{_figures_later(p, inputs, action.at.year)}")


def _inputs(session: Session, p: Programme, round_id: uuid.UUID, stage: str, subjects: list[str],
            year: int | None, assessment: Action | None,
            late_when: dict[str, dict[str, list[str]]] | None = None) -> list[UnitInput]:
    """What the assessment ``stage`` scores each subject on: its stored values, and the bonuses
    it earned in other rounds."""
    assert p.assessment is not None
    # An indicator one unit reports for all (a district-wide statistic) is read from that unit's
    # figures for every subject; a subject's own figure for it does not count.
    shared = {f"indicator:{i.code}": i.reported_by for i in p.assessment.indicators if i.reported_by}
    reporters = sorted(set(shared.values()) - set(subjects))
    measured = _measured(session, p, round_id, stage, [*subjects, *reporters])
    # A veto judged from the hand-ins (missing_at) is not read from records kept before intake refused them.
    judged = {f"veto:{v.code}" for v in p.assessment.vetoes if v.missing_at}
    if judged:
        measured = defaultdict(list, {s: [m for m in rows if m[0] not in judged] for s, rows in measured.items()})
    given = [m for r in sorted(set(shared.values())) for m in measured[r] if shared.get(m[0]) == r]
    inputs = [unit_input(s, ([m for m in measured[s] if m[0] not in shared] + given) if shared else measured[s],
                         p.assessment, until_year=year) for s in subjects]
    earned = _bonuses_from_other_rounds(session, p.assessment)
    if late_when is None:
        late_when = _late_counts(session, p, round_id, assessment) if assessment is not None else {}
    late = {code: _deadlines_of(per) for code, per in late_when.items()}
    for u in inputs:
        for code, per_unit in earned.items():
            count = per_unit.get(u.unit.partition(":")[0], 0)
            if count:
                u.bonuses[code] = u.bonuses.get(code, 0) + count
        for code, counted in late.items():
            if count := len(counted(u.unit)):
                u.deductions[code] = u.deductions.get(code, 0) + count
    return inputs


def _judged_by_hand_ins(session: Session, p: Programme, round_id: uuid.UUID, inputs: list[UnitInput],
                        deadlines: list[Action]) -> None:
    """What holds by itself for the subjects that owed a window and never handed it in by the assessment
    (``missing_at``): a veto (首席质量官: 未报送年度履职情况报告的评为不合格, written as a 100-point deduction, had
    read "得分0.00，已扣100分"), and a part bound to the window, scored 0 (年度总结报告 20 分: a summary never sent
    had been scored from the reviews recorded anyway). Item by item where the window is owed so (a lab that reported
    one of its two 能力验证 items on time had both vetoed); a unit's own window covers all its subjects."""
    assert p.assessment is not None
    windows = {v.missing_at for v in p.assessment.vetoes} | {c.missing_at for c in p.assessment.components}
    for window in sorted(w for w in windows if w):
        missed = {s for a in deadlines if a.stage == window for s in missing_subjects(session, p, round_id, a)}
        units = {s.partition(":")[0] for s in missed}
        for u in inputs:
            if not (u.unit in missed or u.unit.partition(":")[0] in missed or (":" not in u.unit and u.unit in units)):
                continue
            u.vetoes += [v.code for v in p.assessment.vetoes if v.missing_at == window and v.code not in u.vetoes]
            u.unsubmitted |= {c.code for c in p.assessment.components if c.missing_at == window}
    # A part that scores nothing for a hand-in taken late either (质量月: 逾期报送的总结不予评分).
    for window, parts in _late_zeroed(p).items():
        late = {s for a in deadlines if a.stage == window for s in taken_late(session, p, round_id, a)}
        units = {s.partition(":")[0] for s in late}
        for u in inputs:  # as for a miss: a unit's own window covers all its subjects
            if u.unit in late or u.unit.partition(":")[0] in late or (":" not in u.unit and u.unit in units):
                u.unsubmitted |= parts


def _first_handed_in(session: Session, round_id: uuid.UUID) -> dict[str, Any]:
    """Subject ('unit', 'unit:item') → when it first handed anything in that was taken."""
    out: dict[str, Any] = {}
    for _stage, _period, unit, item, at, _late, status in crud.handed_in_list(session=session, round_id=round_id):
        for subject in (unit, f"{unit}:{item}") if item else (unit,):
            if status == "accepted" and (subject not in out or at < out[subject]):
                out[subject] = at
    return out


def _late_zeroed(p: Programme) -> dict[str, set[str]]:
    """Window → the parts bound to it that a hand-in taken late scores nothing on (``counts: late_or_missing``)."""
    assert p.assessment is not None
    out: dict[str, set[str]] = defaultdict(set)
    for c in p.assessment.components:
        if c.missing_at and c.counts == "late_or_missing":
            out[c.missing_at].add(c.code)
    return out


def taken_late(session: Session, p: Programme, round_id: uuid.UUID, deadline: Action) -> set[str]:
    """The subjects of a window's deadline whose hand-in was taken late (``accept_flag``) and never met it (a version
    that met it, revised late, met it)."""
    where: dict[str, Any] = {"session": session, "round_id": round_id, "stage": deadline.stage,
                             "period": deadline.period, "category": deadline.category, "item_category": p.item_category}
    return set(crud.handed_in_subjects(**where)) - set(crud.on_time_units(**where, subjects=True))


def _late_counts(session: Session, p: Programme, round_id: uuid.UUID, assessment: Action
                 ) -> dict[str, dict[str, list[str]]]:
    """Deduction items counted from the hand-ins (``late_at``): item → unit → the deadlines (each as its
    period's name, "2026年2月", or its day where the window has no periods), one per deadline of
    its window (a unit's own, where it was granted one), since the previous assessment of its
    category and up to this ``assessment``, the unit was held to and did not meet: handed in late or
    not at all (临江's 进度报送 lost points for each late quarter), or only one of the two as the item's
    ``counts`` says (某市 deducts for a report handed in late, not for one never handed in: its letter
    said "逾期报送1次" of a report that never came). A report met on time and revised late was met."""
    assert p.assessment is not None
    items = [d for d in p.assessment.deductions if d.late_at]
    if not items:
        return {}
    # As the hand-ins stood at the assessment ("截至考核时仍未报送的，按未报送计"): a ledger handed in the day after was
    # scored as missing and then said "逾期报送" in the 通报 that explained the score.
    outer = crud.recorded_moment()
    with crud.as_recorded_at(min(outer, assessment.at) if outer else assessment.at):
        return _late_counted(session, p, round_id, assessment, items)


def _late_counted(session: Session, p: Programme, round_id: uuid.UUID, assessment: Action, items: list
                  ) -> dict[str, dict[str, list[str]]]:
    deadlines = _deadlines_assessed(kept_timetable(session, p, round_id), assessment)
    out: dict[str, dict[str, list[str]]] = {}
    for item in items:
        window = p.stage(str(item.late_at))
        tally: dict[str, list[str]] = defaultdict(list)
        for a in deadlines:
            if a.stage != window.code:
                continue
            where: dict[str, Any] = {"session": session, "round_id": round_id, "stage": window.code,
                                     "period": a.period, "category": a.category, "item_category": p.item_category}
            called = called_to(session, p, round_id, a)
            # Owed item by item, each item meets its deadline or not (a lab late with one of its two items
            # had been docked on both).
            by_item = owed_subjects(session, p, round_id, a)
            if by_item:
                units = set(called)
                subjects: list[str] = [s for s in by_item if s.partition(":")[0] in units]
                on_time = set(crud.on_time_units(**where, subjects=True))
                handed = set(crud.handed_in_subjects(**where))
            else:
                subjects = called
                on_time = set(crud.on_time_units(**where))
                handed = set(crud.handed_in_units(**where))
            for subject in subjects:
                if subject not in on_time and (item.counts == "late_or_missing"
                                               or (subject in handed) == (item.counts == "late")):
                    label = window.period_label(a.period) if a.period else f"{a.at.year}年{a.at.month}月{a.at.day}日截止"
                    # Counting both, which it was is said (安庆's 迎江区 read "逾期报送1次" of a report never sent).
                    tally[subject].append(NOT_HANDED_IN + label if item.counts == "late_or_missing"
                                          and subject not in handed else label)
        out[item.code] = dict(tally)
    return out


def _deadlines_of(per: Mapping[str, list[str]]) -> Callable[[str], list[str]]:
    """The deadlines a subject is counted for, from those by unit or by 'unit:item': an item takes its own (or
    its unit's, where the window is owed by units), a unit assessed whole all of its items'."""
    by_unit: dict[str, list[str]] = defaultdict(list)
    for key, when in per.items():
        by_unit[key.partition(":")[0]] += when

    def named(code: str) -> list[str]:
        if code in per:
            return per[code]
        return per.get(code.partition(":")[0], []) if ":" in code else by_unit.get(code, [])
    return named


def _figures_later(p: Programme, inputs: list[UnitInput], year: int) -> str:
    """Figures of a year after the assessment's, left out of it: said for ops to check."""
    later = [u for u in inputs if u.later]
    if not later:
        return ""
    names = "、".join(p_unit_name(p, u.unit) or u.unit for u in later[:5]) + ("等" if len(later) > 5 else "")
    return f"；{len(later)} 个对象有{year}年以后的指标或任务数据，本次考核未计入（{names}），请核实"


def _figures_missing(p: Programme, scheme: Assessment, inputs: list[UnitInput]) -> str:
    """Subjects scored 0 on a component read from figures nobody gave (榆阳's 主要发展指标 with no
    indicator imported: every department 0 there, graded C, and nothing said), for ops to check."""
    said = []
    for c in scheme.components:
        if c.source == "indicators" and scheme.indicators:
            missing = [u.unit for u in inputs if not u.indicators]
        elif c.source == "quotas" and p.quotas:
            missing = [u.unit for u in inputs if not u.quota_achieved]
        else:
            continue
        if missing:
            names = "、".join(p_unit_name(p, s) or s for s in missing[:5]) + ("等" if len(missing) > 5 else "")
            said.append(f"{len(missing)} 个没有“{c.name}”的数据，该项按 0 分计（{names}）")
    return "；" + "，".join(said) + "，请核实" if said else ""


def _scored_without(p: Programme, missed: dict[tuple[str, str], set[str]], subjects: list[str]) -> str:
    """Subjects graded without what they owed at an earlier window (``missed``) (焦作: a county that
    never handed in its 自我评价报告 was graded A), said in the run's record for ops to check before
    results go out."""
    units, said = {s.partition(":")[0] for s in subjects}, []
    by_what: dict[str, set[str]] = {}  # windows owed alike, said as one
    for (_, what), owing in missed.items():
        by_what.setdefault(what, set()).update(owing)
    for what, owing in by_what.items():
        missing = sorted(units & owing)
        names = "、".join(p.unit(u).name for u in missing[:5]) + ("等" if len(missing) > 5 else "")
        said += [f"{len(missing)} 个未交{what}（{names}）"] if missing else []
    return "；其中 " + "，".join(said) + "，请核实" if said else ""


def _deadlines_assessed(timetable: Timetable, assessment: Action) -> list[Action]:
    """The deadline actions an assessment reads: of its category (or all, for an assessment of
    all), since the round's previous assessment of that category and up to this one."""
    def counts(a: Action) -> bool:  # an assessment of another category does not end this one's span
        return a.category in (None, assessment.category) or assessment.category is None

    since = max((a.at for a in timetable.actions if a.action == "assess" and a.stage != assessment.stage
                 and a.at < assessment.at and counts(a)), default=None)
    return [a for a in timetable.actions if a.action == "deadline" and a.at <= assessment.at and counts(a)
            and (since is None or a.at > since)]


def windows_never_handed_in(session: Session, p: Programme, round_id: uuid.UUID, timetable: Timetable,
                            assessment: Action, *, by_item: bool = False) -> dict[tuple[str, str], set[str]]:
    """(window's stage code, what was owed, as a letter names it) → the units that owed it and never handed it in, for
    each window an assessment reads: the compulsory ones whose deadline passed since the round's previous assessment, each
    period on its own (榆阳's 2025 assessment reads the 2025 self-reports, wherever the file places their stage; a 舟山
    department that missed one year's progress report missed it, whatever it handed in for the others). ``by_item``:
    the list items ('unit:item') where a window is owed item by item, as a letter of one category names them (a 探索
    试点类 result had read "未提交中期检查" of a county that missed only its 质量创新 item's report)."""
    out: dict[tuple[str, str], set[str]] = {}
    for a in _deadlines_assessed(timetable, assessment):
        stage = p.stage(a.stage)
        if not stage.submission or stage.owed_by is None or stage.voluntary:
            continue
        what = item_name(p.material(stage), [stage.period_label(a.period) if a.period else ""])
        missed = missing_subjects(session, p, round_id, a) if by_item else outstanding(session, p, round_id, a)
        out.setdefault((stage.code, what), set()).update(missed)
    return out


def veto_facts(session: Session, p: Programme, round_id: uuid.UUID, stage: str | None) -> dict[tuple[str, str], str]:
    """(subject, veto code) → the facts recorded with a veto set (value > 0) for the assessment ``stage`` (or the round's
    first, its values stored with no stage), for the unit's own letter and the export: the notes of several reviewers
    joined."""
    vetoes = [f"veto:{v.code}" for v in p.assessment.vetoes if not v.missing_at] if p.assessment and stage else []
    notes = crud.review_notes(session=session, round_id=round_id, components=vetoes) if vetoes else {}
    first = p.assessment_stages[0] if p.assessment_stages else None
    out: dict[tuple[str, str], list[str]] = {}
    for (at, subject, _reviewer, component), (note, value) in sorted(notes.items()):
        if value > 0 and (at == stage or (not at and stage == first)):
            said = out.setdefault((subject, component.removeprefix("veto:")), [])
            said += [] if note in said else [note]
    return {key: "；".join(notes) for key, notes in out.items()}


def windows_taken_late(session: Session, p: Programme, round_id: uuid.UUID, timetable: Timetable,
                       assessment: Action) -> dict[tuple[str, str], set[str]]:
    """As :func:`windows_never_handed_in`, the subjects whose hand-in was taken late, for each window a part is bound
    to that scores nothing for it (``counts: late_or_missing``): what explains its 0.00."""
    if p.assessment is None:
        return {}
    zeroed = _late_zeroed(p)
    out: dict[tuple[str, str], set[str]] = {}
    for a in _deadlines_assessed(timetable, assessment):
        if a.stage in zeroed and a.unit is None:
            stage = p.stage(a.stage)
            what = item_name(p.material(stage), [stage.period_label(a.period) if a.period else ""])
            out.setdefault((stage.code, what), set()).update(taken_late(session, p, round_id, a))
    return out


# bonuses, deductions (occurrences, or points given: up_to), deductions' deadlines
Counted = tuple[dict[str, float], dict[str, float], dict[str, list[str]]]


def what_counted(session: Session, p: Programme, round_id: uuid.UUID, stage: str | None, subjects: list[str],
                 category: str | None = None) -> tuple[dict[str, Counted], dict[str, list[str]], dict[str, str]]:
    """What the assessment ``stage`` counted for each subject, as its result letter names it: the
    bonus and deduction items, with how many times each (焦作's 解放区 is A by a +2 bonus) and, for
    those counted from the hand-ins, which deadlines (月调度报告未报送5次: which months?), and the
    indicators not met, each with its figure and the target that assessment held it to (淮安's
    counties read "工作指标完成情况48.00分" and could not tell which indicators to rectify); and, for a subject whose
    indicators not met are all one unit's district figures, that unit (said once, not after each: 榆阳's departments
    read "全区数值，由榆阳区市场监督管理局报送" twice in one sentence)."""
    scheme = p.assessment
    if not subjects or scheme is None or stage is None or not (scheme.bonuses or scheme.deductions or scheme.indicators):
        return {}, {}, {}
    # The assessment's action (its category's): the year it scored holds a cumulative target to that
    # year's pace, and its moment bounds the deadlines a late_at deduction counts.
    assessed = [a for a in kept_timetable(session, p, round_id).actions if a.stage == stage and a.action == "assess"
                and (category is None or a.category in (None, category))]
    action = assessed[0] if assessed else None
    adjusted: dict[str, Counted] = {}
    missed: dict[str, list[tuple[str, list[str], str | None]]] = {}  # unit → (name and figure, what is said of it, reporter)
    late_when = _late_counts(session, p, round_id, action) if action is not None else {}
    named = {code: _deadlines_of(per) for code, per in late_when.items()}
    for u in _inputs(session, p, round_id, stage, subjects, action.at.year if action else None, action, late_when):
        if u.bonuses or u.deductions:
            adjusted[u.unit] = (u.bonuses, u.deductions, {code: when for code, of in named.items() if (when := of(u.unit))})
        for ind in scheme.indicators:
            # A target of a later year, held to whole before it (榆阳's 2024 results read "目标≥98%" of the 2025 目标).
            later = not ind.cumulative_years and ind.year is not None and u.until_year is not None and ind.year > u.until_year
            year = f"{ind.year}年" if later else ""
            said = [f"{year}目标{_SIGNS[ind.comparator]}{_figure(target_by(ind, u.until_year))}{ind.unit}"]
            # One district figure: not the department's own.
            source = f"全区数值，由{p.unit(ind.reported_by).name}报送" if ind.reported_by else None
            if ind.code not in u.indicators:
                missed.setdefault(u.unit, []).append((ind.name, ["未报送数值", *said], source))
            elif not indicator_met(ind, figure := u.indicators[ind.code], u.until_year):
                if isinstance(figure, (int, float)):
                    value, sum_of = float(figure), ""
                else:  # a cumulative target's years so far: one not reported is said, not summed as nothing
                    value, sum_of = cumulated(ind, figure), "累计"
                    owed = [y for y in ind.cumulative_years if u.until_year is None or y <= u.until_year]
                    if len(figure) < len(owed):
                        said.insert(0, f"{len(owed)}年中只报送了{len(figure)}年的数值")
                missed.setdefault(u.unit, []).append((f"{ind.name}{sum_of}{_figure(value)}{ind.unit}", said, source))
    unmet: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for unit, entries in missed.items():
        reporters = {reporter for *_, reporter in entries}
        if len(entries) > 1 and len(reporters) == 1 and (shared := reporters.pop()) is not None:
            sources[unit] = shared  # said once, before the list
            entries = [(figure_said, notes, None) for figure_said, notes, _ in entries]
        unmet[unit] = [f"{figure_said}（{'，'.join([*notes, *([reporter] if reporter else [])])}）"
                       for figure_said, notes, reporter in entries]
    return adjusted, unmet, sources


_SIGNS = {">=": "≥", "<=": "≤", ">": "＞", "<": "＜", "=": ""}  # a comparator as a letter writes it


def _figure(value: float) -> str:
    """A figure as a letter prints it: two decimals at most, none trailing (89.77, 12, 1234567.5)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def quota_achieved(session: Session, p: Programme, round_id: uuid.UUID, stage: str | None,
                   units: list[str]) -> dict[str, dict[str, int]]:
    """Each unit's count reached per quota action over the plan's years, as the assessment
    ``stage`` counted it (what its result letter reports beside the grade)."""
    if p.assessment is None or p.quotas is None or stage is None:
        return {}
    return {u.unit: u.quota_achieved for u in _inputs(session, p, round_id, stage, units, max(p.quotas.years), None)}


def _measured(session: Session, p: Programme, round_id: uuid.UUID, stage: str,
              subjects: list[str]) -> dict[str, list[tuple[str, str, float]]]:
    """Each subject's (component, reviewer or year, value) for the assessment ``stage``. A
    round assessed twice is scored twice: reviewers' scores, bonuses, deductions and vetoes
    are this assessment's own, so one not yet scored says so (too few scores) instead of
    reusing the other's. A year's indicator or quota figure given for an earlier assessment
    still holds, unless this one gives it again."""
    order = p.assessment_stages
    mine = order.index(stage) if stage in order else 0
    rank = {"": 0, **{code: i for i, code in enumerate(order)}}  # "": stored before values had a stage
    chosen: dict[tuple[str, str, str], tuple[tuple[int, bool], float]] = {}
    if subjects:
        for r in crud.reviews_of(session=session, round_id=round_id, subjects=subjects,
                                 stages=["", *order[:mine + 1]]):
            given = rank[r.stage]  # only these stages are read
            prefix, yearly, _ = r.component_code.partition(":")  # as scoring.unit_input reads it
            if given != mine and not (yearly and prefix in YEARLY_PREFIXES):
                continue
            key = (r.unit_code, r.component_code, r.reviewer)
            # The latest assessment's value; for the first, one given since values had a stage.
            order_key = (given, r.stage != "")
            if key not in chosen or order_key > chosen[key][0]:
                chosen[key] = (order_key, r.value)
    measured: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for (unit, component, reviewer), (_, value) in chosen.items():
        measured[unit].append((component, reviewer, value))
    return measured


def _bonuses_from_other_rounds(session, scheme) -> dict[str, dict[str, int]]:
    """Bonus items earned in another round (e.g. 揭榜挂帅 takers graded A): item → unit → count."""
    out: dict[str, dict[str, int]] = {}
    for item in scheme.bonuses:
        if item.source_round is None:
            continue
        source = crud.get_round(session=session, code=item.source_round)
        if source is None:
            continue  # that round has not run here (yet): nothing earned
        counts: dict[str, int] = defaultdict(int)
        for subject in crud.graded_subjects(session=session, round_id=source.id, grades=item.source_grades):
            counts[subject.partition(":")[0]] += 1
        out[item.code] = dict(counts)
    return out


def assessment_subjects(session: Session, p: Programme, round_id: uuid.UUID, category: str | None) -> list[str]:
    """Assessed subjects: 'unit:item' where the selection reaches list items, else unit codes."""
    scheme = p.assessment
    assert scheme is not None
    return select_subjects(session, p, round_id, scheme.subjects, category)
