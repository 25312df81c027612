"""Shipped programmes as another office would write them, for tests of what the shipped file
does not do (its rules stay as the source documents say)."""

from __future__ import annotations

import functools
from pathlib import Path

from tests.scratch import scratch_dir

PROGRAMMES = Path(__file__).resolve().parent.parent / "config" / "programmes"
SICHUAN = PROGRAMMES / "sc-jbgs-2023.yaml"
_VOLUNTARY = "    voluntary: true          # 各市（州）可自主选择揭榜项目：未揭榜不算逾期，不发逾期通知、不督办\n"


@functools.cache
def compulsory_sichuan() -> Path:
    """四川's round with 揭榜 owed by every city (the source lets each city choose): the reference
    for the overdue notice and the 督办 of a window that refuses late hand-ins. Written once per
    process, under the same file name, so that a test may write an edited copy beside its own."""
    text = SICHUAN.read_text(encoding="utf-8")
    assert text.count(_VOLUNTARY) == 1, "the shipped 四川 file no longer says voluntary where this expects it"
    path = scratch_dir("variants") / SICHUAN.name
    path.write_text(text.replace(_VOLUNTARY, ""), encoding="utf-8")
    return path
