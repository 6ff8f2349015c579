"""Process-level tuning: the one place where rectify adjusts the cyclic garbage collector and ends orphaned workers.

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

And the lifetime of pool workers: :func:`die_with` ends a worker with the
process that made its pool, however that one ended.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import threading
import time
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


_WATCH_SECONDS = 0.5  # how often a worker checks that the process that started its pool is alive
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (killed, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user (a reused pid): the owner is gone either way
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            # the state follows the command name, which is in parentheses and may hold spaces
            return fh.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):  # no /proc (not Linux): kill(0) decided
        return True


def die_with(owner: int) -> None:
    """End this worker when ``owner`` (the process that made the pool) ends, even by kill -9.

    A pool's workers otherwise outlive a killed ingest for minutes, finishing
    batches nobody will store (measured: ~900 MB). Under forkserver a worker's
    parent is the fork server, which exits when the owner's end of its pipe
    closes: ``PR_SET_PDEATHSIG`` (Linux) then kills the worker at once. Under
    spawn the parent is the owner's *thread* that started the worker, so the
    signal is not asked for; a daemon thread checking the parent and the owner
    covers both methods and other systems.
    """
    parent = os.getppid()
    if parent != owner and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watching thread alone
            pass
    if os.getppid() != parent or not _alive(owner):  # died before the signal was set
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent and _alive(owner):
            time.sleep(_WATCH_SECONDS)
        os._exit(1)  # no cleanup: nothing a worker holds outlives it, and its owner is gone

    threading.Thread(target=watch, name="rectify-die-with-owner", daemon=True).start()
