"""Wiring: read -> structure -> typed frames -> one GX run per frame -> findings -> reports.

:func:`validate_batch` runs the per-file checks and returns the batch's text
hashes; :func:`validate_files` adds the cross-unit copy stage over the files
it is given (:mod:`jobs.validate.cross_units`; intake runs that stage in its
writer instead, against the texts stored earlier too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from jobs.core.errors import UnreadableFile
from jobs.core.files import open_regular
from jobs.core.findings import Finding, Report, cap_findings, in_place_order
from jobs.core.schema import Schema, load_schema
from jobs.core.tables import ROW_COLUMN, table_keys, table_schema
from jobs.intake.discover import arrival_time
from jobs.intake.read import RawReturn, read_return
from jobs.office.config import History, Limits
from jobs.process import keep_long_lived, settled_heap
from jobs.validate import derive, facts, gx, suites
from jobs.validate.copies import BATCH_TEXTS_SCHEMA, detect_repeats
from jobs.validate.cross_units import find_cross_unit_copies
from jobs.validate.history import find_history, stack
from jobs.validate.lifecycle import Earlier
from jobs.validate.peers import Peers
from jobs.validate.structural import locations, structural_findings
from jobs.validate.translate import cut_cascades, translate
from jobs.validate.typing import RID, ROW, stack_keyvalue, stack_table, type_columns

LOG = logging.getLogger(__name__)
_REFREEZE = 200  # read returns between two keep_long_lived() calls (see jobs.process)
TIMINGS: dict[str, float] = {"read": 0.0, "prepare": 0.0, "translate": 0.0}  # seconds, for the benchmark


@dataclass
class ValidatedReturn:
    """The verdict on one file and, when readable, its typed tables (jobs.core.tables layouts;
    empty when the caller did not keep them, ``None`` when the file was unreadable)."""

    report: Report
    tables: dict[str, pl.DataFrame] | None
    content_hash: str
    report_type: str | None
    # per sheet key: header (or item) -> 0-based source column, to name a later finding's cell
    columns: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class ValidatedBatch:
    """Per-file verdicts and the batch's copy-checked text hashes (``BATCH_TEXTS_SCHEMA``, ``_i`` indexes ``results``)."""

    results: list[ValidatedReturn]
    texts: pl.DataFrame


def _arrival(path: Path, received_at: Mapping[Path, dt.datetime] | None) -> dt.datetime | None:
    given = (received_at or {}).get(path)
    if given is not None:
        return given
    try:
        return arrival_time(path)
    except OSError:  # gone since it was read: the read already failed
        return None


def _sha256(path: Path, *, max_mb: float) -> str:
    """The hash of a file the reader refused; empty for a link, FIFO, device or a file over the limit
    (hashing a 2 GB file cost 14 s of CPU)."""
    try:
        with open_regular(path, max_mb=max_mb) as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return ""


def _read(path: Path, schema: Schema, limits: Limits | None = None) -> RawReturn:
    try:
        return read_return(path, schema=schema, limits=limits, clean=False)
    except UnreadableFile:
        raise
    except BaseException as exc:  # a calamine panic derives from BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise UnreadableFile("corrupt") from exc


def warm_up(*, schema: Schema | None = None) -> None:
    """Pay GX's import and suite building up front (a watching process does it once, not on the first file)."""
    gx.warm_up(suites.all_checks(schema or load_schema()))


def validate_files(
    paths: Iterable[str | Path],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Mapping[Path, dt.datetime] | None = None,
    schema: Schema | None = None,
    limits: Limits | None = None,
    keep_tables: bool = True,
    earlier: Earlier | None = None,
    rules: History | None = None,
    peers: Peers | None = None,
) -> list[ValidatedReturn]:
    """:func:`validate_batch`, then cross-unit copies among these files (all compared at once),
    then, given the units' ``earlier`` returns (a home's store), the history stage (``rules``: ``[history]``;
    ``peers``: the period's stored rates, each file also compared with the others)."""
    schema = schema or load_schema()
    batch = validate_batch(paths, registry=registry, period=period, received_at=received_at, schema=schema,
                           limits=limits, keep_tables=keep_tables or earlier is not None)  # fmt: skip
    find_cross_unit_copies(batch.results, batch.texts, period=period, schema=schema)
    if earlier is not None:
        tables = [r.tables for r in batch.results]
        stacked = {key: frame for key in table_keys(schema=schema) if (frame := stack(tables, key)) is not None}
        find_history(batch.results, stacked, earlier=earlier, schema=schema, rules=rules or History(), peers=peers,
                     registry=registry)  # fmt: skip
        if not keep_tables:
            for r in batch.results:
                r.tables = {} if r.tables is not None else None
    cap = (limits or Limits()).max_findings_per_return
    for result in batch.results:  # the verdict intake records, capped the same way
        cap_findings(result.report, limit=cap, schema=schema)
    return batch.results


def validate_batch(
    paths: Iterable[str | Path],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Mapping[Path, dt.datetime] | None = None,
    schema: Schema | None = None,
    limits: Limits | None = None,
    keep_tables: bool = True,
) -> ValidatedBatch:
    """Read and validate many returns in one GX run (per-file checks); one result per path, in order.

    Parameters
    ----------
    paths
        Received files.
    registry
        The registry frame (jobs.office.registry); None skips the registry rules.
    period
        The period being collected (``YYYY-MM``); None skips ``wrong-period``.
    received_at
        Arrival time per path; default the file's modification time.
    limits
        ``jobs.intake.preflight.Limits`` for received files (the office's ``[limits]``);
        default the built-in limits.
    keep_tables
        False when only the verdicts are wanted (``rectify validate``): splitting
        the batch's typed frames into per-return tables is then skipped.
    """
    schema = schema or load_schema()
    paths = [Path(p) for p in paths]
    with settled_heap():
        return _validate_files(paths, registry=registry, period=period, received_at=received_at, schema=schema,
                               limits=limits, keep_tables=keep_tables)


def _validate_files(
    paths: list[Path],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Mapping[Path, dt.datetime] | None,
    schema: Schema,
    limits: Limits | None,
    keep_tables: bool,
) -> ValidatedBatch:
    raws: list[RawReturn | UnreadableFile] = []
    started = time.perf_counter()
    for n, path in enumerate(paths, start=1):
        try:
            raws.append(_read(path, schema, limits))
        except UnreadableFile as exc:
            raws.append(exc)
        if n % _REFREEZE == 0:
            keep_long_lived()  # the returns read so far are long-lived: no full pass need walk them again
    TIMINGS["read"] += time.perf_counter() - started
    arrivals = {p: _arrival(p, received_at) for p in paths}
    # 汇总 returns (报表类型 = 汇总, from `rectify summarize --export-summary`) have
    # their own layout: the roll-up area checks them and keeps their counts.
    from jobs.rollup.federation import summary_report_type
    from jobs.rollup.summary_return import check_summary_return, is_summary_return

    summaries = {i for i, r in enumerate(raws) if not isinstance(r, BaseException) and is_summary_return(r, schema=schema)}
    readable = [(i, r) for i, r in enumerate(raws) if not isinstance(r, BaseException) and i not in summaries]
    options = {"registry": registry, "period": period, "schema": schema, "keep_tables": keep_tables,
               "max_count": (limits or Limits()).max_count}
    texts: list[pl.DataFrame] = []
    try:
        checked = validate_returns([r for _, r in readable], received_at=[arrivals[paths[i]] for i, _ in readable],
                                   **options)  # fmt: skip
        results: list[ValidatedReturn | None] = list(checked.results)
        texts.append(_renumbered(checked.texts, [i for i, _ in readable]))
    except Exception:
        # A bug must not cost the office the whole batch: validate one by one,
        # and turn a return that still fails into a clean finding.
        LOG.exception("batch validation failed; validating %d returns one by one", len(readable))
        results = []
        texts = []
        for i, raw_ in readable:
            try:
                one = validate_returns([raw_], received_at=[arrivals[paths[i]]], **options)
                results += one.results
                texts.append(_renumbered(one.texts, [i]))
            except Exception:
                LOG.exception("validation of %s failed", paths[i])
                raws[i] = UnreadableFile("internal-failure")
                results.append(None)
    by_index = {i: r for (i, _), r in zip(readable, results, strict=True) if r is not None}
    for i in summaries:
        try:
            report, tables = check_summary_return(raws[i], registry=registry, period=period, schema=schema)
        except Exception:
            LOG.exception("checking the 汇总 return %s failed", paths[i])
            raws[i] = UnreadableFile("internal-failure")
            continue
        by_index[i] = ValidatedReturn(report, tables, "", summary_report_type(schema))
    out = []
    max_mb = (limits or Limits()).max_file_mb
    for i, (path, raw_) in enumerate(zip(paths, raws, strict=True)):
        result = by_index.get(i)
        if result is None:
            failure = raw_ if isinstance(raw_, UnreadableFile) else UnreadableFile("internal-failure")
            finding = failure.finding(schema=schema)
            result = ValidatedReturn(Report(file=str(path), findings=[finding],
                                            stats={"rows": {}, "n_errors": 1, "n_warnings": 0}), None, "", None)
        # the reader hashed the bytes it read; a file it could not read is read again
        result.content_hash = getattr(raw_, "content_hash", None) or _sha256(path, max_mb=max_mb)
        out.append(result)
    return ValidatedBatch(out, pl.concat(texts) if texts else pl.DataFrame(schema=BATCH_TEXTS_SCHEMA))


def _renumbered(texts: pl.DataFrame, indices: list[int]) -> pl.DataFrame:
    """``texts`` of returns validated together, ``_i`` mapped from their place in that call to ``indices``."""
    return texts.with_columns(
        pl.col("_i").replace_strict(range(len(indices)), indices, return_dtype=pl.Int32)
    )


def validate_returns(
    returns: Sequence[RawReturn],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Sequence[dt.datetime | None] | None = None,
    schema: Schema | None = None,
    keep_tables: bool = True,
    max_count: int = Limits().max_count,
) -> ValidatedBatch:
    """Validate already-read returns (``RawReturn``) together; see :func:`validate_batch`.

    ``max_count`` is the largest count a return may state (``[limits] max_count``).
    """
    schema = schema or load_schema()
    with settled_heap():
        return _validate_returns(returns, registry=registry, period=period, received_at=received_at,
                                 schema=schema, keep_tables=keep_tables, max_count=max_count)


def _validate_returns(
    returns: Sequence[RawReturn],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Sequence[dt.datetime | None] | None,
    schema: Schema,
    keep_tables: bool,
    max_count: int,
) -> ValidatedBatch:
    started = time.perf_counter()
    numbered = list(enumerate(returns))
    where = {rid: locations(ret, schema=schema) for rid, ret in numbered}
    locs: dict[str, dict[int, dict[str, int]]] = {}
    for rid, per_sheet in where.items():
        for key, cols in per_sheet.items():
            locs.setdefault(key, {})[rid] = cols
    frames = _typed_frames(numbered, schema=schema, max_count=max_count)
    arrival = {rid: at.date() for rid, at in enumerate(received_at or []) if at is not None}
    frames["info"] = derive.with_registry(frames["info"], registry=registry, period=period, arrival=arrival)
    for sheet in schema.sheets:
        if sheet.layout == "table":
            frames[sheet.key] = derive.with_filled_on(frames[sheet.key], frames["info"], sheet_key=sheet.key)
            for col in sheet.columns:
                if col.unique:
                    frames[sheet.key] = derive.mark_duplicates(frames[sheet.key], col.key)
    frames["tasks"] = derive.with_catalogue(derive.mark_duplicates(frames["tasks"], suites.TASK_NO), schema=schema)
    repeats, texts = detect_repeats(frames, units=frames["info"].select(RID, pl.col("unit_code").alias("unit")),
                                    locs=locs, schema=schema)  # fmt: skip
    frames.update(repeats)
    frames[suites.FACTS_TASKS] = facts.task_facts(frames["tasks"], locs, schema=schema)
    frames[suites.FACTS_ACCOUNTABILITY] = facts.accountability_facts(frames["accountability"], schema=schema)
    frames[suites.FACTS_RETURNS] = facts.return_facts(
        [rid for rid, _ in numbered], info=frames["info"], ledger=frames["ledger"], members=frames["members"],
        locs=locs, schema=schema,
    )
    checks = suites.all_checks(schema)
    TIMINGS["prepare"] += time.perf_counter() - started
    positions = gx.failing_positions(frames, checks)
    started = time.perf_counter()
    found = translate(frames, checks, positions, locs=locs, schema=schema)
    results = _results(numbered, frames, found, where, schema=schema, keep_tables=keep_tables)
    TIMINGS["translate"] += time.perf_counter() - started
    return ValidatedBatch(results, texts)


def _typed_frames(numbered: list[tuple[int, RawReturn]], *, schema: Schema, max_count: int) -> dict[str, pl.DataFrame]:
    frames = {}
    for sheet in schema.sheets:
        stacked = stack_keyvalue(numbered, sheet) if sheet.layout == "keyvalue" else stack_table(numbered, sheet)
        frames[sheet.key] = type_columns(stacked, sheet, schema=schema, max_count=max_count)
    return frames


def _tables(frames: Mapping[str, pl.DataFrame], units: pl.DataFrame, *, schema: Schema) -> dict[int, dict[str, pl.DataFrame]]:
    """Split the typed frames into per-return tables in the stored layout."""
    out: dict[int, dict[str, pl.DataFrame]] = {}
    for sheet in schema.sheets:
        layout = table_schema(sheet.key, schema=schema)
        frame = frames[sheet.key].join(units, on=RID, how="left").with_columns(
            pl.lit(None, pl.Utf8).alias("submission_id"),
            *([pl.col(ROW).alias(ROW_COLUMN)] if ROW_COLUMN in layout else []),
        )
        typed = frame.select(RID, *[pl.col(c).cast(t) for c, t in layout.items()])
        parts = typed.partition_by(RID, as_dict=True, maintain_order=True, include_key=False)
        for (rid,), part in parts.items():
            out.setdefault(rid, {})[sheet.key] = part
    return out


def _results(
    numbered: list[tuple[int, RawReturn]],
    frames: Mapping[str, pl.DataFrame],
    found: Mapping[int, list[Finding]],
    where: Mapping[int, dict[str, dict[str, int]]],
    *,
    schema: Schema,
    keep_tables: bool = True,
) -> list[ValidatedReturn]:
    info = frames["info"]
    units = info.select(RID, pl.col("unit_code").alias("unit"), pl.col("period"))
    per_return = {r[RID]: r for r in info.select(RID, "unit_code", "period", "raw__period", "report_type")
                  .iter_rows(named=True)}
    tables = _tables(frames, units, schema=schema) if keep_tables else {}
    counts = {
        sheet.key: dict(frames[sheet.key].group_by(RID).len().iter_rows()) for sheet in schema.sheets
    }
    empty = {s.key: pl.DataFrame(schema=table_schema(s.key, schema=schema)) for s in schema.sheets}
    out = []
    for rid, ret in numbered:
        meta = per_return.get(rid, {})
        findings = [*ret.warnings, *structural_findings(ret, where[rid], schema=schema), *found.get(rid, [])]
        unknown = getattr(ret, "unknown_cells", frozenset())
        if unknown:
            # a formula saved without its result is unknown, not empty: only the
            # unreadable-file finding naming it speaks about such a cell
            findings = [f for f in findings if f.cell not in unknown or f.code == "unreadable-file"]
        report = Report(
            file=str(ret.path),
            unit=meta.get("unit_code"),
            period=meta.get("period") or meta.get("raw__period"),
            findings=in_place_order(cut_cascades(findings), schema=schema),
        )
        report.stats = {
            # key/value sheets: the number of items present
            "rows": {
                s.name: len(where[rid].get(s.key, {})) if s.layout == "keyvalue" else counts[s.key].get(rid, 0)
                for s in schema.sheets
                if s.key in ret.sheets
            },
            "n_errors": len(report.errors),
            "n_warnings": len(report.warnings),
        }
        own = tables.get(rid, {})
        full = {s.key: own[s.key] if s.key in own else empty[s.key] for s in schema.sheets} if keep_tables else {}
        kind = meta.get("report_type") or (schema.default_report_type if meta else None)
        out.append(ValidatedReturn(report=report, tables=full, content_hash="", report_type=kind, columns=where[rid]))
    return out



