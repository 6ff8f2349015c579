"""Wiring: read -> structure -> typed frames -> one GX run per frame -> findings -> reports."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from jobs.core.errors import UnreadableFile
from jobs.core.findings import Finding, Report, make_finding
from jobs.core.schema import Schema, load_schema
from jobs.core.tables import ROW_COLUMN, table_schema
from jobs.process import keep_long_lived, settled_heap
from jobs.validate import derive, facts, gx, suites
from jobs.validate.copies import detect_copies
from jobs.validate.structural import locations, structural_findings
from jobs.validate.translate import cut_cascades, translate
from jobs.validate.typing import RID, ROW, stack_keyvalue, stack_table, type_columns

DEFAULT_TIMEZONE = "Asia/Shanghai"
INTERNAL_FAILURE = "文件内容异常，系统无法完成校验，请联系办公室处理"
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


def arrival_time(path: Path, *, timezone: str = DEFAULT_TIMEZONE) -> dt.datetime | None:
    """A file's modification time as a naive local time in the office's time zone."""
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return dt.datetime.fromtimestamp(stamp, tz=ZoneInfo(timezone)).replace(tzinfo=None)


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _read(path: Path, schema: Schema, limits: Any = None) -> Any:
    from jobs.intake.read import read_return

    try:
        return read_return(path, schema=schema, limits=limits, clean=False)
    except UnreadableFile:
        raise
    except BaseException as exc:  # a calamine panic derives from BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        msg = "文件已损坏或不是有效的Excel工作簿，请用Excel打开检查后另存为.xlsx重新报送"
        raise UnreadableFile(msg) from exc


def warm_up(*, schema: Schema | None = None) -> None:
    """Pay GX's import and suite building up front (a watching process does it once, not on the first file)."""
    gx.warm_up(suites.all_checks(schema or load_schema()))


def validate_files(
    paths: Iterable[str | Path],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Mapping[Path, dt.datetime] | None = None,
    other_units_texts: pl.DataFrame | None = None,
    schema: Schema | None = None,
    limits: Any = None,
    keep_tables: bool = True,
) -> list[ValidatedReturn]:
    """Read and validate many returns in one GX run; one result per path, in order.

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
    other_units_texts
        ``unit, sheet, row, column, hash`` of texts already stored for the period.
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
        return _validate_files(paths, registry=registry, period=period, received_at=received_at,
                               other_units_texts=other_units_texts, schema=schema, limits=limits,
                               keep_tables=keep_tables)


def _validate_files(
    paths: list[Path],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Mapping[Path, dt.datetime] | None,
    other_units_texts: pl.DataFrame | None,
    schema: Schema,
    limits: Any,
    keep_tables: bool,
) -> list[ValidatedReturn]:
    raws: list[Any] = []
    started = time.perf_counter()
    for n, path in enumerate(paths, start=1):
        try:
            raws.append(_read(path, schema, limits))
        except UnreadableFile as exc:
            raws.append(exc)
        if n % _REFREEZE == 0:
            keep_long_lived()  # the returns read so far are long-lived: no full pass need walk them again
    TIMINGS["read"] += time.perf_counter() - started
    arrivals = {p: (received_at or {}).get(p) or arrival_time(p) for p in paths}
    # 汇总 returns (报表类型 = 汇总, from `rectify summarize --export-summary`) have
    # their own layout: the roll-up area checks them and keeps their counts.
    from jobs.rollup.federation import summary_report_type
    from jobs.rollup.summary_return import check_summary_return, is_summary_return

    summaries = {i for i, r in enumerate(raws) if not isinstance(r, BaseException) and is_summary_return(r, schema=schema)}
    readable = [(i, r) for i, r in enumerate(raws) if not isinstance(r, BaseException) and i not in summaries]
    options = {"registry": registry, "period": period, "other_units_texts": other_units_texts, "schema": schema,
               "keep_tables": keep_tables}
    try:
        results = validate_returns([r for _, r in readable], received_at=[arrivals[paths[i]] for i, _ in readable],
                                   **options)
    except Exception:
        # A bug must not cost the office the whole batch: validate one by one,
        # and turn a return that still fails into a clean finding.
        LOG.exception("batch validation failed; validating %d returns one by one", len(readable))
        results = []
        for i, raw_ in readable:
            try:
                results += validate_returns([raw_], received_at=[arrivals[paths[i]]], **options)
            except Exception:
                LOG.exception("validation of %s failed", paths[i])
                raws[i] = UnreadableFile(INTERNAL_FAILURE)
                results.append(None)
    by_index = {i: r for (i, _), r in zip(readable, results, strict=True) if r is not None}
    for i in summaries:
        try:
            report, tables = check_summary_return(raws[i], registry=registry, period=period, schema=schema)
        except Exception:
            LOG.exception("checking the 汇总 return %s failed", paths[i])
            raws[i] = UnreadableFile(INTERNAL_FAILURE)
            continue
        by_index[i] = ValidatedReturn(report, tables, "", summary_report_type(schema))
    out = []
    for i, (path, raw_) in enumerate(zip(paths, raws, strict=True)):
        result = by_index.get(i)
        if result is None:
            finding = make_finding("unreadable-file", schema=schema, reason=getattr(raw_, "reason", str(raw_)))
            result = ValidatedReturn(Report(file=str(path), findings=[finding],
                                            stats={"rows": {}, "n_errors": 1, "n_warnings": 0}), None, "", None)
        # the reader hashed the bytes it read; a file it could not read is read again
        result.content_hash = getattr(raw_, "content_hash", None) or _sha256(path)
        out.append(result)
    return out


def validate_returns(
    returns: Sequence[Any],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Sequence[dt.datetime | None] | None = None,
    other_units_texts: pl.DataFrame | None = None,
    schema: Schema | None = None,
    keep_tables: bool = True,
) -> list[ValidatedReturn]:
    """Validate already-read returns (``RawReturn``) together; see :func:`validate_files`."""
    schema = schema or load_schema()
    with settled_heap():
        return _validate_returns(returns, registry=registry, period=period, received_at=received_at,
                                 other_units_texts=other_units_texts, schema=schema, keep_tables=keep_tables)


def _validate_returns(
    returns: Sequence[Any],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Sequence[dt.datetime | None] | None,
    other_units_texts: pl.DataFrame | None,
    schema: Schema,
    keep_tables: bool,
) -> list[ValidatedReturn]:
    started = time.perf_counter()
    numbered = list(enumerate(returns))
    where = {rid: locations(ret, schema=schema) for rid, ret in numbered}
    locs: dict[str, dict[int, dict[str, int]]] = {}
    for rid, per_sheet in where.items():
        for key, cols in per_sheet.items():
            locs.setdefault(key, {})[rid] = cols
    frames = _typed_frames(numbered, schema=schema)
    arrival = {rid: at.date() for rid, at in enumerate(received_at or []) if at is not None}
    frames["info"] = derive.with_registry(frames["info"], registry=registry, period=period, arrival=arrival)
    for sheet in schema.sheets:
        if sheet.layout == "table":
            frames[sheet.key] = derive.with_filled_on(frames[sheet.key], frames["info"], sheet_key=sheet.key)
            for col in sheet.columns:
                if col.unique:
                    frames[sheet.key] = derive.mark_duplicates(frames[sheet.key], col.key)
    frames["tasks"] = derive.with_catalogue(derive.mark_duplicates(frames["tasks"], suites.TASK_NO), schema=schema)
    units = frames["info"].select(
        RID, pl.col("unit_code").alias("unit"), pl.coalesce(pl.col("period"), pl.lit(period, pl.Utf8)).alias("period")
    )
    frames.update(detect_copies(frames, units=units, locs=locs, other_units_texts=other_units_texts, period=period,
                                schema=schema))
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
    return results


def _typed_frames(numbered: list[tuple[int, Any]], *, schema: Schema) -> dict[str, pl.DataFrame]:
    frames = {}
    for sheet in schema.sheets:
        stacked = stack_keyvalue(numbered, sheet) if sheet.layout == "keyvalue" else stack_table(numbered, sheet)
        frames[sheet.key] = type_columns(stacked, sheet, schema=schema)
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
    numbered: list[tuple[int, Any]],
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
            findings=cut_cascades(findings),
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
        out.append(ValidatedReturn(report=report, tables=full, content_hash="", report_type=kind))
    return out



