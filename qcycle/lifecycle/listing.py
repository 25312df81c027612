"""The units on a list a publication publishes, and where each unit it reaches stands on it."""

from __future__ import annotations

from typing import Any

from qcycle import crud
from qcycle.lifecycle.drafting import handed_in_item
from qcycle.lifecycle.standing import list_standing, took_part
from qcycle.lifecycle.who import in_category, owers, p_item_name, resolve, select_subjects
from qcycle.lifecycle.wording import belonging
from qcycle.schema import Programme, Who

__all__ = ["list_told"]


def list_told(session, p: Programme, round_id, who: Who | None, units: list[str], category: str | None,
               own: dict[str, dict[str, Any]], lists: Who | None = None) -> tuple[list[str], int] | None:
    """The units on a published list (who was approved, or given a grade), each unit's standing on it
    added to ``own`` (its items on it, those left off, or that it never was a candidate), and how many list items are on
    it where it is of items (10 projects of 9 firms had read "名单共列入9个单位" above the 10); None where the
    publication is not of a list. ``lists``: the units on it, as the file names them (长兴's 参评企业名单 and 江西's
    取消创建资格名单 had each read "已发布…名单，请及时查阅" to the units on it, none told it was; a list guessed from
    the name had told counties they were on a 专家名单)."""
    approvals = [w.approved_at for w in ([who, *who.any_of] if who else []) if w.approved_at]
    # A decision's list sent to all (``lists: {approved_at: …}``): its candidates left off are told so, as where the list
    # is whom it is sent to (湖州's firm recommended and not put on the 帮扶名单 read only "名单共列入7个单位").
    decided = lists if not approvals and lists is not None and lists.approved_at else None
    if decided is not None:
        approvals = [str(decided.approved_at)]
    if approvals:  # the published list: who was approved (others are told they are not)
        takers = units if decided is None and who is not None and who.approved_at else resolve(
            session, p, round_id, decided or Who(approved_at=approvals[0]), category)
        # Each unit is told which of its items are on the list, which not, and why where the step says.
        for unit, standing in list_standing(session, p, round_id, approvals[0], category).items():
            own[unit].update(standing)
        # Those never candidates (a city bureau, an enterprise that did not apply) are told the list, and
        # which of theirs are on it, not "贵单位未列入".
        candidates = took_part(session, p, round_id, approvals[0], category)
        on = set(takers)
        items = sum(1 for x in select_subjects(session, p, round_id, Who(approved_at=approvals[0]), category)
                    if ":" in x and x.partition(":")[0] in on)
    elif who is not None and (graded := next((w for w in (who, *who.any_of) if w.grades), None)) is not None:
        # A list of those given a grade (挂牌名录 of the sites 达标), told as a list decided is: it had read
        # "已发布…名录，请及时查阅" to the one city with a site on it.
        chosen = select_subjects(session, p, round_id, Who(grades=graded.grades, assessed_at=graded.assessed_at),
                                 category)
        takers = sorted({x.partition(":")[0] for x in chosen})
        items = sum(1 for x in chosen if ":" in x)
        for subject in chosen:
            if name := p_item_name(p, subject):
                own[subject.partition(":")[0]].setdefault("listed_items", []).append(name)
        assessed = graded.assessed_at or crud.latest_results_stage(session=session, round_id=round_id)
        candidates = {x.partition(":")[0] for x in crud.result_subjects(session=session, round_id=round_id,
                                                                         stage=assessed)
                      if in_category(p, x, category)} if assessed else set()
    elif lists is not None:  # the list the file names (参评企业名单); those it reaches and not on it are told which of theirs are
        takers = resolve(session, p, round_id, lists, category)
        candidates, items = set(takers), 0
        if lists.submitted_at:  # of those who handed a window in: one that owed it and did not is left off, and told why
            window = p.stage(lists.submitted_at)
            handed = set(resolve(session, p, round_id, Who(submitted_at=window.code, with_rejected=True), category))
            for u in set(owers(session, p, round_id, window, category)) - candidates - handed:
                own[u]["unlisted_reason"] = f"未在截止时间前提交{handed_in_item(p, window, category=category)}"
                candidates.add(u)
    else:
        return None
    below = p.under_each(takers)
    # Its candidates left off (质量攻关's 南屏市局 never heard that the one project it recommended was not 立项).
    left = p.under_each(sorted(candidates - set(takers)))
    for u in set(units) - set(takers) - candidates:
        own[u]["onlooker"] = True
        own[u]["takers_below"] = [p.unit(t).name for t in below.get(u, [])]
        own[u]["left_below"] = [p.unit(t).name for t in left.get(u, [])]
        # An association's units are 所在行业（系统）内, not 辖区内.
        own[u]["below_word"] = belonging(p, mine) if (mine := below.get(u) or left.get(u)) else "辖区内"
    return takers, items
