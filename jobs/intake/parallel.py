"""Intake over an executor: read+validate batches in parallel, one writer in order.

The same steps as :func:`jobs.intake.batch.ingest_paths`, pipelined:

1. main process, per batch, under the lock: archive every file, skip files
   already recorded (``Store.known``);
2. executor (process pool or Ray): :func:`validate_job` — the pure
   read+validate of the batch's archived copies; the returns' tables come
   back stacked per sheet with their copy-detection hashes
   (:class:`jobs.intake.batch.BatchResult`: a few frames to pickle, not thousands);
3. main process, in submission order, under the lock: ``Store.write_batch``
   (the single writer), then receipts.

Only ``executor.in_flight`` batches are between steps 1 and 3 at any time, so
memory does not grow with the number of files.

Copy detection must give what a one-batch-at-a-time intake gives: batch *k*
is compared with the texts stored when it is written, which include batches
*< k* of this very run — texts the workers cannot have. Workers therefore
validate without stored texts, recording what copy detection compared
(``BatchResult.copies``), and the writer looks up batch *k*'s own hashes in
the store (indexed). When another unit stored one of them, only
``copied-text`` findings can change: the writer redoes copy detection from
the texts alone (:func:`jobs.validate.recheck.recheck_copies`: no file read,
no GX in this process) and rebuilds the copy findings of the returns whose
marks change, in the validator's order. Without a usable record (a validator
double) those returns are validated again in full. The outcome is identical
to validating each batch with every stored text, whatever executor and workers.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from jobs.core.files import RefusedFile
from jobs.core.schema import load_schema
from jobs.intake.batch import (
    DUPLICATE_MESSAGE,
    TEXT_FRAME_SCHEMA,
    BatchResult,
    FileOutcome,
    IngestResult,
    Validator,
    arrival_times,
    expand_paths,
    issue_receipts,
    read_validate_batch,
    stack_results,
    stacked_text_hashes,
)
from jobs.intake.executors import Executor, batched
from jobs.intake.progress import Progress
from jobs.office.config import Limits
from jobs.office.home import Home, check_period
from jobs.store import STACK_INDEX, TEXT_SCHEMA, Archived, Arrival, FaultHook, fault

# What the writer did about stored copies, for the benchmark: batches whose
# copy findings were redone from the texts, and batches validated again in full.
WRITER_COUNTS: dict[str, int] = {"copy_rechecks": 0, "full_revalidations": 0}


@dataclass(frozen=True)
class BatchContext:
    """What every batch's validation needs; shipped to each worker once per run."""

    registry: pl.DataFrame
    period: str
    other_units_texts: pl.DataFrame | None
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
    """Pure: read and validate one batch; the results, their tables stacked and their copy-detection hashes.

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
    from jobs.validate.copies import collect_copies

    with collect_copies() as calls:
        results = read_validate_batch(
            list(paths),
            registry=context.registry,
            period=context.period,
            received_at=received_at,
            other_units_texts=context.other_units_texts,
            validator=context.validator,
            limits=context.limits,
        )
    # With a record of the validator's copy detection, the batch's texts come
    # from it (proved against the tables) instead of folding every text again.
    batch = stack_results(results, hash_texts=not calls)
    if calls:
        from jobs.validate.recheck import batch_copy_state, batch_copy_texts

        schema = load_schema()
        proved = batch_copy_texts(calls, results=batch.results, readable=batch.readable, tables=batch.tables,
                                  schema=schema)  # fmt: skip
        if proved is not None:
            batch.copies, texts = proved
            batch.texts = texts.cast(TEXT_FRAME_SCHEMA)
        else:
            batch.texts = stacked_text_hashes(batch.tables, units=[r.report.unit for r in batch.results], schema=schema)
            batch.copies = batch_copy_state(calls, results=batch.results, readable=batch.readable, texts=batch.texts,
                                            schema=schema)  # fmt: skip
    return batch


def ingest_with_executor(
    home: Home,
    paths: Iterable[str | Path],
    *,
    period: str,
    executor: Executor,
    received_at: datetime | None = None,
    validator: Validator | None = None,
    batch_size: int | None = None,
    receipts: bool = True,
    holder: str = "rectify ingest",
    fault_hook: FaultHook | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Archive, validate (on ``executor``) and record files for ``period``.

    Same contract and results as :func:`jobs.intake.batch.ingest_paths`. ``progress``
    is advanced by the number of files of each recorded batch.
    """
    check_period(period)
    files = expand_paths(paths)
    registry = home.registry(period)
    size = batch_size or home.config.limits.batch_size
    store = home.store
    with home.lock(holder=holder):
        store.cleanup()
    # Workers see no stored texts: the writer validates again the few returns
    # that stored copies concern (see _revalidate_if_stale); shipping the
    # period's texts would cost memory growing with the store.
    context = BatchContext(
        registry=registry, period=period, other_units_texts=None, validator=validator, limits=home.config.limits
    )
    result = IngestResult(period=period)
    prepared: deque[_Prepared] = deque()

    def jobs() -> Iterator[tuple[list[Path], dict[Path, datetime]]]:
        # Pulled by the executor only as fast as batches complete: archiving
        # runs at most ``in_flight`` batches ahead of the writer.
        for batch in batched(files, size):
            with home.lock(holder=holder):
                prep = _prepare(home, batch, period=period, received_at=received_at, fault_hook=fault_hook)
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
                validated = _revalidate_if_stale(home, prep, validated, context=context)
                _record(home, prep, validated, period=period, fault_hook=fault_hook)
        outcomes = [prep.outcomes[p] for p in prep.batch if p in prep.outcomes]
        todo = [o for o in outcomes if o.submission_id is not None] if receipts else []
        if todo and executor.shares_files:
            # receipts are written by the workers from the committed
            # ledger, so this process, the one writer, does not cap throughput
            pending_receipts.append((todo, executor.submit(receipt_job, todo, context=(str(home.root), period))))
        elif todo:
            for outcome, path in zip(todo, issue_receipts(home, todo, period=period), strict=True):
                outcome.receipt = path
        result.files.extend(outcomes)
        if progress is not None:
            progress.advance(len(prep.batch))

    pending_receipts: list[tuple[list[FileOutcome], Any]] = []
    for validated in executor.map(validate_job, jobs(), context=context):
        # batches with nothing to validate (all duplicates or unreadable) have no job
        while prepared and prepared[0].job is None:
            record(prepared.popleft(), None)
        record(prepared.popleft(), validated)
    while prepared:
        record(prepared.popleft(), None)
    for todo, pending in pending_receipts:
        for outcome, path in zip(todo, pending.result(), strict=True):
            outcome.receipt = path
    return result


def receipt_job(context: tuple[str, str], outcomes: Sequence[FileOutcome]) -> list[Path]:
    """Write the receipts of recorded files (from the ledger); ``context`` is ``(home root, period)``."""
    root, period = context
    home = Home(root)
    return issue_receipts(home, outcomes, period=period)


def _prepare(
    home: Home, batch: list[Path], *, period: str, received_at: datetime | None, fault_hook: FaultHook | None
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
    known = store.known(period, (a.sha256 for a in prep.archived.values()))
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
        return FileOutcome(path, "failed", message=f"{exc.strerror}，未入库。")
    return FileOutcome(path, "failed", message=f"文件无法读取（{exc.strerror or exc}），未入库。")


def _revalidate_if_stale(home: Home, prep: _Prepared, validated: BatchResult, *, context: BatchContext) -> BatchResult:
    """Bring the batch's copy findings up to date with the texts other units stored since the run began.

    The workers validated with no stored texts. A stored text changes a
    return's verdict only if another unit stored it (a copy) and the return
    carries the same hash. Normally the copy findings are redone from the
    texts (``validated.copies``, see :mod:`jobs.validate.recheck`), which also
    keeps returns naming another period compared only among themselves.
    Without that record, the returns carrying such a text are validated
    again in full, with the stored matches plus the rest of the batch's texts
    standing in for the batch they were validated with (the copy groups come
    out the same); returns that name another period join them, since a
    stand-in cannot express their comparison.
    """
    if prep.job is None:  # pragma: no cover - only batches with a job are validated
        return validated
    batch = validated.texts
    if batch.height == 0:
        return validated
    current = home.store.texts(context.period, hashes=batch["hash"].unique().to_list())
    if current.height == 0:
        return validated
    carried = batch.filter(pl.col("unit").is_not_null()).select("unit", "hash").unique()
    copied = (
        current.select("unit", "hash").unique()
        .join(carried, on="hash", suffix="_batch")
        .filter(pl.col("unit") != pl.col("unit_batch"))["hash"].unique()
    )  # fmt: skip
    if copied.len() == 0:
        return validated
    if validated.copies is not None:
        from jobs.validate.recheck import recheck_copies

        # Only copied-text findings can change: redone from the texts, no file read, no GX.
        if recheck_copies(validated.results, validated.copies, stored=current, period=context.period,
                          schema=load_schema()) is not None:  # fmt: skip
            WRITER_COUNTS["copy_rechecks"] += 1
            return validated
    WRITER_COUNTS["full_revalidations"] += 1
    elsewhere = {i for i, r in enumerate(validated.results) if r.report.period not in (None, context.period)}
    again = sorted(set(batch.filter(pl.col("hash").is_in(copied.implode()))[STACK_INDEX].to_list()) | elsewhere)
    paths, received = prep.job
    if len(again) == len(paths):
        return validate_job(replace(context, other_units_texts=current), prep.job)
    rest = batch.filter(~pl.col(STACK_INDEX).is_in(again) & pl.col("unit").is_not_null()).select(list(TEXT_SCHEMA))
    stand_in = pl.concat([current, rest.cast(TEXT_SCHEMA)])
    subset = [paths[i] for i in again]
    redone = validate_job(
        replace(context, other_units_texts=stand_in),
        (subset, {p: received[p] for p in subset}),
    )
    return _merge(validated, redone, again)


def _merge(validated: BatchResult, redone: BatchResult, again: Sequence[int]) -> BatchResult:
    """``validated`` with the results at positions ``again`` replaced by ``redone``'s (in that order)."""
    results, readable = list(validated.results), list(validated.readable)
    for k, i in enumerate(again):
        results[i], readable[i] = redone.results[k], redone.readable[k]
    drop = pl.col(STACK_INDEX).is_in(list(again))
    back = pl.col(STACK_INDEX).replace_strict(dict(enumerate(again)), return_dtype=pl.Int32)

    def merged(old: pl.DataFrame | None, new: pl.DataFrame | None) -> pl.DataFrame | None:
        parts = [f for f in (old.filter(~drop) if old is not None else None,
                             new.with_columns(back) if new is not None else None) if f is not None]  # fmt: skip
        return pl.concat(parts) if parts else None

    tables = {}
    for key in dict.fromkeys([*validated.tables, *redone.tables]):
        frame = merged(validated.tables.get(key), redone.tables.get(key))
        if frame is not None:
            tables[key] = frame
    texts = merged(validated.texts, redone.texts)
    return BatchResult(results=results, readable=readable, tables=tables, texts=texts)


def _record(
    home: Home,
    prep: _Prepared,
    validated: BatchResult,
    *,
    period: str,
    fault_hook: FaultHook | None,
) -> None:
    """Record the batch through the single writer; fill the outcomes (as jobs.intake.batch does)."""
    store = home.store
    # A file equal to one recorded by an earlier batch of this run (archived
    # before that batch was written): a duplicate, as the sequential intake says.
    known = store.known(period, (prep.archived[p].sha256 for p in prep.fresh))
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
    tables, texts = validated.tables, validated.texts
    if len(position) < len(validated.results):
        tables = {k: _reindex(f, position) for k, f in tables.items()}
        texts = _reindex(texts, position)
    written = store.write_batch(period, arrivals, ingested_at=home.now(), fault_hook=fault_hook, stacked=tables,
                                texts=texts)  # fmt: skip
    by_source = {o.archived.source: o for o in written}
    for arrival in arrivals:
        path = arrival.archived.source
        o = by_source[path]
        prep.outcomes[path] = FileOutcome(
            path, o.status, submission_id=o.submission_id, unit=arrival.report.unit,
            accepted=arrival.report.accepted, version=o.version,
            n_errors=len(arrival.report.errors), n_warnings=len(arrival.report.warnings),
            message=DUPLICATE_MESSAGE if o.status == "duplicate" else "",
        )  # fmt: skip


def _reindex(frame: pl.DataFrame, position: Mapping[int, int]) -> pl.DataFrame:
    """Rows of the results kept (``position``: old ``_i`` -> new), renumbered; the others dropped."""
    return frame.filter(pl.col(STACK_INDEX).is_in(list(position))).with_columns(
        pl.col(STACK_INDEX).replace_strict(dict(position), return_dtype=pl.Int32)
    )
