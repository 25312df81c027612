"""The audit log: who did what, append-only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from qcycle.crud.base import to_json
from qcycle.models import AuditLog

__all__ = ["audit"]


def audit(
    *,
    session: Session,
    actor: str,
    action: str,
    round_code: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Append one audit entry (``actor`` like "cli:alice", "flow:reconcile", "schedule")."""
    entry = AuditLog(
        actor=actor, action=action, round_code=round_code, detail=to_json(dict(detail or {}))
    )
    session.add(entry)
    session.flush()
    return entry
