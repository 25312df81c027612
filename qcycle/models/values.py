"""The allowed values of the status-like text columns (submission kinds and statuses, decision
outcomes and which of them say yes or no, outbox statuses and their labels, action outcomes)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ACTION_OUTCOMES",
    "BUILTIN_SUBMISSION_KINDS",
    "DECISION_OUTCOMES",
    "NEGATIVE_OUTCOMES",
    "OUTBOX_STATUSES",
    "OUTBOX_STATUS_LABELS",
    "POSITIVE_OUTCOMES",
    "SUBMISSION_KINDS",
    "SUBMISSION_STATUSES",
    "YES_NO_OUTCOMES",
    "ActionOutcome",
    "DecisionOutcome",
    "NegativeOutcome",
    "OutboxStatus",
    "PositiveOutcome",
    "SubmissionKind",
    "SubmissionStatus",
]

# The allowed values of the status-like string columns (stored as text, checked in Base models).
# Built-in kinds; a programme file may declare more (``submission_kinds``), so the column is text.
SubmissionKind = str
BUILTIN_SUBMISSION_KINDS = (
    "application",
    "progress_report",
    "evaluation_request",
    "self_evaluation",
    "rectification_report",
    "objection",
    "score",
)
SubmissionStatus = Literal["accepted", "rejected_late", "withdrawn"]
# A decision says yes or no. A decision stage records approved or rejected (the first word of
# each side); rounds decided before v2 may hold the evaluation words confirmed/returned, which
# mean the same. Everything that asks "was it a yes?" reads these two, nothing spells them again.
PositiveOutcome = Literal["approved", "confirmed"]
NegativeOutcome = Literal["rejected", "returned"]
DecisionOutcome = Literal[PositiveOutcome, NegativeOutcome]
OutboxStatus = Literal["queued", "sending", "sent", "failed", "dead", "cancelled", "unknown"]
ActionOutcome = Literal["done", "skipped", "failed"]

SUBMISSION_KINDS: tuple[str, ...] = BUILTIN_SUBMISSION_KINDS
SUBMISSION_STATUSES: tuple[str, ...] = get_args(SubmissionStatus)
POSITIVE_OUTCOMES: tuple[str, ...] = get_args(PositiveOutcome)
NEGATIVE_OUTCOMES: tuple[str, ...] = get_args(NegativeOutcome)
DECISION_OUTCOMES: tuple[str, ...] = POSITIVE_OUTCOMES + NEGATIVE_OUTCOMES
YES_NO_OUTCOMES: tuple[str, str] = (POSITIVE_OUTCOMES[0], NEGATIVE_OUTCOMES[0])  # what a decision records
OUTBOX_STATUSES: tuple[str, ...] = get_args(OutboxStatus)
OUTBOX_STATUS_LABELS = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "待重试",
                        "dead": "已停止重试", "cancelled": "已取消", "unknown": "结果未知"}
ACTION_OUTCOMES: tuple[str, ...] = get_args(ActionOutcome)
