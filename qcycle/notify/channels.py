"""Channels: one class per way of reaching people, each configured by one URL.

URL forms (the value behind an ``env:NAME`` / ``secret:NAME`` reference):

- email:    ``mailto://[user:pass@]host[:port]?from=ADDR&mode=insecure|starttls|ssl[&name=NAME]``
            or ``mailtos://user:pass@host?from=ADDR`` (STARTTLS on 587); apprise's own mailto
            plugin (smtplib) over kept connections (:mod:`qcycle.notify.smtp`). The recipient
            comes with each message.
- wecom:    ``qwecom://KEY[?format=markdown]``                  apprise custom schema, httpx
- dingtalk: ``qdingtalk://TOKEN[/SECRET][?format=markdown]``    apprise custom schema, httpx
- feishu:   ``qfeishu://TOKEN[/SECRET][?format=markdown]``      apprise custom schema, httpx
- webhook:  ``qhook://host[:port]/path`` (http), ``qhooks://...`` (https): JSON POST, 2xx is ok
- sink:     ``qsink://local`` (the settings' sink folder) or ``qsink://local/ABSOLUTE/FOLDER``

Every bot URL also takes ``?base=http://127.0.0.1:PORT`` (a stand-in server; otherwise the
setting ``<kind>_base_url``, e.g. ``QCYCLE_WECOM_BASE_URL``, whose default is the public host),
``?timeout=SECONDS`` (otherwise ``QCYCLE_NOTIFY_TIMEOUT``) and ``?rate=COUNT/SECONDS[/BURST]``
(the per-endpoint limit).

Why custom schemas instead of apprise's ``wecombot://``, ``dingtalk://``, ``feishu://``: those
treat HTTP 200 with a non-zero ``errcode`` (e.g. 45009, rate limited) as delivered, post only to
the public hosts, and sleep ~5.5 s between messages. Apprise passes a handler's outcome on as a
bool, so each handler leaves its detailed :class:`SendResult` in a per-call holder found through
a context variable (a one-URL apprise object calls the handler in the caller's thread).

``send`` never raises: every failure is a :class:`SendResult` with ``ok=False``, ``retryable``
saying whether trying again later may help, and an ``error`` with secrets masked.
Constructing a channel from a bad URL raises :class:`~qcycle.errors.DeliveryError`.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import contextvars
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import apprise
import httpx

from qcycle import clock
from qcycle.errors import DeliveryError
from qcycle.notify.ratelimit import Rate, retry_after
from qcycle.notify.redact import (
    LOGGER_NAME,
    install_log_redaction,
    redact,
    register_url_secrets,
)
from qcycle.notify.refs import resolve_url
from qcycle.settings import Settings, get_settings

__all__ = [
    "CHANNEL_KINDS",
    "DEFAULT_BASES",
    "DEFAULT_TIMEOUT",
    "Channel",
    "DingTalkChannel",
    "EmailChannel",
    "FeishuChannel",
    "SendResult",
    "SinkChannel",
    "WeComChannel",
    "WebhookChannel",
    "channel_for",
    "label_sink_messages",
    "open_channel",
]

log = logging.getLogger(LOGGER_NAME)

# The public hosts: the defaults of the settings ``<kind>_base_url``.
DEFAULT_BASES = {kind: Settings.model_fields[f"{kind}_base_url"].default for kind in ("wecom", "dingtalk", "feishu")}
DEFAULT_TIMEOUT: float = Settings.model_fields["notify_timeout"].default


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send. ``error`` is already redacted."""

    ok: bool
    retryable: bool = False
    error: str | None = None
    retry_after: float | None = None
    status_code: int | None = None
    # False when nothing was sent at all (time budget spent, endpoint held): not an attempt.
    attempted: bool = True
    # Written on this machine (the sink): nothing was in flight over a network.
    local: bool = False

    @classmethod
    def success(cls, status_code: int | None = None) -> SendResult:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def failure(
        cls,
        error: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
        attempted: bool = True,
    ) -> SendResult:
        return cls(
            ok=False,
            retryable=retryable,
            error=redact(error),
            retry_after=retry_after,
            status_code=status_code,
            attempted=attempted,
        )


@dataclass
class _Call:
    """What one send knows beyond apprise's (body, title), and where its handler reports."""

    kind: str
    message_id: str | None = None
    tag: str | None = None
    recipient: str | None = None
    result: SendResult | None = None
    # (level name, redacted text) of what the apprise plugin logged during the call
    notes: list[tuple[str, str]] = field(default_factory=list)


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "qcycle_notify_call", default=None
)


# ---------------------------------------------------------------- HTTP plumbing

_client_lock = threading.Lock()
_client: httpx.Client | None = None


def _http() -> httpx.Client:
    global _client
    with _client_lock:
        if _client is None:
            # One pooled client for all threads; redirects are not followed (a bot API never
            # redirects, and a redirect could carry the key to another host).
            _client = httpx.Client(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
        return _client


def _timeout(meta: Mapping[str, Any]) -> float:
    raw = meta.get("qsd", {}).get("timeout") or get_settings().notify_timeout
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT


def _base(kind: str, meta: Mapping[str, Any]) -> str:
    base = meta.get("qsd", {}).get("base") or getattr(get_settings(), f"{kind}_base_url")
    base = str(base).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"{kind} base URL must start with http:// or https://")
    return base


def _post(
    kind: str,
    url: str,
    *,
    payload: Mapping[str, Any],
    timeout: float,
    params: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response | SendResult:
    """POST JSON; transport failures become retryable results (the message may or may not
    have arrived after a read timeout; bots have no idempotency key, so a retry can duplicate)."""
    try:
        return _http().post(
            url,
            json=payload,
            params=params,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )
    except httpx.TimeoutException as exc:
        return SendResult.failure(
            f"{kind}: no reply within {timeout:g}s ({type(exc).__name__})", retryable=True
        )
    except httpx.TransportError as exc:
        return SendResult.failure(f"{kind}: {type(exc).__name__}: {exc}", retryable=True)


def _http_status_failure(kind: str, response: httpx.Response) -> SendResult | None:
    """A result for non-2xx replies (429 and 5xx retryable), None for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = response.text[:200].replace("\n", " ")
    if status == 429:
        return SendResult.failure(
            f"{kind}: HTTP 429 too many requests {detail}",
            retryable=True,
            retry_after=retry_after(response.headers),
            status_code=status,
        )
    if status >= 500:
        return SendResult.failure(
            f"{kind}: HTTP {status} {detail}",
            retryable=True,
            retry_after=retry_after(response.headers),
            status_code=status,
        )
    return SendResult.failure(
        f"{kind}: HTTP {status} {detail}", retryable=False, status_code=status
    )


def _fit_bytes(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, saying so (bots reject longer messages)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    note = "\n……（内容过长，已截断）"
    room = limit - len(note.encode("utf-8"))
    cut = raw[:room].decode("utf-8", errors="ignore")
    log.warning("message cut to %d bytes for a bot limit", limit)
    return cut + note


def _text(title: str, body: str) -> str:
    return f"{title}\n{body}" if title else body


def _json_reply(kind: str, response: httpx.Response) -> dict[str, Any] | SendResult:
    try:
        data = response.json()
    except ValueError:
        return SendResult.failure(
            f"{kind}: HTTP {response.status_code} reply is not JSON: {response.text[:120]}",
            retryable=False,
            status_code=response.status_code,
        )
    if not isinstance(data, dict):
        return SendResult.failure(
            f"{kind}: unexpected reply {str(data)[:120]}",
            retryable=False,
            status_code=response.status_code,
        )
    return data


@dataclass(frozen=True)
class _BotApi:
    """How one bot service answers: where the code is and which codes mean "too fast"."""

    kind: str
    code_fields: tuple[str, ...]
    message_fields: tuple[str, ...]
    # code -> retry_after seconds (None: let the caller back off)
    retryable_codes: Mapping[int, float | None]

    def judge(self, response: httpx.Response) -> SendResult:
        data = _json_reply(self.kind, response)
        if isinstance(data, SendResult):
            return _http_status_failure(self.kind, response) or data
        code = next((data[f] for f in self.code_fields if f in data), None)
        message = next((str(data[f]) for f in self.message_fields if f in data), "")
        status_failure = _http_status_failure(self.kind, response)
        if code is None:
            if status_failure:
                return status_failure
            return SendResult.failure(
                f"{self.kind}: reply has no result code: {json.dumps(data, ensure_ascii=False)[:160]}",
                retryable=False,
                status_code=response.status_code,
            )
        try:
            code = int(code)
        except (TypeError, ValueError):
            code = -999999
        if code == 0 and status_failure is None:
            return SendResult.success(response.status_code)
        if code in self.retryable_codes:
            wait = retry_after(response.headers)
            if wait is None:
                wait = self.retryable_codes[code]
            return SendResult.failure(
                f"{self.kind}: code {code} {message}",
                retryable=True,
                retry_after=wait,
                status_code=response.status_code,
            )
        if status_failure is not None:
            # 429/5xx carrying a JSON body: the status decides, the body explains.
            return SendResult.failure(
                f"{status_failure.error} (code {code} {message})",
                retryable=status_failure.retryable,
                retry_after=status_failure.retry_after,
                status_code=response.status_code,
            )
        return SendResult.failure(
            f"{self.kind}: code {code} {message}",
            retryable=False,
            status_code=response.status_code,
        )


# WeCom: 45009 "api freq out of limit" (20 a minute per bot), -1 "system busy".
_WECOM = _BotApi("wecom", ("errcode",), ("errmsg",), {45009: 60.0, -1: None})
# DingTalk: 130101 "send too fast", 410100 rate-limited (20 a minute per robot), -1 busy.
_DINGTALK = _BotApi("dingtalk", ("errcode",), ("errmsg",), {130101: 60.0, 410100: 60.0, -1: None})
# Feishu: 9499 "too many request", 11232 frequency limited (100 a minute, 5 a second per bot).
_FEISHU = _BotApi(
    "feishu", ("code", "StatusCode"), ("msg", "StatusMessage"), {9499: 10.0, 11232: 10.0}
)


def _markdown(meta: Mapping[str, Any]) -> bool:
    return str(meta.get("qsd", {}).get("format", "")).lower() == "markdown"


def _path_segments(meta: Mapping[str, Any]) -> list[str]:
    return [unquote(s) for s in str(meta.get("fullpath") or "").split("/") if s]


# ---------------------------------------------------------------- custom schema handlers


def _send_wecom(title: str, body: str, meta: Mapping[str, Any], call: _Call | None) -> SendResult:
    key = str(meta.get("host") or "")
    if not key:
        return SendResult.failure("wecom: URL has no bot key", retryable=False)
    if _markdown(meta):
        content = _fit_bytes(f"**{title}**\n{body}" if title else body, 4096)
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": content}}
    else:
        payload = {"msgtype": "text", "text": {"content": _fit_bytes(_text(title, body), 2048)}}
    response = _post(
        "wecom",
        f"{_base('wecom', meta)}/cgi-bin/webhook/send",
        payload=payload,
        params={"key": key},
        timeout=_timeout(meta),
    )
    return response if isinstance(response, SendResult) else _WECOM.judge(response)


def _dingtalk_sign(secret: str) -> dict[str, str]:
    # DingTalk "加签": HmacSHA256(key=secret, msg="timestamp\nsecret"), base64; ms timestamp.
    # Real wall time on purpose: the virtual clock would make the signature stale.
    timestamp = str(round(time.time() * 1000))
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return {"timestamp": timestamp, "sign": base64.b64encode(digest).decode("ascii")}


def _send_dingtalk(
    title: str, body: str, meta: Mapping[str, Any], call: _Call | None
) -> SendResult:
    token = str(meta.get("host") or "")
    if not token:
        return SendResult.failure("dingtalk: URL has no access token", retryable=False)
    segments = _path_segments(meta)
    params = {"access_token": token}
    if segments:
        params.update(_dingtalk_sign(segments[0]))
    if _markdown(meta):
        text = _fit_bytes(f"#### {title}\n\n{body}" if title else body, 20000)
        payload: dict[str, Any] = {
            "msgtype": "markdown",
            "markdown": {"title": title or body.split("\n", 1)[0][:64], "text": text},
        }
    else:
        payload = {"msgtype": "text", "text": {"content": _fit_bytes(_text(title, body), 20000)}}
    response = _post(
        "dingtalk",
        f"{_base('dingtalk', meta)}/robot/send",
        payload=payload,
        params=params,
        timeout=_timeout(meta),
    )
    return response if isinstance(response, SendResult) else _DINGTALK.judge(response)


def _feishu_sign(secret: str) -> dict[str, str]:
    # Feishu "签名校验": HmacSHA256(key="timestamp\nsecret", msg=b""), base64; s timestamp.
    timestamp = str(int(time.time()))
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return {"timestamp": timestamp, "sign": base64.b64encode(digest).decode("ascii")}


def _send_feishu(title: str, body: str, meta: Mapping[str, Any], call: _Call | None) -> SendResult:
    token = str(meta.get("host") or "")
    if not token:
        return SendResult.failure("feishu: URL has no hook token", retryable=False)
    segments = _path_segments(meta)
    if _markdown(meta):
        payload: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title or "通知"}},
                "elements": [{"tag": "markdown", "content": _fit_bytes(body, 18000)}],
            },
        }
    else:
        payload = {"msg_type": "text", "content": {"text": _fit_bytes(_text(title, body), 18000)}}
    if segments:
        payload.update(_feishu_sign(segments[0]))
    response = _post(
        "feishu",
        f"{_base('feishu', meta)}/open-apis/bot/v2/hook/{token}",
        payload=payload,
        timeout=_timeout(meta),
    )
    return response if isinstance(response, SendResult) else _FEISHU.judge(response)


# Query options that are ours or apprise's, not the webhook's own.
_RESERVED_QUERY = {
    "timeout",
    "rate",
    "format",
    "overflow",
    "verify",
    "cto",
    "rto",
    "retry",
    "wait",
    "optional",
    "tz",
    "emojis",
    "tag",
    "store",
    "base",
}


def _send_webhook(title: str, body: str, meta: Mapping[str, Any], call: _Call | None) -> SendResult:
    scheme = "https" if meta.get("schema") == "qhooks" else "http"
    host = meta.get("host")
    if not host:
        return SendResult.failure("webhook: URL has no host", retryable=False)
    port = f":{meta['port']}" if meta.get("port") else ""
    query = {k: v for k, v in meta.get("qsd", {}).items() if k not in _RESERVED_QUERY}
    target = f"{scheme}://{host}{port}{meta.get('fullpath') or '/'}"
    auth = None
    if meta.get("user"):
        auth = (str(meta["user"]), str(meta.get("password") or ""))
    payload = {
        "title": title,
        "body": body,
        "tag": call.tag if call else None,
        "message_id": call.message_id if call else None,
        "recipient": call.recipient if call else None,
    }
    response = _post(
        "webhook", target, payload=payload, params=query or None, auth=auth, timeout=_timeout(meta)
    )
    if isinstance(response, SendResult):
        return response
    return _http_status_failure("webhook", response) or SendResult.success(response.status_code)


def _sink_folder(meta: Mapping[str, Any]) -> Path:
    path = unquote(str(meta.get("fullpath") or ""))
    return Path(path) if path.strip("/") else get_settings().effective_sink_dir


# message id → (logical moment of the delivery run, programme channel name), registered by the
# outbox around a delivery pass, so sink files are named by the moment the run is for (a
# simulated, backfilled or caught-up one too) and say which channel they stand in for.
_sink_labels: dict[str, tuple[dt.datetime, str]] = {}


@contextlib.contextmanager
def label_sink_messages(labels: Mapping[str, tuple[dt.datetime, str]]) -> Iterator[None]:
    """Within the block, sink writes of these message ids carry their moment and channel."""
    _sink_labels.update(labels)
    try:
        yield
    finally:
        for key in labels:
            _sink_labels.pop(key, None)


def _send_sink(title: str, body: str, meta: Mapping[str, Any], call: _Call | None) -> SendResult:
    folder = _sink_folder(meta)
    message_id = (call.message_id if call else None) or "message"
    now, channel = _sink_labels.get(message_id) or (clock.now(), "sink")
    record = {
        "id": call.message_id if call else None,
        "channel": channel,
        "tag": call.tag if call else None,
        "recipient": call.recipient if call else None,
        "subject": title,
        "body": body,
        "written_at": now.isoformat(),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if get_settings().sink_layout == "jsonl":
            _append_line(folder / f"messages-{now:%Y%m%d}.jsonl", json.dumps(record, ensure_ascii=False))
            return SendResult.success()
        safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", message_id)[:80]
        safe_channel = re.sub(r"[^A-Za-z0-9_.-]", "_", channel)[:40]
        name = f"{now:%Y%m%dT%H%M%S}-{safe_channel}-{uuid.uuid4().hex[:8]}-{safe_id}.json"
        partial = folder / f".{name}.part"
        partial.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(partial, folder / name)  # readers never see half a file
    except OSError as exc:
        return SendResult.failure(f"sink: cannot write to {folder}: {exc}", retryable=True)
    return SendResult.success()


_sink_files: dict[Path, int] = {}
_sink_lock = threading.Lock()


def _append_line(path: Path, line: str) -> None:
    """One ``write`` per message on a kept O_APPEND descriptor: whole lines, in order. Creating
    a file per message costs ~0.2–0.5 ms of kernel time here, the largest single cost of a
    national year's 40,000 messages."""
    data = (line + "\n").encode("utf-8")
    with _sink_lock:
        fd = _sink_files.get(path)
        if fd is None:
            for old in [p for p in _sink_files if p.parent == path.parent]:
                os.close(_sink_files.pop(old))  # a new day: yesterday's file is done
            fd = _sink_files[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, data)


@atexit.register
def _close_sink_files() -> None:
    with _sink_lock:
        for fd in _sink_files.values():
            os.close(fd)
        _sink_files.clear()


_Handler = Callable[[str, str, Mapping[str, Any], "_Call | None"], SendResult]

_HANDLERS: dict[str, tuple[str, _Handler]] = {
    "qwecom": ("wecom", _send_wecom),
    "qdingtalk": ("dingtalk", _send_dingtalk),
    "qfeishu": ("feishu", _send_feishu),
    "qhook": ("webhook", _send_webhook),
    "qhooks": ("webhook", _send_webhook),
    "qsink": ("sink", _send_sink),
}


def _make_apprise_handler(schema: str) -> Callable[..., bool]:
    kind, _ = _HANDLERS[schema]

    def handler(
        body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
    ) -> bool:
        call = _CALL.get()
        # Looked up at call time so tests and reloads see the current function.
        send = _HANDLERS[schema][1]
        try:
            result = send(title or "", body or "", meta, call)
        except Exception as exc:  # a bug of ours: report it, do not let apprise swallow it blind
            log.exception("%s handler failed", kind)
            result = SendResult.failure(f"{kind}: {type(exc).__name__}: {exc}", retryable=False)
        if call is not None:
            call.result = result
        return result.ok

    handler.__name__ = f"qcycle_{schema}_handler"
    return handler


_schemas_lock = threading.Lock()
_schemas_ready = False


def _ensure_schemas() -> None:
    """Register our apprise schemas once (deferred: loading apprise's plugins takes ~0.5 s)."""
    global _schemas_ready
    with _schemas_lock:
        if _schemas_ready:
            return
        install_log_redaction()
        from apprise.decorators import notify
        from apprise.manager_plugins import NotificationManager

        manager = NotificationManager()
        for schema, (kind, _) in _HANDLERS.items():
            if schema not in manager:
                notify(on=schema, name=f"qcycle {kind}")(_make_apprise_handler(schema))
        _schemas_ready = True


_asset_lock = threading.Lock()
_asset: apprise.AppriseAsset | None = None


def _apprise_asset() -> apprise.AppriseAsset:
    global _asset
    with _asset_lock:
        if _asset is None:
            # async_mode=False: a one-URL notify then runs in the calling thread, where the
            # context variable holding the per-call result is visible. Memory storage: no
            # apprise cache files on disk.
            _asset = apprise.AppriseAsset(app_id="qcycle", async_mode=False, storage_mode="memory")
        return _asset


class _RecordingLogger:
    """Stands in for an apprise plugin's ``logger``: notes each message for the current call
    (the mailto plugin reports SMTP errors only by logging them), then logs it as usual."""

    def __init__(self, target: logging.Logger, notes: list[tuple[str, str]]) -> None:
        self._target = target
        self._notes = notes

    def _note(self, level: str, msg: object, args: tuple[Any, ...]) -> None:
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = str(msg)
        self._notes.append((level, redact(text)))

    def __getattr__(self, name: str) -> Any:
        target_method = getattr(self._target, name)
        if name not in {
            "trace",
            "debug",
            "info",
            "warning",
            "error",
            "exception",
            "critical",
            "deprecate",
        }:
            return target_method

        def method(msg: object, *args: Any, **kwargs: Any) -> None:
            self._note(name, msg, args)
            target_method(msg, *args, **kwargs)

        return method


def _explain(call: _Call) -> str:
    """The telling part of what apprise logged: warnings and the exception it swallowed."""
    telling = [
        text
        for level, text in call.notes
        if level in {"warning", "error", "exception", "critical"} or "Exception" in text
    ]
    return " | ".join(telling[-3:]) or "no detail"


# ---------------------------------------------------------------- channels


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:10]


class Channel:
    """One configured destination. ``send`` never raises; ``repr`` shows no secret."""

    kind: ClassVar[str]
    schemas: ClassVar[tuple[str, ...]]
    default_rate: ClassVar[Rate | None] = None
    # How many sends to one endpoint may be in flight at once (bots: one, in order).
    parallel: ClassVar[int] = 1
    # Writes on this machine (the sink): nothing is ever in flight over a network, and a send
    # is cheaper than handing it to a worker thread.
    local: ClassVar[bool] = False
    # Whether one apprise sender per thread serves every message (the URL is fixed).
    reuse_sender: ClassVar[bool] = True

    def __init__(self, url: str) -> None:
        _ensure_schemas()
        register_url_secrets(url)
        parts = urlsplit(url)
        if parts.scheme.lower() not in self.schemas:
            raise DeliveryError(f"a {self.kind} channel needs a {'/'.join(self.schemas)} URL")
        self.__url = url
        self._kept = threading.local()
        query = dict(parse_qsl(parts.query))
        try:
            self.rate: Rate | None = (
                Rate.parse(query["rate"]) if "rate" in query else self.default_rate
            )
        except ValueError as exc:
            raise DeliveryError(f"{self.kind} channel URL: {exc}") from None
        self.endpoint = f"{self.kind}:{self._endpoint_id(parts)}"
        if self._instantiate(self._apprise_url(None)) is None:
            raise DeliveryError(f"the {self.kind} channel URL is not valid (see apprise's log)")

    # What identifies the remote endpoint for rate limiting (not secret: a digest).
    def _endpoint_id(self, parts: Any) -> str:
        return _digest(parts.netloc, parts.path)

    def _url(self) -> str:
        """The secret-bearing URL: for building requests only, never for display."""
        return self.__url

    def _apprise_url(self, recipient: str | None) -> str:
        return self.__url

    def _instantiate(self, url: str) -> Any:
        """The apprise plugin instance for ``url``; None if apprise rejects the URL."""
        return apprise.Apprise.instantiate(url, asset=_apprise_asset())

    def _sender(self, recipient: str | None, call: _Call) -> apprise.Apprise | None:
        """An Apprise object holding this channel's plugin; None if apprise rejects the URL.

        Kept per thread when the URL does not depend on the message (``reuse_sender``):
        building it per message cost ~40 % of a bot send to a local server. Our handlers take
        everything per call from ``_CALL`` and keep no state in the plugin."""
        kept = getattr(self._kept, "sender", None) if self.reuse_sender else None
        if kept is not None:
            return kept
        plugin = self._instantiate(self._apprise_url(recipient))
        if plugin is None:
            return None
        self._prepare(plugin, call)
        sender = apprise.Apprise(asset=_apprise_asset())
        sender.add(plugin)
        if self.reuse_sender:
            self._kept.sender = sender
        return sender

    def _prepare(self, plugin: Any, call: _Call) -> None:
        """Adjust the apprise plugin instance before sending (email: capture its log)."""

    def close(self) -> None:
        """Release what sends keep open between messages (email: idle SMTP connections);
        ``deliver_batch`` calls it when the batch ends."""

    def _refuse(self, recipient: str | None) -> SendResult | None:
        """A failure to return without sending, e.g. a bad recipient."""
        return None

    def _unexplained_failure(self, call: _Call) -> SendResult:
        return SendResult.failure(
            f"{self.kind}: apprise reported failure: {_explain(call)}", retryable=True
        )

    def send(
        self,
        subject: str,
        body: str,
        *,
        recipient: str | None = None,
        tag: str | None = None,
        message_id: str | None = None,
    ) -> SendResult:
        """Deliver one message; the detailed outcome, never an exception."""
        try:
            refused = self._refuse(recipient)
            if refused is not None:
                return self._logged(refused, message_id)
            call = _Call(kind=self.kind, message_id=message_id, tag=tag, recipient=recipient)
            token = _CALL.set(call)
            try:
                sender = self._sender(recipient, call)
                if sender is None:
                    return self._logged(
                        SendResult.failure(f"{self.kind}: channel URL rejected", retryable=False),
                        message_id,
                    )
                ok = sender.notify(body=body, title=subject, body_format=self._body_format)
            finally:
                _CALL.reset(token)
            if call.result is not None:
                result = call.result
            elif ok:
                result = SendResult.success()
            else:
                result = self._unexplained_failure(call)
        except Exception as exc:  # noqa: BLE001 - send never raises into the caller
            result = SendResult.failure(
                f"{self.kind}: {type(exc).__name__}: {exc}", retryable=False
            )
        return self._logged(result, message_id)

    _body_format: ClassVar[str | None] = None

    def _logged(self, result: SendResult, message_id: str | None) -> SendResult:
        if result.ok:
            log.debug("sent %s via %s", message_id, self.endpoint)
        else:
            log.warning(
                "send %s via %s failed (%s): %s",
                message_id,
                self.endpoint,
                "retryable" if result.retryable else "permanent",
                result.error,
            )
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would carry the URL; channels are rebuilt from their reference instead.
        raise TypeError(f"{type(self).__name__} is not picklable; pass its reference (env:NAME)")


class WeComChannel(Channel):
    """WeCom (企业微信) group bot. ``qwecom://KEY``."""

    kind = "wecom"
    schemas = ("qwecom",)
    default_rate = Rate(20, 60.0)


class DingTalkChannel(Channel):
    """DingTalk (钉钉) custom robot, optionally signed. ``qdingtalk://TOKEN[/SECRET]``."""

    kind = "dingtalk"
    schemas = ("qdingtalk",)
    default_rate = Rate(20, 60.0)


class FeishuChannel(Channel):
    """Feishu (飞书) custom bot, optionally signed. ``qfeishu://TOKEN[/SECRET]``."""

    kind = "feishu"
    schemas = ("qfeishu",)
    default_rate = Rate(100, 60.0, burst=5)


class WebhookChannel(Channel):
    """Any HTTP endpoint taking a JSON POST; 2xx is success. ``qhook://`` / ``qhooks://``."""

    kind = "webhook"
    schemas = ("qhook", "qhooks")
    parallel = 4


class SinkChannel(Channel):
    """Writes each message as a JSON file in a folder: the local default for development and
    simulation. ``qsink://local`` (the settings' sink folder) or ``qsink://local/ABS/FOLDER``."""

    kind = "sink"
    schemas = ("qsink",)
    local = True

    def _endpoint_id(self, parts: Any) -> str:
        return _digest(unquote(parts.path))

    @functools.cached_property
    def _meta(self) -> dict[str, str]:
        return {"fullpath": urlsplit(self._url()).path}

    @property
    def folder(self) -> Path:
        return _sink_folder(self._meta)

    def send(self, subject: str, body: str, *, recipient: str | None = None, tag: str | None = None,
             message_id: str | None = None) -> SendResult:
        """Write the message file directly: the sink is qcycle's own folder, not a delivery
        service, and apprise's per-message setup cost more than the write (national scale:
        tens of thousands of messages per simulated year)."""
        call = _Call(kind=self.kind, message_id=message_id, tag=tag, recipient=recipient)
        try:
            result = replace(_send_sink(subject, body, self._meta, call), local=True)
        except Exception as exc:  # noqa: BLE001 - send never raises into the caller
            result = SendResult.failure(f"{self.kind}: {type(exc).__name__}: {exc}", retryable=False)
        return self._logged(result, message_id)


_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
# SMTP reply codes as smtplib's exceptions print them: (550, b'...') or {'a@b': (550, b'...')}.
_SMTP_CODE = re.compile(r"\((\d{3}),")


class EmailChannel(Channel):
    """Email through apprise's mailto plugin; the recipient comes with each message.

    ``mailto://127.0.0.1:2525?from=qcycle@example.gov.cn&mode=insecure`` reaches a plain SMTP
    server; add ``user:password@`` for AUTH (over plain text only if the server allows it);
    ``mailtos://user:password@smtp.example.gov.cn?from=...`` uses STARTTLS on 587
    (``&mode=ssl`` for 465). Messages are text/plain unless the URL says ``format=html``.
    Connections stay open between sends (:class:`~qcycle.notify.smtp.KeptEmail`) until the
    delivery batch ends.
    """

    kind = "email"
    schemas = ("mailto", "mailtos")
    default_rate = Rate(300, 60.0)
    parallel = 4
    reuse_sender = False  # the recipient is part of the URL, and _prepare captures each call's log
    _body_format = "text"

    def _endpoint_id(self, parts: Any) -> str:
        query = dict(parse_qsl(parts.query))
        host = query.get("smtp") or parts.hostname or ""
        return f"{host}:{parts.port or ''}"

    def _apprise_url(self, recipient: str | None) -> str:
        parts = urlsplit(self._url())
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        path = parts.path
        if recipient:
            # The message's recipient replaces any fixed one in the URL (path or to=).
            query = [(k, v) for k, v in query if k.lower() != "to"]
            query.append(("to", recipient))
            path = ""
        if not any(k.lower() == "format" for k, _ in query):
            query.append(("format", "text"))
        if not any(k.lower() == "tz" for k, _ in query):
            query.append(("tz", "Asia/Shanghai"))  # the Date header in local time
        return urlunsplit(parts._replace(path=path, query=urlencode(query)))

    def _has_fixed_recipient(self) -> bool:
        parts = urlsplit(self._url())
        return bool(parts.path.strip("/")) or any(
            k.lower() == "to" for k, _ in parse_qsl(parts.query)
        )

    def _refuse(self, recipient: str | None) -> SendResult | None:
        if not recipient:
            if self._has_fixed_recipient():
                return None
            # Without one, apprise would mail the sender itself.
            return SendResult.failure("email: message has no recipient address", retryable=False)
        addresses = [a.strip() for a in re.split(r"[,;]", recipient) if a.strip()]
        bad = [a for a in addresses if not _ADDRESS.match(a)]
        if bad or not addresses:
            return SendResult.failure(
                f"email: invalid recipient address {', '.join(bad) or recipient!r}", retryable=False
            )
        return None

    def _instantiate(self, url: str) -> Any:
        # Apprise's own URL parsing and message building, over kept SMTP connections: its
        # plugin opens a connection and builds an SSL context per message (~25 messages/s).
        from apprise.plugins import url_to_dict

        from qcycle.notify.smtp import KeptEmail

        asset = _apprise_asset()
        results = url_to_dict(url, secure_logging=asset.secure_logging)
        if not results:
            return None
        results.update(tag=set(), asset=asset)
        try:
            plugin = KeptEmail(**results)
        except Exception as exc:  # noqa: BLE001 - apprise's instantiate treats these as invalid
            log.error("could not load the email URL: %s", redact(str(exc)))
            return None
        return plugin if plugin.enabled else None

    def close(self) -> None:
        from qcycle.notify.smtp import close_kept_connections

        close_kept_connections()

    def _prepare(self, plugin: Any, call: _Call) -> None:
        plugin.logger = _RecordingLogger(plugin.logger, call.notes)
        plugin.request_rate_per_sec = 0  # our limiter paces; apprise would sleep 5.5 s

    def _unexplained_failure(self, call: _Call) -> SendResult:
        notes = _explain(call)
        codes = _SMTP_CODE.findall(notes)
        if "no Email recipients" in notes:
            return SendResult.failure(f"email: {notes}", retryable=False)
        if codes:
            code = int(codes[-1])
            # 4xx: try again later; 5xx: the server refuses (bad address, bad login, policy).
            return SendResult.failure(
                f"email: SMTP {code}: {notes}", retryable=400 <= code < 500, status_code=code
            )
        return SendResult.failure(f"email: {notes}", retryable=True)


CHANNEL_KINDS: dict[str, type[Channel]] = {
    cls.kind: cls
    for cls in (
        EmailChannel,
        WeComChannel,
        DingTalkChannel,
        FeishuChannel,
        WebhookChannel,
        SinkChannel,
    )
}

_BY_SCHEMA = {schema: cls for cls in CHANNEL_KINDS.values() for schema in cls.schemas}

_APPRISE_NATIVE = {"wecombot", "wxbot", "dingtalk", "feishu", "lark"}


def channel_for(url: str) -> Channel:
    """The channel a resolved URL describes; :class:`DeliveryError` if unsupported or invalid."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    cls = _BY_SCHEMA.get(scheme)
    if cls is None:
        register_url_secrets(url)
        if scheme in _APPRISE_NATIVE:
            raise DeliveryError(
                f"apprise's {scheme}:// is not used (it counts HTTP 200 with an error code as "
                f"sent); write the URL as qwecom://, qdingtalk:// or qfeishu://"
            )
        raise DeliveryError(
            f"channel URL scheme {scheme!r} is not supported; use one of "
            f"{', '.join(sorted(_BY_SCHEMA))}"
        )
    return cls(url)


def open_channel(ref: str) -> Channel:
    """The channel behind a reference (``env:NAME``, ``secret:NAME`` or ``sink``)."""
    return channel_for(resolve_url(ref))
