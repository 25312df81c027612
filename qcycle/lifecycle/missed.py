"""What a unit never handed in, as its result letter and its superior's summary say it: each window the
assessment read and each follow-up its result owed, a window missed at several periods once with them, and
a late hand-in refused (不予受理) said as that."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from qcycle import clock, crud
from qcycle.lifecycle.assessing import taken_late, windows_never_handed_in, windows_taken_late
from qcycle.lifecycle.drafting import item_name
from qcycle.lifecycle.plan import kept_timetable
from qcycle.lifecycle.who import (
    NEGATIVE,
    POSITIVE,
    decided,
    in_category,
    missing_subjects,
    outstanding,
    owers,
    p_item_name,
    pending_decisions,
    results_of,
    select_subjects,
)
from qcycle.lifecycle.wording import REFUSED_LATE, periods_joined
from qcycle.models import ResultRow
from qcycle.schema import Programme, Stage, StageKind, Who
from qcycle.timetable import Action

__all__ = ["awaiting_decisions", "by_item", "never_handed_in_lines", "owed_for_results", "said_by_item"]


def never_handed_in_lines(session, p: Programme, round_id, notice: Action, assessed: str | None,
                          graded: Collection[ResultRow] | None = None) -> dict[str, list[tuple[str, str | None, str]]]:
    """unit → (window, "未提交…") for each window the assessment ``assessed`` read that the unit
    owed and never handed in, and each follow-up its result owed, due by the ``notice``, that it never
    handed in: a project that never filed its 验收申请 read "通过中期评估" in its city's summary, one with
    no decision at all was left out, a 限期整改 one that never filed its 整改报告 read "限期整改" alone
    after the 复验, and a unit's own letter said less than its superior's. ``graded``: the results of ``assessed``,
    where the caller has read them."""
    timetable = kept_timetable(session, p, round_id)
    category = notice.category
    action = next((a for a in timetable.actions if a.stage == assessed and a.action == "assess"
                   and (category is None or a.category in (None, category))), None)
    if graded is None and assessed:
        graded = results_of(session, round_id, assessed)
    graded_units = {r.unit_code.partition(":")[0] for r in graded or ()}
    missed = _of_graded(session, p, round_id, windows_never_handed_in(session, p, round_id, timetable, action, by_item=True),
                        graded_units, category) if action else {}
    # Taken late where a part scores nothing for it (逾期报送的不予评分), by the units graded: why it scored 0.00.
    late: dict[tuple[str, str], set[str]] = defaultdict(set, {
        key: {s for s in subjects if s.partition(":")[0] in graded_units}
        for key, subjects in (windows_taken_late(session, p, round_id, timetable, action) if action else {}).items()})
    if action is None and not p.assessment_stages:
        # A round decided without any assessment (帮扶 projects' 验收): each window owed and due by the notice (an
        # enterprise listed that never applied for 验收 read "列入帮扶名单" in its 区县局's summary, and heard nothing),
        # and each taken late: nothing else says it (临江's 报送情况通报 could not tell 逾期报送 from 按时报送).
        for a in timetable.actions:
            stage = p.stage(a.stage)
            if (a.action == "deadline" and a.unit is None and a.at <= notice.at and stage.submission
                    and stage.owed_by is not None and not stage.voluntary and stage.submission != "objection"
                    and (category is None or a.category in (None, category))):
                what = item_name(p.material(stage), [stage.period_label(a.period) if a.period else ""])
                missed.setdefault((stage.code, what), set()).update(outstanding(session, p, round_id, a))
                late[(stage.code, what)] |= taken_late(session, p, round_id, a)
    # The follow-ups this assessment's results owed (by grade or place), at their deadlines due by now.
    owed_by_results = {s.code for s in owed_for_results(p, assessed)}
    for a in timetable.actions if owed_by_results else ():
        if (a.action == "deadline" and a.stage in owed_by_results and a.at <= notice.at
                and (category is None or a.category in (None, category))):
            stage = p.stage(a.stage)
            what = item_name(p.material(stage), [stage.period_label(a.period) if a.period else ""])
            # Owed item by item (a lab's 整改报告 for each 不满意 项目): the items never handed in, not the unit (one that
            # sent one of its two had read "未提交整改报告" in the 通报).
            missed.setdefault((stage.code, what), set()).update(missing_subjects(session, p, round_id, a))
    out: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
    made_good = _made_good(session, p, round_id, category)
    after = _handed_in_after(session, p, round_id, category)
    for (code, what), owing in missed.items():
        # Put right once; a window of several periods may be missed again later, and that is still said.
        forgiven = set() if p.stage(code).periods else made_good.get(code, set())
        # A unit, or a unit's item where the window is owed item by item; one that handed it in when ordered to (补报
        # under a 责令限期改正) handed it in late: 临江's 通报 had read "未提交统计数据表" of eleven that had.
        for subject in sorted(s for s in owing if in_category(p, s, category) and s.partition(":")[0] not in forgiven):
            unit = subject.partition(":")[0]
            if unit in after.get(code, ()):
                late[(code, what)].add(subject)
            else:
                out[unit].append((code, p_item_name(p, subject) or None, f"未提交{what}"))
    for (code, what), subjects in late.items():
        for subject in sorted(s for s in subjects if in_category(p, s, category)):
            out[subject.partition(":")[0]].append((code, p_item_name(p, subject) or None, f"{what}逾期报送"))
    out = defaultdict(list, {unit: _periods_together(p, lines) for unit, lines in out.items()})
    # Handed in late and refused (不予受理), and nothing taken instead: a county's summary had left out its
    # enterprise whose late application was refused.
    closed = {a.stage for a in timetable.actions if a.action == "deadline" and a.at <= notice.at}
    # Not an objection: answered by its own letter, and no part of the unit's result (襄阳's named unit read
    # "诚信计量示范单位（得分88.60）；公示异议逾期提交，不予受理").
    # Nor a request a unit may make after the results (a 复核申请): refused as late, it is no part of them (宜昌's 通报 had
    # read "A级（得分91.64）；复核申请逾期提交，不予受理").
    for window in (w for w in p.stages if w.kind in (StageKind.submission, StageKind.followup) and w.lateness == "reject" and w.code in closed
                   and w.submission != "objection" and w.code not in p.requests):
        where = {"session": session, "round_id": round_id, "stage": window.code, "period": None,
                 "category": category, "item_category": p.item_category}
        refused = set(crud.handed_in_subjects(**where, status="rejected_late")) - set(crud.handed_in_subjects(**where))
        for subject in sorted(refused):
            unit = subject.partition(":")[0]
            # Refused, not missed: "未按期提交自评报告；自评报告逾期提交，不予受理" had said it twice.
            item = p_item_name(p, subject)  # the unit's, or this item's (lines are item by item where owed so)
            out[unit] = [x for x in out[unit] if x[0] != window.code or x[1] not in (None, item)]
            out[unit].append((window.code, item, p.material(window) + REFUSED_LATE))
    return out


def by_item(lines: Iterable[tuple[str | None, str]]) -> dict[str | None, list[str]]:
    """(item, text) pairs grouped by item (None: the unit's own), in the order each first comes: an item is named once,
    before all that is said of it (a unit's own letter, :func:`said_by_item`; its superior's summary)."""
    grouped: dict[str | None, list[str]] = defaultdict(list)
    for item, text in lines:
        grouped[item].append(text)
    return grouped


def said_by_item(lines: list[tuple[str | None, str]]) -> list[str]:
    """(item, "未提交…") as a unit's own letter lists them: an item named once, before all it missed ("探索试点第6项：
    未提交中期检查（…），未提交评价确认申请"; a county's two lines had each begun with it); the unit's own, each alone."""
    return [line for item, texts in by_item(lines).items()
            for line in ([f"{item}：{'，'.join(texts)}"] if item else texts)]


def _of_graded(session, p: Programme, round_id, missed: dict[tuple[str, str], set[str]], graded: set[str],
               category: str | None) -> dict[tuple[str, str], set[str]]:
    """What the assessment's subjects missed of the windows it read: a window its subjects are chosen by (a 验收申请)
    or a decision decides on (a 年度报告's 书面审查), whole; any other, by the units graded or owing such a window. Not
    a report of a unit that is no subject (a 通报 of counties' 验收结果 had listed a city, "未提交中期推进情况")."""
    if not graded:
        return missed
    chosen_by = _subject_windows(p) | {s.decides for s in p.stages if s.kind is StageKind.decision and s.decides}
    if all(u.partition(":")[0] in graded for key, units in missed.items() if key[0] not in chosen_by for u in units):
        return missed  # every miss outside those windows is a graded subject's: nothing to read
    subjects = graded | {u.partition(":")[0] for code in chosen_by if p.has_stage(code) and p.stage(code).owed_by
                         for u in owers(session, p, round_id, p.stage(code), category)}
    out = {key: units if key[0] in chosen_by else {u for u in units if u.partition(":")[0] in subjects}
           for key, units in missed.items()}
    return {key: units for key, units in out.items() if units}


def _subject_windows(p: Programme) -> set[str]:
    """The windows the assessment's subjects are chosen by, through the decisions on them (approved_at a step that
    decides on an application: the application window)."""
    out: set[str] = set()
    todo = [p.assessment.subjects] if p.assessment else []
    while todo:
        who = todo.pop()
        todo += who.any_of
        for code in (who.submitted_at, who.missing_at, who.approved_at, who.rejected_at):
            seen: set[str] = set()
            while code and p.has_stage(code) and code not in seen:
                seen.add(code)
                stage = p.stage(code)
                if stage.kind is not StageKind.decision:
                    out.add(code)
                code = stage.decides
    return out


def _made_good(session, p: Programme, round_id, category: str | None) -> dict[str, set[str]]:
    """Window → the units whose miss of it a follow-up owed for that miss put right (its decision passed them):
    绍兴's project that never sent its 中期自评报告, then rectified and passed its 复评, read "不通过；未提交中期自评报告"
    at 验收 as a second failure."""
    out: dict[str, set[str]] = defaultdict(set)
    for d in p.stages:
        followup = p.stage(d.decides) if d.kind is StageKind.decision and d.decides and p.has_stage(d.decides) else None
        if followup is None or followup.kind is not StageKind.followup or followup.owed_by is None:
            continue
        for window in followup.owed_by.windows_missed():
            out[window] |= {x.partition(":")[0] for x in select_subjects(
                session, p, round_id, Who(approved_at=d.code, with_rejected=True), category)}
    return out


def owed_for_results(p: Programme, assessed: str | None) -> list[Stage]:
    """The follow-ups, and the compulsory windows (补测结果), the results of ``assessed`` owe (by grade or place): what a
    superior is told its units owe for them, and later told they never handed in (a voluntary 复验申请 is a right, not
    owed: a county had been asked to see that its laboratory applied)."""
    return [s for s in p.stages if s.owed_by is not None and (s.owed_by.grades or s.owed_by.rank is not None)
            and s.owed_by.assessed_at in (None, assessed) and (s.kind is StageKind.followup
                                                                or s.kind is StageKind.submission and not s.voluntary)]


def _handed_in_after(session, p: Programme, round_id, category: str | None) -> dict[str, set[str]]:
    """Window → the units that handed its material in under a follow-up owed for missing it (责令限期改正（补报年度报告）
    takes the 年度报告 itself)."""
    out: dict[str, set[str]] = defaultdict(set)
    for f in p.stages:
        if f.kind is not StageKind.followup or f.owed_by is None or not f.submission:
            continue
        for window in (w for w in f.owed_by.windows_missed() if p.has_stage(w)):
            # Not a window of several periods: one 补报 is not each month's report (as _made_good forgives once).
            if p.stage(window).submission == f.submission and len(p.stage(window).periods) <= 1:
                out[window] |= set(crud.handed_in_units(session=session, round_id=round_id, stage=f.code, period=None,
                                                        category=category, item_category=p.item_category))
    return out


def _periods_together(p: Programme, lines: list[tuple[str, str | None, str]]) -> list[tuple[str, str | None, str]]:
    """A window missed, or handed in late, at several of its periods, said once with them: a 通报 had read "未提交月调度
    报告（2026年2月）；未提交月调度报告（2026年3月）；…" five times over. Other lines of the window stay as they are."""
    def form(code: str, item: str | None, text: str) -> tuple[int, str, str, str] | None:
        handed = p.material(p.stage(code))
        if item is not None or handed.endswith("）"):
            return None
        for k, (pre, post) in enumerate(((f"未提交{handed}（", "）"), (f"{handed}（", "）逾期报送"))):
            if text.startswith(pre) and text.endswith(post) and len(text) > len(pre) + len(post):
                return k, pre, post, text[len(pre):-len(post)]
        return None

    labels: dict[tuple[str, int], list[str]] = defaultdict(list)
    for code, item, text in lines:
        if (found := form(code, item, text)) is not None:
            labels[(code, found[0])].append(found[3])
    out, said = [], set()
    for code, item, text in lines:
        found = form(code, item, text)
        if found is None or len(labels[(code, found[0])]) < 2:
            out.append((code, item, text))
        elif (code, found[0]) not in said:
            said.add((code, found[0]))
            out.append((code, None, f"{found[1]}{periods_joined(labels[(code, found[0])])}{found[2]}"))
    return out


def awaiting_decisions(session, p: Programme, round_id, category: str | None) -> dict[str, str]:
    """Subject → the decision still to come on it, of those on the rejected (整改复查 after a 现场检查's 不合格): handed
    in and undecided, or owing the window it decides while that window is still open (a 整改报告 due later). A
    rejection told meanwhile says so, not as final (强检's 7月底 letters had, and August's said the opposite)."""
    out: dict[str, str] = {}
    now = clock.run_moment() or clock.now()
    deadlines: list[Action] | None = None
    for s in map(p.stage, sorted(p.decisions_for_rejected)):
        out |= {x: s.name for x in pending_decisions(session, p, round_id, s, category) if x not in out}
        window = p.stage(s.decides) if s.decides and p.has_stage(s.decides) else None
        if window is None or window.kind not in (StageKind.submission, StageKind.followup):
            continue
        deadlines = deadlines or [a for a in kept_timetable(session, p, round_id).actions if a.action == "deadline"]
        if any(a.stage == window.code and a.at > now for a in deadlines):
            done = decided(session, round_id, s.code, POSITIVE) | decided(session, round_id, s.code, NEGATIVE)
            out |= {u: s.name for u in owers(session, p, round_id, window, category) if u not in done and u not in out}
    return out
