"""The batch journal: the files a batch being written may leave, so a crash's leftovers are found without a scan.

Before a batch's Parquet parts are written, ``pending/<batch_id>`` lists them
(and their temp names); the entry is removed once the ledger has recorded
the batch. :func:`cleanup` (under the home's lock) removes the files of any
batch the ledger never recorded: the tables may hold millions of files, and
no table folder is ever scanned.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from jobs.core.tables import table_keys, table_schema
from jobs.store import integrity
from jobs.store.types import Arrival
from jobs.store.writer import labelled_tables, write_parquet_atomic


def pending_dir(root: Path) -> Path:
    """The journal's folder: one entry per batch being written."""
    return root / "pending"


def write_tables(
    root: Path,
    period: str,
    batch_id: str,
    fresh: list[tuple[int, Arrival]],
    ids: list[str],
    *,
    stacked: Mapping[str, pl.DataFrame] | None = None,
) -> list[integrity.Part]:
    """Journal, then write, the batch's Parquet part of each sheet (temp + rename); what the ledger records of them."""
    layouts = {key: table_schema(key) for key in table_keys()}
    frames = labelled_tables(layouts, fresh, ids, period=period, stacked=stacked)
    if not frames:
        return []
    targets = {key: root / "tables" / key / f"period={period}" / f"{batch_id}.parquet" for key in frames}
    journal = [str(t.relative_to(root)) for t in targets.values()]
    journal += [str(t.with_name(f".{t.stem}.{os.getpid()}.tmp").relative_to(root)) for t in targets.values()]
    pending_dir(root).mkdir(parents=True, exist_ok=True)
    (pending_dir(root) / batch_id).write_text("\n".join(journal) + "\n", encoding="utf-8")
    for key, frame in frames.items():
        targets[key].parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(frame, targets[key])
    return [integrity.describe(root, targets[k], key=k, period=period, batch_id=batch_id, rows=f.height)
            for k, f in frames.items()]  # fmt: skip


def recorded(root: Path, batch_id: str) -> None:
    """The ledger recorded the batch: its journal entry goes."""
    (pending_dir(root) / batch_id).unlink(missing_ok=True)


def cleanup(
    root: Path, *, committed: Callable[[], set[str]], connect: Callable[[], sqlite3.Connection]
) -> list[Path]:
    """Remove what interrupted writes left behind (call under the home's lock); the removed paths.

    Temp files of the archive and the ledger directory, and the Parquet (and
    temp) files of batches the ledger never recorded (``committed`` gives the
    recorded batch ids). A repair's journal (``pending/repair-*``) removes its
    new parts if it never committed, else the old ones.
    """
    if not root.exists():
        return []
    removed = [*root.glob(".*.tmp"), *(root / "archive").glob(".*.tmp")]
    folder = pending_dir(root)
    entries = sorted(folder.glob("*")) if folder.is_dir() else []
    done = committed() if entries else set()
    for entry in entries:
        if entry.name.startswith(integrity.REPAIR_PREFIX):  # a repair's journal: its new or its old parts go
            removed += integrity.settle_repair(root, connect, entry)
        elif entry.name not in done:
            listed = entry.read_text(encoding="utf-8").split()
            removed += [p for p in (root / rel for rel in listed) if p.exists()]
    for path in removed:
        path.unlink(missing_ok=True)
    for entry in entries:
        entry.unlink(missing_ok=True)
    return removed
