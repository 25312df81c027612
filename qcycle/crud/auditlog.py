"""The audit log: who did what, append-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from qcycle.crud.base import to_json
from qcycle.models import AuditLog

__all__ = ["audit", "audit_entries"]


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


def audit_entries(*, session: Session, round_code: str, since: dt.datetime | None = None,
                  action: str | None = None, limit: int = 50) -> list[AuditLog]:
    """The round's audit entries, newest first: those from ``since`` on, whose action begins with
    ``action`` ("decide", "extend:application"), at most ``limit``."""
    query = select(AuditLog).where(AuditLog.round_code == round_code)
    if since is not None:
        query = query.where(col(AuditLog.at) >= since)
    if action:
        query = query.where(col(AuditLog.action).startswith(action, autoescape=True))
    return list(session.exec(query.order_by(col(AuditLog.at).desc()).limit(limit)).all())
