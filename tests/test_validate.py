"""``qcycle validate``: each mistake is reported with file, line, field path and expectation.

Every broken variant is the P1 reference file with one thing changed, so each test shows the
one mistake it is about. Also here: the calendar fallback as ``qcycle plan`` reports it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from qcycle.cli import app
from qcycle.settings import REPO_ROOT, get_settings
from qcycle.workcal import default_calendar

PROGRAMMES = REPO_ROOT / "config" / "programmes"
P1 = PROGRAMMES / "sc-jbgs-2023.yaml"
P2 = PROGRAMMES / "bs-quality-award-4.yaml"
P1_TEXT = P1.read_text(encoding="utf-8")

runner = CliRunner()


def validate(*paths: Path) -> Result:
    return runner.invoke(app, ["validate", *map(str, paths)])


NAMED = r"(?:（[^）]*）)?"  # the items a problem's path passes through, by their codes


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def unwrapped(result: Result) -> str:
    """All output without whitespace: the console folds long lines when it is not a terminal
    (and drops the space it breaks at), so compare texts with whitespace removed."""
    return squeeze(result.output)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the file")


def broken(tmp_path: Path, old: str, new: str, name: str = "broken.yaml") -> tuple[Path, str]:
    """The P1 file with exactly one occurrence of ``old`` replaced by ``new``."""
    assert P1_TEXT.count(old) == 1, f"{old!r} must occur exactly once in P1"
    text = P1_TEXT.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, text


def shipped_variant(tmp_path: Path, stem: str, old: str, new: str) -> Path:
    """A shipped programme file with exactly one occurrence of ``old`` replaced by ``new``."""
    text = (PROGRAMMES / f"{stem}.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {stem}"
    path = tmp_path / f"{stem}.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Case:
    id: str
    old: str  # text of P1 to replace (occurs once)
    new: str
    path: str  # field path the report must name
    at: str  # the report's line is the first line of the broken file containing this
    expect: str  # what the report must say was expected


CASES = [
    Case(
        "unknown-parent-unit",
        'code: "510300", name: 自贡市市场监督管理局, level: city, parent: "510000"',
        'code: "510300", name: 自贡市市场监督管理局, level: city, parent: "519999"',
        "units[2].parent",
        '"519999"',
        "上级单位 '519999' 未定义（应为 units 中的代码）",
    ),
    # A code is said as what it may hold, not as a regex ("应匹配 ^[A-Za-z0-9]…" told an officer nothing).
    Case(
        "code-with-a-colon",
        'code: "510300", name: 自贡市市场监督管理局, level: city, parent: "510000"',
        'code: "510300:zg", name: 自贡市市场监督管理局, level: city, parent: "510000"',
        "units[2].code",
        '"510300:zg"',
        "格式不符，应为代码：字母或数字开头，只含字母、数字和 _ . -（如 annual、q1、2026-03）（实际为 '510300:zg'）",
    ),
    Case(
        "no-components",
        "  components:\n    - {code: effect, name: 工作成效, weight: 0.5}\n    - {code: innovation, name: 创新突破, weight: 0.3}\n"
        "    - {code: replicable, name: 典型经验可复制可推广, weight: 0.2}\n",
        "  components: []\n",
        "assessment",
        "assessment:",
        "components（评分部分）至少 1 项；只按加扣分计分的（100分起，逐项扣分）写 base: 100，不写 components",
    ),
    Case(
        "one-grade",
        "    - {name: 良好, min_score: 80}\n    - {name: 合格, min_score: 60}\n    - {name: 不合格}\n",
        "",
        "assessment.grades",
        "  grades:",
        "项数不足，至少 2 项",
    ),
    Case(
        "unknown-owed-by-unit",
        "    owed_by: {levels: [city]}",
        '    owed_by: {levels: [city], units: ["510100", "519999"]}',
        "stages[1].owed_by.units[1]",
        '"519999"',
        "单位 '519999' 未定义（应为 units 中的代码）",
    ),
    Case(
        "unknown-category-in-per-category",
        "      cxyl:\n        opens: 2024-11-01",
        "      cxy1:\n        opens: 2024-11-01",
        "stages[5].per_category.cxy1",
        "cxy1:",
        "类别 'cxy1' 未定义（应为 categories 中的代码）",
    ),
    Case(
        "unknown-category-in-period",
        "categories: [cxyl]}",
        "categories: [cxyl, tsds]}",
        "stages[4].periods[2].categories[1]",
        "tsds",
        "类别 'tsds' 未定义",
    ),
    Case(
        "duplicate-item-code",
        "{code: cxyl-02, name: 争创国家级质量标准实验室}",
        "{code: cxyl-01, name: 争创国家级质量标准实验室}",
        "categories[0].items[1].code",
        "争创国家级质量标准实验室",
        "项目代码 'cxyl-01' 重复（应唯一）",
    ),
    Case(
        "unknown-stage-in-relative-date",
        "    on: 2023-04-21\n",
        "    after: {stage: aplication, event: deadline, workdays: 1}\n",
        "stages[2].after.stage",
        "aplication",
        "阶段 'aplication' 未定义（应为 stages 中的代码）",
    ),
    Case(
        "unknown-reminder-policy",
        "    lateness: reject\n    reminders: standard",
        "    lateness: reject\n    reminders: standrad",
        "stages[1].reminders",
        "standrad",
        "提醒策略 'standrad' 未定义（应为 reminder_policies 中的名称）",
    ),
    Case(
        "unknown-channel",
        'parent: "510000", email: zlc@510100.amr.example.cn, channels: [email, sc-cities-wecom]',
        'parent: "510000", email: zlc@510100.amr.example.cn, channels: [email, sc-city-wecom]',
        "units[1].channels[1]",
        "sc-city-wecom",
        "渠道 'sc-city-wecom' 未定义（应为 channels 中的 name）",
    ),
    Case(
        "duplicate-unit-code",
        'code: "510300", name: 自贡市',
        'code: "510100", name: 自贡市',
        "units[2].code",
        "自贡市",
        "单位代码 '510100' 重复（应唯一）",
    ),
    # Letters and the plan call a stage by its name: two alike read alike (现场检查 the event and 现场检查 the decision).
    Case(
        "duplicate-stage-name",
        "    name: 审核揭榜书\n",
        "    name: 提交揭榜书  # 与受理阶段同名\n",
        "stages[2].name",
        "与受理阶段同名",
        "阶段名称 '提交揭榜书' 重复（应唯一；函件和日程以名称称呼阶段，如活动“现场核查”与决定“现场检查”）",
    ),
    Case(
        "impossible-date",
        "date: 2023-04-20, time",
        "date: 2023-02-30, time",
        "stages[1].deadline.date",
        "2023-02-30",
        "不是有效日期（应为 YYYY-MM-DD 且真实存在）",
    ),
    Case(
        "deadline-before-window-opens",
        "date: 2023-04-20, time",
        "date: 2023-04-01, time",
        "stages[1].deadline.date",
        "2023-04-01",
        "截止日期 2023-04-01 早于开始日期 2023-04-07（截止应不早于开始）",
    ),
    Case(
        "weights-do-not-add-up",
        "weight: 0.2}",
        "weight: 0.25}",
        "assessment.components",
        "  components:",
        "各部分权重之和应为 1，实际为 1.05",
    ),
    Case(
        "unordered-grade-thresholds",
        "{name: 良好, min_score: 80}",
        "{name: 良好, min_score: 95}",
        "assessment.grades",
        "  grades:",
        "各等次的 min_score 应从高到低递减，实际 90、95、60",
    ),
    Case(
        "decision-before-its-window-closes",
        "    on: 2023-04-21\n",
        "    on: 2023-04-19\n",
        "stages[2]",
        "code: takers_review",
        "“审核揭榜书”定于 2023-04-19，早于它所依据的“提交揭榜书”截止 2023-04-20（decides）：应安排在其后",
    ),
    Case(  # the deadline's own day: "早于…截止 2026-12-23" of two equal dates read as wrong
        "decision-on-its-windows-deadline-day",
        "    on: 2023-04-21\n",
        "    on: 2023-04-20\n",
        "stages[2]",
        "code: takers_review",
        "“审核揭榜书”定于 2023-04-20，与它所依据的“提交揭榜书”截止 2023-04-20 同日（截止时间前仍可提交；decides）：应安排在其后",
    ),
    Case(
        "years-do-not-cover-the-stages",
        "  years: [2023, 2024, 2025]",
        "  years: [2023, 2024]",
        "round.years",
        "  years: [2023, 2024]",
        "阶段 evaluation 的“评价确认（创先引领）”在 2025-01-10，不在 years [2023, 2024] 之内（应把 2025 加入 years）",
    ),
    Case(
        "undeclared-submission-kind",
        "    submission: progress_report",
        "    submission: target_filing",
        "stages[4].submission",
        "target_filing",
        "材料种类 'target_filing' 未定义",
    ),
    # 首席质量官: "县局评分" written as a window of scores owed by the counties; scores are kept under the
    # enterprise scored, so the counties never counted as handing in and were sent a 督办 for scores on file.
    Case(
        "scores-are-not-a-window",
        "    submission: progress_report",
        "    submission: score",
        "stages[4].submission",
        "submission: score",
        "评审打分（score）不是应交材料，不设受理阶段",
    ),
    Case(
        "approved-at-a-stage-that-decides-nothing",
        "    owed_by: {approved_at: takers_review}\n    lateness: accept_flag\n    reminders: standard\n    periods:",
        "    owed_by: {approved_at: publish_list}\n    lateness: accept_flag\n    reminders: standard\n    periods:",
        "stages[4].owed_by.approved_at",
        "approved_at: publish_list",
        "阶段 'publish_list' 不是决定阶段（decision）（可选：takers_review、evaluation）",
    ),
    Case(
        "receiver-without-channel",
        'parent: "510000", email: zlc@510300.amr.example.cn, channels: [email, sc-cities-wecom]}',
        'parent: "510000", email: zlc@510300.amr.example.cn}',
        "units[2].channels",
        '"510300"',
        "单位 510300（自贡市市场监督管理局）将收到通知，但没有配置任何渠道（应至少一个）",
    ),
    Case(
        "email-channel-without-address",
        'level: city, parent: "510000", email: zlc@510400.amr.example.cn,',
        'level: city, parent: "510000",',
        "units[3].email",
        '"510400"',
        "单位 510400 使用邮件渠道但未填写 email 地址",
    ),
    Case(
        "literal-secret-url",
        "url: env:QCYCLE_WECOM_SC_CITIES",
        'url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0a1b2c3d-secret"',
        "channels[1].url",
        "qyapi",
        "渠道地址只能写成 env:环境变量名 或 secret:密钥块名（或 sink），"
        "不得在文件中直接写入含密钥的URL",
    ),
    Case(
        # YAML 1.1 read 17:30 unquoted as 1050 and 1730 as a number: pydantic took either as
        # seconds after midnight (00:17, 00:28), so a deadline moved and the file passed.
        "time-as-a-number",
        'deadline: {date: 2023-04-20, time: "17:30",',
        "deadline: {date: 2023-04-20, time: 1730,",
        "stages[1].deadline.time",
        "time: 1730",
        '应为时刻 HH:MM（如 "17:30"），不是数字（实际为 1730）',
    ),
    Case(
        "unknown-key-typo",
        "    lateness: reject\n    reminders: standard",
        "    lateness: reject\n    remiders: standard",
        "stages[1].remiders",
        "remiders",
        "未知字段 'remiders'（本版本的语言没有这个字段）；此处允许：code、name、kind、on、by、after",
    ),
    Case(
        # A decision has nothing owed to chase: the key passed and nobody was reminded.
        "reminders-on-a-decision",
        "    decides: application\n    on: 2023-04-21",
        "    decides: application\n    reminders: standard\n    on: 2023-04-21",
        "stages[2]",
        "code: takers_review",
        "reminders 只用于 submission/followup 阶段（以及有 reviewed_by 的 decision 阶段：提醒上级单位报送意见），decision 阶段不能使用",
    ),
    Case(
        # 某县's 2026-Q1 written twice: the July period sent no letter at all.
        "period-written-twice",
        '{code: "2023-10", opens: 2023-10-09',
        '{code: "2023-07", opens: 2023-10-09',
        "stages[4].periods[1].code",
        'code: "2023-07", opens: 2023-10-09',
        "期次代码 '2023-07' 重复（应唯一；按类别分设的同一期次须列出互不重叠的 categories）",
    ),
    Case(
        "unknown-level",
        "    owed_by: {levels: [city]}",
        "    owed_by: {levels: [cities]}",
        "stages[1].owed_by.levels[0]",
        "levels: [cities]",
        "没有级别为 'cities' 的单位",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_variant_is_reported_with_file_line_path_and_expectation(
    tmp_path: Path, case: Case
) -> None:
    path, text = broken(tmp_path, case.old, case.new)
    result = validate(path)
    assert result.exit_code == 1, result.output
    out = unwrapped(result)
    line = line_of(text, case.at)
    # The path, then the items it passes through by their codes where they have them ("（阶段 application）").
    where = re.escape(squeeze(f"{path}:{line} [{case.path}]")) + NAMED + re.escape(squeeze(f": {case.expect}"))
    assert re.search(where, out), result.output
    assert "通过：" not in out


def test_literal_secret_is_not_echoed(tmp_path: Path) -> None:
    path, _ = broken(
        tmp_path,
        "url: env:QCYCLE_WECOM_SC_CITIES",
        'url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0a1b2c3d-secret"',
    )
    result = validate(path)
    assert result.exit_code == 1
    assert "0a1b2c3d-secret" not in unwrapped(result)


def test_malformed_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  programme: 揭榜挂帅\n", "  programme: 揭榜挂帅: 四川\n")
    result = validate(path)
    assert result.exit_code == 1
    out = unwrapped(result)
    line = line_of(text, "揭榜挂帅: 四川")
    assert squeeze(f"{path}:{line}: YAML 格式错误：") in out, result.output
    assert "（应为合法的YAML）" in out


@pytest.mark.parametrize(("text", "line", "words"), [
    ("round:\n  code: x\n\tname: y\n", 3, "制表符"),
    ("round:\n  code: \"x\n", 3, "没有闭合"),
    ("a: b: c\n", 1, "值里含冒号时请给整个值加引号"),
    ("a: *x\n", 1, "没有定义的锚点"),
    ("a: 1\n---\nb: 2\n", 2, "只能有一个文档"),
    ("a: [1, 2\nb: 3\n", 2, "右方括号"),
])
def test_a_yaml_syntax_error_is_told_in_chinese_at_its_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    """PyYAML's own words ("while scanning a plain scalar found a tab character...") reached the
    officer; the line and a Chinese reason do now, with no English left."""
    path = tmp_path / "p.yaml"
    path.write_text(text, "utf-8")
    result = validate(path)
    out = unwrapped(result)
    assert result.exit_code == 1 and squeeze(f"{path}:{line}: YAML 格式错误：") in out and squeeze(words) in out, out
    message = out.split("YAML格式错误：", 1)[1]
    assert not re.findall(r"[A-Za-z]{2,}", message.replace("YAML", "").replace("Tab", "")), message


def test_unclosed_flow_mapping_points_at_or_after_the_mistake(tmp_path: Path) -> None:
    path, text = broken(
        tmp_path,
        "- {code: cxyl-02, name: 争创国家级质量标准实验室}",
        "- {code: cxyl-02, name: 争创国家级质量标准实验室",
    )
    result = validate(path)
    assert result.exit_code == 1
    out = unwrapped(result)
    mistake = line_of(text, "争创国家级质量标准实验室")
    reported = [
        n for n in range(mistake, mistake + 3) if squeeze(f"{path}:{n}:YAML格式错误") in out
    ]
    assert reported, out


def test_every_problem_of_a_file_is_listed(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "{name: 良好, min_score: 80}", "{name: 良好, min_score: 95}")
    text = text.replace(
        "    reminders: standard\n    per_category:", "    remindres: standard\n    per_category:"
    )
    path.write_text(text, encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 1
    out = unwrapped(result)
    assert "配置有误（2处）" in out, result.output
    assert "[assessment.grades]" in out and "[stages[5].remindres]" in out, result.output


def test_valid_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "sc-jbgs-2023.yaml"
    path.write_text(P1_TEXT, encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert squeeze(f"通过：{path}") in unwrapped(result)


def test_only_the_bad_file_of_several_is_reported(tmp_path: Path) -> None:
    good = sorted(PROGRAMMES.glob("*.yaml"))
    bad, _ = broken(
        tmp_path, "date: 2023-04-20, time", "date: 2023-02-30, time", "sc-jbgs-bad.yaml"
    )
    result = validate(*good, bad)
    assert result.exit_code == 1
    out = unwrapped(result)
    assert squeeze(f"{bad}:") in out
    assert "配置有误（1处）" in out
    for path in good:
        assert squeeze(str(path)) not in out
    assert "通过：" not in out


def test_duplicate_round_code_across_files(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(P1_TEXT, encoding="utf-8")
    result = validate(P1, copy)
    assert result.exit_code == 1
    assert squeeze(f"{copy} [round.code]: 周期代码 sc-jbgs-2023 与 {P1} 重复") in unwrapped(result)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = validate(missing)
    assert result.exit_code == 1
    assert squeeze(f"{missing}: 无法读取文件") in unwrapped(result)


# --------------------------------------------------------------------------- calendar fallback

OPERATOR_2027 = """\
year: 2027
source: 测试用安排（非官方）
holidays:
  - {from: 2027-06-28, to: 2027-06-29, name: 测试假日}
workdays:
  - 2027-06-26
"""


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config dir of our own for ``plan``; settings and the calendar are re-read around it."""
    folder = tmp_path / "config"
    (folder / "calendar").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "config" / "templates", folder / "templates")
    monkeypatch.setenv("QCYCLE_CONFIG_DIR", str(folder))
    get_settings.cache_clear()
    default_calendar.cache_clear()
    yield folder
    get_settings.cache_clear()
    default_calendar.cache_clear()


@pytest.fixture
def p2_in_2027(tmp_path: Path) -> Path:
    """The P2 award round with every date moved from 2022 into 2027 (all dates in one year)."""
    text = P2.read_text(encoding="utf-8").replace("2022-", "2027-").replace("[2022]", "[2027]")
    assert "2022-" not in text
    path = tmp_path / "bs-quality-award-2027.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def reminders(result: Result) -> dict[str, dt.date]:
    assert result.exit_code == 0, result.output
    return {
        a["key"].partition("@")[0]: dt.datetime.fromisoformat(a["at"]).date()
        for a in json.loads(result.stdout)
        if a["action"] == "reminder"
    }


def test_plan_2027_without_operator_file_warns_and_falls_back(
    config_dir: Path, p2_in_2027: Path
) -> None:
    result = runner.invoke(app, ["plan", str(p2_in_2027), "--json"])
    days = reminders(result)
    warning = squeeze(result.stderr)
    assert "2027年的官方节假日安排未收录" in warning
    assert "备用规则“法定节假日（元旦、春节、清明、劳动节、端午、中秋、国庆，逢周末顺延补休），不含调休”" in warning
    assert squeeze(str(config_dir / "calendar" / "2027.yaml")) in warning
    assert days and all(d.weekday() < 5 for d in days.values())
    assert days["application:reminder:T-1"] == dt.date(2027, 6, 29)  # Tuesday
    # Said once (it was logged, then printed again among the timetable's warnings), and the table's
    # footer no longer claims the official calendar for the year it guessed.
    table = runner.invoke(app, ["plan", str(p2_in_2027)])
    assert table.exit_code == 0 and squeeze(table.stderr).count("2027年的官方节假日安排未收录") == 1, table.stderr
    assert table.stderr.startswith("警告：")
    assert "提醒只落在工作日（2027年的官方安排未收录，按法定节假日与周末计算、不含调休，见上方警告）。" in squeeze(table.stdout)
    assert "法定工作日" not in table.stdout


def test_plan_2027_with_operator_file_uses_it(config_dir: Path, p2_in_2027: Path) -> None:
    (config_dir / "calendar" / "2027.yaml").write_text(OPERATOR_2027, encoding="utf-8")
    result = runner.invoke(app, ["plan", str(p2_in_2027), "--json"])
    days = reminders(result)
    assert result.stderr == ""  # no fallback warning
    # Tuesday 06-29 is now a holiday: the T-1 reminder moves off it, onto make-up Saturday 06-26.
    assert dt.date(2027, 6, 29) not in days.values()
    assert dt.date(2027, 6, 28) not in days.values()
    assert days["application:reminder:T-1"] == dt.date(2027, 6, 26)
    assert dt.date(2027, 6, 26).weekday() == 5
    assert days["application:reminder:T-0"] == dt.date(2027, 6, 30)


def test_escalation_target_without_a_channel_is_reported(tmp_path: Path) -> None:
    # A named escalation target receives 督办 messages, so it must be reachable.
    text = P1_TEXT.replace(
        'escalate_to: "510000"', 'escalate_to: "510099"'
    ).replace(
        "units:\n",
        'units:\n  - {code: "510099", name: 四川省质量强省办公室, level: department, parent: "510000"}\n',
        1,
    )
    path = tmp_path / "escalation.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 1
    out = unwrapped(result)
    assert "510099" in out and "没有配置任何渠道" in out and "units[" in out


def test_a_key_written_twice_is_reported_not_silently_overwritten(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "    lateness: reject\n", "    lateness: reject\n    lateness: accept_flag\n")
    result = validate(path)
    assert result.exit_code == 1
    assert squeeze(f"{path}:{line_of(text, 'lateness: accept_flag')} [stages[1].lateness]") in unwrapped(result)
    assert "重复" in result.output


def test_yaml_1_1_booleans_are_plain_text(tmp_path: Path) -> None:
    # "on:" is a stage's date key and "no"/"yes" are ordinary words, as in YAML 1.2.
    path, _ = broken(tmp_path, "name: 印发《榜单》", "name: no")
    assert validate(path).exit_code == 0


def test_a_version_1_file_loads_and_is_told_the_version_2_form_of_each_changed_key() -> None:
    mini = Path(__file__).resolve().parent / "data" / "mini.yaml"
    result = validate(mini)
    assert result.exit_code == 0, result.output
    said = squeeze(result.stderr)
    for hint in ("版本1文件（无version键）", "takers:true→approved_at:takers_review",
                 "kind:review+decision:true→kind:decision,decides:application",
                 "grading→grades:[{name:A,min_score:90},{name:B,min_score:80},{name:C,min_score:60},{name:D}]"):
        assert hint in said, result.stderr
    assert squeeze(f"通过：{mini}") in unwrapped(result)


def test_a_file_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    path, _ = broken(tmp_path, "version: 2\n", "version: 3\n")
    result = validate(path)
    assert result.exit_code == 1 and "[version]:不支持的版本3（应为1或2）" in unwrapped(result)


def test_a_file_that_cannot_be_read_says_why_in_chinese(tmp_path):
    from qcycle.errors import ConfigError
    from qcycle.yamlfile import read

    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("名称: 质量奖\n".encode("gb18030"))
    for path, why in ((tmp_path / "missing.yaml", "文件不存在"), (tmp_path, "这是一个文件夹，不是文件"),
                      (gbk, "不是 UTF-8 文本（第 1 个字节无法按 UTF-8 解码）")):
        with pytest.raises(ConfigError) as caught:
            read(path)
        assert str(caught.value.problems[0]) == f"{path}: 无法读取文件：{why}"


def test_a_quota_below_one_and_a_fractional_rate_are_refused_in_chinese(tmp_path: Path) -> None:
    """A quota of -2 passed and scored a unit that beat its targets as failing (it divides what
    the unit did); pydantic's English ("Input should be…") reached the officer for a rate of 20.5."""
    zs = PROGRAMMES / "zs-csy-ybq-2011.yaml"
    text = zs.read_text(encoding="utf-8").replace("zs-hb: 2}}", "zs-hb: -2}}", 1)
    quota = tmp_path / "quota.yaml"
    quota.write_text(text, encoding="utf-8")
    out = unwrapped(validate(quota))
    assert squeeze(f"{quota}:{line_of(text, 'zs-hb: -2}}')}") in out and "数值过小，应>0（实际为-2）" in out, out
    rate, _ = broken(tmp_path, "QCYCLE_WECOM_SC_CITIES, rate_per_minute: 20,", "QCYCLE_WECOM_SC_CITIES, rate_per_minute: 20.5,")
    out = unwrapped(validate(rate))
    assert "应为整数（不能有小数）（实际为20.5）" in out and "Input" not in out, out


def test_a_time_written_without_quotes_is_the_time_it_says(tmp_path: Path) -> None:
    """`time: 17:30` unquoted is how an officer writes it: it is 17:30 (YAML 1.2), not 00:17."""
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    path, _ = broken(tmp_path, 'deadline: {date: 2023-04-20, time: "17:30",', "deadline: {date: 2023-04-20, time: 17:30,")
    policy = 'before_workdays: [5, 3, 1]\n'
    assert P1_TEXT.count(policy) == 1
    path.write_text(path.read_text(encoding="utf-8").replace(policy, policy + "    time: 08:30\n"), encoding="utf-8")
    assert validate(path).exit_code == 0
    loaded = load_programme(path)
    names = expand(loaded.programme, WorkCalendar()).by_name()
    assert names["application:deadline"].at.time() == dt.time(17, 30)
    assert names["application:reminder:T-3"].at.time() == dt.time(8, 30)



def test_a_window_opening_on_a_day_off_is_pointed_out(tmp_path: Path) -> None:
    """A period opening on 国庆 sent its 【受理】 letter on the holiday and nothing was said; a
    point stage on a day off already had this hint."""
    from qcycle.loader import load_programme

    path, text = broken(tmp_path, "    opens: 2023-04-07\n", "    opens: 2023-04-05\n")  # 清明
    loaded = load_programme(path)
    said = [str(n) for n in loaded.notices]
    assert any(f":{line_of(text, 'opens: 2023-04-05')} [stages[1].opens]" in n
               and "2023-04-05（周三）不是工作日；开始受理的通知将在当天发出" in n for n in said), said
    period, _ = broken(tmp_path, '{code: "2023-10", opens: 2023-10-09,', '{code: "2023-10", opens: 2023-10-02,', "p.yaml")
    assert any("[stages[4].periods[1].opens]" in str(n) and "2023-10-02（周一）不是工作日" in str(n)
               for n in load_programme(period).notices)
    assert not load_programme(P1).notices


def test_units_told_only_in_a_shared_channel_are_pointed_out(tmp_path: Path) -> None:
    """榆阳's departments had only their shared DingTalk group: each read every other's grade there.
    Such a file is valid (a group may be all an office has), and validate says what it means."""
    shipped = PROGRAMMES / "yy-quality-plan-2025.yaml"
    group_only = tmp_path / "yy.yaml"
    text = shipped.read_text(encoding="utf-8")
    group_only.write_text(text.replace("channels: [email, yy-depts-dingtalk]}", "channels: [yy-depts-dingtalk]}"),
                          encoding="utf-8")
    result = validate(group_only)
    assert result.exit_code == 0, result.output
    assert "18 个单位只有共用渠道 yy-depts-dingtalk（榆阳区发展改革和科技局" in result.output
    assert "考核结果、督办、整改通知等只告知本单位的函件也将发到该渠道" in result.output
    # With a channel of their own (the shipped file), or a shared sink that no peer reads, nothing to say.
    assert "共用渠道" not in validate(shipped).output
    assert "共用渠道" not in validate(P1).output


def test_a_decision_whose_rejections_reach_no_letter_is_pointed_out(tmp_path: Path) -> None:
    """QC小组's 审定获奖名单 dropped a winner its 公示 had named; nothing told the winner, and validate had said 通过."""
    text = textwrap.dedent("""\
        version: 2
        round: {code: qc-2026, name: 2026年度QC小组成果发表赛, programme: QC小组成果发表赛, issuer: amr, years: [2026]}
        channels: [{name: sink, kind: sink}]
        units:
          - {code: amr, name: 示例市市场监督管理局, level: city, channels: [sink]}
          - {code: e1, name: 甲公司, level: enterprise, parent: amr, channels: [sink]}
          - {code: e2, name: 乙公司, level: enterprise, parent: amr, channels: [sink]}
        stages:
          - {code: report, name: 成果报告, kind: submission, submission: application, owed_by: {levels: [enterprise]},
             voluntary: true, opens: 2026-05-06, deadline: {date: 2026-06-30}}
          - {code: final, name: 审定获奖名单, kind: decision, decides: report, on: 2026-07-15}
          - {code: praise, name: 通报表彰, kind: notification, template: praise, on: 2026-07-20,
             notify: {approved_at: final}}
        """)
    path = tmp_path / "qc.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert "决定阶段“审定获奖名单”不同意的对象不会收到任何函件" in unwrapped(result), result.output
    told = tmp_path / "told.yaml"
    told.write_text(text + "  - {code: told, name: 告知审定结果, kind: notification, template: step_result, on: 2026-07-20,\n"
                           "     notify: {rejected_at: final}}\n", encoding="utf-8")
    assert "不同意的对象" not in validate(told).output
    # A follow-up the rejected then owe tells them (its opening says why); a result sent before the decision does not.
    follow = tmp_path / "follow.yaml"
    follow.write_text(text + "  - {code: again, name: 复核申请, kind: submission, submission: self_evaluation,\n"
                             "     owed_by: {rejected_at: final}, opens: 2026-07-20, deadline: {date: 2026-07-31}}\n",
                      encoding="utf-8")
    assert "不同意的对象" not in validate(follow).output
    early = tmp_path / "early.yaml"
    early.write_text(text.replace("  - {code: final,", "  - {code: results, name: 通知结果, kind: notification, template: result,"
                                  " on: 2026-07-10, notify: {levels: [enterprise]}}\n  - {code: final,", 1), encoding="utf-8")
    # A result letter before the decision tells nothing at all: refused as such (it had been a notice about the rejected).
    assert "结果通知“通知结果”定于 2026-07-10，此前没有任何考核" in validate(early).output, validate(early).output
    # Between two decisions it tells the first's: the second's rejected are still pointed out as told nothing.
    between = tmp_path / "between.yaml"
    between.write_text(text.replace("  - {code: final,", "  - {code: check, name: 形式审查, kind: decision, decides: report, on: 2026-07-06}\n"
                                    "  - {code: results, name: 通知结果, kind: notification, template: result,"
                                    " on: 2026-07-10, notify: {levels: [enterprise]}}\n  - {code: final,", 1)
                       .replace("decides: report, on: 2026-07-15}", "decides: check, on: 2026-07-15}", 1), encoding="utf-8")
    assert "决定阶段“审定获奖名单”不同意的对象不会收到任何函件" in unwrapped(validate(between)), validate(between).output
    assert all("不同意的对象" not in validate(shipped).output for shipped in sorted(PROGRAMMES.glob("*.yaml")))


def test_an_office_that_assesses_itself_is_pointed_out(tmp_path: Path) -> None:
    """榆阳's 市场监管局 organised the 督查评估, signed its result letters and was graded B by it: it
    was never told (an office writes no letter to itself). The shipped file now keeps the two
    organising offices out of the assessed departments; validate says when a file does not."""
    shipped = PROGRAMMES / "yy-quality-plan-2025.yaml"
    organiser_assessed = tmp_path / "yy.yaml"
    organiser_assessed.write_text(shipped.read_text(encoding="utf-8").replace(
        "name: 榆阳区市场监督管理局, level: office", "name: 榆阳区市场监督管理局, level: department"), encoding="utf-8")
    result = validate(organiser_assessed)
    assert result.exit_code == 0, result.output
    assert result.output.count("榆阳区市场监督管理局签发“") == 2, result.output  # the 2024 and 2025 通报
    assert "又在考核对象（assessment.subjects）之列：本单位的考核结果不会告知本单位" in result.output
    assert "考核对象（assessment.subjects）之列" not in validate(shipped).output
    for other in ("jz-assessment-2016", "ha-county-assessment-2015", "zs-csy-ybq-2011", "sc-jbgs-2023"):
        assert "之列：本单位的考核结果" not in validate(PROGRAMMES / f"{other}.yaml").output


def test_a_misspelt_grade_in_an_eligibility_rule_is_refused(tmp_path: Path) -> None:
    """天水's award bars its winners for 5 years by grade: a grade the file does not have bars
    nobody (an officer's misspelling let a winner be named again the next year)."""
    path = shipped_variant(tmp_path, "ts-government-quality-award-2024", "not_awarded: {grades: [天水市人民政府质量奖], years: 5}",
                           "not_awarded: {grades: [天水市政府质量奖], years: 5}")
    result = validate(path)
    assert result.exit_code == 1, result.output
    at = line_of(path.read_text(encoding="utf-8"), "not_awarded:")
    assert squeeze(f"{path}:{at} [stages[1].eligibility.not_awarded.grades[0]]（阶段 application）: 等次 '天水市政府质量奖' "
                   "不在 assessment.grades 中（可选：") in unwrapped(result), result.output


def test_a_plans_owed_by_column_says_a_condition_once() -> None:
    """焦作's 整改 rows read "考核等次为D级（仅限考核等次为D级）": who owes it, and again as its condition."""
    result = runner.invoke(app, ["plan", str(PROGRAMMES / "jz-assessment-2016.yaml")], terminal_width=250)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "书面整改报告" in line]
    assert rows and all("考核等次为D级" in row for row in rows)
    assert not [row for row in rows if "仅限" in row], rows


def test_an_own_config_folder_with_only_a_calendar_keeps_the_shipped_templates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, p2_in_2027: Path) -> None:
    """An officer's 2027.yaml in a config folder of their own (QCYCLE_CONFIG_DIR): every letter's
    template was then missing, and the error offered an empty list to choose from."""
    folder = tmp_path / "own-config"
    (folder / "calendar").mkdir(parents=True)
    (folder / "calendar" / "2027.yaml").write_text(OPERATOR_2027, encoding="utf-8")
    monkeypatch.setenv("QCYCLE_CONFIG_DIR", str(folder))
    get_settings.cache_clear()
    default_calendar.cache_clear()
    try:
        assert validate(p2_in_2027).exit_code == 0
        planned = runner.invoke(app, ["plan", str(p2_in_2027), "--json"])
        assert reminders(planned)["application:reminder:T-1"] == dt.date(2027, 6, 26)  # the folder's calendar
        from qcycle.render import render_message

        subject, _ = render_message("reminder.j2", {
            "unit_name": "某公司", "programme_name": "某奖", "item": "申报书", "deadline": dt.date(2027, 6, 30),
            "working_days_left": 1, "sender_name": "某局", "today": dt.date(2027, 6, 29)})
        assert subject == "【提醒】某奖：申报书将于2027年6月30日截止"
        broken_path = tmp_path / "broken.yaml"
        text = p2_in_2027.read_text(encoding="utf-8")
        assert "template: award" in text
        broken_path.write_text(text.replace("template: award", "template: awards", 1), encoding="utf-8")
        refused = unwrapped(validate(broken_path))
        assert "函件模板'awards'不存在（可选：result、praise、award、summons、step_result、objection_reply、report、circular；" in refused, refused
    finally:
        get_settings.cache_clear()
        default_calendar.cache_clear()


def test_one_of_qcycles_own_letters_is_not_a_notification_template(tmp_path: Path) -> None:
    """An officer's 撤销 letter as ``template: withdrawal`` passed validate; the round then stopped at the
    stage (withdrawal.j2 wants an item withdrawn by an amendment) and no letter went out."""
    path = shipped_variant(tmp_path, "ha-county-assessment-2015", "template: summons", "template: withdrawal")
    refused = unwrapped(validate(path))
    assert "[stages[" in refused and "函件模板'withdrawal'是系统自动生成的函件，不能作为通知阶段的模板" in refused, refused
    assert "可选：result、praise、award、summons、step_result、objection_reply、report、circular）" in refused, refused


def test_a_date_counted_from_an_event_its_stage_does_not_have_is_refused(tmp_path: Path) -> None:
    """某县's 整改 deadline counted from its results notice's "deadline": a notification has none,
    and the date had quietly meant the notice's day."""
    path = shipped_variant(tmp_path, "jz-assessment-2016", "deadline: {after: {stage: results, event: on, workdays: 20}",
                           "deadline: {after: {stage: results, event: deadline, workdays: 20}")
    result = validate(path)
    assert result.exit_code == 1, result.output
    at = line_of(path.read_text(encoding="utf-8"), "event: deadline, workdays: 20")
    assert re.search(rf"jz-assessment-2016\.yaml:{at}\[stages\[\d+\]\.deadline\.after\.event\]（阶段rectification）:阶段results（notification）没有deadline时点（可用：on）",
                     unwrapped(result)), result.output


def test_an_assessed_unit_without_a_task_is_refused_where_tasks_are_scored(tmp_path: Path) -> None:
    """某市's 统计局, assessed with no task, scored 0 of 60 task points and was graded 差 with 39.17 of the
    40 points it could earn. validate names the units and what to do."""
    text = (PROGRAMMES / "zs-csy-ybq-2011.yaml").read_text(encoding="utf-8")
    path = tmp_path / "zs-csy-ybq-2011.yaml"
    path.write_text(text.replace(", zs-hb: 2}}", "}}").replace(", zs-hb: 8}}", "}}").replace(", zs-hb: 6}}", "}}"),
                    encoding="utf-8")
    refused = unwrapped(validate(path))
    assert "按任务完成计分" in refused and "没有分解任务（quotas.actions的per_unit未列出），将得0分" in refused, refused
    assert "请为其分解任务，或把它排除在assessment.subjects之外" in refused, refused


def test_an_award_valid_longer_or_shorter_than_its_winners_are_barred_is_pointed_out(tmp_path: Path) -> None:
    """某省's 命名 was valid 5 years (授奖通知) and its winners barred 3 (申报通知): one letter is wrong."""
    shipped = PROGRAMMES / "ts-government-quality-award-2024.yaml"
    result = validate(shipped_variant(tmp_path, shipped.stem, "max_count: 2, valid_years: 5}", "max_count: 2, valid_years: 3}"))
    assert result.exit_code == 0, result.output  # a notice, not an error: which one is wrong is the office's call
    assert "“天水市人民政府质量奖”有效期3年（valid_years），再次申报的限制却是获奖满5年（not_awarded.years）" in unwrapped(result), result.output
    assert "有效期" not in validate(shipped).output



def test_a_day_counted_from_a_stage_dated_per_category_is_counted_per_category_or_refused(tmp_path):
    """省级品牌培育试点's 验收申请 ("18 months after being named") counted from a list published in May
    for the first batch and in October for the second: planned once, both batches were owed May's
    date, and validate said nothing. A stage planned once from days that differ by category is refused;
    with ``per_category`` of its own, its relative days follow each category."""
    from qcycle.loader import load_programme
    from qcycle.timetable import expand

    old = "    on: 2024-01-24\n    per_category:\n      cxyl: {on: 2025-01-24}\n"
    path, text = broken(tmp_path, old, "    after: {stage: assessment, event: on, workdays: 5}\n")
    result = validate(path)
    assert result.exit_code == 1
    where = line_of(text, "after: {stage: assessment, event: on, workdays: 5}")
    assert squeeze(f"broken.yaml:{where} [stages[8].after]（阶段 results）: “发布揭榜挂帅成果”从“评价打分汇总”起算，而后者各类别日期不同"
                   "（按类别起算为：创先引领 2025-01-24、质量创新 2024-01-24、探索试点 2024-01-24）") in unwrapped(result)
    assert squeeze("请用 per_category 为各类别分别写出日期（本阶段有了 per_category，其相对日期即按各类别分别起算）") in unwrapped(result)
    fixed, _ = broken(tmp_path, old, "    after: {stage: assessment, event: on, workdays: 5}\n    per_category: {cxyl: {}}\n",
                      name="fixed.yaml")
    assert validate(fixed).exit_code == 0, validate(fixed).output
    days = {a.category: a.at.date() for a in expand(load_programme(fixed).programme, default_calendar()).actions
            if a.stage == "results"}
    assert days == {"cxyl": dt.date(2025, 1, 24), "zlcx": dt.date(2024, 1, 24), "tssd": dt.date(2024, 1, 24)}


def test_a_refusal_names_the_stage_by_its_code_and_says_how_to_write_it(tmp_path: Path) -> None:
    """Officers read "[stages[5].notify.missing_at]" as the fifth stage (it counts from 0), "应为映射（键: 值）" as
    jargon, "缺少必填字段" of an ``event`` without its values, and "数值过大，应 ≤ 1.0（实际为 30）" of a share of 30 %."""
    path, text = broken(tmp_path, '      - {code: "2023-07", opens: 2023-07-03, deadline: {date: 2023-07-14}}\n',
                        '      - {code: "2023-07", opens: 2023-07-03, deadline: 2023-07-14}\n')
    path.write_text(text.replace("    - {name: 优秀, min_score: 90,", "    - {name: 优秀, min_score: 90, share: 30,", 1),
                    encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 1, result.output
    said = unwrapped(result)
    stage = next(s for s in yaml.safe_load(text)["stages"] if "periods" in s)["code"]
    assert squeeze(f"[stages[{[s['code'] for s in yaml.safe_load(text)['stages']].index(stage)}].periods[0].deadline]"
                   f"（阶段 {stage}，期次 2023-07）: 应为若干“字段: 值”（写成 {{字段: 值}}，或在下一行缩进逐项写）") in said, said
    assert squeeze("[assessment.grades[0].share]（等次 优秀）: 数值过大，应 ≤ 1.0（比例写小数：30% 写 0.3）") in said, said
    no_event = validate(shipped_variant(tmp_path, "jz-assessment-2016", "opens_after: {stage: results, event: on, workdays: 0}",
                                        "opens_after: {stage: results, workdays: 0}"))
    assert no_event.exit_code == 1 and squeeze("opens_after.event]（阶段 rectification）: 缺少必填字段，可选：'on'、'opens'、'deadline'、"
                                               "'closes'") in unwrapped(no_event), no_event.output


def test_the_plan_marks_a_working_saturday(tmp_path: Path) -> None:
    """襄阳's officer read "2026-05-09 周六 提醒" in the plan as a mistake: it is a 调休 working day."""
    path = tmp_path / "swap.yaml"
    path.write_text("""\
version: 2
round: {code: swap-2026, name: 2026年度示例评选, programme: 示例评选, issuer: amr, years: [2026]}
channels: [{name: sink, kind: sink}]
units:
  - {code: amr, name: 示例市市场监督管理局, level: city, channels: [sink]}
  - {code: e1, name: 甲公司, level: enterprise, parent: amr, channels: [sink]}
reminder_policies:
  std: {before_workdays: [1, 3]}
stages:
  - {code: application, name: 申报, kind: submission, submission: application, owed_by: {levels: [enterprise]},
     opens: 2026-04-20, deadline: {date: 2026-05-11}, reminders: std}
""", encoding="utf-8")
    result = runner.invoke(app, ["plan", str(path)], terminal_width=250)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert "2026-05-09 09:00 周六（调休上班日）" in rows, rows
    assert "2026-05-07 09:00 周四" in rows, rows  # an ordinary working day: no mark


def test_parts_scored_on_the_quotas_name_their_tasks_and_share_none(tmp_path: Path) -> None:
    """江西's 帮扶企业数 and 解决难题数, written as two parts on the quotas, were each scored the mean of both tasks,
    and validate said nothing."""
    whole = "    - {code: quota, name: 培育任务完成情况（按四项行动任务数）, weight: 0.8, source: quotas}\n"
    both = ("    - {code: quota, name: 管理与品牌任务, weight: 0.4, source: quotas}\n"
            "    - {code: quota2, name: 惠民与安全任务, weight: 0.4, source: quotas}\n")
    result = validate(shipped_variant(tmp_path, "zs-csy-ybq-2011", whole, both))
    assert result.exit_code == 1 and squeeze("“惠民与安全任务”与“管理与品牌任务”都计全部任务：每项任务只能计入一个部分"
                                             "（按任务分别计分时，用actions写明各部分计哪些任务）") in unwrapped(result), result.output
    split = both.replace("source: quotas}\n", "source: quotas, actions: [glcy, ppcy]}\n", 1).replace(
        "weight: 0.4, source: quotas}\n", "weight: 0.4, source: quotas, actions: [hmcy, aqcy]}\n", 1)
    (tmp_path / "ok").mkdir()
    assert validate(shipped_variant(tmp_path / "ok", "zs-csy-ybq-2011", whole, split)).exit_code == 0
    (tmp_path / "typo").mkdir()
    typo = validate(shipped_variant(tmp_path / "typo", "zs-csy-ybq-2011", whole, split.replace("aqcy]", "aqxy]")))
    assert typo.exit_code == 1 and squeeze("任务'aqxy'不在quotas.actions中（可选：glcy、ppcy、hmcy、aqcy）") in unwrapped(typo)


def test_a_unit_without_a_task_in_a_quota_part_is_refused_part_by_part(tmp_path: Path) -> None:
    """A reviewer's probe: with parts naming their tasks, a unit with no task in one part scored 0 for it (40 of 70 for a
    task met in full), and validate passed: the 某市 bug its check was written for."""
    whole = "    - {code: quota, name: 培育任务完成情况（按四项行动任务数）, weight: 0.8, source: quotas}\n"
    split = ("    - {code: quota, name: 管理与品牌任务, weight: 0.4, source: quotas, actions: [glcy, ppcy]}\n"
             "    - {code: quota2, name: 惠民与安全任务, weight: 0.4, source: quotas, actions: [hmcy, aqcy]}\n")
    path = shipped_variant(tmp_path, "zs-csy-ybq-2011", whole, split)
    text = path.read_text(encoding="utf-8")
    for code in ("hmcy", "aqcy"):  # 环保局 has no 惠民 or 安全 task
        line = next(x for x in text.splitlines() if f"code: {code}," in x)
        text = text.replace(line, re.sub(r", zs-hb: \d+\}", "}", line), 1)
    path.write_text(text, encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 1, result.output
    assert squeeze("“惠民与安全任务”按任务完成计分，舟山市环境保护局没有分解任务") in unwrapped(result), result.output
    assert "管理与品牌任务”按任务完成计分" not in unwrapped(result), result.output
