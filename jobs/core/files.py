"""Writing a file so that readers see the old one or the whole new one, never a part."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

Content = bytes | str | Callable[[Path], object]


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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
