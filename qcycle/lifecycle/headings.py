"""What a result letter is headed and titled: the round's name beside its heading, the step or assessment it is
about, and a label said once where the round's name already ends with it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from qcycle.lifecycle.who import in_category
from qcycle.schema import Programme, Stage

__all__ = ["circular_heading", "name_beside", "name_overlap", "occasion_of", "step_heading"]


def circular_heading(p: Programme, stage: Stage) -> str | None:
    """What a 通报 circulates where its name says it rather than the round's results: a 报送情况通报's 情况 (临江's read
    "审核结果"; 情况 alone where the round's name says it already, else "全年活动开展及报送情况": 民生计量's had lost it;
    "通报自查情况" too), and a 通报 after the round's first, by its own name ("通报限期整改单位整改报告审核结果": 黄山's
    second 通报 had read as its first). None for the round's results."""
    if about := re.fullmatch(r"(?:印发|下发|发布|关于)?(.*?)情况的?通报|通报(.*?)情况", stage.name):
        said = about.group(1) if about.group(1) is not None else about.group(2)
        core = re.sub(r"^(全市|全省|全区|全县|全年|本年度)", "", said)
        whole = f"{said}情况"
        return "情况" if not core or core in p.round.name else whole[name_overlap(p.round.name, whole):] or whole
    circulars = [s.code for s in p.stages if s.template == "circular"]
    if stage.code in circulars[1:] and (named := re.fullmatch(r"(?:印发|下发|发布)?通报(.+结果)", stage.name)):
        return named.group(1)
    return None


def name_beside(round_name: str, heading: str) -> str:
    """The round's name as a subject line puts it after ``heading``: without its closing
    parenthesis when the heading already says what it does, years aside (榆阳:
    【2024年度质量工作督查评估结果】…实施意见, not …实施意见（2024—2025年督查评估）)."""
    qualifier = re.search(r"（([^（）]+)）$", round_name)
    words = re.sub(r"[0-9—–\-~至年度]", "", qualifier.group(1)) if qualifier else ""
    return round_name[:qualifier.start()] if qualifier and words and words in heading else round_name


def occasion_of(p: Programme, assessed: str | None) -> str | None:
    """The one assessment of several a letter is about (each year of a plan), by its stage's name
    ("2025年度创建工作考核"); None for a round assessed once (its name says it)."""
    return p.stage(assessed).name if assessed and p.has_stage(assessed) and len(p.assessment_stages) > 1 else None


def step_heading(p: Programme, decided: Mapping[str, tuple[str, str, bool]], unit: str | None = None,
                 category: str | None = None) -> tuple[str, str] | None:
    """(label, heading) of results told before the assessment: the last step decided (中期评估结果) of the
    unit's own subjects, or of all, in the category; the label without what the round's name ends with."""
    steps = [code for x, (_, code, _) in decided.items()
             if (unit is None or x.partition(":")[0] == unit) and in_category(p, x, category)]
    if not steps:
        return None
    name = p.stage(max(steps, key=p.stage_place.__getitem__)).name
    heading = name if name.endswith("结果") else name + "结果"
    return heading[name_overlap(p.round.name, heading):] or heading, heading


def name_overlap(name: str, label: str) -> int:
    """How many first characters of ``label`` the round's name already ends with (the longest run of
    two or more), or all but its 结果 where the name ends with the label's last words or joins them to another
    step: said once ("…与年度评估年度评估结果已确定" had doubled four, "…建设与评估服务站评估结果" two,
    "…验收及中期评估验收结果" one)."""
    if k := next((k for k in range(len(label) - 1, 1, -1) if name.endswith(label[:k])), 0):
        return k
    # The name ends with what the label's words end with, and holds the words before them too: …服务站建设与评估
    # + 服务站评估结果 is …建设与评估结果 (复核评估结果 on it names another assessment, and keeps its words).
    core = label.removesuffix("结果")
    if core != label and re.search(f"{re.escape(core)}[及与和、][^及与和、]*(?:评估|验收|考核|评审|评价|检查|复核)$", name):
        return len(core)  # one of the name's joined steps: …验收及中期评估 + 验收结果 is …验收及中期评估结果
    return len(core) if core != label and any(name.endswith(core[j:]) and core[:j] in name
                                               for j in range(len(core) - 1)) else 0
