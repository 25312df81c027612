"""Hostile configuration files are refused by limits (not by a timeout), with file:line and why.

A YAML alias bomb is tiny on disk and cheap to compose (aliases share nodes), but anything that
walks the data pays its expansion; so is a file nested deeper than the C composer's stack. The
bombs run in a fresh interpreter with a hard timeout, so a regression fails instead of hanging
(or crashing) the test session.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qcycle import yamlfile
from qcycle.errors import ConfigError
from qcycle.loader import load_programme
from qcycle.settings import REPO_ROOT

pytestmark = [pytest.mark.faults]

P1 = REPO_ROOT / "config" / "programmes" / "sc-jbgs-2023.yaml"
P1_TEXT = P1.read_text(encoding="utf-8")
HARD_TIMEOUT = 20.0
BOMB_REASON = "别名展开后超过 1,000,000 个节点（疑似别名炸弹），拒绝读取"
CHENGDU = ('  - {code: "510100", name: 成都市市场监督管理局, level: city, parent: "510000", '
           'email: zlc@510100.amr.example.cn, channels: [email, sc-cities-wecom]}\n')
ZIGONG = ('  - {code: "510300", name: 自贡市市场监督管理局, level: city, parent: "510000", '
          'email: zlc@510300.amr.example.cn, channels: [email, sc-cities-wecom]}\n')
PANZHIHUA = ('  - {code: "510400", name: 攀枝花市市场监督管理局, level: city, parent: "510000", '
             'email: zlc@510400.amr.example.cn, channels: [email, sc-cities-wecom]}\n')


def bomb(levels: int) -> str:
    """The classic billion laughs: each level a list of nine aliases to the level before."""
    names, laughs = "abcdefghijklmnop"[:levels], ", ".join(['"x"'] * 9)
    lines = [f"a: &a [{laughs}]"]
    lines += [f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]" for prev, name in itertools.pairwise(names)]
    return "\n".join(lines) + "\n"


def isolated(snippet: str, *args: str) -> dict:
    """Run ``snippet`` (it sets ``result``) in a fresh interpreter, killed after HARD_TIMEOUT."""
    code = textwrap.dedent(snippet) + "\nimport json\nprint(json.dumps(result))\n"
    try:
        proc = subprocess.run([sys.executable, "-c", code, *args], check=False, capture_output=True, text=True,
                              timeout=HARD_TIMEOUT, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"not refused within {HARD_TIMEOUT:.0f} s (killed)")
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.splitlines()[-1])


LOAD = """
    import sys, time
    from qcycle.errors import ConfigError
    from qcycle.loader import load_programme
    start = time.perf_counter()
    try:
        load_programme(sys.argv[1])
        result = {"problems": None}
    except ConfigError as exc:
        result = {"problems": [[p.file, p.line, p.message] for p in exc.problems]}
    result["seconds"] = time.perf_counter() - start
"""

CLI = """
    import sys
    from typer.testing import CliRunner
    from qcycle.cli import app
    run = CliRunner().invoke(app, ["validate", sys.argv[1]])
    result = {"exit_code": run.exit_code, "output": run.output, "exception": repr(run.exception)}
"""


@pytest.mark.parametrize("levels", [10, 7])
def test_alias_bomb_is_refused_by_load_programme(tmp_path: Path, levels: int) -> None:
    path = tmp_path / f"bomb-{levels}.yaml"
    text = bomb(levels)
    path.write_text(text, encoding="utf-8")
    got = isolated(LOAD, str(path))
    print(f"{levels}-level alias bomb refused in {got['seconds']:.4f} s")
    assert got["problems"] is not None, "the bomb was loaded"
    [(file, line, message)] = got["problems"]
    assert file == str(path)
    assert message == BOMB_REASON
    assert "*" in text.splitlines()[line - 1], "the line should be the one whose aliases blow it up"


def test_alias_bomb_is_refused_by_validate_cli(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(10), encoding="utf-8")
    got = isolated(CLI, str(path))
    output = "".join(got["output"].split())  # the console folds long lines
    assert got["exit_code"] == 1, got
    assert "Traceback" not in got["output"]
    assert f"{path}:".replace(" ", "") in output
    assert "".join(BOMB_REASON.split()) in output
    line = int(output.split(f"{path}:")[1].split(":")[0])
    assert 1 <= line <= 10


def test_bomb_hidden_in_a_real_programme_is_refused_at_its_alias(tmp_path: Path) -> None:
    """Six levels (672,000 nodes) pass; the alias in round.notes that would expand them again
    is where the file is refused."""
    text = P1_TEXT.replace("version: 2\n", "x-bomb:\n  " + bomb(6).replace("\n", "\n  ") + "\nversion: 2\n", 1)
    text = text.replace("  notes:\n", "  notes: *f\n  x-old-notes:\n", 1)
    path = tmp_path / "hidden.yaml"
    path.write_text(text, encoding="utf-8")
    got = isolated(LOAD, str(path))
    notes = 1 + text.splitlines().index("  notes: *f")
    assert got["problems"] == [[str(path), notes, BOMB_REASON]]


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    """100,000 nested brackets crashed libyaml's recursive composer (segfault) before."""
    path = tmp_path / "deep.yaml"
    path.write_text("x: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    got = isolated(LOAD, str(path))
    assert got["problems"] == [[str(path), 1, f"嵌套超过 {yamlfile.MAX_DEPTH} 层，拒绝读取"]]


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        yamlfile.parse("a: 1\nb: &b\n  - 1\n  - *b\n", "loop.yaml")
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == ("loop.yaml", 4)
    assert problem.message == "别名 *b 引用了包含它自身的锚点（循环引用），拒绝读取"


def test_oversized_file_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlfile, "MAX_FILE_BYTES", 1024 * 1024)
    path = tmp_path / "big.yaml"
    path.write_text("x: 1\n" * 300_000, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_programme(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}: 文件超过 1 MB，配置文件不应这么大，拒绝读取"]


def test_node_count_limit_without_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlfile, "MAX_EXPANDED_NODES", 100)
    with pytest.raises(ConfigError) as caught:
        yamlfile.parse("".join(f"k{i}: {i}\n" for i in range(200)), "flat.yaml")
    [problem] = caught.value.problems
    assert problem.line == 50  # the root mapping, then two nodes a line: node 101 is on line 50
    assert problem.message == "超过 100 个节点（含别名展开），配置文件不应这么大，拒绝读取"


def test_shipped_programme_still_loads() -> None:
    loaded = load_programme(P1)
    assert loaded.programme.round.code == "sc-jbgs-2023"


def _with_shared_city(city: str, *merged: str) -> str:
    """P1 with Chengdu written as an anchored block and later cities merging it."""
    assert P1_TEXT.count(CHENGDU) == P1_TEXT.count(ZIGONG) == P1_TEXT.count(PANZHIHUA) == 1
    text = P1_TEXT.replace(CHENGDU, city).replace(ZIGONG, merged[0])
    return text.replace(PANZHIHUA, merged[1]) if len(merged) > 1 else text


CITY = """\
  - &city
    code: "510100"
    name: 成都市市场监督管理局
    level: city
    parent: "510000"
    email: zlc@510100.amr.example.cn
    channels: &cities [email, sc-cities-wecom]
"""


def test_legitimate_anchors_and_merges_still_load(tmp_path: Path) -> None:
    """Overriding a merged key is not a repeated key; the data is the same as written out."""
    path = tmp_path / "merged.yaml"
    path.write_text(_with_shared_city(
        CITY,
        '  - {<<: *city, code: "510300", name: 自贡市市场监督管理局, email: zlc@510300.amr.example.cn}\n',
        '  - {<<: *city, code: "510400", name: 攀枝花市市场监督管理局, email: zlc@510400.amr.example.cn, '
        'channels: *cities}\n',
    ), encoding="utf-8")
    assert load_programme(path).programme == load_programme(P1).programme


def test_error_in_an_overridden_merged_key_is_reported_at_the_override(tmp_path: Path) -> None:
    path = tmp_path / "override.yaml"
    text = _with_shared_city(CITY, '  - {<<: *city, code: "510300", name: 自贡市市场监督管理局, level: village}\n')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_programme(path)
    [problem] = caught.value.problems
    assert problem.path == "units[2].level"
    assert problem.line == 1 + next(i for i, line in enumerate(text.splitlines()) if "level: village" in line)


def test_repeated_key_inside_an_aliased_mapping_is_reported_once(tmp_path: Path) -> None:
    city = CITY.replace('    parent: "510000"\n', '    parent: "510000"\n    level: city\n')
    text = _with_shared_city(
        city,
        '  - {<<: *city, code: "510300", name: 自贡市市场监督管理局, email: zlc@510300.amr.example.cn}\n',
        '  - {<<: *city, code: "510400", name: 攀枝花市市场监督管理局, email: zlc@510400.amr.example.cn}\n',
    )
    path = tmp_path / "repeated.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_programme(path)
    lines = text.splitlines()
    second = 1 + next(i for i, line in enumerate(lines) if line == "    level: city" and lines[i - 1].endswith('"510000"'))
    assert [(p.path, p.line, p.message) for p in caught.value.problems] == [
        ("units[1].level", second, "字段重复出现；每个字段只能写一次")]


def test_repeated_key_reached_through_plain_aliases_is_reported_once() -> None:
    doc = yamlfile.parse("d: &d\n  a: 1\n  a: 2\nx: *d\ny: [*d, *d]\n", "aliases.yaml")
    assert [str(p) for p in doc.duplicate_keys()] == ["aliases.yaml:3 [d.a]: 字段重复出现；每个字段只能写一次"]
