"""The year at a glance: HTML (self-contained), PNG and text timelines of a timetable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from qcycle.cli import app
from qcycle.clock import at
from qcycle.loader import load_programme
from qcycle.timeline import render_html, render_text, rows
from qcycle.timetable import expand
from qcycle.workcal import WorkCalendar

ROOT = Path(__file__).resolve().parent.parent
SC = ROOT / "config" / "programmes" / "sc-jbgs-2023.yaml"
MINI = ROOT / "tests" / "data" / "mini.yaml"


def _timetable(path: Path):
    p = load_programme(path).programme
    return p, expand(p, WorkCalendar())


def test_rows_have_windows_as_bars_points_deadlines_reminders_and_category_lanes():
    p, t = _timetable(SC)
    all_rows = rows(p, t)
    lanes = [r.lane for r in all_rows]
    assert "全部单位" in lanes and {c.name for c in p.categories} <= set(lanes)
    # a lane's rows are kept together
    assert [lane for i, lane in enumerate(lanes) if i == 0 or lanes[i - 1] != lane] == list(dict.fromkeys(lanes))
    application = next(r for r in all_rows if r.label == "提交揭榜书")
    assert application.start < application.end and application.deadlines and application.ticks
    assert any(r.points and not r.start for r in all_rows)


def test_html_is_self_contained_with_today_marker():
    p, t = _timetable(MINI)
    page = render_html(p, t, at(dt.date(2023, 6, 1), dt.time(12)))
    assert page.startswith("<!doctype html>") and "测试用小周期" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page and "<link" not in page
    assert "class='today'" in page and "class='bar'" in page and "class='dl'" in page and "class='tk'" in page


def test_text_timeline_marks_today():
    p, t = _timetable(MINI)
    text = render_text(p, t, at(dt.date(2023, 6, 1), dt.time(12)))
    assert "▼" in text and "┃" in text and "提交揭榜书" in text


def test_plan_writes_html_and_png(tmp_path):
    html_out, png_out = tmp_path / "t.html", tmp_path / "t.png"
    result = CliRunner().invoke(app, ["plan", str(MINI), "--html", str(html_out), "--png", str(png_out),
                                      "--today", "2023-06-01"])
    assert result.exit_code == 0, result.output
    assert "测试用小周期" in html_out.read_text(encoding="utf-8")
    assert png_out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png_out.stat().st_size > 10_000
