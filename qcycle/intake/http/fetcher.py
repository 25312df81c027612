"""One GET of a page, bounded: retries with backoff (``Retry-After`` honoured), an overall
timeout per request enforced by a watchdog, a size cap on the body, redirects and links only
within the allowed origins, and the bearer token only for the source's own origin."""

from __future__ import annotations

import codecs
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from qcycle.intake.http.source import HttpSource, SourceFailed, _origin, _origin_text, safe_url
from qcycle.notify.ratelimit import retry_after

__all__: list[str] = []  # nothing public: pull.py drives the fetcher

logger = logging.getLogger("qcycle.intake")

_MAX_REDIRECTS = 5
_KEPT_BYTES = 4096  # of a page over the size cap, kept in quarantine to show what it was


@dataclass
class _Reply:
    url: str  # where the body came from, after redirects (relative next links resolve here)
    status: int
    headers: httpx.Headers
    charset: str | None = None
    body: bytes = b""
    too_large: bool = False


class _TimedOut(Exception):
    """The request's overall deadline passed (between chunks, or the watchdog shut the socket)."""


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv in the pulling thread
    except OSError:
        pass  # already closed


class _Fetcher:
    """GET with retries, bounded in time and size; the token goes only to the source's origin."""

    def __init__(
        self,
        client: httpx.Client,
        source: HttpSource,
        token: str | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.client = client
        self.source = source
        self.token = token
        self.sleep = sleep
        self.origin = _origin(source.url)
        self.allowed = {_origin_text(self.origin), *source.allow_redirects_to}
        self.pull_ends = time.monotonic() + source.deadline

    def _backoff(self, attempt: int) -> float:
        delay = min(self.source.max_backoff, self.source.backoff * 2**attempt)
        # Jitter: clients that failed together do not all come back at the same moment.
        return delay / 2 + random.uniform(0, delay / 2)

    def _headers(self, url: str) -> dict[str, str]:
        if self.token and _origin(url) == self.origin:
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    def _over_deadline(self, last: str = "") -> SourceFailed:
        shown = safe_url(self.source.url)
        last = f"（最近一次：{last}）" if last else ""
        return SourceFailed(
            f"拉取 {shown} 超过总时限 {self.source.deadline:g} 秒，已停止{last}："
            "已取得的页已保存，其余未拉取；稍后重新拉取即可（已保存的记录不会重复）",
            url=shown,
            retryable=True,
            kind="deadline",
        )

    def get(self, url: str) -> _Reply:
        shown = safe_url(url)
        source = self.source
        problem = ""
        for attempt in range(source.retries + 1):
            now = time.monotonic()
            if now >= self.pull_ends:
                raise self._over_deadline(f"{shown}：{problem}" if problem else "")
            ends = min(now + source.timeout, self.pull_ends)
            try:
                reply = self._fetch(url, ends)
            except (_TimedOut, httpx.TimeoutException):
                problem = f"超时（{source.timeout:g} 秒内没有完成）"
                if ends >= self.pull_ends:
                    raise self._over_deadline(f"{shown} 未在时限内完成") from None
                delay = self._backoff(attempt)
            except httpx.TransportError as exc:
                what = "无法连接" if isinstance(exc, httpx.ConnectError) else "连接中断或响应有误"
                problem = f"{what}（{type(exc).__name__}：{exc}）"
                delay = self._backoff(attempt)
            except httpx.HTTPError as exc:  # e.g. a body that cannot be decompressed
                problem = f"响应无法读取（{type(exc).__name__}：{exc}）"
                delay = self._backoff(attempt)
            else:
                status = reply.status
                if status in (401, 403):
                    hint = (
                        f"请检查环境变量 {source.token_env} 中的令牌"
                        if source.token_env
                        else "该地址需要令牌：请用 token_env 指明存放令牌的环境变量"
                    )
                    raise SourceFailed(f"拉取 {shown} 被拒绝（HTTP {status}）：{hint}",
                                       url=shown, retryable=False, kind="refused")  # fmt: skip
                if status == 429 or status >= 500:
                    problem = f"HTTP {status}"
                    wait = retry_after(reply.headers)
                    delay = (
                        min(wait, source.max_backoff)
                        if wait is not None
                        else self._backoff(attempt)
                    )
                elif status >= 300:
                    raise SourceFailed(f"拉取 {shown} 失败（HTTP {status}）：请检查地址",
                                       url=shown, retryable=False, kind="refused")  # fmt: skip
                else:
                    return reply
            if attempt < source.retries:
                if time.monotonic() + delay >= self.pull_ends:
                    raise self._over_deadline(f"{shown}：{problem}")
                logger.warning(
                    "拉取 %s：%s，%.1f 秒后第 %d 次重试", shown, problem, delay, attempt + 1
                )
                self.sleep(delay)
        # Not chained to the httpx error: its request carries the Authorization header.
        raise SourceFailed(
            f"拉取 {shown} 失败：{problem}，已重试 {source.retries} 次", url=shown, retryable=True
        )

    def _fetch(self, url: str, ends: float) -> _Reply:
        """One try: redirects within the allowed origins, the body streamed up to the cap."""
        # httpx's timeouts are per read; a watchdog shuts the sockets at the request's deadline.
        # It holds duplicates: shutdown acts on the connection, even once TLS wraps the socket.
        sockets: list[socket.socket] = []
        fired = threading.Event()

        def trace(name: str, info: dict[str, Any]) -> None:
            if name == "connection.connect_tcp.complete":
                sock = info["return_value"].get_extra_info("socket")
                if sock is not None:
                    sockets.append(sock.dup())
                    if fired.is_set():  # connected just as the deadline passed
                        _shut(sockets[-1])

        def shut_all() -> None:
            fired.set()
            for sock in sockets:
                _shut(sock)

        watchdog = threading.Timer(max(0.0, ends - time.monotonic()), shut_all)
        watchdog.daemon = True
        watchdog.start()
        try:
            for _hop in range(_MAX_REDIRECTS + 1):
                reply = self._once(url, ends, trace)
                if isinstance(reply, _Reply):
                    return reply
                url = self._redirect_target(url, reply)
            raise SourceFailed(f"拉取 {safe_url(url)} 失败：重定向超过 {_MAX_REDIRECTS} 次",
                               url=safe_url(url), retryable=False, kind="redirect")  # fmt: skip
        except httpx.HTTPError:
            if fired.is_set():
                raise _TimedOut from None
            raise
        finally:
            watchdog.cancel()
            for sock in sockets:
                sock.close()

    def _once(self, url: str, ends: float, trace: Callable[..., None]) -> _Reply | str:
        """The reply, or the Location of a redirect."""
        cap = self.source.max_page_bytes
        remaining = max(0.001, ends - time.monotonic())
        with self.client.stream("GET", url, headers=self._headers(url),
                                timeout=min(self.source.timeout, remaining),
                                extensions={"trace": trace}) as response:  # fmt: skip
            if response.has_redirect_location:
                return response.headers["Location"]
            reply = _Reply(url, response.status_code, response.headers, _charset(response))
            if not response.is_success:
                return reply  # the status and Retry-After are all that is needed
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > cap:
                    reply.too_large = True
                    break  # leaving the block closes the connection: the rest is never read
                if time.monotonic() >= ends:
                    raise _TimedOut
            reply.body = bytes(body[:_KEPT_BYTES] if reply.too_large else body)
            return reply

    def _redirect_target(self, url: str, location: str) -> str:
        return self.check_target(url, location, "被重定向到")

    def check_target(self, url: str, link: str, how: str) -> str:
        """``link`` resolved against ``url``, if it stays within the allowed origins."""
        shown = safe_url(url)
        try:
            target = urljoin(url, link.strip())
            where = _origin_text(_origin(target))
        except ValueError:
            target, where = "", "（无效地址）"
        if urlsplit(target).scheme not in ("http", "https") or where not in self.allowed:
            raise SourceFailed(
                f"拉取 {shown} {how}另一来源 {where}，已拒绝（只跟随 "
                f"{_origin_text(self.origin)} 内的地址）：如确属同一数据源，"
                f"请把 {where} 列入 allow_redirects_to（--allow-redirect-to）",
                url=shown,
                retryable=False,
                kind="redirect",
            )
        return target


def _charset(response: httpx.Response) -> str | None:
    try:
        return codecs.lookup(response.charset_encoding or "").name
    except LookupError:
        return None  # none given, or unknown: guessed from the bytes
