"""Why a result reads as it does, for the 说明 of a result letter: a veto, a capped grade that was full
(with how many its cap counted over), a line missed, and the bonus and deduction items a total holds."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import NamedTuple

from qcycle.lifecycle.who import p_item_name
from qcycle.lifecycle.wording import (
    NOT_HANDED_IN,
    forced,
    grade_consequence,
    periods_joined,
    ranked_among,
    veto_reason,
)
from qcycle.models import ResultRow
from qcycle.render import quoted
from qcycle.schema import Grade, Programme, category_label, grade_label
from qcycle.scoring import caps, item_points, times

__all__ = ["Graded", "adjustment_remarks", "graded_together", "places_rule", "result_remarks", "where_rechecked"]


class Graded(NamedTuple):
    """How a result stands among those graded with it (:func:`graded_together`)."""

    counted: int  # how many subjects its caps were counted over
    tied: int  # how many share its rank
    above: str | None  # the better grade an equal total took where a tie rule placed it below
    rule: str  # that tie rule as the letter says it ("按单位代码"); "" where none placed it
    vetoed: int = 0  # how many of its group a veto took out of the count


def graded_together(p: Programme, rows: Iterable[ResultRow]) -> dict[str, Graded]:
    """Subject → how it stands among those graded in its ranking group (its level under
    ``rank_within``, its category where the assessment is per category), vetoed ones not counted."""
    def group(r: ResultRow) -> tuple[str, str | None]:
        return p.rank_key(r.unit_code, r.stage)

    rows = list(rows)
    place = {g: i for i, g in enumerate(p.assessment.grade_names if p.assessment else [])}
    groups = {r.unit_code: group(r) for r in rows}
    sizes: dict[tuple[str, str | None], int] = {}
    ranks: dict[tuple[str, str | None, int], int] = {}
    best: dict[tuple[str, str | None, float], str] = {}  # (group, total) → the best grade it took
    # (group, total, grade) → the tie components' scores of those who took it: where they equal
    # a subject's own, unit code placed it below, not the components.
    scores: dict[tuple[str, str | None, float, str], set[tuple]] = {}
    tied = _tie_scores(p)
    base = p.assessment.share_base if p.assessment else len
    vetoed: dict[tuple[str, str | None], int] = {}
    counted_all = p.assessment is not None and p.assessment.share_of == "all"  # the vetoed count toward a share
    for r in rows:
        if forced(p, r):
            vetoed[groups[r.unit_code]] = vetoed.get(groups[r.unit_code], 0) + 1
            if counted_all:
                sizes[groups[r.unit_code]] = sizes.get(groups[r.unit_code], 0) + 1
        else:
            g = groups[r.unit_code]
            sizes[g] = sizes.get(g, 0) + base([r.total])  # 1, or 0 below the line a share_of: passing counts from
            ranks[(*g, r.rank)] = ranks.get((*g, r.rank), 0) + 1
            key = (*g, round(r.total, 2))
            if r.grade in place and (key not in best or place[r.grade] < place[best[key]]):
                best[key] = r.grade
            scores.setdefault((*key, r.grade), set()).add(tied(r))
    out = {}
    for r in rows:
        g = groups[r.unit_code]
        level = best.get((*g, round(r.total, 2)))
        level = level if level not in (None, r.grade) and not r.veto else None
        by_code = level is not None and tied(r) in scores.get((*g, round(r.total, 2), level), set())
        rule = "" if level is None else "按单位代码" if by_code else _tie_rule(p)
        out[r.unit_code] = Graded(sizes.get(g, 0), ranks.get((*g, r.rank), 1), level, rule, vetoed.get(g, 0))
    return out


def _tie_scores(p: Programme) -> Callable[[ResultRow], tuple]:
    """A result's scores on the components its ties are ordered by (none where ties go by unit code)."""
    scheme = p.assessment
    if scheme and scheme.ties == "submitted_first":  # each its own hand-in time: never placed by unit code
        return lambda r: (r.unit_code,)
    codes = [c.code for c in scheme.tie_components] if scheme and scheme.ties == "components_in_order" else []
    return lambda r: tuple(round(float((r.components or {}).get(c) or 0.0), 2) for c in codes)


def result_remarks(p: Programme, results: Iterable[ResultRow],
                   vacated: Collection[tuple[str, str | None]] = (),
                   adjusted: Mapping[str, tuple[dict[str, float], dict[str, float], dict[str, list[str]]]] | None = None,
                   sizes: Mapping[str, Graded] | None = None, facts: Mapping[tuple[str, str], str] | None = None,
                   listed: Grade | None = None) -> str | None:
    """Why a result is not what its score reads as, for the result letter's 说明 (``listed``: for a 公示's letter to
    one left off, the lowest grade its list names: a score under that line is said against it, as 固镇's 66.93 had
    been told it missed 限期整改's 75 of a list drawn at 验收通过's 85):
    - a veto forces its grade (焦作: 74.85 points and D级 "因发生重大质量安全事故，实行一票否决"), with the facts recorded
      with it (``facts``: (subject, veto) → note: 常德's 澧县 could not tell which accident);
    - a capped grade was full (天水: 868.59 points, above the award's line, and 未获奖 because the
      award goes to at most 2: "天水市人民政府质量奖名额不超过2个，贵单位得分排名第3"; a share: "优秀比例
      不超过参评对象的30%"; 87.35 had read "良好" alone, above 优秀's line of 85), and where a
      candidate above it left at a later step (``vacated``: (grade, category)), that its place
      stays vacant rather than going down the ranking;
    - a score in the last grade, below the line of the one above it (温州's 587.77 and 未获奖,
      600 the award's line: "得分未达到温州市市长质量奖分数线（600分）"), so that it reads as the line
      missed, not as a place refused;
    - the bonus and deduction items a total holds (``adjusted``: subject → counts per item), so that a
      grade a bonus decides names it (焦作's 解放区, A by "辖区企业获得省长质量奖或市长质量奖2家，加2分")."""
    said = []
    vacant_after = None  # the remark after which a place left vacant is said: once, however many items it holds for
    missing: dict[str, list[tuple[int, str | None, Grade]]] = {}  # a line → the remarks of the items that missed it
    for r in results:
        item = p_item_name(p, r.unit_code)
        if r.veto and (forced(p, r) or _barred_line(p, r)):
            said.append(f"{item + '：' if item else ''}{veto_reason(p, r.veto, (facts or {}).get((r.unit_code, r.veto)))}"
                        f"，等次定为{grade_label(r.grade)}")
        elif r.veto:  # barred from grades its score never reached: the veto said, and the line its score missed
            said.append(f"{item + '：' if item else ''}{veto_reason(p, r.veto, (facts or {}).get((r.unit_code, r.veto)))}")
            if (line := _missed_line(p, r)) is not None:  # 30.15 and 不合格 had read as the veto's doing
                missing.setdefault(line.name, []).append((len(said), item, line))
                said.append(line_missed(p, item, line))
        elif listed is not None and listed.line is not None and p.assessment is not None and (
                not p.assessment.reaches_grade(r.total, listed)):
            missing.setdefault(listed.name, []).append((len(said), item, listed))
            said.append(line_missed(p, item, listed))
        elif (full := _full_grade(p, r)) is not None:
            among = ranked_among(p, r.unit_code)  # "县（市、区）" where each level is ranked apart
            counted = _counted_over(p)
            share = _share_said(p, full.name, f"比例不超过{'' if full.max_count else among}") if full.share else ""
            n, tied, level, rule, vetoed = (sizes or {}).get(r.unit_code) or (None, 1, None, "", 0)
            if full.share and n is not None and not full.max_count and p.assessment is not None:
                # How many places the share gives, counted over whom: first of 3 under 20 % has none at all,
                # not one taken by others; 20 % of 12 enterprises, 3 vetoed, is 1 place, not 2.
                places = caps(p.assessment, n)[full.name] or 0  # as scoring counted them
                ranked = counted == "参评对象"  # those over a line (share_of: passing) are never the vetoed
                apart = ranked and p.assessment.share_of != "all"  # share_of: all counts them too: n holds them
                out = f"，一票否决的{vetoed}个不计" if vetoed and apart else ""
                share += (f"（{'参评' if ranked else counted}{n + vetoed if apart else n}个{out}，按比例"
                          f"{grade_label(full.name)}名额{f'{places}个' if places else '不足1个'}）")
            limits = "、".join(x for x in (f"名额不超过{full.max_count}个" if full.max_count else "", share) if x)
            group = _capped_among(p, r)
            text = (f"{group + '的' if group else ''}{among if full.max_count else ''}{grade_label(full.name)}{limits}，"
                    f"{'该项目' if item else '贵单位'}得分{'在' + among + '中' if among else ''}排名第{r.rank}"
                    # First place tied two ways over one place: the whole tie goes down, and it says so.
                    + (f"（{tied}个并列，超出名额的并列者整组评为下一等次）" if _tie_over(p, full, r, n, tied) else "")
                    # Placed below an equal total by the tie rule (江城's 白河县, 91.00 like two 优秀, read only "排名第4").
                    + (f"（与获评{grade_label(level)}的单位同分，{rule}排在其后）" if level == full.name else ""))
            said.append(text)
            if (full.name, p.item_category.get(r.unit_code.partition(":")[2])) in vacated:
                vacant_after = len(said) - 1
        elif (line := _missed_line(p, r)) is not None:
            missing.setdefault(line.name, []).append((len(said), item, line))
            said.append(line_missed(p, item, line))
        said += adjustment_remarks(p, r, adjusted)
    if vacant_after is not None:  # 温州's two awards had each said it, the second time word for word
        said[vacant_after] += "；名额内的候选在此后评审中未获通过的，名额空缺，不由后续名次递补"
    # Items that missed one line are named together (雅安's "“A”得分未达到合格分数线（60分）；“B”得分未达到…" three times).
    # Only remarks side by side: a deduction said after one item is that item's ("扣5分" had moved to the second).
    together = [entries for entries in missing.values() if len(entries) > 1 and all(item for _, item, _ in entries)
                and all(b[0] == a[0] + 1 for a, b in itertools.pairwise(entries))]
    merged = {at for entries in together for at, _, _ in entries[1:]}
    for entries in together:
        said[entries[0][0]] = line_missed(p, [item for _, item, _ in entries if item], entries[0][2])
    said = [text for at, text in enumerate(said) if at not in merged]
    return "；".join(said) + "。" if said else None


def adjustment_remarks(p: Programme, r: ResultRow,
                       adjusted: Mapping[str, tuple[dict[str, float], dict[str, float], dict[str, list[str]]]] | None
                       ) -> list[str]:
    """The bonus and deduction items the result's total holds, as its own letter names them."""
    return _adjustment_texts(p, r, *adjusted[r.unit_code]) if adjusted and r.unit_code in adjusted else []


def _tie_rule(p: Programme) -> str:
    """How equal totals were ordered, as a letter says it."""
    scheme = p.assessment
    if scheme is not None and scheme.ties == "submitted_first":
        return "按申报时间先后"
    if scheme is None or scheme.ties != "components_in_order" or len(scheme.components) < 2:
        return "按单位代码"
    names = [c.name for c in scheme.tie_components]
    # A part named as a score says it once: "按现场发表评分得分" had been written.
    scores = "" if all(n.endswith("分") for n in names) else "得分"
    return f"按{names[0]}{scores}" if len(names) == 1 else f"按{'、'.join(names)}{scores}依次比较"


def _tie_over(p: Programme, full: Grade, r: ResultRow, n: int | None, tied: int) -> bool:
    """Whether a tie straddles the grade's last place (two tied first over one place), not merely
    stands below it (tied sixth under 3 places)."""
    if tied < 2 or n is None or p.assessment is None or p.assessment.ties != "shared":
        return False
    places = caps(p.assessment, n).get(full.name)
    return places is not None and r.rank <= places < r.rank + tied - 1


def _capped_among(p: Programme, r: ResultRow) -> str:
    """Whose places a capped grade counts, named before it: an assessment per category counts each
    category's (温州's two awards: "温州市市长质量奖的获奖名额不超过5个", the award its one item; a
    category of projects by its name: "工业标准化类项目的优秀比例…", not a project's, which had read as
    if the project had a cap of its own); "" where the whole round is counted."""
    _, code = p.rank_key(r.unit_code, r.stage)
    if code is None:
        return ""
    category = p.category(code)
    if len(category.items) == 1 and (name := p_item_name(p, r.unit_code) or "").endswith("奖"):
        return name  # the award is the category's one item
    if category.name.endswith(("类", "项目", "奖")):
        return category.name
    # A batch says itself ("第一批的…名额"): "第一批类项目" had been written.
    return category.name if category_label(category.name) == category.name else f"{category.name}类项目"


def _measure(counter: str) -> str:
    """The measure word of a "（每…）" in an item's name, alone: （每家） 家, （每次0.5分） 次, （每项加2分） 项,
    （每逾期1次扣2分） 次 ("逾期报送2次0.5分" and "2次扣" had been written)."""
    after_number = re.search(r"\d([^\d.扣加分）])", counter)
    if after_number:
        return after_number.group(1)
    return counter[0] if counter and counter[0] not in "扣加分）" else "次"


def _adjustment_texts(p: Programme, r: ResultRow, bonuses: dict[str, float],
                      deductions: dict[str, float], when: Mapping[str, list[str]] | None = None) -> list[str]:
    """"辖区企业获得省长质量奖或市长质量奖2家，加2分": each item's count (in the unit its name gives,
    "（每家）"), its points within its cap, and the total's cap where it cut the sum; an item counted
    from the hand-ins names the deadlines of a window with periods (``when``: "未报送5次（2026年2月、3月…）",
    which an enterprise could not check from a bare count)."""
    scheme = p.assessment
    assert scheme is not None
    out: list[str] = []
    parts = {c.code: c.name for c in scheme.components}
    for items, counts, verb, total, cap in ((scheme.bonuses, bonuses, "加", r.bonus, scheme.bonus_cap),
                                            (scheme.deductions, deductions, "扣", r.deduction, scheme.deduction_cap)):
        said, start = 0.0, len(out)
        for item in items:
            if not (n := times(item, counts.get(item.code, 0))):
                continue
            points = item_points(item, n)
            name, per, counter = item.name.partition("（每")
            counted = (when or {}).get(item.code, [])
            if item.up_to is not None:  # points given, not a count: "创新工作，加2分"
                out.append(f"{name}，{verb}{points:g}分" + (f"（记录合计{n:g}分，按上限计）" if n > points + 1e-9 else ""))
                said += points
                continue
            times_n = int(n)
            which = _late_and_missing(counted, times_n, name) if item.late_at and item.counts == "late_or_missing" else ""
            said_n = "" if item.once else (
                f"：{which}" if which else f"{times_n}{_measure(counter) if per else '次'}{_deadlines_named(counted, times_n)}")
            if item.part is not None:  # taken within its part (进度报送), not from the total: said so
                left = r.components.get(item.part) if r.components else None
                out.append(f"{name}{said_n}，“{parts[item.part]}”{verb}{points:g}分"
                           + (f"（“{parts[item.part]}”扣完为止，以0分计）" if left is not None and left <= 0 else ""))
                continue
            # 3 honours at 2 points each read "加5分": the item's own cap is said where it cut.
            each = item.points or 0.0
            capped = f"应{verb}{n * each:g}分，按上限计{points:g}分" if points < n * each - 1e-9 else ""
            out.append(f"{name}{said_n}，{capped or f'{verb}{points:g}分'}")
            said += points
        if cap is not None and said > total + 1e-9:  # "加6分；加分合计以上限5分计" had read as two sums
            out[start:] = [x if f"，应{verb}" in x else x.replace(f"，{verb}", f"，应{verb}", 1) for x in out[start:]]
            out.append(f"{verb}分合计按上限计{total:g}分")
    return out


def _deadlines_named(when: list[str], n: int) -> str:
    """"（2026年2月、3月、6月）": the deadlines an item counted, a year said once where they share it;
    nothing where they are not one per count (items of one period alike) or are days of a window
    without periods (one deadline: the count says it)."""
    if len(when) != n or len(set(when)) != n or any(w.endswith("截止") for w in when):
        return ""
    return f"（{periods_joined(when)}）"


def _late_and_missing(when: list[str], n: int, name: str) -> str:
    """What an item counting both late and missing hand-ins (``late_or_missing``) counted of each:
    "逾期报送2次（2026年第一季度、第二季度），未报送1次（2026年第三季度）" (安庆's 迎江区 had read "逾期报送1次" of a
    report never sent, and "季度工作报告逾期报送3次" beside a breakdown of 2 and 1); where all were late, that they were
    (a 乡镇 three days late with its 台账 had read "工作台账逾期或未报送1次" in a 通报, like one that never sent it)."""
    missing = [w.removeprefix(NOT_HANDED_IN) for w in when if w.startswith(NOT_HANDED_IN)]
    if len(when) != n or (not missing and "逾期" in name and "未" not in name):
        return ""  # an item named for lateness alone ("进度报送逾期2次") says it
    late = [w for w in when if not w.startswith(NOT_HANDED_IN)]
    return "，".join(f"{said}{len(of)}次{_deadlines_named(of, len(of))}" for said, of in (("逾期报送", late), ("未报送", missing))
                    if of)


def _missed_line(p: Programme, r: ResultRow) -> Grade | None:
    """The grade just above the last one, where the result is in the last grade below its line."""
    grades = p.assessment.grades if p.assessment else []
    if len(grades) < 2 or r.grade != grades[-1].name:
        return None
    above = grades[-2]
    assert p.assessment is not None
    return above if above.line is not None and not p.assessment.reaches_grade(r.total, above) else None


def line_missed(p: Programme, item: str | list[str] | None, line: Grade) -> str:
    """A line a score missed, as a result letter says it: "得分未达到优秀分数线（85分）"; where a lower total is
    better (风险分级), "得分高于A级分数上限（30分）"; of several items, "“A”、“B”得分未达到…"."""
    assert p.assessment is not None and line.line is not None
    said = "高于{}分数上限" if p.assessment.better == "lower" else "未达到{}分数线"
    names = [item] if isinstance(item, str) else item or []
    return f"{'、'.join(quoted(n) for n in names)}得分{said.format(grade_label(line.name))}（{line.line:g}分）"


def _barred_line(p: Programme, r: ResultRow) -> bool:
    """Whether the result reached the line of a grade its veto barred (``at_most``): the veto set its grade. A barred
    grade without a line of its own (优秀 by share alone) has the line of the nearest grade below it that has one: a
    vetoed 40 under 合格's 60 had been told "不得评为优秀，等次定为不合格"."""
    scheme = p.assessment
    if scheme is None:
        return False
    barred = scheme.barred_grades(r.veto)
    grades = scheme.grades
    for i, g in enumerate(grades):
        line = next((x.line for x in grades[i:] if x.line is not None), None)
        if g.name in barred and scheme.reaches(r.total, line):
            return True
    return False


def _full_grade(p: Programme, r: ResultRow) -> Grade | None:
    """The better grade whose line the result reached but whose places (``max_count`` or ``share``)
    were taken: the nearest above its own (a D among shares of A–D is told of C's, not A's)."""
    scheme, full = p.assessment, None
    if scheme is None:
        return None
    for g in scheme.grades:
        if g.name == r.grade:
            return full
        # A line missed on the way down clears it: 70 is 合格 for missing 良好's 80, whatever 优秀's share.
        full = g if scheme.reaches_grade(r.total, g) and (g.max_count or g.share is not None) else None
    return None


def where_rechecked(p: Programme, decided: Mapping[str, tuple[str, str, bool]],
                    by_unit: dict[str, list[ResultRow]]) -> dict[str, str]:
    """Graded subject → how its last decision reads, where that decides a follow-up or a second chance its grade gave
    (``Programme.rechecks``) and comes after its assessment (限期整改, then "通过复验" or "未通过复验（…），取消…"): a final letter had repeated the
    验收's 基本达标 of a site its 复验 had since cancelled."""
    graded = {r.unit_code: r for rs in by_unit.values() for r in rs}
    out = {}
    for subject, (said, code, _) in decided.items():
        r = graded.get(subject)
        if r is not None and code in p.rechecks and p.stage_place.get(code, -1) > p.stage_place.get(r.stage, -1):
            out[subject] = f"{kept}；{said}" if (kept := _standing_consequence(p, r.grade, code)) else said
    return out


def _standing_consequence(p: Programme, grade: str, code: str) -> str | None:
    """What a grade brings that its follow-up's decision leaves standing: a D级's 列为重点监管对象 beside the review of
    its 隐患整改方案 (a 通报 named it of one D of seven: the six whose plans were reviewed had lost it); not a
    consequence the follow-up is about (限期整改) nor one a second chance decides again (a 复验申请's 撤销试点资格)."""
    brings = grade_consequence(p, grade)
    window = p.stage(p.stage(code).decides or code)
    if not brings or window.voluntary or any(w in brings for w in ("整改", "复验", "复查", p.material(window))):
        return None
    return brings


def places_rule(p: Programme, held: Iterable[ResultRow] | None = None) -> str | None:
    """How many each grade may take, as a 公示 of results says it under them (QC小组's 公示 listed 85.71 as 优秀奖
    beside a rule of "70分以上为三等奖" and said nothing of the caps that held it there): "按规定，一等奖不超过
    参评对象的10%，二等奖与一等奖合计不超过参评对象的30%。"; None where no grade is capped. ``held``: said only
    where one of these results reached a better grade's line and found its places taken (a 通报 of 街道 listed
    95.01 as 良好 under "优秀≥90" and nothing of the two places 优秀 had)."""
    scheme = p.assessment
    held = list(held) if held is not None else None
    if scheme is None or held is not None and not any(_full_grade(p, r) for r in held if not r.veto):
        return None
    said = []
    for g in scheme.grades:
        limits = [f"名额不超过{g.max_count}个"] if g.max_count else []
        if g.share is not None:
            limits.append(_share_said(p, g.name, "不超过"))
        if limits:
            said.append(grade_label(g.name) + "、".join(limits))
    # A 公示 of one category lists that category's results, whose own places they are; levels or groups are said, and
    # categories where a list of several counts each apart (江苏's 设区市局 read "领跑者名额不超过3个" beside 6 领跑者).
    categories = {p.rank_key(r.unit_code, r.stage)[1] for r in held or ()}
    apart = _ranked_apart(p) or ("（按类别分别计）" if len(categories) > 1 and None not in categories else "")
    return f"按规定，{'，'.join(said)}{apart}。" if said else None


def _ranked_apart(p: Programme) -> str:
    """"（县（市、区）、部门分别计）", "（电饭锅、空气净化器、儿童推车分别计）": the levels or groups ranked apart, named (湖南's
    领跑者 read "按分组分别计", the office's word, of its product categories); "" where all are ranked together."""
    scheme = p.assessment
    if scheme is None or scheme.rank_within == "all":
        return ""
    subjects = p.assessed_units
    names = list(dict.fromkeys(
        (u.group or "" if scheme.rank_within == "group" else p.level_names.get(u.level, u.level))
        for u in p.units if u.code in subjects))
    if len(names) > 5 or not all(names):
        return "（按分组分别计）" if scheme.rank_within == "group" else "（按级别分别计）"
    return f"（{'、'.join(names)}分别计）"


def _counted_over(p: Programme) -> str:
    """Whom a grade's share is counted over, as letters say it: 参评对象, or those over a line (share_of: passing)."""
    scheme = p.assessment
    if not scheme or scheme.share_of != "passing":
        return "参评对象"
    return f"得分{'不高于' if scheme.better == 'lower' else '达到'}{scheme.pass_line:g}分的单位"


def _share_said(p: Programme, grade: str, limit: str) -> str:
    """A grade's share as a letter says it: "不超过参评对象的10%", its band's under cumulative bands ("与一等奖合计
    不超过参评对象的30%"); ``limit`` is the words before whom it counts over."""
    assert p.assessment is not None
    band, fraction = p.assessment.share_band(grade)
    together = f"与{'、'.join(grade_label(b) for b in band[:-1])}合计" if len(band) > 1 else ""
    return f"{together}{limit}{_counted_over(p)}的{fraction * 100:g}%"
