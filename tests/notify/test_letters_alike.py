"""Letters alike but for their addressee (qcycle.render.Letters): rendered once per family, each unit's
letter is the one rendering it whole would give, in every shipped programme; a template that does
anything with the addressee but print it is rendered whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qcycle import render
from qcycle.errors import ConfigError
from qcycle.render import Letters, addressee_printed_only, get_environment, render_message
from tests.homes import leave_home, play_programme, use_home

PROGRAMMES = sorted((Path(__file__).resolve().parents[2] / "config" / "programmes").glob("*.yaml"))
BASE = {"programme_name": "2023年某市质量工作", "sender_name": "某市市场监督管理局", "today": dt.date(2023, 4, 20)}


@pytest.mark.parametrize("path", PROGRAMMES, ids=lambda p: p.stem)
def test_each_letter_of_a_family_is_the_letter_rendered_whole(path, tmp_path, monkeypatch):
    kept = Letters.render
    seen = {"letters": 0, "from_a_family": 0}
    different: list[tuple[str, str]] = []

    def checked(self, template_name, context, alike=None):
        got = kept(self, template_name, context, alike)
        seen["letters"] += 1
        seen["from_a_family"] += alike is not None and self._family(template_name, context, alike) is not None
        whole = render_message(template_name, context, self.override_dir)
        if got != whole:
            different.append((template_name, f"{got}\n≠\n{whole}"))
        return got

    monkeypatch.setattr(Letters, "render", checked)
    use_home(monkeypatch, tmp_path)
    try:
        play_programme(path, seed=5)
    finally:
        leave_home()
    assert not different, different[:3]
    # Most letters of a round go to many units alike (the publication, openings, reminders).
    assert seen["from_a_family"] > seen["letters"] / 3, seen


def _verdict(tmp_path: Path, text: str, **others: str) -> bool:
    for name, source in {"t.j2": text, **others}.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    return addressee_printed_only(get_environment(tmp_path), "t.j2")


@pytest.mark.parametrize("text", [
    "{% block body %}{{ unit_name }}：{% if x %}{{ unit_name }}{% endif %}{{ unit_code }}{% endblock %}",
    "{% block body %}{% for i in items %}{{ unit_name }}{{ i }}{% endfor %}{% endblock %}",
    "{% block body %}{% set y %}{{ x }}{% endset %}{{ unit_name }}{{ y }}{% endblock %}",
])
def test_a_template_printing_the_addressee_as_it_is_is_rendered_once(tmp_path, text):
    assert _verdict(tmp_path, text)


@pytest.mark.parametrize("text", [
    "{{ unit_name|length }}",  # a filter
    "{% if unit_code in takers %}贵单位已列入{% endif %}",  # a condition
    "{{ unit_name ~ '（收）' }}",  # an expression
    "{% set who = unit_name %}{{ who }}",  # an assignment
    "{% set who %}{{ unit_name }}{% endset %}{{ who|length }}",  # kept as a value
    "{% filter upper %}{{ unit_name }}{% endfilter %}",  # filtered whole
    "{% macro m(unit_name) %}{{ unit_name }}{% endmacro %}{{ m('x') }}",  # a parameter
    "{% for unit_name in names %}{{ unit_name }}{% endfor %}",  # a loop variable
    "{% include name %}",  # a template not named
    "{% include 'other.j2' %}",  # one that does more than print it
    "{% extends 'layout.j2' %}{% block body %}{{ unit_name }}{% endblock %}",  # a layout that filters its block
    "{% block subject %}{{ unit_name }}{% endblock %}{{ self.subject()|length }}",  # a block's text as a value
    "{% block subject %}{{ unit_name }}{% endblock %}{% block body %}{{ super() }}{% endblock %}",
    "{% for x in xs recursive %}{{ unit_name }}{{ loop(x.kids)|length }}{% endfor %}",  # a loop's text measured
    "{% import 'plain.j2' as m with context %}{{ m|string|length }}{{ unit_name }}",  # macros seeing the context
])
def test_a_template_doing_anything_else_with_the_addressee_is_rendered_whole(tmp_path, text):
    assert not _verdict(tmp_path, text, **{"other.j2": "{{ unit_name|upper }}", "plain.j2": "{{ unit_name }}",
                                          "layout.j2": "{% filter upper %}{% block body %}{% endblock %}{% endfilter %}"})


def test_a_filter_of_qcycle_reading_the_context_makes_every_template_rendered_whole(tmp_path, monkeypatch):
    import jinja2

    assert _verdict(tmp_path, "{{ unit_name }}")
    env = get_environment(tmp_path)
    monkeypatch.setitem(env.filters, "whose", jinja2.pass_context(lambda ctx, v: ctx["unit_name"] + v))
    monkeypatch.setattr(render, "_PRINTED_ONLY", {})
    assert not addressee_printed_only(env, "t.j2")


def test_an_edited_template_it_includes_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "RECHECK_SECONDS", 0.0)
    assert _verdict(tmp_path, "{% include 'part.j2' %}", **{"part.j2": "{{ unit_name }}"})
    part = tmp_path / "part.j2"
    part.write_text("{% if unit_code in takers %}已列入{% endif %}", encoding="utf-8")
    stat = part.stat()  # Jinja sees an edit by the file's time
    import os
    os.utime(part, (stat.st_atime + 5, stat.st_mtime + 5))
    assert not addressee_printed_only(get_environment(tmp_path), "t.j2")


def test_a_missing_or_broken_template_is_a_config_error_as_before(tmp_path):
    (tmp_path / "broken.j2").write_text("{% block body %}{{ unit_name }{% endblock %}", encoding="utf-8")
    letters, shared = Letters(tmp_path), dict(BASE)
    for name in ("broken.j2", "absent.j2"):
        with pytest.raises(ConfigError):
            letters.render(name, {**shared, "unit_name": "甲局", "unit_code": "1"}, shared)


def test_letters_of_one_family_are_rendered_once_and_others_whole(tmp_path, monkeypatch):
    (tmp_path / "t.j2").write_text("{% block subject %}【通知】{{ unit_name }}{% endblock %}"
                                   "{% block body %}{{ unit_name }}（{{ unit_code }}）：{{ n }}项{% endblock %}", encoding="utf-8")
    (tmp_path / "f.j2").write_text("{% block subject %}{{ unit_name|length }}{% endblock %}{% block body %}{% endblock %}",
                                   encoding="utf-8")
    calls: list[str] = []
    whole = render.render_message
    monkeypatch.setattr(render, "render_message", lambda name, ctx, over=None: calls.append(name) or whole(name, ctx, over))
    letters = Letters(tmp_path)
    shared = {**BASE, "n": 3}
    got = [letters.render("t.j2", {**shared, "unit_name": name, "unit_code": code}, shared)
           for name, code in (("甲局", "510100"), ("乙局", "510300"), ("丙局", "510500"))]
    assert got[1] == ("【通知】乙局", "乙局（510300）：3项") and got[2][1] == "丙局（510500）：3项"
    assert calls == ["t.j2"]  # once for the three
    # A value of its own (not the shared object) makes another family, told apart by value and type.
    assert letters.render("t.j2", {**shared, "n": 4, "unit_name": "丁局", "unit_code": "1"}, shared)[1] == "丁局（1）：4项"
    assert letters.render("t.j2", {**shared, "n": 4.0, "unit_name": "戊局", "unit_code": "2"}, shared)[1] == "戊局（2）：4.0项"
    assert calls == ["t.j2"] * 3
    # One without a value the others share is another letter (here: a variable it lacks).
    lacking = {k: v for k, v in shared.items() if k != "n"} | {"unit_name": "壬局", "unit_code": "6"}
    with pytest.raises(ConfigError):
        letters.render("t.j2", lacking, shared)
    # Values that print apart are families apart: 0.0 and -0.0, a key 1 and a key True.
    assert letters.render("t.j2", {**shared, "n": -0.0, "unit_name": "癸局", "unit_code": "7"}, shared)[1] == "癸局（7）：-0.0项"
    assert letters.render("t.j2", {**shared, "n": 0.0, "unit_name": "子局", "unit_code": "8"}, shared)[1] == "子局（8）：0.0项"
    assert letters.render("t.j2", {**shared, "n": {1: 1}, "unit_name": "丑局", "unit_code": "9"}, shared)[1] == "丑局（9）：{1: 1}项"
    assert letters.render("t.j2", {**shared, "n": {True: 1}, "unit_name": "寅局", "unit_code": "10"}, shared)[1] == "寅局（10）：{True: 1}项"
    calls.clear()
    # A name with a space, a template using the name otherwise, a draft without ``alike``: rendered whole.
    assert letters.render("t.j2", {**shared, "unit_name": "己 局", "unit_code": "3"}, shared)[1] == "己 局（3）：3项"
    assert letters.render("f.j2", {**shared, "unit_name": "庚局", "unit_code": "4"}, shared)[0] == "2"
    assert letters.render("t.j2", {**shared, "unit_name": "辛局", "unit_code": "5"})[1] == "辛局（5）：3项"
    assert calls == ["t.j2", "f.j2", "t.j2"]
