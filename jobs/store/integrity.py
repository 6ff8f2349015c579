"""The store's Parquet parts, verified: what each batch wrote, checked before it is counted.

Every batch records its parts in the ledger's ``parts`` table (``batch_id,
sheet_key, period, path, rows, bytes, sha256``) in the transaction that
records the batch. Then:

- readers (:meth:`jobs.store.Store.load_tables`, so ``summarize``, ``report``,
  ``status``) check the parts they read cheaply — each file exists with its
  recorded size, and the Parquet footers hold the recorded rows — and stop with
  :class:`jobs.core.errors.StoreDamaged` naming the file, never counting from
  what is left;
- :func:`check_store` (``rectify store check``) also hashes every part and
  every archived original and runs SQLite's ``PRAGMA integrity_check``;
- :func:`replace_parts` swaps rebuilt parts in (``rectify store repair``): new
  files under new names, then one transaction points the ledger at them; a
  kill leaves the old parts or the new ones, and :func:`settle_repair` (from
  :meth:`jobs.store.Store.cleanup`) removes the other set.

Ledgers written before the ``parts`` table: their batches have no rows there
and their parts are found by their fixed name
(``tables/<sheet_key>/period=<P>/<batch_id>.parquet``) and checked for
readability only (a deleted one cannot be told from one never written);
:func:`check_store` with ``backfill`` records them once they read back whole,
so from then on they are verified like the others.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from jobs.core.errors import REPAIR_HINT, StoreDamaged
from jobs.core.tables import table_keys
from jobs.store.types import FaultHook, fault, write_transaction
from jobs.store.writer import write_parquet_atomic

ProblemKind = Literal[
    "ledger-damaged", "part-missing", "part-truncated", "part-changed", "part-unreadable",
    "archive-missing", "archive-changed",
]  # fmt: skip
REPAIR_PREFIX = "repair-"  # journal entries of a repair under ``pending/``
_PART_COLUMNS = "batch_id, sheet_key, period, path, \"rows\", bytes, sha256"
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One Parquet file a batch wrote, as the ledger records it (``path`` relative to the store root)."""

    batch_id: str
    sheet_key: str
    period: str
    path: str
    rows: int
    bytes: int
    sha256: str

    def row(self) -> tuple[str, str, str, str, int, int, str]:
        return (self.batch_id, self.sheet_key, self.period, self.path, self.rows, self.bytes, self.sha256)


@dataclass(frozen=True)
class Problem:
    """One damage :func:`check_store` found: its kind, the file, a Chinese description."""

    kind: ProblemKind
    path: Path
    message: str
    period: str | None = None
    batch_id: str | None = None


def default_part(root: Path, key: str, period: str, batch_id: str) -> Path:
    """Where a batch's part of ``key`` is written at intake (the layout of :mod:`jobs.store`)."""
    return root / "tables" / key / f"period={period}" / f"{batch_id}.parquet"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe(root: Path, path: Path, *, key: str, period: str, batch_id: str, rows: int) -> Part:
    """The ledger row of a part just written (size and hash read back from the file)."""
    return Part(batch_id=batch_id, sheet_key=key, period=period, path=str(path.relative_to(root)), rows=rows,
                bytes=path.stat().st_size, sha256=file_sha256(path))  # fmt: skip


def record_parts(conn: sqlite3.Connection, parts: Sequence[Part]) -> None:
    """Insert parts' rows (inside the caller's transaction: the batch's own)."""
    conn.executemany(f"INSERT INTO parts ({_PART_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", [p.row() for p in parts])


def recorded_parts(conn: sqlite3.Connection, *, period: str | None = None) -> list[Part]:
    """The parts the ledger records (of ``period``, or all), by batch and sheet key."""
    query = f"SELECT {_PART_COLUMNS} FROM parts"
    rows = conn.execute(query + " WHERE period=? ORDER BY batch_id, sheet_key", (period,)) if period else \
        conn.execute(query + " ORDER BY period, batch_id, sheet_key")  # fmt: skip
    return [Part(*r) for r in rows]


def _damaged(path: Path, what: str) -> StoreDamaged:
    return StoreDamaged(f"数据文件“{path}”{what}，汇总会少算，已停止。{REPAIR_HINT}")


def _footer_rows(path: Path) -> int:
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def parts_to_read(root: Path, conn: sqlite3.Connection, *, period: str, batches: set[str]) -> dict[str, list[Path]]:
    """The period's part files per sheet key, checked cheaply (a reader's check).

    Each recorded part must exist with its recorded size; the footers of
    all of them together must hold the recorded rows (one scan; file by file
    only to name the culprit). Batches without recorded parts (written
    before the ``parts`` table, or with no accepted return) contribute the
    files found under their fixed names, whose footers must read.

    Raises
    ------
    StoreDamaged
        Naming the first damaged file and ``rectify store repair``.
    """
    out: dict[str, list[Path]] = {}
    recorded = [p for p in recorded_parts(conn, period=period) if p.batch_id in batches]
    for part in recorded:
        path = root / part.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise _damaged(path, "不见了（已被删除或移走）") from None
        if size != part.bytes:
            raise _damaged(path, f"大小不对（应为{part.bytes}字节，现为{size}字节，可能被截断）")
        out.setdefault(part.sheet_key, []).append(path)
    found = {p.batch_id for p in recorded}
    legacy = [(key, default_part(root, key, period, b)) for b in sorted(batches - found) for key in table_keys()]
    legacy = [(key, path) for key, path in legacy if path.exists()]
    for key, path in legacy:
        out.setdefault(key, []).append(path)
    _check_rows({root / p.path: p.rows for p in recorded})
    _check_rows({path: None for _, path in legacy})
    return {key: sorted(paths, key=str) for key, paths in out.items()}


def _check_rows(want: Mapping[Path, int | None]) -> None:
    """The footers of ``want`` hold the rows given (all ``None``: readable only); one scan, then file by file."""
    if not want:
        return
    try:
        total = int(pl.scan_parquet(list(want)).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError):
        total = -1
    counts = [n for n in want.values() if n is not None]
    if total >= 0 and (len(counts) < len(want) or total == sum(counts)):
        return
    for path, expected in want.items():
        try:
            rows = _footer_rows(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _damaged(path, f"无法读取（{_first_line(exc)}）") from None
        if expected is not None and rows != expected:
            raise _damaged(path, f"行数不对（应为{expected}行，现为{rows}行）")


def check_store(
    root: Path, ledger: Path, connect: Callable[[], sqlite3.Connection], *, backfill: bool = False
) -> list[Problem]:
    """Every damage of the store under ``root``: the ledger, each part (hashed), each archived original.

    ``connect`` opens the ``ledger`` (:meth:`jobs.store.Store.connect`: an
    older ledger gets its ``parts`` table). ``backfill`` records the parts of
    batches written before that table once they read back whole (call under
    the home's lock).
    """
    if not ledger.exists():
        return []
    try:
        with closing(connect()) as conn:
            verdict = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if verdict != ["ok"]:
                return [_ledger_problem(ledger, "；".join(verdict[:3]))]
            problems = _check_parts(root, conn, backfill=backfill)
            problems += _check_archive(root, conn)
    except (sqlite3.DatabaseError, StoreDamaged) as exc:  # StoreDamaged: as connect() names it
        cause = exc.__cause__ if isinstance(exc, StoreDamaged) and exc.__cause__ is not None else exc
        return [_ledger_problem(ledger, str(cause))]
    return problems


def _ledger_problem(ledger: Path, detail: str) -> Problem:
    msg = (f"台账数据库“{ledger}”已损坏（{detail}）：请从备份恢复该文件；"
           "如无备份，请将其改名保存，再对各报送期的收件重新运行 rectify ingest。")  # fmt: skip
    return Problem("ledger-damaged", ledger, msg)


def _check_parts(root: Path, conn: sqlite3.Connection, *, backfill: bool) -> list[Problem]:
    problems: list[Problem] = []
    recorded = recorded_parts(conn)
    for part in recorded:
        path = root / part.path
        problem = _part_problem(path, part)
        if problem is not None:
            problems.append(Problem(problem[0], path, problem[1], period=part.period, batch_id=part.batch_id))
    found = {p.batch_id for p in recorded}
    batches = [(b, p) for b, p in conn.execute("SELECT batch_id, period FROM batches ORDER BY period, batch_id")
               if b not in found]  # fmt: skip
    fill: list[Part] = []
    for batch_id, period in batches:
        for key in table_keys():
            path = default_part(root, key, period, batch_id)
            if not path.exists():
                continue
            try:
                rows = pl.read_parquet(path).height
            except (pl.exceptions.PolarsError, OSError) as exc:
                msg = f"数据文件“{path}”无法读取（{_first_line(exc)}）。"
                problems.append(Problem("part-unreadable", path, msg, period=period, batch_id=batch_id))
                continue
            fill.append(describe(root, path, key=key, period=period, batch_id=batch_id, rows=rows))
    if backfill and fill:
        damaged = {p.batch_id for p in problems}
        with write_transaction(conn):
            record_parts(conn, [p for p in fill if p.batch_id not in damaged])
    return problems


def _part_problem(path: Path, part: Part) -> tuple[ProblemKind, str] | None:
    if not path.exists():
        return "part-missing", f"数据文件“{path}”不见了（已被删除或移走）。"
    size = path.stat().st_size
    if size != part.bytes:
        return "part-truncated", f"数据文件“{path}”大小不对（应为{part.bytes}字节，现为{size}字节）。"
    if file_sha256(path) != part.sha256:
        return "part-changed", f"数据文件“{path}”的内容与入库时不同（SHA-256不符）。"
    try:
        rows = _footer_rows(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        return "part-unreadable", f"数据文件“{path}”无法读取（{_first_line(exc)}）。"
    if rows != part.rows:
        return "part-changed", f"数据文件“{path}”行数不对（应为{part.rows}行，现为{rows}行）。"
    return None


def _check_archive(root: Path, conn: sqlite3.Connection) -> list[Problem]:
    problems: list[Problem] = []
    rows = conn.execute("SELECT DISTINCT archive_path, sha256 FROM submissions ORDER BY archive_path")
    for rel, sha in rows:
        path = root / rel
        if not path.exists():
            problems.append(Problem("archive-missing", path, f"归档的原件“{path}”不见了（已被删除或移走）。"))
        elif file_sha256(path) != sha:
            problems.append(Problem("archive-changed", path, f"归档的原件“{path}”的内容与收到时不同（SHA-256不符）。"))
    return problems


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- repair: rebuilt parts swapped in by one transaction ----------------------
def replace_parts(
    root: Path,
    connect: Callable[[], sqlite3.Connection],
    rebuilt: Mapping[tuple[str, str], Mapping[str, pl.DataFrame]],
    *,
    fault_hook: FaultHook | None = None,
) -> list[Part]:
    """Swap in rebuilt parts: ``(period, batch_id) -> {sheet key: frame}`` (call under the home's lock).

    The new files get new names (``<batch_id>.<stamp>.parquet``) and are
    listed, with the old ones, in the journal ``pending/repair-<stamp>``
    before any is written; one transaction then replaces the batches' rows of
    ``parts``. A kill before the commit leaves the old parts in force, after
    it the new ones; :func:`settle_repair` removes the other set. Returns the
    new parts.
    """
    stamp = f"{time.time_ns():x}"
    pending = root / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    journal = pending / f"{REPAIR_PREFIX}{stamp}"
    with closing(connect()) as conn:
        before = {(p.period, p.batch_id): p for p in recorded_parts(conn)}
    old = [str((root / p.path).relative_to(root)) for (period, b), p in before.items() if (period, b) in rebuilt]
    old += [str(default_part(root, key, period, b).relative_to(root)) for period, b in rebuilt for key in table_keys()]
    targets = {(period, b, key): root / "tables" / key / f"period={period}" / f"{b}.{stamp}.parquet"
               for (period, b), frames in rebuilt.items() for key in frames}  # fmt: skip
    new = [str(t.relative_to(root)) for t in targets.values()]
    new += [str(t.with_name(f".{t.stem}.{os.getpid()}.tmp").relative_to(root)) for t in targets.values()]
    journal.write_text("".join(f"new {p}\n" for p in new) + "".join(f"old {p}\n" for p in dict.fromkeys(old)),
                       encoding="utf-8")  # fmt: skip
    parts = []
    for (period, b, key), target in targets.items():
        frame = rebuilt[(period, b)][key]
        target.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(frame, target)
        parts.append(describe(root, target, key=key, period=period, batch_id=b, rows=frame.height))
    fault("repair-written", fault_hook)
    with closing(connect()) as conn:
        with write_transaction(conn):
            conn.executemany("DELETE FROM parts WHERE period=? AND batch_id=?", list(rebuilt))
            record_parts(conn, parts)
    fault("repair-committed", fault_hook)
    for path in settle_repair(root, connect, journal):
        path.unlink(missing_ok=True)
    journal.unlink(missing_ok=True)
    return parts


def settle_repair(root: Path, connect: Callable[[], sqlite3.Connection], journal: Path) -> list[Path]:
    """The files an interrupted (or finished) repair leaves over: its new files if it never
    committed, else the old ones; never a file the ledger's ``parts`` names."""
    lines = [line.split(" ", 1) for line in journal.read_text(encoding="utf-8").splitlines() if " " in line]
    new = [rel for kind, rel in lines if kind == "new"]
    old = [rel for kind, rel in lines if kind == "old"]
    with closing(connect()) as conn:
        named = {p.path for p in recorded_parts(conn)}
    committed = any(rel in named for rel in new)
    return [root / rel for rel in (old if committed else new) if rel not in named and (root / rel).exists()]


def iter_problem_batches(problems: Sequence[Problem]) -> Iterator[tuple[str, str]]:
    """``(period, batch_id)`` of the batches whose parts are damaged, once each, in order."""
    yield from dict.fromkeys((p.period, p.batch_id) for p in problems
                             if p.kind.startswith("part-") and p.period and p.batch_id)  # fmt: skip
