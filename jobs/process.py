"""Process-level tuning: the one place where rectify adjusts the cyclic garbage collector.

A batch allocates millions of containers (cells, rows, frames' Python
wrappers, GX's classes) of which almost none are cyclic garbage. The cyclic
GC's default settings make it walk them again and again, and tear them down
one by one at exit. Everything here uses :mod:`gc`'s public API only:

- :func:`console_process` wraps the ``rectify`` console script: fewer
  collections while it runs (:data:`GC_THRESHOLDS`), and a frozen heap when
  it exits. The exit is otherwise the ordinary one: threads are joined, every
  ``atexit`` handler runs (``weakref.finalize``, tempfile, multiprocessing
  and logging clean-ups included) and the interpreter flushes the standard
  streams. But the shutdown's collections skip the permanent generation, so
  modules and what they hold are left to the OS instead of being torn down
  object by object (their finalisers do not run, as after ``os._exit``):
  ~45 ms instead of ~450 ms after ``rectify validate`` of the 38 sample
  returns (of ~3 s), ~57 ms instead of ~645 ms after 292 generated returns
  (``os._exit`` itself: ~20 and ~35 ms).
- :func:`settled_heap` and :func:`keep_long_lived` keep a batch's long-lived
  objects out of the full collections during validation.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations before a young collection, and collections before an older one
# (mypy's settings). With the default (700, 10, 10) reading 5,000 returns ran
# ~1,200 full-heap walks (~0.4 s of CPU against ~0.1 s).
GC_THRESHOLDS = (200_000, 30, 30)


@contextmanager
def console_process() -> Iterator[None]:
    """Tune the GC for a whole command-line run; on the way out (exit included) freeze the heap.

    Freezing moves every live object to the permanent generation, which no
    collection walks, the interpreter's shutdown collections included: GX's
    thousands of classes and the batch's objects are not traversed and torn
    down at exit. Write files with ``with`` blocks (or close them): an object
    still alive at exit is never finalised.
    """
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.freeze()


@contextmanager
def settled_heap() -> Iterator[None]:
    """Keep what exists now (read returns, imported modules) out of the cyclic GC's passes until the block ends.

    A batch holds hundreds of thousands of long-lived objects, and importing GX
    or building findings triggers full collections that walked all of them
    again and again (~0.4 s of CPU on 5,000 returns). Objects made inside the
    block are collected as usual; what was frozen here is unfrozen on the way
    out, unless the caller had frozen objects itself (we do not undo that).

    Unfrozen objects land in the oldest generation without counting towards
    the next full collection, so cyclic garbage frozen during one batch would
    never be collected in a long-lived worker (memory grew ~80 MB per batch of
    500 returns). A full collection on the way in frees the previous batch's.
    """
    outermost = gc.get_freeze_count() == 0
    if outermost:
        gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if outermost:
            gc.unfreeze()


def keep_long_lived() -> None:
    """Move every object alive now out of the GC's passes (inside :func:`settled_heap`, which undoes it)."""
    gc.freeze()
