"""The one exception tree of qcycle.

    QcycleError
    ├── ConfigError          a programme or settings file is wrong (carries every Problem found)
    ├── UsageError           asked for something that cannot be done as given: options that do
    │   │                    not go together, a value or an input file that cannot be read
    │   ├── NotFoundError    a round, stage, unit, message or record named by the caller is not there
    │   └── DecisionError    a decision cannot be recorded as asked (stage, subject or outcome)
    ├── StateError           an action refused in the current state (a message whose state does
    │                        not allow it, a database not yet upgraded, a file already there)
    ├── CalendarError        the official calendar cannot answer (and no fallback is allowed)
    ├── TimetableError       a round cannot be expanded into dated actions
    ├── IntakeError          a submission source failed as a whole (not one bad record)
    │   └── SourceFailed     an HTTP source failed: refused, unavailable, too slow, too large,
    │                        redirected elsewhere (``kind``); carries what was taken before
    ├── DeliveryError        a channel could not be configured (sending itself never raises)
    └── AssessmentError      scores cannot be aggregated as the scheme says

Third-party errors are converted at the boundary with ``raise ... from exc``. The command line
turns each class into an exit code and a one-line message in one place
(:func:`qcycle.cli.common.exit_code`).

Not in the tree, on purpose: ``ValueError`` raised inside pydantic validators (pydantic turns
them into located problems, which the loader reports as a :class:`ConfigError`), and
programming errors — a caller passing the wrong type or a value the data layer refuses, an id
that the database gave a moment ago and no longer has — which stay ``TypeError``,
``ValueError`` or ``LookupError``: they are bugs, not something a user can fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from qcycle.intake.report import ImportReport

__all__ = [
    "AssessmentError",
    "CalendarError",
    "ConfigError",
    "DecisionError",
    "DeliveryError",
    "FailureKind",
    "IntakeError",
    "NotFoundError",
    "Problem",
    "QcycleError",
    "SourceFailed",
    "StateError",
    "TimetableError",
    "UsageError",
    "json_problem",
    "why_unreadable",
]


class QcycleError(Exception):
    """Base of every error qcycle raises on purpose."""

    retryable: bool = False  # the same call may succeed later (an outage, a concurrent writer)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: where it is and what was expected."""

    file: str
    path: str  # dotted field path, e.g. "stages[2].deadline.date"
    message: str  # what is wrong and what was expected
    line: int | None = None
    named: str = ""  # the items of the path by their codes: "阶段 half_year" (an index counts from 0)

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        path = f" [{self.path}]" if self.path else ""
        named = f"（{self.named}）" if self.named else ""
        return f"{where}{path}{named}: {self.message}"


@dataclass
class ConfigError(QcycleError):
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class UsageError(QcycleError):
    """What was asked cannot be done as given: fix the command, the value or the input file."""


class NotFoundError(UsageError):
    """A round, stage, unit, message or record named by the caller is not there."""


class DecisionError(UsageError):
    """A decision that cannot be recorded as asked (unknown stage, subject or outcome)."""


class StateError(QcycleError):
    """An action refused in the current state of things (not a mistake in how it was asked)."""


class CalendarError(QcycleError):
    pass


class TimetableError(QcycleError):
    pass


class IntakeError(QcycleError):
    pass


FailureKind = Literal["refused", "unavailable", "unreadable", "deadline", "too_large", "redirect"]


class SourceFailed(IntakeError):
    """An HTTP source failed as a whole; ``report`` holds what was taken before it did.

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


class DeliveryError(QcycleError):
    pass


class AssessmentError(QcycleError):
    pass


def why_unreadable(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read, in the ops team's words (the system's are English)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"不是 UTF-8 文本（第 {exc.start + 1} 个字节无法按 UTF-8 解码）"
    if isinstance(exc, FileNotFoundError):
        return "文件不存在"
    if isinstance(exc, IsADirectoryError):
        return "这是一个文件夹，不是文件"
    if isinstance(exc, PermissionError):
        return "没有读取权限"
    return f"系统错误：{exc.strerror or exc}"


# json's messages (English) as an office reads them, by their first words.
_JSON_WORDS = (
    ("Expecting property name", "键须用英文双引号括起来"),
    ("Expecting ',' delimiter", "缺少逗号“,”"),
    ("Expecting ':' delimiter", "缺少冒号“:”"),
    ("Expecting value", "这里缺少值（或不是 JSON）"),
    ("Unterminated string", "字符串缺少结束的双引号"),
    ("Extra data", "一个完整的 JSON 之后还有多余的内容"),
    ("Invalid control character", "字符串中有换行等控制字符"),
    ("Invalid \\escape", "字符串中有无效的转义（反斜杠）"),
)


def json_problem(exc: ValueError) -> str:
    """Why text is not JSON, in the ops team's words, with where when json says it."""
    message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    words = next((zh for en, zh in _JSON_WORDS if message.startswith(en)), "JSON 格式错误")
    where = f"第 {exc.lineno} 行第 {exc.colno} 列：" if isinstance(exc, json.JSONDecodeError) else ""
    return f"{where}{words}"
