"""The allowed values of the status-like text columns (submission kinds and statuses, decision
outcomes, outbox statuses and their labels, action outcomes)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ACTION_OUTCOMES",
    "BUILTIN_SUBMISSION_KINDS",
    "DECISION_OUTCOMES",
    "OUTBOX_STATUSES",
    "OUTBOX_STATUS_LABELS",
    "SUBMISSION_KINDS",
    "SUBMISSION_STATUSES",
    "ActionOutcome",
    "DecisionOutcome",
    "OutboxStatus",
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
DecisionOutcome = Literal["approved", "rejected", "confirmed", "returned"]
OutboxStatus = Literal["queued", "sending", "sent", "failed", "dead", "cancelled", "unknown"]
ActionOutcome = Literal["done", "skipped", "failed"]

SUBMISSION_KINDS: tuple[str, ...] = BUILTIN_SUBMISSION_KINDS
SUBMISSION_STATUSES: tuple[str, ...] = get_args(SubmissionStatus)
DECISION_OUTCOMES: tuple[str, ...] = get_args(DecisionOutcome)
OUTBOX_STATUSES: tuple[str, ...] = get_args(OutboxStatus)
OUTBOX_STATUS_LABELS = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "待重试",
                        "dead": "已停止重试", "cancelled": "已取消", "unknown": "结果未知"}
ACTION_OUTCOMES: tuple[str, ...] = get_args(ActionOutcome)
