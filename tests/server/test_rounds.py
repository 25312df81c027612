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
