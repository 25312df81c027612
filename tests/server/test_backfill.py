"""`qcycle backfill FILE --from D1 --to D2`: reconcile each action time of the range, in order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from qcycle import db
from qcycle.cli import app
from qcycle.cli.deploy import backfill_moments
from qcycle.models import ActionRun

pytestmark = [pytest.mark.server]

MINI = Path(__file__).resolve().parent.parent / "data" / "mini.yaml"


def test_backfill_moments_are_the_action_times_of_the_range():
    moments = backfill_moments(MINI, dt.date(2023, 4, 3), dt.date(2023, 4, 14))
    assert moments == sorted(moments) and moments[0].strftime("%m-%d %H:%M") == "04-03 09:00"
    assert moments[-1].strftime("%m-%d %H:%M") == "04-14 17:30"


def test_backfill_reconciles_each_moment_in_order_and_sends_reminders_on_their_day(qcycle_home):
    result = CliRunner().invoke(app, ["backfill", str(MINI), "--from", "2023-04-03", "--to", "2023-04-14",
                                      "--channel", "sink"])
    assert result.exit_code == 0, result.output
    with db.session_scope() as session:
        rows = session.exec(select(ActionRun.action_key, ActionRun.outcome)).all()
    outcomes = {key.partition("@")[0]: outcome for key, outcome in rows}
    # Each reminder ran on its own day (not skipped as stale, as a single catch-up would).
    assert outcomes["application:reminder:T-3"] == "done" and outcomes["application:reminder:T-1"] == "done"
    assert outcomes["application:deadline"] == "done"
    assert "takers_review:decision_due" not in outcomes  # 04-17 is after the range
