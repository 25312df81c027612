"""What every model of the programme schema shares: the strict, frozen base model and the
code type (unit, stage, item codes)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Code", "said_once"]

_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Code = Annotated[str, Field(pattern=_CODE, min_length=1, max_length=64)]


class _Model(BaseModel):
    # Unknown keys are typos, and a typo in a deadline must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def said_once(text: str | None, label: str, key: str) -> str | None:
    """A free text the letters print after their own label (联系人：…, 报送方式：…): the file
    gives what follows it, or the letter would say the label twice."""
    if text is not None and text.lstrip().startswith(label):
        raise ValueError(f"{key} 只写{label}之后的内容（函件自带“{label}：”），如去掉开头的“{label}：”")
    if text is not None and not text.strip():
        raise ValueError(f"{key} 不能为空白")
    return text.strip() if text is not None else None
