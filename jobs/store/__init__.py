"""The store: a SQLite ledger of every received file plus Parquet rows of accepted returns.

Layout under ``<home>/store``::

    ledger.sqlite                                   submissions, findings, texts, batches, parts
    archive/<sha[:2]>/<sha256>.<ext>                original bytes, written first
    tables/<sheet_key>/period=<P>/<batch_id>.parquet one file per ingest batch per sheet
                                                    (``<batch_id>.<stamp>.parquet`` once repaired)

The ledger's ``parts`` records each Parquet file a batch wrote (rows, bytes,
SHA-256) with the batch; readers verify them (:mod:`jobs.store.integrity`).

Crash safety: the archive and the Parquet files are written temp + rename
*before* the one SQLite transaction that records the batch. Readers only read
Parquet files of batches recorded in SQLite, and only rows of current
submissions, so whatever a crash leaves behind is invisible and is removed by
:meth:`Store.cleanup` (called under the home's lock). Writers must hold the
home's lock (:meth:`jobs.office.home.Home.lock`); readers need none.

Rules (documented for the office):
- the same file (same SHA-256) for a period already in the ledger changes nothing,
  unless the office re-judges it on purpose (:mod:`jobs.store.rechecks`: a new version);
- an accepted return supersedes every earlier submission of that unit, period
  and report type (a unit's 本级 return and the 汇总 return its office sends
  for its subtree are different returns and never replace each other);
- a rejected resubmission supersedes nothing: the accepted one stays current
  until a corrected accepted one arrives; the rejection stays in the history;
- which version counts honours withdrawals and restores (:mod:`jobs.store.history`:
  the latest accepted, not-withdrawn version of a unit, period and report type);
  :meth:`Store.submissions` reads ``superseded_by`` as that rule says, so
  :meth:`Store.current`, :meth:`Store.texts`, :meth:`Store.load_tables` and
  the roll-up all apply it;
- ``file_name`` is the received name's readable form; a name that is not
  plain UTF-8 text (GBK bytes, control characters) keeps its exact bytes in
  ``file_name_raw`` (:meth:`Store.received_names`), so no name fails a batch.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import polars as pl

from jobs.core.errors import known_error
from jobs.core.findings import Finding, Report
from jobs.core.schema import load_schema
from jobs.core.tables import table_keys, table_schema
from jobs.store import history, integrity, publication, rechecks, supervision
from jobs.store.types import (
    FAULT_ENV,
    LEDGER_DDL,
    STACK_INDEX,
    SUBMISSION_SCHEMA,
    TEXT_SCHEMA,
    Archived,
    Arrival,
    FaultHook,
    Lineage,
    Outcome,
    fault,
    submission_id,
)
from jobs.store.writer import (
    add_missing_columns,
    archive_file,
    insert_batch,
    labelled_tables,
    make_durable,
    write_parquet_atomic,
)

__all__ = [
    "FAULT_ENV",
    "STACK_INDEX",
    "SUBMISSION_SCHEMA",
    "TEXT_SCHEMA",
    "Archived",
    "Arrival",
    "FaultHook",
    "Lineage",
    "Outcome",
    "Store",
    "fault",
    "recording_order",
    "submission_id",
]

def recording_order(arrivals: Sequence[Arrival]) -> list[int]:
    """Indices of ``arrivals`` in the order :meth:`Store.write_batch` records them: arrival time, then file name."""
    return sorted(range(len(arrivals)), key=lambda i: (arrivals[i].received_at, arrivals[i].file_name))


def _explained_column(conn: sqlite3.Connection) -> str:
    """``explained``, or ``0`` in a ledger no write has given that column yet (readers never migrate)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(findings)")}
    return "explained" if "explained" in columns else "0"


class Store:
    """The ledger and tables under one directory (``<home>/store``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.ledger_path = self.root / "ledger.sqlite"
        self._ready = False
        self._migrated = False

    # -- connections ------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit); creates the ledger once."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.ledger_path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA synchronous=FULL")
            if not self._ready:
                # WAL: readers (status, summarize) see the last committed state while a writer works
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(LEDGER_DDL)
                conn.executescript(history.HISTORY_DDL)
                conn.executescript(publication.PUBLICATION_DDL)
                self._ready = True
        except sqlite3.DatabaseError as exc:
            self._ledger_failed(exc)
        return conn

    def _ledger_failed(self, exc: sqlite3.DatabaseError) -> NoReturn:
        # a damaged, full or read-only ledger, named (jobs.core.errors.known_error); a wrong query unchanged
        known = known_error(exc, path=self.ledger_path)
        if known is None:
            raise exc
        raise known from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        conn = self.connect()
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            self._ledger_failed(exc)
        finally:
            conn.close()

    # -- writing (caller holds the home's lock) ---------------------------
    def archive(self, path: str | Path) -> Archived:
        """Copy a received file to ``archive/<sha[:2]>/<sha>.<ext>`` (temp + rename, fsynced) and hash it."""
        return archive_file(self.root, Path(path))

    def archive_many(self, paths: Sequence[str | Path], *, max_mb: float | None = None) -> list[Archived | OSError]:
        """:meth:`archive` for a batch: every file copied, then all made durable at once.

        One entry per path, in order: its :class:`Archived`, or the ``OSError``
        that kept it from being read (:class:`jobs.core.files.RefusedFile`: a
        link, a FIFO, a device, or over ``max_mb``). Durable before returning,
        so a ledger commit that follows may name every archived file.
        """
        out: list[Archived | OSError] = []
        folders: set[str] = set()
        for path in paths:
            try:
                # Path(a Path) parses it again: ~0.15 ms per file in the single writer
                source = path if isinstance(path, Path) else Path(path)
                out.append(archive_file(self.root, source, durable=False, folders=folders, max_mb=max_mb))
            except OSError as exc:
                out.append(exc)
        make_durable(self.root, [a.archive_path for a in out if isinstance(a, Archived)])
        return out

    def known(self, period: str, hashes: Iterable[str]) -> dict[str, tuple[str, int]]:
        """``sha256 -> (submission_id, version)`` for hashes already recorded for ``period``."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, tuple[str, int]] = {}
        with self._reading() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    # by version: a re-judged file answers with its latest judgement (jobs.store.rechecks)
                    f"SELECT sha256, submission_id, version FROM submissions WHERE period=? AND sha256 IN ({marks}) "
                    "ORDER BY version",
                    [period, *chunk],
                )
                found.update({sha: (sid, ver) for sha, sid, ver in rows})
        return found

    def write_batch(
        self,
        period: str,
        arrivals: Sequence[Arrival],
        *,
        ingested_at: datetime,
        fault_hook: FaultHook | None = None,
        stacked: Mapping[str, pl.DataFrame] | None = None,
        texts: pl.DataFrame | None = None,
        again: rechecks.Recheck | None = None,
    ) -> list[Outcome]:
        """Record a batch: Parquet per sheet (temp + rename), then one SQLite transaction.

        Arrivals whose file is already recorded for the period are reported as
        ``duplicate`` and change nothing. Within the batch, arrivals are
        recorded in order of arrival time (then file name).

        ``stacked`` (sheet key -> frame in the stored layout plus ``_i``, the
        arrival's index in ``arrivals``) and ``texts`` (``_i`` + text columns)
        carry the whole batch's rows at once, instead of each arrival's
        ``tables`` and ``texts`` (faster: no per-file frame operations).

        ``again``: the file it names is recorded anew although already in the
        ledger, with the reason (:mod:`jobs.store.rechecks`).
        """
        known = self.known(period, (a.archived.sha256 for a in arrivals))
        if again is not None:
            known.pop(again.sha256, None)
        outcomes: list[Outcome] = []
        fresh: list[tuple[int, Arrival]] = []
        seen: set[str] = set()
        for i in recording_order(arrivals):
            a = arrivals[i]
            sha = a.archived.sha256
            if sha in known or sha in seen:
                sid, ver = known.get(sha, (submission_id(period, sha), 0))
                outcomes.append(Outcome(sid, "duplicate", ver, a.archived))
                continue
            seen.add(sha)
            fresh.append((i, a))
        if not fresh:
            return outcomes
        ids = [submission_id(period, a.archived.sha256) for _, a in fresh]
        redo = next((k for k, (_, a) in enumerate(fresh) if again and a.archived.sha256 == again.sha256), None)
        if redo is not None:
            with self._reading() as conn:
                ids[redo] = rechecks.new_id(conn, period=period, sha256=fresh[redo][1].archived.sha256)
        batch_id = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
        parts = self._write_tables(period, batch_id, fresh, ids, stacked=stacked)
        fault("parquet-written", fault_hook)
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            if not self._migrated:  # an older ledger gets its new columns with its first batch
                add_missing_columns(conn)
            if redo is not None:
                rechecks.migrate(conn)
            versions = insert_batch(
                conn, period=period, fresh=fresh, ids=ids, batch_id=batch_id, ingested_at=ingested_at,
                default_type=load_schema().default_report_type, texts=texts,
            )  # fmt: skip
            if redo is not None and again is not None:
                rechecks.record(conn, again, submission_id=ids[redo], period=period,
                                unit=fresh[redo][1].report.unit, version=versions[redo])  # fmt: skip
            for (_, arrival), sid, version in zip(fresh, ids, versions, strict=True):
                outcomes.append(Outcome(sid, "stored", version, arrival.archived))
            conn.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?)",
                (batch_id, period, ingested_at.isoformat(), len(fresh)),
            )
            integrity.record_parts(conn, parts)
            fault("before-commit", fault_hook)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                self._ledger_failed(exc)
            raise
        finally:
            conn.close()
        self._migrated = True
        (self._pending / batch_id).unlink(missing_ok=True)
        fault("committed", fault_hook)
        return outcomes

    @property
    def _pending(self) -> Path:
        # one journal entry per batch being written: the Parquet (and temp)
        # files it may leave, so cleanup needs no scan of the tables
        return self.root / "pending"

    def _write_tables(
        self,
        period: str,
        batch_id: str,
        fresh: list[tuple[int, Arrival]],
        ids: list[str],
        *,
        stacked: Mapping[str, pl.DataFrame] | None = None,
    ) -> list[integrity.Part]:
        layouts = {key: table_schema(key) for key in table_keys()}
        frames = labelled_tables(layouts, fresh, ids, period=period, stacked=stacked)
        if not frames:
            return []
        targets = {key: self.root / "tables" / key / f"period={period}" / f"{batch_id}.parquet" for key in frames}
        journal = [str(t.relative_to(self.root)) for t in targets.values()]
        journal += [str(t.with_name(f".{t.stem}.{os.getpid()}.tmp").relative_to(self.root)) for t in targets.values()]
        self._pending.mkdir(parents=True, exist_ok=True)
        (self._pending / batch_id).write_text("\n".join(journal) + "\n", encoding="utf-8")
        for key, frame in frames.items():
            targets[key].parent.mkdir(parents=True, exist_ok=True)
            write_parquet_atomic(frame, targets[key])
        return [integrity.describe(self.root, targets[k], key=k, period=period, batch_id=batch_id, rows=f.height)
                for k, f in frames.items()]  # fmt: skip

    def cleanup(self) -> list[Path]:
        """Remove what interrupted writes left behind (call under the home's lock).

        Temp files of the archive and the ledger directory, and the Parquet
        (and temp) files of batches the ledger never recorded, as listed by
        the batch journal (``pending/<batch_id>``), so no table folder is
        scanned: the tables may hold millions of files. Every store write
        happens under the lock, so nothing found here is in progress. A
        repair's journal (``pending/repair-*``) removes its new parts if it
        never committed, else the old ones. Returns the removed paths.
        """
        if not self.root.exists():
            return []
        removed = [*self.root.glob(".*.tmp"), *(self.root / "archive").glob(".*.tmp")]
        entries = sorted(self._pending.glob("*")) if self._pending.is_dir() else []
        committed = self._batch_ids() if entries else set()
        for entry in entries:
            if entry.name.startswith(integrity.REPAIR_PREFIX):  # a repair's journal: its new or its old parts go
                removed += integrity.settle_repair(self.root, self.connect, entry)
            elif entry.name not in committed:
                listed = entry.read_text(encoding="utf-8").split()
                removed += [p for p in (self.root / rel for rel in listed) if p.exists()]
        for path in removed:
            path.unlink(missing_ok=True)
        for entry in entries:
            entry.unlink(missing_ok=True)
        return removed

    # -- reading ----------------------------------------------------------
    def _batch_ids(self, period: str | None = None) -> set[str]:
        if not self.ledger_path.exists():
            return set()
        with self._reading() as conn:
            if period is None:
                rows = conn.execute("SELECT batch_id FROM batches")
            else:
                rows = conn.execute("SELECT batch_id FROM batches WHERE period=?", (period,))
            return {r[0] for r in rows}

    def submissions(self, period: str | None = None) -> pl.DataFrame:
        """Every recorded submission (history included), ordered by unit and version."""
        if not self.ledger_path.exists():
            return pl.DataFrame(schema=SUBMISSION_SCHEMA)
        effective = history.effective_superseded_by(load_schema().default_report_type)
        cols = ", ".join(effective if c == "superseded_by" else f"s.{c}" for c in SUBMISSION_SCHEMA)
        query = f"SELECT {cols} FROM submissions s"
        params: tuple = ()
        if period is not None:
            query += " WHERE s.period=?"
            params = (period,)
        with self._reading() as conn:
            rows = conn.execute(query + " ORDER BY s.period, s.unit, s.version", params).fetchall()
        frame = pl.DataFrame(
            rows, schema={k: (pl.Utf8 if k.endswith("_at") else v) for k, v in SUBMISSION_SCHEMA.items()},
            orient="row",
        )
        return frame.with_columns(
            pl.col("received_at", "ingested_at").str.to_datetime(time_unit="us"),
        ).cast(SUBMISSION_SCHEMA)

    def current(self, period: str) -> pl.DataFrame:
        """The submissions of ``period`` that count: one per unit and report type (:mod:`jobs.store.history`)."""
        subs = self.submissions(period)
        return subs.filter(pl.col("accepted") & pl.col("superseded_by").is_null())

    def versions(self, period: str, unit: str) -> list[history.Version]:
        """Every received version of ``unit`` in ``period``, with what counts and why (``rectify history``)."""
        if not self.ledger_path.exists():
            return []
        with self._reading() as conn:
            kind = load_schema().default_report_type
            return history.versions(conn, period=period, unit=unit, default_report_type=kind)

    def change(
        self, *, action: history.Action, period: str, unit: str, version: int, reason: str, by: str, at: datetime,
        fault_hook: FaultHook | None = None,
    ) -> history.Change:
        """Withdraw or restore one version: one event, one transaction (caller holds the home's lock)."""
        conn = self.connect()
        try:
            return history.change(
                conn, action=action, period=period, unit=unit, version=version, reason=reason, by=by, at=at,
                default_report_type=load_schema().default_report_type, fault=lambda step: fault(step, fault_hook),
            )
        finally:
            conn.close()

    def publications(self, period: str) -> list[publication.Publication]:
        """Every publication of ``period`` (``rectify publish``), first revision first; [] when unpublished."""
        if not self.ledger_path.exists():
            return []
        with self._reading() as conn:
            return publication.publications(conn, period)

    def published_versions(self, period: str, revision: int) -> list[tuple[str, str | None, bool]]:
        """``(submission_id, superseded_by, counts)`` of each submission the revision froze."""
        with self._reading() as conn:
            return publication.published_versions(conn, period, revision)

    def publish(
        self, *, period: str, revise: bool, note: str, reason: str | None, by: str, at: datetime,
        registry_version: int, deadline: datetime, fingerprint: str, summary: dict,
        fault_hook: FaultHook | None = None,
    ) -> publication.Publication:
        """Record a publication of ``period``: one transaction (caller holds the home's lock)."""
        conn = self.connect()
        try:
            return publication.record(
                conn, period=period, revise=revise, note=note, reason=reason, by=by, at=at,
                registry_version=registry_version, deadline=deadline, fingerprint=fingerprint, summary=summary,
                default_report_type=load_schema().default_report_type, fault=lambda step: fault(step, fault_hook),
            )  # fmt: skip
        finally:
            conn.close()

    def rechecked(self, submission_ids: Sequence[str]) -> dict[str, rechecks.Note]:
        """Which of ``submission_ids`` re-judge an earlier version's file, and why (:mod:`jobs.store.rechecks`)."""
        with self._reading() as conn:
            return rechecks.of_submissions(conn, submission_ids)

    def supervise(self, items: Sequence[supervision.SupervisedItem]) -> int:
        """Record 督办 items in one transaction (caller holds the home's lock); returns rows added."""
        conn = self.connect()
        try:
            return supervision.record(conn, items)
        except sqlite3.DatabaseError as exc:
            self._ledger_failed(exc)
        finally:
            conn.close()

    def supervised(self, *, before: str | None = None) -> pl.DataFrame:
        """The 督办 ledger (:data:`jobs.store.supervision.SUPERVISION_SCHEMA`), of periods before ``before`` if given."""
        with self._reading() as conn:
            return supervision.load(conn, before=before)

    def findings(self, submission_ids: Sequence[str]) -> pl.DataFrame:
        """Findings of the given submissions (``explained`` is false in a ledger older than that column)."""
        cols = ["submission_id", "seq", "code", "severity", "sheet", "row", "column", "cell", "message"]
        rows: list[tuple] = []
        with self._reading() as conn:
            explained = _explained_column(conn)
            select = ", ".join(f'"{c}"' for c in cols) + f", {explained}"
            for start in range(0, len(submission_ids), 500):
                chunk = list(submission_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(f"SELECT {select} FROM findings WHERE submission_id IN ({marks})",
                                     chunk).fetchall()  # fmt: skip
        schema: dict[str, pl.DataType] = {c: (pl.Int64() if c in ("seq", "row") else pl.Utf8()) for c in cols}
        schema["explained"] = pl.Boolean()
        return pl.DataFrame([(*r[:-1], bool(r[-1])) for r in rows], schema=schema, orient="row")

    def received_names(self, submission_ids: Sequence[str]) -> list[bytes]:
        """The exact bytes of each submission's received file name, in order (``file_name`` is its
        readable form; ``file_name_raw`` holds the bytes where they differ, none before that column)."""
        found: dict[str, bytes] = {}
        with self._reading() as conn:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(submissions)")}
            raw = "file_name_raw" if "file_name_raw" in columns else "NULL"
            for start in range(0, len(submission_ids), 500):
                chunk = list(submission_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT submission_id, file_name, {raw} FROM submissions "
                                    f"WHERE submission_id IN ({marks})", chunk)  # fmt: skip
                found.update((sid, name.encode() if exact is None else bytes(exact)) for sid, name, exact in rows)
        return [found[sid] for sid in submission_ids]  # KeyError: no such submission

    def report(self, submission_id: str) -> Report:
        """Rebuild a submission's verdict from the ledger (e.g. to re-issue a lost receipt)."""
        return self.reports([submission_id])[0]

    def reports(self, submission_ids: Sequence[str]) -> list[Report]:
        """:meth:`report` of many submissions, in order, with one connection and two queries
        per 500 (receipts are issued a batch at a time; one by one cost ~1.4 ms each)."""
        heads: dict[str, tuple] = {}
        found: dict[str, list[Finding]] = {sid: [] for sid in submission_ids}
        with self._reading() as conn:
            explained = _explained_column(conn)
            for start in range(0, len(submission_ids), 500):
                chunk = list(submission_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
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
        reports = [
            Report(file=heads[sid][0], unit=heads[sid][1], period=heads[sid][2], findings=found[sid])
            for sid in submission_ids
        ]
        for sid, report in zip(submission_ids, reports, strict=True):
            # the ledger's counts are the true totals: a verdict over the findings cap lists fewer
            report.more_errors = max(heads[sid][3] - report.n_errors, 0)
            report.more_warnings = max(heads[sid][4] - report.n_warnings, 0)
        return reports

    def lineage(self, submission_ids: Sequence[str]) -> dict[str, Lineage]:
        """Per submission: its version and arrival, the accepted version it replaced, and (for a rejected
        one) the accepted earlier version that still counts; what a receipt tells the unit."""
        out: dict[str, Lineage] = {}
        pick = ("SELECT p.version || '|' || p.received_at FROM submissions p WHERE p.period=s.period "
                "AND p.unit=s.unit AND p.accepted=1 AND {} ORDER BY p.version DESC LIMIT 1")  # fmt: skip
        replaced = pick.format("p.superseded_by=s.submission_id")
        # the version that counts now (withdrawals included: the one rule of :mod:`jobs.store.history`)
        kind = "'" + load_schema().default_report_type.replace("'", "''") + "'"
        current = pick.format(
            f"({history.effective_superseded_by(load_schema().default_report_type, 'p')}) IS NULL "
            f"AND p.version<s.version AND COALESCE(p.report_type, {kind})=COALESCE(s.report_type, {kind})"
        )
        with self._reading() as conn:
            for start in range(0, len(submission_ids), 500):
                chunk = list(submission_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT s.submission_id, s.version, s.received_at, ({replaced}), ({current}) "
                    f"FROM submissions s WHERE s.submission_id IN ({marks})",
                    chunk,
                )
                for sid, version, received, old, still in rows:
                    out[sid] = Lineage(version, datetime.fromisoformat(received), _version(old), _version(still))
        return out

    def texts(
        self, period: str, *, hashes: Iterable[str] | None = None, exclude_units: Iterable[str] = ()
    ) -> pl.DataFrame:
        """Copy-detection hashes of the period's current accepted returns (``unit, sheet, row, column, hash``).

        ``hashes`` restricts them to those hashes (an indexed look-up): intake
        asks only for the texts a batch shares, never the whole period's table.
        """
        if not self.ledger_path.exists():
            return pl.DataFrame(schema=TEXT_SCHEMA)
        counts = f"({history.effective_superseded_by(load_schema().default_report_type)}) IS NULL"
        query = (
            'SELECT t.unit, t.sheet, t."row", t."column", t.hash FROM texts t JOIN submissions s '
            f"ON s.submission_id=t.submission_id WHERE t.period=? AND {counts}"
        )
        rows: list[tuple] = []
        with self._reading() as conn:
            if hashes is None:
                rows = conn.execute(query, (period,)).fetchall()
            else:
                wanted = list(hashes)
                for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
                    chunk = wanted[start : start + 900]
                    marks = ",".join("?" * len(chunk))
                    rows += conn.execute(f"{query} AND t.hash IN ({marks})", [period, *chunk]).fetchall()
        frame = pl.DataFrame(rows, schema=TEXT_SCHEMA, orient="row")
        excluded = list(exclude_units)
        return frame.filter(~pl.col("unit").is_in(excluded)) if excluded else frame

    def load_tables(
        self,
        period: str,
        *,
        submission_ids: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> dict[str, pl.DataFrame]:
        """Rows of the period's current accepted returns (or of ``submission_ids``: a publication's), one typed
        frame per sheet key.

        ``keys`` reads only those sheets; ``columns`` only those of their columns
        (the identity columns always): the history stage reads six months of
        counts and statuses, not every return's texts. The parts read are
        verified first (:func:`jobs.store.integrity.parts_to_read`): a missing
        or damaged one raises ``StoreDamaged``, never an under-count.
        """
        current = list(submission_ids) if submission_ids is not None else self.current(period)["submission_id"].to_list()
        batches = self._batch_ids(period)
        with self._reading() as conn:
            parts = integrity.parts_to_read(self.root, conn, period=period, batches=batches) if current else {}
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
    """``"<version>|<received_at>"`` from :meth:`Store.lineage`'s sub-queries."""
    if text is None:
        return None
    number, at = text.split("|", 1)
    return int(number), datetime.fromisoformat(at)
