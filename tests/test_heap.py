"""Freezing the import-time heap frees what is garbage first and happens once per process."""
import gc
import weakref

from sdopt.heap import freeze_what_is_loaded


class Node:
    def __init__(self):
        self.me = self  # a cycle: only a collection frees it


def test_garbage_is_freed_not_frozen_and_a_second_call_freezes_nothing_more():
    was_frozen = gc.get_freeze_count()
    gc.unfreeze()  # the session froze its own heap at start (bench/plugin.py, loaded by the root conftest.py)
    try:
        garbage = Node()
        dead = weakref.ref(garbage)
        del garbage
        kept = Node()
        freeze_what_is_loaded()
        assert dead() is None
        frozen = gc.get_freeze_count()
        assert frozen > 0 and not any(o is kept for o in gc.get_objects(generation=2))
        later = Node()
        freeze_what_is_loaded()
        assert gc.get_freeze_count() == frozen and any(o is later for o in gc.get_objects())
    finally:
        gc.unfreeze()
        if was_frozen:
            gc.freeze()
