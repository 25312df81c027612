"""Submissions intake: one record at a time into the round, never dropping anything.

``ingest`` validates a record against the programme (kind, unit, item, period, dates),
applies the stage's lateness rule and stores it once (by fingerprint), or keeps the raw
record in quarantine with the reason. ``import_file`` reads CSV/XLSX/JSON files and
``pull_http`` pages through an HTTP JSON endpoint; both feed ``ingest`` row by row and
quarantine what cannot be read, with its line or page.
"""

from typing import TYPE_CHECKING, Any

from qcycle.errors import SourceFailed
from qcycle.intake.checking import fingerprint
from qcycle.intake.files import import_file, read_file
from qcycle.intake.records import IngestResult, ingest, ingest_many
from qcycle.intake.report import ImportReport, QuarantinedRow

if TYPE_CHECKING:
    from qcycle.intake.http import HttpSource, pull_http, pull_into_database

_HTTP = frozenset({"HttpSource", "pull_http", "pull_into_database"})

__all__ = [
    "HttpSource",
    "ImportReport",
    "IngestResult",
    "QuarantinedRow",
    "SourceFailed",
    "fingerprint",
    "import_file",
    "ingest",
    "ingest_many",
    "pull_http",
    "pull_into_database",
    "read_file",
]


def __getattr__(name: str) -> Any:
    # The HTTP side (httpx: a tenth of a second) is imported when first asked for, not by every
    # file import and command.
    if name in _HTTP:
        from qcycle.intake import http

        return getattr(http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _HTTP)
