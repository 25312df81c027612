"""What every model of the programme schema shares: the strict, frozen base model and the
code type (unit, stage, item codes)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["CODE_PATTERN", "Code", "Contact", "SubmitVia", "said_once"]

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Code = Annotated[str, Field(pattern=CODE_PATTERN, min_length=1, max_length=64)]


class _Model(BaseModel):
    # Unknown keys are typos, and a typo in a deadline must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def said_once(text: str, label: str, key: str, *, sentence: bool = False) -> str:
    """A free text the letters print after their own label (联系人：…, 报送方式：…): the file
    gives what follows it, or the letter would say the label twice. ``sentence``: the letter ends
    the sentence itself, so a closing 。 is taken off."""
    if text.lstrip().startswith(label):
        raise ValueError(f"{key} 只写{label}之后的内容（函件自带“{label}：”），如去掉开头的“{label}：”")
    if not text.strip():
        raise ValueError(f"{key} 不能为空白")
    said = text.strip()
    return (said.rstrip("。；;.，, ") or said) if sentence else said


# Whom to ask (round.contact, stages[].contact) and how a window's material goes (stages[].submit_via),
# as the letters print them after 联系人： and 报送方式：.
Contact = Annotated[str, Field(min_length=1, max_length=100),
                    AfterValidator(lambda text: said_once(text, "联系人", "contact"))]
SubmitVia = Annotated[str, Field(min_length=1, max_length=200),
                      AfterValidator(lambda text: said_once(text, "报送方式", "submit_via", sentence=True))]
