"""Who a stage is for: one selection language for owed_by, notify and assessment subjects,
from the unit hierarchy and from what happened in the round."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from qcycle.schema.base import Code, _Model
from qcycle.schema.units import LEVEL_NAMES

__all__ = ["LABELLED_CATEGORY_ENDINGS", "OwedBy", "RankPick", "Who", "category_label", "grade_label"]


class RankPick(_Model):
    """The first or last N places of an assessment's ranking."""

    top: int | None = Field(None, ge=1)
    bottom: int | None = Field(None, ge=1)
    vetoed: Literal["last", "excluded"] = Field(
        "last", description="where vetoed subjects stand: last places, or left out of the ranking")

    @model_validator(mode="after")
    def _one(self) -> RankPick:
        if (self.top is None) == (self.bottom is None):
            raise ValueError("rank 需要且只能给出 top（前N名）或 bottom（后N名）之一")
        return self

    def describe(self) -> str:
        # The last one is 末位 ("排名后1名" had been written of the last of 14).
        where = f"前{self.top}名" if self.top is not None else ("末位" if self.bottom == 1 else f"后{self.bottom}名")
        return f"排名{where}" + ("（被否决者不计排名）" if self.vetoed == "excluded" else "")


class Who(_Model):
    """Who a stage is for: every criterion given must hold (like a Kubernetes label selector);
    ``any_of`` joins alternatives.

    ``units``/``levels`` pick from the unit hierarchy; the others pick from what happened in
    the round: handed in at a submission stage, approved or rejected at a decision stage,
    given a grade or ranked at an assessment. A subject rejected at any decision stage leaves
    every later selection except ``rejected_at``.
    """

    units: list[Code] = Field(default_factory=list, description="listed units")
    levels: list[str] = Field(default_factory=list, description="levels of the unit hierarchy")
    submitted_at: Code | None = Field(None, description="handed in (accepted) at this submission stage")
    missing_at: Code | None = Field(None, description="owed at this submission stage and never handed in")
    approved_at: Code | None = Field(None, description="approved at this decision stage")
    rejected_at: Code | None = Field(None, description="rejected at this decision stage")
    grades: list[str] = Field(default_factory=list, description="given one of these grades (等次)")
    rank: RankPick | None = Field(None, description="top/bottom N places of the ranking")
    assessed_at: Code | None = Field(None, description="whose results grades/rank read; default the latest")
    any_of: list[Who] = Field(default_factory=list, description="any one of these selections")
    superiors_of: Who | None = Field(
        None, description=("the superiors (parent) of the subjects this selection reaches: the 区县局 of the "
                           "enterprises that failed a 复查"))
    with_rejected: bool = Field(
        False, description="keep subjects rejected at a decision stage (a letter that tells each its outcome)")

    @model_validator(mode="after")
    def _something(self) -> Who:
        if not (self.units or self.levels or self.submitted_at or self.missing_at or self.approved_at
                or self.rejected_at or self.grades or self.rank or self.any_of or self.superiors_of):
            raise ValueError("须至少给出 units、levels、submitted_at、missing_at、approved_at、rejected_at、"
                             "grades、rank、any_of 或 superiors_of 之一")
        if self.with_rejected and not self.dynamic:
            raise ValueError("with_rejected 只与 submitted_at、approved_at、grades、rank 等一起使用")
        if self.assessed_at and not (self.grades or self.rank):
            raise ValueError("assessed_at 只与 grades 或 rank 一起使用")
        return self

    @property
    def dynamic(self) -> bool:
        """Whether it depends on what happened in the round (not only on the hierarchy)."""
        return self.chooses_by_events or (self.superiors_of is not None and self.superiors_of.dynamic)

    @property
    def chooses_by_events(self) -> bool:
        """Whether its own criteria (``superiors_of`` aside) read what happened in the round."""
        return bool(self.submitted_at or self.missing_at or self.approved_at or self.rejected_at or self.grades
                    or self.rank or any(w.dynamic for w in self.any_of))

    @property
    def by_decisions_only(self) -> bool:
        """Whether whom it reaches follows from the round's decisions and the programme alone (no hand-in, result or
        grade read): what it reached stands while no decision changes."""
        return not self.any_part(lambda w: bool(w.submitted_at or w.missing_at or w.grades or w.rank))

    def any_part(self, test: Callable[[Who], bool]) -> bool:
        """Whether ``test`` holds of this selection or of any part of it (its alternatives, the selection it takes the
        superiors of)."""
        return test(self) or any(w.any_part(test) for w in self.any_of) or (
            self.superiors_of is not None and self.superiors_of.any_part(test))

    def windows_missed(self) -> list[str]:
        """The windows whose miss it chooses by (``missing_at``, its own or an alternative's): a follow-up owed for them."""
        return [w.missing_at for w in (self, *self.any_of) if w.missing_at]

    def taking_part(self) -> Who | None:
        """The selection without the superiors it only copies (``superiors_of`` alternatives): those an event is for, who
        take part and are decided on; None where it names superiors alone."""
        if self.superiors_of is not None:
            return None
        if not self.any_of:
            return self
        parts = [w for w in self.any_of if w.superiors_of is None]
        return self.model_copy(update={"any_of": parts}) if parts else None

    @property
    def keeps_rejected(self) -> bool:
        """Whether it reaches subjects rejected at a decision (``rejected_at``, ``with_rejected``, in
        any alternative): a window owed by them (复验申请 of those who failed 验收) is decided on for
        them, not emptied by the rejection that called them to it."""
        return bool(self.rejected_at or self.with_rejected or any(w.keeps_rejected for w in self.any_of))

    @property
    def by_standing(self) -> bool:
        """Whether it chooses by a unit's own standing: rejected somewhere, a grade, a place, or a
        hand-in missed (in any alternative). What goes to units so chosen tells as much as the choice."""
        return bool(self.rejected_at or self.grades or self.rank or self.missing_at
                    or any(w.by_standing for w in self.any_of))

    def stages(self) -> set[str]:
        """Stages this selection reads (decisions, submissions, assessments)."""
        out = {s for s in (self.submitted_at, self.missing_at, self.approved_at, self.rejected_at, self.assessed_at)
               if s}
        for w in [*self.any_of, *([self.superiors_of] if self.superiors_of else [])]:
            out |= w.stages()
        return out

    def describe(self, stage_names: dict[str, str] | None = None, unit_names: dict[str, str] | None = None,
                 level_names: dict[str, str] | None = None) -> str:
        """The selection in words, for the plan and the timetable (stages and units by their names where given)."""
        names = stage_names or {}

        def name(code: str) -> str:  # quotation marks inside turned single (引号里面还要用引号)
            return "“" + names.get(code, code).replace("“", "‘").replace("”", "’") + "”"

        parts = []
        if self.levels:
            parts.append("、".join((level_names or LEVEL_NAMES).get(x, x) for x in self.levels))
        if self.units:
            parts.append("、".join((unit_names or {}).get(u, f"单位 {u}") for u in self.units))
        if self.submitted_at:
            parts.append(f"在{name(self.submitted_at)}中已提交的单位")
        if self.missing_at:
            parts.append(f"未按期提交{name(self.missing_at)}的单位")
        if self.approved_at:
            parts.append(f"{name(self.approved_at)}通过的对象")
        if self.rejected_at:
            parts.append(f"{name(self.rejected_at)}未通过的对象")
        if self.grades:
            parts.append("考核等次为" + "、".join(grade_label(g) for g in self.grades))
        if self.rank:
            parts.append(self.rank.describe())
        if self.any_of:
            parts.append("或".join(f"（{w.describe(names, unit_names, level_names)}）" for w in self.any_of))
        if self.superiors_of:
            parts.append(f"（{self.superiors_of.describe(names, unit_names, level_names)}）的上级单位")
        return "，且".join(parts)


OwedBy = Who  # the name the first version of the schema used


def grade_label(name: str) -> str:
    """How a grade reads in a sentence: 'A' → 'A级', 'AAA' → 'AAA级' (信用等级: one grade had read
    'A级' beside 'AA'), '优秀' stays '优秀'."""
    return f"{name}级" if 1 <= len(name) <= 5 and name.isascii() and name.isalpha() and name.isupper() else name


def category_label(name: str) -> str:
    """A category as a letter names it: 质量创新 → 质量创新类; a name that already says what it is
    (创先引领类, a batch: 第一批, a kind: 现场型) stays as it is ("申报书（第一批类）", "现场型类" had been
    written)."""
    return name if name.endswith(LABELLED_CATEGORY_ENDINGS) else f"{name}类"


# The endings of a category's name that already say what it is (bench/modes.py's limit mode writes its own
# copy of category_label from these; a test holds the two alike).
LABELLED_CATEGORY_ENDINGS = ("类", "批", "期", "次", "组", "档", "型")


# ``any_of`` refers to Who itself.
Who.model_rebuild()
