"""`qcycle serve` / `qcycle deploy` right after `prefect server start &` (as the runbook says):
they wait for the API instead of failing with a traceback, and say what to check if it never
answers or refuses the credentials. Real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
from qcycle.deploy.deployments import wait_for_server

from qcycle.errors import QcycleError
from tests.servers import free_port


def _health_server(port: int, status: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(status if self.path == "/api/health" else 404)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"true")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_waits_for_a_server_that_comes_up_later(capsys):
    port = free_port()
    late: list[ThreadingHTTPServer] = []
    timer = threading.Timer(1.5, lambda: late.append(_health_server(port, 200)))
    timer.start()
    started = time.monotonic()
    try:
        with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
            wait_for_server(timeout=30, poll=0.2)
    finally:
        timer.join()
        for server in late:
            server.shutdown()
            server.server_close()
    assert time.monotonic() - started >= 1.4  # it did wait, and it did not give up
    assert "等待 Prefect 服务器" in capsys.readouterr().err


def test_says_what_to_check_when_nothing_answers():
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}), \
            pytest.raises(QcycleError, match="没有响应.*prefect server start.*PREFECT_API_URL"):
        wait_for_server(timeout=1, poll=0.2)


def test_refused_credentials_are_named_at_once():
    port = free_port()
    server = _health_server(port, 401)
    try:
        with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api",
                                 PREFECT_API_AUTH_STRING: "admin:wrong"}), \
                pytest.raises(QcycleError, match="PREFECT_API_AUTH_STRING"):
            wait_for_server(timeout=30, poll=0.2)
    finally:
        server.shutdown()
        server.server_close()
