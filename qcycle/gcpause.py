"""Bulk work without the cycle collector's full passes over long-lived objects.

CPython's cycle collector runs a full pass over every tracked object once enough new ones have
survived; a bulk step that makes millions of objects (a national programme read into its
schema, a half-million-row import) triggered such passes again and again over the same
long-lived objects: a sixth of an import's time and a third of the national programme's load.
A simulated national year made 29 such passes, 2.6–3.4 s of its ~25 s, nearly all of it scanning
the modules, the programme and the caches alive before the moment that triggered them.

``gc.freeze`` and ``gc.unfreeze`` are process-wide, so one block at a time freezes (an inner
block, or one entered while something else has frozen objects, adds nothing and thaws nothing).
Freezing only tells the collector what not to scan: objects frozen are still freed when nothing
refers to them, and cyclic garbage frozen with them goes at the first full pass after the block.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["only_new_objects_scanned", "without_full_collections"]


@contextlib.contextmanager
def only_new_objects_scanned() -> Iterator[None]:
    """Inside, the collector's passes leave out the objects alive before the block (``gc.freeze``)
    and come every :data:`YOUNG_OBJECTS` new objects: for a step of a long run (a moment of a
    round) that makes many short-lived objects beside many long-lived ones."""
    global _frozen
    if _frozen or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    _frozen = True
    thresholds = gc.get_threshold()
    # A young-generation pass every YOUNG_OBJECTS new objects, not every 700: a national moment
    # makes millions of short-lived rows and contexts, freed by their reference counts; the
    # 5,000 young passes a year (and the older passes they triggered) took 0.86 s of 17, 0.18 s
    # at 50,000 (bench/README.md). Cyclic garbage waits a little longer, nothing more.
    gc.set_threshold(max(thresholds[0], YOUNG_OBJECTS), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        _frozen = False
        gc.unfreeze()


@contextlib.contextmanager
def without_full_collections() -> Iterator[None]:
    """Inside, the objects alive before it are not scanned (``gc.freeze``) and the collector
    does not run by itself; a caller working in batches collects the young generations every
    few of them (``gc.collect(1)``). Everything is as before on leaving, and garbage made inside is
    collected by the next pass as usual."""
    enabled = gc.isenabled()
    with only_new_objects_scanned():
        gc.disable()
        try:
            yield
        finally:
            if enabled:
                gc.enable()


_frozen = False  # whether a block has frozen the objects alive at its start
YOUNG_OBJECTS = 50_000  # new objects between two young-generation passes inside a block
