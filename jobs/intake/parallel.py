"""Intake, the one pipeline: archive, validate on an executor, find copies, record, receipts.

:func:`ingest_paths` runs, for each batch of files:

1. main process, under the lock: archive every file, skip files already
   recorded (``Store.known``) — :func:`_prepare`;
2. executor (in process, process pool or Ray): :func:`validate_job` — the
   pure, per-file read+validate of the batch's archived copies; the returns'
   tables come back stacked per sheet with their text hashes
   (:class:`jobs.intake.batch.BatchResult`: a few frames to pickle, not thousands);
3. main process, in submission order, under the lock — the single writer:
   cross-unit copy detection over the batch's hashes and the texts stored
   for the period (:mod:`jobs.validate.cross_units`, no file read, no GX),
   the history stage against the units' earlier returns, read once per run
   (:mod:`jobs.validate.history`), then ``Store.write_batch`` — :func:`_record`;
4. receipts, from the committed ledger (by the workers when they share the files).

Only ``executor.in_flight`` batches are between steps 1 and 3 at any time, so
memory does not grow with the number of files; a batch ends at ``[limits]
batch_size`` files or ``batch_mb`` MB of received files, whichever comes
first, so it does not grow with their content either. Each return is compared with
what the store holds when it is recorded, so verdicts do not depend on the
executor, the number of workers or the batch boundaries.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from jobs.core.errors import UnreadableFile
from jobs.core.files import RefusedFile
from jobs.core.findings import cap_findings
from jobs.core.schema import load_schema
from jobs.intake.batch import (
    DUPLICATE_MESSAGE,
    BatchResult,
    FileOutcome,
    IngestResult,
    ReceiptNotWritten,
    Validator,
    arrival_times,
    issue_receipts,
    read_validate_batch,
)
from jobs.intake.discover import expand_paths
from jobs.intake.executors import Executor, SerialExecutor, batched
from jobs.intake.hints import HELD, carried_period, period_hint
from jobs.intake.progress import Progress
from jobs.office.config import Limits
from jobs.office.home import Home, check_period
from jobs.store import STACK_INDEX, Archived, Arrival, FaultHook, fault, recording_order
from jobs.store.rechecks import Recheck
from jobs.validate.cross_units import find_cross_unit_copies
from jobs.validate.history import HistoryCache, find_history
from jobs.validate.lifecycle import Earlier, load_earlier
from jobs.validate.peers import Peers, load_peers

_MB = 1024 * 1024


@dataclass(frozen=True)
class BatchContext:
    """What every batch's validation needs; shipped to each worker once per run."""

    registry: pl.DataFrame
    period: str
    validator: Validator | None = None
    limits: Limits | None = None  # the office's [limits] (preflight bounds)


@dataclass
class _Prepared:
    batch: list[Path]
    outcomes: dict[Path, FileOutcome] = field(default_factory=dict)
    archived: dict[Path, Archived] = field(default_factory=dict)
    times: dict[Path, datetime] = field(default_factory=dict)
    fresh: list[Path] = field(default_factory=list)
    job: tuple[list[Path], dict[Path, datetime]] | None = None


def validate_job(
    context: BatchContext,
    job: tuple[Sequence[Path], Mapping[Path, datetime]] | tuple[Sequence[Path], Mapping[Path, datetime], list[bytes]],
) -> BatchResult:
    """Pure: read and validate one batch (per-file checks); the results, their tables stacked and their text hashes.

    ``job`` is ``(paths, received_at)``, or ``(paths, received_at, contents)``
    for workers that cannot see this machine's files (a Ray cluster): the
    files' bytes travel with the job and are read from a temporary folder.
    Runs in a worker process or a Ray task.
    """
    if len(job) == 3:
        paths, received_at, contents = job  # type: ignore[misc]
        with tempfile.TemporaryDirectory(prefix="rectify-batch-") as tmp:
            local = [Path(tmp) / f"{i:06d}-{p.name}" for i, p in enumerate(paths)]
            for target, data in zip(local, contents, strict=True):
                target.write_bytes(data)
            here = {t: received_at[p] for t, p in zip(local, paths, strict=True)}
            return validate_job(context, (local, here))
    paths, received_at = job  # type: ignore[misc]
    return read_validate_batch(list(paths), registry=context.registry, period=context.period,
                               received_at=received_at, validator=context.validator, limits=context.limits)  # fmt: skip


def ingest_paths(
    home: Home,
    paths: Iterable[str | Path],
    *,
    period: str,
    received_at: datetime | None = None,
    validator: Validator | None = None,
    batch_size: int | None = None,
    receipts: bool = True,
    holder: str = "rectify ingest",
    fault_hook: FaultHook | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    again: Recheck | None = None,
    history_cache: HistoryCache | None = None,
) -> IngestResult:
    """Archive, validate and record files (directories are walked) for ``period``.

    Idempotent: files already recorded for the period change nothing (their
    receipt is re-issued if it is missing). Raises ``HomeError`` without a
    registry and ``LockTimeout`` when another writer keeps the store.
    ``executor`` (:mod:`jobs.intake.executors`: in process by default, process
    pool or Ray) validates batches in parallel while this process stays the
    single writer; ``progress`` is advanced by the files of each recorded batch.
    ``again``: its file is judged and recorded anew although recorded before
    (``rectify recheck``, :mod:`jobs.store.rechecks`); no other file is.
    ``history_cache`` keeps the history stage's inputs across calls (a watcher).
    """
    check_period(period)
    executor = executor or SerialExecutor()
    files = expand_paths(paths)
    registry = home.registry(period)
    size = batch_size or home.config.limits.batch_size
    store = home.store
    with home.lock(holder=holder):
        store.cleanup()
    limits = home.config.limits
    context = BatchContext(registry=registry, period=period, validator=validator, limits=limits)

    def weigh(path: Path) -> int:
        # what the batch will hold: a file over the size limit is refused unread
        try:
            return min(os.lstat(path).st_size, int(limits.max_file_mb * _MB) + 1)
        except OSError:
            return 0

    result = IngestResult(period=period)
    loaded: list[tuple[Earlier, Peers]] = []

    def history() -> tuple[Earlier, Peers]:
        # read once per run (or kept by a watcher): the earlier periods do not change while this one
        # is ingested, and the period's stored rates are kept current by the stage as batches are recorded
        if not loaded:
            kind = load_schema().default_report_type
            if history_cache is None:
                loaded.append((load_earlier(store, period, report_type=kind),
                               load_peers(store, period, registry=registry, report_type=kind)))  # fmt: skip
            else:
                loaded.append(history_cache.get(store, period, registry=registry, report_type=kind))
        return loaded[0]

    prepared: deque[_Prepared] = deque()

    def jobs() -> Iterator[tuple[list[Path], dict[Path, datetime]]]:
        # Pulled by the executor only as fast as batches complete: archiving
        # runs at most ``in_flight`` batches ahead of the writer.
        for batch in batched(files, size, weight=weigh, max_weight=int(limits.batch_mb * _MB)):
            with home.lock(holder=holder):
                prep = _prepare(home, batch, period=period, received_at=received_at, fault_hook=fault_hook,
                                again=again)  # fmt: skip
            prepared.append(prep)
            if prep.job is not None:
                if executor.shares_files:
                    yield prep.job
                else:
                    yield (*prep.job, [p.read_bytes() for p in prep.job[0]])

    def record(prep: _Prepared, validated: BatchResult | None) -> None:
        if validated is not None:
            fault("validated", fault_hook)
            with home.lock(holder=holder):
                _record(home, prep, validated, period=period, fault_hook=fault_hook, again=again, history=history,
                        registry=registry)  # fmt: skip
                if history_cache is not None:
                    history_cache.seen(store, period)
        outcomes = [prep.outcomes[p] for p in prep.batch if p in prep.outcomes]
        todo = [o for o in outcomes if o.submission_id is not None] if receipts else []
        # a wrong-period rejection's receipt waits for the run's verdict on the period (_held_receipts)
        held.extend(o for o in todo if o.status == "stored" and o.wrong_period is not None)
        todo = [o for o in todo if not (o.status == "stored" and o.wrong_period is not None)]
        if todo and executor.shares_files:
            # receipts are written by the workers from the committed
            # ledger, so this process, the one writer, does not cap throughput
            pending_receipts.append((todo, executor.submit(receipt_job, todo, context=(str(home.root), period))))
        elif todo:
            _note_receipts(todo, issue_receipts(home, todo, period=period))
        result.files.extend(outcomes)
        if progress is not None:
            progress.advance(len(prep.batch))

    pending_receipts: list[tuple[list[FileOutcome], Any]] = []
    held: list[FileOutcome] = []
    for validated in executor.map(validate_job, jobs(), context=context):
        # batches with nothing to validate (all duplicates or unreadable) have no job
        while prepared and prepared[0].job is None:
            record(prepared.popleft(), None)
        record(prepared.popleft(), validated)
    while prepared:
        record(prepared.popleft(), None)
    for todo, pending in pending_receipts:
        _note_receipts(todo, pending.result())
    _held_receipts(home, result, held, period=period)
    return result


def _held_receipts(home: Home, result: IngestResult, held: Sequence[FileOutcome], *, period: str) -> None:
    """Wrong-period rejections: when they are most of the run, their receipts are held and the run
    carries the hint (:mod:`jobs.intake.hints`); otherwise the receipts are written now."""
    if not held:
        return
    hint = period_hint([o.wrong_period for o in held], period=period, n_files=len(result.files))
    if hint is None:
        _note_receipts(held, issue_receipts(home, held, period=period))
        return
    result.period_hint = hint
    for outcome in held:
        outcome.receipt_error = HELD


def _note_receipts(outcomes: Sequence[FileOutcome], written: Sequence[Path | ReceiptNotWritten]) -> None:
    for outcome, receipt in zip(outcomes, written, strict=True):
        if isinstance(receipt, ReceiptNotWritten):
            outcome.receipt_error = receipt.reason
        else:
            outcome.receipt = receipt


def receipt_job(context: tuple[str, str], outcomes: Sequence[FileOutcome]) -> list[Path | ReceiptNotWritten]:
    """Write the receipts of recorded files (from the ledger); ``context`` is ``(home root, period)``."""
    root, period = context
    home = Home(root)
    return issue_receipts(home, outcomes, period=period)


def _prepare(
    home: Home, batch: list[Path], *, period: str, received_at: datetime | None, fault_hook: FaultHook | None,
    again: Recheck | None = None,
) -> _Prepared:
    store = home.store
    prep = _Prepared(batch=batch)
    readable: list[Path] = []
    if received_at is not None:  # one time for all: nothing to stat
        prep.times.update(arrival_times(home, batch, received_at=received_at))
        readable = list(batch)
    for path in batch if received_at is None else ():
        try:
            prep.times.update(arrival_times(home, [path], received_at=received_at))
            readable.append(path)
        except OSError as exc:
            prep.outcomes[path] = _unreadable(path, exc)
    # archived together, made durable together (one syncfs, not one fsync per file)
    limit = home.config.limits.max_file_mb  # refused before any copy, as preflight would
    for path, archived in zip(readable, store.archive_many(readable, max_mb=limit), strict=True):
        if isinstance(archived, OSError):
            prep.outcomes[path] = _unreadable(path, archived)
        else:
            prep.archived[path] = archived
    fault("archived", fault_hook)
    known = home.store.known(period, (a.sha256 for a in prep.archived.values()), again=again)
    for path, archived in prep.archived.items():
        if archived.sha256 in known:
            sid, version = known[archived.sha256]
            prep.outcomes[path] = FileOutcome(path, "duplicate", submission_id=sid, version=version,
                                              message=DUPLICATE_MESSAGE)  # fmt: skip
        else:
            prep.fresh.append(path)
    if prep.fresh:
        copies = {p: store.root / prep.archived[p].archive_path for p in prep.fresh}
        prep.job = ([copies[p] for p in prep.fresh], {copies[p]: prep.times[p] for p in prep.fresh})
    return prep


def _unreadable(path: Path, exc: OSError) -> FileOutcome:
    if isinstance(exc, RefusedFile):  # a link, a FIFO, a device, too big: the reason is the verdict
        finding = UnreadableFile(exc.kind, **exc.params).finding()
        return FileOutcome(path, "failed", message=f"{exc.strerror}，未入库。", finding=finding)
    finding = UnreadableFile("cannot-open", error=exc.strerror or type(exc).__name__).finding()
    return FileOutcome(path, "failed", message=f"文件无法读取（{exc.strerror or exc}），未入库。", finding=finding)


def _record(
    home: Home,
    prep: _Prepared,
    validated: BatchResult,
    *,
    period: str,
    fault_hook: FaultHook | None,
    again: Recheck | None = None,
    history: Callable[[], tuple[Earlier, Peers]] | None = None,
    registry: pl.DataFrame | None = None,
) -> None:
    """The writer stage: cross-unit copies, the history stage, then ``write_batch``; fill the outcomes.

    ``history`` gives the units' returns of earlier periods and the period's
    stored rates (loaded once per run); ``registry`` places units among peers.
    """
    store = home.store
    # A file equal to one recorded by an earlier batch of this run (archived
    # before that batch was written): a duplicate, as the sequential intake says.
    known = home.store.known(period, (prep.archived[p].sha256 for p in prep.fresh), again=again)
    arrivals = []
    position: dict[int, int] = {}  # index in the batch's results -> index in arrivals
    for i, (path, result) in enumerate(zip(prep.fresh, validated.results, strict=True)):
        if prep.archived[path].sha256 in known:
            sid, version = known[prep.archived[path].sha256]
            prep.outcomes[path] = FileOutcome(path, "duplicate", submission_id=sid, version=version,
                                              message=DUPLICATE_MESSAGE)  # fmt: skip
            continue
        report = result.report
        report.file = path.name
        position[i] = len(arrivals)
        arrivals.append(
            Arrival(
                archived=prep.archived[path], file_name=path.name, received_at=prep.times[path],
                report=report, tables=None, report_type=result.report_type,
            )
        )  # fmt: skip
    if not arrivals:
        return
    ranks, pooled = _recording(arrivals, position, validated)
    _find_copies(home, validated, period=period, ranks=ranks, pooled=pooled)
    if history is not None:
        earlier, peers = history()
        find_history(validated.results, validated.tables, earlier=earlier, schema=load_schema(),
                     rules=home.config.history, peers=peers, registry=registry, ranks=ranks, pooled=pooled)  # fmt: skip
    cap = home.config.limits.max_findings_per_return
    for arrival in arrivals:  # after the copies and the history stage, which add findings: the ledger keeps
        cap_findings(arrival.report, limit=cap)  # the first ones and a count
    tables, texts = validated.tables, validated.texts
    if len(position) < len(validated.results):
        tables = {k: _reindex(f, position) for k, f in tables.items()}
        texts = _reindex(texts, position)
    written = store.write_batch(period, arrivals, ingested_at=home.now(), fault_hook=fault_hook, stacked=tables,
                                texts=texts, again=again)  # fmt: skip
    by_source = {o.archived.source: o for o in written}
    for arrival in arrivals:
        path = arrival.archived.source
        o = by_source[path]
        prep.outcomes[path] = FileOutcome(
            path, o.status, submission_id=o.submission_id, unit=arrival.report.unit,
            accepted=arrival.report.accepted, version=o.version,
            n_errors=arrival.report.n_errors, n_warnings=arrival.report.n_warnings,
            message=DUPLICATE_MESSAGE if o.status == "duplicate" else "", wrong_period=carried_period(arrival.report),
        )  # fmt: skip


def _recording(
    arrivals: Sequence[Arrival], position: Mapping[int, int], validated: BatchResult
) -> tuple[list[int], list[bool]]:
    """Per result: its rank in recording order, and whether it joins what later returns are compared with.

    As ``write_batch`` records them: a file recorded twice in one batch is
    recorded once (its first arrival); only accepted returns with a unit count.
    """
    rank = {i: r for r, i in enumerate(recording_order(arrivals))}
    first: set[str] = set()
    ranks, pooled = [len(arrivals)] * len(validated.results), [False] * len(validated.results)
    for i, p in position.items():
        ranks[i] = rank[p]
    for i in sorted(position, key=lambda i: ranks[i]):
        sha = arrivals[position[i]].archived.sha256
        report = validated.results[i].report
        pooled[i] = sha not in first and report.accepted and report.unit is not None
        first.add(sha)
    return ranks, pooled


def _find_copies(
    home: Home, validated: BatchResult, *, period: str, ranks: Sequence[int], pooled: Sequence[bool]
) -> None:
    """Cross-unit copies of the batch: against the texts stored for the period and the batch's own, in recording order.

    Each return is compared with what the store holds when it is recorded:
    the texts stored before this batch, then those of the batch's accepted
    returns recorded before it (a unit's newer accepted return replacing its
    older one), as ``write_batch`` records them. Stored texts are looked up by
    the batch's hashes (indexed), never by loading the period's whole table.
    """
    texts = validated.texts
    if texts.height == 0:
        return
    stored = home.store.texts(period, hashes=texts["hash"].unique().to_list())
    find_cross_unit_copies(validated.results, texts, period=period, schema=load_schema(), ranks=ranks,
                           pooled=pooled, stored=stored)  # fmt: skip


def _reindex(frame: pl.DataFrame, position: Mapping[int, int]) -> pl.DataFrame:
    """Rows of the results kept (``position``: old ``_i`` -> new), renumbered; the others dropped."""
    return frame.filter(pl.col(STACK_INDEX).is_in(list(position))).with_columns(
        pl.col(STACK_INDEX).replace_strict(dict(position), return_dtype=pl.Int32)
    )
