"""Submissions pulled from an HTTP JSON endpoint (a provincial platform, a form service).

Configuration is an :class:`HttpSource`: the URL, the *name* of the environment variable that
holds the bearer token (never the token: it stays out of config, parameters, logs, errors and the
database), paging, timeout and retries. Pages are fetched with ``?page=N&page_size=M`` and
followed until a ``next`` link runs out, ``has_more`` is false or a page is empty.

Bounded in time and size: ``timeout`` covers a whole request (connect, headers, body; a watchdog
shuts the socket at the deadline, so a server dripping bytes cannot hold it open), ``deadline``
the whole pull (pages, retries, waits). Bodies are streamed; a page over ``max_page_bytes`` is
quarantined (its first bytes and where it was) and the pull stops there, since the same page
would be too big again and skipping it would leave a silent gap. Redirects are followed only
within the URL's origin, or to origins listed in ``allow_redirects_to``; the token never leaves
the source's own origin.

Connect errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff and jitter
(``Retry-After`` is honoured). A page that is not JSON, or not a list of records, is kept in
quarantine and the pull goes on to the next page when the paging allows it; when the source
fails as a whole, :class:`SourceFailed` (an :class:`~qcycle.errors.IntakeError`) names the URL
and what happened (``kind``: what kind of failure), and carries the report of what was taken
before; the report's ``stopped`` says why the pull ended early.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session

from qcycle import db
from qcycle.errors import IntakeError
from qcycle.intake.files import decode_text
from qcycle.intake.report import ImportReport, IncomingRow, RoundContext, open_round, raw_json
from qcycle.loader import LoadedProgramme
from qcycle.notify.ratelimit import retry_after

__all__ = [
    "FailureKind",
    "HttpSource",
    "SourceFailed",
    "pull_http",
    "pull_into_database",
    "safe_url",
]

logger = logging.getLogger("qcycle.intake")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_PARAM = re.compile(r"(?i)^(key|access_token|token|secret|sign|signature|password|pwd)$")
_RECORD_KEYS = ("records", "items", "data", "results")
# Consecutive unreadable pages after which page-number paging gives up.
_MAX_BAD_PAGES = 3
_MAX_REDIRECTS = 5
_KEPT_BYTES = 4096  # of a page over the size cap, kept in quarantine to show what it was
_MIB = 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpSource(BaseModel):
    """Where and how to pull. Safe to log and to pass as flow parameters: it holds no secret."""

    # A token pasted into the wrong field must not be echoed back by a validation error.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    url: str
    token_env: str | None = Field(None, description="name of the env var with the bearer token")
    page_size: int = Field(100, ge=1, le=10_000)
    timeout: float = Field(
        10, gt=0, description="seconds per request, overall: connect, headers and the whole body"
    )
    retries: int = Field(4, ge=0, le=20, description="retries per page after the first try")
    backoff: float = Field(0.5, ge=0, description="first retry waits about this long, doubling")
    max_backoff: float = Field(30, ge=0, description="longest wait, Retry-After included")
    max_pages: int = Field(10_000, ge=1)
    deadline: float = Field(
        1800,
        gt=0,
        description="seconds for the whole pull (all pages, retries and waits); when exceeded "
        "the pull stops, keeping the pages taken, and reports that it stopped early",
    )
    max_page_bytes: int = Field(
        20 * _MIB,
        ge=1024,
        description="largest response body of one page; a larger page is quarantined (its first "
        "bytes) and the pull stops there",
    )
    allow_redirects_to: tuple[str, ...] = Field(
        (),
        description="origins (scheme://host[:port]) besides the URL's own that redirects may go "
        "to; the bearer token is never sent there",
    )

    @field_validator("url")
    @classmethod
    def _plain_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url 应为 http:// 或 https:// 地址")
        secret_params = [k for k, _ in parse_qsl(parts.query) if _SECRET_PARAM.match(k)]
        if parts.username or parts.password or secret_params:
            raise ValueError("令牌不要写在 url 里：放进环境变量，并用 token_env 写出变量名")
        return value

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("token_env 应为环境变量名（如 QCYCLE_INTAKE_TOKEN），不是令牌本身")
        return value

    @field_validator("allow_redirects_to")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        origins = []
        for item in value:
            parts = urlsplit(item.strip())
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.username
                or parts.password
            ):
                raise ValueError(
                    "allow_redirects_to 的每一项应为来源，如 https://files.example.cn:8443"
                )
            origins.append(_origin_text(_origin(item.strip())))
        return tuple(origins)


FailureKind = Literal["refused", "unavailable", "unreadable", "deadline", "too_large", "redirect"]


class SourceFailed(IntakeError):
    """The source failed as a whole; ``report`` holds what was taken before it did.

    ``kind``: refused (token, 4xx), unavailable (after retries), unreadable (pages), deadline
    (the pull's), too_large (a page over the cap), redirect (to an origin not allowed).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        retryable: bool,
        report: ImportReport | None = None,
        kind: FailureKind = "unavailable",
    ) -> None:
        super().__init__(message)
        self.url = url
        self.retryable = retryable
        self.report = report
        self.kind = kind


def safe_url(url: str) -> str:
    """The URL without user info or credential-like query values (for logs and messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    query = urlencode(
        [(k, "***" if _SECRET_PARAM.match(k) else v) for k, v in parse_qsl(parts.query)]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme)


def _origin_text(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return (
        f"{scheme}://{host}"
        if port in (None, _DEFAULT_PORTS.get(scheme))
        else f"{scheme}://{host}:{port}"
    )


def _size(n: int) -> str:
    if n % _MIB == 0:
        return f"{n // _MIB} MiB"
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} 字节"


def _page_url(base: str, page: int, page_size: int) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("page", "page_size")]
    query += [("page", str(page)), ("page_size", str(page_size))]
    return urlunsplit(parts._replace(query=urlencode(query)))


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


def _text(reply: _Reply) -> str:
    if reply.charset:
        return reply.body.decode(reply.charset, errors="replace")
    try:
        return decode_text(reply.body)[0]  # no charset: UTF-8, else GB18030
    except IntakeError:
        return reply.body.decode("utf-8", errors="replace")


def _parse_page(text: str, content_type: str) -> tuple[list[Any] | None, dict[str, Any], str]:
    """(records, the page object for paging fields, problem)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        what = "返回的是 HTML 页面而不是 JSON" if "html" in content_type else "不是有效的 JSON"
        return None, {}, f"{what}（{exc}）"
    if isinstance(data, list):
        return data, {}, ""
    if isinstance(data, dict):
        for key in _RECORD_KEYS:
            if isinstance(data.get(key), list):
                return data[key], data, ""
    return None, {}, '不是预期的结构（应为记录列表，或 {"records": [...], "next": ...}）'


def _token(source: HttpSource) -> str | None:
    if source.token_env is None:
        return None
    token = os.environ.get(source.token_env, "").strip()
    if not token:
        raise SourceFailed(
            f"环境变量 {source.token_env} 未设置或为空（拉取 {safe_url(source.url)} 的令牌应放在这里）",
            url=safe_url(source.url),
            retryable=False,
            kind="refused",
        )
    return token


def _mask(text: str, token: str | None) -> str:
    # A server that echoes the request (debug pages) must not put the token in quarantine.
    return text.replace(token, "***") if token and len(token) >= 4 else text


def pull_http(
    *,
    source: HttpSource,
    programme: str | Path | LoadedProgramme | RoundContext,
    session: Session,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
    commit_pages: bool = False,
) -> ImportReport:
    """Pull every page of ``source`` into the round; each page's records through ``ingest_many``.

    Raises :class:`SourceFailed` when the source fails as a whole (its ``report`` says what
    was taken first). The caller commits; with ``commit_pages`` each page is committed as it
    is taken, so no write transaction waits on the network (:func:`pull_into_database`).
    """
    token = _token(source)
    ctx = programme if isinstance(programme, RoundContext) else open_round(session, programme)
    if commit_pages:
        session.commit()
    page_done = session.commit if commit_pages else _nothing
    report = ImportReport(
        source=f"http:{safe_url(source.url)}", round_code=ctx.loaded.programme.round.code
    )
    try:
        with httpx.Client(
            timeout=source.timeout,
            follow_redirects=False,  # followed by _Fetcher, only to the origins allowed
            headers={"Accept": "application/json", "User-Agent": "qcycle-intake"},
            # A fresh connection per request: the watchdog shuts the socket it saw connect.
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
        ) as client:
            _pull_pages(_Fetcher(client, source, token, sleep), session, ctx, report, token, page_done)
    except SourceFailed as exc:
        exc.report = report
        report.stopped = str(exc)
        raise
    return report


def _pull_pages(
    fetcher: _Fetcher,
    session: Session,
    ctx: RoundContext,
    report: ImportReport,
    token: str | None,
    page_done: Callable[[], None],
) -> None:
    source = fetcher.source
    page = 1
    url = _page_url(source.url, page, source.page_size)
    following_links = False
    bad_pages = 0
    previous = None
    while True:
        if report.pages >= source.max_pages:
            # Pages may be left: say so in the report, not only in a log line.
            report.stopped = (f"已达 {source.max_pages} 页上限，停止：可能还有未拉取的页"
                              "（调大 page_size 或 max_pages 后重新拉取，已保存的记录不会重复）")
            logger.warning("拉取 %s：%s", report.source, report.stopped)
            return
        reply = fetcher.get(url)
        report.pages += 1
        shown = safe_url(url)
        where = f"第 {report.pages} 页（{shown}）"
        text = _text(reply)
        if reply.too_large:
            _refuse_large_page(session, ctx, report, _mask(text, token), where, source)
        records, meta, problem = _parse_page(text, reply.headers.get("content-type", ""))
        if records is None:
            report.set_aside(
                session=session, ctx=ctx, raw=_mask(text, token), where=where, reason=problem
            )
            page_done()
            logger.warning("拉取 %s：%s，已隔离", shown, problem)
            bad_pages += 1
            if following_links:
                raise SourceFailed(
                    f"拉取 {shown} 失败：{problem}（已隔离），无法得知下一页，已停止",
                    url=shown,
                    retryable=True,
                    kind="unreadable",
                )
            if bad_pages >= _MAX_BAD_PAGES:
                raise SourceFailed(
                    f"拉取 {safe_url(source.url)} 失败：连续 {bad_pages} 页无法读取（已隔离）",
                    url=safe_url(source.url),
                    retryable=True,
                    kind="unreadable",
                )
            page += 1
            url = _page_url(source.url, page, source.page_size)
            continue
        bad_pages = 0
        if text == previous:
            logger.warning("拉取 %s：与上一页完全相同（该地址可能不支持分页），停止", shown)
            return
        previous = text
        logger.info("拉取 %s：%d 条记录", shown, len(records))
        # The page as one batch: a few statements for its records, not a few per record.
        report.take_rows(session=session, ctx=ctx, rows=[
            IncomingRow(f"第 {report.pages} 页第 {number} 条", _mask(raw_json(record), token),
                        record if isinstance(record, dict) else None,
                        "" if isinstance(record, dict) else '不是对象（应为 {"kind": ...}）')
            for number, record in enumerate(records, start=1)])
        page_done()
        nxt = meta.get("next")
        if isinstance(nxt, str) and nxt.strip():
            url = fetcher.check_target(reply.url, nxt, "的下一页链接指向")
            following_links = True
        elif isinstance(nxt, int) and not isinstance(nxt, bool) and nxt > page:
            page = nxt
            url = _page_url(source.url, page, source.page_size)
        elif "next" in meta or following_links:
            return  # next: null, or a link chain that ended
        elif "has_more" in meta:
            if not meta["has_more"]:
                return
            page += 1
            url = _page_url(source.url, page, source.page_size)
        elif not records:
            return
        else:
            page += 1
            url = _page_url(source.url, page, source.page_size)


def _refuse_large_page(
    session: Session,
    ctx: RoundContext,
    report: ImportReport,
    kept: str,
    where: str,
    source: HttpSource,
) -> None:
    """Quarantine the start of a page over the cap, then stop: it would be too big again."""
    cap = _size(source.max_page_bytes)
    reason = f"响应超过 {cap} 上限，已隔离（只保存开头 {_size(_KEPT_BYTES)}，其余未读取）"
    report.set_aside(session=session, ctx=ctx, raw=kept, where=where, reason=reason)
    logger.warning("拉取 %s：%s", where, reason)
    shown = safe_url(source.url)
    raise SourceFailed(
        f"拉取 {shown} 已停止：{where}响应超过 {cap} 上限（已隔离），其后各页未拉取；"
        "请减小 page_size，或调大 max_page_bytes（--max-page-bytes）后重新拉取",
        url=shown,
        retryable=False,
        kind="too_large",
    )


def _nothing() -> None:
    return None


def pull_into_database(
    *,
    source: HttpSource,
    programme: str | Path | LoadedProgramme,
    database_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportReport:
    """:func:`pull_http` committing page by page (short write transactions, none held while
    waiting on the source), keeping what was taken even if the source then fails (records are
    stored once, so pulling again is safe)."""
    failure: SourceFailed | None = None
    with db.session_scope(database_url) as session:
        try:
            report = pull_http(source=source, programme=programme, session=session, sleep=sleep,
                               commit_pages=True)
        except SourceFailed as exc:
            failure = exc  # commit the pages taken and the pages quarantined, then raise
    if failure is not None:
        raise failure
    return report
