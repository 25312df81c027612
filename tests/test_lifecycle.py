"""What actions do to a round's data, without Prefect: who is written to, idempotency, intake."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from sqlmodel import func, select

from qcycle import clock, crud
from qcycle.clock import at
from qcycle.intake import ingest
from qcycle.lifecycle import (
    carry_out,
    decision_subjects,
    handed_in_query,
    outstanding,
    p_item_name,
    pending_decisions,
    remembering,
    select_subjects,
    sync_round,
    takers,
)
from qcycle.loader import load_programme
from qcycle.models import OutboxMessage, QuarantinedRecord, Submission
from qcycle.moment import answer_refusals, could_refuse
from qcycle.notify.outbox import queue_drafts
from qcycle.timetable import expand
from qcycle.workcal import WorkCalendar
from tests.variants import compulsory_sichuan

P1 = Path(__file__).resolve().parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"


@pytest.fixture
def round_(session):
    loaded = load_programme(compulsory_sichuan())  # the overdue notice and 督办 of a refusing window
    row = sync_round(session, loaded)
    timetable = expand(loaded.programme, WorkCalendar())
    return loaded.programme, timetable, row.id


def _apply(session, p, t, rid, unit, item, when):
    return ingest(session=session, programme=p, timetable=t, round_id=rid, source="test",
                  record={"kind": "application", "unit": unit, "item": item, "submitted_at": when})


def test_sync_round_is_idempotent(session, round_):
    _, _, rid = round_
    again = sync_round(session, load_programme(compulsory_sichuan()))
    assert again.id == rid


def test_reminder_goes_only_to_units_that_have_not_submitted(session, round_):
    p, t, rid = round_
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    reminder = t.by_name()["application:reminder:T-3"]
    outcome = carry_out(session, p, rid, reminder)
    units = {d.unit for d in outcome.drafts}
    assert "510100" not in units and "510300" in units
    assert len(units) == 20  # 21 cities, one has applied


def test_rerunning_an_action_queues_nothing_new(session, round_):
    p, t, rid = round_
    reminder = t.by_name()["application:reminder:T-1"]
    first = carry_out(session, p, rid, reminder)
    new1 = queue_drafts(session=session, programme=p, round_id=rid, drafts=first.drafts)
    second = carry_out(session, p, rid, reminder)
    new2 = queue_drafts(session=session, programme=p, round_id=rid, drafts=second.drafts)
    total = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    # Every city has two channels (email and the WeCom group bot).
    assert (new1, new2, total) == (42, 0, 42)
    assert first.drafts == second.drafts


def test_late_application_is_rejected_by_the_lateness_rule_and_kept(session, round_):
    p, t, rid = round_
    result = _apply(session, p, t, rid, "510300", "zlcx-02", "2023-04-20T17:31:00+08:00")
    assert result.status == "rejected_late"
    row = session.exec(select(Submission).where(Submission.unit_code == "510300")).one()
    assert (row.status, row.late) == ("rejected_late", True)
    # A rejected application does not count: the unit is still outstanding.
    deadline = t.by_name()["application:deadline"]
    assert "510300" in outstanding(session, p, rid, deadline)


def test_late_progress_report_is_accepted_and_flagged(session, round_):
    p, t, rid = round_
    with clock.frozen(dt.datetime.fromisoformat("2023-07-15T09:00:00+08:00")):  # received then
        result = ingest(session=session, programme=p, timetable=t, round_id=rid, source="test", record={
            "kind": "progress_report", "unit": "510100", "item": "zlcx-01", "period": "2023-07",
            "submitted_at": "2023-07-15T09:00:00+08:00"})
    assert result.status == "late_accepted"
    # A window that takes late hand-ins refuses none: nothing to answer.
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 7, 17), dt.time(9, 5)), template_dir=None) == 0
    assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 0


def test_malformed_and_unknown_unit_records_are_quarantined_with_reasons(session, round_):
    p, t, rid = round_
    bad = [
        {"kind": "application", "unit": "999999", "item": "zlcx-01", "submitted_at": "2023-04-10T10:00:00+08:00"},
        {"kind": "application", "item": "zlcx-01", "submitted_at": "2023-04-10T10:00:00+08:00"},
        {"kind": "application", "unit": "510100", "submitted_at": "2023年13月40日"},
        {"kind": "wish", "unit": "510100"},
    ]
    statuses = [ingest(session=session, programme=p, timetable=t, round_id=rid, record=r, source="test").status
                for r in bad]
    assert statuses == ["quarantined"] * 4
    reasons = [q.reason for q in session.exec(select(QuarantinedRecord)).all()]
    assert any("999999" in r for r in reasons) and any("unit" in r for r in reasons)
    assert any("提交时间" in r for r in reasons) and any("wish" in r for r in reasons)
    # The same malformed record pulled again is kept once.
    ingest(session=session, programme=p, timetable=t, round_id=rid, record=bad[0], source="test")
    assert session.exec(select(func.count()).select_from(QuarantinedRecord)).one() == 4


def test_same_record_twice_is_stored_once(session, round_):
    p, t, rid = round_
    first = _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    second = _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    assert (first.status, second.status) == ("accepted", "duplicate")


def test_decision_stage_waits_for_ops_and_takers_follow_decisions(session, round_):
    p, t, rid = round_
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    _apply(session, p, t, rid, "510300", "cxyl-02", "2023-04-12T10:00:00+08:00")
    review = t.by_name()["takers_review:decision_due"]
    outcome = carry_out(session, p, rid, review)
    assert outcome.pending == ["510100:zlcx-01", "510300:cxyl-02"]
    assert [d.unit for d in outcome.drafts] == ["510000"]  # ops are reminded
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application", subject="510100:zlcx-01",
                      outcome="approved", decided_by="cli:test")
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application", subject="510300:cxyl-02",
                      outcome="rejected", decided_by="cli:test")
    assert pending_decisions(session, p, rid, p.stage("takers_review"), None) == []
    assert takers(session, p, rid) == {"510100": ["zlcx-01"]}
    assert takers(session, p, rid, "cxyl") == {}


def test_takers_follow_a_decision_changed_by_anyone_and_are_read_once_while_nothing_changes(session, round_):
    """What selections derive from decisions is kept across calls while the round's decisions
    token stands: a correction written in plain SQL by another connection, or a decision made in
    this session and not yet committed, is seen at once; with nothing changed the decisions are
    not read again."""
    from sqlalchemy import event

    p, t, rid = round_
    for unit, item in (("510100", "zlcx-01"), ("510300", "cxyl-02")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject=f"{unit}:{item}", outcome="approved", decided_by="cli:test")
    session.commit()
    reads: list[str] = []
    engine = session.get_bind()

    def count(conn, cursor, statement, *args):
        if "FROM decision " in statement or "FROM decision\n" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert takers(session, p, rid) == {"510100": ["zlcx-01"], "510300": ["cxyl-02"]}
        first = len(reads)
        assert takers(session, p, rid) == {"510100": ["zlcx-01"], "510300": ["cxyl-02"]}
        assert first > 0 and len(reads) == first  # kept: nothing was decided meanwhile
        session.commit()  # qcycle's SQLite transactions take the write lock: let the other write
        with engine.begin() as other:  # an officer's correction, another connection
            other.exec_driver_sql("UPDATE decision SET outcome = 'rejected' WHERE subject = '510300:cxyl-02'")
        assert takers(session, p, rid) == {"510100": ["zlcx-01"]}
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject="510100:zlcx-01", outcome="rejected", decided_by="cli:test")
        assert takers(session, p, rid) == {}  # this session's own change, not yet committed
        session.rollback()
        assert takers(session, p, rid) == {"510100": ["zlcx-01"]}  # rolled back: as before it
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_filtered_remembers_each_verdict_for_its_owner_and_key():
    """Each value's verdict is worked out once per (owner, key); another owner or key asks again,
    the answer is always the values the verdict keeps, and an owner's verdicts go with it."""
    import gc

    from qcycle.lifecycle import memo

    class Owner:
        pass

    asked: list[str] = []

    def keep(value: str) -> bool:
        asked.append(value)
        return value.startswith("a")

    owner, other = Owner(), Owner()
    assert memo.filtered(owner, ("k",), {"a1", "b1", "a2"}, keep) == {"a1", "a2"}
    assert sorted(asked) == ["a1", "a2", "b1"]
    asked.clear()
    assert memo.filtered(owner, ("k",), frozenset({"a1", "b1", "a3", "b2"}), keep) == {"a1", "a3"}
    assert sorted(asked) == ["a3", "b2"]  # only those not seen before
    asked.clear()
    assert memo.filtered(other, ("k",), {"a1"}, keep) == {"a1"} and asked == ["a1"]  # another owner asks again
    assert memo.filtered(owner, ("j",), {"b1"}, keep) == set() and asked == ["a1", "b1"]  # another key too
    gone = id(other)
    del other
    gc.collect()
    assert gone not in memo._verdicts and id(owner) in memo._verdicts


def test_a_subjects_category_verdict_is_kept_apart_for_any_unit_and_the_programmes_units():
    """A subject of a unit the programme does not name is kept where any unit counts and left out
    where the programme's units do, in either order; a copy of the programme has verdicts of its own."""
    from qcycle.lifecycle.who import _of_category

    p = load_programme(P1).programme
    u = p.units[0].code
    for _ in range(2):
        assert _of_category(p, {"ghost", u}, None) == {"ghost", u}
        assert _of_category(p, {"ghost", u}, None, units=p.unit_names) == {u}
    fewer = p.model_copy(update={"units": [x for x in p.units if x.code != u]})
    assert u not in fewer.unit_names and _of_category(fewer, {"ghost", u}, None, units=fewer.unit_names) == set()
    assert _of_category(p, {u, f"{u}:no-such-item"}, None) == {u}  # an item the programme does not list


def test_a_value_read_while_a_decision_changed_is_not_kept(session, round_):
    """The decisions token is read before and after the rows: a decision written in between
    (here by the read itself, then rolled back, which brings the first token back) means the
    rows may be of either state, so they are not kept."""
    from qcycle.lifecycle.memo import ByDecisions

    _, _, rid = round_
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                      subject="510100:zlcx-01", outcome="approved", decided_by="cli:test")
    session.commit()
    kept, reads = ByDecisions(), []

    def read_while_deciding() -> str:
        reads.append("changing")
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject="510300:cxyl-02", outcome="approved", decided_by="cli:test")
        return "read as it changed"

    def read() -> str:
        reads.append("plain")
        return "read"

    assert kept(session, rid, ("k",), read_while_deciding) == "read as it changed"
    session.rollback()  # the decision made while reading is undone: the token before it is back
    assert kept(session, rid, ("k",), read) == "read"  # read again: the first was not kept
    assert kept(session, rid, ("k",), read) == "read"  # kept now: nothing changed meanwhile
    assert reads == ["changing", "plain"]


def test_a_hand_ins_value_read_while_they_changed_is_not_kept(session, round_):
    """As a value of decisions: the stage's hand-ins token is read before and after, and a hand-in stored in between
    (here by the read itself, then rolled back, which brings the first token back) keeps nothing."""
    from qcycle.lifecycle.memo import ByHandIns

    p, t, rid = round_
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    session.commit()
    kept, reads, scope = ByHandIns(), [], ("application",)

    def read_while_handing_in() -> str:
        reads.append("changing")
        _apply(session, p, t, rid, "510300", "cxyl-02", "2023-04-12T10:00:00+08:00")
        return "read as it changed"

    def read() -> str:
        reads.append("plain")
        return "read"

    assert kept(session, rid, ("k",), read_while_handing_in, scope=scope) == "read as it changed"
    session.rollback()  # the hand-in stored while reading is undone: the token before it is back
    assert kept(session, rid, ("k",), read, scope=scope) == "read"  # read again: the first was not kept
    assert kept(session, rid, ("k",), read, scope=scope) == "read"  # kept now: nothing handed in meanwhile
    assert reads == ["changing", "plain"]


def _two_applied_one_approved(session, p, t, rid) -> None:
    """成都 and 自贡 applied; the review approved 成都's item (committed)."""
    for unit, item in (("510100", "zlcx-01"), ("510300", "cxyl-02")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                      subject="510100:zlcx-01", outcome="approved", decided_by="cli:test")
    session.commit()


def test_a_selection_of_decisions_is_kept_while_they_stand_and_follows_the_next(session, round_):
    """The takers (approved at the review) are worked out once while no decision changes, and again after one does; a
    selection that reads hand-ins is worked out at every ask outside a pass."""
    from qcycle.lifecycle import who as who_module
    from qcycle.schema import Who
    from qcycle.schema.stages import Eligibility, NotAwarded

    p, t, rid = round_
    _two_applied_one_approved(session, p, t, rid)
    takers, handed = Who(approved_at="takers_review"), Who(submitted_at="application")
    assert takers.by_decisions_only and not handed.by_decisions_only
    assert Who(any_of=[takers, handed]).by_decisions_only is False
    assert Who(superiors_of=takers).by_decisions_only and not Who(superiors_of=handed).by_decisions_only
    worked_out: list[str] = []
    select, resolve = who_module._select, who_module.resolve

    def counted(session_, p_, rid_, who, category):
        worked_out.append(who.model_dump_json())
        return select(session_, p_, rid_, who, category)

    who_module._select = counted
    try:
        assert select_subjects(session, p, rid, takers) == ["510100:zlcx-01"]
        assert select_subjects(session, p, rid, takers) == ["510100:zlcx-01"]
        assert len(worked_out) == 1  # kept: no decision since
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject="510300:cxyl-02", outcome="approved", decided_by="cli:test")
        session.commit()
        assert select_subjects(session, p, rid, takers) == ["510100:zlcx-01", "510300:cxyl-02"]
        assert len(worked_out) == 2  # the new decision is seen
        assert select_subjects(session, p, rid, handed) == select_subjects(session, p, rid, handed)
        assert len(worked_out) == 4  # hand-ins are read again at every ask
        # Another programme object (an amended one) is its own: its selections are worked out for it.
        fewer = p.model_copy(update={"units": [u for u in p.units if u.code != "510300"]})
        assert select_subjects(session, fewer, rid, takers) == ["510100:zlcx-01"] and len(worked_out) == 5
        # Who owes the mid-term report (the takers) is kept too; a window with an eligibility rule is read every time.
        midterm = p.stage("midterm")
        assert who_module.owers(session, p, rid, midterm, None) == ["510100", "510300"]
        assert who_module.owers(session, p, rid, midterm, None) == ["510100", "510300"]
        resolved: list[str] = []

        def counted_resolve(*args, **kwargs):
            resolved.append("read")
            return resolve(*args, **kwargs)

        who_module.resolve = counted_resolve
        who_module.owers(session, p, rid, midterm, None)
        assert resolved == []  # kept from the asks before
        ruled = midterm.model_copy(update={"eligibility": Eligibility(not_awarded=NotAwarded(grades=["x"], years=1))})
        who_module.owers(session, p, rid, ruled, None)
        who_module.owers(session, p, rid, ruled, None)
        assert resolved == ["read", "read"]  # an eligibility rule reads earlier rounds: asked again each time
    finally:
        who_module._select = select
        who_module.resolve = resolve


def test_a_programmes_identity_is_never_another_objects():
    """memo.identity numbers an object for its life; an object taking a freed one's id gets a number of its own."""
    from qcycle.lifecycle import memo

    class Owner:
        pass

    seen: set[int] = set()
    addresses: set[int] = set()
    for _ in range(50):  # freed objects' ids are taken again by the next ones
        owner = Owner()
        addresses.add(id(owner))
        number = memo.identity(owner)
        assert memo.identity(owner) == number and number not in seen
        seen.add(number)
        del owner  # freed here, by its count (no cycle: no collection needed, which took ~0.4 s a time in a worker)
    assert len(seen) == 50
    assert len(addresses) < 50  # ids were taken again, or the test proved nothing

    class Slotted:  # cannot be weakly referenced: refused, and no number left behind for its address
        __slots__ = ()

    slotted = Slotted()
    with pytest.raises(TypeError):
        memo.identity(slotted)
    assert id(slotted) not in memo._identities


def test_a_selection_read_in_a_pass_is_kept_for_the_pass_only(session, round_, sqlite_url):
    """A pass reads decisions once; another process decides meanwhile (an officer's `qcycle decide`). What the pass
    works out from its older reads is the pass's: after it, the selection is what the decisions are now. (It had
    been kept under the new token, and the officer's decision went unseen until the next one.)"""
    from sqlmodel import Session as Plain

    from qcycle import db
    from qcycle.schema import Who

    p, t, rid = round_
    _two_applied_one_approved(session, p, t, rid)
    approved = Who(approved_at="takers_review")
    with remembering():
        assert takers(session, p, rid) == {"510100": ["zlcx-01"]}  # the pass reads the decisions
        session.commit()  # its transaction ends (SQLite: one writer at a time), its reads stay the pass's
        with Plain(db.get_engine(sqlite_url)) as other:
            crud.put_decision(session=other, round_id=rid, stage="takers_review", decides="application",
                              subject="510300:cxyl-02", outcome="approved", decided_by="cli:officer")
            other.commit()
        assert select_subjects(session, p, rid, approved) == ["510100:zlcx-01"]  # as the pass read them
    assert select_subjects(session, p, rid, approved) == ["510100:zlcx-01", "510300:cxyl-02"]


def test_a_windows_hand_ins_are_kept_while_they_stand_and_follow_every_change(session, round_, sqlite_url, monkeypatch):
    """The review's pending decisions read the application window's accepted hand-ins once while nothing is handed in;
    an application ingested, one inserted by another program (plain SQL), an officer's correction refusing one (an
    update), and an application rolled back after it was read are each seen as they are."""
    from qcycle import db

    p, t, rid = round_
    review, when = p.stage("takers_review"), "2023-04-12T10:00:00+08:00"
    reads: list[str] = []
    accepted = crud.accepted_subjects

    def counted(**kwargs):
        reads.append(kwargs["stage"])
        return accepted(**kwargs)

    monkeypatch.setattr(crud, "accepted_subjects", counted)

    def pending() -> list[str]:
        return pending_decisions(session, p, rid, review, None)

    _apply(session, p, t, rid, "510100", "zlcx-01", when)
    session.commit()
    assert pending() == pending() == ["510100:zlcx-01"] and len(reads) == 1  # kept: nothing handed in since
    _apply(session, p, t, rid, "510300", "cxyl-02", when)
    session.commit()
    assert pending() == ["510100:zlcx-01", "510300:cxyl-02"] and len(reads) == 2
    session.commit()  # SQLite: one writer at a time
    with db.get_engine(sqlite_url).begin() as other:  # another program, one row: the count tells
        other.exec_driver_sql(
            "INSERT INTO submission (id, round_id, kind, stage, unit_code, item_code, fingerprint, payload, submitted_at,"
            " source, late, status, received_at, identity, revisions) VALUES (?, ?, 'application', 'application',"
            " '510500', 'zlcx-01', 'f-sql', '{}', '2023-04-12 10:00:00', 'sql', 0, 'accepted', '2023-04-12 10:00:00',"
            " 'sql-510500', 0)", (uuid.uuid4().hex, rid.hex))
    assert pending() == ["510100:zlcx-01", "510300:cxyl-02", "510500:zlcx-01"]
    session.commit()
    with db.get_engine(sqlite_url).begin() as other:  # an officer's correction: a trigger tells
        other.exec_driver_sql("UPDATE submission SET status = 'rejected_late' WHERE unit_code = '510300'")
    assert pending() == ["510100:zlcx-01", "510500:zlcx-01"] and len(reads) == 4
    _apply(session, p, t, rid, "510400", "zlcx-01", when)  # read, then undone: never seen again
    assert "510400:zlcx-01" in pending()
    session.rollback()
    _apply(session, p, t, rid, "510600", "zlcx-01", when)  # as many hand-ins as the undone state had
    session.commit()
    assert pending() == ["510100:zlcx-01", "510500:zlcx-01", "510600:zlcx-01"]
    with crud.as_recorded_at(clock.at(dt.date(2023, 4, 13), dt.time(9, 0))):  # earlier versions count: not kept
        before = len(reads)
        assert pending() == pending() and len(reads) == before + 2


def test_a_list_held_for_its_review_is_published_and_dated_the_day_the_review_lets_it_go(session, round_):
    """The takers list is planned for 04-24 but waits for the review; decided later, the run of
    05-04 publishes it: the letter says it was published on 05-04 and is dated then."""
    p, t, rid = round_
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                      subject="510100:zlcx-01", outcome="approved", decided_by="cli:test")
    listing = t.by_name()["takers_list:publish"]
    assert listing.needs and listing.at.date() == dt.date(2023, 4, 24)
    late = carry_out(session, p, rid, listing, as_of=at(dt.date(2023, 5, 4), dt.time(10, 0)))
    [draft] = late.drafts
    assert draft.logical_date == dt.date(2023, 5, 4)
    body = _rendered(draft)
    assert "已于2023年5月4日发布揭榜名单，贵单位已列入该名单" in body and "4月24日" not in body
    item = p_item_name(p, "510100:zlcx-01")
    assert item and f"（共1个单位），列入的项目为“{item}”，" in body  # which of its items, not only that it is listed
    assert late.drafts[0].private  # its own standing: not told in the cities' group
    assert body.rstrip().endswith("2023年5月4日")
    on_time = carry_out(session, p, rid, listing, as_of=listing.at)
    assert "已于2023年4月24日发布揭榜名单" in _rendered(on_time.drafts[0])
    # A window held by the same review keeps the opening the timetable judges hand-ins by.
    window = next(a for a in t.actions if a.stage == "midterm" and a.action == "window_open")
    assert window.needs and window.at.date() == dt.date(2023, 7, 3)
    opened = _rendered(carry_out(session, p, rid, window, as_of=at(dt.date(2023, 7, 10), dt.time(9, 5))).drafts[0])
    assert "自2023年7月3日起开始受理" in opened and opened.rstrip().endswith("2023年7月10日"), opened


def test_a_letter_caught_up_after_downtime_is_dated_and_counted_to_the_day_it_goes(session, round_):
    """The 督办 of 04-24 sent by the run of 04-25: dated 04-25 and four working days late (04-21,
    Sunday 04-23 worked for May Day, 04-24, 04-25), where on its own day it says three."""
    p, t, rid = round_
    urging = t.by_name()["application:escalation"]
    assert urging.at.date() == dt.date(2023, 4, 24)
    caught_up = carry_out(session, p, rid, urging, as_of=at(dt.date(2023, 4, 25), dt.time(9, 5)))
    body = _rendered(caught_up.drafts[0])
    assert "截至2023年4月25日已逾期4个工作日" in body and body.rstrip().endswith("2023年4月25日"), body
    own_day = _rendered(carry_out(session, p, rid, urging, as_of=urging.at).drafts[0])
    assert "截至2023年4月24日已逾期3个工作日" in own_day and own_day.rstrip().endswith("2023年4月24日"), own_day
    # Outside a run (no moment carried out) a letter keeps its action's day, not the wall clock.
    assert carry_out(session, p, rid, urging).drafts[0].logical_date == dt.date(2023, 4, 24)


def test_a_window_that_refuses_late_hand_ins_does_not_ask_for_one_after_its_deadline(session, round_):
    """四川's 揭榜书 are refused after 04-20 17:30 (lateness: reject): the overdue notice and the
    督办 say so instead of "请尽快提交"; a window that takes late hand-ins still asks for them."""
    p, t, rid = round_
    names = t.by_name()
    notice = _rendered(carry_out(session, p, rid, names["application:overdue"],
                                 as_of=names["application:overdue"].at).drafts[0])
    assert "按规定，逾期提交的不予受理" in notice and "尽快提交" not in notice, notice
    assert "说明原因" not in notice, notice  # refused: not invited to explain (QC小组's officer read it as an opening)
    urging = _rendered(carry_out(session, p, rid, names["application:escalation"],
                                 as_of=names["application:escalation"].at).drafts[0])
    assert "请书面说明未按期提交的原因" in urging and "尽快提交" not in urging, urging
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                      subject="510100:zlcx-01", outcome="approved", decided_by="cli:test")
    midterm = next(a for a in t.actions if a.stage == "midterm" and a.action == "overdue")
    late_ok = _rendered(carry_out(session, p, rid, midterm, as_of=midterm.at).drafts[0])
    assert "请尽快提交" in late_ok and "不予受理" not in late_ok, late_ok


def test_a_decision_request_still_pending_on_later_days_is_sent_once(session, round_):
    """The review waits for ops from 04-21; the runs of 04-24 and 04-25 carry it out again (it is
    not done while decisions are pending) and must not write to the reviewers again."""
    from qcycle.moment import perform

    p, t, rid = round_
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    review = t.by_name()["takers_review:decision_due"]
    for day in (21, 24, 25):
        outcome = perform(session, p, rid, review, template_dir=P1.parent.parent / "templates", actor="test",
                          as_of=at(dt.date(2023, 4, day), dt.time(9, 5)))
        assert outcome.pending == ["510100:zlcx-01"]
    sent = session.exec(select(OutboxMessage).where(OutboxMessage.action == review.key)).all()
    assert len(sent) == len(p.unit("510000").channels) and {m.logical_date for m in sent} == {dt.date(2023, 4, 21)}


def test_an_action_done_by_one_run_is_left_alone_by_another_that_planned_it_for_another_day(session, round_):
    """A backfill (as of 04-21) and the live run (as of 04-25) both planned the overdue notice:
    whichever comes second finds it done and writes nothing, though its letters would bear
    another date."""
    from qcycle.moment import perform

    p, t, rid = round_
    notice = t.by_name()["application:overdue"]
    templates = P1.parent.parent / "templates"
    first = perform(session, p, rid, notice, template_dir=templates, actor="backfill",
                    as_of=at(dt.date(2023, 4, 21), dt.time(9, 5)))
    queued = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    assert first.drafts and queued > 0
    second = perform(session, p, rid, notice, template_dir=templates, actor="live",
                     as_of=at(dt.date(2023, 4, 25), dt.time(9, 5)))
    assert second.drafts == [] and "已由另一次运行执行" in second.note
    assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == queued


def _rendered(draft) -> str:
    from qcycle.render import render_message

    return render_message(draft.template, draft.context)[1]


def test_sichuan_cities_choose_whether_to_take_an_item_and_are_not_chased_for_taking_none(session):
    """《榜单》: 各市（州）可自主选择揭榜项目. The shipped file invites: reminders say 如需申报, and a
    city that took nothing has no overdue notice, no 督办 and no 评价确认 owed."""
    loaded = load_programme(P1)
    p, t = loaded.programme, expand(loaded.programme, WorkCalendar())
    rid = sync_round(session, loaded).id
    names = t.by_name()
    assert "application:overdue" not in names and "application:escalation" not in names
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    reminder = carry_out(session, p, rid, names["application:reminder:T-1"])
    assert len({d.unit for d in reminder.drafts}) == 20
    body = _rendered(reminder.drafts[0])
    assert "如需申报，请在截止时间前提交" in body and "贵单位应于" not in body, body
    closing = carry_out(session, p, rid, names["application:deadline"])
    assert "overdue" not in closing.counts and closing.drafts == [], closing.counts


def test_escalation_by_the_office_itself_urges_each_overdue_unit(session, round_):
    # P1 escalates to the province, which is the office that writes: it urges (督办) each overdue
    # city directly instead of writing to itself.
    p, t, rid = round_
    esc = t.by_name()["application:escalation"]
    outcome = carry_out(session, p, rid, esc)
    assert len(outcome.drafts) == 21 and "510000" not in {d.unit for d in outcome.drafts}
    chengdu = next(d for d in outcome.drafts if d.unit == "510100")
    assert chengdu.context["direct"] and chengdu.context["child_name"] == "成都市市场监督管理局"
    assert outcome.counts == {"escalated": 21}


def test_escalation_to_a_superior_that_is_not_the_office_names_its_overdue_units(session, round_):
    p, _, rid = round_
    p = p.model_copy(update={"reminder_policies": {
        "standard": p.reminder_policies["standard"].model_copy(update={"escalate_to": "parent"})}})
    # Two counties under Chengdu: the city is their superior and is asked to urge them.
    from qcycle.schema import Unit

    counties = [Unit(code=f"5101{i:02d}", name=f"成都第{i}区市场监督管理局", level="county", parent="510100",
                     channels=["email"], email=f"q@5101{i:02d}.example.cn") for i in (1, 2)]
    p = p.model_copy(update={"units": [*p.units, *counties], "stages": [
        s.model_copy(update={"owed_by": s.owed_by.model_copy(update={"levels": ["county"]})})
        if s.code == "application" else s for s in p.stages]})
    outcome = carry_out(session, p, rid, expand(p, WorkCalendar()).by_name()["application:escalation"])
    assert [(d.unit, d.context["direct"]) for d in outcome.drafts] == [("510100", False)]
    assert outcome.drafts[0].context["child_name"] == "成都第1区市场监督管理局、成都第2区市场监督管理局"


def test_deadline_counts_overdue_units(session, round_):
    p, t, rid = round_
    _apply(session, p, t, rid, "510100", "zlcx-01", "2023-04-12T10:00:00+08:00")
    outcome = carry_out(session, p, rid, t.by_name()["application:deadline"])
    assert outcome.counts == {"overdue": 20} and outcome.drafts == []
    assert at(dt.date(2023, 4, 20), dt.time(17, 30)) == t.by_name()["application:deadline"].at


def test_bonus_earned_in_another_round_flows_into_the_assessment(session):
    from qcycle.schema import Programme
    from qcycle.timetable import Action

    # The source round: a 揭榜挂帅 round where 510100 took two items graded A and one graded B.
    src, _ = crud.get_or_create_round(session=session, code="src-2023", name="揭榜挂帅", issuer_code="x",
                                      config_path="-", config_sha256="0", first_year=2023, last_year=2024)
    crud.save_results(session=session, round_id=src.id, results=[
        {"unit_code": "510100:a", "total": 95, "grade": "A", "rank": 1},
        {"unit_code": "510100:b", "total": 92, "grade": "A", "rank": 2},
        {"unit_code": "510300:c", "total": 85, "grade": "B", "rank": 3},
    ])
    p = Programme.model_validate({
        "version": 2,
        "round": {"code": "annual-2024", "name": "年度质量工作考核", "programme": "考核", "issuer": "p",
                  "years": [2024]},
        "channels": [{"name": "sink", "kind": "sink"}],
        "units": [{"code": "p", "name": "省局", "level": "province", "channels": ["sink"]},
                  {"code": "510100", "name": "成都", "level": "city", "parent": "p", "channels": ["sink"]},
                  {"code": "510300", "name": "自贡", "level": "city", "parent": "p", "channels": ["sink"]}],
        "stages": [{"code": "assess", "name": "考核", "kind": "assessment", "on": "2024-07-15"}],
        "assessment": {
            "subjects": {"levels": ["city"]},
            "components": [{"code": "docs", "name": "资料考核", "weight": 1.0}],
            "bonuses": [{"code": "jbgs", "name": "揭榜挂帅成效突出", "points": 2, "cap": 3,
                         "source_round": "src-2023", "source_grades": ["A"]}],
            "grades": [{"name": "A", "min_score": 90}, {"name": "B", "min_score": 80},
                       {"name": "C", "min_score": 60}, {"name": "D"}],
        },
    })
    rnd, _ = crud.get_or_create_round(session=session, code="annual-2024", name="n", issuer_code="p",
                                      config_path="-", config_sha256="1", first_year=2024, last_year=2024)
    for unit in ("510100", "510300"):
        crud.put_review(session=session, round_id=rnd.id, unit_code=unit, reviewer="r1",
                        component_code="docs", value=85)
    action = Action(at=at(dt.date(2024, 7, 15), dt.time(9)), action="assess", stage="assess",
                    title="考核", key="assess:assess")
    outcome = carry_out(session, p, rnd.id, action)
    by = {r.unit: r for r in outcome.results}
    # 510100: two A-graded items × 2 points = 4, capped at 3 → 88 (B); 510300's B earns nothing.
    assert (by["510100"].bonus, by["510100"].total, by["510100"].grade) == (3.0, 88.0, "B")
    assert (by["510300"].bonus, by["510300"].total) == (0.0, 85.0)


def test_programme_lookups_follow_a_copy_with_other_units():
    from qcycle import synthetic

    p = load_programme(P1).programme
    assert p.unit("510100").level == "city"  # warms the lookup
    q = synthetic.with_counties(p, seed=1)
    county = q.units[-1]
    assert q.unit(county.code) is county and county.parent in {u.code for u in p.units}
    with pytest.raises(KeyError):
        p.unit(county.code)


def test_takers_per_category_are_the_same_inside_a_remembering_pass(session, round_):
    p, t, rid = round_
    taken = [("510100", "zlcx-01"), ("510300", "cxyl-02"), ("510400", "zlcx-02"), ("510500", "tssd-01")]
    for unit, item in [*taken, ("510600", "cxyl-01")]:
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
    for unit, item in taken:
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application", subject=f"{unit}:{item}",
                          outcome="approved", decided_by="cli:test")
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application", subject="510600:cxyl-01",
                      outcome="rejected", decided_by="cli:test")
    categories = [None, "cxyl", "zlcx", "tssd", "unknown"]
    fresh = {c: takers(session, p, rid, c) for c in categories}
    with remembering():
        remembered = {c: takers(session, p, rid, c) for c in categories}
    assert remembered == fresh
    assert fresh[None] == {"510100": ["zlcx-01"], "510300": ["cxyl-02"], "510400": ["zlcx-02"],
                           "510500": ["tssd-01"]}
    assert fresh["zlcx"] == {"510100": ["zlcx-01"], "510400": ["zlcx-02"]}
    assert fresh["cxyl"] == {"510300": ["cxyl-02"]} and fresh["unknown"] == {}


@pytest.mark.parametrize("category", [None, "cxyl"])
def test_who_handed_in_is_read_from_the_covering_index(session, round_, category):
    # With the index's old column order SQLite chose ix_submission_round_kind_unit for the
    # DISTINCT and read every submission row: 12-24 ms per past deadline at national scale.
    p, _, rid = round_
    query = handed_in_query(p, rid, p.stage("midterm"), "2023-07", category)
    sql = str(query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    plan = " ".join(row[-1] for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "USING COVERING INDEX ix_submission_handed_in" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # already in unit order: DISTINCT without sorting


YY = P1.with_name("yy-quality-plan-2025.yaml")  # assessed in December 2024 and again in December 2025


def test_a_round_assessed_twice_scores_each_assessment_on_its_own_values(session):
    from qcycle import clock
    from qcycle.errors import AssessmentError
    from qcycle.intake import ingest_many
    from qcycle.models import Review
    from qcycle.synthetic import measurements, reported_figures, scores

    loaded = load_programme(YY)
    p, rid = loaded.programme, sync_round(session, loaded).id
    t = expand(p, WorkCalendar())
    assess = {a.stage: a for a in t.actions if a.action == "assess"}
    subjects = [u.code for u in p.units if u.level == "department"]
    components = [c.code for c in p.assessment.components if c.source == "reviews"]

    def take(when, records):
        with clock.frozen(when):
            results = ingest_many(session=session, programme=p, timetable=t, round_id=rid, records=records,
                                  source="评审表")
        return [r.status for r in results]

    # The 2024 score sheet, with the indicator figures, names no assessment: it is the one due next.
    sheet = [r for s in subjects for r in scores(7, s, components) + measurements(7, s, p, 2024)]
    sheet += reported_figures(7, "yy-scjg", p, 2024)  # the district's figures, one for all
    assert set(take(dt.date(2024, 12, 2), sheet)) == {"accepted"}
    first_run = carry_out(session, p, rid, assess["assessment_2024"]).results
    first = {r.unit: (r.total, r.grade) for r in first_run}

    # A year later, before anyone scored 2025, the 2025 assessment has no scores of its own:
    # it says so rather than grading every department on last year's marks.
    with pytest.raises(AssessmentError, match="评分"):
        carry_out(session, p, rid, assess["assessment_2025"])

    # 2025's scores (no indicator figures: those given for 2024 still hold), lower by ten.
    lower = [{**r, "value": r["value"] - 10} for s in subjects for r in scores(7, s, components)]
    assert set(take(dt.date(2025, 12, 1), lower)) == {"accepted"}
    second_run = carry_out(session, p, rid, assess["assessment_2025"]).results
    second = {r.unit: (r.total, r.grade) for r in second_run}
    # Each assessment kept its own values; 2025's totals are 2024's less the reviewers' 10 points,
    # and less what the cumulative energy target (﹝15﹞ by 2025, 12 at 2024's pace) no longer gives
    # on the same 2021–2024 figures.
    indicators = {r.unit: r.components["indicators"] for r in first_run}
    fell = {r.unit: indicators[r.unit] - r.components["indicators"] for r in second_run}
    assert all(d >= 0 for d in fell.values()) and any(d > 0 for d in fell.values())
    by_stage = dict(session.exec(select(Review.stage, func.count()).group_by(Review.stage)).all())
    assert by_stage["assessment_2025"] == len(lower) and by_stage["assessment_2024"] == len(sheet)
    weight = sum(c.weight for c in p.assessment.components if c.source == "reviews")
    for unit, (total, _) in first.items():
        assert second[unit][0] == pytest.approx(total - 10 * weight - fell[unit], abs=0.02)
    # Re-running the 2024 assessment after 2025's scores came in still gives 2024's results.
    again = {r.unit: (r.total, r.grade) for r in carry_out(session, p, rid, assess["assessment_2024"]).results}
    assert again == first
    # A value stored before values had a stage ("") gives way to one given for the assessment.
    old = sheet[0]
    crud.put_review(session=session, round_id=rid, unit_code=old["unit"], reviewer=old["reviewer"],
                    component_code=old["component"], value=0, stage="")
    assert {r.unit: (r.total, r.grade) for r in carry_out(session, p, rid, assess["assessment_2024"]).results} == first

    # A sheet may name its assessment; a stage that is not one is refused with the reason.
    # (a new value for a score 2024 had: a revision)
    assert take(dt.date(2025, 12, 1), [{**lower[0], "stage": "assessment_2024"}]) == ["revised"]
    named = session.exec(select(Review).where(Review.stage == "assessment_2024", Review.unit_code == lower[0]["unit"],
                                              Review.reviewer == lower[0]["reviewer"],
                                              Review.component_code == lower[0]["component"])).one()
    assert named.value == lower[0]["value"]
    assert take(dt.date(2025, 12, 1), [{**lower[0], "stage": "self_evaluation"}]) == ["quarantined"]
    reason = session.exec(select(QuarantinedRecord.reason)).all()[-1]
    assert "不是考核阶段" in reason and "assessment_2025" in reason


def _version(session, round_, when, contact):
    """510100's application for zlcx-01 as handed in at ``when`` (and received then), its
    contact person telling one version from another."""
    p, t, rid = round_
    with clock.frozen(dt.datetime.fromisoformat(when)):
        return ingest(session=session, programme=p, timetable=t, round_id=rid, source="test", record={
            "kind": "application", "unit": "510100", "item": "zlcx-01", "submitted_at": when, "联系人": contact})


def _arrive(session, p, t, rid, unit, item, when, received=None):
    """An application handed in at ``when`` and received then (or at ``received``)."""
    with clock.frozen(dt.datetime.fromisoformat(received or when)):
        return _apply(session, p, t, rid, unit, item, when)


def test_a_decision_request_names_its_stage_and_category_and_marks_a_hand_in_taken_late(session, round_):
    """四川's 评价确认申请 are taken late with a flag: the reviewers deciding on them are told which
    came after 12月20日, and the request says which programme, step and category it is for."""
    p, t, rid = round_
    for unit, item in (("510100", "zlcx-01"), ("510300", "zlcx-02")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject=f"{unit}:{item}", outcome="approved", decided_by="cli:test")
    for unit, item, when, status in (("510100", "zlcx-01", "2023-12-18T10:00:00+08:00", "accepted"),
                                     ("510300", "zlcx-02", "2023-12-21T10:00:00+08:00", "late_accepted")):
        with clock.frozen(dt.datetime.fromisoformat(when)):
            assert ingest(session=session, programme=p, timetable=t, round_id=rid, source="test",
                          record={"kind": "evaluation_request", "unit": unit, "item": item,
                                  "submitted_at": when}).status == status
    action = t.by_name()["evaluation:decision_due:zlcx"]
    (draft,) = carry_out(session, p, rid, action, as_of=action.at).drafts
    from qcycle.render import render_message

    subject, body = render_message(draft.template, draft.context)
    assert subject == "【待审核】2023年度质量发展创新突破“揭榜挂帅”项目：评价确认（质量创新类）2项", subject
    assert "成都市市场监督管理局：贯彻执行《四川省质量促进条例》成效明显地方，2023年12月18日 10:00提交；" in body, body
    assert "自贡市市场监督管理局：质量基础设施“一站式”服务成效明显地方，2023年12月21日 10:00提交（逾期，已受理）。" in body, body


def test_a_decision_decides_only_on_hand_ins_of_the_units_its_window_is_owed_by(session, round_):
    """自贡 asks for the 评价确认 of an item whose 揭榜书 still waits for its review: taken (nothing is
    settled yet), but the 评价确认 decides on the takers' requests only, pending or not (``qcycle
    decide`` checks its rows against those)."""
    p, t, rid = round_
    for unit, item in (("510100", "zlcx-01"), ("510300", "zlcx-02")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
    crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                      subject="510100:zlcx-01", outcome="approved", decided_by="cli:test")
    for unit, item in (("510100", "zlcx-01"), ("510300", "zlcx-02")):
        with clock.frozen(dt.datetime.fromisoformat("2023-12-18T10:00:00+08:00")):
            assert ingest(session=session, programme=p, timetable=t, round_id=rid, source="test",
                          record={"kind": "evaluation_request", "unit": unit, "item": item,
                                  "submitted_at": "2023-12-18T10:00:00+08:00"}).status == "accepted"
    evaluation = p.stage("evaluation")
    assert decision_subjects(session, p, rid, evaluation, "zlcx") == ["510100:zlcx-01"]
    assert pending_decisions(session, p, rid, evaluation, "zlcx") == ["510100:zlcx-01"]
    crud.put_decision(session=session, round_id=rid, stage="evaluation", decides="evaluation_request",
                      subject="510100:zlcx-01", outcome="approved", decided_by="cli:test")
    assert decision_subjects(session, p, rid, evaluation, "zlcx") == ["510100:zlcx-01"]
    assert pending_decisions(session, p, rid, evaluation, "zlcx") == []


def test_a_late_hand_in_refused_is_answered_once_dated_the_run_and_never_before_it_came(session, round_):
    p, t, rid = round_
    _arrive(session, p, t, rid, "510100", "zlcx-01", "2023-04-18T10:00:00+08:00")  # on time: no answer
    _arrive(session, p, t, rid, "510300", "zlcx-02", "2023-04-21T09:12:00+08:00")  # late: refused
    _arrive(session, p, t, rid, "510300", "zlcx-03", "2023-04-21T09:40:00+08:00")
    _arrive(session, p, t, rid, "510400", "zlcx-02", "2023-04-24T15:00:00+08:00")
    on_21 = at(dt.date(2023, 4, 21), dt.time(17, 35))
    # Before the first deadline of a refusing window a run does not even look.
    assert not could_refuse(p, t, at(dt.date(2023, 4, 20), dt.time(17, 0)))
    assert could_refuse(p, t, at(dt.date(2023, 4, 20), dt.time(17, 31)))
    assert answer_refusals(session, p, rid, t, on_21, template_dir=None) == 1  # 510400's came later
    letters = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    assert [(m.unit_code, m.logical_date) for m in letters] == [("510300", dt.date(2023, 4, 21))]
    body = letters[0].body
    assert letters[0].subject.startswith("【不予受理】") and "2份材料逾期提交" in letters[0].subject
    assert "2023年4月21日 09:12提交，截止时间为2023年4月20日 17:30" in body
    # Each item named before what was handed in, quoted, its own quotation marks single: no brackets in brackets.
    # One item a line, each closed ("17:302. “…" ran two together).
    assert re.search(r"\n1\. “[^“”（]+”揭榜书：[^\n]+；\n2\. “[^“”]+”揭榜书：[^\n]+。\n", body), body
    assert body.endswith("2023年4月21日")
    assert "按规定，逾期提交的不予受理，特此告知：" in body  # no revision among them: nothing said of 修改
    # Answered: a second run on the same day, or later, says nothing more to 510300.
    assert answer_refusals(session, p, rid, t, on_21, template_dir=None) == 0
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 4, 25), dt.time(9, 5)), template_dir=None) == 1
    told = session.exec(select(OutboxMessage.unit_code, OutboxMessage.logical_date)
                        .where(OutboxMessage.channel == "email")).all()
    assert sorted(told) == [("510300", dt.date(2023, 4, 21)), ("510400", dt.date(2023, 4, 25))]
    # A later refusal of a unit already told gets a letter of its own.
    _arrive(session, p, t, rid, "510300", "zlcx-04", "2023-04-26T08:00:00+08:00")
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 4, 26), dt.time(9, 5)), template_dir=None) == 1
    # Handed in on time for a letter of 4月27日, but received (imported) later: a backfill of
    # that day cannot answer it; the run of the day it came can.
    _arrive(session, p, t, rid, "510500", "zlcx-01", "2023-04-27T08:00:00+08:00", received="2023-05-04T10:00:00+08:00")
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 4, 27), dt.time(9, 5)), template_dir=None) == 0
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 5, 4), dt.time(17, 35)), template_dir=None) == 1
    assert session.exec(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.channel == "email", OutboxMessage.unit_code == "510300")).one() == 2
    assert session.exec(select(func.count()).select_from(Submission).where(
        Submission.status == "rejected_late", Submission.answered_at.is_(None))).one() == 0


def test_a_late_change_refused_is_answered_saying_the_version_in_force_stands(session, round_):
    p, t, rid = round_

    def send(when, contact):
        return _version(session, round_, when, contact)

    assert send("2023-04-18T10:00:00+08:00", "张三").status == "accepted"
    assert send("2023-04-21T09:12:00+08:00", "李四").status == "rejected_late"
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 4, 21), dt.time(17, 35)), template_dir=None) == 1
    m = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "email")).one()
    assert m.subject.endswith("修改稿逾期提交")
    assert ("贵单位于2023年4月21日 09:12提交的“" in m.body and "”揭榜书修改稿，晚于截止时间" in m.body
            and "按规定，逾期修改的不予受理，贵单位于2023年4月18日 10:00提交的版本仍然有效" in m.body)
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 4, 24), dt.time(9, 5)), template_dir=None) == 0


def test_a_refusal_told_stays_told_when_an_on_time_version_arrives_after_it(session, round_):
    p, t, rid = round_

    def send(when, contact):
        return _version(session, round_, when, contact)

    assert send("2023-04-21T09:12:00+08:00", "李四").status == "rejected_late"
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 4, 21), dt.time(17, 35)), template_dir=None) == 1
    # Pulled out of order: the on-time version comes in force, the late one joins its history.
    assert send("2023-04-18T10:00:00+08:00", "张三").status == "revised"
    assert answer_refusals(session, p, rid, t, at(dt.date(2023, 4, 24), dt.time(9, 5)), template_dir=None) == 0
    assert session.exec(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "email")).one() == 1


def test_a_unit_refused_as_late_is_not_told_its_hand_in_never_came(session, round_):
    p, t, rid = round_
    _arrive(session, p, t, rid, "511500", "zlcx-02", "2023-04-20T23:15:00+08:00")  # late: refused
    for name in ("application:overdue", "application:escalation"):
        action = t.by_name()[name]
        told = {d.unit for d in carry_out(session, p, rid, action, as_of=action.at).drafts}
        # 宜宾 gets the 【不予受理】 letter instead of one saying "仍未收到"; 泸州 never applied.
        assert "511500" not in told and "510500" in told, name
    deadline = t.by_name()["application:deadline"]
    assert "511500" in outstanding(session, p, rid, deadline)  # still late for the record


@pytest.mark.parametrize("path", sorted(P1.parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_simulated_indicator_figures_are_ones_a_unit_could_report(path):
    """淮安's counties were scored on a 食品抽检合格率 of 102.28 % and 2.82 新增名牌产品: a rate stays
    within 100 % and a count is whole, on the side of the target the draw chose."""
    from qcycle.synthetic import COUNTED, measurements, reported_figures

    p = load_programme(path).programme
    indicators = {i.code: i for i in (p.assessment.indicators if p.assessment else [])}
    figures = [(indicators[r["component"].partition(":")[2]], r["value"]) for u in p.units for seed in (1, 2, 3)
               for r in measurements(seed, u.code, p, p.round.years[-1]) + reported_figures(seed, u.code, p, p.round.years[-1])
               if r["component"].startswith("indicator:")]
    assert bool(figures) == bool(indicators)
    assert all(v <= 100 for i, v in figures if i.unit == "%")
    assert all(v == int(v) for i, v in figures if i.unit in COUNTED)


def test_an_assessment_says_whom_it_graded_without_what_they_owed(home):
    """焦作: a county that never handed in its 自我评价报告 was graded with the rest; the run's record says
    so, by name, for ops to check before the results go out."""
    from qcycle import db
    from qcycle.models import ActionRun, AssessmentResult
    from tests.homes import play_programme

    p, _, rid = play_programme(P1.with_name("jz-assessment-2016.yaml"), seed=5)
    with db.session_scope() as session:
        note = session.exec(select(ActionRun.note).where(ActionRun.round_id == rid, ActionRun.action == "assess")).one()
        graded = set(session.exec(select(AssessmentResult.unit_code).where(AssessmentResult.round_id == rid)).all())
        handed = set(session.exec(select(Submission.unit_code).where(
            Submission.round_id == rid, Submission.stage == "self_evaluation")).all())
    missing = sorted(graded - handed)
    assert missing, "every county handed in: the test reads nothing"
    names = "、".join(p.unit(u).name for u in missing)
    assert f"；其中 {len(missing)} 个未交自我评价报告及考核资料（{names}），请核实" in note, note


def test_each_assessment_names_who_missed_its_own_period_wherever_the_file_places_the_window(home):
    """榆阳's self-reports are one stage with a 2024 and a 2025 period, placed before the 2024
    assessment: the 2025 assessment read no window and graded departments that never handed in
    their 2025 report without a word. Each assessment now reads the periods due since the last."""
    from qcycle import db
    from qcycle.models import ActionRun, AssessmentResult
    from tests.homes import play_programme

    p, _, rid = play_programme(P1.with_name("yy-quality-plan-2025.yaml"), seed=1)
    with db.session_scope() as session:
        notes = dict(session.exec(select(ActionRun.action_key, ActionRun.note).where(
            ActionRun.round_id == rid, ActionRun.action == "assess")).all())
        graded = set(session.exec(select(AssessmentResult.unit_code).where(AssessmentResult.round_id == rid)).all())
        handed = session.exec(select(Submission.period, Submission.unit_code).where(
            Submission.round_id == rid, Submission.stage == "self_evaluation", Submission.status == "accepted")).all()
    assert len(notes) == 2
    for year in ("2024", "2025"):
        [note] = [n for key, n in notes.items() if key.startswith(f"assessment_{year}:")]
        missing = sorted(graded - {u for period, u in handed if period == year})
        assert missing, f"every department handed in its {year} report: the test reads nothing"
        names = "、".join(p.unit(u).name for u in missing)
        assert f"；其中 {len(missing)} 个未交质量工作自评报告（{year}年度）（{names}），请核实" in note, note


def test_a_taker_of_two_items_that_reports_on_one_is_asked_for_the_other_by_name(session, round_):
    """甘孜 reported on one of its two 创先引领 items by the 中期检查 deadline and was chased for
    neither: hand-ins were counted by unit. It now gets the reminder, the overdue notice and the
    督办 for the item it owes, named; a unit that reported on all its items gets none."""
    p, t, rid = round_
    for unit, item in (("510100", "cxyl-01"), ("510100", "cxyl-02"), ("510300", "zlcx-01")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject=f"{unit}:{item}", outcome="approved", decided_by="cli:test")
    for unit, item in (("510100", "cxyl-01"), ("510300", "zlcx-01")):  # each reports on one item
        with clock.frozen(dt.datetime.fromisoformat("2023-07-10T09:00:00+08:00")):
            assert ingest(session=session, programme=p, timetable=t, round_id=rid, source="test", record={
                "kind": "progress_report", "unit": unit, "item": item, "period": "2023-07",
                "submitted_at": "2023-07-10T09:00:00+08:00"}).status == "accepted"
    names = t.by_name()
    owed = "“争创国家级质量标准实验室”中期检查（进展报告，2023年7月）"
    for name in ("midterm:reminder:2023-07:T-3", "midterm:overdue:2023-07", "midterm:escalation:2023-07"):
        drafts = carry_out(session, p, rid, names[name], as_of=names[name].at).drafts
        assert [d.unit for d in drafts] == ["510100"], name
        assert owed in _rendered(drafts[0]), (name, _rendered(drafts[0]))
    assert carry_out(session, p, rid, names["midterm:deadline:2023-07"]).counts == {"overdue": 1}


def test_who_owes_a_report_item_by_item_is_found_from_one_read_of_the_hand_ins(session, round_, monkeypatch):
    """A report owed item by item: 510100 reported on one of its two items and still owes the
    other, 510300 on its only item, 510400 on nothing. The subjects handed in say both who handed
    in and what is still owed; their units read apart were a second scan of the same hand-ins
    (a fifth of a national status report)."""
    p, t, rid = round_
    for unit, item in (("510100", "cxyl-01"), ("510100", "cxyl-02"), ("510300", "zlcx-01"), ("510400", "zlcx-02")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application",
                          subject=f"{unit}:{item}", outcome="approved", decided_by="cli:test")
    for unit, item in (("510100", "cxyl-01"), ("510300", "zlcx-01")):
        with clock.frozen(dt.datetime.fromisoformat("2023-07-10T09:00:00+08:00")):
            ingest(session=session, programme=p, timetable=t, round_id=rid, source="test", record={
                "kind": "progress_report", "unit": unit, "item": item, "period": "2023-07",
                "submitted_at": "2023-07-10T09:00:00+08:00"})
    from qcycle.lifecycle.who import owed_items

    deadline = t.by_name()["midterm:deadline:2023-07"]
    reads = []
    real = crud.handed_in_units, crud.handed_in_subjects
    monkeypatch.setattr(crud, "handed_in_units", lambda **kw: reads.append("units") or real[0](**kw))
    monkeypatch.setattr(crud, "handed_in_subjects", lambda **kw: reads.append("subjects") or real[1](**kw))
    assert sorted(outstanding(session, p, rid, deadline)) == ["510100", "510400"]
    assert reads == ["subjects"]
    assert owed_items(session, p, rid, deadline) == {"510100": ["cxyl-02"]}


def test_simulated_reviewers_mark_down_what_they_were_never_given() -> None:
    from qcycle.synthetic import scores

    def mean(rows: list[dict]) -> float:
        return sum(r["value"] for r in rows) / len(rows)

    given, missing = scores(7, "410821", ["a", "b"]), scores(7, "410821", ["a", "b"], handed_in=False)
    assert len(given) == len(missing) == 6  # three reviewers, two components, either way
    assert mean(missing) < 0.6 * mean(given)


def test_an_assessment_says_whom_it_scored_0_on_figures_nobody_gave(session):
    """榆阳 with no indicator figures imported: every department scored 0 on 主要发展指标 and was
    graded C, and nothing said so. The run's record names them, for ops to check."""
    from qcycle.intake import ingest_many
    from qcycle.lifecycle.assessing import assess_action

    loaded = load_programme(P1.with_name("yy-quality-plan-2025.yaml"))
    p = loaded.programme
    rid = sync_round(session, loaded).id
    action = expand(p, WorkCalendar()).by_name()["assessment_2024:assess"]
    depts = [u.code for u in p.units if u.level == "department"]
    rows = [{"kind": "score", "unit": u, "reviewer": r, "component": c.code, "value": 80, "stage": "assessment_2024"}
            for u in depts for r in ("R1", "R2", "R3") for c in p.assessment.components if c.source == "reviews"]
    t = expand(p, WorkCalendar())
    assert all(x.status == "accepted" for x in ingest_many(session=session, programme=p, timetable=t, round_id=rid,
                                                           records=rows, source="test"))
    note = assess_action(session, p, rid, action).note
    assert f"{len(depts)} 个没有“主要发展指标完成情况（专栏1）”的数据，该项按 0 分计（" in note, note


def test_an_indicator_not_met_is_told_with_its_figure_its_target_and_a_year_not_reported(session):
    """榆阳's 能耗降低 with the 2022 figure missing read "累计9.67%（目标≥12%）": a year not reported was
    summed as nothing, unsaid, and a district figure read as the department's own."""
    from qcycle.intake import ingest_many
    from qcycle.lifecycle.assessing import assess_action, what_counted

    loaded = load_programme(YY)
    p = loaded.programme
    rid = sync_round(session, loaded).id
    t = expand(p, WorkCalendar())
    depts = [u.code for u in p.units if u.level == "department"]
    rows = [{"kind": "score", "unit": u, "reviewer": r, "component": c.code, "value": 80, "stage": "assessment_2024"}
            for u in depts for r in ("R1", "R2", "R3") for c in p.assessment.components if c.source == "reviews"]
    rows += [{"kind": "score", "unit": "yy-scjg", "reviewer": year, "component": "indicator:energy", "value": 3.2,
              "stage": "assessment_2024"} for year in ("2021", "2023", "2024")]  # 2022 not reported
    assert all(x.status == "accepted" for x in ingest_many(session=session, programme=p, timetable=t, round_id=rid,
                                                           records=rows, source="test"))
    assess_action(session, p, rid, t.by_name()["assessment_2024:assess"])
    _, unmet, unmet_from = what_counted(session, p, rid, "assessment_2024", depts)
    [energy] = [x for x in unmet[depts[0]] if x.startswith("单位地区生产总值能源消耗降低")]
    assert energy == "单位地区生产总值能源消耗降低累计9.3%（4年中只报送了3年的数值，目标≥12%）", energy
    assert all(any(x.startswith("单位地区生产总值能源消耗降低") for x in unmet[d]) for d in depts)
    # All of them the 市场监管局's district figures: said once for the letter, not after each (两次 in one sentence).
    assert unmet_from == dict.fromkeys(depts, "全区数值，由榆阳区市场监督管理局报送"), unmet_from
    assert not any("报送）" in x for d in depts for x in unmet[d]), unmet[depts[0]]
    # A target set for 2025 and held whole in 2024 says its year (the 2024 letters read "目标≥98%" as the year's own);
    # the cumulative one above is held to its 2024 pace, and says none.
    [food] = [x for x in unmet[depts[0]] if x.startswith("食品评价性抽检合格率")]
    assert food == "食品评价性抽检合格率（未报送数值，2025年目标≥98%）", food


def test_a_listed_unit_is_told_which_of_its_items_were_not_listed(session, round_):
    """自贡 applied for two items, one approved and one not: the list's letter said "贵单位已列入该
    名单" and nothing of the other, until the results nine months later."""
    p, t, rid = round_
    for item in ("cxyl-01", "zlcx-05"):
        _apply(session, p, t, rid, "510300", item, "2023-04-12T10:00:00+08:00")
    crud.put_decisions(session=session, round_id=rid, stage="takers_review", decides="application",
                       outcomes={"510300:zlcx-05": "approved", "510300:cxyl-01": "rejected"}, decided_by="cli:test")
    action = t.by_name()["takers_list:publish"]
    outcome = carry_out(session, p, rid, action, as_of=action.at)
    [draft] = [d for d in outcome.drafts if d.unit == "510300"]
    text = _rendered(draft)
    listed = p_item_name(p, "510300:zlcx-05")
    assert (f"贵单位已列入该名单（共1个单位），列入的项目为“{listed}”，申报的“争创推进质量强国建设工作成效突出地方”未列入，"
            "请及时查阅") in text, text
    # No window opens that day: the run's note does not say one was announced with the list.
    assert "开始受理" not in outcome.note and "开始受理" not in text, outcome.note


def test_each_item_left_off_a_list_is_told_with_its_own_reason(session, round_):
    """四川's 审核揭榜书 tells its reasons: a unit with two items refused for different reasons reads each
    beside its item (one bracket after both read as if one reason covered the two), and a listed unit
    hears why its other item is not on the list."""
    p, t, rid = round_
    for unit, item in (("510300", "cxyl-01"), ("510300", "zlcx-05"), ("510700", "cxyl-01"), ("510700", "zlcx-05")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
    for subject, outcome, note in (("510300:zlcx-05", "approved", ""), ("510300:cxyl-01", "rejected", "试点条件不具备"),
                                   ("510700:cxyl-01", "rejected", "试点条件不具备"), ("510700:zlcx-05", "rejected", "材料不全")):
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application", subject=subject,
                          outcome=outcome, decided_by="cli:test", note=note)
    action = t.by_name()["takers_list:publish"]
    drafts = {d.unit: _rendered(d) for d in carry_out(session, p, rid, action, as_of=action.at).drafts}
    first, second = p_item_name(p, "510700:cxyl-01"), p_item_name(p, "510700:zlcx-05")
    assert (f"名单共列入1个单位，贵单位申报的“{first}”未列入（试点条件不具备）、“{second}”未列入（材料不全）。"
            in drafts["510700"]), drafts["510700"]
    assert (f"贵单位已列入该名单（共1个单位），列入的项目为“{second}”，申报的“{first}”未列入（试点条件不具备），"
            in drafts["510300"]), drafts["510300"]


def test_a_list_after_two_steps_tells_what_each_step_left_off_and_why(session, tmp_path):
    """某市's 立项名单 came after 立项评审 and 审定: a unit refused at the 评审 read "贵单位未列入。" (not
    which project, nor why), and one listed for one project heard nothing of the other it had been
    refused at the 评审; only refusals at the 审定 were told."""
    text = compulsory_sichuan().read_text(encoding="utf-8")
    final = ("  - code: final\n    name: 审定揭榜名单\n    kind: decision\n    decides: takers_review\n"
             "    on: 2023-04-23\n    tell_reason: true\n")
    text = text.replace("  - code: takers_list\n", final + "  - code: takers_list\n", 1).replace(
        "notify: {any_of: [{approved_at: takers_review}, {rejected_at: takers_review}]}",
        "notify: {any_of: [{approved_at: final}, {rejected_at: takers_review}, {rejected_at: final}]}", 1)
    path = tmp_path / "sc-two-steps.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_programme(path)
    p, rid = loaded.programme, sync_round(session, loaded).id
    t = expand(p, WorkCalendar())
    for unit, item in (("510300", "cxyl-01"), ("510300", "zlcx-05"), ("510700", "cxyl-01")):
        _apply(session, p, t, rid, unit, item, "2023-04-12T10:00:00+08:00")
    for subject, outcome, note in (("510300:zlcx-05", "approved", ""), ("510300:cxyl-01", "rejected", "试点条件不具备"),
                                   ("510700:cxyl-01", "rejected", "材料不全")):
        crud.put_decision(session=session, round_id=rid, stage="takers_review", decides="application", subject=subject,
                          outcome=outcome, decided_by="cli:test", note=note)
    crud.put_decision(session=session, round_id=rid, stage="final", decides="takers_review", subject="510300:zlcx-05",
                      outcome="approved", decided_by="cli:test")
    action = t.by_name()["takers_list:publish"]
    drafts = {d.unit: _rendered(d) for d in carry_out(session, p, rid, action, as_of=action.at).drafts}
    first, second = p_item_name(p, "510700:cxyl-01"), p_item_name(p, "510300:zlcx-05")
    assert f"贵单位申报的“{first}”未列入（材料不全）。" in drafts["510700"], drafts["510700"]
    assert (f"贵单位已列入该名单（共1个单位），列入的项目为“{second}”，申报的“{first}”未列入（试点条件不具备），"
            in drafts["510300"]), drafts["510300"]


def test_a_refusal_by_the_programmes_rule_is_not_put_on_the_reviewer_that_never_saw_it(session):
    """福州: an applicant the 5-year rule refuses is left off its county bureau's review list, and
    was then told it had not passed that bureau's 初审. It is told the rule, as the rule says it,
    and a refusal by the bureau still names the bureau."""
    from qcycle.lifecycle.standing import rejections

    loaded = load_programme(P1.with_name("fz-government-quality-award-2024.yaml"))
    p, rid = loaded.programme, sync_round(session, loaded).id
    rule = "不符合申报条件：2023年已获福州市政府质量奖，获奖满5年后（2028年起）方可再次申报"
    crud.put_decision(session=session, round_id=rid, stage="county_review", decides="application", subject="fz-e02",
                      outcome="rejected", decided_by="rule:eligibility", note=rule)
    crud.put_decision(session=session, round_id=rid, stage="county_review", decides="application", subject="fz-e01",
                      outcome="rejected", decided_by="cli:张三", note="材料不全")
    told = rejections(session, p, rid)
    assert told["fz-e02"] == (rule, "county_review")
    assert told["fz-e01"][0].startswith("未通过福州市鼓楼区市场监督管理局初审"), told["fz-e01"]
    # Nor is its letter headed with the bureau's step (某省's 3-year rule read "【结果告知】…：县级初审推荐结果").
    from qcycle.lifecycle.standing import steps_told
    from qcycle.render import render_message
    from qcycle.schema import Who

    letters = steps_told(session, p, rid, Who(rejected_at="county_review"), None)
    assert letters["fz-e02"]["heading"] == "申报资格" and "heading" not in letters["fz-e01"]
    common = {"programme_name": "福州市政府质量奖", "stage_name": "初审结果", "sender_name": "福州市市场监督管理局",
              "today": dt.date(2024, 5, 6)}
    ruled, _ = render_message("step_result.j2", {**common, "unit_name": "甲", **letters["fz-e02"]})
    reviewed, _ = render_message("step_result.j2", {**common, "unit_name": "乙", **letters["fz-e01"]})
    assert (ruled, reviewed) == ("【结果告知】福州市政府质量奖：申报资格", "【结果告知】福州市政府质量奖：初审结果")
