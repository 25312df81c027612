"""The round and who takes part in it: the round's facts, the channels that reach people, the
units (责任单位) and the list (榜单) of categories and items."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from qcycle.schema.base import Code, Contact, _Model
from qcycle.schema.dates import Cadence, RoundPeriod

__all__ = ["LEVEL_NAMES", "Category", "Channel", "ListItem", "RoundInfo", "Unit"]

LEVEL_NAMES = {
    "province": "省级",
    "city": "市（州）",
    "county": "县（市、区）",
    "town": "乡镇（街道）",
    "office": "基层所",
    "department": "部门",
    "government": "政府",
    "enterprise": "企业",
}
# A reference to a secret: the value itself never appears in a programme file.
_SECRET_REF = re.compile(r"^(env|secret):[A-Za-z_][A-Za-z0-9_\-]*$")


# -- round and units -----------------------------------------------------------------------


class RoundInfo(_Model):
    code: Code
    name: str = Field(min_length=1)
    programme: str = Field(min_length=1, description="programme family, e.g. 揭榜挂帅")
    issuer: Code = Field(description="unit code of the issuing office; it receives ops digests")
    years: list[int] = Field(min_length=1, description="calendar years in which the round's actions fall")
    period: RoundPeriod | None = Field(None, description="the period assessed (考核期), if not the years")
    cadence: Cadence | None = Field(None, description="how often the programme runs (每N年一届)")
    timezone: Literal["Asia/Shanghai"] = "Asia/Shanghai"
    source: str | None = Field(None, description="the public document this round follows")
    contact: Contact | None = Field(None, description=(
        "who units ask about the round, printed in every letter to a unit (联系人：…): 质量发展科 张三，0816-1234567"))
    notes: list[str] = Field(default_factory=list)
    level_names: dict[Literal["province", "city", "county", "town", "office", "department", "government", "enterprise"],
                      Annotated[str, Field(min_length=1, max_length=20)]] = Field(
        default_factory=dict, description=("what this office calls a level, where not the default (city: 设区市 for "
                                           "市（州）; county: 县（市）): plans, rankings by level and exports say it"))

    @field_validator("years")
    @classmethod
    def _years(cls, years: list[int]) -> list[int]:
        if any(y < 2000 or y > 2100 for y in years):
            raise ValueError("年份应在2000–2100之间")
        if years != sorted(set(years)):
            raise ValueError("年份应升序且不重复，如 [2023, 2024]")
        return years


class Channel(_Model):
    """A way to reach people. ``url`` names where the URL lives, never the URL itself."""

    name: Code
    kind: Literal["email", "wecom", "dingtalk", "feishu", "webhook", "sink"]
    url: str = Field(
        "sink",
        description="env:VAR or secret:BLOCK holding the apprise URL; 'sink' for the local sink",
    )
    tags: list[str] = Field(default_factory=list)
    rate_per_minute: int | None = Field(None, gt=0)
    salutation: str | None = Field(
        None, min_length=1,
        description="a group bot's form of address for all its units at once (各市（州）市场监督管理局)")

    @field_validator("url")
    @classmethod
    def _no_literal_secret(cls, url: str) -> str:
        if url == "sink" or _SECRET_REF.match(url):
            return url
        raise ValueError(
            "渠道地址只能写成 env:环境变量名 或 secret:密钥块名（或 sink），"
            "不得在文件中直接写入含密钥的URL"
        )


class Unit(_Model):
    code: Code
    name: str = Field(min_length=1)
    level: Literal[
        "province", "city", "county", "town", "office", "department", "government", "enterprise"
    ]
    parent: Code | None = None
    group: str | None = Field(
        None, min_length=1, max_length=20,
        description="the class it is assessed in under rank_within: group (市辖区, 县（市）), as letters name it")
    channels: list[Code] = Field(default_factory=list, description="names of channels")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")


# -- the list (榜单) -------------------------------------------------------------------------


class ListItem(_Model):
    code: Code
    name: str = Field(min_length=1)
    content: str | None = Field(None, description="项目内容")
    eligibility: str | None = Field(None, description="揭榜条件")
    criteria: str | None = Field(None, description="评价确认标准")


class Category(_Model):
    code: Code
    name: str = Field(min_length=1)
    items: list[ListItem] = Field(default_factory=list)
