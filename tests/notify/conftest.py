"""Real servers on 127.0.0.1 for the delivery tests: a bot stand-in and SMTP servers."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from qcycle.settings import get_settings
from tests.notify.botserver import BotServer, running_botserver
from tests.prefect_proc import free_port

SMTP_USER = "qcycle"
SMTP_PASSWORD = "Smtp-Pa55word-7f3e"  # the secret the secret scan looks for


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every accepted mail; some addresses are refused on purpose."""

    messages: list[tuple[Any, EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int

    def url(self, *, auth: str | None = None, extra: str = "") -> str:
        userinfo = f"{auth}@" if auth else ""
        return (
            f"mailto://{userinfo}127.0.0.1:{self.port}"
            f"?from=qcycle@example.gov.cn&mode=insecure&name=质量工作办公室{extra}"
        )


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    # handled=False: let aiosmtpd answer 535 itself (handled=True means "I replied").
    return AuthResult(success=ok, handled=False)


def _run_smtp(auth_required: bool) -> Iterator[SmtpServer]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_required=auth_required,
        auth_require_tls=False,  # plain-text AUTH on 127.0.0.1, as a test relay
    )
    controller.start()
    try:
        yield SmtpServer(inbox, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _run_smtp(auth_required=False)


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    yield from _run_smtp(auth_required=True)


@pytest.fixture
def botserver() -> Iterator[BotServer]:
    yield from running_botserver()


@pytest.fixture(autouse=True)
def _short_backoff(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A retry within a delivery call after ~10 ms, not ~0.5 s: what is tested is that and how often it is tried
    again (tests of the waits themselves give ``backoff_base``). The outbox's tests had slept ~15 s in all.
    Not for a test marked ``product_backoff``: it checks the product's own waits."""
    from qcycle.notify import deliver

    if request.node.get_closest_marker("product_backoff") is None:
        monkeypatch.setattr(deliver, "BACKOFF_BASE_SECONDS", 0.01)


@pytest.fixture(autouse=True)
def _sink_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings point at a temporary home, so the default sink writes there."""
    monkeypatch.setenv("QCYCLE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QCYCLE_SINK_DIR", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home" / "sink"
    get_settings.cache_clear()


@pytest.fixture
def home_db(_sink_in_tmp: Path) -> Iterator[None]:
    """A fresh migrated SQLite database under the test's QCYCLE_HOME (modules of the outbox use it
    for every test: ``pytestmark = pytest.mark.usefixtures("home_db")``)."""
    from qcycle import db
    from tests.homes import migrated

    db.dispose_engines()
    migrated()
    yield
    db.dispose_engines()
