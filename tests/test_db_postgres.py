"""Migrations, crud and concurrent writers on a real PostgreSQL 15 (started by conftest)."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, SQLModel, col, func, select

from qcycle import clock, crud, db
from qcycle.crud.base import plain_rows
from qcycle.models import (
    ActionRun,
    AssessmentResult,
    AuditLog,
    DecisionRevision,
    OutboxMessage,
    ProgrammeRound,
    QuarantinedRecord,
    Review,
    Submission,
)

# The newest migration, whatever its name: tests need no edit when one is added.
HEAD = ScriptDirectory.from_config(db.alembic_config()).get_current_head()

pytestmark = pytest.mark.postgres

T0 = clock.at(dt.date(2023, 4, 20), dt.time(9, 30))


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> str:
    """The throwaway database, migrated to head once for this module."""
    db.upgrade(postgres_url)
    return postgres_url


def new_round(url: str) -> uuid.UUID:
    """A committed round with a code of its own, so tests sharing the database stay apart."""
    with db.session_scope(url) as s:
        rnd, _ = crud.get_or_create_round(
            session=s,
            code=f"r-{uuid.uuid4().hex[:12]}",
            name="2023年质量提升揭榜挂帅",
            issuer_code="sjj",
            config_path="config/programmes/jiebang.yaml",
            config_sha256="a" * 64,
            first_year=2023,
            last_year=2024,
        )
    return rnd.id


def submit(session: Session, round_id: uuid.UUID, fingerprint: str, **overrides: Any):
    fields: dict[str, Any] = {
        "kind": "application",
        "unit_code": "hz-xihu",
        "fingerprint": fingerprint,
        "identity": f"test:{fingerprint}",  # one record per content, as these tests are about content
        "payload": {"项目名称": "质量基础设施一站式服务"},
        "submitted_at": T0,
        "source": "http:https://example.invalid/api",
    }
    fields.update(overrides)
    return crud.add_submission(session=session, round_id=round_id, **fields)


def count_where(url: str, model: type[SQLModel], *conditions: Any) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(func.count()).select_from(model).where(*conditions)).one()


# -- migrations ------------------------------------------------------------------------------


def test_upgrade_head_is_repeatable_and_matches_the_models(pg: str) -> None:
    assert db.current_revision(pg) == HEAD
    assert db.upgrade(pg) == HEAD  # second run: nothing to do
    with db.get_engine(pg).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
        timestamp_type = conn.exec_driver_sql(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'submission' AND column_name = 'submitted_at'"
        ).scalar()
    assert timestamp_type == "timestamp with time zone"


@contextlib.contextmanager
def _database_of_its_own(postgres_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database beside the session's, for a migration from an old revision."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq(postgres_url), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        db.dispose_engines()


def test_decisions_stored_before_0015_learn_what_they_decide_on_postgresql(postgres_url: str) -> None:
    from tests.migrations import decides_after_0015

    with _database_of_its_own(postgres_url, "m0015") as url:  # migrated from 0014
        assert decides_after_0015(url) == [("r0", "committee", ""), ("r0", "eligibility", ""),
                                           ("r1", "committee", "scoring"), ("r1", "eligibility", "application")]
        assert db.current_revision(url) == HEAD


def test_a_revised_hand_in_stored_before_0021_survives_the_upgrade_on_postgresql(postgres_url: str) -> None:
    from tests.migrations import revisions_after_0021

    with _database_of_its_own(postgres_url, "m0021") as url:  # migrated from 0020
        assert revisions_after_0021(url) == (1, 1, 1)
        assert db.current_revision(url) == HEAD


def test_plain_letters_stored_before_0022_lose_their_json_null_on_postgresql(postgres_url: str) -> None:
    from tests.migrations import merge_items_after_0022

    with _database_of_its_own(postgres_url, "m0022") as url:  # migrated from 0021
        assert merge_items_after_0022(url) == [("letter", True), ("reminders", False)]


def test_the_decisions_token_changes_with_every_write_on_postgresql(postgres_url: str) -> None:
    from tests.migrations import decision_tokens
    from tests.test_models import check_decision_tokens

    with _database_of_its_own(postgres_url, "tokens") as url:
        check_decision_tokens(decision_tokens(url))
        with db.get_engine(url).begin() as connection:  # no row trigger fires for it
            connection.exec_driver_sql("TRUNCATE decision")
        assert count_where(url, DecisionRevision) == 0  # no token: nothing is kept
        # 0023 goes down and up again.
        command.downgrade(db.alembic_config(url), "0022_outbox_merge_items_null")
        assert db.upgrade(url) == HEAD


def test_nothing_is_kept_of_the_hand_ins_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL has no hand-ins token (qcycle would take its row with each batch stored, and two imports of a
    round would wait for each other): a stage's hand-ins are read at every ask; 0026 goes down and up again."""
    from tests.migrations import hand_in_tokens

    with _database_of_its_own(postgres_url, "handins") as url:
        tokens = hand_in_tokens(url)
        assert tokens == {"writes": [None] * 5, "other_stage": [None] * 3}
        command.downgrade(db.alembic_config(url), "0025_review_note")
        assert db.upgrade(url) == HEAD


def test_rounds_decided_before_0023_are_given_a_token_on_postgresql(postgres_url: str) -> None:
    from tests.migrations import tokens_after_0023

    with _database_of_its_own(postgres_url, "m0023") as url:  # migrated from 0022
        assert tokens_after_0023(url) == (True, False)


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    admin = libpq(postgres_url).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    db.get_engine(url).dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_two_processes_upgrading_at_once_both_succeed(fresh_database: str) -> None:
    revisions, errors = run_together(2, lambda _: db.upgrade(fresh_database))
    assert errors == []
    assert revisions == [HEAD, HEAD]


# -- crud round trip -------------------------------------------------------------------------


def test_crud_round_trip(pg: str) -> None:
    rid = new_round(pg)
    with db.session_scope(pg) as s:
        crud.upsert_units(
            session=s,
            round_id=rid,
            units=[
                {"code": "hz", "name": "杭州市", "level": "city"},
                {"code": "hz-xihu", "name": "西湖区", "level": "county", "parent": "hz"},
            ],
        )
        crud.upsert_list_items(
            session=s, round_id=rid, items=[{"category_code": "A", "code": "A01", "name": "项目"}]
        )
        submit(s, rid, "f1", item_code="A01", late=True)
        crud.quarantine(session=s, round_id=rid, source="import:bad.csv", raw="坏,记录\r\n",
                        reason="缺少单位代码")  # fmt: skip
        crud.put_review(session=s, round_id=rid, unit_code="hz-xihu", reviewer="专家甲",
                        component_code="k1", value=88.5)  # fmt: skip
        crud.put_decision(session=s, round_id=rid, stage="review", decides="application", subject="hz-xihu:A01",
                          outcome="approved", decided_by="cli:alice")  # fmt: skip
        crud.save_results(session=s, round_id=rid, results=[
            {"unit_code": "hz-xihu", "total": 88.5, "grade": "A", "rank": 1,
             "components": {"k1": 88.5}},
        ])  # fmt: skip
        assert crud.record_action(session=s, round_id=rid, action_key="k", action="remind",
                                  due_at=T0)  # fmt: skip
        crud.enqueue_message(session=s, idempotency_key=f"{rid}|remind", round_id=rid,
                             action="remind", unit_code="hz-xihu", channel="sink",
                             logical_date=dt.date(2023, 4, 20), subject="提醒", body="请提交")  # fmt: skip
        crud.audit(session=s, actor="flow:reconcile", action="reconcile", detail={"n": 1})

    with db.session_scope(pg) as s:
        units = crud.upsert_units(session=s, round_id=rid, units=[])
        assert [(u.code, u.parent_code) for u in units] == [("hz", None), ("hz-xihu", "hz")]
        sub = s.exec(select(Submission).where(Submission.round_id == rid)).one()
        assert (sub.item_code, sub.late, sub.status) == ("A01", True, "accepted")
        assert sub.payload == {"项目名称": "质量基础设施一站式服务"}
        (quarantined,) = crud.list_quarantine(session=s, round_id=rid)
        assert quarantined.raw == "坏,记录\r\n"
        result = s.exec(select(AssessmentResult).where(AssessmentResult.round_id == rid)).one()
        assert result.components == {"k1": 88.5}
        assert crud.action_done(session=s, round_id=rid, action_key="k")
        message = s.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == f"{rid}|remind")
        ).one()
        assert message.logical_date == dt.date(2023, 4, 20) and message.status == "queued"
        # Read as the driver's rows (texts) and through SQLAlchemy's (a UUID, a float): the same values.
        assert crud.decisions_at(session=s, round_id=rid, stage="review") == [("hz-xihu:A01", "approved", "")]
        assert crud.outcomes_at(session=s, round_id=rid, stage="review") == {"hz-xihu:A01": "approved"}
        assert plain_rows(s, select(Review.round_id, Review.value).where(Review.round_id == rid)) == [(rid, 88.5)]


def test_a_cancel_waits_for_a_delivery_holding_the_message_and_reads_what_it_left(pg: str) -> None:
    """A pass to the sink holds its claimed rows, unleased, until it commits them as sent: ops' cancel
    (``find_message(lock=True)``) waits and finds the message sent, instead of overwriting "sent"
    with "cancelled" (PostgreSQL re-checks only the id of a row it waited for)."""
    import threading

    from sqlmodel import update

    from qcycle.notify.outbox_ops import cancel_message

    rid = new_round(pg)
    with db.session_scope(pg) as s:
        message, _ = crud.enqueue_message(session=s, idempotency_key=f"{rid}|held", round_id=rid, action="remind",
                                          unit_code="hz", channel="sink", logical_date=dt.date(2023, 4, 20),
                                          subject="提醒", body="请提交")
        message_id = message.id
    claimed, cancelled = threading.Event(), []

    def cancel() -> None:
        claimed.wait(10)
        with db.session_scope(pg) as s:
            row = crud.find_message(session=s, ref=crud.short_id(message_id), lock=True)
            cancelled.append((row.status, cancel_message(session=s, row=row, actor="cli:ops")))

    ops = threading.Thread(target=cancel)
    ops.start()
    with db.session_scope(pg) as s:  # the delivery: claims the row, writes it, records it sent
        s.exec(select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update())
        claimed.set()
        ops.join(0.5)
        assert ops.is_alive()  # the cancel waits for the delivery's commit
        s.exec(update(OutboxMessage).where(OutboxMessage.id == message_id).values(status="sent"))
    ops.join(10)
    assert cancelled == [("sent", False)]
    with db.session_scope(pg) as s:
        assert s.get(OutboxMessage, message_id).status == "sent"


def test_json_columns_are_compact_utf8_and_psycopg_warns_of_nothing(pg: str, caplog: pytest.LogCaptureFixture) -> None:
    """The engine writes JSON columns with qcycle's compact encoder, a plain function: psycopg had
    warned "using a closure in a dumps/loads function may cause a resource leak" in every process."""
    db.dispose_engines()  # a new engine, as a new process makes
    with caplog.at_level("WARNING", logger="psycopg"):
        rid = new_round(pg)
        with db.session_scope(pg) as s:
            submit(s, rid, "json-1")
    assert not [r for r in caplog.records if r.name.startswith("psycopg")], caplog.text
    with db.session_scope(pg) as s:
        stored = s.connection().exec_driver_sql(
            "SELECT payload::text FROM submission WHERE round_id = %(r)s", {"r": rid}).scalar()
    assert stored == '{"项目名称":"质量基础设施一站式服务"}'


def test_timestamps_come_back_in_shanghai_whatever_the_session_zone(pg: str) -> None:
    rid = new_round(pg)
    with db.session_scope(pg) as s:
        submit(s, rid, "tz", submitted_at=T0.astimezone(dt.UTC))
    with db.session_scope(pg) as s:
        s.connection().exec_driver_sql("SET TIME ZONE 'America/New_York'")
        sub = s.exec(select(Submission).where(Submission.round_id == rid)).one()
        rnd = s.get(ProgrammeRound, rid)
        earlier = s.exec(
            select(Submission).where(
                Submission.round_id == rid,
                col(Submission.submitted_at) > T0.astimezone(dt.UTC) - dt.timedelta(minutes=1),
            )
        ).first()
    assert sub.submitted_at == T0
    assert sub.submitted_at.tzinfo == clock.TZ and sub.submitted_at.hour == 9
    assert sub.received_at.tzinfo == clock.TZ
    assert rnd is not None and rnd.created_at.tzinfo == clock.TZ
    assert earlier is not None


def test_a_repeat_does_not_abort_the_writers_transaction(pg: str) -> None:
    # A plain INSERT hitting the unique constraint would poison the whole transaction.
    rid = new_round(pg)
    with db.session_scope(pg) as s:
        submit(s, rid, "dup")
    with db.session_scope(pg) as s:
        crud.audit(session=s, actor="flow:intake", action="pull", detail={"rid": rid})
        _, created = submit(s, rid, "dup")
        _, created_other = submit(s, rid, "other")
    assert (created, created_other) == (False, True)
    assert count_where(pg, Submission, Submission.round_id == rid) == 2
    assert count_where(pg, AuditLog, AuditLog.detail["rid"].as_string() == str(rid)) == 1


# -- concurrent writers ----------------------------------------------------------------------


def run_together(n: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``work(i)`` in n threads released at the same moment; results and errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


def wait_for_lock_wait(url: str, timeout: float = 10.0) -> None:
    """Return once some session of this database is waiting on a row lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never waited for the first")


def test_two_writers_of_one_fingerprint_store_one_row(pg: str) -> None:
    """The second writer arrives while the first has inserted but not committed."""
    rid = new_round(pg)
    created: dict[str, bool] = {}
    errors: list[BaseException] = []
    inserted, release = threading.Event(), threading.Event()

    def writer(name: str, hold: bool) -> None:
        try:
            with db.session_scope(pg) as s:
                _, created[name] = submit(s, rid, "race", payload={"writer": name})
                if hold:
                    inserted.set()
                    release.wait(timeout=10)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    first = threading.Thread(target=writer, args=("first", True))
    second = threading.Thread(target=writer, args=("second", False))
    first.start()
    assert inserted.wait(timeout=10)
    second.start()
    wait_for_lock_wait(pg)  # the second INSERT is blocked on the first's uncommitted row
    release.set()
    first.join(timeout=10)
    second.join(timeout=10)

    assert errors == []
    assert created == {"first": True, "second": False}
    with db.session_scope(pg) as s:
        (row,) = s.exec(select(Submission).where(Submission.round_id == rid)).all()
    assert row.payload == {"writer": "first"}


RACES: list[tuple[str, Callable[[Session, uuid.UUID, int], bool], type[SQLModel]]] = [
    ("submission", lambda s, rid, i: submit(s, rid, "same", payload={"i": i})[1], Submission),
    ("quarantine", lambda s, rid, i: crud.quarantine(
        session=s, round_id=rid, source="x", raw=f"same {rid}", reason="坏")[1],
        QuarantinedRecord),
    ("action", lambda s, rid, i: crud.record_action(
        session=s, round_id=rid, action_key="same", action="remind", due_at=T0), ActionRun),
    ("outbox", lambda s, rid, i: crud.enqueue_message(
        session=s, idempotency_key=f"same {rid}", round_id=rid, action="remind",
        unit_code="hz", channel="sink", logical_date=dt.date(2023, 4, 20), subject="s",
        body="b")[1], OutboxMessage),
]  # fmt: skip


@pytest.mark.parametrize(("what", "write", "model"), RACES, ids=[r[0] for r in RACES])
def test_many_writers_of_one_key_yield_one_row(
    pg: str, what: str, write: Callable[[Session, uuid.UUID, int], bool], model: Any
) -> None:
    rid = new_round(pg)

    def work(i: int) -> bool:
        with db.session_scope(pg) as s:
            return write(s, rid, i)

    created, errors = run_together(6, work)
    assert errors == []
    assert sorted(created) == [False] * 5 + [True]
    assert count_where(pg, model, model.round_id == rid) == 1


def test_many_writers_of_one_round_code_yield_one_round(pg: str) -> None:
    code = f"r-{uuid.uuid4().hex[:12]}"

    def work(i: int) -> tuple[uuid.UUID, bool]:
        with db.session_scope(pg) as s:
            rnd, created = crud.get_or_create_round(
                session=s, code=code, name=f"n{i}", issuer_code="sjj", config_path="p",
                config_sha256="a" * 64, first_year=2023, last_year=2023,
            )  # fmt: skip
            return rnd.id, created

    results, errors = run_together(6, work)
    assert errors == []
    assert len({rid for rid, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]


def test_two_writers_of_overlapping_decisions_neither_deadlock_nor_see_a_token_before_it_stands(pg: str) -> None:
    """The first writer holds s3 and goes on to s2; the second writes s2 and s3 meanwhile. With
    the round's token taken by the first row's trigger, the second held s2 and waited for the
    token the first held, and the first waited for s2: a deadlock. Taken first, the second waits
    for it before any decision. A writer's own token is not one to keep values under until its
    transaction commits (it changes once per transaction here)."""
    rid = new_round(pg)
    errors: list[BaseException] = []
    holding = threading.Event()
    seen: dict[str, str | None] = {}

    def decide(s: Session, subjects: list[str], outcome: str) -> None:
        crud.put_decisions(session=s, round_id=rid, stage="review", decides="application",
                           outcomes=dict.fromkeys(subjects, outcome), decided_by="cli:test")

    def first() -> None:
        try:
            with db.session_scope(pg) as s:
                decide(s, ["s3"], "approved")
                seen["own"] = crud.decisions_token(session=s, round_id=rid)
                holding.set()
                wait_for_lock_wait(pg)  # the second is waiting
                decide(s, ["s2"], "approved")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def second() -> None:
        try:
            holding.wait(timeout=10)
            with db.session_scope(pg) as s:
                decide(s, ["s2", "s3"], "rejected")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert seen["own"] is None
    with db.session_scope(pg) as s:
        assert crud.outcomes_at(session=s, round_id=rid, stage="review") == {"s2": "rejected", "s3": "rejected"}
        assert crud.decisions_token(session=s, round_id=rid) is not None


def test_a_decision_written_after_a_savepoint_rolled_back_still_changes_the_token(pg: str) -> None:
    """The token changes once per round and transaction, noted in a setting of the transaction's
    own: a savepoint rolled back takes the change and the note with it, so the next decision
    changes the token again. Kept, the note would let the decisions change under the old token."""
    rid = new_round(pg)
    with db.session_scope(pg) as s:
        crud.put_decision(session=s, round_id=rid, stage="review", decides="application", subject="s1",
                          outcome="approved", decided_by="cli:test")
    with db.session_scope(pg) as s:
        before = crud.decisions_token(session=s, round_id=rid)
    with db.session_scope(pg) as s:
        nested = s.begin_nested()
        crud.put_decision(session=s, round_id=rid, stage="review", decides="application", subject="s2",
                          outcome="approved", decided_by="cli:test")
        nested.rollback()
        crud.put_decision(session=s, round_id=rid, stage="review", decides="application", subject="s3",
                          outcome="approved", decided_by="cli:test")
    with db.session_scope(pg) as s:
        after = crud.decisions_token(session=s, round_id=rid)
        assert crud.outcomes_at(session=s, round_id=rid, stage="review") == {"s1": "approved", "s3": "approved"}
    assert None not in (before, after) and after != before


def test_concurrent_result_saves_leave_one_complete_set(pg: str) -> None:
    rid = new_round(pg)
    sets = [
        [{"unit_code": u, "total": float(i), "grade": "A", "rank": r}
         for r, u in enumerate(["hz", "nb", "wz"], start=1)]
        for i in range(4)
    ]  # fmt: skip

    def work(i: int) -> int:
        with db.session_scope(pg) as s:
            return len(crud.save_results(session=s, round_id=rid, results=sets[i]))

    counts, errors = run_together(4, work)
    assert errors == []
    assert counts == [3, 3, 3, 3]
    with db.session_scope(pg) as s:
        rows = s.exec(select(AssessmentResult).where(AssessmentResult.round_id == rid)).all()
    assert sorted(r.unit_code for r in rows) == ["hz", "nb", "wz"]
