"""How a letter says what a unit achieved or why it owes a follow-up: the wording the
notification and follow-up handlers put after "贵单位"."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping

from qcycle.lifecycle.who import p_item_name
from qcycle.models import ResultRow
from qcycle.render import cn_date, quoted
from qcycle.schema import (
    Programme,
    Stage,
    SubmissionKind,
    Who,
    category_label,
    grade_label,
)
from qcycle.timetable.dates import years_on

__all__ = [
    "LISTS",
    "NOT_HANDED_IN",
    "REFUSED_LATE",
    "achievement_of",
    "after_grade",
    "belonging",
    "call_subject",
    "component_scores",
    "conferring",
    "counted_as",
    "forced",
    "grade_consequence",
    "grade_terms",
    "graded_as",
    "judged_by",
    "listing_of",
    "names_short",
    "notice_name",
    "periods_joined",
    "place_achieved",
    "place_among",
    "places_counted_as",
    "rank_in_group",
    "ranked_among",
    "reason_of",
    "result_kind",
    "result_label",
    "score_text",
    "scored_line",
    "summons_grounds",
    "unscored",
    "verdict_said",
    "veto_reason",
    "vetoed_to",
    "without_consequence",
]

# What a publication or 公示 of units is called when it is a list of them.
LISTS = ("名单", "目录", "名录")
# Before a deadline's label a deduction counted (``late_or_missing``): that nothing was handed in, not late.
NOT_HANDED_IN = "\x1f"
# A hand-in refused as late, as every letter says it after the thing handed in: "复查申请逾期提交，不予受理".
REFUSED_LATE = "逾期提交，不予受理"


SECTOR = "所在行业（系统）内"


def belonging(p: Programme, units: Iterable[str]) -> str:
    """How a superior's letter calls its subordinates: its own departments and 基层所 are 所属, units
    in its area (enterprises, counties, towns a bureau supervises) 辖区内 (a 标准化试点's 督办 had
    called the enterprises a city bureau oversees "贵单位所属"); the enterprises under a department or an
    association, which has no area, 所在行业（系统）内 (江西's 建筑业协会 had read "贵单位辖区内…参加")."""
    units = list(units)
    if any(p.unit(u).level in ("department", "office") for u in units):
        return "所属"
    parents = {p.unit(u).parent for u in units}
    return SECTOR if parents and all(x is not None and p.unit(x).level == "department" for x in parents) else "辖区内"


def achievement_of(round_name: str, items: str, grade: str) -> str:
    """What a unit achieved, as a praise or award letter reads after "贵单位": a grade is rated
    (在…考核中被评为A级), an award is won (荣获…质量奖), and an award the round is named after
    is not said twice (荣获2024年度某市市长质量奖, not 在2024年度某市市长质量奖中被评为市长质量奖).
    ``items``: the names of the unit's subjects given that grade ("" for the unit itself); where
    they are the awards and the grade only says "won" (温州: 获奖), the awards are what is won."""
    what = f"（{items}）" if items else ""
    award = round_name.removesuffix("评审").removesuffix("评选")
    contest = f"{round_name}评选" if round_name.endswith("奖") else round_name
    if grade.startswith("获奖"):  # a grade that only says "won": the subjects are what is won
        if "奖" not in items:  # a title, not an award: "荣获获奖" had been read by 26 enterprises
            return f"在{contest}中被评为{items}" if items else f"在{contest}中获奖"
        if "、" not in items and award.endswith(items.partition("（")[0]):  # the round's own award
            return f"荣获{award}"
        return f"在{round_name}中荣获{items}"
    if not grade.endswith("奖") or grade.startswith("未"):
        return f"在{round_name}{what}中被评为{grade_label(grade)}"
    if award.endswith(grade) and not what:
        return f"荣获{award}"
    return f"在{contest}{what}中荣获{grade}"


def place_achieved(p: Programme, contest: str, r: ResultRow) -> str:
    """A place as a praise reads after "贵单位": "在…考核中排名县（市）第1", and what it ranked in where
    ranks restart per category (温州's two awards: two units had each read "排名第1")."""
    _, ranked_in = p.rank_key(r.unit_code, r.stage)
    where = f"（{p_item_name(p, r.unit_code) or category_label(p.category(ranked_in).name)}）" if ranked_in else ""
    return f"在{contest}{where}中排名{ranked_among(p, r.unit_code)}第{r.rank}"


def call_subject(p: Programme, title: str) -> str:
    """What a call's subject says after 【通知】: the round's name once, with what was published. A
    title naming the round whole (发布2024年广州市市长质量奖申报通知) stands alone; one naming it
    without its place, year or edition names it whole instead (印发淮安市2015年度县区质量工作考核通知,
    发布第七届福州市政府质量奖申报通知, not …：发布福州市政府质量奖申报通知, the award said twice). A
    document's own title (《…》) is not rewritten: the round's name goes before it."""
    name = p.round.name
    if _bare(re.sub(r"（[^（）]*）$", "", name)) in _bare(title):  # 榆阳: 印发《榆阳区关于…〈纲要〉的实施意见》
        return title
    whole = name.removesuffix("评审").removesuffix("评选")  # the award, as a call names it
    if whole in title:
        return title
    # The name from its place, year or edition on (天水市人民政府质量奖, 第4届区政府质量奖), longest first.
    place = _place_of(whole)
    starts = sorted({m.end() for m in re.finditer(r"\d{4}(?:[—–-]\d{4})?年度?|第[0-9一二三四五六七八九十百]+届", whole)}
                    | ({whole.find(place) + len(place)} if place else set()))
    for tail in (whole[i:] for i in starts if len(whole) - i >= 4):
        at = title.find(tail)
        # Not where the title gives its own year, edition or place right before (发布2024年度广州市…,
        # 转发苏州市市长质量奖…): that is another spelling, or another award, not this name cut short.
        if at >= 0 and "《" not in title and not (at and re.match(r"[0-9省市区县年度届]", title[at - 1])):
            return title[:at] + whole + title[at + len(tail):]
    return f"{name}：{title}"


def _bare(text: str) -> str:
    """A name without its quotation marks, brackets, 关于 and 的, to find it inside a title."""
    return re.sub(r"[《》〈〉“”‘’（）()\s]|关于|的", "", text)


def _place_of(round_name: str) -> str:
    """Whose round it is, as its name says (太仓市, 宝山区); "" when the name says no place. A
    subject names it: 太仓's units also hear of 苏州's 市长质量奖."""
    found = re.search(r"[\u4e00-\u9fff]{2,3}?[省市区县]", re.sub(r"\d{4}年度?|第[0-9一二三四五六七八九十百]+届", "", round_name))
    return found.group() if found else ""




def without_consequence(p: Programme, verdict: str, stage: str) -> str:
    """A :func:`verdict` less what the rejection brings (its ``on_rejection``), for a letter that is that
    consequence or asks for its remedy: a 约谈通知, a 整改通知."""
    brings = next((x for x in p.stage(stage).consequences() if verdict.endswith(f"，{x}")), None)
    # An order to rectify is what the 整改通知 is: kept ("结论为不符合（…），责令改正。请于…前将整改报告报送", 鄞州's had dropped it).
    if brings and any(word in brings for word in ("改正", "整改")):
        return verdict
    return verdict.removesuffix(f"，{brings}") if brings else verdict


def reason_of(p: Programme, who: Who, met: Callable[[Who], bool] | None = None,
              verdicts: Mapping[str, str] | None = None) -> str:
    """Why a unit owes a follow-up, as the letter reads after "贵单位在{周期}中": 被评为D级,
    排名后3名, “整改审核”未获通过 … For one unit: ``met`` keeps the alternatives it met, ``verdicts``
    (decision stage → how its letter said the rejection, "未通过中期评估（理由）") words its rejections."""
    parts = []
    if who.grades:
        parts.append(graded_as(who.grades))
    if who.rank is not None:
        parts.append(who.rank.describe())
    if who.rejected_at:
        step = p.stage(who.rejected_at)
        parts.append((verdicts or {}).get(who.rejected_at) or verdict_said(step, False) or f"{quoted(step.name)}未获通过")
    if who.missing_at:
        # A voluntary window (复检申请) is a right not used in time, not a report owed: 抽查's 整改通知 had read
        # "未按期报送“书面异议（复检申请）”" of firms that simply did not object (and one refused as late).
        window = p.stage(who.missing_at)
        parts.append(f"{'未在期限内提交' if window.voluntary else '未按期报送'}{quoted(p.material(window))}")
    if who.approved_at and not parts:
        parts.append(f"经{quoted(p.stage(who.approved_at).name)}确定")
    parts += [reason_of(p, alt, met, verdicts) for alt in who.any_of if met is None or met(alt)]
    return "，".join(x for x in parts if x)  # "" for a selection by the hierarchy alone: no standing to say


def verdict_said(step: Stage, yes: bool, done: bool = False) -> str | None:
    """A decision's outcome in its own words (``verdicts``), as a letter says it after "贵单位在…中": "“检查结果判定”为合格",
    "“中期检查”结论为限期整改" (quoted: "…中中期检查" would read as a doubled word); None where it has none. ``done``: as
    already decided, "“年度报告评定”已为不合格" (not "已“年度报告评定”为不合格")."""
    if step.verdicts is None:
        return None
    word = step.verdicts.approved if yes else step.verdicts.rejected
    verb = "已为" if done else "为"
    return f"{quoted(step.name)}{verb if step.name.endswith(('判定', '认定', '评定', '结论')) else '结论' + verb}{word}"


def graded_as(grades: Iterable[str]) -> str:
    """"被评为D级", "被评为有问题或不满意" (of a selection), as a reason reads it; a grade that withholds one is a result,
    not a title ("结果为不评星": 16 服务站 had read "被评为不评星")."""
    grades = list(grades)
    titled = [grade_label(g) for g in grades if not g.startswith(_WITHHOLDING)]
    withheld = [g for g in grades if g.startswith(_WITHHOLDING)]
    return "或".join(([f"被评为{'或'.join(titled)}"] if titled else []) + ([f"结果为{'或'.join(withheld)}"] if withheld else []))


# A grade that withholds a title (不评星, 不予定级), or is an outcome rather than a rating (限期整改, 通过验收): 黄山's 整改通知
# had read "被评为限期整改".
_WITHHOLDING = ("不评", "不予", "未评", "未定", "暂不", "不授", "限期", "整改", "通过", "暂缓", "撤销", "取消")


def placed_because(p: Programme, ways: Iterable[Who], r: ResultRow | None) -> str:
    """Why a unit chosen by its grade or place is chosen, with its own place: "排名县（市、区）后2名
    （第7名）", "排名后2名（因发生重大质量安全事故，实行一票否决）", "被评为不合格"; "" where none of the
    ``ways`` (the selections by place or grade the unit met) chooses so (a 约谈 of those ranked last had
    read "贵单位在…中—。")."""
    by_place = [w for w in ways if w.grades or w.rank is not None]
    if not by_place:
        return ""
    reason = "，".join(reason_of(p, Who(grades=w.grades, rank=w.rank)) for w in by_place)
    if r is None or not (forced(p, r) or (any(w.rank is not None for w in by_place) and r.rank)):
        return reason
    return with_own_place(p, reason, r)


def with_own_place(p: Programme, reason: str, r: ResultRow) -> str:
    """A reason by place, told the unit's own (淮阴区 read "排名后2名", not which) and among whom
    ("排名部门后1名（第12名）"), or its veto (淮安's 金湖县 is last by its accident)."""
    vetoed = bool(r.veto and forced(p, r))
    own = veto_reason(p, str(r.veto)) if vetoed else f"第{r.rank}名"
    # A place beside the place it explains ("排名后2名，被评为不合格（第8名）" had read as if the 8th were the grade's); a
    # veto, which forced both, at the end.
    parts = reason.replace('排名', '排名' + ranked_among(p, r.unit_code), 1).split("，")
    at = len(parts) - 1 if vetoed else next((i for i, part in enumerate(parts) if part.startswith("排名")), len(parts) - 1)
    parts[at] += f"（{own}）"
    return "，".join(parts)


def conferring(name: str) -> str:
    """What an award stage does, where it is no award: 命名 a title (命名2026年诚信计量示范单位), 确认 a level (公布标准化良好
    行为企业确认名单: a 确认 had been sent as 【授奖通知】 "被评为AA级，特予表彰"); "" for an award."""
    return "命名" if name.startswith("命名") else "确认" if name.endswith("确认名单") else ""


def names_short(p: Programme, units: list[str]) -> str:
    """Units as a subject line names them: two at most ("某某等3个单位")."""
    return "、".join(p.unit(u).name for u in units) if len(units) <= 2 else f"{p.unit(units[0]).name}等{len(units)}个单位"


def result_label(p: Programme) -> str:
    """What a result letter calls the round's results: the assessment's ``result_label``, else :func:`result_kind`."""
    return p.assessment.result_label if p.assessment and p.assessment.result_label else result_kind(p)


# What a round does to judge, as its name may end and its results are called (…评估, 评估结果).
_JUDGING = ("评审", "评选", "评估", "评价", "考评", "复核", "验收", "检查", "督查")


def judged_by(p: Programme) -> str:
    """How the results were reached, as "经{…}" says it: as they are named (评估结果: 经评估; 考核结果: 经考核), else 评审
    (江苏's 领跑者 评估 and 安徽's 验收 had read "经评审")."""
    label = result_label(p).removesuffix("结果")
    return next((w for w in (*_JUDGING, "考核") if label.endswith(w)), "评审")


def result_kind(p: Programme) -> str:
    """What the round's results are called by default: an award's are 评审结果 (its round named
    …评审/…评选, or after the award), a list's 评价确认结果 (its items assessed), an assessment's
    考核结果. Letters may say otherwise (``assessment.result_label``)."""
    name = p.round.name
    # A list's items are confirmed (评价确认) where takers ask for it; units assessed by level are
    # assessed even where the programme has a list of actions (舟山's departments: 终期考核). An
    # award's categories are not a list of tasks: an enterprise award's 187 letters had read
    # "【评价确认结果】".
    by_unit = p.assessment is not None and bool(p.assessment.subjects.levels or p.assessment.subjects.units)
    confirmed = any(s.submission == SubmissionKind.evaluation_request for s in p.stages)
    # Prizes graded (一等奖, 二等奖: a QC 成果发布) are an award's 评审结果; a round decided without any
    # assessment (中期评估, 验收) has 审核结果: a pilot's copies had read "考核结果已确定".
    prizes = p.assessment is not None and any(g.name.endswith("奖") for g in p.assessment.grades)
    # A round named for what it does says its results so (…建设与评估: 评估结果, not 考核结果).
    return (f"{name[-2:]}结果" if name.endswith(_JUDGING)
            else "评审结果" if name.endswith("奖")
            else "评价确认结果" if p.categories and confirmed and not by_unit
            else "评选结果" if "评选" in name else "评审结果" if prizes
            else "审核结果" if p.assessment is None else "考核结果")


def veto_reason(p: Programme, veto: str, facts: str | None = None) -> str:
    """Why a veto applied, as a letter says it: "因发生重大质量安全事故，实行一票否决", with the facts recorded where a unit's
    own letter gives them ("因发生较大及以上特种设备事故（2025年8月12日…起重机械倒塌），实行一票否决"); one that caps the grade
    says which it bars: "因发生重大质量安全事故，不得评为优秀、良好"."""
    name = next((v.name for v in (p.assessment.vetoes if p.assessment else []) if v.code == veto), veto)
    barred = p.assessment.barred_grades(veto) if p.assessment else []
    return f"因{name}{f'（{facts}）' if facts else ''}，" + (
        f"不得评为{'、'.join(map(grade_label, barred))}" if barred else "实行一票否决")


def forced(p: Programme, r: ResultRow) -> bool:
    """Whether the result's veto forced its grade (it stands last, its place says nothing); not one whose veto
    only barred the better grades (``at_most``: graded and ranked by its score)."""
    return bool(r.veto) and (p.assessment is None or p.assessment.forces(r.veto))


def vetoed_to(p: Programme, veto: str) -> str:
    """What a veto does to the grade, as a rule says it: "等次定为不合格", or "不得评为优秀、良好"."""
    assert p.assessment is not None
    barred = p.assessment.barred_grades(veto)
    grade = next((v.grade for v in p.assessment.vetoes if v.code == veto and v.grade), None)
    return f"不得评为{'、'.join(map(grade_label, barred))}" if barred else f"等次定为{grade_label(grade or '')}"






def rank_in_group(p: Programme, r: ResultRow) -> str:
    """"，街道第3名" beside a total in a list of all, where each level or group is ranked apart (分类考核: 镇 and
    街道 had read as one list of 12); "" where all are ranked together, or a veto placed it."""
    among = ranked_among(p, r.unit_code)
    return f"，{among}第{r.rank}名" if among and r.rank and not forced(p, r) else ""


def ranked_among(p: Programme, subject: str) -> str:
    """Whom a rank is among, as a letter says it, where units are ranked by level (``rank_within:
    level``): "县（市、区）", or by group: the group's own name ("市辖区"); "" where all are ranked together."""
    group = p.rank_group(subject)
    return p.level_names.get(group, group) if group else ""


def place_among(p: Programme, mine: list[ResultRow], rows: list[ResultRow]) -> str:
    """"，在9个参评单位中排名第3" ("在空气净化器5个…": by group) for one scored result where places are told (tells_rank)."""
    r = mine[0] if len(mine) == 1 else None
    if r is None or not (p.assessment and p.assessment.tells_rank) or not r.rank or forced(p, r) or unscored(p, r):
        return ""
    key = p.rank_key(r.unit_code, r.stage)
    ranked = sum(1 for x in rows if p.rank_key(x.unit_code, x.stage) == key and x.rank)
    return f"，在{ranked_among(p, r.unit_code)}{ranked}个参评{'项目' if ':' in r.unit_code else '单位'}中排名第{r.rank}"


def component_scores(p: Programme, r: ResultRow, sep: str = "；", full_marks: bool = False) -> str:
    """A total's parts, as a result letter gives them so a unit sees where it lost points (榆阳's
    发改科技局 read only "D级（得分48.46）", its 30 of 30 for the district's indicators and 13.58 for its
    tasks untold): "主要发展指标完成情况（专栏1）30.00分；主要任务和措施落实情况13.58分"; "" for one part. ``full_marks``:
    each part out of what, as the unit's own letter says it (星级所's "自评65.73分；现场验收638.10分" had not said the first
    was of 100, 10 %, and the second of 900)."""
    scheme = p.assessment
    if scheme is None or len(scheme.components) < 2 or not r.components:
        return ""
    return sep.join(f"{c.name}{r.components[c.code]:.2f}分" + (f"（满分{c.full_marks(scheme.scale)}分）" if full_marks else "")
                    for c in scheme.components if c.code in r.components)


def scored_line(p: Programme, r: ResultRow, name: str, rechecked: str | None = None) -> str:
    """One subject's line in a result letter, its parts beside its total (四川's 阿坝 read "质量融资增信助企纾困
    成效明显：不合格（得分32.58）", its 工作成效 and 创新突破 untold): "某项目：不合格（得分32.58；工作成效14.55分，
    创新突破10.35分）". ``rechecked``: where its 复验 left it, said after it in place of what the grade brought
    (补充能力验证 passed, the 通报 still read "自结果通知之日起30日内提交整改报告")."""
    if unscored(p, r):
        return f"{name}：{grade_label(r.grade)}" + after_grade(p, r, rechecked)
    parts = component_scores(p, r, sep="，")
    return (f"{name}：{grade_label(r.grade)}（得分{score_text(r)}" + (f"；{parts}" if parts else "") + "）"
            + after_grade(p, r, rechecked))


def after_grade(p: Programme, r: ResultRow, rechecked: str | None) -> str:
    """What follows a grade in a line: where its 复验 left it ("；通过复验，改评为合格"), else what the grade brings
    ("，撤销试点资格"), stale once the 复验 decided it."""
    brings = grade_consequence(p, r.grade)
    if rechecked:  # a consequence its follow-up leaves standing leads it (remarks.where_rechecked): said as without one
        return f"{'，' if brings and rechecked.startswith(f'{brings}；') else '；'}{rechecked}"
    return f"，{brings}" if brings else ""


def grade_consequence(p: Programme, grade: str | None) -> str | None:
    """What a grade brings on the unit (撤销试点资格), said beside it: a 标准化试点 read "不通过（得分37.70）"
    with the 撤销 its rules attach to 不通过 said nowhere."""
    found = next((g for g in p.assessment.grades if g.name == grade), None) if p.assessment else None
    return found.consequence if found else None


def grade_terms(p: Programme, grade: str | None, won_in: int | None = None, *, praised: bool = False,
                on: dt.date | None = None) -> tuple[list[str], str | None]:
    """What a grade brings, as its 授奖/通报表扬 letter lists it: its benefits, and how long the
    award is valid ("5年（2024年至2028年）", counted from ``won_in``, the year it was graded (its
    assessment's moment), as the re-application bar counts it), or None. ``praised``: for the 通报表扬
    itself, which is not one of its own benefits (长兴's had read "享受以下激励：通报表扬")."""
    found = next((g for g in p.assessment.grades if g.name == grade), None) if p.assessment else None
    if found is None:
        return [], None
    validity = None
    if found.valid_years:
        first = won_in or p.round.years[-1]
        validity = f"{found.valid_years}年（{first}年至{first + found.valid_years - 1}年）"
        if found.valid_from == "date" and on is not None:  # 命名之日起3年 (a September title had read "至2027年")
            until = years_on(on, found.valid_years) - dt.timedelta(days=1)
            validity = f"{found.valid_years}年（{cn_date(on)}至{cn_date(until)}）"
        # What the programme's own bar says: 天水's 获奖满5年后方可再次申报 (第六条), told as 期满后可再次申报; a bar
        # longer or shorter than the validity says its own year (嘉善's winners were never told they wait till 2030).
        bars = {st.eligibility.not_awarded.years for st in p.stages if st.eligibility and st.eligibility.not_awarded
                and found.name in st.eligibility.not_awarded.grades}
        if found.valid_years in bars:
            validity += "，期满后可再次申报"
        elif bars:
            validity += f"，{first + max(bars)}年起方可再次申报"
    return [b for b in found.benefits if not (praised and b.removeprefix("给予").removeprefix("予以") == "通报表扬")], validity


def unscored(p: Programme, r: ResultRow) -> bool:
    """A subject vetoed with no score at all (never put up for 验收), or a list item vetoed for never handing in its own
    hand-in (``missing_at``: a laboratory that never sent an item's results had read "不满意（得分32.47）"): its letter
    gives no score. A unit vetoed for a report apart from what was scored keeps its score (首席质量官's 85.00)."""
    never = ":" in r.unit_code and any(v.code == r.veto and v.missing_at for v in (p.assessment.vetoes if p.assessment else []))
    return bool(r.veto) and (never or not r.total and not any((r.components or {}).values()))


def score_text(r: ResultRow) -> str:
    """A total as a result letter gives it, with the bonus it holds and the points taken off it
    (焦作's 解放区 is A by its +2 bonus: "91.63，含加分2分"; 武陟 read "74.85，其中扣分4", as if the 4
    were part of the 74.85: now "74.85，已扣4分"), so a unit can check its grade."""
    parts = [f"含加分{r.bonus:g}分" if r.bonus else "", f"已扣{r.deduction:g}分" if r.deduction else ""]
    return "，".join([f"{r.total:.2f}", *(x for x in parts if x)])


def counted_as(p: Programme, units: list[str]) -> str:
    """How a list of these units is counted: 家 for enterprises (公示名单（共6家）), else 个."""
    return "家" if units and all(p.unit(u).level == "enterprise" for u in units) else "个"


def places_counted_as(p: Programme, subjects: Iterable[str]) -> str:
    """How a reviewer's places (``per_reviewer``) are counted: 项 where the decision is on list items
    (8 units' 9 projects had read "以下9个单位…推荐不超过3家"), else as its units are."""
    subjects = list(subjects)
    return "项" if any(":" in s for s in subjects) else counted_as(p, [s.partition(":")[0] for s in subjects])


def periods_joined(labels: list[str]) -> str:
    """Periods as one list, their year said once where they share it: "2026年2月、3月、6月"."""
    year = re.match(r"\d{4}年", labels[0]) if labels else None
    if year and all(w.startswith(year[0]) for w in labels):
        labels = [labels[0]] + [w.removeprefix(year[0]) for w in labels[1:]]
    return "、".join(labels)


def listing_of(stage: Stage) -> str:
    """What a 公示 publishes, as its letter cites it ("对{what}进行公示"): a name that says 公示
    itself (公示拟获奖名单, 拟获奖名单公示) without it."""
    return stage.name.removeprefix("公示").removesuffix("公示") or stage.name


def notice_name(p: Programme, stage: Stage, category: str | None) -> str:
    return listing_of(stage) + (f"（{p.category(category).name}）" if category else "")




def summons_grounds(p: Programme, who: Who | None, ways: list[Who], summons: bool, result: ResultRow | None,
                    refused: list[str], missed: list[str]) -> list[str]:
    """What the unit did not pass or did not hand in, the grounds of a summons (约谈); where the
    selection chooses by place or grade (``ways``: those the unit met), that too ("排名县（市、区）后2名
    （第7名）；未通过整改报告审核"), or that alone where an alternative by place chose it (a 约谈 of the last
    places had read "—")."""
    grounds = refused + missed
    if who and (who.grades or who.rank) and summons:
        return [placed_because(p, [Who(grades=who.grades, rank=who.rank)], result), *grounds]
    if not grounds and (placed := placed_because(p, ways, result)):
        return [placed]
    return grounds
