"""The 督办 ledger: each item a 督办通知单 put under supervision, with its new deadline.

One row per item (unit, 序号, 问题描述 identify an item, as for rebound), from
the first notice that named it: a later notice naming it again, or a second
``rectify supervise`` of the same period, keeps that row (the deadline as
issued), so an item cannot escape its deadline by being supervised again. Whether an item was resolved is not
stored: month-end reads it from the unit's counting return of the later
period, so it follows resubmissions and withdrawals.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl

from jobs.store.types import write_transaction

Reason = Literal["overdue", "ineffective", "rebound", "stalled"]

SUPERVISION_DDL = """
CREATE TABLE IF NOT EXISTS supervision (
    unit TEXT NOT NULL,
    seq INTEGER NOT NULL,
    problem TEXT NOT NULL,
    period TEXT NOT NULL,
    reasons TEXT NOT NULL,
    notice TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    due TEXT NOT NULL,
    PRIMARY KEY (unit, seq, problem)
);
"""

SUPERVISION_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.Utf8(), "seq": pl.Int64(), "problem": pl.Utf8(), "period": pl.Utf8(), "reasons": pl.Utf8(),
    "notice": pl.Utf8(), "issued_on": pl.Date(), "due": pl.Date(),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SupervisedItem:
    """One item under supervision; ``reasons`` are :data:`Reason` keys joined by commas."""

    unit: str
    seq: int
    problem: str
    period: str
    reasons: str
    notice: str
    issued_on: date
    due: date


def record(conn: sqlite3.Connection, items: Sequence[SupervisedItem]) -> int:
    """Add the items in one transaction (an item already supervised is kept as it was); returns rows added."""
    conn.executescript(SUPERVISION_DDL)  # made by the first notice: readers of an older ledger need no write
    with write_transaction(conn):
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO supervision (unit, seq, problem, period, reasons, notice, issued_on, due) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(i.unit, i.seq, i.problem, i.period, i.reasons, i.notice, i.issued_on.isoformat(), i.due.isoformat())
             for i in items],
        )  # fmt: skip
        added = conn.total_changes - before
    return added


def load(conn: sqlite3.Connection, *, before: str | None = None) -> pl.DataFrame:
    """Supervised items (:data:`SUPERVISION_SCHEMA`), those of periods before ``before`` when given."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'supervision'").fetchone()
    rows: list[tuple] = []
    if exists is not None:  # no notice yet: nothing supervised
        where, args = (" WHERE period < ?", (before,)) if before else ("", ())
        rows = conn.execute(
            "SELECT unit, seq, problem, period, reasons, notice, issued_on, due FROM supervision"
            f"{where} ORDER BY period, unit, seq", args,
        ).fetchall()
    frame = pl.DataFrame(rows, schema={k: pl.Utf8 if k in ("issued_on", "due") else v
                                       for k, v in SUPERVISION_SCHEMA.items()}, orient="row")  # fmt: skip
    return frame.with_columns(pl.col("issued_on", "due").str.to_date())
