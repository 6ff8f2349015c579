"""Files received and written: open only what is safe to read; write so readers never see a part."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from jobs.core.errors import known_error
from jobs.core.findings import unreadable_reason

Content = bytes | str | Callable[[Path], object]
_MB = 1024 * 1024
_KINDS = ((stat.S_ISDIR, "文件夹"), (stat.S_ISFIFO, "管道"), (stat.S_ISSOCK, "套接字"),
          (stat.S_ISCHR, "设备"), (stat.S_ISBLK, "设备"))  # fmt: skip


class RefusedFile(OSError):
    """A received path that is not read: a link, a FIFO, a device, a folder, or over the size limit.

    An ``OSError`` (callers that copy files catch those) carrying an
    ``unreadable-file`` sub-code: ``kind`` and ``params`` as for
    :class:`jobs.core.errors.UnreadableFile`; ``strerror`` is the Chinese
    reason from the schema's catalogue (the verdict the unit gets).
    """

    def __init__(self, kind: str, path: str | Path, **params: object) -> None:
        self.kind = kind
        self.params = params
        super().__init__(errno.EINVAL, unreadable_reason(kind, **params), str(path))


def too_big(size: int, *, max_mb: float) -> bool:
    """Whether ``size`` bytes exceed the ``max_mb`` limit (the one size rule of intake and validate)."""
    return size > max_mb * _MB


def megabytes(size: int) -> str:
    """``size`` bytes as the MB figure the ``file-too-large`` reason shows."""
    return f"{size / _MB:.1f}"


def open_regular(path: str | Path, *, max_mb: float | None = None) -> BinaryIO:
    """Open a received file for reading if it is a regular file (within ``max_mb``).

    A final symbolic link is never followed (a link in an inbox may point at
    any file of the machine) and a FIFO or device never blocks the caller or
    streams forever: such paths, and files over ``max_mb``, raise
    :class:`RefusedFile` before a byte is read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise RefusedFile("symlink", path) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "特殊文件")
            raise RefusedFile("not-regular-file", path, what=kind)
        if max_mb is not None and too_big(info.st_size, max_mb=max_mb):
            raise RefusedFile("file-too-large", path, size_mb=megabytes(info.st_size), limit_mb=f"{max_mb:g}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def temp_path(path: Path) -> Path:
    """A hidden temp file next to ``path``, private to this process and thread.

    Hidden and ending in ``.tmp``: the inbox discovery and the store's clean-up
    both know such a file as unfinished. Per thread: a watch and a run may
    write the same receipt at once.
    """
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


def atomic_write(path: str | Path, content: Content, *, durable: bool = True, tmp: Path | None = None) -> Path:
    """Write ``content`` to a temp file next to ``path``, then rename it over ``path``.

    Parameters
    ----------
    path
        The target; its folder is created if missing.
    content
        Bytes, text (UTF-8), or a writer called with the temp path
        (``frame.write_parquet``, ``workbook.save`` ...).
    durable
        fsync the temp file before the rename, so a crash leaves the old file
        or the complete new one (off where many small files are written and
        losing one only means writing it again, e.g. receipts).
    tmp
        The temp file to use when a caller must know it in advance (the
        store's batch journal lists it); default :func:`temp_path`.

    Returns
    -------
    Path
        The temp path used (gone after the rename).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path) if tmp is None else tmp
    try:
        if callable(content):
            content(tmp)
            if durable:
                _fsync(tmp)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            with open(tmp, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if type(exc).__module__.split(".")[0] == "polars":  # a writer's failure (full disk ...), named
            raise known_error(exc, path=path, writing=True) or exc from exc
        raise
    return tmp


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
