"""JSON texts written once per record of a large import: a record's canonical form (its
fingerprint) and a key's compact form (``submission.identity``).

``json.JSONEncoder.encode`` builds a new C encoder on every call; for a record of a few fields
that setup cost more than the encoding. These keep one C encoder each and give the same text
(``json.dumps`` with the same options), falling back to the pure-Python encoder where CPython
was built without its accelerator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

__all__ = ["canonical", "compact"]


def _one_encoder(*, sort_keys: bool, default: Callable[[Any], Any]) -> Callable[[Any], str]:
    options = {"sort_keys": sort_keys, "ensure_ascii": False, "default": default, "separators": (",", ":")}
    make = getattr(_encoder, "c_make_encoder", None)  # typeshed does not declare the C parts
    if make is None:  # pragma: no cover - CPython without _json
        return json.JSONEncoder(**options).encode  # type: ignore[arg-type]
    # markers=None: no circular-reference check (records are parsed text, never circular);
    # allow_nan=True as json.dumps has it.
    quote = _encoder.c_encode_basestring  # type: ignore[attr-defined]
    encode = make(None, default, quote, None, ":", ",", sort_keys, False, True)

    def text(value: Any) -> str:
        return "".join(encode(value, 0))

    return text


def _unserialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


canonical = _one_encoder(sort_keys=True, default=str)
"""``json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))``:
key order and spacing do not matter, what JSON cannot hold is written as its ``str``."""

compact = _one_encoder(sort_keys=False, default=_unserialisable)
"""``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
