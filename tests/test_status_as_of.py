"""``qcycle status --as-of`` of a past moment says what the status said at that moment: who
was overdue and what waited for a decision, from the decisions, hand-ins and results as they
stood then. It had read today's: 四川's 资阳 was sent a 督办 for its October 进展报告, refused
at 评价确认 in January, and left out of that October deadline's overdue list when asked about
November."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qcycle import db
from qcycle.status import round_status
from tests.homes import leave_home, play_programme, use_home

PROGRAMMES = sorted((Path(__file__).resolve().parent.parent / "config" / "programmes").glob("*.yaml"))


def _seen(st) -> tuple[dict, dict]:
    return ({k: sorted(v) for k, v in st.overdue.items()}, {k: sorted(v) for k, v in st.pending.items()})


@pytest.mark.parametrize("path", PROGRAMMES, ids=[p.stem for p in PROGRAMMES])
def test_a_past_moments_status_is_what_the_status_said_then(path, tmp_path, monkeypatch):
    live: dict[dt.datetime, tuple[dict, dict]] = {}

    def after(p, timetable, round_id, tick):  # the status as the moment's run left the round
        with db.session_scope() as session:
            live[tick] = _seen(round_status(session, p, round_id, timetable, tick))

    use_home(monkeypatch, tmp_path / "home")
    try:
        p, timetable, round_id = play_programme(path, seed=5, after=after)
        # The last moment's late decisions are made after its run (World.play), stamped with it.
        ticks = sorted(live)[:-1]
        with db.session_scope() as session:
            then = {t: _seen(round_status(session, p, round_id, timetable, t, as_recorded=True)) for t in ticks}
            now = {t: _seen(round_status(session, p, round_id, timetable, t)) for t in ticks}
    finally:
        leave_home()
    assert any(overdue or pending for overdue, pending in live.values())
    assert {t: live[t] for t in ticks} == then
    if path.stem == "sc-jbgs-2023":  # read as they stand now, the lists differ: what this test is for
        november = next(t for t in ticks if t.date() >= dt.date(2023, 11, 1))
        progress = "中期检查（进展报告）·2023-10（2023-10-20 17:30 截止）"
        refused_since = set(then[november][0][progress]) - set(now[november][0].get(progress, []))
        assert refused_since == {"资阳市市场监督管理局"}, then[november][0]


def test_a_record_revised_since_was_handed_in_at_its_first_versions_time(home):
    """The version in force carries its revision's time: as of a moment between the two, its unit
    had handed it in (it is not overdue then), and not before the first."""
    from qcycle import crud
    from qcycle.clock import at
    from qcycle.intake import ingest
    from qcycle.lifecycle import sync_round
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    loaded = load_programme(PROGRAMMES[0].with_name("sc-jbgs-2023.yaml"))
    t = expand(loaded.programme, WorkCalendar())
    with db.session_scope() as session:
        rid = sync_round(session, loaded).id
        for day, note in (("2023-04-10", "初稿"), ("2023-04-18", "修改稿")):
            ingest(session=session, programme=loaded.programme, timetable=t, round_id=rid, source="test",
                   record={"kind": "application", "unit": "510100", "item": "zlcx-01", "说明": note,
                           "submitted_at": f"{day}T10:00:00+08:00"})
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject="510100:zlcx-01", outcome="approved", decided_by="test",
                          decided_at=at(dt.date(2023, 4, 21), dt.time(10)))

    def seen(day: dt.date) -> tuple[list[str], list[str]]:
        with db.session_scope() as session, crud.as_recorded_at(at(day, dt.time(12))):
            return (crud.handed_in_units(session=session, round_id=rid, stage="application", period=None,
                                         category=None, item_category=loaded.programme.item_category),
                    crud.decided_subjects(session=session, round_id=rid, stage="takers_review",
                                          outcomes=["approved"]))

    with db.session_scope() as session:
        [(submission, versions)] = crud.list_revised(session=session, round_id=rid)
        assert submission.submitted_at.date() == dt.date(2023, 4, 18) and len(versions) == 1
    assert seen(dt.date(2023, 4, 9)) == ([], [])
    assert seen(dt.date(2023, 4, 15)) == (["510100"], [])
    assert seen(dt.date(2023, 4, 21)) == (["510100"], ["510100:zlcx-01"])


def test_an_extension_granted_later_is_not_read_into_an_earlier_moment(home):
    """A unit given its own deadline after it had missed the window's was overdue until then: asked
    about that earlier moment, the timetable leaves its extension out."""
    from qcycle import crud
    from qcycle.clock import at
    from qcycle.lifecycle import round_timetable, sync_round
    from qcycle.loader import load_programme

    loaded = load_programme(PROGRAMMES[0].with_name("sc-jbgs-2023.yaml"))
    with db.session_scope() as session:
        rid = sync_round(session, loaded).id
        crud.grant_extension(session=session, round_id=rid, stage="application", unit_code="510300", period=None,
                             deadline=at(dt.date(2023, 4, 28), dt.time(17, 30)), reason="系统故障", actor="ops")
    with db.session_scope() as session:
        [granted] = crud.list_extensions(session=session, round_id=rid)
        before, after = granted.granted_at - dt.timedelta(days=1), granted.granted_at + dt.timedelta(minutes=1)
        with crud.as_recorded_at(before):
            assert round_timetable(session, loaded.programme, rid).cutoff("application", None, None, "510300") == at(
                dt.date(2023, 4, 20), dt.time(17, 30))
        with crud.as_recorded_at(after):
            assert round_timetable(session, loaded.programme, rid).cutoff("application", None, None, "510300") == at(
                dt.date(2023, 4, 28), dt.time(17, 30))

