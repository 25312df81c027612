"""The collector's passes leave out long-lived objects inside the blocks of qcycle.gcpause,
and everything is as before after them."""

from __future__ import annotations

import gc
import weakref

from qcycle.gcpause import only_new_objects_scanned, without_full_collections


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_objects_alive_before_the_block_are_left_out_of_passes_inside_it():
    before = _Node()
    seen = weakref.ref(before)
    assert gc.get_freeze_count() == 0
    with only_new_objects_scanned():
        assert gc.get_freeze_count() > 0 and gc.isenabled()
        del before
        gc.collect()
        assert seen() is not None  # frozen: no pass looks at it
        made_inside = _Node()
        inside = weakref.ref(made_inside)
        del made_inside
        gc.collect()
        assert inside() is None  # what the block makes is collected as usual
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert seen() is None  # the garbage frozen with it goes at the first pass after


def test_an_inner_block_adds_nothing_and_the_collector_is_restored():
    with only_new_objects_scanned():
        frozen = gc.get_freeze_count()
        with without_full_collections():
            assert not gc.isenabled()
            assert gc.get_freeze_count() == frozen  # not frozen again, not thawed on leaving
        assert gc.isenabled() and gc.get_freeze_count() == frozen
        with only_new_objects_scanned():
            pass
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    with without_full_collections():
        assert gc.get_freeze_count() > 0 and not gc.isenabled()
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_a_failure_inside_leaves_nothing_frozen():
    try:
        with without_full_collections():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_a_freeze_made_elsewhere_is_left_as_it_was():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with only_new_objects_scanned():
            pass
        # Not thawed by a block that did not freeze it (thawed, the count is 0). Not equal to the letter: another
        # thread of the process (a pool left by an earlier test) may free a frozen object meanwhile (378,240 → 378,238).
        assert gc.get_freeze_count() > frozen * 0.9
    finally:
        gc.unfreeze()


def test_young_passes_come_less_often_inside_the_block_and_as_before_after():
    from qcycle.gcpause import YOUNG_OBJECTS

    before = gc.get_threshold()
    with only_new_objects_scanned():
        assert gc.get_threshold() == (max(before[0], YOUNG_OBJECTS), *before[1:])
        with only_new_objects_scanned():  # an inner block changes nothing, and restores nothing early
            pass
        assert gc.get_threshold()[0] == max(before[0], YOUNG_OBJECTS)
    assert gc.get_threshold() == before
    try:
        with only_new_objects_scanned():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_blocks_of_several_threads_at_once_leave_the_collector_as_it_was(monkeypatch):
    import threading
    import time
    import types

    from qcycle import gcpause

    # The collector as the module sees it, slow to say whether anything is frozen: every thread
    # asks before any has frozen (two threads' blocks had left the threshold raised for good).
    slow = types.SimpleNamespace(**{name: getattr(gc, name) for name in dir(gc) if not name.startswith("_")})
    slow.get_freeze_count = lambda: (gc.get_freeze_count(), time.sleep(0.002))[0]
    monkeypatch.setattr(gcpause, "gc", slow)
    before = gc.get_threshold()
    start = threading.Barrier(4)

    def blocks() -> None:
        start.wait()
        for _ in range(20):
            with only_new_objects_scanned():
                time.sleep(0.001)

    threads = [threading.Thread(target=blocks) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_freeze_made_elsewhere_leaves_the_threshold_alone():
    before = gc.get_threshold()
    gc.freeze()
    try:
        with only_new_objects_scanned():
            assert gc.get_threshold() == before
    finally:
        gc.unfreeze()
