"""JSON texts written once per record of a large import: a record's canonical form (its
fingerprint) and a key's compact form (``submission.identity``); the compact form is also what the
engines write into JSON columns (:func:`qcycle.db.get_engine`).

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

__all__ = ["canonical", "compact", "spaced"]


def _one_encoder(*, sort_keys: bool, default: Callable[[Any], Any],
                 separators: tuple[str, str] = (",", ":")) -> Callable[[Any], str]:
    options = {"sort_keys": sort_keys, "ensure_ascii": False, "default": default, "separators": separators}
    make = getattr(_encoder, "c_make_encoder", None)  # typeshed does not declare the C parts
    if make is None:  # pragma: no cover - CPython without _json
        return json.JSONEncoder(**options).encode  # type: ignore[arg-type]
    # markers=None: no circular-reference check (records are parsed text, and JSON columns hold
    # values built from them and from letters' contexts: never circular; one would end in
    # RecursionError); allow_nan=True as json.dumps has it.
    quote = _encoder.c_encode_basestring  # type: ignore[attr-defined]
    encode = make(None, default, quote, None, separators[1], separators[0], sort_keys, False, True)

    def text(value: Any) -> str:
        return "".join(encode(value, 0))

    return text


def _unserialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


canonical = _one_encoder(sort_keys=True, default=str)
"""``json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))``:
key order and spacing do not matter, what JSON cannot hold is written as its ``str``."""

_compact = _one_encoder(sort_keys=False, default=_unserialisable)


def compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``. A plain function, not the
    encoder's closure: psycopg keeps a JSON column's dumper per function and warns of a leak for a
    closure (every process on PostgreSQL printed four such warnings)."""
    return _compact(value)


spaced = _one_encoder(sort_keys=False, default=_unserialisable, separators=(", ", ": "))
"""``json.dumps(value, ensure_ascii=False)``: the sink's JSON Lines (one per message sent)."""
