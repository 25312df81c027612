"""A real HTTP source on 127.0.0.1 for the intake tests, and the P1 round.

The server checks the bearer token on every route (401 when missing or wrong) and serves one
scenario per path: good paging, retries, rate limits, slow replies, garbage pages, bad records;
and for the fault suite: bodies dripped a byte a second, a 200 MiB body made on the fly,
redirects (within the origin, to another server, in a loop) and a flapping endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from qcycle import db
from qcycle.settings import get_settings

P1 = Path(__file__).resolve().parents[2] / "config" / "programmes" / "sc-jbgs-2023.yaml"
TOKEN = "tok-Secr3t-9f8e7d6c5b"  # the secret every test looks for
TOKEN_ENV = "QCYCLE_TEST_INTAKE_TOKEN"

# Seven records of P1, English and Chinese keys mixed, one of each outcome.
GOOD_RECORDS: list[dict[str, Any]] = [
    {"kind": "application", "unit": "510100", "item": "zlcx-01", "id": "A1",
     "submitted_at": "2023-04-18T10:00:00+08:00", "payload": {"联系人": "王芳"}},
    {"材料种类": "揭榜书", "单位代码": "510300", "项目代码": "cxyl-02", "编号": "A2",
     "提交时间": "2023-04-19 16:00"},
    {"kind": "application", "unit": "510400", "item": "zlcx-03", "id": "A3",
     "submitted_at": "2023-04-21T09:00:00+08:00"},  # after 4月20日 17:30: not accepted
    {"kind": "progress_report", "unit": "510100", "item": "zlcx-01", "period": "2023-07",
     "submitted_at": "2023-07-10T09:00:00+08:00"},
    {"kind": "进展报告", "unit": "510300", "item": "cxyl-02", "period": "2023-07",
     "submitted_at": "2023-07-15T09:00:00+08:00"},  # late, accepted and flagged
    {"kind": "score", "unit": "510100", "reviewer": "张三", "component": "effect", "value": 88},
    {"kind": "评分", "unit": "510100", "评审人": "李四", "评分部分": "innovation", "分数": "91"},
]  # fmt: skip

BAD_RECORDS: list[Any] = [
    {"kind": "application", "unit": "510500", "item": "zlcx-02",
     "submitted_at": "2023-04-12T10:00:00+08:00"},  # the one good record of the page
    {"kind": "application", "unit": "999999", "item": "zlcx-01",
     "submitted_at": "2023-04-10T10:00:00+08:00"},
    {"kind": "application", "unit": "510600", "submitted_at": "2023年13月40日"},
    42,
    {"kind": "wish", "unit": "510100"},
    {"kind": "score", "unit": "510100", "reviewer": "王五", "component": "effect", "value": "很好"},
]  # fmt: skip


@dataclass
class SourceServer:
    base: str
    hits: Counter = field(default_factory=Counter)
    requests: list[str] = field(default_factory=list)
    auth_seen: list[str | None] = field(default_factory=list)
    redirect_to: str = ""  # base URL of another server that /moved sends clients to

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _page(q: dict[str, str]) -> int:
    return int(q.get("page", "1"))


def _slice(q: dict[str, str], records: list[Any]) -> tuple[list[Any], bool]:
    page, size = _page(q), int(q.get("page_size", "100"))
    return records[(page - 1) * size : page * size], page * size < len(records)


Reply = tuple[int, Any, dict[str, str]]  # status, body (str = raw text), extra headers


def _good(q, hits) -> Reply:
    records, more = _slice(q, GOOD_RECORDS)
    return 200, {"records": records, "has_more": more, "page": _page(q)}, {}


def _cursor(q, hits) -> Reply:
    if q.get("cursor") == "b":
        return 200, {"records": GOOD_RECORDS[2:4], "next": None}, {}
    return 200, {"records": GOOD_RECORDS[:2], "next": "/cursor?cursor=b"}, {}


def _link_loop(q, hits) -> Reply:
    """Pages 1 and 2 link to each other: a pull that does not notice fetches forever."""
    if q.get("cursor") == "b":
        return 200, {"records": GOOD_RECORDS[2:4], "next": "/link-loop?cursor=a"}, {}
    return 200, {"records": GOOD_RECORDS[:2], "next": "/link-loop?cursor=b"}, {}


def _first_page_only(records: list[Any]) -> Callable[[dict[str, str], int], Reply]:
    def reply(q, hits) -> Reply:
        return 200, (records if _page(q) == 1 else []), {}

    return reply


def _flaky(q, hits) -> Reply:
    if hits == 1:
        return 500, "<html>Internal Server Error</html>", {"Content-Type": "text/html"}
    return _first_page_only(GOOD_RECORDS[:1])(q, hits)


def _limited(q, hits) -> Reply:
    if hits == 1:
        return 429, {"error": "too many requests"}, {"Retry-After": "1"}
    return _first_page_only(GOOD_RECORDS[:1])(q, hits)


def _slow(q, hits) -> Reply:
    time.sleep(0.6)
    return 200, [], {}


def _slow_once(q, hits) -> Reply:
    if hits == 1:
        time.sleep(0.6)
    return _first_page_only(GOOD_RECORDS[:1])(q, hits)


def _html(q, hits) -> Reply:
    if _page(q) == 1:
        return (
            200,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            {"Content-Type": "text/html"},
        )
    return 200, {"records": GOOD_RECORDS[:1], "has_more": False}, {}


def _truncated(q, hits) -> Reply:
    page = _page(q)
    if page == 1:
        return 200, {"records": GOOD_RECORDS[:1], "has_more": True}, {}
    if page == 2:
        return 200, '{"records": [{"kind": "applica', {}
    return 200, {"records": GOOD_RECORDS[1:2], "has_more": False}, {}


def _shape(q, hits) -> Reply:
    return 200, ({"data": "维护中"} if _page(q) == 1 else []), {}


def _cursor_broken(q, hits) -> Reply:
    if q.get("cursor") == "x":
        return 200, "Service Unavailable", {"Content-Type": "text/plain"}
    return 200, {"records": GOOD_RECORDS[:1], "next": "/cursor-broken?cursor=x"}, {}


def _flapping(q, hits) -> Reply | str:
    # Per page: 503, then a connection cut mid-body, then the page.
    return ((503, "busy", {}), "/cut", _good(q, hits))[(hits - 1) % 3]


def _then_drip(q, hits) -> Reply | str:
    return _good(q, hits) if _page(q) == 1 else "/drip"


def _redirect(location: Callable[[SourceServer, str], str]) -> Callable[..., Reply]:
    def reply(q, hits, state: SourceServer, query: str) -> Reply:
        return 302, "", {"Location": location(state, query)}

    return reply


REDIRECTS: dict[str, Callable[..., Reply]] = {
    "/moved": _redirect(lambda state, query: f"{state.redirect_to}/open-good?{query}"),
    "/moved-home": _redirect(lambda state, query: f"/good?{query}"),
    "/loop": _redirect(lambda state, query: "/loop"),
    "/bad-location": _redirect(lambda state, query: "http://[::1"),
}

HUGE_BYTES = 200 * 1024 * 1024
DRIP_BYTES = 600  # ten minutes at a byte a second: longer than any test waits


def _stream_huge(handler: BaseHTTPRequestHandler) -> None:
    """A 200 MiB JSON body written 64 KiB at a time, never held whole."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(HUGE_BYTES))
    handler.end_headers()
    head, filler = b'{"records": [', b'{"kind": "x"}, ' * 4096
    handler.wfile.write(head)
    sent = len(head)
    while sent < HUGE_BYTES:
        chunk = filler[: HUGE_BYTES - sent]
        handler.wfile.write(chunk)
        sent += len(chunk)


def _drip_body(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(DRIP_BYTES))
    handler.end_headers()
    for _ in range(DRIP_BYTES):
        handler.wfile.write(b" ")
        time.sleep(1)


def _cut_body(handler: BaseHTTPRequestHandler) -> None:
    """Headers promise a body that stops halfway: the connection drops."""
    data = json.dumps({"records": GOOD_RECORDS}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data[: len(data) // 2])
    handler.close_connection = True


def _drip_headers(handler: BaseHTTPRequestHandler) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Filler: " + b"x" * DRIP_BYTES:
        handler.wfile.write(bytes([byte]))
        time.sleep(1)


STREAMS: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
    "/huge": _stream_huge,
    "/drip": _drip_body,
    "/drip-headers": _drip_headers,
    "/cut": _cut_body,
}

ROUTES: dict[str, Callable[[dict[str, str], int], Reply | str]] = {
    "/good": _good,
    "/cursor": _cursor,
    "/flaky": _flaky,
    "/limited": _limited,
    "/slow": _slow,
    "/slow-once": _slow_once,
    "/html": _html,
    "/truncated": _truncated,
    "/shape": _shape,
    "/cursor-broken": _cursor_broken,
    "/mixed": _first_page_only(BAD_RECORDS),
    "/link-loop": _link_loop,
    "/always-500": lambda q, hits: (503, "busy", {}),
    "/flapping": _flapping,
    "/then-drip": _then_drip,
    "/next-elsewhere": lambda q, hits: (
        200,
        {"records": GOOD_RECORDS[:1], "next": "http://other.invalid:8443/x?sign=s3cr3t"},
        {},
    ),  # page 1 at once, page 2 a byte a second
    "/open-good": _good,  # the target of /moved: a signed link of another origin, no token
}


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        state: SourceServer = self.server.state
        parts = urlsplit(self.path)
        route, q = parts.path, dict(parse_qsl(parts.query))
        state.hits[route] += 1
        state.requests.append(self.path)
        auth = self.headers.get("Authorization")
        state.auth_seen.append(auth)
        if route == "/echo":  # a debug page that shows the request, token included
            return self._send(200, f"<pre>GET {self.path}\nAuthorization: {auth}</pre>", {})
        if auth != f"Bearer {TOKEN}" and not route.startswith("/open-"):
            return self._send(401, {"error": "invalid token"}, {"WWW-Authenticate": "Bearer"})
        if route in REDIRECTS:
            return self._send(*REDIRECTS[route](q, state.hits[route], state, parts.query))
        if route in STREAMS:
            try:
                return STREAMS[route](self)
            except (BrokenPipeError, ConnectionResetError):
                return None  # the client gave up, as it should
        handler = ROUTES.get(route)
        if handler is None:
            return self._send(404, {"error": "not found"}, {})
        reply = handler(q, state.hits[route])
        if isinstance(reply, str):  # the name of a streamed behaviour
            try:
                return STREAMS[reply](self)
            except (BrokenPipeError, ConnectionResetError):
                return None
        return self._send(*reply)

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
        self.send_response(status)
        if "Content-Type" not in headers:
            content_type = "text/plain" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left, as it should

    def log_message(self, *args: Any) -> None:
        pass


def _serve() -> Iterator[SourceServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    state = SourceServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def source_server() -> Iterator[SourceServer]:
    yield from _serve()


@pytest.fixture
def other_server(source_server: SourceServer) -> Iterator[SourceServer]:
    """A second server (another port, so another origin); /moved of source_server leads here."""
    for state in _serve():
        source_server.redirect_to = state.base
        yield state


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN_ENV


@pytest.fixture
def qcycle_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """QCYCLE_HOME in tmp_path: the CLI and tasks use the default database there."""
    monkeypatch.setenv("QCYCLE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QCYCLE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    db.dispose_engines()
    yield tmp_path / "home"
    db.dispose_engines()
    get_settings.cache_clear()
