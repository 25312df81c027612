"""The kept C encoders write what ``json.dumps`` writes: a record's fingerprint and a key's
identity text must not change with how they are computed (stored rows are matched by them)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from qcycle.intake.checking import fingerprint
from qcycle.jsontext import canonical, compact, spaced

SAMPLES = [
    {"unit": "510100", "kind": "application", "payload": {"联系人": "王芳", "n": 1e20}, "item": None},
    {"b": [1.5, None, True, "引号\"与换行\n和\u2028"], "a": {"z": 1, "y": float("nan")}},
    ["application", "510100", None],
    {2: "数字键", 1: "排序"},
    "单独的文本", 3, 2.5, None, [], {},
]


@pytest.mark.parametrize("value", SAMPLES, ids=range(len(SAMPLES)))
def test_the_kept_encoders_write_what_json_dumps_writes(value):
    assert canonical(value) == json.dumps(value, sort_keys=True, ensure_ascii=False, default=str,
                                          separators=(",", ":"))
    assert compact(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert spaced(value) == json.dumps(value, ensure_ascii=False)  # the sink's JSON Lines


def test_what_json_cannot_hold_is_its_text_in_a_fingerprint_and_refused_in_an_identity():
    record = {"submitted_at": dt.datetime(2023, 4, 18, 10, 0), "id": uuid.UUID(int=7)}
    assert canonical(record) == json.dumps(record, sort_keys=True, ensure_ascii=False, default=str,
                                           separators=(",", ":"))
    with pytest.raises(TypeError):
        compact(record)
    # Key order does not change a record's fingerprint.
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
