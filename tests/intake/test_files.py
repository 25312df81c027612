"""Importing files as offices export them: CSV (UTF-8, BOM, GB18030), XLSX, JSON and JSON Lines."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest
from sqlmodel import func, select

from qcycle import db
from qcycle.clock import TZ
from qcycle.errors import IntakeError
from qcycle.intake import import_file, read_file
from qcycle.intake.files import decode_text
from qcycle.intake.normalise import map_headers, normalise_record
from qcycle.models import ProgrammeRound, QuarantinedRecord, Review, Submission
from tests.intake.conftest import P1

HEADER = "材料种类,单位代码,项目代码,期次,提交时间,编号,备注"
ROWS = [
    "揭榜书,510100,zlcx-01,,2023/4/18 10:00,A1,首次申报",
    "申报,510300,cxyl-02,,2023-04-20 17:30,A2,",  # the last on-time minute
    "揭榜书,510400,zlcx-03,,2023-04-21 09:00,A3,逾期",
    "进展报告,510100,zlcx-01,2023-07,2023-07-15 09:00,P1,",
]
BROKEN = "揭榜书,510500,zlcx-02,2023-04-12 10:00"  # four cells under seven headers


def _csv(path, encoding: str, rows=ROWS, header=HEADER, broken=True):
    lines = [header, *rows[:2], *([BROKEN] if broken else []), *rows[2:]]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_headers_and_kinds_map_from_chinese_and_unknown_columns_go_to_payload():
    assert map_headers(["*材料种类", "单位", "单位代码（必填）", "提交时间", "联系人"]) == [
        "kind", "单位", "unit", "submitted_at", "联系人"]  # fmt: skip
    record = normalise_record(
        {"种类": "整改报告", "单位": "成都市市场监督管理局", "期次": "2023年7月", "分数": "",
         "提交时间": dt.datetime(2023, 7, 1, 9, 30), "联系人": " 王芳 "},
        unit_names={"成都市市场监督管理局": "510100"},
    )  # fmt: skip
    assert record == {"kind": "rectification_report", "unit": "510100", "period": "2023-07",
                      "submitted_at": "2023-07-01T09:30:00+08:00", "payload": {"联系人": "王芳"}}  # fmt: skip
    kinds = {"揭榜书": "application", "中期检查": "progress_report", "申请评价确认": "evaluation_request",
             "自评报告": "self_evaluation", "异议": "objection", "评分": "score"}  # fmt: skip
    assert {k: normalise_record({"kind": k})["kind"] for k in kinds} == kinds


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])  # the last two without BOM
def test_encoding_is_detected(encoding):
    text, found = decode_text(f"{HEADER}\n{ROWS[0]}\n".encode(encoding))
    assert text.lstrip("\ufeff").startswith("材料种类,单位代码") and found in (
        encoding,
        "utf-8-sig",
    )


def test_csv_utf8_with_bom_is_imported_with_lateness_and_the_broken_row_quarantined(
    session, tmp_path
):
    report = import_file(
        path=_csv(tmp_path / "揭榜书.csv", "utf-8-sig"), programme=P1, session=session
    )
    assert report.counts == {"accepted": 2, "late_accepted": 1, "rejected_late": 1,
                             "duplicate": 0, "revised": 0, "conflict": 0, "quarantined": 1}  # fmt: skip
    [bad] = report.quarantined
    assert bad.where == "第 4 行" and bad.raw == BROKEN and "有 4 列，表头有 7 列" in bad.reason
    kept = session.exec(select(QuarantinedRecord)).one()
    assert kept.raw == BROKEN and kept.reason.startswith("第 4 行：")
    a1 = session.exec(select(Submission).where(Submission.external_id == "A1")).one()
    assert a1.submitted_at == dt.datetime(2023, 4, 18, 10, 0, tzinfo=TZ)
    assert a1.payload == {"备注": "首次申报"} and a1.category_code == "zlcx"
    a3 = session.exec(select(Submission).where(Submission.external_id == "A3")).one()
    assert (a3.status, a3.late) == ("rejected_late", True)


@pytest.mark.parametrize("typo", ['揭榜书,510100,"zlcx-01,,2023/4/18 10:00,A1,首次申报',
                                  '揭榜书,510100,zlcx-01,,2023/4/18 10:00,A1,"首次申报'],
                         ids=["inside", "last column"])
def test_an_open_quote_sets_its_own_line_aside_and_not_the_rows_after_it(session, tmp_path, typo):
    """A stray quote made the csv reader run on to the end of the file: the rows after it were
    one quarantined 'row', or, opened in the last column, text in its 备注 with the counts
    still adding up, never stored. Each line is now read apart, and the count still adds up to
    the rows in the file."""
    rows = [typo, *ROWS[1:2], *ROWS[3:]]
    report = import_file(path=_csv(tmp_path / "quote.csv", "utf-8", rows=rows, broken=False),
                         programme=P1, session=session)
    assert report.counts["accepted"] + report.counts["late_accepted"] == 2 and report.counts["quarantined"] == 1
    assert sum(report.counts.values()) == 3
    [bad] = report.quarantined
    assert bad.where == "第 2 行" and "引号未闭合" in bad.reason and bad.raw == rows[0]
    assert {s.external_id for s in session.exec(select(Submission))} == {"A2", "P1"}


def test_gb18030_csv_reads_the_same_records_so_they_are_stored_once(session, tmp_path):
    import_file(path=_csv(tmp_path / "utf8.csv", "utf-8"), programme=P1, session=session)
    again = import_file(path=_csv(tmp_path / "gbk.csv", "gb18030"), programme=P1, session=session)
    assert again.counts["duplicate"] == 4 and again.counts["quarantined"] == 1
    assert _count(session, Submission) == 4
    # Importing the same file twice keeps its broken row once.
    import_file(path=tmp_path / "gbk.csv", programme=P1, session=session)
    assert _count(session, QuarantinedRecord) == 2


def _xlsx(path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "揭榜书"
    sheet.append(["材料种类", "单位代码", "项目代码", "提交时间", "编号", "备注"])
    sheet.append(["揭榜书", 510100, "zlcx-01", dt.datetime(2023, 4, 18, 10, 0), "A1", "首次申报"])
    sheet.append([None] * 6)  # a blank row between records
    sheet.append(["揭榜书", 510300, "cxyl-02", dt.datetime(2023, 4, 20, 17, 30), "A2", None])
    sheet.append(
        ["揭榜书", 510600, "zlcx-04", dt.datetime(2023, 4, 19, 9, 0), "A4", None, "多出一列"]
    )
    scores = workbook.create_sheet("评分表")
    scores.append(["评审人", "单位代码", "评分部分", "分数"])
    scores.append(["张三", 510100, "effect", 88.5])
    scores.append(["李四", 510100, "innovation", "九十"])
    workbook.save(path)
    return path


def test_xlsx_first_sheet_and_named_sheet(session, tmp_path):
    path = _xlsx(tmp_path / "材料.xlsx")
    report = import_file(path=path, programme=P1, session=session)
    assert (report.counts["accepted"], report.counts["quarantined"]) == (2, 1)
    assert report.quarantined[0].where == "第 5 行" and "表头之外" in report.quarantined[0].reason
    assert "多出一列" in report.quarantined[0].raw
    row = session.exec(select(Submission).where(Submission.external_id == "A2")).one()
    assert row.unit_code == "510300" and row.submitted_at.isoformat() == "2023-04-20T17:30:00+08:00"
    scores = import_file(
        path=path, programme=P1, session=session, sheet="评分表", default_kind="评分"
    )
    assert (scores.counts["accepted"], scores.counts["quarantined"]) == (1, 1)
    assert (
        "不是数字" in scores.quarantined[0].reason
        and "工作表 评分表 第 3 行" == scores.quarantined[0].where
    )
    assert session.exec(select(Review)).one().value == 88.5
    with pytest.raises(IntakeError, match="没有名为 '汇总' 的工作表"):
        import_file(path=path, programme=P1, session=session, sheet="汇总")


def test_the_same_records_from_csv_xlsx_and_json_are_stored_once(session, tmp_path):
    records = [{"kind": "application", "unit": "510100", "item": "zlcx-01",
                "submitted_at": "2023-04-18T10:00:00+08:00", "id": "A1", "payload": {"备注": "首次申报"}}]  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps({"records": records}, ensure_ascii=False), "utf-8")
    first = import_file(path=tmp_path / "a.json", programme=P1, session=session)
    assert first.counts["accepted"] == 1
    xlsx = import_file(path=_xlsx(tmp_path / "b.xlsx"), programme=P1, session=session)
    csv_ = import_file(path=_csv(tmp_path / "c.csv", "gb18030", broken=False), programme=P1,
                       session=session)  # fmt: skip
    # A1 everywhere and A2 in XLSX (a datetime cell, a numeric unit code) and CSV (text).
    assert xlsx.counts["duplicate"] == 1 and csv_.counts["duplicate"] == 2
    assert _count(session, Submission) == 4  # A1, A2, and the CSV's A3 and P1


def test_json_list_and_json_lines_with_chinese_keys_and_broken_lines(session, tmp_path):
    items = [
        {"材料种类": "自评报告", "单位代码": "510100", "提交时间": "2023-11-20 10:00"},
        "不是记录",
        {
            "材料种类": "评分",
            "单位代码": "510100",
            "评审人": "张三",
            "评分部分": "effect",
            "分数": 90,
        },
    ]
    (tmp_path / "list.json").write_text(json.dumps(items, ensure_ascii=False), "utf-8")
    report = import_file(path=tmp_path / "list.json", programme=P1, session=session)
    assert report.counts["quarantined"] == 2  # not an object; P1 takes no self-evaluations
    assert {q.where for q in report.quarantined} == {"第 1 条", "第 2 条"}
    assert report.counts["accepted"] == 1
    lines = [json.dumps({"kind": "申请评价确认", "unit": "510100", "item": "zlcx-01",
                         "submitted_at": "2023-12-01T10:00:00+08:00"}, ensure_ascii=False),
             "", '{"kind": "application", "unit": "510100"', "[1, 2]"]  # fmt: skip
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    report = import_file(path=tmp_path / "feed.jsonl", programme=P1, session=session)
    assert report.counts["accepted"] == 1 and report.counts["quarantined"] == 2
    assert [q.where for q in report.quarantined] == ["第 3 行", "第 4 行"]
    assert report.quarantined[0].reason == "不是有效的 JSON（第 1 行第 41 列：缺少逗号“,”）"  # json's English kept out
    kept = [q.raw for q in session.exec(select(QuarantinedRecord)).all()]
    assert '{"kind": "application", "unit": "510100"' in kept


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "无法读取文件"),
        ("old.xls", b"\xd0\xcf\x11\xe0", ".xls"),
        ("broken.xlsx", b"PK\x03\x04not really", "XLSX"),
        ("cut.json", b'[{"kind": "application", "unit": "5101', "第 1 行第"),
        ("empty.csv", b"\r\n\r\n", "没有表头"),
        ("binary.csv", b"kind,unit\n\xff\xfe\xff\x00\n", "编码无法识别"),  # neither UTF-8 nor GB18030
        ("nounit.csv", "材料种类,项目代码\n揭榜书,zlcx-01\n".encode(), "单位代码（unit）"),
        ("nokind.csv", "单位代码,项目代码\n510100,zlcx-01\n".encode(), "--kind"),
    ],
)
def test_a_file_that_cannot_be_read_fails_as_a_whole_and_stores_nothing(
    session, tmp_path, name, content, message
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(IntakeError, match=message.replace(".", r"\.").replace("(", r"\(")):
        import_file(path=path, programme=P1, session=session)
    assert _count(session, QuarantinedRecord) == 0 and _count(session, ProgrammeRound) == 0


def test_read_file_detects_the_format_without_a_suffix(tmp_path):
    (tmp_path / "export").write_text("kind\tunit\napplication\t510100\n", "utf-8")
    result = read_file(tmp_path / "export")
    assert result.format == "csv" and result.rows[0].fields == {
        "kind": "application",
        "unit": "510100",
    }


def _indexes(url: str) -> set[str]:
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return {row[1] for row in conn.execute("PRAGMA index_list('submission')")}


def test_a_large_import_builds_the_handed_in_index_once_at_its_end(sqlite_url, tmp_path, monkeypatch):
    """A file of at least DEFER_INDEX_ROWS rows is loaded without ``ix_submission_handed_in``
    and the index is there again when it ends; one stopped half-way gets it back from the next
    command that syncs its round, with the same answers as before."""
    from qcycle import crud
    from qcycle.intake.files import importing
    from qcycle.intake.files.importing import import_file_in_batches
    from qcycle.intake.report import open_round

    rows = [f"揭榜书,{unit},zlcx-0{n // 6 + 1},,2023-04-1{n % 9} 10:00,B{n}," for n, unit in
            enumerate(["510100", "510300", "510400", "510500", "510600", "510700"] * 3)]
    path = _csv(tmp_path / "big.csv", "utf-8", rows=rows, broken=False)
    monkeypatch.setattr(importing, "DEFER_INDEX_ROWS", 10)
    seen: list[bool] = []

    def watch(done: int, expected: int) -> None:
        seen.append(crud.HANDED_IN_INDEX in _indexes(sqlite_url))

    report = import_file_in_batches(path=path, programme=P1, url=sqlite_url, batch_size=5, on_batch=watch)
    assert report.counts["accepted"] == 18
    assert seen == [False, False, False, False, True]  # four batches without it; built with the last commit
    assert crud.HANDED_IN_INDEX in _indexes(sqlite_url)

    class Stop(Exception):
        pass

    def stop(done: int, expected: int) -> None:
        raise Stop

    again = tmp_path / "again.csv"
    again.write_text(path.read_text("utf-8").replace(",B", ",C"), "utf-8")
    with pytest.raises(Stop):
        import_file_in_batches(path=again, programme=P1, url=sqlite_url, batch_size=5, on_batch=stop)
    assert crud.HANDED_IN_INDEX not in _indexes(sqlite_url)  # stopped after its first batch
    with db.session_scope(sqlite_url) as session:
        ctx = open_round(session, P1)
        units = crud.handed_in_units(session=session, round_id=ctx.round_id, stage="application", period=None,
                                     category=None, item_category={})
    assert crud.HANDED_IN_INDEX in _indexes(sqlite_url)
    assert sorted(units) == ["510100", "510300", "510400", "510500", "510600", "510700"]
