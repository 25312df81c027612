"""Rounds of one programme in one database: `qcycle new-round` writes the next round's file,
`qcycle simulate A B` runs both in order, and the later round's review refuses the earlier
round's winners by its eligibility rule (may apply again only 5 years after winning)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from qcycle.cli import app

pytestmark = [pytest.mark.server, pytest.mark.slow]

AWARD_2021 = Path(__file__).resolve().parent.parent / "data" / "award-2021.yaml"


def test_a_later_round_refuses_the_earlier_rounds_winners(qcycle_home, tmp_path):
    from qcycle.flows.simulate import simulate_rounds

    later = tmp_path / "award-2023.yaml"
    made = CliRunner().invoke(app, ["new-round", str(AWARD_2021), "--year", "2023", "--out", str(later)])
    assert made.exit_code == 0, made.output
    assert "award-2023" in made.output and "code: award-2023" in later.read_text(encoding="utf-8")

    first, second = simulate_rounds([AWARD_2021, later], seed=3, home=tmp_path / "sim", show_progress=False)
    assert (first.round_code, second.round_code) == ("award-2021", "award-2023")
    engine = create_engine(f"sqlite:///{tmp_path / 'sim' / 'qcycle.db'}")
    try:
        with engine.connect() as conn:
            winners = {u for (u,) in conn.execute(text(
                "select r.unit_code from assessment_result r join programme_round p on p.id = r.round_id "
                "where p.code = 'award-2021' and r.grade = '区长质量奖'"))}
            applied = {u for (u,) in conn.execute(text(
                "select s.unit_code from submission s join programme_round p on p.id = s.round_id "
                "where p.code = 'award-2023' and s.kind = 'application' and s.status = 'accepted'"))}
            decided = {u: (outcome, by, note) for u, outcome, by, note in conn.execute(text(
                "select d.subject, d.outcome, d.decided_by, d.note from decision d join programme_round p "
                "on p.id = d.round_id where p.code = 'award-2023' and d.stage = 'eligibility'"))}
    finally:
        engine.dispose()
    assert winners & applied, (winners, applied)  # the seed gives a winner who applies again
    for unit in winners & applied:
        outcome, by, note = decided[unit]
        assert (outcome, by) == ("rejected", "rule:eligibility") and "2021年已获测试区长质量奖" in note
    assert all(decided[u][1] != "rule:eligibility" for u in applied - winners)


def test_a_simulated_round_keeps_its_own_letter_templates(qcycle_home, tmp_path):
    """某市's 质量月 wrote its 通报批评 letter as its own template beside the file (templates/ROUND/):
    validate found it, then `simulate` ran a copy of the file in a fresh folder and could not."""
    import json
    import shutil

    from qcycle.flows.simulate import simulate_rounds

    from qcycle.settings import REPO_ROOT

    mini = REPO_ROOT / "tests" / "data" / "mini.yaml"
    copy = tmp_path / "mini.yaml"
    shutil.copy(mini, copy)
    own = tmp_path / "templates" / "mini-2023"
    own.mkdir(parents=True)
    text = (REPO_ROOT / "config" / "templates" / "publication.j2").read_text(encoding="utf-8")
    subject = '{% block subject %}【{{ "通报" if title.startswith("通报") else "通知" }}】'
    assert text.count(subject) == 1
    (own / "publication.j2").write_text(text.replace(subject, "{% block subject %}【本市通知】"), encoding="utf-8")
    (report,) = simulate_rounds([copy], seed=3, home=tmp_path / "sim", show_progress=False)
    subjects = [json.loads(f.read_text(encoding="utf-8"))["subject"] for f in (tmp_path / "sim" / "sink").rglob("*.json")]
    assert report.round_code == "mini-2023" and subjects
    assert any(s.startswith("【本市通知】") for s in subjects), sorted(subjects)[:5]
