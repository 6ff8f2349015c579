"""Types, table layouts and the crash-test hook of the store (see :mod:`jobs.store`)."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from jobs.core.findings import Report

FAULT_ENV = "RECTIFY_FAULT_STEP"  # test hook: the process SIGKILLs itself at this step
# In a batch's stacked frames (tables, texts): the row's arrival, its index in the batch.
STACK_INDEX = "_i"
FaultHook = Callable[[str], None]

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS submissions (
    submission_id TEXT PRIMARY KEY,
    unit TEXT,
    period TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    n_errors INTEGER NOT NULL,
    n_warnings INTEGER NOT NULL,
    version INTEGER NOT NULL,
    superseded_by TEXT,
    report_type TEXT,
    archive_path TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    file_name_raw BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS submissions_period_sha ON submissions(period, sha256);
CREATE INDEX IF NOT EXISTS submissions_period_unit ON submissions(period, unit);
CREATE TABLE IF NOT EXISTS findings (
    submission_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    sheet TEXT, "row" INTEGER, "column" TEXT, cell TEXT, message TEXT,
    explained INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (submission_id, seq)
);
CREATE TABLE IF NOT EXISTS texts (
    submission_id TEXT NOT NULL, unit TEXT, period TEXT NOT NULL,
    sheet TEXT, "row" INTEGER, "column" TEXT, hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS texts_period ON texts(period);
CREATE INDEX IF NOT EXISTS texts_period_hash ON texts(period, hash);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, period TEXT NOT NULL, committed_at TEXT NOT NULL, n_files INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    batch_id TEXT NOT NULL, sheet_key TEXT NOT NULL, period TEXT NOT NULL, path TEXT NOT NULL,
    "rows" INTEGER NOT NULL, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (batch_id, sheet_key)
);
CREATE INDEX IF NOT EXISTS parts_period ON parts(period);
"""

# Columns added after the first release: (table, column, type); added to an
# older ledger by the first write (:func:`add_missing_columns`), in this order.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # the received name's exact bytes when ``file_name`` (its readable form,
    # :func:`jobs.core.names.display_name`) differs from it; NULL otherwise
    ("submissions", "file_name_raw", "BLOB"),
    # 1 for a history warning on a row whose 说明 the unit filled (``Finding.explained``)
    ("findings", "explained", "INTEGER NOT NULL DEFAULT 0"),
)

SUBMISSION_SCHEMA: dict[str, pl.DataType] = {
    "submission_id": pl.Utf8(),
    "unit": pl.Utf8(),
    "period": pl.Utf8(),
    "file_name": pl.Utf8(),
    "sha256": pl.Utf8(),
    "received_at": pl.Datetime("us"),
    "ingested_at": pl.Datetime("us"),
    "accepted": pl.Boolean(),
    "n_errors": pl.Int64(),
    "n_warnings": pl.Int64(),
    "version": pl.Int64(),
    "superseded_by": pl.Utf8(),
    "report_type": pl.Utf8(),
    "archive_path": pl.Utf8(),
}
TEXT_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.Utf8(),
    "sheet": pl.Utf8(),
    "row": pl.Int64(),
    "column": pl.Utf8(),
    "hash": pl.Utf8(),
}


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ledger write: ``BEGIN IMMEDIATE``, ``COMMIT`` when the block ends, ``ROLLBACK`` on any exception.

    A kill inside the block leaves nothing (SQLite drops the open transaction);
    the caller holds the home's lock, so IMMEDIATE never waits on another writer.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def fault(step: str, hook: FaultHook | None = None) -> None:
    """Crash-test hook between intake steps: call ``hook`` or SIGKILL at ``$RECTIFY_FAULT_STEP``."""
    if hook is not None:
        hook(step)
    if os.environ.get(FAULT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Archived:
    """A received file copied into the archive."""

    source: Path
    sha256: str
    archive_path: str  # relative to the store root


@dataclass
class Arrival:
    """One validated file ready to be recorded."""

    archived: Archived
    file_name: str
    received_at: datetime
    report: Report
    tables: dict[str, pl.DataFrame] | None
    report_type: str | None = None
    texts: pl.DataFrame | None = None  # TEXT_SCHEMA rows for copy detection


@dataclass(frozen=True)
class Outcome:
    """What recording one arrival did: ``stored`` or ``duplicate`` (already in the ledger)."""

    submission_id: str
    status: str
    version: int
    archived: Archived


@dataclass(frozen=True)
class Lineage:
    """A submission's place among its unit's versions (:meth:`jobs.store.Store.lineage`).

    ``replaced`` / ``current``: ``(version, received_at)`` of the accepted
    version this one superseded, and of the accepted earlier one still counting.
    """

    version: int
    received_at: datetime
    replaced: tuple[int, datetime] | None
    current: tuple[int, datetime] | None


def submission_id(period: str, sha256: str) -> str:
    """Deterministic id, so re-running an intake rebuilds the same ledger."""
    return f"{period}-{sha256[:20]}"
