"""Record identity: one key of a stage is one record. The same key with new content is a
revision kept with its history, or a conflict sent to quarantine, as the programme says;
never a second submission. Every record is counted once:
accepted + late + duplicate + revised + conflict + quarantined = records in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from qcycle import crud, db
from qcycle.cli import app
from qcycle.clock import TZ
from qcycle.errors import ConfigError
from qcycle.intake import ingest_many
from qcycle.intake.normalise import normalise_record
from qcycle.intake.report import open_round
from qcycle.loader import load_programme
from qcycle.models import AuditLog, QuarantinedRecord, Submission, SubmissionRevision
from tests.intake.conftest import P1

APPLICATION = "    lateness: reject\n    reminders: standard\n  - code: takers_review\n"


def _programme(tmp_path: Path, identity: str | None) -> Path:
    """P1, its application stage given ``identity`` (None: the default key)."""
    text = P1.read_text("utf-8")
    assert APPLICATION in text
    if identity is not None:
        text = text.replace(APPLICATION, APPLICATION.replace("    reminders:", f"    identity: {identity}\n"
                                                                            "    reminders:"))
    path = tmp_path / "p1.yaml"
    path.write_text(text, "utf-8")
    return path


def _app(unit: str, item: str, at: str, **extra) -> dict:
    return normalise_record({"kind": "application", "unit": unit, "item": item, "submitted_at": at, **extra})


def _ingest(session: Session, programme: Path, records: list) -> list[tuple[str, str]]:
    ctx = open_round(session, programme)
    results = ingest_many(session=session, programme=ctx.loaded.programme, timetable=ctx.timetable,
                          round_id=ctx.round_id, records=records, source="test")
    assert len(results) == len(records)  # every record has exactly one outcome
    return [(r.status, r.reason) for r in results]


def _count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_the_same_unit_and_item_with_new_content_is_a_revision_with_its_history(session, tmp_path):
    p = _programme(tmp_path, None)  # default key: unit + item + period
    first = _app("510100", "zlcx-01", "2023-04-10T10:00:00+08:00", id="A1", payload={"联系人": "王芳"})
    changed = _app("510100", "zlcx-01", "2023-04-18T10:00:00+08:00", id="A1", payload={"联系人": "李强"})
    other_item = _app("510100", "cxyl-02", "2023-04-18T11:00:00+08:00", id="A2")
    outcome = _ingest(session, p, [first, changed, other_item, dict(changed), dict(first)])
    assert [s for s, _ in outcome] == ["accepted", "revised", "accepted", "duplicate", "duplicate"]
    assert "修改后的版本" in outcome[1][1]
    rows = {s.item_code: s for s in session.exec(select(Submission))}
    assert set(rows) == {"zlcx-01", "cxyl-02"}  # never a second submission
    current = rows["zlcx-01"]
    assert current.payload == {"联系人": "李强"} and current.revisions == 1
    assert current.submitted_at.day == 18
    [kept] = session.exec(select(SubmissionRevision)).all()
    assert (kept.submission_id, kept.fate, kept.payload) == (current.id, "superseded", {"联系人": "王芳"})

    # The same in a later batch (a second file or page), and an older version arriving late.
    again = _ingest(session, p, [_app("510100", "zlcx-01", "2023-04-19T09:00:00+08:00", id="A1"),
                                 _app("510100", "zlcx-01", "2023-04-12T09:00:00+08:00", id="A1")])
    assert [s for s, _ in again] == ["revised", "revised"]
    assert "早于现行版本" in again[1][1]
    session.refresh(current)
    assert current.submitted_at.day == 19 and current.revisions == 3
    fates = sorted(r.fate for r in session.exec(select(SubmissionRevision)))
    assert fates == ["older", "superseded", "superseded"]
    assert _count(session, Submission) == 2


def test_a_revision_after_a_refusing_deadline_is_refused_and_the_original_stands(session, tmp_path):
    p = _programme(tmp_path, None)
    on_time = _app("510300", "cxyl-02", "2023-04-19T16:00:00+08:00")
    late = _app("510300", "cxyl-02", "2023-04-21T09:00:00+08:00", payload={"说明": "补充材料"})
    outcome = _ingest(session, p, [on_time, late])
    assert outcome[0][0] == "accepted"
    assert outcome[1] == ("rejected_late", "逾期修改（截止 2023-04-20 17:30），不予受理，原记录有效")
    [row] = session.exec(select(Submission)).all()
    assert row.status == "accepted" and row.payload == {}
    [kept] = session.exec(select(SubmissionRevision)).all()
    assert kept.fate == "refused_late" and kept.payload == {"说明": "补充材料"}


def test_an_on_time_version_received_after_a_refused_late_one_is_put_in_force(session, tmp_path):
    p = _programme(tmp_path, None)
    late = _app("510300", "cxyl-02", "2023-04-21T09:00:00+08:00", payload={"说明": "补充材料"})
    on_time = _app("510300", "cxyl-02", "2023-04-19T16:00:00+08:00")
    outcome = _ingest(session, p, [late, on_time])
    assert outcome[0][0] == "rejected_late"
    assert outcome[1] == ("revised", "按时提交的版本晚于逾期版本收到，按时版本有效")
    [row] = session.exec(select(Submission)).all()
    assert row.status == "accepted" and row.payload == {} and row.submitted_at.day == 19
    [kept] = session.exec(select(SubmissionRevision)).all()
    assert kept.fate == "refused_late" and kept.payload == {"说明": "补充材料"}


def test_a_declared_key_with_on_change_conflict_quarantines_the_new_content(session, tmp_path):
    p = _programme(tmp_path, "{key: [id], on_change: conflict}")
    records = [_app("510100", "zlcx-01", "2023-04-10T10:00:00+08:00", id="JB-001"),
               _app("510300", "zlcx-01", "2023-04-10T10:00:00+08:00", id="JB-002"),
               _app("510100", "zlcx-02", "2023-04-11T10:00:00+08:00", id="JB-001"),  # same 编号, new item
               _app("510100", "zlcx-01", "2023-04-12T10:00:00+08:00")]  # no 编号
    outcome = _ingest(session, p, records)
    assert [s for s, _ in outcome] == ["accepted", "accepted", "conflict", "quarantined"]
    assert outcome[2][1] == "与已受理的记录标识相同而内容不同（编号 JB-001），按方案作为冲突隔离，待核实"
    assert outcome[3][1] == "缺少编号（阶段 application 按 id 识别记录）"
    assert {s.external_id: s.item_code for s in session.exec(select(Submission))} == {
        "JB-001": "zlcx-01", "JB-002": "zlcx-01"}  # the version in force is untouched
    reasons = {q.reason for q in session.exec(select(QuarantinedRecord))}
    assert reasons == {outcome[2][1], outcome[3][1]}  # both kept, with their reasons
    assert _count(session, SubmissionRevision) == 0


def test_a_key_of_payload_fields_and_a_revision_with_another_unit(session, tmp_path):
    p = _programme(tmp_path, "{key: [payload.申报编号]}")
    first = _app("510100", "zlcx-01", "2023-04-10T10:00:00+08:00", payload={"申报编号": "X-9"})
    moved = _app("510300", "zlcx-01", "2023-04-11T10:00:00+08:00", payload={"申报编号": "X-9"})
    assert [s for s, _ in _ingest(session, p, [first, moved])] == ["accepted", "revised"]
    [row] = session.exec(select(Submission)).all()
    assert row.unit_code == "510300"  # the corrected unit is in force
    [kept] = session.exec(select(SubmissionRevision)).all()
    assert kept.unit_code == "510100"


@pytest.mark.parametrize(("identity", "words"), [
    ("{key: [编号]}", "记录标识字段 '编号' 无效（应为 id、unit、item、period、category 或 payload.<字段名>）"),
    ("{key: [id], on_change: overwrite}", "on_change"),
    ("{key: []}", "identity.key"),
])  # fmt: skip
def test_a_wrong_identity_names_the_file_and_the_field(tmp_path, identity, words):
    with pytest.raises(ConfigError) as info:
        load_programme(_programme(tmp_path, identity))
    message = str(info.value)
    assert "p1.yaml" in message and "identity" in message and words in message


def test_identity_is_refused_on_a_stage_that_takes_no_submissions(tmp_path):
    text = _programme(tmp_path, None).read_text("utf-8").replace(
        "    decides: application\n", "    decides: application\n    identity: {key: [id]}\n", 1)
    (tmp_path / "p1.yaml").write_text(text, "utf-8")
    with pytest.raises(ConfigError, match="identity 只用于 submission/followup 阶段"):
        load_programme(tmp_path / "p1.yaml")


def test_qcycle_revisions_lists_the_version_in_force_and_the_earlier_ones(qcycle_home, tmp_path):
    p = _programme(tmp_path, "{key: [id]}")
    path = tmp_path / "揭榜书.csv"
    path.write_text("材料种类,单位代码,项目代码,提交时间,编号\n"
                    "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1\n"
                    "揭榜书,510300,zlcx-01,2023-04-10 10:00,A2\n"
                    "揭榜书,510100,zlcx-02,2023-04-18 10:00,A1\n", "utf-8")
    runner = CliRunner()
    imported = runner.invoke(app, ["import", str(path), "--round", str(p)])
    assert "按时受理 2，逾期已受理 0，逾期不予受理 0，重复 0，修改重报 1，冲突隔离 0，隔离 0" in imported.stdout
    listed = runner.invoke(app, ["revisions", "--round", "sc-jbgs-2023", "--id", "A1"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    # Named as ops read them, from the file the round ran on.
    assert lines[0] == ("提交揭榜书（application）：成都市市场监督管理局（510100）、"
                        "质量基础设施“一站式”服务成效明显地方（zlcx-02）、编号 A1（共 2 个版本）"), lines[0]
    assert lines[1].startswith("    现行  提交 2023-04-18 10:00")
    assert lines[2].startswith("    以前  提交 2023-04-10 10:00") and "被修改版本取代" in lines[2]
    assert lines[-1] == "共 1 条记录有修改"
    none = runner.invoke(app, ["revisions", "--round", "sc-jbgs-2023", "--id", "A2"])
    assert none.stdout.strip() == "没有修改重报的记录。"
    # A version handed in before the one in force arriving late is kept, not put in force: the
    # summary says so (an officer read 修改重报 1 as the correction having taken effect).
    older = tmp_path / "补发.csv"
    older.write_text("材料种类,单位代码,项目代码,提交时间,编号\n揭榜书,510100,zlcx-03,2023-04-12 10:00,A1\n", "utf-8")
    late = runner.invoke(app, ["import", str(older), "--round", str(p)])
    assert "修改重报 1（其中 1 份早于现行版本提交，未生效），冲突隔离 0" in late.stdout, late.stdout


def test_the_migration_gives_stored_rows_the_default_key_and_keeps_old_repeats(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.upgrade(url, "0009_import_checkpoint")
    engine = db.get_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO programme_round (id, code, name, issuer_code, config_path, config_sha256, "
                             "first_year, last_year, created_at, updated_at) VALUES "
                             "('r1', 'x', 'x', 'p', 'p', 'c', 2023, 2023, '2023-01-01', '2023-01-01')")
        for n, day in ((1, 10), (2, 12), (3, 11)):  # one unit, one item, three contents
            conn.exec_driver_sql(
                "INSERT INTO submission (id, round_id, kind, stage, unit_code, item_code, fingerprint, payload, "
                f"submitted_at, source, late, status, received_at) VALUES ('s{n}', 'r1', 'application', "
                f"'application', 'u1', 'i1', 'f{n}', '{{}}', '2023-04-{day} 10:00', 't', 0, 'accepted', "
                f"'2023-04-{day} 10:00')")
    engine.dispose()
    db.upgrade(url)
    with db.get_engine(url).connect() as conn:
        rows = dict(conn.exec_driver_sql("SELECT fingerprint, identity FROM submission").all())
    db.get_engine(url).dispose()
    assert rows["f2"] == '["application","u1","i1",null]'  # the latest holds the key
    assert rows["f1"] == '["fingerprint","f1"]' and rows["f3"] == '["fingerprint","f3"]'


def test_crud_add_submission_defaults_to_the_default_key(session):
    rid = crud.get_or_create_round(session=session, code="r", name="r", issuer_code="p", config_path="p",
                                   config_sha256="c" * 64, first_year=2023, last_year=2023)[0].id
    row, created = crud.add_submission(session=session, round_id=rid, kind="application", stage="application",
                                       unit_code="u1", item_code="i1", fingerprint="f1",
                                       submitted_at=dt.datetime(2023, 4, 10, 10, tzinfo=TZ),
                                       source="t")
    again, created_again = crud.add_submission(session=session, round_id=rid, kind="application",
                                               stage="application", unit_code="u1", item_code="i1",
                                               fingerprint="f2", submitted_at=row.submitted_at, source="t")
    assert created and not created_again and again.id == row.id
    assert row.identity == '["application","u1","i1",null]'


def test_ops_settle_a_conflict_by_putting_the_new_content_in_force(qcycle_home, tmp_path):
    p = _programme(tmp_path, "{key: [id], on_change: conflict}")
    path = tmp_path / "揭榜书.csv"
    path.write_text("材料种类,单位代码,项目代码,提交时间,编号\n"
                    "揭榜书,510100,zlcx-01,2023-04-10 10:00,A1\n"
                    "揭榜书,510100,zlcx-02,2023-04-18 10:00,A1\n", "utf-8")
    runner = CliRunner()
    imported = runner.invoke(app, ["import", str(path), "--round", str(p)])
    assert "按时受理 1，逾期已受理 0，逾期不予受理 0，重复 0，修改重报 0，冲突隔离 1，隔离 0" in imported.stdout
    assert "第 3 行：与已受理的记录标识相同而内容不同（编号 A1）" in imported.stdout
    listed = runner.invoke(app, ["quarantine", "--round", "sc-jbgs-2023"])
    qid = listed.stdout.split("[", 1)[1][:8]
    refused = runner.invoke(app, ["quarantine", "--accept", qid, "--round", "sc-jbgs-2023", "--by", "张三"])
    assert refused.exit_code == 2 and "方案文件" in refused.output

    accepted = runner.invoke(app, ["quarantine", "--accept", qid, "--round", str(p), "--by", "张三"])
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout.strip() == "已按修改重报处理：已按修改后的版本受理（张三）"
    history = runner.invoke(app, ["revisions", "--round", "sc-jbgs-2023", "--id", "A1"])
    assert history.stdout.splitlines()[0].endswith("（zlcx-02）、编号 A1（共 2 个版本）")
    assert "隔离区没有待处理的记录" in runner.invoke(app, ["quarantine", "--round", "sc-jbgs-2023"]).stdout
    with db.session_scope(read_only=True) as session:
        [row] = session.exec(select(Submission)).all()
        audit = [a for a in session.exec(select(AuditLog)) if a.action == "quarantine.accept"]
    assert row.item_code == "zlcx-02" and row.revisions == 1
    assert len(audit) == 1 and audit[0].actor == "cli:张三" and audit[0].detail["outcome"] == "revised"
    again = runner.invoke(app, ["quarantine", "--accept", qid, "--round", str(p), "--by", "张三"])
    assert again.stdout.strip() == "已按修改重报处理：同一记录已收到过（张三）"  # settling twice changes nothing


def test_only_a_conflict_can_be_accepted(qcycle_home, tmp_path):
    p = _programme(tmp_path, "{key: [id], on_change: conflict}")
    path = tmp_path / "揭榜书.csv"
    path.write_text("材料种类,单位代码,项目代码,提交时间,编号\n揭榜书,999999,zlcx-01,2023-04-10 10:00,A1\n", "utf-8")
    runner = CliRunner()
    runner.invoke(app, ["import", str(path), "--round", str(p)])
    qid = runner.invoke(app, ["quarantine", "--round", "sc-jbgs-2023"]).stdout.split("[", 1)[1][:8]
    refused = runner.invoke(app, ["quarantine", "--accept", qid, "--round", str(p), "--by", "张三"])
    assert refused.exit_code == 2
    assert "不是本周期的冲突记录" in refused.output
    assert "隔离区没有待处理的记录" not in runner.invoke(app, ["quarantine", "--round", "sc-jbgs-2023"]).stdout


def test_a_resumed_import_still_says_which_revisions_are_older_versions(qcycle_home, tmp_path):
    """The note "其中 N 份早于现行版本提交，未生效" is kept with the import's checkpoint: a killed import
    rerun said 修改重报 1 and nothing of it."""
    from qcycle import db
    from qcycle.intake.files.importing import import_file_in_batches

    db.upgrade()
    p = _programme(tmp_path, "{key: [id]}")
    first = tmp_path / "现行.csv"
    first.write_text("材料种类,单位代码,项目代码,提交时间,编号\n揭榜书,510100,zlcx-02,2023-04-18 10:00,A1\n", "utf-8")
    assert import_file_in_batches(path=first, programme=p).counts["accepted"] == 1
    late = tmp_path / "补发.csv"
    late.write_text("材料种类,单位代码,项目代码,提交时间,编号\n揭榜书,510100,zlcx-01,2023-04-10 10:00,A1\n"
                    "揭榜书,510300,zlcx-01,2023-04-10 10:00,A2\n", "utf-8")

    class Stop(Exception):
        pass

    def stop(done: int, expected: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        import_file_in_batches(path=late, programme=p, batch_size=1, on_batch=stop)
    resumed = import_file_in_batches(path=late, programme=p, batch_size=1)
    assert resumed.resumed_rows == 1 and resumed.counts["revised"] == 1 and resumed.not_in_force == 1
    assert "修改重报 1（其中 1 份早于现行版本提交，未生效）" in resumed.summary()
