"""Known failures, each carrying a Chinese reason a clerk or the office can act on."""

from __future__ import annotations

import errno
import re
import sqlite3
from pathlib import Path
from typing import Any

from jobs.core.findings import Finding, make_finding, unreadable_reason
from jobs.core.schema import Schema


class RectifyError(Exception):
    """Base of the project's known errors; the CLI turns these into clean messages."""


class UnreadableFile(RectifyError):
    """A received file cannot be read as a return (finding ``unreadable-file``).

    Parameters
    ----------
    kind
        The sub-code, a key of the schema's ``unreadable`` catalogue
        (``encrypted``, ``zip-bomb-ratio``, ``too-many-rows`` ...).
    **params
        Fields of that sub-code's Chinese template (``part``, ``limit`` ...).

    ``reason`` is the rendered Chinese text naming what the unit should do,
    e.g. “文件已加密，请去除密码后重新报送”.
    """

    def __init__(self, kind: str, **params: Any) -> None:
        self.kind = kind
        self.params = params
        self.reason = unreadable_reason(kind, **params)
        super().__init__(self.reason)

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process pools: rebuilt from the sub-code and its parameters.
        return _rebuild, (self.kind, self.params)

    def finding(self, *, schema: Schema | None = None) -> Finding:
        """The ``unreadable-file`` finding for this failure (``Finding.subcode`` is ``kind``)."""
        return make_finding("unreadable-file", schema=schema, subcode=self.kind, reason=self.reason)


def _rebuild(kind: str, params: dict[str, Any]) -> UnreadableFile:
    return UnreadableFile(kind, **params)


class StoreDamaged(RectifyError):
    """A file of the store is missing or damaged (the ledger, a Parquet part, an archived original).

    The message names the file and the fix; a reader stops rather than count
    from what is left (a silent under-count).
    """


class DiskFull(RectifyError):
    """A write failed for lack of space (or over a file-size limit); names the file."""


class NotWritable(RectifyError):
    """A write was refused: read-only file system or no permission; names the file."""


class FileFailed(RectifyError):
    """Any other failure to read or write a file; names the file and the system's reason."""


# errno values of a write that failed for lack of room or of permission
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
# SQLite and Polars (Rust) report the system's error in their message only
_OS_ERROR = re.compile(r"os error (\d+)")
_SQLITE_FULL = ("database or disk is full", "disk is full")
_SQLITE_DENIED = ("readonly database", "unable to open database file", "read-only")
_SQLITE_LOCKED = ("database is locked",)
REPAIR_HINT = "请运行 rectify store check 查看损坏情况，再运行 rectify store repair 从归档的原件重建数据表。"


def known_error(exc: BaseException, *, path: str | Path | None = None, writing: bool = False) -> RectifyError | None:
    """The :class:`RectifyError` (Chinese, naming the file and what to do) an environment failure means.

    The one place that maps ``OSError`` (by errno), ``sqlite3.DatabaseError``
    and Polars errors to the project's errors. ``path`` is the file the
    caller was working on when the exception does not name one, ``writing``
    whether it was writing it (a Polars error then is a failed write, not a
    damaged file). Returns
    ``exc`` itself for a :class:`RectifyError`, ``None`` for anything else (a bug).
    """
    if isinstance(exc, RectifyError):
        return exc
    if isinstance(exc, OSError):
        where = exc.filename or path or "（未知文件）"
        return _by_errno(exc.errno, where, exc.strerror or str(exc))
    if isinstance(exc, sqlite3.DatabaseError):
        where = path or "台账数据库 ledger.sqlite"
        text = str(exc)
        if any(s in text for s in _SQLITE_FULL):
            return _by_errno(errno.ENOSPC, where, text)
        if any(s in text for s in _SQLITE_DENIED):
            return _by_errno(errno.EACCES, where, text)
        if any(s in text for s in _SQLITE_LOCKED):
            return FileFailed(f"台账数据库“{where}”正被另一个程序占用（{text}），请稍后重试。")
        if "disk I/O error" in text:  # a full disk or a failing one: SQLite does not say which
            return FileFailed(f"读写台账数据库“{where}”时磁盘出错（{text}）：请检查磁盘空间是否已满、磁盘是否完好，"
                              "然后重新运行同一命令（未完成的写入不会入库）；如仍失败，请运行 rectify store check 检查。")  # fmt: skip
        if isinstance(exc, sqlite3.OperationalError):
            return None  # a wrong query: a bug, not damage
        msg = (f"台账数据库“{where}”已损坏或无法读取（{text}）。请停止写入，从备份恢复该文件后运行 "
               "rectify store check 检查；如无备份，请将其改名保存，再对各报送期的收件重新运行 rectify ingest。")  # fmt: skip
        return StoreDamaged(msg)
    if type(exc).__module__.split(".")[0] == "polars":
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        found = _OS_ERROR.search(str(exc))
        if found:
            return _by_errno(int(found.group(1)), path or "（未知文件）", text)
        if writing and path is not None:  # Polars does not always pass the system's error on
            return FileFailed(f"写入“{path}”失败（{text}）：请检查磁盘空间是否已满、该目录是否可写，然后重新运行同一命令。")
        if path is None:
            return None
        return StoreDamaged(f"数据文件“{path}”无法读取（{text}）。{REPAIR_HINT}")
    return None


def _by_errno(code: int | None, where: str | Path, reason: str) -> RectifyError:
    if code in _FULL:
        return DiskFull(f"磁盘空间不足（或超过文件大小限制），无法写入“{where}”（{reason}）。"
                        "请清理磁盘空间后重新运行同一命令：未完成的部分不会入库，下次运行时自动清理。")  # fmt: skip
    if code in _DENIED:
        return NotWritable(f"没有权限写入“{where}”或其所在磁盘为只读（{reason}）。"
                           "请检查办公室数据目录的权限，或用 --home 指定一个可写的目录。")  # fmt: skip
    if code == errno.ENOENT:
        return FileFailed(f"找不到文件“{where}”（{reason}），请检查路径是否正确。")
    return FileFailed(f"读写文件“{where}”失败（{reason}），请检查该文件和磁盘后重新运行同一命令。")
