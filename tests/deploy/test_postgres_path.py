"""The production path on one machine: Prefect server on PostgreSQL with basic auth, the
application database on PostgreSQL, a round run as flow runs by an authenticated client.

Uses the session's throwaway PostgreSQL (``postgres_url``) with two more databases, one for
Prefect and one for this round, and a real ``prefect server start`` (about 10 s).
"""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.prefect_proc import QCYCLE, REPO, flow_runs, prefect_server_process

pytestmark = [pytest.mark.postgres, pytest.mark.server, pytest.mark.slow]


def test_round_on_postgres_with_basic_auth(postgres_url, tmp_path):
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url)
    admin = f"postgresql://postgres@{base.host}:{base.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE prefect")
        conn.execute("CREATE DATABASE qcycle_prod")
    prefect_db = f"postgresql+asyncpg://postgres@{base.host}:{base.port}/prefect"
    app_db = f"postgresql+psycopg://postgres@{base.host}:{base.port}/qcycle_prod"

    with prefect_server_process(tmp_path / "server", database_url=prefect_db, auth="admin:secret") as server:
        # An unauthenticated client is refused.
        refused = httpx.post(f"{server.url}/flow_runs/filter", json={}, timeout=30)
        assert refused.status_code == 401
        assert httpx.post(f"{server.url}/flow_runs/filter", json={}, auth=("admin", "wrong"),
                          timeout=30).status_code == 401

        env = server.client_env(QCYCLE_DATABASE_URL=app_db)
        upgraded = subprocess.run([QCYCLE, "db", "upgrade"], check=False, env=env, capture_output=True, text=True,
                                  cwd=REPO, timeout=120)
        assert upgraded.returncode == 0, upgraded.stderr
        result = subprocess.run([QCYCLE, "simulate", str(REPO / "tests" / "data" / "mini.yaml"),
                                 "--home", str(tmp_path / "sim"), "--seed", "7", "--json"], check=False,
                                env=env, capture_output=True, text=True, cwd=REPO, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout)

        runs = flow_runs(server, "qcycle-reconcile", "mini-2023·对账")
        assert len(runs) >= report["ticks"] and all(r["state_type"] == "COMPLETED" for r in runs)
        latest = {a["key"]: a for a in server.post("/artifacts/latest/filter",
                                                   {"artifacts": {"key": {"like_": "mini-2023"}}}).json()}
        assert latest["mini-2023-assessment"]["type"] == "table"
        assert "mini-2023-status" in latest

    # The server's own tables are in PostgreSQL, and so are the round's results.
    with psycopg.connect(f"postgresql://postgres@{base.host}:{base.port}/prefect") as conn:
        assert conn.execute("select count(*) from flow_run").fetchone()[0] >= report["ticks"]
    engine = create_engine(app_db)
    try:
        with engine.connect() as conn:
            results = conn.execute(text("select grade, count(*) from assessment_result group by grade")).all()
            done = conn.execute(text("select count(*) from action_run where outcome = 'done'")).scalar()
    finally:
        engine.dispose()
    assert {g: n for g, n in results} == {g: n for g, n in report["grades"].items() if n}
    assert done == report["actions_done"] > 0
