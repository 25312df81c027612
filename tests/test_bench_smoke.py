"""Smoke test of the benchmark harness: the floor and limit modes at 200 units write the figures.

No timing assertions: the machines are shared and the figures are noisy. Marked ``slow``: the
200-unit year takes ~36 s of CPU (2 minutes of wall time on a loaded 2-core machine) until the
outbox and intake bottlenecks named in bench/README.md are fixed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_floor_and_limit_200_units(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--units", "200", "--modes", "floor,limit",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["units"] == 200
    assert {"results", "ratio_qcycle_floor", "machine"} <= set(report)
    floor = report["results"]["floor"]
    assert "error" not in floor, floor
    for key in ("wall_s", "peak_rss_mib", "prefect_db_growth_mib", "app_db_mib", "messages"):
        assert key in floor, key
    assert floor["messages"] > 0
    assert floor["sink_messages"] == floor["messages"]  # every message sent is in the sink, once
    assert floor["prefect_db_growth_mib"] == 0.0  # no Prefect in the floor mode
    # The limit writes what the floor wrote, rendered again from the same templates: every
    # sent message found with its template and context, and rendered to the same text.
    limit = report["results"]["limit"]
    assert "error" not in limit, limit
    assert limit["messages"] == floor["messages"] and limit["messages_uncaptured"] == 0
    assert limit["messages_not_identical"] == 0
    assert limit["messages_digest"] == floor["messages_digest"] and report["messages_identical"] is True
    assert limit["results_digest"] == floor["results_digest"] != ""
    assert limit["rows_written"] > floor["messages"] and report["ratio_floor_limit"] > 0
    # What the limit writes was captured by a floor year of its own, not by the timed one (capturing slows a year).
    assert floor["captured"] is False and report["capture_run"]["same_as_floor"] is True
    assert report["capture_run"]["messages"] == floor["messages"]


@pytest.mark.slow
def test_bench_intake_small_file_and_pull(tmp_path: Path) -> None:
    """bench/intake.py at 600 rows: file import, HTTP pull, both floors; outcomes as the mix says."""
    out = tmp_path / "intake.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "intake.py"), "--rows", "600", "--json", str(out),
         "--keep", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["rows"] == 600 and report["limit_s"] > 0 and report["schema_floor_s"] > 0
    assert sum(report["mix"].values()) == 600 == sum(report["expected"].values())
    for part in ("file", "http"):
        assert "error" not in report[part], report[part]
        assert report[part]["matches_expected"] is True, report[part]
        assert report[part]["wall_s"] > 0 and report[part]["peak_rss_mib"] > 0
    assert report["file"]["outbox_list_failures"] == 0 and report["file"]["outbox_list_runs"] >= 1


@pytest.mark.parametrize("name", ["质量创新", "创先引领类", "第一批", "现场型", "2024年度第二期", "A组", "三档", "探索试点"])
def test_the_limit_labels_categories_as_qcycle_does(name: str) -> None:
    """The limit mode renders the letters with its own copy of the filters: a copy that drifts makes the
    modes' messages differ for a reason that is not speed."""
    from bench.modes import category_label as written_out
    from qcycle.schema.who import LABELLED_CATEGORY_ENDINGS, category_label

    assert written_out(name) == category_label(name)
    assert all(written_out(f"某{end}") == f"某{end}" for end in LABELLED_CATEGORY_ENDINGS)


def test_the_limit_writes_dates_as_qcycle_does() -> None:
    """The limit's own copy of the date filters: a deadline moved off a day off had read
    "（星期二；原定…）17:30" in the limit and "（星期二）17:30（原定…）" in qcycle's letters."""
    import datetime as dt

    from bench.modes import limit_filters
    from qcycle import clock, render

    mine = limit_filters()
    when, day = clock.at(dt.date(2016, 5, 3), dt.time(17, 30)), dt.date(2016, 5, 3)
    for value in (when, day):
        for note in (None, "原定4月30日，遇休息日顺延"):
            assert mine["cn_deadline"](value, note) == render.cn_deadline(value, note), (value, note)
        for name in ("cn_date", "cn_datetime", "weekday_cn"):
            assert mine[name](value) == getattr(render, name)(value), (name, value)
    assert mine["quoted"]("“一站式”服务") == render.quoted("“一站式”服务")
    for name in ("某市2025年抽查不合格后处理工作", "某市质量工作考核"):
        assert mine["work_arrangement"](name) == render.work_arrangement(name)
    for name, item in (("镇江市2026年“质量月”活动", "活动安排"), ("某市质量工作考核", "自评报告")):
        assert mine["of_round"](name, item) == render.of_round(name, item)


@pytest.mark.slow
def test_bench_breakdown_accounts_for_the_year(tmp_path: Path) -> None:
    """bench/breakdown.py at 150 units: each action kind's seconds add up to the steps', every action
    run is counted once, and the statements are timed."""
    out = tmp_path / "breakdown.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "breakdown.py"), "--units", "150", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    steps, actions = report["steps"], report["actions"]
    assert all(steps[step] > 0 for step in ("carry_out", "queue_drafts", "deliver_due", "world_submit"))
    assert sum(steps.values()) <= report["wall_s"]
    assert sum(a["runs"] for a in actions) == report["steps_calls"]["carry_out"]
    assert abs(sum(a["carry_s"] for a in actions) - steps["carry_out"]) < 0.01 * len(actions) + 0.01
    assert abs(sum(a["queue_s"] for a in actions) - steps["queue_drafts"]) < 0.01 * len(actions) + 0.01
    # The letters drafted by the actions are the messages, but those no action drafts (refusals answered, digests).
    assert 0 < sum(a["drafts"] for a in actions) <= report["messages"]
    assert {"publish:publish_list", "reminder:application", "notify:results"} <= {a["action"] for a in actions}
    assert report["sql_calls"] >= sum(s["calls"] for s in report["sql"]) > 0
    assert any(s["statement"].startswith("MANY INSERT INTO outbox_message") for s in report["sql"])
    assert "year" in proc.stdout and "by action" in proc.stdout


def test_breakdown_groups_statements_by_their_text() -> None:
    from bench.breakdown import statement_kind

    a = statement_kind("SELECT x FROM t\n  WHERE id IN (?, ?, ?)", many=False)
    assert a == statement_kind("SELECT x FROM t WHERE id IN (?)", many=False) == "SELECT x FROM t WHERE id IN (?…)"
    assert statement_kind("INSERT INTO t (a, b) VALUES (?, ?)", many=True) == "MANY INSERT INTO t (a, b) VALUES (?…)"
    assert statement_kind("SELECT (a) FROM t", many=False) == "SELECT (a) FROM t"
