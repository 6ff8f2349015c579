"""The store: a SQLite ledger of every received file plus Parquet rows of accepted returns.

Layout under ``<home>/store``::

    ledger.sqlite                                   submissions, findings, texts, batches, parts
    archive/<sha[:2]>/<sha256>.<ext>                original bytes, written first
    tables/<sheet_key>/period=<P>/<batch_id>.parquet one file per ingest batch per sheet
                                                    (``<batch_id>.<stamp>.parquet`` once repaired)

:class:`Store` is the façade; the work is in its modules: ``reading`` (per-submission reads and
the tables), ``journal`` (what a batch being written may leave, and cleanup), ``history``
(which version counts), ``rechecks``, ``publication``, ``supervision``, ``integrity``, ``writer``.

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
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import polars as pl

from jobs.core.errors import known_error
from jobs.core.findings import Report
from jobs.core.schema import load_schema
from jobs.store import (
    history,
    integrity,
    journal,
    publication,
    reading,
    rechecks,
    supervision,
)
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
    make_durable,
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

    def known(
        self, period: str, hashes: Iterable[str], *, again: rechecks.Recheck | None = None
    ) -> dict[str, tuple[str, int]]:
        """``sha256 -> (submission_id, version)`` for hashes already recorded for ``period``; the file
        ``again`` names (re-judged on purpose, :mod:`jobs.store.rechecks`) counts as not recorded."""
        wanted = [h for h in dict.fromkeys(hashes) if again is None or h != again.sha256]
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
        known = self.known(period, (a.archived.sha256 for a in arrivals), again=again)
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
        parts = journal.write_tables(self.root, period, batch_id, fresh, ids, stacked=stacked)
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
        journal.recorded(self.root, batch_id)
        fault("committed", fault_hook)
        return outcomes

    def cleanup(self) -> list[Path]:
        """Remove what interrupted writes left behind (call under the home's lock; :func:`jobs.store.journal.cleanup`).

        Every store write happens under the lock, so nothing found here is in progress.
        """
        return journal.cleanup(self.root, committed=self._batch_ids, connect=self.connect)

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
        with self._reading() as conn:
            return reading.submissions(conn, period)

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
        with self._reading() as conn:
            return reading.findings(conn, submission_ids)

    def received_names(self, submission_ids: Sequence[str]) -> list[bytes]:
        """The exact bytes of each submission's received file name, in order (``file_name`` is its
        readable form; ``file_name_raw`` holds the bytes where they differ, none before that column)."""
        with self._reading() as conn:
            return reading.received_names(conn, submission_ids)

    def report(self, submission_id: str) -> Report:
        """Rebuild a submission's verdict from the ledger (e.g. to re-issue a lost receipt)."""
        return self.reports([submission_id])[0]

    def reports(self, submission_ids: Sequence[str]) -> list[Report]:
        """:meth:`report` of many submissions, in order, with one connection and two queries
        per 500 (receipts are issued a batch at a time; one by one cost ~1.4 ms each)."""
        with self._reading() as conn:
            return reading.reports(conn, submission_ids)

    def lineage(self, submission_ids: Sequence[str]) -> dict[str, Lineage]:
        """Per submission: its version and arrival, the accepted version it replaced, and (for a rejected
        one) the accepted earlier version that still counts; what a receipt tells the unit."""
        with self._reading() as conn:
            return reading.lineage(conn, submission_ids)

    def texts(
        self, period: str, *, hashes: Iterable[str] | None = None, exclude_units: Iterable[str] = ()
    ) -> pl.DataFrame:
        """Copy-detection hashes of the period's current accepted returns (``unit, sheet, row, column, hash``).

        ``hashes`` restricts them to those hashes (an indexed look-up): intake
        asks only for the texts a batch shares, never the whole period's table.
        """
        if not self.ledger_path.exists():
            return pl.DataFrame(schema=TEXT_SCHEMA)
        with self._reading() as conn:
            frame = reading.texts(conn, period, hashes=hashes)
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
            return reading.tables(self.root, conn, period=period, current=current, batches=batches, keys=keys,
                                  columns=columns)  # fmt: skip
