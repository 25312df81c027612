"""The programme file as a whole (:class:`Programme`), its lookups, and its JSON Schema."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Literal

from pydantic import Field

from qcycle.schema.assessment import Assessment, QuotaPlan
from qcycle.schema.base import Code, _Model
from qcycle.schema.stages import (
    SUBMISSION_TITLES,
    ReminderPolicy,
    Stage,
    StageKind,
    SubmissionKindSpec,
)
from qcycle.schema.units import LEVEL_NAMES, Category, Channel, ListItem, RoundInfo, Unit
from qcycle.schema.who import Who

__all__ = ["Programme"]


class Programme(_Model):
    version: Literal[2] = Field(description="programme language version (2)")
    round: RoundInfo
    channels: list[Channel] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)
    categories: list[Category] = Field(default_factory=list)
    submission_kinds: dict[Code, SubmissionKindSpec] = Field(
        default_factory=dict, description="submission kinds of this file's own, beyond the built-in ones")
    reminder_policies: dict[Code, ReminderPolicy] = Field(default_factory=dict)
    stages: list[Stage] = Field(min_length=1)
    assessment: Assessment | None = None
    quotas: QuotaPlan | None = None
    statistics: dict[str, float] = Field(
        default_factory=dict, description="programme figures the office reports (P2)"
    )

    # Lookups used everywhere (thousands of times a run at national scale); derived from the
    # frozen fields, so computed once per programme and not part of the schema.
    @cached_property
    def _units_by_code(self) -> dict[str, Unit]:
        return {u.code: u for u in self.units}

    @cached_property
    def _stages_by_code(self) -> dict[str, Stage]:
        return {s.code: s for s in self.stages}

    @cached_property
    def _categories_by_code(self) -> dict[str, Category]:
        return {c.code: c for c in self.categories}

    @cached_property
    def channel_members(self) -> dict[str, list[str]]:
        """Channel name → the codes of the units that list it, in file order."""
        out: dict[str, list[str]] = {c.name: [] for c in self.channels}
        for u in self.units:
            for name in u.channels:
                out.setdefault(name, []).append(u.code)
        return out

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels if c.name == name)

    @cached_property
    def shared_channels(self) -> frozenset[str]:
        """Group channels several units list (a bot in the group of all the cities): what is
        posted there, each of them reads. Email goes to each unit's own address."""
        personal = {c.name for c in self.channels if c.kind == "email"}
        return frozenset(name for name, units in self.channel_members.items() if len(units) > 1 and name not in personal)

    @cached_property
    def bot_channels(self) -> frozenset[str]:
        """Channels that post to a group chat (a WeCom, DingTalk or Feishu bot): a post has no one recipient."""
        return frozenset(c.name for c in self.channels if c.kind in ("wecom", "dingtalk", "feishu"))

    @cached_property
    def group_channels(self) -> frozenset[str]:
        """Shared channels that are group chats (:attr:`bot_channels`): a message saying the same to several of
        their units is posted once, addressed to them all."""
        return self.shared_channels & self.bot_channels

    def channels_for(self, unit: str, private: bool) -> list[str]:
        """The channels a letter to ``unit`` goes by: a ``private`` one (its own standing: results,
        refusals, 督办, 整改) not by a channel its peers share, unless the unit has no other."""
        names = self.unit(unit).channels
        own = [n for n in names if n not in self.shared_channels] if private else names
        return own or names

    @cached_property
    def submission_stages(self) -> dict[str, list[Stage]]:
        """Submission kind → the stages that take it, in file order."""
        out: dict[str, list[Stage]] = {}
        for s in self.stages:
            if s.submission is not None:
                out.setdefault(s.submission, []).append(s)
        return out

    @cached_property
    def assessment_stages(self) -> list[str]:
        """Codes of the assessment stages, in file order (a plan may assess each year)."""
        return [s.code for s in self.stages if s.kind is StageKind.assessment]

    @cached_property
    def decisions_on_results(self) -> dict[str, str]:
        """Decision stage → the assessment stage whose results it decides on, directly or through
        the decisions it decides on (评审委员会审议, then 市政府审定), in file order."""
        root = {code: code for code in self.assessment_stages}
        deciders = [s for s in self.stages if s.kind is StageKind.decision and s.decides]
        grown = True
        while grown:  # a chain is followed whatever order its stages are written in
            grown = False
            for s in deciders:
                if s.code not in root and s.decides in root:
                    root[s.code], grown = root[s.decides], True
        return {s.code: root[s.code] for s in deciders if s.code in root}

    def handed_in_by_all(self, who: Who | None) -> frozenset[str]:
        """The windows every unit ``who`` chooses has handed in: chosen by its hand-in there (``submitted_at``), or by a
        decision on it (``approved_at``, followed back to its window), in each alternative of ``any_of``. A veto for
        missing one of them never reaches anyone."""
        if who is None:
            return frozenset()

        def window(code: str | None) -> str | None:
            # The window itself, or the one a chain of decisions starts from; one deadline only: one chosen for a
            # period handed in may miss another (a veto judges each).
            stage = self.reviewed_window(code) if code is not None and self.has_stage(code) else None
            return stage.code if stage is not None and not stage.periods else None

        own = {w for w in (window(who.submitted_at), window(who.approved_at)) if w}
        if who.any_of:
            own |= frozenset.intersection(*(self.handed_in_by_all(alt) for alt in who.any_of))
        return frozenset(own)

    @cached_property
    def objection_decisions(self) -> frozenset[str]:
        """Decision stages on an objection window (公示异议): they decide the objection, never the
        objector's own candidacy (its unit is the subject of both)."""
        windows = {s.code for s in self.stages if s.submission == "objection"}
        return frozenset(s.code for s in self.stages if s.kind is StageKind.decision and s.decides in windows)

    @cached_property
    def keeping_decisions(self) -> frozenset[str]:
        """Decision stages whose 不同意 leaves the subject in the round: those on a follow-up's hand-in
        (整改报告审核 decides the report, never the unit's place: 某市's 甲区, its 整改报告 rejected, had
        left the ranking its 约谈 was chosen by, and a summary read "结果为：未通过整改报告审核" for its
        不合格), and those marked ``eliminates: false`` (中期评估's 进展滞后 had dropped stations from 验收)."""
        followups = {s.code for s in self.stages if s.kind is StageKind.followup}
        return frozenset(s.code for s in self.stages if s.kind is StageKind.decision
                         and (s.decides in followups or not s.eliminates))

    @cached_property
    def misses_decided(self) -> dict[str, list[Stage]]:
        """Window → the decisions on it that decide a miss 不同意 (``rejects_missing``): what every letter asking for
        the window says of a miss, read once."""
        out: dict[str, list[Stage]] = {}
        for s in self.stages:
            if s.kind is StageKind.decision and s.rejects_missing and s.decides:
                out.setdefault(s.decides, []).append(s)
        return out

    @cached_property
    def places_decide(self) -> bool:
        """Whether a place in the ranking decides anything: a grade with places (max_count, share) or a selection
        by rank (排名后2名约谈). Where none does, letters give a score without its rank (a 85-point line's
        未列入 read "得分72.13、排名第12", a rank no rule of the round uses)."""
        def by_rank(w: Who | None) -> bool:
            return w is not None and (w.rank is not None or by_rank(w.superiors_of) or any(map(by_rank, w.any_of)))

        scheme = self.assessment
        return (scheme is not None and (any(g.max_count or g.share is not None for g in scheme.grades)
                                        or by_rank(scheme.subjects))
                or any(by_rank(w) for s in self.stages for w in (s.notify, s.owed_by, s.lists, s.among)))

    @cached_property
    def decisions_for_rejected(self) -> frozenset[str]:
        """Decision stages that decide on subjects rejected before: on a window owed by the rejected
        (复验申请 of those who failed 验收), or among candidates chosen with them (``with_rejected``).
        Their candidates, and those they approve, are not left out for that earlier rejection."""
        out = set()
        for s in self.stages:
            if s.kind is not StageKind.decision or not s.decides or not self.has_stage(s.decides):
                continue
            window = self.stage(s.decides)
            if (s.among is not None and s.among.keeps_rejected) or (
                    window.kind in (StageKind.submission, StageKind.followup) and window.owed_by is not None
                    and window.owed_by.keeps_rejected):
                out.add(s.code)
        return frozenset(out)

    @cached_property
    def second_chances(self) -> frozenset[str]:
        """Decision stages whose rejected are called to a later window that is decided on again (复验申请
        owed by those who failed 验收): their rejection does not end the round for them. A 整改报告 they
        owe does not (they leave the race all the same)."""
        decided = {s.decides for s in self.stages if s.kind is StageKind.decision}
        return frozenset(w.rejected_at for s in self.stages if s.owed_by is not None and s.code in decided
                         for w in (s.owed_by, *s.owed_by.any_of) if w.rejected_at)

    def publicity_of(self, code: str) -> Stage | None:
        """The 公示 an objection window belongs to: the notice stage whose close is its deadline
        (异议受理期即公示期). ``None`` for any other stage."""
        stage = self.stage(code)
        anchor = stage.deadline.after if stage.deadline is not None else None
        if (stage.submission != "objection" or anchor is None or anchor.event != "closes"
                or any((anchor.days, anchor.workdays, anchor.months))):
            return None
        notice = self.stage(anchor.stage)
        return notice if notice.kind is StageKind.notice else None

    @cached_property
    def refusing_stages(self) -> list[str]:
        """Codes of the windows that refuse late hand-ins (``lateness: reject``), in file order."""
        return [s.code for s in self.stages if s.lateness == "reject"]

    @cached_property
    def kind_words(self) -> dict[str, str]:
        """The file's own words for what is handed in → its submission kind: each submission
        stage's name and what its letters call it (申报材料, 书面整改报告, 年度质量工作自评报告),
        and each kind's title. A word two kinds share names neither."""
        found: dict[str, set[str]] = {}
        for kind, stages in self.submission_stages.items():
            for word in [self.submission_title(kind)] + [w for st in stages for w in (st.name, st.handed_in)]:
                found.setdefault(word, set()).add(kind)
        for kind, title in SUBMISSION_TITLES.items():
            found.setdefault(title, set()).add(kind)
        return {word: kinds.pop() for word, kinds in found.items() if len(kinds) == 1 and word not in kinds}

    @cached_property
    def stage_words(self) -> dict[str, str]:
        """The file's words that name one submission stage among several taking its kind (半年自评,
        年终自评: both 自评报告) → that stage's code: a record of that kind says which it is."""
        found: dict[str, set[str]] = {}
        for stages in self.submission_stages.values():
            for st in stages if len(stages) > 1 else ():
                for word in {st.name, st.handed_in}:
                    found.setdefault(word, set()).add(st.code)
        return {word: codes.pop() for word, codes in found.items() if len(codes) == 1}

    def model_copy(self, *, update=None, deep: bool = False) -> Programme:
        # cached_property values live in __dict__, which model_copy copies: drop them all so a
        # copy with other units or stages never answers from the original's lookups.
        copy = super().model_copy(update=update, deep=deep)
        for name, value in vars(Programme).items():
            if isinstance(value, cached_property):
                copy.__dict__.pop(name, None)
        return copy

    def unit(self, code: str) -> Unit:
        return self._units_by_code[code]

    def has_unit(self, code: str) -> bool:
        return code in self._units_by_code

    @cached_property
    def ancestry(self) -> dict[str, tuple[str, ...]]:
        """Each unit's parent, its parent's parent … up the file's hierarchy (built once: letters ask
        it for every unit of a national round)."""
        out: dict[str, tuple[str, ...]] = {}
        for unit in self.units:
            chain: list[str] = []
            up = unit.parent
            while up is not None and up not in chain and up != unit.code:  # a loop is validate's to report
                chain.append(up)
                up = self.unit(up).parent if self.has_unit(up) else None
            out[unit.code] = tuple(chain)
        return out

    def ancestors(self, code: str) -> tuple[str, ...]:
        """The units ``code`` is under, nearest first (none for a unit not in the file)."""
        return self.ancestry.get(code, ())

    def under_each(self, codes: Iterable[str]) -> dict[str, list[str]]:
        """Each unit → those of ``codes`` under it at any depth, in the order given."""
        out: dict[str, list[str]] = {}
        for code in codes:
            for up in self.ancestors(code):
                out.setdefault(up, []).append(code)
        return out

    @cached_property
    def _parents(self) -> frozenset[str]:
        return frozenset(u.parent for u in self.units if u.parent)

    def has_subordinates(self, code: str) -> bool:
        """Whether any unit of the file has ``code`` as its parent."""
        return code in self._parents

    def stage(self, code: str) -> Stage:
        return self._stages_by_code[code]

    def has_stage(self, code: str) -> bool:
        return code in self._stages_by_code

    def reviewed_window(self, code: str) -> Stage | None:
        """The submission window a decision stage's chain of decisions starts from (a 市级推荐
        deciding the 县级初审 that decides the applications), or None."""
        stage, seen = self.stage(code), set()
        while stage.kind is StageKind.decision and stage.decides and stage.code not in seen:
            seen.add(stage.code)
            if not self.has_stage(stage.decides):  # a typo validate reports as such
                return None
            stage = self.stage(stage.decides)
        return stage if stage.kind in (StageKind.submission, StageKind.followup) else None

    def reviews_of(self, window: str) -> list[Stage]:
        """The decision stages that ask reviewers (``reviewed_by``) about the window's hand-ins, along
        its chain of decisions, in stage order (a 县级初审, then a 设区市推荐)."""
        return [s for s in self.stages if s.reviewed_by and self.reviewed_window(s.code) is self.stage(window)]

    def reviewer(self, code: str, unit: str, *, asked: bool = True) -> str | None:
        """Who reviews ``unit``'s subjects at the decision stage ``code`` (``reviewed_by``): its parent,
        or its ancestor at the level named; None where it has none, or, when ``asked``, where that is
        the stage's own sender (the office does not ask itself: it reviews them as it decides)."""
        by = self.stage(code).reviewed_by
        found = self.unit(unit).parent if by and self.has_unit(unit) else None
        for _ in self.units:  # up the hierarchy to the level named (a tree: validate refuses cycles)
            if by == "parent" or found is None or not self.has_unit(found) or self.unit(found).level == by:
                break
            found = self.unit(found).parent
        if found is None or not self.has_unit(found) or by not in ("parent", self.unit(found).level):
            return None
        return found if not asked or found != self.sender(code) else None

    def rank_group(self, subject: str) -> str:
        """The group a subject is ranked in: its unit's level under ``rank_within: level`` (县区 and
        部门 ranked apart), its ``group`` under ``rank_within: group`` (市辖区 and 县（市）), else one
        group for all ("")."""
        unit = subject.partition(":")[0]
        if self.assessment is None or self.assessment.rank_within == "all" or not self.has_unit(unit):
            return ""
        if self.assessment.rank_within == "group":
            return self.unit(unit).group or ""
        return self.unit(unit).level

    def rank_key(self, subject: str, stage: str) -> tuple[str, str | None]:
        """The group a subject's rank and its grades' places are counted in at the assessment
        ``stage``: its :meth:`rank_group`, and its category where the stage assesses per category."""
        per_category = self.has_stage(stage) and bool(self.stage(stage).per_category)
        return self.rank_group(subject), self.item_category.get(subject.partition(":")[2]) if per_category else None

    def sender(self, stage: str) -> str:
        """The unit that signs a stage's letters: its ``sender``, else the round's issuer."""
        return self.stage(stage).sender or self.round.issuer

    def category(self, code: str) -> Category:
        return self._categories_by_code[code]

    @cached_property
    def items(self) -> list[tuple[Category, ListItem]]:
        return [(c, i) for c in self.categories for i in c.items]

    @cached_property
    def item_category(self) -> dict[str, str]:
        """List item code → its category code."""
        return {i.code: c.code for c, i in self.items}

    @cached_property
    def item_names(self) -> dict[str, str]:
        """List item code → its name (the first item of a code, as a search in list order finds)."""
        names: dict[str, str] = {}
        for _, i in self.items:
            names.setdefault(i.code, i.name)
        return names

    def units_matching(self, who: Who) -> list[Unit]:
        """Units the hierarchy part of a selector allows (``units`` and ``levels``; every unit
        when it names neither). What happened in the round narrows this further."""
        if who.any_of:
            keep = {u.code for w in who.any_of for u in self.units_matching(w)}
        else:
            keep = None
        codes, levels = set(who.units), set(who.levels)
        return [u for u in self.units
                if (not codes or u.code in codes) and (not levels or u.level in levels)
                and (keep is None or u.code in keep)]

    @cached_property
    def rechecks(self) -> frozenset[str]:
        """Decision stages on a follow-up (复验 of an 整改报告), or on a second chance its grade gave (a window owed by a
        grade or place: 绍兴's voluntary 复验申请 of the projects 不通过 at 验收, a 补测 the 不满意 owe): where a graded
        subject stands after them. Not a step of selection owed by the best grade or the first places (a 陈述答辩 of
        the award's candidates), whose refusal ends the grade."""
        def owed_by_results(code: str) -> bool:
            stage = self.stage(code)
            if stage.kind is StageKind.followup:
                return True
            who = stage.owed_by
            if stage.kind is not StageKind.submission or who is None or not (who.grades or who.rank is not None):
                return False
            return stage.voluntary or self.chooses_low(who)  # owed by the best grade, a step of selection

        return frozenset(s.code for s in self.stages if s.kind is StageKind.decision and s.decides
                         and self.has_stage(s.decides) and owed_by_results(s.decides))

    def chooses_low(self, who: Who) -> bool:
        """Whether a selection by grade or place picks the lower grades or the last places (a 补测 of the 不满意: a second
        chance), not the best grade or the first places (candidates going on)."""
        best = self.assessment.grades[0].name if self.assessment is not None and self.assessment.grades else None
        return who.rank.bottom is not None if who.rank is not None else bool(who.grades) and best not in who.grades

    @cached_property
    def requests(self) -> frozenset[str]:
        """Windows a unit may use after the results to ask for what changes nothing by itself (a 复核申请, decided with
        ``eliminates: false``, no :attr:`rechecks`): no part of its results, and a refusal is no ground for a summons."""
        first = min((self.stage_place[code] for code in self.assessment_stages), default=None)
        return frozenset() if first is None else frozenset(
            w.code for s in self.stages if s.kind is StageKind.decision and s.decides and not s.eliminates
            and s.code not in self.rechecks and self.has_stage(s.decides)
            for w in [self.stage(s.decides)]
            if w.kind is StageKind.submission and w.voluntary and self.stage_place[w.code] > first)

    def reachable(self, who: Who) -> set[str]:
        """Units a selector may reach: its hierarchy part, narrowed to units that can take part in
        the round when it depends on what happens (those owing a window chosen by the hierarchy,
        those an assessment chosen by it grades)."""
        allowed = {u.code for u in self.units_matching(who)}
        if who.superiors_of is not None:  # the superiors of those the inner selection may reach
            allowed &= {parent for u in self.reachable(who.superiors_of) if (parent := self.unit(u).parent)}
            if not who.chooses_by_events:
                return allowed
        if not who.dynamic:
            return allowed
        takers_part: set[str] = set()
        for s in self.stages:
            if s.owed_by is not None and not s.owed_by.dynamic:
                takers_part |= {u.code for u in self.units_matching(s.owed_by)}
        if self.assessment is not None and not self.assessment.subjects.dynamic:
            takers_part |= {u.code for u in self.units_matching(self.assessment.subjects)}
        return allowed & takers_part

    @cached_property
    def assessed_units(self) -> frozenset[str]:
        """Units the assessment may grade: what it deducts for a window's lateness is theirs to be told."""
        return frozenset(self.reachable(self.assessment.subjects)) if self.assessment is not None else frozenset()

    @cached_property
    def participants(self) -> frozenset[str]:
        """Units that may owe something or be assessed in the round: the population a round's
        results are about (a unit outside it, a 市政府, may be told them all)."""
        selectors = [s.owed_by for s in self.stages if s.owed_by is not None]
        if self.assessment is not None:
            selectors.append(self.assessment.subjects)
        return frozenset(u for who in selectors for u in self.reachable(who))

    def submission_title(self, kind: str) -> str:
        """How letters name a submission kind (申报材料, 目标备案 …)."""
        spec = self.submission_kinds.get(kind)
        return spec.title if spec is not None else SUBMISSION_TITLES.get(kind, kind)

    def material(self, stage: Stage) -> str:
        """What letters call what a window takes: its declared kind's ``title`` (函件中的称呼), else :attr:`Stage.handed_in`
        (an order, 责令限期改正（补报年度报告）, had asked for itself)."""
        spec = self.submission_kinds.get(stage.submission) if stage.submission else None
        return spec.title if spec is not None else stage.handed_in

    @cached_property
    def level_names(self) -> dict[str, str]:
        """Level → what letters and plans call it: the round's own words (设区市) over the defaults (市（州）)."""
        return LEVEL_NAMES | {str(level): name for level, name in self.round.level_names.items()}

    @cached_property
    def unit_names(self) -> dict[str, str]:
        """Unit code → name, as the plan names a selection of units (not "单位 gov")."""
        return {u.code: u.name for u in self.units}

    @cached_property
    def stage_names(self) -> dict[str, str]:
        return {s.code: s.name for s in self.stages}

    @cached_property
    def stage_place(self) -> dict[str, int]:
        """Each stage's place in the file (the order steps follow and same-moment actions run in)."""
        return {s.code: i for i, s in enumerate(self.stages)}

    @cached_property
    def unit_place(self) -> dict[str, int]:  # each unit's place in the file: the order letters and lists name them in
        return {u.code: i for i, u in enumerate(self.units)}

    @cached_property
    def takers_stage(self) -> Stage | None:
        """The decision on applications whose approved subjects are the takers (揭榜单位)."""
        return next((s for s in self.stages if s.kind is StageKind.decision and s.decides
                     and self.has_stage(s.decides) and self.stage(s.decides).submission == "application"), None)

    @cached_property
    def per_item_stages(self) -> frozenset[str]:
        """Stages whose hand-ins are per list item: the application a decision takes takers from
        (揭榜书, one an item), and what the takers owe (进展报告). One without its item was taken in
        as on time, applied for nothing, and stood beside the unit's later one with the item."""
        takers = self.takers_stage
        return frozenset() if not self.items or takers is None or not takers.decides else frozenset(
            {takers.decides} | {s.code for s in self.stages if s.owed_by is not None
                                and takers.code in s.owed_by.stages() and not s.owed_by.levels})

