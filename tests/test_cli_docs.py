"""Every CLI command documents itself with help text and an example (sqlite-utils habit)."""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from qcycle.cli import app

runner = CliRunner()


def _commands(group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def test_every_command_has_help_with_an_example():
    group = typer.main.get_command(app)
    commands = list(_commands(group))
    assert {c[0] for c in commands} >= {("validate",), ("plan",), ("simulate",), ("db", "upgrade")}
    for path, _ in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "示例" in result.output and "qcycle" in result.output, f"{' '.join(path)} lacks an example"
        # Typer's English names of value types and rST markup stay out of the ops team's help.
        english = re.findall(r"<(?:str|int|int range|float|path|file|list\[\w+\])>|\{\w+\}|``|x>=", result.output)
        assert not english, (path, english)
        # One example a line, as written: the help formatter must not run them together.
        examples = result.output.split("示例：", 1)[1].split("\n\n")[0].splitlines()
        assert all(len(re.findall(r"(?<![\w/])qcycle ", line)) == 1 for line in examples), (path, examples)


def test_readme_names_every_command():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for path, _ in _commands(typer.main.get_command(app)):
        assert f"qcycle {' '.join(path)}" in readme, f"README does not mention qcycle {' '.join(path)}"


# Four English words in a row, outside code (`…`), quotes and the examples: a sentence the
# ops team would read in English beside the Chinese.
_ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]*(?: +[A-Za-z][A-Za-z'’-]*){3,}")


def _prose(text: str) -> str:
    text = text.split("示例")[0]
    text = re.sub(r"``?[^`]*``?", "", text)  # code, commands, option names
    return re.sub(r"\"[^\"]*\"|“[^”]*”", "", text)  # quoted messages


def test_every_command_and_option_is_described_in_chinese():
    english = []
    for path, cmd in _commands(typer.main.get_command(app)):
        texts = [("help", cmd.help or "")] + [(p.name, getattr(p, "help", None) or "") for p in cmd.params
                                              if not getattr(p, "hidden", False)]
        for where, text in texts:
            found = _ENGLISH_RUN.search(_prose(text))
            if found:
                english.append(f"qcycle {' '.join(path)} [{where}]: {found.group(0)!r}")
    assert not english, "\n".join(english)


def test_help_is_in_the_ops_teams_words():
    """typer writes its headings and notes in English; the help of every command reads in Chinese."""
    for path, _ in _commands(typer.main.get_command(app)):
        output = runner.invoke(app, [*path, "--help"]).output
        assert output.startswith(f"用法：qcycle {' '.join(path)} [选项]"), output[:80]
        assert "选项：" in output and "显示本帮助并退出。" in output, path
        english = re.findall(r"\b(?:Usage|Options|Arguments|Commands|Show this message|default|required|OPTIONS)\b",
                             output)
        assert english == [], (path, english)
