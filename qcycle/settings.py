"""Settings: one ``Settings`` singleton read from the environment (prefix ``QCYCLE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["REPO_ROOT", "Settings", "get_settings"]

# The repository root: config/ lives beside the package in a checkout (editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent
# An installed wheel carries the shipped configuration inside the package.
_PACKAGED_CONFIG = Path(__file__).resolve().parent / "config"
DEFAULT_CONFIG_DIR = _PACKAGED_CONFIG if _PACKAGED_CONFIG.is_dir() else REPO_ROOT / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QCYCLE_", env_file=".env", extra="ignore")

    environment: str = Field("local", description="local | staging | production")
    home: Path = Field(Path(".qcycle"), description="working folder for the SQLite file and sink")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<home>/qcycle.db"
    )
    config_dir: Path = Field(DEFAULT_CONFIG_DIR, description="programmes, calendar, templates "
                             "(default: the checkout's config/, or the one shipped in the wheel)")
    sink_dir: Path | None = Field(None, description="folder where the local sink writes messages")
    sink_layout: Literal["files", "jsonl"] = Field(
        "files", description="local sink: one JSON file per message, or one JSON Lines file per day")
    office_hours: str = Field("09:00-17:30", description="when reminders may go out, local time")
    notify_resend_ambiguous: bool = Field(
        False,
        description="after a crash, resend a message whose request was already out (at least "
        "once) instead of holding it as unknown for ops (never twice)",
    )
    office_hours_deadline_exception: bool = Field(
        True, description="a reminder whose deadline is today may go out after hours, until then"
    )
    notify_max_attempts: int = Field(5, ge=1, description="sends of a message before it is dead")
    notify_backoff_base_seconds: float = Field(60.0, gt=0, description="first retry wait (jittered)")
    notify_backoff_cap_seconds: float = Field(3600.0, gt=0, description="longest retry wait")
    notify_stale_sending_seconds: float = Field(
        600.0, gt=0, description="seconds of real time after which a 'sending' lease of a holder not known "
                            "to be gone (another machine) is taken over by the next run"
    )
    notify_timeout: float = Field(10.0, gt=0, description="seconds per bot request (a URL's ?timeout= wins)")
    # Where the bot APIs are (a URL's ?base= wins): a proxy or gateway in a closed network.
    wecom_base_url: str = Field("https://qyapi.weixin.qq.com", description="WeCom group-bot API host")
    dingtalk_base_url: str = Field("https://oapi.dingtalk.com", description="DingTalk group-bot API host")
    feishu_base_url: str = Field("https://open.feishu.cn", description="Feishu group-bot API host")
    prefect_startup_timeout: float = Field(
        180.0, gt=0, description="seconds the embedded Prefect server may take to start (loaded machines)")
    notify_max_workers: int = Field(8, ge=1, description="concurrent sends in one delivery run")
    import_cache_mib: int = Field(
        64, ge=1, description="SQLite page cache of a file import's connection, MiB (a fixed cost, "
                              "not one per row: it keeps the indexes a batch touches in memory)")
    import_lane: bool = Field(
        True, description="file imports on SQLite store plain CSV rows a batch at a time (qcycle.intake.lane); "
                          "false: every row per row (the same outcomes, slower)")
    notify_batch_size: int = Field(2000, ge=1, description="messages claimed per delivery batch")

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, value: str | None) -> str | None:
        # Operators paste libpq URLs; SQLAlchemy needs the driver named.
        if value and value.startswith(("postgres://", "postgresql://")):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'qcycle.db').resolve()}"

    @property
    def effective_sink_dir(self) -> Path:
        return self.sink_dir or (self.home / "sink")

    @property
    def calendar_dir(self) -> Path:
        return self.config_dir / "calendar"

    @property
    def templates_dir(self) -> Path:
        return self.config_dir / "templates"

    @property
    def template_dirs(self) -> list[Path]:
        """Where letters' templates are looked up, in order: this config's, then the shipped ones.
        An office's own config folder (its calendar files, a template it rewrote) need not copy
        every shipped template: one that moved its calendar there had no letters at all."""
        shipped = DEFAULT_CONFIG_DIR / "templates"
        return [self.templates_dir] + ([shipped] if shipped.resolve() != self.templates_dir.resolve() else [])

    @property
    def programmes_dir(self) -> Path:
        return self.config_dir / "programmes"


@lru_cache
def get_settings() -> Settings:
    return Settings()
