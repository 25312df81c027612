"""Bulk work without the cycle collector's full passes.

CPython's cycle collector runs a full pass over every tracked object once enough new ones have
survived; a bulk step that makes millions of objects (a national programme read into its
schema, a half-million-row import) triggered such passes again and again over the same
long-lived objects: a sixth of an import's time and a third of the national programme's load.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["without_full_collections"]


@contextlib.contextmanager
def without_full_collections() -> Iterator[None]:
    """Inside, the objects alive before it are not scanned (``gc.freeze``) and the collector
    does not run by itself; a caller working in batches collects the young generations every
    few of them (``gc.collect(1)``). Everything is as before on leaving, and garbage made inside is
    collected by the next pass as usual."""
    global _inside
    if _inside:  # inside another such block (a programme loaded during an import): nothing to add
        yield
        return
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    _inside = True
    try:
        yield
    finally:
        _inside = False
        gc.unfreeze()
        if enabled:
            gc.enable()


_inside = False  # the outermost block freezes and unfreezes
