"""What every model of the programme schema shares: the strict, frozen base model and the
code type (unit, stage, item codes)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Code"]

_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Code = Annotated[str, Field(pattern=_CODE, min_length=1, max_length=64)]


class _Model(BaseModel):
    # Unknown keys are typos, and a typo in a deadline must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)
