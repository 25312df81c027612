"""The :class:`World` that plays a round's outside world from the seeded draws
(:mod:`qcycle.synthetic.draws`): units hand in, the office decides, reviewers score; and
:func:`play_locally`, a whole round without Prefect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud, db
from qcycle.gcpause import only_new_objects_scanned
from qcycle.intake import ingest_many
from qcycle.lifecycle import (
    DECIDING_STAGE_KINDS,
    assessment_subjects,
    pending_decisions,
    remembering,
    resolve,
    select_subjects,
)
from qcycle.lifecycle.assessing import windows_never_handed_in
from qcycle.lifecycle.requests import approved_by_reviewer, places_key
from qcycle.lifecycle.wording import places_counted_as
from qcycle.models import YES_NO_OUTCOMES
from qcycle.schema import Programme, Stage
from qcycle.synthetic.draws import (
    OBJECTED_REASON,
    REFUSAL_REASON,
    SIMULATED_REASON,
    UPHOLD_RATE,
    decide,
    first_open,
    malformed,
    measurements,
    plan_submissions,
    reported_figures,
    rng,
    scores,
)
from qcycle.timetable import Action, Timetable, next_safety_net
from qcycle.workcal import default_calendar

__all__ = ["World", "play_locally"]

class World:
    """The outside world of a simulated round: what units, ops and reviewers do, by when.

    Units apply for ``items_per_applicant`` list items (a draw from the sequence), hand in
    what they owe per :func:`plan_submissions`, plus three malformed records per application
    window; reviewers score every subject of an assessment once it is due; ops decide every
    pending subject once its decision has been requested.
    """

    def __init__(self, p: Programme, timetable: Timetable, round_id: Any, seed: int, *,
                 items_per_applicant: Sequence[int] = (1, 1, 2), source: str = "simulate",
                 malformed_per_window: int = 3) -> None:
        self.p, self.t, self.round_id, self.seed = p, timetable, round_id, seed
        self.objected: set[str] = set()  # candidates an upheld objection concerns (refused after)
        self.items_per_applicant, self.source = list(items_per_applicant), source
        self.malformed_per_window = malformed_per_window
        self.planned: set[str] = set()
        self.scored: set[tuple[str, str]] = set()
        self.inbox: list[tuple[dt.datetime, dict[str, Any]]] = []
        self.records_made = 0
        # When hand-ins arrive after the deadline of a window that refuses them: a deployment's
        # safety net answers each within half a day, so the year plays those moments too.
        self.refused_arrivals: list[dt.datetime] = []
        self.moments_played = self.moments_planned = 0
        self.last_moment: dt.datetime | None = None  # the latest moment played (what the year is seen as of)

    def _subjects(self, session: Session, deadline: Action) -> list[tuple[str, str | None, str | None]]:
        p = self.p
        stage = p.stage(deadline.stage)
        out: list[tuple[str, str | None, str | None]] = []
        # Whoever the call reaches may apply, eligible or not (the rule refuses a past winner on
        # the day; it is not reminded to apply): read the stage's selection, not its owers.
        reached = resolve(session, p, self.round_id, stage.owed_by, deadline.category)
        if self._chooses_items(stage):
            # A window dated per category (a second batch in August) takes its own category's items:
            # applications for August's batch had arrived in March, and been taken as on time.
            items = [i.code for _, i in p.items
                     if deadline.category is None or p.item_category.get(i.code) == deadline.category]
            for unit in reached if items else ():
                r = rng(self.seed, "choose", unit)
                k = min(len(items), r.choice(self.items_per_applicant))
                out += [(unit, item, None) for item in sorted(r.sample(items, k=k))]
            return out
        if stage.owed_by and stage.owed_by.dynamic and p.categories:
            period = next((x for x in stage.periods if x.code == deadline.period), None)
            only = set(period.categories) if period and period.categories else None
            for subject in select_subjects(session, p, self.round_id, stage.owed_by, deadline.category):
                unit, _, item = subject.partition(":")
                if only is None or p.item_category.get(item) in only:
                    out.append((unit, item or None, None if item else deadline.category))
            return out
        return [(u, None, deadline.category) for u in reached]

    def _chooses_items(self, stage: Stage) -> bool:
        """A window where units pick list items: the application, or one later steps count their subjects from
        (能力验证's 报名 of a kind of its own: its laboratories had registered for no project, and were graded whole)."""
        p = self.p
        if not p.categories or (stage.owed_by is not None and stage.owed_by.dynamic):
            return False
        if stage.submission == "application":
            return True
        whos = [s.owed_by for s in p.stages if s.owed_by is not None] + ([p.assessment.subjects] if p.assessment else [])
        return any(w.submitted_at == stage.code for who in whos for w in (who, *who.any_of))

    def arriving(self, session: Session, tick: dt.datetime) -> list[tuple[dict[str, Any], str]]:
        """(record, source) pairs that arrive up to ``tick``, in arrival order."""
        with remembering():  # planning only reads
            for a in self.t.actions:
                if a.action != "deadline" or a.key in self.planned:
                    continue
                opens = first_open(self.t, a)
                if (opens or a.at - dt.timedelta(days=20)) > tick:
                    continue
                subjects = self._subjects(session, a)
                owed_by = self.p.stage(a.stage).owed_by
                if not subjects and owed_by is not None and owed_by.dynamic and tick < a.at:
                    continue  # those it is for are not decided yet (a 复验申请 before the failed 验收 is told)
                self.planned.add(a.key)
                planned = plan_submissions(self.seed, a, opens, subjects)
                self.inbox += planned
                if self.p.stage(a.stage).lateness == "reject":
                    self.refused_arrivals += [when for when, _ in planned if when > a.at]
                if a.submission == "application":
                    self.inbox += malformed(self.seed, a, self.malformed_per_window)
        now = sorted((x for x in self.inbox if x[0] <= tick), key=lambda x: (x[0], x[1].get("id", "")))
        self.inbox = [x for x in self.inbox if x[0] > tick]
        out = [(record, self.source) for _, record in now]
        self.records_made += len(out)
        return out

    def scoring(self, session: Session, tick: dt.datetime) -> list[tuple[dict[str, Any], str]]:
        """(record, source) pairs of the reviewers' scores due by ``tick``: read after the moment's
        hand-ins are in, so that one arriving late at the assessment's own moment is scored too (a
        late-accepted application landing then had failed the assessment: "只有 0 个评分")."""
        out: list[tuple[dict[str, Any], str]] = []
        scheme = self.p.assessment
        for a in self.t.actions:
            if a.action != "assess" or a.at > tick or scheme is None:
                continue
            # Reviewers score whoever is to be assessed once the assessment is due; subjects
            # decided later (the decision it waits for) are scored when they appear.
            components = [c.code for c in scheme.components if c.source == "reviews"]
            reviewers = max(3, scheme.min_reviewers)
            occasion = "" if a.stage == self.p.assessment_stages[0] else a.stage
            missed: set[str] | None = None  # read once a subject is still to be scored, not every moment after
            vetoed: set[str] = set()
            vetoing = {v.missing_at for v in scheme.vetoes if v.missing_at}
            for subject in assessment_subjects(session, self.p, self.round_id, a.category):
                if (a.stage, subject) in self.scored:
                    continue
                self.scored.add((a.stage, subject))
                if missed is None:
                    owed = windows_never_handed_in(session, self.p, self.round_id, self.t, a)
                    missed = {u for units in owed.values() for u in units}
                    vetoed = {u for (code, _), units in owed.items() if code in vetoing for u in units}
                if subject in vetoed:  # a unit's: an item vetoed for its own miss is told no score anyway (unscored)
                    # Reviewers do not score a report never received where the rule fails its unit for it: the
                    # simulated 不合格 had read "得分32.67；因未报送年度工作报告，实行一票否决" (a score of nothing).
                    continue
                records = (scores(self.seed, subject, components, reviewers, occasion,
                                  handed_in=subject.partition(":")[0] not in missed)
                           + measurements(self.seed, subject, self.p, a.at.year))
                # Named, as an office's score sheet names its assessment: a subject decided
                # late is scored after the assessment's day, and is still scored for it.
                out += [({**rec, "stage": a.stage}, f"{self.source}:reviewers") for rec in records]
            for unit in sorted({i.reported_by for i in scheme.indicators if i.reported_by}):
                if (a.stage, f"reported:{unit}") not in self.scored:  # the district's figures, once per assessment
                    self.scored.add((a.stage, f"reported:{unit}"))  # (apart from its own scores, if it is assessed too)
                    out += [({**rec, "stage": a.stage}, f"{self.source}:reviewers")
                            for rec in reported_figures(self.seed, unit, self.p, a.at.year)]
        self.records_made += len(out)
        return out

    def submit(self, session: Session, tick: dt.datetime) -> dict[str, int]:
        """Take in everything that arrives up to ``tick``, the hand-ins first, then the scores of
        the assessments due; counts by intake status."""
        counts: dict[str, int] = {}
        for arrived in (self.arriving, self.scoring):
            by_source: dict[str, list[dict[str, Any]]] = {}
            for record, source in arrived(session, tick):
                by_source.setdefault(source, []).append(record)
            for source, records in by_source.items():
                # Received at the moment they arrive in the simulated year, as decisions are made then.
                with clock.frozen(tick):
                    results = ingest_many(session=session, programme=self.p, timetable=self.t,
                                          round_id=self.round_id, records=records, source=source)
                for result in results:
                    counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    def decide(self, session: Session, tick: dt.datetime, strictly_before: bool = False) -> int:
        """Ops decide every pending subject whose decision is due (``strictly_before``: due
        before ``tick``, so that the moment's reconcile carries the decision out). A chain of
        decisions due at once is decided step by step, each on what the last one approved."""
        n = 0
        for a in self.t.actions:
            if a.action != "decision_due" or a.at > tick or (strictly_before and a.at == tick):
                continue
            stage = self.p.stage(a.stage)
            if stage.kind not in DECIDING_STAGE_KINDS or stage.approves_handed_in:  # the rule decides those
                continue
            yes, no = YES_NO_OUTCOMES
            pending = pending_decisions(session, self.p, self.round_id, stage, a.category)
            if stage.code in self.p.objection_decisions:
                n += self._decide_objections(session, stage, a, pending, tick)
                continue
            # A candidate an upheld objection concerns is refused at the steps after (宝山 upheld
            # eight objections and awarded every candidate).
            outcomes = {subject: yes if decide(self.seed, stage.code, subject)
                        and subject.partition(":")[0] not in self.objected else no for subject in pending}
            outcomes, cut = self._within_places(session, stage, outcomes)
            objected = {s for s in pending if s.partition(":")[0] in self.objected}
            places = (f"推荐名额已满，{self._places_said(stage)}{places_counted_as(self.p, pending)}"
                      if stage.per_reviewer else f"名额已满，不超过{stage.max_approved}{places_counted_as(self.p, pending)}")
            window = self.p.reviewed_window(stage.code)
            refused = REFUSAL_REASON.replace("申报材料", self.p.material(window)) if window else REFUSAL_REASON  # of a 整改报告
            for outcome, among, reason in ((yes, set(pending), ""), (no, set(pending) - objected - cut, refused),
                                           (no, cut - objected, places), (no, objected, OBJECTED_REASON)):
                # A stage that tells its reason gets one with each refusal, as ops must give.
                chosen = {s: o for s, o in outcomes.items() if o == outcome and s in among}
                note = reason if stage.tell_reason else ""
                n += crud.put_decisions(session=session, round_id=self.round_id, stage=stage.code,
                                        decides=stage.decides or "", outcomes=chosen, note=note,
                                        decided_by=f"{self.source}:ops", decided_at=tick) if chosen else 0
        return n

    def _places_said(self, stage: Stage) -> str:
        """A reviewer's places as a refusal says them: "每个推荐单位不超过5", or by level "设区市不超过6、行业协会不超过4"."""
        if not isinstance(stage.per_reviewer, dict):
            return f"每个推荐单位不超过{stage.per_reviewer}"
        return "、".join(f"{self.p.level_names.get(level, level)}不超过{n}" for level, n in stage.per_reviewer.items())

    def _within_places(self, session: Session, stage: Stage, outcomes: dict[str, str]
                       ) -> tuple[dict[str, str], set[str]]:
        """Approvals held to the stage's places, as ``qcycle decide`` holds ops to them: a reviewer's
        (``per_reviewer``) and the stage's in all (``max_approved``: 优秀组织单位不超过5个), the first
        approvals in subject order, less those approved before. Returns the outcomes and the subjects
        refused for want of places."""
        yes, no = YES_NO_OUTCOMES
        if stage.per_reviewer is None and stage.max_approved is None:
            return outcomes, set()
        made = crud.outcomes_at(session=session, round_id=self.round_id, stage=stage.code)
        used: dict[tuple[str | None, str | None], int] = {
            key: len(xs) for key, xs in approved_by_reviewer(self.p, stage.code, made.items()).items()}
        left = (stage.max_approved - sum(1 for o in made.values() if o == yes)) if stage.max_approved else None
        out, cut = {}, set()
        for subject, outcome in sorted(outcomes.items()):
            key = places_key(self.p, stage.code, subject)
            most = stage.places_for(self.p.unit(key[0]).level) if key[0] is not None else None
            full = most is not None and used.get(key, 0) >= most
            if outcome == yes and (full or (left is not None and left <= 0)):
                outcome = no
                cut.add(subject)
            used[key] = used.get(key, 0) + (outcome == yes)
            left = None if left is None else left - (outcome == yes)
            out[subject] = outcome
        return out, cut

    def _decide_objections(self, session: Session, stage: Stage, a: Action, pending: Sequence[str],
                           tick: dt.datetime) -> int:
        """Objections decided as an office would: most not upheld (所反映的情况与事实不符); one upheld
        names, in its note, the listed candidate it concerns. Who was named is kept for this play of
        the round (a world is made once per play)."""
        window = self.p.stage(stage.decides or "")
        notice = self.p.publicity_of(window.code)
        listed = resolve(session, self.p, self.round_id, notice.notify, a.category) if notice and notice.notify else []
        yes, no = YES_NO_OUTCOMES
        n = 0
        for subject in pending:
            r = rng(self.seed, "objection", stage.code, subject)
            target = r.choice(listed) if listed else ""
            upheld = bool(target) and target != subject.partition(":")[0] and r.random() < UPHOLD_RATE
            if upheld:
                self.objected.add(target)
                note = f"异议所反映的{self.p.unit(target).name}申报材料与事实不符的情况属实"
            else:
                note = SIMULATED_REASON
            n += crud.put_decisions(session=session, round_id=self.round_id, stage=stage.code, decides=window.code,
                                    outcomes={subject: yes if upheld else no}, note=note,
                                    decided_by=f"{self.source}:ops", decided_at=tick)
        return n

    def play(self, ticks: Sequence[dt.datetime], run_moment: Callable[[dt.datetime], int],
             after: Callable[[dt.datetime], None] | None = None) -> int:
        """Play the round: before each moment, units submit and ops decide what was requested
        earlier (so the moment's run carries the decisions out); then ``run_moment(tick)``. A
        late hand-in that its window refuses adds the safety-net moment after it (where a
        deployment tells the unit), unless an action's moment comes first. A decision requested
        at the very last moment is made after it, and that moment runs again. Returns the sum of
        what ``run_moment`` returned (e.g. flow runs); ``moments_played`` counts the moments."""
        total, played, queue = 0, 0, sorted(set(ticks))
        while played < len(queue):
            tick = queue[played]
            # The collector's passes leave out what the moments before left alive (the programme,
            # caches, modules): at national scale they had scanned it 29 times a year.
            with only_new_objects_scanned():
                with db.session_scope() as session:
                    # Ops decide first: reviewers score the subjects those decisions leave.
                    self.decide(session, tick, strictly_before=True)
                    self.submit(session, tick)
                total += run_moment(tick)
            played += 1
            self.last_moment = tick
            queue = sorted({*queue, *self.answering(tick, queue[played:])})
            self.moments_played, self.moments_planned = played, len(queue)
            if after is not None:
                after(tick)
        if queue:
            with db.session_scope() as session:
                late = self.decide(session, queue[-1])
            if late:
                total += run_moment(queue[-1])
        return total

    def answering(self, tick: dt.datetime, ahead: list[dt.datetime]) -> set[dt.datetime]:
        """The safety-net moments that answer refused hand-ins arriving after ``tick``, each before
        the next moment ``ahead`` (which answers those itself)."""
        calendar = default_calendar()
        arriving = (when for when in self.refused_arrivals if when > tick and (not ahead or when < ahead[0]))
        return {slot for slot in (next_safety_net(when, calendar) for when in arriving)
                if not ahead or slot < ahead[0]}


def play_locally(loaded: Any, timetable: Timetable, round_id: Any, seed: int, *, actor: str = "local",
                 deliver: bool = True, world: World | None = None,
                 after: Callable[[dt.datetime], None] | None = None) -> World:
    """A whole round without Prefect: the world acts, then at each moment everything due is
    carried out (:func:`qcycle.moment.run_due`) and the outbox is delivered to the local sink.
    The benchmark's floor and the tests use it; ``qcycle simulate`` does the same through flows.
    ``after(tick)``: called after each moment (:meth:`World.play`)."""
    from qcycle import moment
    from qcycle.notify.outbox import deliver_due

    p = loaded.programme
    world = world or World(p, timetable, round_id, seed)

    def at(tick: dt.datetime) -> int:
        moment.run_due(p, round_id, timetable, tick, template_dir=loaded.template_dir, actor=actor)
        if deliver:
            deliver_due(programme=p, round_id=round_id, now=tick, channel_override="sink",
                        template_dir=loaded.template_dir)
        return 0

    world.play(sorted({a.at for a in timetable.actions}), at, after)
    return world
