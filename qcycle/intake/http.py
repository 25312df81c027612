"""Submissions pulled from an HTTP JSON endpoint (a provincial platform, a form service).

Configuration is an :class:`HttpSource`: the URL, the *name* of the environment variable that
holds the bearer token (never the token: it stays out of config, parameters, logs, errors and the
database), paging, timeout and retries. Pages are fetched with ``?page=N&page_size=M`` and
followed until a ``next`` link runs out, ``has_more`` is false or a page is empty.

Connect errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff and jitter
(``Retry-After`` is honoured). A page that is not JSON, or not a list of records, is kept in
quarantine and the pull goes on to the next page when the paging allows it; when the source
fails as a whole, :class:`SourceFailed` (an :class:`~qcycle.errors.IntakeError`) names the URL
and what happened, and carries the report of what was taken before.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session

from qcycle import db
from qcycle.errors import IntakeError
from qcycle.intake.files import decode_text
from qcycle.intake.report import ImportReport, RoundContext, open_round, raw_json
from qcycle.loader import LoadedProgramme

__all__ = ["HttpSource", "SourceFailed", "pull_http", "pull_into_database", "safe_url"]

logger = logging.getLogger("qcycle.intake")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_PARAM = re.compile(r"(?i)^(key|access_token|token|secret|sign|signature|password|pwd)$")
_RECORD_KEYS = ("records", "items", "data", "results")
# Consecutive unreadable pages after which page-number paging gives up.
_MAX_BAD_PAGES = 3


class HttpSource(BaseModel):
    """Where and how to pull. Safe to log and to pass as flow parameters: it holds no secret."""

    # A token pasted into the wrong field must not be echoed back by a validation error.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    url: str
    token_env: str | None = Field(None, description="name of the env var with the bearer token")
    page_size: int = Field(100, ge=1, le=10_000)
    timeout: float = Field(10, gt=0, description="seconds per request")
    retries: int = Field(4, ge=0, le=20, description="retries per page after the first try")
    backoff: float = Field(0.5, ge=0, description="first retry waits about this long, doubling")
    max_backoff: float = Field(30, ge=0, description="longest wait, Retry-After included")
    max_pages: int = Field(10_000, ge=1)

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


class SourceFailed(IntakeError):
    """The source failed as a whole; ``report`` holds what was taken before it did."""

    def __init__(
        self, message: str, *, url: str, retryable: bool, report: ImportReport | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.retryable = retryable
        self.report = report


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
    return parts.scheme, parts.hostname or "", parts.port


def _page_url(base: str, page: int, page_size: int) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("page", "page_size")]
    query += [("page", str(page)), ("page_size", str(page_size))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Fetcher:
    """GET with retries; the token goes only to the source's own origin."""

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

    def _backoff(self, attempt: int) -> float:
        delay = min(self.source.max_backoff, self.source.backoff * 2**attempt)
        # Jitter: clients that failed together do not all come back at the same moment.
        return delay / 2 + random.uniform(0, delay / 2)

    def _headers(self, url: str) -> dict[str, str]:
        if self.token and _origin(url) == self.origin:
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    def get(self, url: str) -> httpx.Response:
        shown = safe_url(url)
        source = self.source
        problem = ""
        for attempt in range(source.retries + 1):
            try:
                response = self.client.get(url, headers=self._headers(url))
            except httpx.TimeoutException:
                problem = f"超时（{source.timeout:g} 秒内没有完成）"
                delay = self._backoff(attempt)
            except httpx.TransportError as exc:
                problem = f"无法连接（{type(exc).__name__}：{exc}）"
                delay = self._backoff(attempt)
            else:
                status = response.status_code
                if status in (401, 403):
                    hint = (
                        f"请检查环境变量 {source.token_env} 中的令牌"
                        if source.token_env
                        else "该地址需要令牌：请用 token_env 指明存放令牌的环境变量"
                    )
                    raise SourceFailed(
                        f"拉取 {shown} 被拒绝（HTTP {status}）：{hint}", url=shown, retryable=False
                    )
                if status == 429 or status >= 500:
                    problem = f"HTTP {status}"
                    wait = _retry_after(response)
                    delay = (
                        min(wait, source.max_backoff)
                        if wait is not None
                        else self._backoff(attempt)
                    )
                elif status >= 400:
                    raise SourceFailed(
                        f"拉取 {shown} 失败（HTTP {status}）：请检查地址",
                        url=shown,
                        retryable=False,
                    )
                else:
                    return response
            if attempt < source.retries:
                logger.warning(
                    "拉取 %s：%s，%.1f 秒后第 %d 次重试", shown, problem, delay, attempt + 1
                )
                self.sleep(delay)
        # Not chained to the httpx error: its request carries the Authorization header.
        raise SourceFailed(
            f"拉取 {shown} 失败：{problem}，已重试 {source.retries} 次", url=shown, retryable=True
        )


def _text(response: httpx.Response) -> str:
    if response.charset_encoding:
        return response.text
    try:
        return decode_text(response.content)[0]  # no charset: UTF-8, else GB18030
    except IntakeError:
        return response.content.decode("utf-8", errors="replace")


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
) -> ImportReport:
    """Pull every page of ``source`` into the round; each record through ``ingest``.

    Raises :class:`SourceFailed` when the source fails as a whole (its ``report`` says what
    was taken first). The caller commits; :func:`pull_into_database` keeps partial work.
    """
    token = _token(source)
    ctx = programme if isinstance(programme, RoundContext) else open_round(session, programme)
    report = ImportReport(
        source=f"http:{safe_url(source.url)}", round_code=ctx.loaded.programme.round.code
    )
    try:
        with httpx.Client(
            timeout=source.timeout,
            follow_redirects=True,  # httpx drops Authorization on a redirect to another origin
            headers={"Accept": "application/json", "User-Agent": "qcycle-intake"},
            transport=transport,
        ) as client:
            _pull_pages(_Fetcher(client, source, token, sleep), session, ctx, report, token)
    except SourceFailed as exc:
        exc.report = report
        raise
    return report


def _pull_pages(
    fetcher: _Fetcher,
    session: Session,
    ctx: RoundContext,
    report: ImportReport,
    token: str | None,
) -> None:
    source = fetcher.source
    page = 1
    url = _page_url(source.url, page, source.page_size)
    following_links = False
    bad_pages = 0
    previous = None
    while True:
        if report.pages >= source.max_pages:
            logger.warning("拉取 %s：已达 %d 页上限，停止", report.source, source.max_pages)
            return
        response = fetcher.get(url)
        report.pages += 1
        shown = safe_url(url)
        where = f"第 {report.pages} 页（{shown}）"
        text = _text(response)
        records, meta, problem = _parse_page(text, response.headers.get("content-type", ""))
        if records is None:
            report.set_aside(
                session=session, ctx=ctx, raw=_mask(text, token), where=where, reason=problem
            )
            logger.warning("拉取 %s：%s，已隔离", shown, problem)
            bad_pages += 1
            if following_links:
                raise SourceFailed(
                    f"拉取 {shown} 失败：{problem}（已隔离），无法得知下一页，已停止",
                    url=shown,
                    retryable=True,
                )
            if bad_pages >= _MAX_BAD_PAGES:
                raise SourceFailed(
                    f"拉取 {safe_url(source.url)} 失败：连续 {bad_pages} 页无法读取（已隔离）",
                    url=safe_url(source.url),
                    retryable=True,
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
        for number, record in enumerate(records, start=1):
            spot = f"第 {report.pages} 页第 {number} 条"
            raw = _mask(raw_json(record), token)
            if isinstance(record, dict):
                report.take(session=session, ctx=ctx, row=record, raw=raw, where=spot)
            else:
                reason = '不是对象（应为 {"kind": ...}）'
                report.set_aside(session=session, ctx=ctx, raw=raw, where=spot, reason=reason)
        nxt = meta.get("next")
        if isinstance(nxt, str) and nxt.strip():
            url = urljoin(url, nxt.strip())
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


def pull_into_database(
    *,
    source: HttpSource,
    programme: str | Path | LoadedProgramme,
    database_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportReport:
    """:func:`pull_http` in its own transaction, keeping what was taken even if the source
    then fails (records are stored once, so pulling again is safe)."""
    failure: SourceFailed | None = None
    with db.session_scope(database_url) as session:
        try:
            report = pull_http(source=source, programme=programme, session=session, sleep=sleep)
        except SourceFailed as exc:
            failure = exc  # commit the pages taken and the pages quarantined, then raise
    if failure is not None:
        raise failure
    return report
