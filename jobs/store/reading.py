"""The ledger's per-submission reads behind :class:`jobs.store.Store` (each takes an open connection).

The ``Store`` methods of the same names open the connection and call these;
they are kept apart so the store's façade stays a page long.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import polars as pl

from jobs.core.findings import Finding, Report
from jobs.core.schema import load_schema
from jobs.core.tables import table_keys, table_schema
from jobs.store import history, integrity
from jobs.store.types import SUBMISSION_SCHEMA, TEXT_SCHEMA, Lineage

FINDING_COLUMNS = ["submission_id", "seq", "code", "severity", "sheet", "row", "column", "cell", "message"]


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[tuple[list[str], str]]:
    """``ids`` a chunk at a time with its ``?`` marks (SQLite's bound-parameter limit)."""
    for start in range(0, len(ids), size):
        chunk = list(ids[start : start + size])
        yield chunk, ",".join("?" * len(chunk))


def explained_column(conn: sqlite3.Connection) -> str:
    """``explained``, or ``0`` in a ledger no write has given that column yet (readers never migrate)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(findings)")}
    return "explained" if "explained" in columns else "0"


def submissions(conn: sqlite3.Connection, period: str | None) -> pl.DataFrame:
    """Every recorded submission (of ``period``, or all), ``superseded_by`` as :mod:`jobs.store.history` reads it."""
    effective = history.effective_superseded_by(load_schema().default_report_type)
    cols = ", ".join(effective if c == "superseded_by" else f"s.{c}" for c in SUBMISSION_SCHEMA)
    query = f"SELECT {cols} FROM submissions s"
    params: tuple = ()
    if period is not None:
        query += " WHERE s.period=?"
        params = (period,)
    rows = conn.execute(query + " ORDER BY s.period, s.unit, s.version", params).fetchall()
    frame = pl.DataFrame(
        rows, schema={k: (pl.Utf8 if k.endswith("_at") else v) for k, v in SUBMISSION_SCHEMA.items()}, orient="row"
    )
    return frame.with_columns(pl.col("received_at", "ingested_at").str.to_datetime(time_unit="us")).cast(
        SUBMISSION_SCHEMA
    )


def findings(conn: sqlite3.Connection, submission_ids: Sequence[str]) -> pl.DataFrame:
    """Findings of the given submissions (``explained`` is false in a ledger older than that column)."""
    select = ", ".join(f'"{c}"' for c in FINDING_COLUMNS) + f", {explained_column(conn)}"
    rows: list[tuple] = []
    for chunk, marks in _chunks(submission_ids):
        rows += conn.execute(f"SELECT {select} FROM findings WHERE submission_id IN ({marks})", chunk).fetchall()
    schema: dict[str, pl.DataType] = {c: (pl.Int64() if c in ("seq", "row") else pl.Utf8()) for c in FINDING_COLUMNS}
    schema["explained"] = pl.Boolean()
    return pl.DataFrame([(*r[:-1], bool(r[-1])) for r in rows], schema=schema, orient="row")


def received_names(conn: sqlite3.Connection, submission_ids: Sequence[str]) -> list[bytes]:
    """The exact bytes of each submission's received file name, in order (``KeyError``: no such submission)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(submissions)")}
    raw = "file_name_raw" if "file_name_raw" in columns else "NULL"
    found: dict[str, bytes] = {}
    for chunk, marks in _chunks(submission_ids):
        rows = conn.execute(f"SELECT submission_id, file_name, {raw} FROM submissions "
                            f"WHERE submission_id IN ({marks})", chunk)  # fmt: skip
        found.update((sid, name.encode() if exact is None else bytes(exact)) for sid, name, exact in rows)
    return [found[sid] for sid in submission_ids]


def reports(conn: sqlite3.Connection, submission_ids: Sequence[str]) -> list[Report]:
    """Each submission's verdict rebuilt from the ledger, in order, two queries per 500 (``KeyError``: unknown id)."""
    heads: dict[str, tuple] = {}
    found: dict[str, list[Finding]] = {sid: [] for sid in submission_ids}
    explained = explained_column(conn)
    for chunk, marks in _chunks(submission_ids):
        for sid, *head in conn.execute(
            "SELECT submission_id, file_name, unit, period, n_errors, n_warnings FROM submissions "
            f"WHERE submission_id IN ({marks})",
            chunk,
        ):
            heads[sid] = tuple(head)
        for sid, code, severity, message, sheet, row, column, cell, marked in conn.execute(
            'SELECT submission_id, code, severity, message, sheet, "row", "column", cell, '
            f"{explained} FROM findings WHERE submission_id IN ({marks}) ORDER BY submission_id, seq",
            chunk,
        ):
            found[sid].append(Finding(code=code, severity=severity, message=message, sheet=sheet,
                                      row=row, column=column, cell=cell, explained=bool(marked)))  # fmt: skip
    missing = [sid for sid in submission_ids if sid not in heads]
    if missing:
        msg = f"no submission {missing[0]!r}"
        raise KeyError(msg)
    out = [Report(file=heads[sid][0], unit=heads[sid][1], period=heads[sid][2], findings=found[sid])
           for sid in submission_ids]  # fmt: skip
    for sid, report in zip(submission_ids, out, strict=True):
        # the ledger's counts are the true totals: a verdict over the findings cap lists fewer
        report.more_errors = max(heads[sid][3] - report.n_errors, 0)
        report.more_warnings = max(heads[sid][4] - report.n_warnings, 0)
    return out


def lineage(conn: sqlite3.Connection, submission_ids: Sequence[str]) -> dict[str, Lineage]:
    """Per submission: its version and arrival, the accepted version it replaced, and (for a rejected
    one) the accepted earlier version that still counts; what a receipt tells the unit."""
    pick = ("SELECT p.version || '|' || p.received_at FROM submissions p WHERE p.period=s.period "
            "AND p.unit=s.unit AND p.accepted=1 AND {} ORDER BY p.version DESC LIMIT 1")  # fmt: skip
    replaced = pick.format("p.superseded_by=s.submission_id")
    # the version that counts now (withdrawals included: the one rule of :mod:`jobs.store.history`)
    default = load_schema().default_report_type
    kind = "'" + default.replace("'", "''") + "'"
    current = pick.format(
        f"({history.effective_superseded_by(default, 'p')}) IS NULL "
        f"AND p.version<s.version AND COALESCE(p.report_type, {kind})=COALESCE(s.report_type, {kind})"
    )
    out: dict[str, Lineage] = {}
    for chunk, marks in _chunks(submission_ids):
        rows = conn.execute(
            f"SELECT s.submission_id, s.version, s.received_at, ({replaced}), ({current}) "
            f"FROM submissions s WHERE s.submission_id IN ({marks})",
            chunk,
        )
        for sid, version, received, old, still in rows:
            out[sid] = Lineage(version, datetime.fromisoformat(received), _version(old), _version(still))
    return out


def texts(conn: sqlite3.Connection, period: str, *, hashes: Iterable[str] | None = None) -> pl.DataFrame:
    """Copy-detection hashes of the period's counting returns (``unit, sheet, row, column, hash``)."""
    counts = f"({history.effective_superseded_by(load_schema().default_report_type)}) IS NULL"
    query = (
        'SELECT t.unit, t.sheet, t."row", t."column", t.hash FROM texts t JOIN submissions s '
        f"ON s.submission_id=t.submission_id WHERE t.period=? AND {counts}"
    )
    if hashes is None:
        rows = conn.execute(query, (period,)).fetchall()
    else:
        rows = []
        for chunk, marks in _chunks(list(hashes), 900):
            rows += conn.execute(f"{query} AND t.hash IN ({marks})", [period, *chunk]).fetchall()
    return pl.DataFrame(rows, schema=TEXT_SCHEMA, orient="row")


def tables(
    root: Path,
    conn: sqlite3.Connection,
    *,
    period: str,
    current: Sequence[str],
    batches: set[str],
    keys: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> dict[str, pl.DataFrame]:
    """Rows of the ``current`` submissions from the period's recorded ``batches``, one typed frame per sheet key
    (see :meth:`jobs.store.Store.load_tables`); the parts are verified first (``StoreDamaged``)."""
    parts = integrity.parts_to_read(root, conn, period=period, batches=batches) if current else {}
    out: dict[str, pl.DataFrame] = {}
    for key in keys if keys is not None else table_keys():
        layout = table_schema(key)
        if columns is not None:
            layout = {c: t for c, t in layout.items() if c in columns or c in ("submission_id", "unit", "period")}
        files = [str(p) for p in parts.get(key, [])]
        if not files or not current:
            out[key] = pl.DataFrame(schema=layout)
            continue
        # parts written before an optional column was added (说明) lack it: read as empty
        scans = [pl.scan_parquet(f) for f in files]
        scans = [p.select(c for c in p.collect_schema().names() if c in layout) for p in scans]
        frame = pl.concat(scans, how="diagonal_relaxed").filter(pl.col("submission_id").is_in(current)).collect()
        frame = frame.with_columns(pl.lit(None, t).alias(c) for c, t in layout.items() if c not in frame.columns)
        out[key] = frame.select(list(layout)).cast(layout)
    return out


def _version(text: str | None) -> tuple[int, datetime] | None:
    """``"<version>|<received_at>"`` from :func:`lineage`'s sub-queries."""
    if text is None:
        return None
    number, at = text.split("|", 1)
    return int(number), datetime.fromisoformat(at)
