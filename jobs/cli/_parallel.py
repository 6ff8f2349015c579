"""Shared CLI options for commands that ingest many files: workers, executor, progress.

``--workers N`` (default: every core), ``--executor local|ray``, ``--address
ADDR`` (Ray cluster) and ``--quiet`` (no progress line). Commands call
:func:`intake_runtime` to get the executor (or ``None`` for small inputs,
which are faster in this process than through a pool) and a progress line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from jobs.intake.executors import Executor, ExecutorKind, make_executor
from jobs.intake.progress import Progress


def parallel_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--workers``, ``--executor``, ``--address`` and ``--quiet``."""
    options = [
        click.option("--workers", type=click.IntRange(1), default=None,
                     help="并行读取和检查报表的工作进程数（默认：全部CPU核）。"),
        click.option("--executor", "executor_kind", type=click.Choice(["local", "ray"]), default="local",
                     show_default=True,
                     help="local：本机多进程；ray：在Ray集群上运行（需 pip install 'rectify[cluster]'）。"),
        click.option("--address", default=None,
                     help="Ray集群地址（与 --executor ray 一起用），例如 ray://head:10001；默认 $RAY_ADDRESS 或本机Ray。"),
        click.option("--quiet", "-q", is_flag=True, help="不在标准错误输出显示进度行。"),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def check_parallel(executor_kind: ExecutorKind, address: str | None) -> None:
    """Reject option combinations that make no sense."""
    if address and executor_kind != "ray":
        msg = "--address 只能与 --executor ray 一起使用"
        raise click.UsageError(msg)


@contextmanager
def intake_runtime(
    *,
    n_files: int,
    batch_size: int,
    workers: int | None,
    executor_kind: ExecutorKind,
    address: str | None,
    quiet: bool,
) -> Iterator[tuple[Executor | None, Progress]]:
    """The executor and progress line for an intake of ``n_files`` files.

    One batch or less, or ``--workers 1`` with the local executor, runs in this
    process (``None``): a pool would only add its start-up time.
    """
    check_parallel(executor_kind, address)
    progress = Progress(n_files, enabled=False if quiet else None)
    executor: Executor | None = None
    local_serial = executor_kind == "local" and (workers == 1 or n_files <= batch_size)
    if not local_serial:
        executor = make_executor(executor_kind, workers=workers, address=address)
    try:
        yield executor, progress
    finally:
        progress.close()
        if executor is not None:
            executor.close()
