"""A stand-in for the WeCom, DingTalk and Feishu bot APIs (and a plain webhook) on 127.0.0.1.

Real HTTP on a real socket (stdlib ``ThreadingHTTPServer``), so the code under test goes through
httpx exactly as in production. Each test sets how the server answers:

=============  =====================================================================
behaviour      answer
=============  =====================================================================
``ok``         the service's success reply (HTTP 200, code 0)
``ok_legacy``  Feishu's older success shape ``{"StatusCode": 0}`` (others: as ``ok``)
``errcode``    HTTP 200 with a non-zero, non-retryable code (invalid key / keyword)
``ratelimit``  HTTP 200 with the service's rate-limit code (45009 / 130101 / 9499)
``429``        HTTP 429 with ``Retry-After`` (``retry_after`` seconds)
``500``        HTTP 500
``400``        HTTP 400 with a JSON error body
``slow``       waits ``delay`` seconds, then answers ``ok``
``notjson``    HTTP 200 with an HTML page
=============  =====================================================================

Messages longer than the services take are refused as they refuse them (WeCom: text over 2,048
bytes or markdown over 4,096, errcode 40058; DingTalk and Feishu: a request body over 20,000
bytes / 20 KB), whatever the behaviour set.

``behave("429", "ok")`` answers 429 to the first request and ``ok`` to every later one;
``behave_for(token, ...)`` sets the answers for one bot only.
``close()`` stops listening: later connections are refused. Signed DingTalk/Feishu requests
are verified when a secret is registered with ``add_secret``; a bad signature gets the
service's signature error. Every request is recorded with its arrival time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["BotServer", "Received", "running_botserver"]

SUCCESS = {
    "wecom": {"errcode": 0, "errmsg": "ok"},
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "feishu": {"code": 0, "msg": "success", "data": {}},
    "webhook": {"ok": True},
}
ERRCODE = {
    "wecom": {"errcode": 93000, "errmsg": "invalid webhook url, hint: [x]"},
    "dingtalk": {"errcode": 310000, "errmsg": "keywords not in content"},
    "feishu": {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"},
    "webhook": {"ok": False},
}
RATELIMIT = {
    "wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
    "dingtalk": {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
    "feishu": {"code": 9499, "msg": "Too Many Requests"},
    "webhook": {"ok": False},
}
# What each service answers a message longer than it takes (WeCom counts the content, the others the body).
TOO_LONG = {
    "wecom": lambda n, what: {"errcode": 40058, "errmsg": f"{what}.content exceed max length {n}. invalid Request Parameter"},
    "dingtalk": lambda n, what: {"errcode": 460101, "errmsg": f"message too long, exceed {n} bytes"},
    "feishu": lambda n, what: {"code": 19001, "msg": f"param invalid: request body exceeds {n} bytes"},
}


def _too_long(kind: str, raw: bytes, payload: Any) -> dict | None:
    """The service's refusal of a message longer than it takes, or None."""
    if kind == "wecom" and isinstance(payload, dict):
        for what, limit in (("text", 2048), ("markdown", 4096)):
            content = (payload.get(what) or {}).get("content", "")
            if len(content.encode("utf-8")) > limit:
                return TOO_LONG[kind](limit, what)
    elif kind in ("dingtalk", "feishu"):
        limit = 20000 if kind == "dingtalk" else 20480
        if len(raw) > limit:
            return TOO_LONG[kind](limit, "body")
    return None


BAD_SIGN = {
    "dingtalk": {"errcode": 310000, "errmsg": "sign not match"},
    "feishu": {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"},
}


@dataclass
class Received:
    at: float  # time.monotonic() on arrival
    kind: str
    token: str
    path: str
    query: dict[str, str]
    payload: Any
    headers: dict[str, str]


@dataclass
class BotServer:
    httpd: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    behaviours: list[str] = field(default_factory=lambda: ["ok"])
    delay: float = 1.0
    retry_after: float = 0.2
    secrets: dict[str, str] = field(default_factory=dict)
    per_token: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def behave(
        self, *behaviours: str, delay: float | None = None, retry_after: float | None = None
    ) -> None:
        with self.lock:
            self.behaviours = list(behaviours) or ["ok"]
            if delay is not None:
                self.delay = delay
            if retry_after is not None:
                self.retry_after = retry_after

    def behave_for(self, token: str, *behaviours: str) -> None:
        """Behaviours for requests to one bot token only (others use :meth:`behave`)."""
        with self.lock:
            self.per_token[token] = list(behaviours) or ["ok"]

    def add_secret(self, token: str, secret: str) -> None:
        self.secrets[token] = secret

    def next_behaviour(self, token: str) -> str:
        with self.lock:
            queue = self.per_token.get(token, self.behaviours)
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def requests_for(self, token: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.token == token]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.httpd.shutdown()
            self.httpd.server_close()


def _classify(path: str, query: dict[str, str]) -> tuple[str, str]:
    if path == "/cgi-bin/webhook/send":
        return "wecom", query.get("key", "")
    if path == "/robot/send":
        return "dingtalk", query.get("access_token", "")
    if path.startswith("/open-apis/bot/v2/hook/"):
        return "feishu", path.rsplit("/", 1)[-1]
    return "webhook", path


def _signature_ok(kind: str, secret: str, query: dict[str, str], payload: Any) -> bool:
    if kind == "dingtalk":
        timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
        digest = hmac.new(
            secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256
        ).digest()
    else:
        timestamp, sign = str(payload.get("timestamp", "")), str(payload.get("sign", ""))
        digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    if not timestamp:
        return False
    return hmac.compare_digest(base64.b64encode(digest).decode(), sign)


def _handler_for(server: BotServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the stdlib would print request lines (with keys) to stderr

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json" if not isinstance(body, bytes) else "text/html"
            )
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            # No keep-alive: after close() every new request must meet a refused connection.
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            arrived = time.monotonic()
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                payload = json.loads(raw.decode("utf-8")) if raw else None
            except ValueError:
                payload = raw.decode("utf-8", "replace")
            kind, token = _classify(parts.path, query)
            server.record(
                Received(
                    arrived, kind, token, parts.path, query, payload, dict(self.headers.items())
                )
            )
            behaviour = server.next_behaviour(token)
            if (refused := _too_long(kind, raw, payload)) is not None:
                self._reply(200, refused)
                return
            secret = server.secrets.get(token)
            fields = payload if isinstance(payload, dict) else {}
            if (
                secret
                and kind in BAD_SIGN
                and behaviour == "ok"
                and not _signature_ok(kind, secret, query, fields)
            ):
                self._reply(200, BAD_SIGN[kind])
                return
            if behaviour == "slow":
                time.sleep(server.delay)
                behaviour = "ok"
            if behaviour == "ok":
                self._reply(200, SUCCESS[kind])
            elif behaviour == "ok_legacy":
                body = (
                    {"StatusCode": 0, "StatusMessage": "success"}
                    if kind == "feishu"
                    else SUCCESS[kind]
                )
                self._reply(200, body)
            elif behaviour == "errcode":
                self._reply(200, ERRCODE[kind])
            elif behaviour == "ratelimit":
                self._reply(200, RATELIMIT[kind])
            elif behaviour == "429":
                self._reply(429, RATELIMIT[kind], {"Retry-After": f"{server.retry_after:g}"})
            elif behaviour == "500":
                self._reply(500, b"<html>internal error</html>")
            elif behaviour == "400":
                self._reply(400, ERRCODE[kind])
            elif behaviour == "notjson":
                self._reply(200, b"<html>portal</html>")
            else:
                raise AssertionError(f"unknown behaviour {behaviour}")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out leaves a broken pipe behind: expected in the "slow" tests.
        pass


def start_botserver() -> BotServer:
    httpd = _QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = BotServer(httpd)
    httpd.RequestHandlerClass = _handler_for(server)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server


def running_botserver() -> Iterator[BotServer]:
    """Generator for a pytest fixture: a fresh server per test, closed afterwards."""
    server = start_botserver()
    try:
        yield server
    finally:
        server.close()
