"""One inter-process lock per office home, taken by every writer of the store.

``fcntl.flock`` locks die with the process that holds them, so a killed ingest
never leaves a stale lock behind. A second writer waits up to ``timeout``
seconds and then gives up with a Chinese message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.core.errors import RectifyError

LOCK_NAME = "store.lock"
_POLL_SECONDS = 0.05


class LockTimeout(RectifyError):
    """Another process kept the store locked for longer than the timeout."""


@contextmanager
def store_lock(home_root: str | Path, *, timeout: float = 600.0, holder: str = "rectify") -> Iterator[Path]:
    """Hold the home's exclusive write lock for the ``with`` block.

    Parameters
    ----------
    home_root
        The office home directory; the lock file is ``<home>/store.lock``.
    timeout
        Seconds to wait for another writer before raising :class:`LockTimeout`.
    holder
        Written into the lock file (with the pid) so a waiting user can see who holds it.
    """
    path = Path(home_root) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    other = _read_holder(path)
                    msg = f"数据仓库正被另一个任务占用（{other}），等待{timeout:g}秒后仍未释放，请稍后重试。"
                    raise LockTimeout(msg) from None
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, f"{holder} pid={os.getpid()}\n".encode())
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "未知任务"
    except OSError:
        return "未知任务"
