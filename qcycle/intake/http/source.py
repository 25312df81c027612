"""What an HTTP source is: its configuration (:class:`HttpSource`, which holds no secret), how
it fails as a whole (:class:`SourceFailed`, from :mod:`qcycle.errors`), and URLs made safe to
show and compared by origin."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The failure lives in the one exception tree; importable from here as before.
from qcycle.errors import FailureKind, SourceFailed

__all__ = ["FailureKind", "HttpSource", "SourceFailed", "safe_url"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_PARAM = re.compile(r"(?i)^(key|access_token|token|secret|sign|signature|password|pwd)$")
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
