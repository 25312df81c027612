"""Channel throughput: messages/second through qcycle's channels against a plain-client floor.

- SMTP: a real local SMTP server (aiosmtpd ``Controller`` on 127.0.0.1). qcycle: ``deliver_batch``
  over ``EmailChannel`` (apprise's mailto plugin; rate limit lifted with ``?rate=``); floor:
  ``smtplib`` with ONE connection sending N messages.
- Bots: a keep-alive WeCom stand-in in its own process, and the tests' stand-in
  ``tests/notify/botserver.py`` (HTTP/1.0, in this process), on 127.0.0.1. qcycle: ``deliver_batch`` over ``WeComChannel`` with ``?base=`` and ``?rate=``
  (one bot, and 20 bots: a bot takes one message at a time, so fan-out is across bots);
  floor: one ``httpx.Client`` posting N messages on one connection.

    python bench/channels.py --messages 500 --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["measure_channels"]

NO_LIMIT = "1000000/1"
SUBJECT = "关于提交揭榜书的提醒"
BODY = "各单位：请于2025年4月25日17:30前提交揭榜书。逾期不予受理。\n" * 5


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def _rate(n: int, seconds: float) -> dict[str, Any]:
    return {"messages": n, "seconds": round(seconds, 3), "msg_per_s": round(n / seconds, 1) if seconds else None}


def _smtp(n: int, workers: int) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    from qcycle.notify.deliver import Message, deliver_batch
    from tests.servers import free_port

    handler = _Counter()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        # Floor: one connection, N messages.
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "qcycle@example.gov.cn", f"u{i}@example.cn", SUBJECT
                msg.set_content(BODY)
                smtp.send_message(msg)
        floor = _rate(n, time.perf_counter() - start)
        floor["received"] = handler.count
        # qcycle: deliver_batch over EmailChannel (apprise's mailto plugin on kept connections).
        os.environ["BENCH_SMTP_URL"] = (f"mailto://127.0.0.1:{port}?from=qcycle@example.gov.cn"
                                        f"&mode=insecure&rate={NO_LIMIT}")
        messages = [Message(id=f"m{i}", channel="env:BENCH_SMTP_URL", subject=SUBJECT, body=BODY,
                            recipient=f"u{i}@example.cn") for i in range(n)]
        deliver_batch([Message(id="warm", channel="env:BENCH_SMTP_URL", subject=SUBJECT, body=BODY,
                               recipient="warm@example.cn")], max_workers=workers)  # warm up, as above
        handler.count = 0
        start = time.perf_counter()
        results = deliver_batch(messages, max_workers=workers)
        qc = _rate(n, time.perf_counter() - start)
        qc["ok"] = sum(1 for _, r in results if r.ok)
        qc["received"] = handler.count
        qc["errors"] = sorted({r.error for _, r in results if not r.ok})[:3]
    finally:
        ctl.stop()
    return {"floor_smtplib_one_connection": floor, "qcycle_deliver_batch": qc,
            "ratio_floor_over_qcycle": round(floor["msg_per_s"] / qc["msg_per_s"], 2) if qc["msg_per_s"] else None}


def _serve_keepalive(conn: Any, counter: Any) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with counter.get_lock():
                counter.value += 1
            body = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    httpd = Server(("127.0.0.1", 0), Handler)
    conn.send(httpd.server_address[1])
    httpd.serve_forever(poll_interval=0.05)


class _KeepAliveBot:
    """A minimal WeCom stand-in speaking HTTP/1.1 keep-alive (the tests' server answers with
    HTTP/1.0, one connection per request, which caps what any client can reach). It runs in
    its own process, as a bot API does: in the measured process it would take the GIL from
    the client being measured."""

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.counter = ctx.Value("i", 0)
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve_keepalive, args=(child, self.counter), daemon=True)
        self.proc.start()
        self.base = f"http://127.0.0.1:{parent.recv()}"

    @property
    def received(self) -> list[int]:
        return [1] * self.counter.value

    def close(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


def _bots(n: int, workers: int, bots: int, server_kind: str = "keepalive") -> dict[str, Any]:
    import httpx

    from qcycle.notify.deliver import Message, deliver_batch

    if server_kind == "tests":
        from tests.notify.botserver import start_botserver

        server = start_botserver()
    else:
        server = _KeepAliveBot()
    try:
        payload = {"msgtype": "text", "text": {"content": f"{SUBJECT}\n{BODY}"}}
        start = time.perf_counter()
        with httpx.Client() as client:
            for _ in range(n):
                r = client.post(f"{server.base}/cgi-bin/webhook/send", params={"key": "floor"}, json=payload)
                r.raise_for_status()
        floor = _rate(n, time.perf_counter() - start)
        out: dict[str, Any] = {"floor_httpx_one_connection": floor}
        # The fan-out floor: the same client from `workers` threads at once (what the server
        # stand-in and this machine allow for concurrent posts, whatever the client).
        from concurrent.futures import ThreadPoolExecutor

        start = time.perf_counter()
        with httpx.Client() as client, ThreadPoolExecutor(workers) as pool:
            for r in pool.map(lambda _: client.post(f"{server.base}/cgi-bin/webhook/send",
                                                    params={"key": "floor"}, json=payload), range(n)):
                r.raise_for_status()
        out[f"floor_httpx_{workers}_threads"] = _rate(n, time.perf_counter() - start)
        for count in sorted({1, bots}):
            refs = []
            for b in range(count):
                name = f"BENCH_WECOM_{b}"
                os.environ[name] = f"qwecom://benchkey{b}?base={server.base}&rate={NO_LIMIT}"
                refs.append(f"env:{name}")
            messages = [Message(id=f"b{i}", channel=refs[i % count], subject=SUBJECT, body=BODY) for i in range(n)]
            # Warm up (apprise's plugins load on first use; the floor's client is warm too).
            deliver_batch([Message(id=f"w{i}", channel=refs[i % count], subject=SUBJECT, body=BODY)
                           for i in range(count)], max_workers=workers)
            start = time.perf_counter()
            results = deliver_batch(messages, max_workers=workers)
            qc = _rate(n, time.perf_counter() - start)
            qc["ok"] = sum(1 for _, r in results if r.ok)
            qc["errors"] = sorted({r.error for _, r in results if not r.ok})[:3]
            out[f"qcycle_deliver_batch_{count}_bot{'s' if count > 1 else ''}"] = qc
        out["received"] = len(server.received)
        out["server"] = "tests/notify/botserver.py (HTTP/1.0)" if server_kind == "tests" else "bench keep-alive stand-in (HTTP/1.1)"
    finally:
        server.close()
    return out


def measure_channels(n: int = 500, workers: int = 8, bots: int = 20) -> dict[str, Any]:
    from bench.run import machine

    return {"messages": n, "max_workers": workers, "smtp": _smtp(n, workers),
            "wecom_bot": _bots(n, workers, bots, "keepalive"),
            "wecom_bot_tests_server": _bots(n, workers, bots, "tests"),
            "targets": {"smtp_msg_per_s": 200, "bot_msg_per_s": 1000}, "machine": machine()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=8, help="deliver_batch max_workers (the product default)")
    ap.add_argument("--bots", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    report = measure_channels(args.messages, args.workers, args.bots)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
