"""Pulling every page of a source into a round (:func:`pull_http`, :func:`pull_into_database`):
paging, pages that cannot be read, the size cap, and the token kept out of what is stored."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from sqlmodel import Session

from qcycle import db
from qcycle.errors import IntakeError, json_problem
from qcycle.intake.files import decode_text
from qcycle.intake.http.fetcher import _KEPT_BYTES, _Fetcher, _Reply
from qcycle.intake.http.source import _MIB, HttpSource, SourceFailed, safe_url
from qcycle.intake.report import ImportReport, IncomingRow, RoundContext, open_round, raw_json
from qcycle.loader import LoadedProgramme

__all__ = ["pull_http", "pull_into_database"]

logger = logging.getLogger("qcycle.intake")

_RECORD_KEYS = ("records", "items", "data", "results")
# Consecutive unreadable pages after which page-number paging gives up.
_MAX_BAD_PAGES = 3


def _size(n: int) -> str:
    if n % _MIB == 0:
        return f"{n // _MIB} MiB"
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} 字节"


def _page_url(base: str, page: int, page_size: int) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("page", "page_size")]
    query += [("page", str(page)), ("page_size", str(page_size))]
    return urlunsplit(parts._replace(query=urlencode(query)))


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
        return None, {}, f"{what}（{json_problem(exc)}）"
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
        source=f"http:{safe_url(source.url)}", round_code=ctx.loaded.programme.round.code, amended=ctx.amended
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
    fetched: dict[str, int] = {}  # page URL → the page it was: a chain of links that comes back is a loop
    while True:
        if report.pages >= source.max_pages:
            # Pages may be left: say so in the report, not only in a log line.
            report.stopped = (f"已达 {source.max_pages} 页上限，停止：可能还有未拉取的页"
                              "（调大 page_size 或 max_pages 后重新拉取，已保存的记录不会重复）")
            logger.warning("拉取 %s：%s", safe_url(source.url), report.stopped)
            return
        if url in fetched:
            raise SourceFailed(f"拉取 {safe_url(source.url)} 失败：第 {report.pages} 页的下一页指回第 {fetched[url]} 页"
                               "（分页链接成环），已停止；已拉取的页已保存", url=safe_url(url), retryable=False,
                               kind="unreadable")
        fetched[url] = report.pages + 1
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
    """``page_done`` when the caller commits: nothing to do after each page."""
    return


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
