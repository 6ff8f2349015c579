"""Intake's pieces: one batch's pure validation step, outcomes and receipts (files come from :mod:`jobs.intake.discover`).

- :func:`read_validate_batch` — pure (no store access): paths in,
  :class:`BatchResult` out (per-file verdicts, tables stacked, text hashes);
- :class:`FileOutcome` / :class:`IngestResult` — what intake did with each file;
- :func:`issue_receipts` — receipts from the ledger;
- :func:`verdicts` — the JSON Lines objects of ``ingest --json`` (from the ledger).

:func:`jobs.intake.parallel.ingest_paths` wires them into the one pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from jobs.core.excel_safe import joined_filename
from jobs.core.files import atomic_write
from jobs.core.findings import Finding, Report
from jobs.core.names import display_name
from jobs.core.schema import Schema, load_schema
from jobs.core.tables import table_keys, table_schema
from jobs.intake.discover import arrival_time
from jobs.intake.hints import PeriodHint
from jobs.office.config import Limits
from jobs.office.home import Home
from jobs.store import STACK_INDEX, TEXT_SCHEMA
from jobs.store.writer import stack_frames

# jobs.validate.validate_batch, or a test double returning one result per path
# (its texts are then hashed from the results' tables)
Validator = Callable[..., Any]

log = logging.getLogger(__name__)

DUPLICATE_MESSAGE = "相同文件此前已收到，未重复入库。"


def text_hashes(tables: Mapping[str, pl.DataFrame] | None, *, unit: str | None) -> pl.DataFrame:
    """Copy-detection rows (``unit, sheet, row, column, hash``) of one accepted return.

    Hashed by the validator's own :func:`jobs.validate.copy_texts`, so later
    batches compare against exactly what the validator computes.
    """
    if not tables:
        return pl.DataFrame(schema=TEXT_SCHEMA)
    # the validator loads late: commands start fast
    from jobs.validate.copies import copy_texts

    frame = copy_texts(tables, schema=load_schema())
    return frame.with_columns(pl.lit(unit, pl.Utf8).alias("unit")).select(list(TEXT_SCHEMA)).cast(TEXT_SCHEMA)


def default_validator() -> Validator:
    """The project's per-file validator (GX is imported when it first runs)."""
    from jobs.validate import validate_batch

    return validate_batch


def read_validate_batch(
    paths: Sequence[Path],
    *,
    registry: pl.DataFrame,
    period: str,
    received_at: Mapping[Path, datetime],
    validator: Validator | None = None,
    limits: Limits | None = None,
) -> BatchResult:
    """Read and validate a batch of files (pure: no store access): per-file checks, one result per path.

    Cross-unit copies are not looked for here: intake's writer does that over
    the batch's text hashes (:mod:`jobs.validate.cross_units`).

    ``limits`` is the office's ``[limits]`` (``home.config.limits``); its file
    limits (size, ratio, rows ...) bound what preflight lets through.
    """
    validate = validator or default_validator()
    options: dict[str, Any] = {} if limits is None else {"limits": limits}
    out = validate(list(paths), registry=registry, period=period, received_at=dict(received_at), **options)
    if isinstance(out, list):
        return stack_results(out)
    return stack_results(out.results, texts=out.texts)


@dataclass
class BatchResult:
    """One batch's validation as a worker sends it back: a few frames, not thousands.

    ``results`` are the validator's verdicts, one per path, with their
    ``tables`` moved out (``None``); ``readable[i]`` says whether result *i*
    had tables. ``tables`` stacks every readable return's tables per sheet key
    (stored layout plus ``_i``, the result's index) and ``texts`` their
    copy-detection hashes (``BATCH_TEXTS_SCHEMA``: ``_i`` + ``unit, sheet,
    row, column, hash, col``), which the writer compares across units.
    Pickling ~3,000 small frames per batch cost ~0.9 ms per file; per-file
    frame operations in the writer another ~2.4 ms.
    """

    results: list[Any]
    readable: list[bool]
    tables: dict[str, pl.DataFrame]
    texts: pl.DataFrame


def stack_results(
    results: Sequence[Any], *, texts: pl.DataFrame | None = None, schema: Schema | None = None
) -> BatchResult:
    """Move the results' tables into one frame per sheet key (see :class:`BatchResult`).

    ``texts`` are the validator's text hashes; without them (a validator
    double) the stacked tables are hashed.
    """
    schema = schema or load_schema()
    tables = _stack_tables(results, schema=schema)
    readable = [r.tables is not None for r in results]
    if texts is None:
        texts = stacked_text_hashes(tables, units=[r.report.unit for r in results], schema=schema)
    for r in results:
        try:
            r.tables = None  # sent back once, stacked
        except AttributeError:  # a frozen result (a validator double): keep it, only bigger to pickle
            pass
    return BatchResult(results=list(results), readable=readable, tables=tables, texts=texts)


def _stack_tables(results: Sequence[Any], *, schema: Schema) -> dict[str, pl.DataFrame]:
    tables: dict[str, pl.DataFrame] = {}
    for key in table_keys(schema=schema):
        frame = stack_frames({i: r.tables.get(key) for i, r in enumerate(results) if r.tables},
                             table_schema(key, schema=schema))  # fmt: skip
        if frame is not None:
            tables[key] = frame
    return tables


def stacked_text_hashes(
    tables: Mapping[str, pl.DataFrame], *, units: Sequence[str | None], schema: Schema | None = None
) -> pl.DataFrame:
    """Copy-detection hashes (``BATCH_TEXTS_SCHEMA``, ``col`` unknown) of stacked tables, as :func:`text_hashes` gives them per return.

    ``units[i]`` is the unit of the return whose rows carry ``_i == i``. One
    Polars pass over the batch: hashing per return cost ~2.5 ms per file.
    """
    from jobs.validate.copies import BATCH_TEXTS_SCHEMA, long_texts
    from jobs.validate.typing import RID, ROW, raw

    schema = schema or load_schema()
    out_schema = BATCH_TEXTS_SCHEMA
    checked: dict[str, list[str]] = {}
    for sheet in schema.sheets:
        for col in sheet.columns:
            if sheet.layout == "table" and col.substance and col.substance in schema.substance.copy_checked:
                checked.setdefault(sheet.key, []).append(col.key)
    frames: dict[str, pl.DataFrame] = {}
    for sheet_key, keys in checked.items():
        table = tables.get(sheet_key)
        present = [k for k in keys if table is not None and k in table.columns]
        if table is None or not present or table.height == 0:
            continue
        frames[sheet_key] = table.select(
            pl.col(STACK_INDEX).cast(pl.Int32).alias(RID), pl.col("row").cast(pl.Int32).alias(ROW),
            *[pl.col(k).cast(pl.Utf8).alias(raw(k)) for k in present],
        )  # fmt: skip
    if not frames:
        return pl.DataFrame(schema=out_schema)
    long = long_texts(frames, schema=schema)
    names = {s.key: s.name for s in schema.sheets}
    who = pl.DataFrame({RID: range(len(units)), "unit": list(units)}, schema={RID: pl.Int32, "unit": pl.Utf8})
    return long.join(who, on=RID, how="left").select(
        pl.col(RID).alias(STACK_INDEX),
        pl.col("unit"),
        pl.col("sheet").replace_strict(names, return_dtype=pl.Utf8),
        pl.col(ROW).alias("row"),
        pl.col("column"),
        pl.col("hash"),
        pl.lit(None, pl.Int32).alias("col"),
    ).cast(out_schema)


def batch_text_hashes(results: Sequence[Any], *, schema: Schema | None = None) -> list[pl.DataFrame | None]:
    """:func:`jobs.intake.batch.text_hashes` of every result at once (same rows, same order; ``None`` if unreadable)."""
    schema = schema or load_schema()
    tables = _stack_tables(results, schema=schema)
    texts = stacked_text_hashes(tables, units=[r.report.unit for r in results], schema=schema)
    parts = texts.drop("col").partition_by(STACK_INDEX, as_dict=True, maintain_order=True, include_key=False)
    empty = pl.DataFrame(schema=TEXT_SCHEMA)
    return [None if not r.tables else parts.get((i,), empty) for i, r in enumerate(results)]


@dataclass(slots=True)  # one per received file: national runs hold ~700k of them
class FileOutcome:
    """What intake did with one file (``status``: stored, duplicate or failed)."""

    path: Path
    status: str
    submission_id: str | None = None
    unit: str | None = None
    accepted: bool | None = None
    version: int | None = None
    n_errors: int = 0
    n_warnings: int = 0
    receipt: Path | None = None
    message: str = ""
    # a failed file's verdict (its one unreadable-file finding): it has no ledger row
    finding: Finding | None = None
    receipt_error: str = ""  # why its receipt could not be written (Chinese); the next run writes it
    # rejected for another 报送期: the one it carries (its receipt may be held: jobs.intake.hints)
    wrong_period: str | None = None


@dataclass
class IngestResult:
    period: str
    files: list[FileOutcome] = field(default_factory=list)
    period_hint: PeriodHint | None = None  # most files carry another period: say so first (jobs.intake.hints)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rejected(self) -> int:
        return sum(1 for f in self.files if f.status == "stored" and f.accepted is False)


def arrival_times(home: Home, paths: Iterable[Path], *, received_at: datetime | None = None) -> dict[Path, datetime]:
    """Arrival time per file: ``received_at`` if given, else the mtime in the office's time zone."""
    if received_at is not None:
        local = received_at.astimezone(home.config.tz).replace(tzinfo=None) if received_at.tzinfo else received_at
        return {p: local for p in paths}
    tz = home.config.tz
    return {p: arrival_time(p, timezone=tz) for p in paths}


def _receipt_in(outbox: Path, *, unit: str | None, file_name: str, sha256: str, ext: str, again: str = "") -> Path:
    """``<outbox>/<unit>_<stem>_<sha8>.<ext>``: unit and stem are cut so the name stays within
    :data:`jobs.core.excel_safe.MAX_NAME_BYTES`; the content hash keeps it unique. A file
    re-judged on purpose (``again``: ``r2`` ...) gets its own: ``_<sha8>-r2.<ext>``."""
    tail = f"_{sha256[:8]}{'-' + again if again else ''}.{ext}"
    return outbox / joined_filename(unit or "未识别单位", Path(file_name).stem, tail=tail)


@dataclass(frozen=True)
class ReceiptNotWritten:
    """A receipt that could not be written: where it should be and why (Chinese)."""

    path: Path
    reason: str


def issue_receipt(home: Home, outcome: FileOutcome, *, period: str) -> Path | ReceiptNotWritten:
    """Write the receipt of a recorded file from the ledger (skipped if it already exists).

    Format from config ``receipts.format`` (``xlsx`` or ``html``); written
    temp + rename so a unit never gets half a receipt.
    """
    return issue_receipts(home, [outcome], period=period)[0]


def issue_receipts(home: Home, outcomes: Sequence[FileOutcome], *, period: str) -> list[Path | ReceiptNotWritten]:
    """:func:`issue_receipt` for many recorded files, their verdicts read from the ledger at once.

    The ledger is committed before receipts are written and a missing
    receipt is written by the next run, so a receipt that fails (a full
    disk, a read-only outbox, a writer error on odd content) is reported as
    :class:`ReceiptNotWritten` and never stops the others or the intake.
    """
    from jobs.intake.receipts import ledger_facts, write_receipt

    fmt = home.config.receipts.format
    ids = [o.submission_id for o in outcomes]
    reports = home.store.reports(ids)
    facts = ledger_facts(home, ids, reports, period=period)
    outbox = home.outbox(period)  # once per batch: config lookups and a mkdir per file cost ~0.3 ms
    made = False
    paths: list[Path | ReceiptNotWritten] = []
    for outcome, report, known in zip(outcomes, reports, facts, strict=True):
        # <period>-<sha[:20]>, or <period>-<sha[:20]>-r<n> for a re-judged file (jobs.store.rechecks)
        sha, _, again = outcome.submission_id.removeprefix(f"{period}-").partition("-")
        path = _receipt_in(outbox, unit=report.unit, file_name=report.file, sha256=sha, ext=fmt, again=again)
        try:
            if not path.is_file():
                if not made:
                    outbox.mkdir(parents=True, exist_ok=True)
                    made = True
                # not fsynced: a receipt lost in a crash is issued again from the ledger
                atomic_write(path, partial(write_receipt, report, fmt=fmt, facts=known), durable=False)
        except Exception as exc:  # noqa: BLE001 - one receipt must not cost the others theirs
            log.warning("receipt %s not written", path, exc_info=True)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
            paths.append(ReceiptNotWritten(path, f"回执未能写入（{reason}），下次运行时补发"))
            continue
        paths.append(path)
    return paths


def verdicts(home: Home, outcomes: Sequence[FileOutcome]) -> list[dict[str, Any]]:
    """One JSON object per file handled, as ``rectify validate --json`` prints it, plus ``version`` and ``stored``.

    A recorded file's verdict is read from the ledger, as its receipt is (a
    duplicate's is that of the version stored before); a file that could not be
    read or archived has its ``unreadable-file`` finding, no version, and
    ``stored`` false. ``file`` is the path handled, as ``validate`` prints it.
    """
    ids = list(dict.fromkeys(o.submission_id for o in outcomes if o.submission_id is not None))
    recorded = dict(zip(ids, home.store.reports(ids), strict=True)) if ids else {}
    out = []
    for outcome in outcomes:
        if outcome.submission_id is not None:
            stored = recorded[outcome.submission_id]
            report = Report(file=display_name(str(outcome.path)), unit=stored.unit, period=stored.period,
                            findings=stored.findings, more_errors=stored.more_errors, more_warnings=stored.more_warnings)
        else:
            report = Report(file=display_name(str(outcome.path)), findings=[outcome.finding] if outcome.finding else [])
        report.stats = {"n_errors": report.n_errors, "n_warnings": report.n_warnings}
        out.append({**report.to_dict(), "version": outcome.version, "stored": outcome.status == "stored"})
    return out
