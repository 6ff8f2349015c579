"""Executors: map one pure per-batch function over many batches.

Intake splits the received files into batches and needs, for each batch, the
result of a pure function ``fn(context, batch)`` (read + validate, no writes).
An executor runs those calls somewhere — in this process, in a pool of
long-lived local worker processes, or as Ray tasks on a cluster — and yields
the results **in submission order**, so the single writer in the main process
stores exactly the same rows, in the same order, whichever executor ran them.

Only a bounded number of batches is in flight at once (``2 × workers`` by
default): results stream to the writer and memory stays flat as the number of
files grows.

``context`` is shipped to each worker once per :meth:`Executor.map` call, not
once per batch (it may hold the whole unit registry):

- local pool: pickled to a temporary file; each worker loads it on its first
  batch and caches it by token;
- Ray: ``ray.put`` once, the object reference is passed to every task.

``fn`` must be a module-level function (pickled by reference). Ray is an
optional dependency (``pip install 'rectify[cluster]'``), imported only when the
Ray executor is created.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from jobs.core.errors import RectifyError
from jobs.core.resources import package_with_data
from jobs.process import die_with

ExecutorKind = Literal["local", "ray"]
B = TypeVar("B")
R = TypeVar("R")

# Modules a worker imports before its first batch. The forkserver imports them
# once and forks every worker from that warm process, so the ~4 s GX import is
# paid once, not per worker. jobs.validate imports GX lazily (only where
# validation runs), so GX is named here: without it every worker imported GX
# on its first batch (measured: ~3.5 s CPU per worker per run). Missing modules
# are skipped.
DEFAULT_PRELOAD: tuple[str, ...] = ("polars", "fastexcel", "great_expectations", "jobs.validate", "jobs.intake.batch")


class ExecutorError(RectifyError):
    """An executor could not run (Ray missing, cluster unreachable, worker died)."""


def batched(
    items: Iterable[B], size: int, *, weight: Callable[[B], int] | None = None, max_weight: int | None = None
) -> Iterator[list[B]]:
    """Split ``items`` into consecutive lists of at most ``size`` items
    (and, with ``weight``, of at most ``max_weight`` in all).

    An item heavier than ``max_weight`` alone makes a batch of its own. The
    split depends only on the items, ``size`` and ``max_weight``, never on the
    executor or the number of workers, so every executor sees the same batches.
    """
    if size < 1:
        msg = f"batch size must be >= 1, got {size}"
        raise ValueError(msg)
    batch: list[B] = []
    load = 0
    for item in items:
        heft = weight(item) if weight is not None and max_weight is not None else 0
        if batch and max_weight is not None and load + heft > max_weight:
            yield batch
            batch, load = [], 0
        batch.append(item)
        load += heft
        if len(batch) == size:
            yield batch
            batch, load = [], 0
    if batch:
        yield batch


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Executor:
    """Base class: ``map(fn, batches, context=...)`` yields ``fn(context, batch)`` in order."""

    kind: str = "serial"
    workers: int = 1
    # whether workers see this machine's files (so they may write receipts into the home)
    shares_files: bool = True

    def submit(self, fn: Callable[[Any, B], R], item: B, *, context: Any = None) -> Pending[R]:
        """Start ``fn(context, item)`` now (a small side job, e.g. receipts); ``.result()`` waits."""
        return Pending(value=fn(context, item))

    def map(
        self,
        fn: Callable[[Any, B], R],
        batches: Iterable[B],
        *,
        context: Any = None,
    ) -> Iterator[R]:
        """Run ``fn(context, batch)`` for each batch; yield results in submission order."""
        for batch in batches:
            yield fn(context, batch)

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs every batch in this process (``--workers 1``; tests; debugging)."""


class Pending(Generic[R]):
    """A submitted side job: ``result()`` returns its value (or raises its error)."""

    def __init__(self, *, value: Any = None, future: Future | None = None, get: Callable[[], Any] | None = None):
        self._value, self._future, self._get = value, future, get

    def result(self) -> R:
        if self._future is not None:
            return _result(self._future)
        if self._get is not None:
            return self._get()
        return self._value


# ---------------------------------------------------------------- local pool

_WORKER_CONTEXT: tuple[str, Any] | None = None


def _preload(modules: Sequence[str], owner: int | None = None) -> None:
    import importlib

    if owner is not None:
        die_with(owner)
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def _load_context(token: str, path: str | None) -> Any:
    global _WORKER_CONTEXT
    if path is None:
        return None
    if _WORKER_CONTEXT is None or _WORKER_CONTEXT[0] != token:
        with open(path, "rb") as fh:
            _WORKER_CONTEXT = (token, pickle.load(fh))
    return _WORKER_CONTEXT[1]


def _pool_call(fn: Callable[[Any, B], R], token: str, context_path: str | None, batch: B) -> R:
    return fn(_load_context(token, context_path), batch)


def _direct_call(fn: Callable[[Any, B], R], context: Any, item: B) -> R:
    return fn(context, item)


class LocalExecutor(Executor):
    """A pool of long-lived worker processes on this machine.

    Parameters
    ----------
    workers
        Number of worker processes (default: every usable core).
    start_method
        ``forkserver`` (default on Linux: workers fork from a warm server that
        has already imported ``preload``) or ``spawn``. ``fork`` is refused:
        forking a process that holds Polars/Arrow thread pools can deadlock.
    preload
        Modules every worker imports before its first batch.
    in_flight
        Batches submitted ahead of the writer (default ``2 × workers``).
    """

    kind = "local"

    def __init__(
        self,
        *,
        workers: int | None = None,
        start_method: Literal["forkserver", "spawn"] | None = None,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        in_flight: int | None = None,
    ) -> None:
        self.workers = workers or default_workers()
        if self.workers < 1:
            msg = f"workers must be >= 1, got {self.workers}"
            raise ValueError(msg)
        method = start_method or ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
        if method not in ("forkserver", "spawn"):
            msg = f"unsupported start method {method!r}"
            raise ValueError(msg)
        mp_context = multiprocessing.get_context(method)
        if method == "forkserver":
            mp_context.set_forkserver_preload(list(preload))
        self.in_flight = in_flight or 2 * self.workers
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp_context,
            initializer=_preload,
            initargs=(tuple(preload), os.getpid()),
        )
        self._tmpdir = tempfile.TemporaryDirectory(prefix="rectify-exec-")

    def map(
        self,
        fn: Callable[[Any, B], R],
        batches: Iterable[B],
        *,
        context: Any = None,
    ) -> Iterator[R]:
        token = uuid.uuid4().hex
        path: str | None = None
        if context is not None:
            path = str(Path(self._tmpdir.name) / f"context-{token}.pickle")
            with open(path, "wb") as fh:
                pickle.dump(context, fh, protocol=pickle.HIGHEST_PROTOCOL)
        pending: deque[Future[R]] = deque()
        source = iter(batches)
        try:
            for batch in source:
                pending.append(self._pool.submit(_pool_call, fn, token, path, batch))
                if len(pending) >= self.in_flight:
                    yield _result(pending.popleft())
            while pending:
                yield _result(pending.popleft())
        finally:
            for fut in pending:
                fut.cancel()
            if path is not None:
                Path(path).unlink(missing_ok=True)

    def submit(self, fn: Callable[[Any, B], R], item: B, *, context: Any = None) -> Pending[R]:
        return Pending(future=self._pool.submit(_direct_call, fn, context, item))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._tmpdir.cleanup()


def _result(fut: Future[R]) -> R:
    try:
        return fut.result()
    except BrokenProcessPool as exc:
        msg = "处理进程意外退出（可能内存不足或读取文件时崩溃），请减少 --workers 后重试"
        raise ExecutorError(msg) from exc


# ----------------------------------------------------------------------- Ray


class RayExecutor(Executor):
    """Runs each batch as a Ray task on a cluster (or a local Ray instance).

    Parameters
    ----------
    address
        Address of an existing cluster (``ray://host:10001`` or ``host:6379``);
        ``None`` joins the cluster named by ``RAY_ADDRESS`` or starts a local
        instance with ``num_cpus`` CPUs.
    num_cpus
        CPUs of a locally started instance (ignored when joining a cluster).
    in_flight
        Batches submitted ahead of the writer (default ``2 ×`` cluster CPUs).
    ship_code
        Send this ``jobs`` package, schemas and templates included, to the
        workers (``runtime_env.py_modules``) so cluster nodes need only the
        dependencies installed, not rectify.

    The workers need the same Python, Polars, fastexcel and GX as this
    machine. Results come back in submission order; the store is written by
    the caller, in this process only.
    """

    kind = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        in_flight: int | None = None,
        ship_code: bool = False,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            msg = "未安装 Ray，无法使用 --executor ray；请先安装：pip install 'rectify[cluster]'"
            raise ExecutorError(msg) from exc
        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            elif num_cpus:
                kwargs["num_cpus"] = num_cpus
            try:
                # ray.init uploads the shipped package: a staged copy may go afterwards
                with tempfile.TemporaryDirectory(prefix="rectify-ship-") as staging:
                    if ship_code:
                        package = package_with_data(staging=Path(staging))
                        kwargs["runtime_env"] = {"py_modules": [str(package)]}
                    ray.init(**kwargs)
            except Exception as exc:  # ConnectionError, RuntimeError... differ by version
                msg = f"无法连接 Ray 集群（{address or '本机'}）：{exc}"
                raise ExecutorError(msg) from exc
            self._owns = True
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.in_flight = in_flight or 2 * self.workers
        self._remote = ray.remote(_direct_call)
        # a cluster's workers may run on other machines: side jobs writing files stay here
        self.shares_files = not address and not os.environ.get("RAY_ADDRESS")

    def submit(self, fn: Callable[[Any, B], R], item: B, *, context: Any = None) -> Pending[R]:
        ref = self._remote.remote(fn, context, item)
        return Pending(get=lambda: self._get(ref))

    def map(
        self,
        fn: Callable[[Any, B], R],
        batches: Iterable[B],
        *,
        context: Any = None,
    ) -> Iterator[R]:
        ray = self._ray
        context_ref = ray.put(context)
        pending: deque[Any] = deque()
        try:
            for batch in batches:
                pending.append(self._remote.remote(fn, context_ref, batch))
                if len(pending) >= self.in_flight:
                    yield self._get(pending.popleft())
            while pending:
                yield self._get(pending.popleft())
        finally:
            for ref in pending:
                ray.cancel(ref)

    def _get(self, ref: Any) -> Any:
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:
            # re-raise the task's own exception so callers see the same errors
            # as with the local executor
            cause = exc.as_instanceof_cause()
            raise cause from None
        except self._ray.exceptions.RayError as exc:
            msg = f"Ray 任务失败（节点或进程退出）：{exc}"
            raise ExecutorError(msg) from exc

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


def make_executor(
    kind: ExecutorKind = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
    preload: Sequence[str] = DEFAULT_PRELOAD,
) -> Executor:
    """The executor for ``--executor KIND --workers N --address ADDR``.

    ``local`` with one worker runs in this process (no pool start-up cost).
    ``workers`` caps a locally started Ray instance's CPUs; a cluster at
    ``address`` uses all of its CPUs.
    """
    if kind == "local":
        n = workers or default_workers()
        return SerialExecutor() if n == 1 else LocalExecutor(workers=n, preload=preload)
    if kind == "ray":
        return RayExecutor(address=address, num_cpus=None if address else workers)
    msg = f"unknown executor {kind!r}"
    raise ValueError(msg)
