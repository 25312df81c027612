"""A round's units and list items: what the database knows of the programme file's, kept in
step by code (insert or update, none removed)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from qcycle.clock import to_local
from qcycle.crud.base import complete, fields_of, upsert
from qcycle.models import ListItem, Unit

__all__ = ["unit_fields", "units_joined", "upsert_list_items", "upsert_units"]


def unit_fields(*, session: Session, round_id: uuid.UUID) -> dict[str, tuple[str, str, str | None]]:
    """The round's units as stored: ``{code: (name, level, parent_code)}``."""
    session.flush()
    stmt = select(Unit.code, Unit.name, Unit.level, Unit.parent_code).where(Unit.round_id == round_id)
    return {code: (name, level, parent) for code, name, level, parent in session.exec(stmt)}


def units_joined(*, session: Session, round_id: uuid.UUID) -> dict[str, dt.datetime]:
    """The round's units added after it began (an amendment), with when: usually none."""
    stmt = select(Unit.code, Unit.joined_at).where(Unit.round_id == round_id, col(Unit.joined_at).is_not(None))
    return {code: to_local(at) for code, at in session.exec(stmt) if at is not None}


def upsert_units(*, session: Session, round_id: uuid.UUID, units: Iterable[Any]) -> list[Unit]:
    """Insert or update the round's units by code; returns all units of the round by code.

    Each unit is a mapping or object with ``code``, ``name``, ``level`` and ``parent_code``
    (or ``parent``, as in the programme schema). Units missing from ``units`` are kept.
    """
    rows = []
    for item in units:
        f = fields_of(item)
        rows.append(complete(Unit, {  # values, not objects (what row_values(Unit(...)) gives)
            "round_id": round_id,
            "code": f["code"],
            "name": f["name"],
            "level": str(f["level"]),
            "parent_code": f.get("parent_code", f.get("parent")),
            "joined_at": f.get("joined_at"),  # set when first inserted, never updated
        }))
    upsert(
        session,
        Unit,
        rows,
        keys=["round_id", "code"],
        update_columns=["name", "level", "parent_code"],
    )
    stmt = (
        select(Unit)
        .where(Unit.round_id == round_id)
        .order_by(col(Unit.code))
        .execution_options(populate_existing=True)
    )
    return list(session.exec(stmt))


def upsert_list_items(
    *, session: Session, round_id: uuid.UUID, items: Iterable[Any]
) -> list[ListItem]:
    """Insert or update list items (``category_code``, ``code``, ``name``) by code."""
    rows = []
    for item in items:
        f = fields_of(item)
        rows.append(complete(ListItem, {"round_id": round_id, "category_code": f["category_code"],
                                         "code": f["code"], "name": f["name"]}))
    upsert(
        session,
        ListItem,
        rows,
        keys=["round_id", "code"],
        update_columns=["category_code", "name"],
    )
    stmt = (
        select(ListItem)
        .where(ListItem.round_id == round_id)
        .order_by(col(ListItem.code))
        .execution_options(populate_existing=True)
    )
    return list(session.exec(stmt))
