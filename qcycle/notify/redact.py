"""Keeping channel secrets out of logs, errors and reprs.

Every secret a channel URL carries (bot key, access token, signing secret, SMTP password) is
registered here when the URL is resolved or parsed; :func:`redact` replaces registered values and
anything that looks like a credential in a URL. :func:`install_log_redaction` puts a filter on
the loggers that see channel URLs: apprise logs bot keys at DEBUG and whole URLs, passwords
included, at TRACE; httpx logs request URLs (``?key=...``) at INFO.

A logging filter only runs for records created by the logger it is attached to (not for records
propagated from child loggers), so it is attached to each logger by exact name; qcycle's notify
code logs through the one logger ``qcycle.notify``.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = [
    "LOGGER_NAME",
    "MASK",
    "REDACTED_LOGGERS",
    "RedactingFilter",
    "install_log_redaction",
    "redact",
    "register_secret",
    "register_url_secrets",
]

MASK = "***"

# The logger all of qcycle.notify writes to.
LOGGER_NAME = "qcycle.notify"

# Loggers that may see a channel URL or a secret.
REDACTED_LOGGERS = (
    "apprise",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.proxy",
    "qcycle",
    LOGGER_NAME,
)

# Shorter values would mask ordinary words ("ok", "abc") everywhere.
_MIN_SECRET_LEN = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# Query parameters whose values are credentials, in any URL.
_QUERY_SECRET = re.compile(
    r"(?i)\b(key|access_token|token|secret|sign|signature|password|passwd|pwd)=([^&\s\"'<>,;)]+)"
)
# user:password@ in any URL.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@\"'<>]*):([^@\s\"'<>/]+)@")
# Feishu/Lark hook tokens in a path.
_HOOK_PATH = re.compile(r"(?i)(/hook/)([A-Za-z0-9_-]+)")
# Our bot schemas and apprise's own: everything after :// is credential.
_BOT_URL = re.compile(
    r"(?i)\b(qwecom|qdingtalk|qfeishu|wecombot|wxbot|dingtalk|feishu|lark)://([^\s\"'<>?]+)"
)
# Apprise TRACE dumps of parsed URLs: password="...", host="KEY" for bot schemas.
_TRACE_FIELD = re.compile(r'(?i)\b(password|token|secret|key|apikey)="([^"]*)"')


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its URL-quoted form) so :func:`redact` masks it."""
    if not value:
        return
    forms = {value, quote(value, safe=""), quote(value, safe="/"), unquote(value)}
    global _pattern
    with _lock:
        added = {f for f in forms if len(f) >= _MIN_SECRET_LEN and f not in _secrets}
        if added:
            _secrets.update(added)
            # Longest first so a secret containing another is masked whole.
            alternatives = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def register_url_secrets(url: str) -> None:
    """Register every credential a channel URL carries.

    For bot schemas (``qwecom://KEY``, ``qdingtalk://TOKEN/SECRET``...) the host and path are
    credentials; for any URL the password, credential-like query values, and long path
    segments of webhooks are.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        register_secret(url)
        return
    scheme = parts.scheme.lower()
    if parts.password:
        register_secret(parts.password)
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if name.lower() in {"key", "access_token", "token", "secret", "sign", "password", "pwd"}:
            register_secret(value)
    if scheme in {"qwecom", "qdingtalk", "qfeishu"}:
        register_secret(_netloc_host(parts.netloc))
        for segment in parts.path.split("/"):
            register_secret(segment)
    elif scheme in {"qhook", "qhooks"}:
        # Webhook URLs often embed a token as a path segment; long segments are treated as one.
        for segment in parts.path.split("/"):
            if len(segment) >= 16:
                register_secret(segment)


def _netloc_host(netloc: str) -> str:
    # urlsplit lowercases .hostname; keys are case-sensitive, so take it from the netloc.
    host = netloc.rsplit("@", 1)[-1]
    return host.split(":", 1)[0]


def redact(text: object) -> str:
    """``text`` with registered secrets and URL credentials replaced by ``***``."""
    out = str(text)
    pattern = _pattern
    if pattern is not None:
        out = pattern.sub(MASK, out)
    out = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", out)
    out = _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", out)
    out = _HOOK_PATH.sub(lambda m: f"{m.group(1)}{MASK}", out)
    out = _BOT_URL.sub(lambda m: f"{m.group(1)}://{MASK}", out)
    out = _TRACE_FIELD.sub(lambda m: f'{m.group(1)}="{MASK}"', out)
    return out


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) through :func:`redact`."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: keep it, never its raw args
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_text = redact(record.exc_text)
            # The exception object itself may carry a URL; handlers use exc_text once set,
            # but keep no live reference a careless handler could format again.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_filter = RedactingFilter()


def install_log_redaction(extra_loggers: tuple[str, ...] = ()) -> None:
    """Attach the redacting filter to every logger that may see a secret (idempotent)."""
    for name in (*REDACTED_LOGGERS, *extra_loggers):
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
