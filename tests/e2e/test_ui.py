"""The run-history UI in a real headless Chromium: a simulated round's runs, states and grades.

A standalone Prefect server (subprocess) holds a simulated round of tests/data/mini.yaml;
Playwright drives Debian's Chromium (/usr/bin/chromium, installed by scripts/test.sh or here
when running as root) to the runs list, a run's page and the assessment artifact.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.prefect_proc import QCYCLE, REPO, flow_runs

pytestmark = [pytest.mark.server, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> Path:
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                       "chromium fonts-wqy-microhei", shell=True, check=False, capture_output=True)
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (/usr/bin/chromium) and could not be installed here")
    return CHROMIUM


@pytest.fixture(scope="module")
def simulated(prefect_process, tmp_path_factory):
    """A round of mini.yaml simulated against the standalone server, as an operator would."""
    home = tmp_path_factory.mktemp("ui-round")
    result = subprocess.run([QCYCLE, "simulate", str(REPO / "tests" / "data" / "mini.yaml"), "--home", str(home),
                             "--json"], check=False, env=prefect_process.client_env(), capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def page(prefect_process, simulated):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(executable), args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        pg.api_failures = []  # the UI's own API calls that the server refused
        pg.on("response", lambda r: pg.api_failures.append(f"{r.status} {r.request.method} {r.url}")
              if "/api/" in r.url and r.status >= 400 else None)
        yield pg
        browser.close()


def test_runs_are_listed_by_readable_names_and_completed(prefect_process, simulated, page):
    runs = flow_runs(prefect_process, "qcycle-reconcile", "mini-2023·对账")
    assert len(runs) >= simulated["ticks"] and all(r["state_type"] == "COMPLETED" for r in runs)

    page.goto(f"{prefect_process.ui}/runs", wait_until="networkidle")
    page.locator("input[placeholder='Search by flow run name']:visible").first.fill("mini-2023·对账")
    page.get_by_text("mini-2023·对账·2023-04-14 17:30").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "ui-runs.png"), full_page=True)
    body = page.inner_text("body")
    assert "Can't connect to Server API" not in body
    assert "mini-2023·对账·2023-04-03 09:00" in body
    assert "Completed" in body and "Failed" not in body
    assert not page.api_failures, page.api_failures

    target = next(r for r in runs if r["name"] == "mini-2023·对账·2023-04-14 17:30")
    page.goto(f"{prefect_process.ui}/runs/flow-run/{target['id']}", wait_until="networkidle")
    page.get_by_text("mini-2023·对账·2023-04-14 17:30").first.wait_for(timeout=30_000)
    page.get_by_text("Completed").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "ui-run.png"), full_page=True)
    assert not page.api_failures, page.api_failures


def test_assessment_artifact_shows_the_grades(prefect_process, simulated, page):
    page.goto(f"{prefect_process.ui}/artifacts", wait_until="networkidle")
    page.get_by_text("mini-2023-assessment").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "ui-artifacts.png"), full_page=True)

    # The key's page lists its versions (one per assessment run); the latest opens the table.
    page.goto(f"{prefect_process.ui}/artifacts/key/mini-2023-assessment", wait_until="networkidle")
    page.get_by_text("Created mini-2023-assessment").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "ui-artifact-key.png"), full_page=True)
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    page.wait_for_url("**/artifacts/artifact/**", timeout=30_000)
    page.get_by_text("等次").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "ui-assessment.png"), full_page=True)
    body = page.inner_text("body")
    grades = {g for g, n in simulated["grades"].items() if n}
    assert grades, simulated
    cells = {c.strip() for c in page.locator("td").all_inner_texts()}
    assert grades <= cells, (grades, sorted(cells)[:40])
    assert "总分" in body and "名次" in body
    assert not page.api_failures, page.api_failures


def test_a_run_page_shows_qcycle_own_log_lines(prefect_process, simulated, page):
    # The simulation ran with PREFECT_LOGGING_LEVEL=WARNING (as scripts/main.sh does): Prefect's
    # own INFO lines are off, qcycle's lines (what the run did, counts) are there.
    runs = flow_runs(prefect_process, "qcycle-reconcile", "mini-2023·对账")
    target = next(r for r in runs if r["name"] == "mini-2023·对账·2023-04-14 17:30")
    page.goto(f"{prefect_process.ui}/runs/flow-run/{target['id']}", wait_until="networkidle")
    page.get_by_text("对账完成：执行").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "ui-run-logs.png"), full_page=True)
    body = page.inner_text("body")
    assert "This run didn't generate logs" not in body
    assert "对账 测试用小周期（mini-2023），截至 2023-04-14 17:30：到期" in body
    assert "投递（截至 2023-04-14 17:30）：发送成功" in body
    assert "计划时间 2023-04-14 17:30" in body  # an action of that moment, with its own time
    assert not page.api_failures, page.api_failures
