"""Every shipped programme file, run as a whole round without Prefect: it loads as version 2
with nothing to look at, every action of its timetable is done or knowingly skipped, decisions
chain (a subject rejected at one step is never decided, scored or praised later), caps hold,
and every letter is rendered (no template left over). ``qcycle simulate`` runs the same rounds
through Prefect flows (tests/server)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from sqlmodel import select

from qcycle import db
from qcycle.lifecycle import NEGATIVE
from qcycle.loader import load_programme
from qcycle.models import ActionRun, AssessmentResult, Decision, OutboxMessage
from qcycle.schema import StageKind
from tests.homes import leave_home, play_programme, use_home

PROGRAMMES = sorted((Path(__file__).resolve().parent.parent / "config" / "programmes").glob("*.yaml"))


def test_the_shipped_programmes_are_the_five_seeds_and_the_further_rules():
    assert len(PROGRAMMES) >= 12, [p.name for p in PROGRAMMES]


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_a_shipped_programme_runs_a_whole_round(path, tmp_path, monkeypatch):
    source = load_programme(path)
    assert source.programme.version == 2
    assert [str(n) for n in source.notices] == []
    use_home(monkeypatch, tmp_path / "home")
    try:
        p, timetable, round_id = play_programme(path, seed=11)
        with db.session_scope() as session:
            runs = {r.action_key: r.outcome for r in session.exec(select(ActionRun).where(
                ActionRun.round_id == round_id)).all()}
            decisions = session.exec(select(Decision).where(Decision.round_id == round_id)).all()
            results = session.exec(select(AssessmentResult).where(AssessmentResult.round_id == round_id)).all()
            messages = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all()
    finally:
        leave_home()

    assert [a.key for a in timetable.actions if a.key not in runs] == []
    order = [s.code for s in p.stages]
    decided_on = {s.code: s.decides for s in p.stages if s.kind is StageKind.decision}
    rejected: dict[str, int] = {}
    for d in decisions:
        if d.outcome in NEGATIVE and d.stage not in p.objection_decisions:  # an objection rejected, not its objector
            rejected[d.subject] = min(rejected.get(d.subject, len(order)), order.index(d.stage))
    for d in decisions:
        chained = decided_on.get(d.stage) in decided_on or decided_on.get(d.stage) in (
            s.code for s in p.stages if s.kind is StageKind.assessment)
        if chained and d.subject in rejected:
            assert order.index(d.stage) <= rejected[d.subject], (d.stage, d.subject)
    assessed_at = {r.stage for r in results}
    for r in results:
        if r.unit_code in rejected:  # scored only if it was rejected after the scoring
            assert rejected[r.unit_code] > order.index(r.stage), (r.unit_code, r.stage)
    if p.assessment is not None:
        for stage in assessed_at:
            counts: dict[tuple[str, str], int] = defaultdict(int)
            for r in results:
                if r.stage == stage:
                    item = r.unit_code.partition(":")[2]
                    counts[(p.item_category.get(item, ""), r.grade)] += 1
            for g in p.assessment.grades:
                if g.max_count is not None:
                    assert all(n <= g.max_count for (_, grade), n in counts.items() if grade == g.name)
        # Indicators one unit reports for all (榆阳's district statistics) score every subject alike.
        if p.assessment.indicators and all(i.reported_by for i in p.assessment.indicators):
            by_indicators = [c.code for c in p.assessment.components if c.source == "indicators"]
            for stage in assessed_at:
                for code in by_indicators:
                    assert len({r.components[code] for r in results if r.stage == stage}) == 1, (stage, code)
    # A step that tells its reason (资格审查: which condition failed) tells each unit it refuses why.
    telling = {s.code for s in p.stages if s.kind is StageKind.decision and s.tell_reason} - set(p.objection_decisions)
    refused = [d for d in decisions if d.stage in telling and d.outcome in NEGATIVE]
    for d in refused:
        assert d.note and any(d.note in m.body for m in messages if m.unit_code == d.subject.partition(":")[0]), d
    assert messages and {m.status for m in messages} == {"sent"}
    # The local sink names each file by the moment it was delivered for and by its channel; a
    # post to a group bot carries the messages its units are told alike.
    files = sorted((tmp_path / "home" / "sink").glob("*.json"))
    assert len(files) == len({m.posted_with or m.id for m in messages})
    channels = {c.name for c in p.channels}
    for f in files:
        stamp = f.name.split("-")[0]
        assert int(stamp[:4]) in p.round.years, f.name
        assert any(f.name.startswith(f"{stamp}-{c}-") for c in channels), f.name
    for m in messages:
        assert "{{" not in m.body and "{%" not in m.body and "None" not in m.body, m.body
