"""The one exception tree of qcycle.

    QcycleError
    ├── ConfigError          a programme or settings file is wrong (carries every Problem found)
    ├── CalendarError        the official calendar cannot answer (and no fallback is allowed)
    ├── TimetableError       a round cannot be expanded into dated actions
    ├── IntakeError          a submission source failed as a whole (not one bad record)
    ├── DeliveryError        a channel could not be configured (sending itself never raises)
    └── AssessmentError      scores cannot be aggregated as the scheme says

Third-party errors are converted at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AssessmentError",
    "CalendarError",
    "ConfigError",
    "DeliveryError",
    "IntakeError",
    "Problem",
    "QcycleError",
    "TimetableError",
]


class QcycleError(Exception):
    """Base of every error qcycle raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: where it is and what was expected."""

    file: str
    path: str  # dotted field path, e.g. "stages[2].deadline.date"
    message: str  # what is wrong and what was expected
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        path = f" [{self.path}]" if self.path else ""
        return f"{where}{path}: {self.message}"


@dataclass
class ConfigError(QcycleError):
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class CalendarError(QcycleError):
    pass


class TimetableError(QcycleError):
    pass


class IntakeError(QcycleError):
    pass


class DeliveryError(QcycleError):
    pass


class AssessmentError(QcycleError):
    pass
