"""The secret scan through a real reconcile run: an SMTP password and a bot key, set only in
environment variables that a programme's channels name, appear nowhere the product writes —
logs (apprise's debug lines included), the application database, the Prefect server's flow run
parameters, logs and artifacts, the run's result, or error text."""

from __future__ import annotations

import datetime as dt
import io
import logging
import sqlite3
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from qcycle.clock import at
from qcycle.settings import get_settings
from tests.notify.botserver import running_botserver
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, _run_smtp

pytestmark = [
    pytest.mark.server,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

MINI = Path(__file__).resolve().parent.parent / "data" / "mini.yaml"
BOT_KEY = "5ecret-w3com-key-0F1E2D"


def _programme(tmp_path: Path) -> Path:
    text = MINI.read_text(encoding="utf-8").replace(
        "  - {name: sink, kind: sink}",
        "  - {name: mail, kind: email, url: env:QCYCLE_TEST_SMTP_URL}\n"
        "  - {name: bot, kind: wecom, url: env:QCYCLE_TEST_WECOM_URL}",
    )
    for code in ("p", "c1", "c2", "c3", "c4"):
        text = text.replace(f"{{code: {code}, ", f"{{code: {code}, email: {code}@example.gov.cn, ", 1)
    text = text.replace("channels: [sink]", "channels: [mail, bot]")
    path = tmp_path / "mini-secret.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _api(path: str, body: dict) -> str:
    from prefect.settings import PREFECT_API_URL

    reply = httpx.post(f"{PREFECT_API_URL.value()}{path}", json=body, timeout=30)
    reply.raise_for_status()
    return reply.text


def test_secrets_never_leave_their_environment_variables(qcycle_home, tmp_path, monkeypatch):
    from qcycle.flows.lifecycle import reconcile

    secrets = [SMTP_PASSWORD, BOT_KEY]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("apprise").setLevel(logging.DEBUG)
    try:
        for smtp in _run_smtp(auth_required=True):
            for bot in running_botserver():
                # The bot refuses the first message with an errcode, so an error is recorded.
                bot.behave("errcode", "ok", delay=0)
                monkeypatch.setenv("QCYCLE_TEST_SMTP_URL", smtp.url(auth=f"{SMTP_USER}:{quote(SMTP_PASSWORD, safe='')}"))
                monkeypatch.setenv("QCYCLE_TEST_WECOM_URL", f"qwecom://{BOT_KEY}?base={bot.base}&rate=600/60")
                get_settings.cache_clear()
                summary = reconcile(programme_file=str(_programme(tmp_path)),
                                    as_of=at(dt.date(2023, 4, 3), dt.time(10)))
                received_mail = len(smtp.inbox.messages)
                received_bot = len(bot.requests_for(BOT_KEY))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    # Not vacuous: messages really went out through both channels, and one failed.
    assert received_mail > 0 and received_bot > 0
    assert summary["messages"]["sent"] > 0

    db_file = Path(qcycle_home) / "qcycle.db"
    with sqlite3.connect(db_file) as conn:
        database = "\n".join(conn.iterdump())
    # The refused bot message left its error text in the outbox: that text is scanned too.
    assert "93000" in database
    places = {
        "logs": stream.getvalue(),
        "application database": database,
        "flow run parameters": _api("/flow_runs/filter", {"limit": 200}),
        "flow run logs": _api("/logs/filter", {"limit": 200}),
        "artifacts": _api("/artifacts/filter", {"limit": 200}),
        "run result": repr(summary),
    }
    # Apprise logged at DEBUG (where it would print keys in clear without our redaction).
    assert "apprise" in places["logs"].lower() or "smtp" in places["logs"].lower()
    for where, text in places.items():
        assert text, f"nothing read from {where}"
        for secret in secrets:
            assert secret not in text, f"secret leaked in {where}"
            assert quote(secret, safe="") not in text, f"URL-quoted secret leaked in {where}"
