"""Which received files a folder holds, and when each arrived (one rule for validate, ingest and watch).

Every file a unit could have sent gets a verdict, whatever its type: a PDF
or an ``.ods`` is answered with a rejection, so the unit learns it sent the
wrong file. Only what an editor, a browser or a copy leaves half-written
(``~$*.xlsx``, ``*.tmp``, hidden files) and system litter (``Thumbs.db``) is
not a received file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

from jobs.office.config import DEFAULT_TIMEZONE

# Files an editor, a browser or a copy leaves half-written: never returns.
_TEMP_PREFIXES = ("~$", ".~", ".", "~")
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp", ".lock")
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}


def is_candidate(path: str | Path) -> bool:
    """Whether a file in an inbox is a received file (not a temp, hidden or system file).

    Anything else gets a verdict, even a PDF: the unit must learn it sent the wrong file.
    """
    name = Path(path).name
    lower = name.lower()
    if lower in _IGNORED_NAMES or name.startswith(_TEMP_PREFIXES):
        return False
    return not lower.endswith(_TEMP_SUFFIXES)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus candidate entries under named directories (recursively, sorted, no repeats).

    Links, FIFOs and devices under a directory are listed too, not followed
    or skipped: reading refuses them (:func:`jobs.core.files.open_regular`),
    so each gets a verdict.
    """
    out: list[Path] = []
    for raw in paths:
        path = raw if isinstance(raw, Path) else Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if _entry(p) and is_candidate(p) and _visible(p, path))
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def _entry(path: Path) -> bool:
    return path.is_symlink() or not path.is_dir()  # rglob does not descend into linked folders


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts[:-1])


def arrival_time(path: Path, *, timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> dt.datetime:
    """When a file arrived: its modification time as a naive local time in the office's time zone.

    Raises ``OSError`` when the file cannot be stat'ed.
    """
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=zone).replace(tzinfo=None)
