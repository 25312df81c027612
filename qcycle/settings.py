"""Settings: one ``Settings`` singleton read from the environment (prefix ``QCYCLE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "REPO_ROOT"]

# The repository root: config/ lives beside the package in a checkout (editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QCYCLE_", env_file=".env", extra="ignore")

    environment: str = Field("local", description="local | staging | production")
    home: Path = Field(Path(".qcycle"), description="working folder for the SQLite file and sink")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<home>/qcycle.db"
    )
    config_dir: Path = Field(REPO_ROOT / "config", description="programmes, calendar, templates")
    sink_dir: Path | None = Field(None, description="folder where the local sink writes messages")
    office_hours: str = Field("09:00-17:30", description="when reminders may go out, local time")

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
    def programmes_dir(self) -> Path:
        return self.config_dir / "programmes"


@lru_cache
def get_settings() -> Settings:
    return Settings()
