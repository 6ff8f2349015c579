"""The store's write path, batch-wise (see :mod:`jobs.store` for the layout and rules).

Everything here works on a whole batch at once: a national run records
~700k files, so any per-file Polars call, SQLite statement or fsync is paid
~700k times. Costs measured on a 955-file intake (2 cores, ext4):

- archive: one ``fsync`` per file cost ~1 ms; the batch's files are written
  first and made durable together by one ``syncfs`` (fallback: ``fsync`` of
  each file after all are written), still before the ledger commits them;
- tables: per-file ``with_columns``/``select`` cost ~2.4 ms per file; the
  batch's frames are concatenated once per sheet and labelled by one join;
- ledger: one ``executemany`` per statement kind inside the batch's one
  transaction, versions computed from one query per batch.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import polars as pl

from jobs.core.errors import DiskFull, FileFailed, NotWritable, known_error
from jobs.core.files import atomic_write, open_regular
from jobs.core.names import display_name, name_bytes
from jobs.store.types import ADDED_COLUMNS, STACK_INDEX, Archived, Arrival

_CHUNK = 900  # SQLite's bound-parameter limit is 999 on old builds
_IN_MEMORY = 64 << 20  # files up to this size are hashed and copied from memory (returns are ~20 KB)
# An archived copy keeps a received file's extension only when it is short
# ASCII: the received name is not ours to trust (a 250-byte or non-UTF-8
# suffix would make the archive path unwritable or unstorable).
_EXTENSION = re.compile(r"[a-z0-9]{1,16}")
_SUBMISSION_COLUMNS = (
    "submission_id, unit, period, file_name, sha256, received_at, ingested_at, accepted, n_errors, n_warnings, "
    "version, superseded_by, report_type, archive_path, batch_id, file_name_raw"
)


def _syncfs() -> object | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # pragma: no cover - not Linux/glibc
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


_SYNCFS = _syncfs()


def archive_file(
    root: Path, path: Path, *, durable: bool = True, folders: set[str] | None = None, max_mb: float | None = None
) -> Archived:
    """Copy ``path`` to ``archive/<sha[:2]>/<sha>.<ext>`` (temp + rename); ``durable`` fsyncs it.

    Only a regular file within ``max_mb`` is copied: a link, a FIFO, a device
    or a bigger file raises :class:`jobs.core.files.RefusedFile` before a byte
    is read. The copy gets the office's umask, never the source's mode.

    ``folders``: archive folders (as strings) known to exist (a batch skips ~2
    mkdir calls per file). Plain string paths: building ~5 ``Path`` objects per
    file cost more than hashing it (~0.3 ms in the single writer).
    """
    folders = set() if folders is None else folders
    ext = archive_extension(path)
    folder = f"{root}/archive"
    if folder not in folders:
        with store_writes(folder):
            os.makedirs(folder, exist_ok=True)
        folders.add(folder)
    with open_regular(path, max_mb=max_mb) as src:
        data = src.read(_IN_MEMORY + 1)
        if len(data) > _IN_MEMORY:  # pragma: no cover - preflight refuses files this big
            return _archive_streamed(Path(root), path, src, data, ext=ext, durable=durable)
    sha = hashlib.sha256(data).hexdigest()
    rel = f"archive/{sha[:2]}/{sha}.{ext}"
    target = f"{root}/{rel}"
    if os.path.exists(target):  # the same bytes were archived before: nothing to write
        return Archived(source=path, sha256=sha, archive_path=rel)
    tmp = f"{folder}/.incoming.{os.getpid()}.{path.name[:40]}.tmp"
    with store_writes(target):
        try:
            with open(tmp, "wb") as dst:
                dst.write(data)
                if durable:
                    dst.flush()
                    os.fsync(dst.fileno())
            parent = f"{folder}/{sha[:2]}"
            if parent not in folders:
                os.makedirs(parent, exist_ok=True)
                folders.add(parent)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return Archived(source=path, sha256=sha, archive_path=rel)


@contextmanager
def store_writes(path: str | Path) -> Iterator[None]:
    """A failed write into the store as the error it means (disk full, read-only home ...), naming ``path``.

    Not an ``OSError``: callers that turn a received file's ``OSError`` into
    its verdict must not blame the unit's file for the office's disk.
    """
    try:
        yield
    except (OSError, pl.exceptions.PolarsError) as exc:
        known = known_error(exc, path=path, writing=True)
        if not isinstance(known, (DiskFull, NotWritable, FileFailed)):  # not the environment's: as it was
            raise
        raise known from exc


def archive_extension(path: Path) -> str:
    """The extension of ``path``'s archived copy: its own if short ASCII letters and digits, else ``bin``."""
    ext = path.suffix.lower().lstrip(".")
    return ext if _EXTENSION.fullmatch(ext) else "bin"


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """Add the columns of :data:`jobs.store.types.ADDED_COLUMNS` an older ledger lacks (in the caller's transaction)."""
    for table, column, kind in ADDED_COLUMNS:
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _archive_streamed(
    root: Path, path: Path, src: BinaryIO, head: bytes, *, ext: str, durable: bool
) -> Archived:  # pragma: no cover - preflight refuses files this big
    tmp = root / "archive" / f".incoming.{os.getpid()}.{path.name[:40]}.tmp"
    digest = hashlib.sha256(head)
    with open(tmp, "wb") as dst:
        dst.write(head)
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
        if durable:
            dst.flush()
            os.fsync(dst.fileno())
    sha = digest.hexdigest()
    rel = f"archive/{sha[:2]}/{sha}.{ext}"
    target = root / rel
    if target.exists():
        tmp.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    return Archived(source=path, sha256=sha, archive_path=rel)


def make_durable(root: Path, rel_paths: Sequence[str]) -> None:
    """Flush archived files to disk before a ledger commit may name them.

    One ``syncfs`` of the store's file system costs about one fsync and covers
    the whole batch (and any file an earlier, crashed run left unflushed).
    """
    if not rel_paths:
        return
    with store_writes(root / "archive"):
        _sync(root, rel_paths)


def _sync(root: Path, rel_paths: Sequence[str]) -> None:
    if _SYNCFS is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            if _SYNCFS(fd) == 0:  # type: ignore[operator]
                return
        finally:
            os.close(fd)
    for rel in dict.fromkeys(rel_paths):  # pragma: no cover - syncfs missing or failing
        fd = os.open(root / rel, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def labelled_tables(
    layouts: Mapping[str, Mapping[str, pl.DataType]],
    fresh: Sequence[tuple[int, Arrival]],
    ids: Sequence[str],
    *,
    period: str,
    stacked: Mapping[str, pl.DataFrame] | None,
) -> dict[str, pl.DataFrame]:
    """Rows to store per sheet key: accepted fresh arrivals only, in their recording order.

    ``fresh`` pairs each recorded arrival with its index in the batch (the
    ``_i`` of ``stacked`` frames); without ``stacked`` each arrival's own
    ``tables`` are used. ``submission_id``, ``unit`` and ``period`` are set here.
    """
    keep = [(order, i, a, sid) for order, ((i, a), sid) in enumerate(zip(fresh, ids, strict=True))
            if a.report.accepted]  # fmt: skip
    if not keep:
        return {}
    labels = pl.DataFrame(
        {
            STACK_INDEX: [i for _, i, _, _ in keep],
            "_order": [order for order, _, _, _ in keep],
            "submission_id": [sid for _, _, _, sid in keep],
            "unit": [a.report.unit for _, _, a, _ in keep],
        },
        schema={STACK_INDEX: pl.Int32, "_order": pl.Int32, "submission_id": pl.Utf8, "unit": pl.Utf8},
    )
    out: dict[str, pl.DataFrame] = {}
    for key, layout in layouts.items():
        frame = stacked.get(key) if stacked is not None else stack_frames(
            {i: a.tables.get(key) for _, i, a, _ in keep if a.tables}, layout
        )
        if frame is None or frame.height == 0:
            continue
        joined = frame.drop("submission_id", "unit", "period", strict=False).join(labels, on=STACK_INDEX, how="inner")
        if joined.height == 0:
            continue
        out[key] = joined.sort("_order", maintain_order=True).select(
            pl.lit(period, pl.Utf8).alias(c) if c == "period"
            else (pl.col(c).cast(t) if c in joined.columns else pl.lit(None, t).alias(c))
            for c, t in layout.items()
        )  # fmt: skip
    return out


def stack_frames(frames: Mapping[int, pl.DataFrame | None], layout: Mapping[str, pl.DataType]) -> pl.DataFrame | None:
    """One frame in ``layout`` plus ``_i`` (the key of ``frames``) from many small ones.

    Frames sharing one schema (the validator's, all in the stored layout) are
    concatenated in one call and conformed once; only mixed ones (test
    doubles, older callers) are conformed one by one first.
    """
    parts = [(i, f) for i, f in frames.items() if f is not None and f.height]
    if not parts:
        return None
    try:
        stacked = pl.concat([f for _, f in parts], how="vertical", rechunk=True)
    except (pl.exceptions.SchemaError, pl.exceptions.ShapeError, pl.exceptions.ColumnNotFoundError):
        stacked = pl.concat([_conform(f, layout) for _, f in parts], how="vertical", rechunk=True)
    if stacked.schema != pl.Schema(layout):
        stacked = _conform(stacked, layout)
    index = pl.DataFrame({"i": [i for i, _ in parts], "n": [f.height for _, f in parts]},
                         schema={"i": pl.Int32, "n": pl.Int64})  # fmt: skip
    return stacked.hstack(index.select(pl.col("i").repeat_by("n").explode().alias(STACK_INDEX)))


def _conform(frame: pl.DataFrame, layout: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c) for c, t in layout.items())


def write_parquet_atomic(frame: pl.DataFrame, target: Path) -> Path:
    """Write ``frame`` to a temp file next to ``target``, fsync, rename. Returns the temp path used.

    The temp name is fixed (``.<stem>.<pid>.tmp``): the batch journal lists it
    before the write, so the clean-up finds it after a crash.
    """
    with store_writes(target):
        return atomic_write(target, frame.write_parquet, tmp=target.with_name(f".{target.stem}.{os.getpid()}.tmp"))


def previous_versions(conn: sqlite3.Connection, period: str, units: Sequence[str | None]) -> dict[str | None, int]:
    """Highest recorded version per unit of ``period`` (missing: none yet)."""
    named = [u for u in dict.fromkeys(units) if u is not None]
    out: dict[str | None, int] = {}
    for start in range(0, len(named), _CHUNK):
        chunk = named[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT unit, MAX(version) FROM submissions WHERE period=? AND unit IN ({marks}) GROUP BY unit",
            [period, *chunk],
        )
        out.update(dict(rows))
    if any(u is None for u in units):
        (top,) = conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM submissions WHERE period=? AND unit IS NULL", (period,)
        ).fetchone()
        out[None] = top
    return out


def insert_batch(
    conn: sqlite3.Connection,
    *,
    period: str,
    fresh: Sequence[tuple[int, Arrival]],
    ids: Sequence[str],
    batch_id: str,
    ingested_at: datetime,
    default_type: str,
    texts: pl.DataFrame | None,
) -> list[int]:
    """Insert a batch's submissions, findings, supersessions and texts (inside the caller's transaction).

    Same rows as recording the arrivals one by one in order: versions count
    up per unit; an accepted arrival supersedes every earlier version of its
    unit, period and report type (``version < own``) not yet superseded, and
    the updates run in arrival order. Returns the versions.
    """
    versions = previous_versions(conn, period, [a.report.unit for _, a in fresh])
    subs, findings, supersede, text_rows = [], [], [], []
    stored_texts: dict[int, tuple[str, str]] = {}
    at = ingested_at.isoformat()
    out = []
    for (i, a), sid in zip(fresh, ids, strict=True):
        report, unit = a.report, a.report.unit
        version = versions.get(unit, 0) + 1
        versions[unit] = version
        out.append(version)
        # a name that is not plain text (GBK bytes, control characters) is
        # stored readable, and losslessly beside it: it never fails the batch
        shown = display_name(a.file_name)
        subs.append((
            sid, unit, period, shown, a.archived.sha256, a.received_at.isoformat(), at,
            int(report.accepted), report.n_errors, report.n_warnings, version,
            a.report_type, a.archived.archive_path, batch_id,
            None if shown == a.file_name else name_bytes(a.file_name),
        ))  # fmt: skip
        findings += [(sid, k, f.code, f.severity, f.sheet, f.row, f.column, f.cell, f.message, int(f.explained))
                     for k, f in enumerate(report.findings)]  # fmt: skip
        if report.accepted and unit is not None:
            supersede.append((sid, period, unit, version, default_type, a.report_type, default_type))
            if a.texts is not None and a.texts.height:
                text_rows += [(sid, unit, period, s, r, c, h)
                              for _, s, r, c, h in a.texts.select("unit", "sheet", "row", "column", "hash").iter_rows()]  # fmt: skip
            stored_texts[i] = (sid, unit)
    if texts is not None and texts.height and stored_texts:
        labels = pl.DataFrame(
            {STACK_INDEX: list(stored_texts), "_sid": [s for s, _ in stored_texts.values()],
             "_unit": [u for _, u in stored_texts.values()]},
            schema={STACK_INDEX: pl.Int32, "_sid": pl.Utf8, "_unit": pl.Utf8},
        )  # fmt: skip
        joined = texts.join(labels, on=STACK_INDEX, how="inner")
        text_rows += joined.select(
            "_sid", "_unit", pl.lit(period, pl.Utf8), "sheet", "row", "column", "hash"
        ).rows()  # fmt: skip
    marks = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?"  # superseded_by is set by a later return
    conn.executemany(f"INSERT INTO submissions ({_SUBMISSION_COLUMNS}) VALUES ({marks})", subs)
    conn.executemany('INSERT INTO findings (submission_id, seq, code, severity, sheet, "row", "column", cell, '
                     "message, explained) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", findings)
    conn.executemany(
        "UPDATE submissions SET superseded_by=? WHERE period=? AND unit=? AND superseded_by IS NULL "
        "AND version<? AND COALESCE(report_type, ?) = COALESCE(?, ?)",
        supersede,
    )
    conn.executemany("INSERT INTO texts VALUES (?, ?, ?, ?, ?, ?, ?)", text_rows)
    return out
