"""Bulk work without the cycle collector's full passes over long-lived objects.

CPython's cycle collector runs a full pass over every tracked object once enough new ones have
survived; a bulk step that makes millions of objects (a national programme read into its
schema, a half-million-row import) triggered such passes again and again over the same
long-lived objects: a sixth of an import's time and a third of the national programme's load.
A simulated national year made 29 such passes, 2.6–3.4 s of its ~25 s, nearly all of it scanning
the modules, the programme and the caches alive before the moment that triggered them.

``gc.freeze``, ``gc.unfreeze`` and the collector's thresholds are process-wide, for every thread,
so one block at a time freezes and raises them (an inner block, another thread's block meanwhile,
or one entered while something else has frozen objects, adds nothing and thaws nothing; the first
block's thread restores all of it as it leaves, and the others carry on with the defaults).
Freezing only tells the collector what not to scan: objects frozen are still freed when nothing
refers to them, and cyclic garbage frozen with them goes at the first full pass after the block.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["only_new_objects_scanned", "without_full_collections"]


@contextlib.contextmanager
def only_new_objects_scanned() -> Iterator[None]:
    """Inside, the collector's passes leave out the objects alive before the block (``gc.freeze``)
    and come after :data:`YOUNG_OBJECTS` more new objects than were let go: for a step of a long
    run (a moment of a round, an action, a delivery pass) that makes many objects beside many
    long-lived ones."""
    global _owner
    thresholds: tuple[int, ...] | None = None
    try:
        with _lock:  # entered and left whole: two threads' blocks once left the threshold raised for good
            if _owner is None and not gc.get_freeze_count():
                thresholds = gc.get_threshold()
                _owner = threading.get_ident()
                gc.freeze()
                # A young pass every 50,000 net new objects, not every 700: a national moment holds
                # thousands of rows, contexts and letters at once, and the passes they set off (5,048
                # young, 434 middle, 22 full a year) took 0.86 s of 17; 0.18 s at 50,000
                # (bench/README.md). Cyclic garbage waits a little longer, nothing more.
                gc.set_threshold(max(thresholds[0], YOUNG_OBJECTS), *thresholds[1:])
        yield
    finally:
        if thresholds is not None:  # only the block that froze thaws and restores
            with _lock:
                gc.set_threshold(*thresholds)
                _owner = None
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


_lock = threading.Lock()
_owner: int | None = None  # the thread whose block froze the objects alive at its start
YOUNG_OBJECTS = 50_000  # net new objects (made less freed) between two young passes inside a block
