"""Tables of a round and what it is made of: the round itself, amendments to its programme
file, units' own deadlines, its units (责任单位) and list items (榜单项目)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from qcycle.clock import now
from qcycle.models.columns import LocalDateTime, _round_fk, _stamp, _uuid_pk

__all__ = [
    "ListItem",
    "ListItemBase",
    "ProgrammeRound",
    "ProgrammeRoundBase",
    "RoundAmendment",
    "RoundAmendmentBase",
    "Unit",
    "UnitBase",
    "UnitExtension",
    "UnitExtensionBase",
]

# -- programme rounds ------------------------------------------------------------------------


class ProgrammeRoundBase(SQLModel):
    code: str = Field(unique=True, description="e.g. 2023-zhiliang-jiebang")
    name: str
    issuer_code: str = Field(index=True)
    config_path: str
    config_sha256: str = Field(min_length=64, max_length=64)
    first_year: int
    last_year: int
    current_stage: str | None = None
    programme: str | None = Field(None, index=True, description="programme family, e.g. 区政府质量奖")
    # The file as the round last ran on it: the base a change is shown against (plan --diff).
    config_text: str | None = Field(None, sa_type=Text)


class ProgrammeRound(ProgrammeRoundBase, table=True):
    __tablename__ = "programme_round"

    id: uuid.UUID = _uuid_pk()
    created_at: dt.datetime = _stamp()
    updated_at: dt.datetime = _stamp(sa_column_kwargs={"onupdate": now})


class RoundAmendmentBase(SQLModel):
    actor: str = Field(description='"cli:alice" (qcycle amend), or the command that found the file changed')
    reason: str = Field("", sa_type=Text)
    sha_before: str
    sha_after: str
    config_before: str | None = Field(None, sa_type=Text)  # None: the round ran before versions were kept
    config_after: str = Field(sa_type=Text)
    changes: list[str] = Field(default_factory=list, sa_type=JSON)  # the plan diff, one line each


class RoundAmendment(RoundAmendmentBase, table=True):
    """A change to a running round's programme file (修改方案): who, when, why, what it did."""

    __tablename__ = "round_amendment"

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk(index=True)
    recorded_at: dt.datetime = _stamp()


class UnitExtensionBase(SQLModel):
    stage: str
    unit_code: str
    period: str = ""  # "" for a stage without periods (a unique key cannot hold NULLs alike)
    deadline: dt.datetime = Field(sa_type=LocalDateTime)  # the unit's own last moment to hand in
    reason: str = Field("", sa_type=Text)
    actor: str


class UnitExtension(UnitExtensionBase, table=True):
    """A unit's own deadline for one window (延期申请, granted by ops): its reminders, lateness
    and overdue notice follow it; the stage's deadline no longer applies to that unit."""

    __tablename__ = "unit_extension"
    __table_args__ = (UniqueConstraint("round_id", "stage", "unit_code", "period"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    granted_at: dt.datetime = _stamp()


# -- units (责任单位) ---------------------------------------------------------------------------


class UnitBase(SQLModel):
    code: str
    name: str
    level: str
    parent_code: str | None = None


class Unit(UnitBase, table=True):
    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("round_id", "code"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    joined_at: dt.datetime | None = Field(
        None, sa_type=LocalDateTime, description="added to the round after it began (an amendment); None: from the start")


# -- list items (榜单项目) ---------------------------------------------------------------------


class ListItemBase(SQLModel):
    category_code: str = Field(index=True)
    code: str
    name: str


class ListItem(ListItemBase, table=True):
    __tablename__ = "list_item"
    __table_args__ = (UniqueConstraint("round_id", "code"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
