"""Tables, crud and migrations on SQLite (the default database)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, col, func, select

from qcycle import clock, crud, db
from qcycle.errors import NotFoundError, UsageError
from qcycle.models import (
    ActionRun,
    AssessmentResult,
    AuditLog,
    Decision,
    ListItem,
    OutboxMessage,
    ProgrammeRound,
    QuarantinedRecord,
    Review,
    Submission,
    Unit,
)

# The newest migration, whatever its name: tests need no edit when one is added.
HEAD = ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def test_the_cheap_head_lookup_agrees_with_alembic() -> None:
    """Read-only commands find the newest migration without importing Alembic."""
    assert db.head_revision() == HEAD == max(p.stem for p in (db.MIGRATIONS_DIR / "versions").glob("0*.py"))

T0 = clock.at(dt.date(2023, 4, 20), dt.time(9, 30))  # 2023年4月20日 09:30 Asia/Shanghai
UTC = dt.UTC


def new_round(session: Session, code: str = "2023-jiebang") -> ProgrammeRound:
    rnd, _ = crud.get_or_create_round(
        session=session,
        code=code,
        name="2023年质量提升揭榜挂帅",
        issuer_code="sjj",
        config_path="config/programmes/jiebang.yaml",
        config_sha256="a" * 64,
        first_year=2023,
        last_year=2024,
    )
    return rnd


def submit(session: Session, round_id: uuid.UUID, fingerprint: str, **overrides: object):
    fields: dict[str, object] = {
        "kind": "application",
        "unit_code": "hz-xihu",
        "item_code": "A01",
        "fingerprint": fingerprint,
        "identity": f"test:{fingerprint}",  # one record per content, as these tests are about content
        "payload": {"项目名称": "质量基础设施一站式服务", "联系人": "张三"},
        "submitted_at": T0,
        "source": "import:inbox/揭榜书.xlsx",
    }
    fields.update(overrides)
    return crud.add_submission(session=session, round_id=round_id, **fields)


def count(session: Session, model: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# -- idempotent writes -------------------------------------------------------------------------


def test_the_same_record_pulled_twice_is_stored_once(session: Session) -> None:
    rnd = new_round(session)
    first, created_first = submit(session, rnd.id, "f" * 64)
    again, created_again = submit(session, rnd.id, "f" * 64, payload={"changed": True})

    assert (created_first, created_again) == (True, False)
    assert again.id == first.id
    assert again.payload == {"项目名称": "质量基础设施一站式服务", "联系人": "张三"}  # first wins
    assert count(session, Submission) == 1


def test_json_columns_are_stored_as_compact_utf8_text(session: Session) -> None:
    """A JSON column holds its Chinese as it is, with no padding: json.dumps had written each
    character as a six-byte \\u escape, most of a merged reminder's outbox row."""
    submit(session, new_round(session).id, "fp-json")
    session.flush()
    stored = session.connection().exec_driver_sql("SELECT payload FROM submission").scalar()
    assert stored == '{"项目名称":"质量基础设施一站式服务","联系人":"张三"}'
    assert session.exec(select(Submission.payload)).one() == {"项目名称": "质量基础设施一站式服务", "联系人": "张三"}


def test_the_same_fingerprint_in_another_round_is_another_submission(session: Session) -> None:
    one, other = new_round(session, "2023-a"), new_round(session, "2023-b")
    _, created_one = submit(session, one.id, "f" * 64)
    _, created_other = submit(session, other.id, "f" * 64)
    assert created_one and created_other
    assert count(session, Submission) == 2


def test_add_submission_refuses_a_kind_that_is_not_a_code(session: Session) -> None:
    # Kinds are open (a programme declares its own), so the table takes any code; whether the
    # round accepts it is the intake's question.
    rnd = new_round(session)
    with pytest.raises(ValueError, match="kind must be a code"):
        submit(session, rnd.id, "f" * 64, kind="揭榜 书; drop")


def test_get_or_create_round_returns_the_existing_round_unchanged(session: Session) -> None:
    rnd, created = crud.get_or_create_round(
        session=session,
        code="2023-zl",
        name="质量工作考核",
        issuer_code="sjj",
        config_path="a.yaml",
        config_sha256="a" * 64,
        first_year=2023,
        last_year=2023,
    )
    again, created_again = crud.get_or_create_round(
        session=session,
        code="2023-zl",
        name="另一个名字",
        issuer_code="sjj",
        config_path="b.yaml",
        config_sha256="b" * 64,
        first_year=2023,
        last_year=2023,
    )
    assert (created, created_again) == (True, False)
    assert again.id == rnd.id and again.config_sha256 == "a" * 64

    updated = crud.update_round(
        session=session, round_id=rnd.id, config_sha256="b" * 64, current_stage="apply"
    )
    assert (updated.config_sha256, updated.current_stage) == ("b" * 64, "apply")
    assert updated.updated_at >= updated.created_at
    with pytest.raises(ValueError, match="no settable field"):
        crud.update_round(session=session, round_id=rnd.id, colour="red")


def test_record_action_is_idempotent_and_a_failure_can_be_retried(session: Session) -> None:
    rnd = new_round(session)
    key = "2023-jiebang/remind/apply/2023-04-20"

    def record(outcome: str) -> bool:
        return crud.record_action(
            session=session,
            round_id=rnd.id,
            action_key=key,
            action="remind",
            due_at=T0,
            outcome=outcome,
        )

    assert crud.action_done(session=session, round_id=rnd.id, action_key=key) is False
    assert record("failed") is True
    assert crud.action_done(session=session, round_id=rnd.id, action_key=key) is False
    assert record("done") is True  # the retry overwrites the failure
    assert crud.action_done(session=session, round_id=rnd.id, action_key=key) is True
    assert record("done") is False
    assert record("failed") is False  # a later failure does not undo a done action
    assert crud.action_done(session=session, round_id=rnd.id, action_key=key) is True
    assert count(session, ActionRun) == 1


def test_enqueue_message_is_idempotent_on_its_key(session: Session) -> None:
    rnd = new_round(session)
    args = {
        "idempotency_key": "2023-jiebang|remind|hz-xihu|wecom|2023-04-20",
        "round_id": rnd.id,
        "action": "remind",
        "unit_code": "hz-xihu",
        "channel": "wecom",
        "logical_date": dt.date(2023, 4, 20),
        "subject": "揭榜书提交提醒",
        "body": "请于2023年4月28日前提交揭榜书。",
    }
    message, created = crud.enqueue_message(session=session, **args)
    again, created_again = crud.enqueue_message(session=session, **args)
    assert (created, created_again) == (True, False)
    assert again.id == message.id
    assert (message.status, message.attempts, message.logical_date) == (
        "queued",
        0,
        dt.date(2023, 4, 20),
    )


def test_complete_gives_the_values_a_table_object_would_have_without_building_one() -> None:
    from qcycle.crud.base import complete, row_values

    values = {"idempotency_key": "k", "action": "remind", "unit_code": "hz-xihu", "channel": "wecom",
              "logical_date": dt.date(2023, 4, 20), "subject": "提醒", "body": "请按期提交。", "attempts": 2}
    made = complete(OutboxMessage, {**values, "not_a_column": 1})
    built = row_values(OutboxMessage(**values))
    assert list(made) != [] and made.keys() == built.keys()  # every column, nothing else
    made_by_factory = ("id", "created_at")  # a new id and stamp each time
    assert {k: v for k, v in made.items() if k not in made_by_factory} == {
        k: v for k, v in built.items() if k not in made_by_factory}
    assert (made["status"], made["attempts"], made["merge_items"]) == ("queued", 2, None)
    assert made["id"] != built["id"] and made["id"].version == 7
    with pytest.raises(ValueError, match="OutboxMessage: missing subject"):
        complete(OutboxMessage, {k: v for k, v in values.items() if k != "subject"})


def test_find_message_takes_a_full_id_its_short_id_or_an_old_random_ids_prefix(sqlite_url: str) -> None:
    with db.session_scope(sqlite_url) as s:
        rid = new_round(s).id
        made = [crud.enqueue_message(
            session=s, idempotency_key=f"k{i}", round_id=rid, action="remind", unit_code="hz-xihu",
            channel="wecom", logical_date=dt.date(2023, 4, 20), subject="提醒", body="请按期提交。")[0].id
            for i in range(3)]
        old = uuid.uuid4()  # a row queued before ids were time-ordered, named by its first digits then
        s.add(OutboxMessage(id=old, idempotency_key="old", round_id=rid, action="remind", unit_code="hz-xihu",
                            channel="wecom", logical_date=dt.date(2023, 4, 19), subject="提醒", body="请按期提交。"))
        for twin in ("0123abcd00004000800000000000000a", "0123abcd00004000800000000000000b"):  # old ids beginning alike
            s.add(OutboxMessage(id=uuid.UUID(twin), idempotency_key=twin, round_id=rid, action="remind",
                                unit_code="hz-xihu", channel="wecom", logical_date=dt.date(2023, 4, 19),
                                subject="提醒", body="请按期提交。"))
    # Time-ordered (one after the other in the primary key): their first digits are the time they
    # were made, so ops name each by its last 8 (crud.short_id), as the outbox list shows them.
    assert made == sorted(made) and {m.version for m in made} == {7}
    with db.session_scope(sqlite_url) as s:  # a fresh session: the row is read, not the identity map's
        for message_id in made:
            assert crud.find_message(session=s, ref=str(message_id)).id == message_id
            assert crud.short_id(message_id) == message_id.hex[-8:]
            assert crud.find_message(session=s, ref=crud.short_id(message_id).upper()).id == message_id
        assert crud.find_message(session=s, ref=str(old)[:9]).id == old
        with pytest.raises(NotFoundError):  # a new id's first digits are its time, shared for a minute: not a name
            crud.find_message(session=s, ref=made[0].hex[:8])
        with pytest.raises(UsageError, match="0123abcd 对应 2 条消息"):
            crud.find_message(session=s, ref="0123abcd")
        with pytest.raises(UsageError, match="至少需要8位"):
            crud.find_message(session=s, ref=crud.short_id(made[0])[1:])


# -- quarantine --------------------------------------------------------------------------------

RAW = '单位,项目,金额\r\n"西湖区, 市场监管局",A01,１２３ \r\n\t末行没有换行'


def test_quarantine_keeps_the_raw_text_exactly(sqlite_url: str) -> None:
    with db.session_scope(sqlite_url) as s:
        record, created = crud.quarantine(
            session=s, source="import:inbox/bad.csv", raw=RAW, reason="金额不是数字"
        )
        _, created_again = crud.quarantine(
            session=s, source="import:inbox/bad.csv", raw=RAW, reason="金额不是数字"
        )
    assert (created, created_again) == (True, False)

    with db.session_scope(sqlite_url) as s:
        (stored,) = crud.list_quarantine(session=s)
        assert stored.raw == RAW
        assert stored.reason == "金额不是数字"
        assert stored.fingerprint == record.fingerprint
        assert stored.received_at.tzinfo == clock.TZ


def test_quarantine_decodes_gbk_bytes_without_losing_them(session: Session) -> None:
    text_in_gbk = "单位,得分\n西湖区,九十"
    record, _ = crud.quarantine(
        session=session, source="http:x", raw=text_in_gbk.encode("gb18030"), reason="得分非数字"
    )
    assert record.raw == text_in_gbk
    broken = b"\xff\xfe\x00abc"
    record, _ = crud.quarantine(session=session, source="http:x", raw=broken, reason="编码错误")
    assert "abc" in record.raw and record.raw != ""


def test_list_quarantine_filters_by_round_and_resolution(session: Session) -> None:
    one, other = new_round(session, "r1"), new_round(session, "r2")
    a, _ = crud.quarantine(session=session, round_id=one.id, source="s", raw="a", reason="原因")
    crud.quarantine(session=session, round_id=other.id, source="s", raw="b", reason="原因")
    crud.quarantine(session=session, source="s", raw="c", reason="无法识别轮次")

    assert len(crud.list_quarantine(session=session)) == 3
    assert [r.raw for r in crud.list_quarantine(session=session, round_id=one.id)] == ["a"]

    crud.resolve_quarantine(session=session, record_id=a.id, resolved_by="cli:alice")
    assert crud.list_quarantine(session=session, round_id=one.id) == []
    (resolved,) = crud.list_quarantine(session=session, round_id=one.id, unresolved_only=False)
    assert resolved.raw == "a" and resolved.resolved_by == "cli:alice"


# -- upserts -------------------------------------------------------------------------------


@dataclasses.dataclass
class SchemaLikeUnit:  # the programme schema names the parent "parent"
    code: str
    name: str
    level: str
    parent: str | None = None


def test_upsert_units_inserts_then_updates_by_code(session: Session) -> None:
    rnd = new_round(session)
    crud.upsert_units(
        session=session,
        round_id=rnd.id,
        units=[
            {"code": "hz", "name": "杭州市", "level": "city"},
            SchemaLikeUnit("hz-xihu", "西湖区", "county", parent="hz"),
        ],
    )
    units = crud.upsert_units(
        session=session,
        round_id=rnd.id,
        units=[{"code": "hz-xihu", "name": "西湖区人民政府", "level": "county", "parent": "hz"}],
    )
    assert [(u.code, u.name, u.parent_code) for u in units] == [
        ("hz", "杭州市", None),
        ("hz-xihu", "西湖区人民政府", "hz"),
    ]
    with pytest.raises(ValueError, match="duplicate"):
        crud.upsert_units(
            session=session,
            round_id=rnd.id,
            units=[{"code": "x", "name": "甲", "level": "city"}] * 2,
        )


def test_upsert_list_items(session: Session) -> None:
    rnd = new_round(session)
    items = crud.upsert_list_items(
        session=session,
        round_id=rnd.id,
        items=[{"category_code": "A", "code": "A01", "name": "质量基础设施"}],
    )
    assert [(i.category_code, i.code) for i in items] == [("A", "A01")]


def test_put_review_and_put_decision_replace_earlier_values(session: Session) -> None:
    rnd = new_round(session)
    args = {"round_id": rnd.id, "unit_code": "hz", "reviewer": "专家甲", "component_code": "k1"}
    crud.put_review(session=session, value=80, **args)
    review = crud.put_review(session=session, value=85.5, **args)
    assert review.value == 85.5 and count(session, Review) == 1

    crud.put_decision(
        session=session, round_id=rnd.id, stage="review", decides="application", subject="hz:A01",
        outcome="returned", decided_by="cli:alice", note="材料不全",
    )  # fmt: skip
    decision = crud.put_decision(
        session=session, round_id=rnd.id, stage="review", decides="application", subject="hz:A01",
        outcome="approved", decided_by="cli:bob",
    )  # fmt: skip
    assert (decision.outcome, decision.decided_by, decision.note) == ("approved", "cli:bob", "")
    assert count(session, Decision) == 1
    with pytest.raises(ValueError, match="outcome must be one of"):
        crud.put_decision(
            session=session, round_id=rnd.id, stage="s", decides="", subject="x", outcome="maybe",
            decided_by="cli:x",
        )  # fmt: skip


def test_save_results_replaces_the_rounds_results(session: Session) -> None:
    rnd = new_round(session)
    first = [
        {"unit_code": "hz", "total": 91.0, "grade": "A", "rank": 1, "components": {"k1": 45}},
        {"unit_code": "nb", "total": 80.0, "grade": "B", "rank": 2},
    ]
    crud.save_results(session=session, round_id=rnd.id, results=first)
    second = [
        {"unit_code": "nb", "total": 93.0, "grade": "A", "rank": 1, "bonus": 2.0},
        {"unit_code": "wz", "total": 70.0, "grade": "D", "rank": 2, "veto": "safety"},
    ]
    results = crud.save_results(session=session, round_id=rnd.id, results=second)
    assert [(r.unit_code, r.total, r.grade, r.rank, r.bonus, r.veto) for r in results] == [
        ("nb", 93.0, "A", 1, 2.0, None),
        ("wz", 70.0, "D", 2, 0.0, "safety"),
    ]
    assert count(session, AssessmentResult) == 2


def test_audit_stores_json_detail(sqlite_url: str) -> None:
    rid = uuid.uuid4()
    with db.session_scope(sqlite_url) as s:
        crud.audit(
            session=s,
            actor="cli:alice",
            action="decision",
            round_code="2023-jiebang",
            detail={"单位": "西湖区", "day": dt.date(2023, 4, 20), "round_id": rid},
        )
    with db.session_scope(sqlite_url) as s:
        entry = s.exec(select(AuditLog)).one()
    assert entry.detail == {"单位": "西湖区", "day": "2023-04-20", "round_id": str(rid)}
    assert entry.at.tzinfo == clock.TZ


# -- constraints -----------------------------------------------------------------------------

UNIQUE_CASES: list[tuple[str, Callable[[uuid.UUID], SQLModel]]] = [
    ("round code", lambda rid: ProgrammeRound(
        code="2023-jiebang", name="n", issuer_code="i", config_path="p",
        config_sha256="c" * 64, first_year=2023, last_year=2023)),
    ("unit per round", lambda rid: Unit(round_id=rid, code="hz", name="杭州", level="city")),
    ("list item per round", lambda rid: ListItem(
        round_id=rid, category_code="A", code="A01", name="项目")),
    ("submission identity per round", lambda rid: Submission(
        round_id=rid, kind="application", unit_code="hz", fingerprint=str(uuid.uuid4()), submitted_at=T0,
        source="simulate", identity='["application","hz",null,null]')),
    ("quarantine fingerprint", lambda rid: QuarantinedRecord(
        source="s", raw="x", reason="r", fingerprint="f")),
    ("review per reviewer and component", lambda rid: Review(
        round_id=rid, unit_code="hz", reviewer="甲", component_code="k1", value=1.0)),
    ("decision per stage and subject", lambda rid: Decision(
        round_id=rid, stage="review", subject="hz", outcome="approved", decided_by="x")),
    ("result per unit", lambda rid: AssessmentResult(
        round_id=rid, unit_code="hz", total=1.0, grade="A", rank=1)),
    ("outbox idempotency key", lambda rid: OutboxMessage(
        idempotency_key="k", action="remind", unit_code="hz", channel="sink",
        logical_date=dt.date(2023, 4, 20), subject="s", body="b")),
    ("action per round", lambda rid: ActionRun(
        round_id=rid, action_key="k", action="remind", due_at=T0)),
]  # fmt: skip


@pytest.mark.parametrize(("what", "factory"), UNIQUE_CASES, ids=[c[0] for c in UNIQUE_CASES])
def test_unique_constraints_are_enforced(
    session: Session, what: str, factory: Callable[[uuid.UUID], SQLModel]
) -> None:
    rid = new_round(session, "other-round").id
    session.add(factory(rid))
    session.flush()
    session.add(factory(rid))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        session.flush()


def test_foreign_keys_are_enforced_on_sqlite(session: Session) -> None:
    session.add(Unit(round_id=uuid.uuid4(), code="hz", name="杭州", level="city"))
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        session.flush()


# -- time ----------------------------------------------------------------------------------


def test_timestamps_come_back_aware_in_shanghai(sqlite_url: str) -> None:
    utc_value = T0.astimezone(UTC)  # 01:30 UTC, the same instant as 09:30 in Shanghai
    with db.session_scope(sqlite_url) as s:
        rnd = new_round(s)
        submit(s, rnd.id, "f", submitted_at=utc_value, received_at=T0 + dt.timedelta(hours=1))

    with db.session_scope(sqlite_url) as s:
        sub = s.exec(select(Submission)).one()
        raw = s.connection().exec_driver_sql("SELECT submitted_at FROM submission").scalar()
        later = s.exec(select(Submission).where(col(Submission.submitted_at) > utc_value)).first()
        earlier = s.exec(
            select(Submission).where(
                col(Submission.submitted_at) > utc_value - dt.timedelta(minutes=1)
            )
        ).first()

    assert sub.submitted_at == T0 and sub.submitted_at.tzinfo == clock.TZ
    assert sub.received_at.tzinfo == clock.TZ and sub.received_at.hour == 10
    assert sub.payload["联系人"] == "张三"
    # SQLite keeps the local wall-clock time, as qcycle.clock.to_local assumes ...
    assert raw.startswith("2023-04-20 09:30:00")
    # ... and comparisons with values in any zone still compare instants.
    assert later is None and earlier is not None


def test_naive_datetimes_are_refused(session: Session) -> None:
    rnd = new_round(session)
    with pytest.raises(StatementError, match="naive datetime"):
        submit(session, rnd.id, "f", submitted_at=dt.datetime(2023, 4, 20, 9, 30))


def test_default_timestamps_follow_the_frozen_clock(session: Session) -> None:
    with clock.frozen(dt.date(2024, 3, 1)):
        entry = crud.audit(session=session, actor="simulate", action="tick")
    assert entry.at == clock.at(dt.date(2024, 3, 1), dt.time(9, 0))


# -- engine, sessions, migrations ------------------------------------------------------------


def test_engine_is_cached_per_url_and_sqlite_is_set_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'folder' / 'q.db'}"
    engine = db.get_engine(url)
    assert db.get_engine(url) is engine
    assert (tmp_path / "nested" / "folder").is_dir()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_session_scope_commits_or_rolls_back(sqlite_url: str) -> None:
    with db.session_scope(sqlite_url) as s:
        new_round(s, "kept")
    with pytest.raises(RuntimeError), db.session_scope(sqlite_url) as s:
        new_round(s, "dropped")
        raise RuntimeError("boom")
    with db.session_scope(sqlite_url) as s:
        assert [r.code for r in s.exec(select(ProgrammeRound))] == ["kept"]


def test_savepoints_work_on_sqlite(session: Session) -> None:
    # pysqlite breaks SAVEPOINT unless the engine takes over BEGIN (db._setup_sqlite).
    rnd = new_round(session)
    with pytest.raises(IntegrityError):  # noqa: SIM117
        with session.begin_nested():
            session.add(Unit(round_id=rnd.id, code="hz", name="杭州", level="city"))
            session.add(Unit(round_id=rnd.id, code="hz", name="杭州", level="city"))
    assert count(session, ProgrammeRound) == 1


def _schema(url: str) -> list[tuple[str, str]]:
    with db.get_engine(url).connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master ORDER BY name")
        return [tuple(r) for r in rows]


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert db.current_revision(url) is None
    assert db.upgrade(url) == HEAD
    schema = _schema(url)
    assert db.upgrade(url) == HEAD
    assert _schema(url) == schema
    with db.get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert set(inspect(db.get_engine(url)).get_table_names()) == {
        *SQLModel.metadata.tables,
        "alembic_version",
    }


def test_migrations_match_the_models(tmp_path: Path) -> None:
    """A model change without a migration fails here: write one with
    ``alembic revision --autogenerate -m "..."`` and review it. Migrated here, through Alembic: not the
    ``sqlite_url`` fixture's copy of a database migrated once per process."""
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    db.upgrade(url)
    with db.get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_concurrent_writers_on_sqlite_wait_instead_of_failing(sqlite_url: str) -> None:
    """Each writer reads before it writes, the pattern that makes deferred SQLite
    transactions fail with "database is locked" whatever the busy timeout."""
    with db.session_scope(sqlite_url) as s:
        rid = new_round(s).id
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(10):
                with db.session_scope(sqlite_url) as s:
                    assert crud.get_round(session=s, code="2023-jiebang") is not None
                    time.sleep(0.001)
                    submit(s, rid, f"{n}-{i}")
                    submit(s, rid, "shared")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with db.session_scope(sqlite_url) as s:
        assert count(s, Submission) == 41


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    db.upgrade(url)
    command.downgrade(db.alembic_config(url), "base")
    assert db.current_revision(url) is None
    assert inspect(db.get_engine(url)).get_table_names() == ["alembic_version"]
    assert db.upgrade(url) == HEAD


def test_save_results_with_a_scope_keeps_other_subjects(session):
    from qcycle import crud

    rnd, _ = crud.get_or_create_round(session=session, code="scope", name="n", issuer_code="p",
                                      config_path="x", config_sha256="0", first_year=2023, last_year=2024)
    first = [{"unit_code": "a:zlcx-01", "total": 90, "grade": "A", "rank": 1},
             {"unit_code": "b:zlcx-02", "total": 70, "grade": "C", "rank": 2}]
    crud.save_results(session=session, round_id=rnd.id, results=first, scope=["a:zlcx-01", "b:zlcx-02"])
    # The other category is assessed a year later; its save must not wipe the first.
    later = crud.save_results(session=session, round_id=rnd.id, scope=["c:cxyl-01"],
                              results=[{"unit_code": "c:cxyl-01", "total": 85, "grade": "B", "rank": 1}])
    assert [r.unit_code for r in later] == ["c:cxyl-01"]
    everything = crud.save_results(session=session, round_id=rnd.id, scope=["a:zlcx-01", "b:zlcx-02"],
                                   results=first[:1])
    assert [r.unit_code for r in everything] == ["a:zlcx-01"]  # b dropped from its own scope only
    from sqlmodel import select

    from qcycle.models import AssessmentResult

    codes = sorted(r.unit_code for r in session.exec(select(AssessmentResult)).all())
    assert codes == ["a:zlcx-01", "c:cxyl-01"]


def test_results_of_two_yearly_assessments_in_one_round_both_stay(session):
    from qcycle import crud

    rnd, _ = crud.get_or_create_round(session=session, code="yearly", name="n", issuer_code="p",
                                      config_path="x", config_sha256="0", first_year=2024, last_year=2025)
    crud.save_results(session=session, round_id=rnd.id, stage="assessment_2024",
                      results=[{"unit_code": "d1", "total": 70, "grade": "C", "rank": 1}])
    crud.save_results(session=session, round_id=rnd.id, stage="assessment_2025",
                      results=[{"unit_code": "d1", "total": 91, "grade": "A", "rank": 1}])
    from sqlmodel import select

    from qcycle.models import AssessmentResult

    rows = {(r.stage, r.grade) for r in session.exec(select(AssessmentResult)).all()}
    assert rows == {("assessment_2024", "C"), ("assessment_2025", "A")}


def test_decisions_stored_before_0015_learn_what_they_decide_from_their_rounds_programme(tmp_path: Path) -> None:
    from tests.migrations import decides_after_0015

    assert decides_after_0015(f"sqlite:///{tmp_path / 'q.db'}") == [
        ("r0", "committee", ""), ("r0", "eligibility", ""),
        ("r1", "committee", "scoring"), ("r1", "eligibility", "application")]


def test_a_revised_hand_in_stored_before_0021_survives_the_upgrade(tmp_path: Path) -> None:
    """SQLite rebuilds ``submission`` to drop its fingerprint key; with a revision pointing at it,
    the rebuild failed (FOREIGN KEY constraint failed) and the home could not upgrade."""
    from tests.migrations import revisions_after_0021

    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert revisions_after_0021(url) == (1, 1, 1)
    assert db.current_revision(url) == HEAD


def test_plain_letters_stored_before_0022_lose_their_json_null(tmp_path: Path) -> None:
    """Core stored None as the JSON text null, so every letter looked like merged reminders to
    ``merge_items IS NOT NULL``; after 0022 only the reminders have items."""
    from tests.migrations import merge_items_after_0022

    assert merge_items_after_0022(f"sqlite:///{tmp_path / 'q.db'}") == [("letter", True), ("reminders", False)]


def test_a_plain_letter_is_queued_with_no_merge_items(session: Session) -> None:
    rnd = new_round(session)
    crud.enqueue_messages(session=session, rows=[{
        "idempotency_key": "k1", "round_id": rnd.id, "action": "publish", "unit_code": "c1", "channel": "sink",
        "logical_date": T0.date(), "subject": "s", "body": "b"}])
    stored = session.connection().exec_driver_sql("SELECT merge_items FROM outbox_message").scalar_one()
    assert stored is None  # SQL NULL, not the JSON text null


def test_the_decisions_token_changes_with_every_write_whoever_writes(tmp_path: Path) -> None:
    from tests.migrations import decision_tokens

    check_decision_tokens(decision_tokens(f"sqlite:///{tmp_path / 'q.db'}"))


def check_decision_tokens(tokens: dict[str, list[str | None]]) -> None:
    """What :func:`tests.migrations.decision_tokens` must find on either database."""
    writes, moved = tokens["writes"], tokens["moved"]
    assert writes[0] is None  # no decision yet
    assert None not in writes[1:] and len(set(writes[1:])) == 4  # each write a new token
    before_r0, before_r1, after_r0, after_r1 = moved
    assert before_r1 is None and after_r1 is not None  # the round a decision moved to
    assert None not in (before_r0, after_r0) and before_r0 != after_r0  # and the round it left


def test_rounds_decided_before_0023_are_given_a_token(tmp_path: Path) -> None:
    from tests.migrations import tokens_after_0023

    assert tokens_after_0023(f"sqlite:///{tmp_path / 'q.db'}") == (True, False)


def test_submission_ids_are_time_ordered_uuids(session: Session) -> None:
    """Ids made one after the other sort one after the other, as SQLite stores them (32 hex
    digits) and as PostgreSQL compares them, even thousands within one millisecond; each is a
    valid RFC 9562 version 7 UUID."""
    from qcycle.models import ordered_uuid

    ids = [ordered_uuid() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert [i.hex for i in ids] == sorted(i.hex for i in ids)
    assert ids == sorted(ids)
    assert {(i.version, i.variant) for i in ids} == {(7, uuid.RFC_4122)}
    rid = new_round(session, "ordered").id
    made = [Submission(round_id=rid, kind="application", unit_code="hz", fingerprint=str(n), submitted_at=T0,
                       source="simulate", identity=str(n)) for n in range(3)]
    assert [s.id for s in made] == sorted(s.id for s in made) and made[0].id.version == 7


def test_a_forked_child_never_reuses_its_parents_random_bits_for_ids() -> None:
    """Random bits are read ahead; a forked child (a worker process) reads its own, or an id it made in
    the same millisecond and counter as its parent would be the parent's."""
    import os

    from qcycle.models import columns, ordered_uuid

    with columns._id_lock:  # bits read ahead, known: whatever ids this process made before
        columns._random_pool[:] = bytes(range(64))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it inherited, then its next id's random tail
        try:
            os.write(write, f"{len(columns._random_pool)} {ordered_uuid().int & ((1 << 62) - 1)}".encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    said = os.read(read, 100)
    os.close(read)
    assert status == 0 and said, said
    inherited, tail = map(int, said.split())
    assert inherited == 0
    assert tail != int.from_bytes(bytes(range(56, 64)), "big") & ((1 << 62) - 1)  # not the bits the parent uses next
    assert ordered_uuid().int & ((1 << 62) - 1) == int.from_bytes(bytes(range(56, 64)), "big") & ((1 << 62) - 1)


def test_a_result_row_holds_every_column_of_a_result() -> None:
    """`ResultRow` is what letters and reports read of a result: a column added to the table and not to it would be
    left out silently."""
    from qcycle.models import AssessmentResult, ResultRow

    assert set(ResultRow._fields) == {c.key for c in AssessmentResult.__table__.columns}  # type: ignore[attr-defined]


def test_the_hand_ins_token_changes_with_every_write_that_changes_what_is_read(tmp_path: Path) -> None:
    """A stage's hand-ins token (SQLite) around writes in plain SQL: an insert (counted), an update of a column the
    hand-ins are read by and a delete (triggers) change it; an update of another column (a refusal answered) does
    not; a submission moved to another stage changes both stages'."""
    from tests.migrations import hand_in_tokens

    tokens = hand_in_tokens(f"sqlite:///{tmp_path / 'q.db'}")
    before, inserted, refused, answered, moved = tokens["writes"]
    assert before == (None, 0) and inserted == (None, 1)  # never revised: the count alone
    assert refused[1] == 1 and refused[0] is not None  # the trigger's token
    assert answered == refused  # what the hand-ins are read by did not change
    assert moved[1] == 0 and moved[0] not in (None, refused[0])  # the stage it left
    (none, to, deleted) = tokens["other_stage"]
    assert none == (None, 0) and to[1] == 1 and to[0] is not None  # the stage it moved to
    assert deleted[1] == 0 and deleted[0] not in (None, to[0])


def test_qcycle_revises_the_hand_ins_token_of_the_stages_it_stores(session: Session) -> None:
    """Each submission stored (one by one, or by the bulk lane) gives its stage a new token; a repeat
    stores nothing and changes nothing."""
    rid = new_round(session, "revised").id

    def token(stage: str) -> object:
        return crud.hand_ins_token(session=session, round_id=rid, stage=stage)

    row = {"round_id": rid, "kind": "application", "stage": "application", "unit_code": "c1", "fingerprint": "f1",
           "submitted_at": T0, "source": "test"}
    crud.add_submissions(session=session, rows=[row])
    first = token("application")
    assert first[0] is not None and first[1] == 1 and token("midterm") == (None, 0)
    crud.add_submissions(session=session, rows=[row])  # a repeat
    assert token("application") == first
    crud.add_submissions(session=session, rows=[{**row, "unit_code": "c2", "fingerprint": "f2"}])
    second = token("application")
    assert second[1] == 2 and second[0] != first[0]


def test_stages_handed_in_before_0026_are_given_a_hand_ins_token(tmp_path: Path) -> None:
    """Not "never revised": that would stand for other rows of the same count after a way down and up again."""
    from tests.migrations import hand_in_token_after_0026

    token = hand_in_token_after_0026(f"sqlite:///{tmp_path / 'q.db'}")
    assert token is not None and token[0] is not None and token[1] == 1
