"""A delivery pass whose every send is a local write (the sink): claimed, written and recorded in the
claim's own transaction, without a lease (qcycle.notify.recording.InClaim)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

import pytest
from sqlmodel import select, update

from qcycle import crud, db
from qcycle.clock import at
from qcycle.errors import DeliveryError, StateError
from qcycle.models import OutboxMessage
from qcycle.notify import deliver as deliver_mod
from qcycle.notify import outbox as outbox_mod
from qcycle.notify.channels import SendResult
from qcycle.notify.deliver import writes_locally
from qcycle.notify.outbox import deliver_due, queue_drafts
from qcycle.settings import get_settings
from tests.notify.outbox_helpers import (
    DAY,
    PLAIN_TEMPLATE,
    plain,
    round_id,
    template_dir,
    write_programme,
)

NOON = at(DAY, dt.time(10))

pytestmark = pytest.mark.usefixtures("home_db")  # a fresh migrated database per test


def _programme(tmp_path):
    return write_programme(tmp_path / "prog", channels=[{"name": "sink", "kind": "sink"}],
                           units=[{"code": f"c{i}", "name": f"{i}号市局", "channels": ["sink"]} for i in (1, 2)],
                           templates={"plain.j2": PLAIN_TEMPLATE})


def _queue(loaded, rid, *drafts) -> None:
    with db.session_scope() as session:
        queue_drafts(session=session, programme=loaded.programme, round_id=rid, drafts=drafts,
                     template_dir=template_dir(loaded))


def _rows() -> dict[str, OutboxMessage]:
    with db.session_scope() as session:
        return {r.action: r for r in session.exec(select(OutboxMessage)).all()}


def _lease_taken(monkeypatch) -> list[int]:
    taken: list[int] = []
    lease = crud.lease_messages

    def counting(**kw):
        taken.append(len(kw["ids"]))
        return lease(**kw)

    monkeypatch.setattr(crud, "lease_messages", counting)
    return taken


def test_a_pass_to_the_sink_leases_nothing_and_leaves_each_row_as_a_leased_send_would(tmp_path, monkeypatch):
    loaded = _programme(tmp_path)
    rid = round_id(loaded)
    taken = _lease_taken(monkeypatch)
    _queue(loaded, rid, plain("c1", 1))
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 1
    assert taken == []  # sent within the claim: no lease statement
    # The same kind of send under a lease (as to a bot or a mailbox), for comparison.
    monkeypatch.setattr(outbox_mod, "writes_locally", lambda refs, rates=None: False)
    _queue(loaded, rid, plain("c2", 2))
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON + dt.timedelta(hours=1)).sent == 1
    assert taken == [1]
    rows = _rows()
    unleased, leased = rows["kill:1"], rows["kill:2"]

    def state(r: OutboxMessage, at: dt.datetime) -> tuple:
        return (r.status, r.attempts, r.next_attempt_at == at, r.started_at, r.posted_with, r.last_error,
                r.leased_by.rsplit(":", 1)[0], r.leased_at is not None, r.sent_at is not None)

    assert state(unleased, NOON) == state(leased, NOON + dt.timedelta(hours=1)) == (
        "sent", 1, True, None, None, None, f"{socket.gethostname()}:{os.getpid()}", True, True)


def test_a_local_pass_that_dies_midway_leaves_its_claim_queued_for_the_next_run(tmp_path, monkeypatch):
    loaded = _programme(tmp_path)
    rid = round_id(loaded)
    _queue(loaded, rid, plain("c1", 1), plain("c2", 2))

    def dies(messages, **kw):
        kw["on_result"](messages[0].id, SendResult(ok=True, local=True))  # one written, then the end
        raise RuntimeError("process ended midway")

    monkeypatch.setattr(outbox_mod, "deliver_batch", dies)
    with pytest.raises(RuntimeError):
        deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    # Nothing of the claim stands: no row "sending" under a lease, none recorded as sent.
    assert {(r.status, r.attempts, r.leased_by) for r in _rows().values()} == {("queued", 0, None)}
    monkeypatch.undo()
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 2
    assert {r.status for r in _rows().values()} == {"sent"}


def test_a_sink_that_cannot_be_written_fails_its_messages_in_the_claim_never_as_sent(tmp_path, monkeypatch):
    loaded = _programme(tmp_path)
    rid = round_id(loaded)
    _queue(loaded, rid, plain("c1", 1))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the sink folder should be", encoding="utf-8")
    monkeypatch.setenv("QCYCLE_SINK_DIR", str(blocked))
    get_settings.cache_clear()
    slept: list[float] = []
    sleep = deliver_mod.time.sleep
    monkeypatch.setattr(deliver_mod.time, "sleep", lambda s: (slept.append(s), sleep(s)))
    try:
        report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    finally:
        monkeypatch.delenv("QCYCLE_SINK_DIR")
        get_settings.cache_clear()
    row = _rows()["kill:1"]
    # No backoff within the pass while its claim holds the database's write lock (0.3–0.9 s each had
    # kept another writer out): tried again by a later run.
    assert [s for s in slept if s > 0] == []
    # The letter failed, and so did the ops digest that says so (to the same sink).
    assert report.sent == 0 and report.failed == 2 and report.digests == 1
    # Recorded although never leased (no "sending" to guard on): one attempt, retried later.
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
    assert "cannot write" in row.last_error and row.next_attempt_at > NOON
    assert [f["id"] for f in report.failures if not f["digest"]] == [str(row.id)]


def test_a_row_carried_by_an_earlier_group_post_is_sent_alone_to_the_sink_and_says_so(tmp_path):
    loaded = _programme(tmp_path)
    rid = round_id(loaded)
    _queue(loaded, rid, plain("c1", 1))
    carrier = uuid.uuid4()
    with db.session_scope() as session:  # a failed group post's row, due again
        session.exec(update(OutboxMessage).values(status="failed", attempts=1, posted_with=carrier,
                                                  next_attempt_at=NOON))
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 1
    (row,) = _rows().values()
    assert (row.status, row.attempts, row.posted_with) == ("sent", 2, None)


@pytest.mark.parametrize(("refs", "rates", "local"), [
    (["sink"], None, True),
    (["sink", "sink:/tmp/elsewhere", "env:QC_SINK_URL"], None, True),
    (["env:QC_PACED_SINK_URL"], None, False),  # paced: sent one by one by the dispatcher
    (["sink"], {"sink": outbox_mod.Rate(10, 60.0)}, False),  # a programme's rate_per_minute
    (["sink", "env:QC_BOT_URL"], None, False),
    (["env:QC_UNSET_URL"], None, False),  # cannot be opened: deliver_batch reports it
])
def test_which_passes_write_locally(refs, rates, local, monkeypatch):
    monkeypatch.setenv("QC_SINK_URL", "qsink://local/tmp/elsewhere")
    monkeypatch.setenv("QC_PACED_SINK_URL", "qsink://local?rate=10/60")
    monkeypatch.setenv("QC_BOT_URL", "qwecom://key")
    monkeypatch.delenv("QC_UNSET_URL", raising=False)
    assert writes_locally(refs, rates) is local


def test_a_local_pass_missing_a_result_goes_back_whole_instead_of_claiming_the_row_again(tmp_path, monkeypatch):
    """Unleased, a row left without a result is still due: the pass would claim it again and again."""
    loaded = _programme(tmp_path)
    rid = round_id(loaded)
    _queue(loaded, rid, plain("c1", 1), plain("c2", 2))
    passes: list[int] = []

    def forgets_one(messages, **kw):
        passes.append(len(messages))
        for m in messages[:-1]:
            kw["on_result"](m.id, SendResult(ok=True, local=True))
        return []

    monkeypatch.setattr(outbox_mod, "deliver_batch", forgets_one)
    monkeypatch.setattr(get_settings(), "notify_batch_size", 2)  # a full batch: the pass would go on
    with pytest.raises(DeliveryError, match="投递未返回 1 条消息的结果"):
        deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert passes == [2]
    assert {(r.status, r.attempts) for r in _rows().values()} == {("queued", 0)}


def test_a_claimed_row_in_no_post_sends_nothing_and_goes_back_whole(tmp_path, monkeypatch):
    """Every claimed row is carried by one send: a row the grouping left out would be claimed again by the same
    pass, and again; the pass stops before sending, and its claim goes back."""
    loaded = _programme(tmp_path)
    rid = round_id(loaded)
    _queue(loaded, rid, plain("c1", 1), plain("c2", 2))
    grouped = outbox_mod.group_posts
    monkeypatch.setattr(outbox_mod, "group_posts", lambda p, rows: grouped(p, rows)[:-1])
    with pytest.raises(DeliveryError, match="1 条已领取的消息不在任何一次发送中"):
        deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert {(r.status, r.attempts) for r in _rows().values()} == {("queued", 0)}


def test_sends_recorded_in_the_claim_come_back_as_given_or_the_claim_goes_back(tmp_path):
    """Unleased (claimed and sent in one transaction), every row given is recorded sent and its id comes back; an id
    with no row is a program error, not a row silently left unrecorded."""
    loaded = _programme(tmp_path)
    rid = round_id(loaded)
    _queue(loaded, rid, plain("c1", 1), plain("c2", 2))
    lease = crud.Lease(NOON, NOON, "host:1:pass")
    with db.session_scope() as session:
        ids = [r.id for r in session.exec(select(OutboxMessage)).all()]
        assert crud.mark_messages_sent(connection=session.connection(), ids=ids, at=NOON, unleased=lease) == ids
    assert {(r.status, r.attempts, r.leased_by) for r in _rows().values()} == {("sent", 1, "host:1:pass")}
    with pytest.raises(StateError, match="1 条消息已不在"), db.session_scope() as session:
        crud.mark_messages_sent(connection=session.connection(), ids=[*ids, uuid.uuid4()], at=NOON, unleased=lease)
    assert {(r.status, r.attempts) for r in _rows().values()} == {("sent", 1)}  # the claim went back whole
