"""A list reported to superiors (``template: report``: 报送推荐名单 to the national office), apart from the result
letters :mod:`qcycle.lifecycle.notifying` writes."""

from __future__ import annotations

from qcycle import crud
from qcycle.lifecycle.drafting import draft_letters
from qcycle.lifecycle.outcome import Outcome
from qcycle.lifecycle.standing import latest_standing, missing_in, objections_upheld
from qcycle.lifecycle.summaries import missed_said, placed_order
from qcycle.lifecycle.who import p_item_name, resolve, results_of, select_subjects
from qcycle.lifecycle.wording import places_counted_as, score_text, unscored, veto_reason
from qcycle.render import quoted
from qcycle.schema import Programme, grade_label

__all__ = ["report_list"]

def report_list(session, p: Programme, round_id, action) -> Outcome:
    """A list reported to superiors (报送推荐名单 to the national office): the subjects ``lists``
    selects, best placed first where they were scored, each with its item, grade and score; "特此报告".
    A result letter to a superior had listed every applicant, internal reasons and all."""
    stage = p.stage(action.stage)
    assert stage.lists is not None
    listed = select_subjects(session, p, round_id, stage.lists, action.category)
    # The assessment the list comes from: the one its selection names, else the latest.
    assessed = stage.lists.assessed_at or crud.latest_results_stage(session=session, round_id=round_id)
    scored = {r.unit_code: r for r in results_of(session, round_id, assessed)}
    order = placed_order(p, scored)
    # Refused at a step after its grade, or chosen for a hand-in it never made: said beside it (临江's list of the
    # 补充能力验证 failures gave one lab's first grade, 有问题, and another's bare name).
    decided = latest_standing(session, p, round_id, reasons=False)
    since = p.stage_place.get(assessed or "", -1)
    never = {u: [f"{quoted(n) + '：' if n else ''}{text}" for _, n, text in lines]
             for u, lines in missed_said(p, missing_in(session, p, round_id, stage.lists, action.category)).items()}
    lines = []
    for subject in sorted(listed, key=lambda s: (order(s), s)):
        item = p_item_name(p, subject)
        r = scored.get(subject)
        # A veto said beside the grade it forced ("不合格，得分67.93" above the line read as a mistake).
        graded = "；".join(x for x in (f"{grade_label(r.grade)}" + ("" if unscored(p, r) else f"，得分{score_text(r)}"),
                                       veto_reason(p, r.veto) if r.veto else "") if x) if r else ""
        said_now, step, yes = decided.get(subject, ("", "", True))
        refused = said_now if not yes and p.stage_place.get(step, -1) > since else ""
        missed = [x for x in never.get(subject, []) if x.rpartition("：")[2] not in refused]  # once, not beside its rule
        said = "；".join(x for x in (quoted(item) if item else "", graded, refused, *missed) if x)
        lines.append(p.unit(subject.partition(":")[0]).name + (f"（{said}）" if said else ""))
    units = resolve(session, p, round_id, stage.notify, action.category)
    # The objections upheld go with the list to whoever decides on it (嘉善's 县政府 was sent a winner an upheld
    # objection concerned, without a word of it).
    drafts = draft_letters(units, "report.j2", p, action, lines=lines, listing=p.material(stage),
                           word=places_counted_as(p, listed), upheld=objections_upheld(session, p, round_id, stage.code))
    return Outcome(action, drafts, note=f"{action.title}：报送 {len(lines)} 个，{len(drafts)} 封")
