"""The year at a glance: the timetable drawn as a timeline (HTML, PNG, or a few lines of text).

Rows are stages (one per period); a stage with per-category overrides gets one row per
category, grouped in that category's lane. Windows and 公示 are bars from opening to
deadline; publications, decisions, assessment and notifications are points; deadlines are
marked; reminders, overdue notices and escalations are ticks; today is a vertical line.
The HTML is self-contained (inline CSS, no script, no network).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

from qcycle.schema import Programme
from qcycle.timetable import ACTION_LABELS, Action, Timetable

__all__ = ["Row", "render_html", "render_png", "render_text", "rows"]

_STARTS = {"window_open", "followup_open", "notice_open"}
_ENDS = {"deadline", "notice_close"}
_TICKS = {"reminder", "overdue", "escalation"}
_COMMON_LANE = "全部单位"


@dataclass
class Row:
    lane: str  # category name, or 全部单位
    label: str  # stage name (· period)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    points: list[Action] = field(default_factory=list)
    deadlines: list[Action] = field(default_factory=list)
    ticks: list[Action] = field(default_factory=list)

    @property
    def moments(self) -> list[dt.datetime]:
        found = [m for m in (self.start, self.end) if m]
        return found + [a.at for a in self.points + self.deadlines + self.ticks]


def rows(p: Programme, timetable: Timetable) -> list[Row]:
    """Timeline rows in timetable order of first appearance, lanes kept together."""
    by_key: dict[tuple, Row] = {}
    for a in timetable.actions:
        stage = p.stage(a.stage)
        lane = p.category(a.category).name if a.category and stage.per_category else _COMMON_LANE
        label = stage.name + (f"·{a.period}" if a.period else "")
        if a.category and not stage.per_category:
            label += f"（{p.category(a.category).name}）"
        row = by_key.setdefault((lane, a.stage, a.period, a.category), Row(lane, label))
        if a.action in _STARTS:
            row.start = a.at
        elif a.action in _ENDS:
            row.end = a.at
            if a.action == "deadline":
                row.deadlines.append(a)
        elif a.action in _TICKS:
            row.ticks.append(a)
        else:
            row.points.append(a)
    lanes: dict[str, list[Row]] = {}
    for row in by_key.values():
        lanes.setdefault(row.lane, []).append(row)
    return [r for lane in lanes.values() for r in lane]


def _span(all_rows: list[Row], today: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    moments = [m for r in all_rows for m in r.moments]
    first, last = min(moments), max(moments)
    first = first - dt.timedelta(days=7)
    last = last + dt.timedelta(days=7)
    return first, last


def _pct(moment: dt.datetime, first: dt.datetime, last: dt.datetime) -> float:
    return round(100 * (moment - first) / (last - first), 3)


def _months(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    m = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out = []
    while m <= last:
        if m >= first:
            out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:16px;color:#222}
h1{font-size:18px} .lane{margin-top:12px;font-weight:bold;border-bottom:1px solid #999}
.row{display:flex;align-items:center;height:22px;border-bottom:1px solid #eee}
.label{width:260px;flex:none;font-size:12px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.track{position:relative;flex:1;height:100%}
.bar{position:absolute;top:6px;height:10px;background:#7aa6d8;border-radius:3px}
.pt{position:absolute;top:5px;width:10px;height:10px;margin-left:-5px;background:#e08a2c;border-radius:50%}
.dl{position:absolute;top:2px;width:3px;height:18px;margin-left:-1px;background:#c0392b}
.tk{position:absolute;top:15px;width:1px;height:7px;background:#555}
.today{position:absolute;top:0;bottom:0;width:2px;background:#27ae60}
.month{position:absolute;top:0;font-size:11px;color:#666;border-left:1px solid #ccc;padding-left:2px;height:100%}
.axis{height:18px} .legend span{margin-right:14px;font-size:12px}
"""


def render_html(p: Programme, timetable: Timetable, today: dt.datetime | None = None) -> str:
    """A self-contained HTML page with the round's timeline."""
    all_rows = rows(p, timetable)
    if not all_rows:
        return f"<!doctype html><meta charset='utf-8'><title>{html.escape(p.round.name)}</title><p>没有日程</p>"
    first, last = _span(all_rows, today)
    esc = html.escape

    def tip(a: Action) -> str:
        return esc(f"{a.at:%Y-%m-%d %H:%M} {ACTION_LABELS.get(a.action, a.action)}：{a.title}", quote=True)

    today_mark = ""
    if today and first <= today <= last:
        today_mark = f"<div class='today' style='left:{_pct(today, first, last)}%' title='今天 {today:%Y-%m-%d}'></div>"
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{esc(p.round.name)} 日程时间轴</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(p.round.name)}（{esc(p.round.code)}）日程时间轴</h1>",
        ("<div class='legend'><span>▬ 受理/公示期（开始至截止）</span><span style='color:#e08a2c'>● 发布/决定/考核/通知</span>"
         "<span style='color:#c0392b'>┃ 截止</span><span>╷ 提醒/逾期/督办</span>"
         "<span style='color:#27ae60'>┃ 今天</span><span>时区 Asia/Shanghai</span></div>"),
        "<div class='row axis'><div class='label'></div><div class='track'>",
    ]
    parts += [f"<div class='month' style='left:{_pct(m, first, last)}%'>{m:%Y-%m}</div>" for m in _months(first, last)]
    parts.append("</div></div>")
    lane = None
    for row in all_rows:
        if row.lane != lane:
            lane = row.lane
            parts.append(f"<div class='lane'>{esc(lane)}</div>")
        parts.append(f"<div class='row'><div class='label' title='{esc(row.label, quote=True)}'>{esc(row.label)}</div>"
                     "<div class='track'>")
        if row.start and row.end:
            left, right = _pct(row.start, first, last), _pct(row.end, first, last)
            parts.append(f"<div class='bar' style='left:{left}%;width:{max(right - left, 0.2)}%' "
                         f"title='{esc(f'{row.start:%Y-%m-%d} 至 {row.end:%Y-%m-%d %H:%M}', quote=True)}'></div>")
        for a in row.ticks:
            parts.append(f"<div class='tk' style='left:{_pct(a.at, first, last)}%' title='{tip(a)}'></div>")
        for a in row.deadlines:
            parts.append(f"<div class='dl' style='left:{_pct(a.at, first, last)}%' title='{tip(a)}'></div>")
        for a in row.points:
            parts.append(f"<div class='pt' style='left:{_pct(a.at, first, last)}%' title='{tip(a)}'></div>")
        parts.append(today_mark + "</div></div>")
    parts.append(f"<p style='font-size:12px;color:#666'>共 {len(timetable.actions)} 项动作；"
                 "提醒只落在法定工作日（含调休）。</p></body></html>")
    return "\n".join(parts)


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    wanted = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Droid Sans Fallback",
              "AR PL UMing CN", "SimHei", "Microsoft YaHei")
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in wanted if n in names), None)


def render_png(p: Programme, timetable: Timetable, out: Path, today: dt.datetime | None = None) -> Path:
    """The same timeline as a PNG (matplotlib, Agg). Labels fall back to codes without a CJK font."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    all_rows = rows(p, timetable)
    font = _cjk_font()
    height = 1.2 + 0.32 * max(len(all_rows), 1)
    fig, ax = plt.subplots(figsize=(14, height), dpi=100)
    try:
        if font:
            plt.rcParams["font.sans-serif"] = [font]
        labels = []
        for i, row in enumerate(all_rows):
            y = len(all_rows) - 1 - i
            if row.start and row.end:
                ax.barh(y, mdates.date2num(row.end) - mdates.date2num(row.start),
                        left=mdates.date2num(row.start), height=0.45, color="#7aa6d8")
            for a in row.ticks:
                ax.plot([mdates.date2num(a.at)] * 2, [y - 0.35, y - 0.15], color="#555", linewidth=0.8)
            for a in row.deadlines:
                ax.plot([mdates.date2num(a.at)] * 2, [y - 0.4, y + 0.4], color="#c0392b", linewidth=1.6)
            for a in row.points:
                ax.plot([mdates.date2num(a.at)], [y], "o", color="#e08a2c", markersize=5)
            text = f"{row.lane}·{row.label}" if row.lane != _COMMON_LANE else row.label
            labels.append(text if font else (row.label.encode("ascii", "ignore").decode() or f"row {i + 1}"))
        ax.set_yticks(range(len(all_rows)))
        ax.set_yticklabels(list(reversed(labels)), fontsize=8)
        if today:
            ax.axvline(float(mdates.date2num(today)), color="#27ae60", linewidth=1.5)
        ax.xaxis.set_major_locator(mdates.MonthLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
        ax.tick_params(axis="x", labelsize=8, rotation=45)
        ax.grid(axis="x", color="#eee")
        ax.set_title(f"{p.round.name}（{p.round.code}）" if font else p.round.code, fontsize=11)
        fig.tight_layout()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out


def render_text(p: Programme, timetable: Timetable, today: dt.datetime | None = None, width: int = 48) -> str:
    """A compact text timeline (one line per row), for markdown artifacts and terminals."""
    all_rows = rows(p, timetable)
    if not all_rows:
        return "（没有日程）"
    first, last = _span(all_rows, today)

    def col(m: dt.datetime) -> int:
        return min(width - 1, max(0, int((width - 1) * (m - first) / (last - first))))

    lines = [f"{first:%Y-%m-%d}{' ' * max(1, width - 20)}{last:%Y-%m-%d}"]
    for row in all_rows:
        cells = ["·"] * width
        if row.start and row.end:
            for i in range(col(row.start), col(row.end) + 1):
                cells[i] = "━"
        for a in row.ticks:
            cells[col(a.at)] = "╷"
        for a in row.points:
            cells[col(a.at)] = "●"
        for a in row.deadlines:
            cells[col(a.at)] = "┃"
        if today and first <= today <= last:
            cells[col(today)] = "▼" if cells[col(today)] == "·" else cells[col(today)]
        label = row.label if row.lane == _COMMON_LANE else f"{row.lane}·{row.label}"
        lines.append(f"{''.join(cells)} {label}")
    return "\n".join(lines)
