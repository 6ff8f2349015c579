"""The roll-up of an office home: load the period from the store, summarize, write the outputs.

``rectify summarize`` calls :func:`summarize_home` and :func:`write_outputs`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from jobs.core.errors import RectifyError, UnreadableFile
from jobs.core.files import atomic_write
from jobs.core.schema import load_schema
from jobs.intake.discover import arrival_time
from jobs.rollup.federation import SUMMARY_SCHEMA, SUMMARY_TABLE, summary_report_type
from jobs.rollup.summary import Summary, summarize

if TYPE_CHECKING:
    from jobs.office.home import Home

OUTPUT_DIR = "summaries"


class SummaryReturnRejected(RectifyError):
    """A 汇总 return given with ``--include-summary`` has errors (Chinese message listing them)."""


def previous_period(period: str) -> str:
    """``2015-01`` for ``2015-02``; ``2014-12`` for ``2015-01``."""
    year, month = (int(p) for p in period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _history(home: Home, period: str) -> dict[str, pl.DataFrame] | None:
    subs = home.store.submissions()
    earlier = sorted(p for p in subs["period"].unique().to_list() if p < period) if subs.height else []
    frames = [f for f in (home.store.load_tables(p)["ledger"] for p in earlier) if f.height]
    return {"ledger": pl.concat(frames, how="vertical_relaxed")} if frames else None


def include_summaries(
    paths: Sequence[Path], *, registry: pl.DataFrame, period: str, received_at: dict[Path, Any] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read 汇总 return files into ``summary`` rows and submissions rows (accepted, 报表类型 汇总).

    Raises
    ------
    SummaryReturnRejected
        When any file has an error finding (all findings listed, in Chinese).
    """
    from jobs.rollup.summary_return import read_summary_return

    schema = load_schema()
    rows, subs, problems = [], [], []
    for path in paths:
        try:
            frame, findings = read_summary_return(path, registry=registry, period=period)
        except UnreadableFile as exc:
            problems.append(f"{path.name}：{exc.reason}")
            continue
        errors = [f for f in findings if f.severity == "error"]
        problems += [f"{path.name}：{f.message}" for f in errors]
        if errors or frame.height == 0:
            continue
        sid = f"{period}-{hashlib.sha256(path.read_bytes()).hexdigest()[:20]}"
        rows.append(frame.with_columns(pl.lit(sid).alias("submission_id")))
        subs.append(
            {"submission_id": sid, "unit": frame["unit"][0], "period": period, "file_name": path.name,
             "received_at": (received_at or {}).get(path), "accepted": True, "superseded_by": None,
             "report_type": summary_report_type(schema), "version": 1}
        )  # fmt: skip
    if problems:
        msg = "以下汇总报表有误，未纳入汇总，请退回下级办公室重新导出：\n" + "\n".join(f"- {p}" for p in problems)
        raise SummaryReturnRejected(msg)
    sub_schema = {"submission_id": pl.Utf8, "unit": pl.Utf8, "period": pl.Utf8, "file_name": pl.Utf8,
                  "received_at": pl.Datetime("us"), "accepted": pl.Boolean, "superseded_by": pl.Utf8,
                  "report_type": pl.Utf8, "version": pl.Int64}  # fmt: skip
    return (
        pl.concat(rows) if rows else pl.DataFrame(schema=SUMMARY_SCHEMA),
        pl.DataFrame(subs, schema=sub_schema),
    )


def stored_summary_rows(home: Home, submissions: pl.DataFrame, *, period: str) -> tuple[pl.DataFrame, list[str]]:
    """``summary`` rows of the period's counted 汇总 returns in the store, re-read from the archive.

    The validator accepted these files (jobs.rollup.summary_return.check_summary_return);
    the store keeps their original bytes, so nothing else needs storing.
    Returns the rows and Chinese warnings for archived files that cannot be read.
    """
    from jobs.rollup.counts import counted_submissions
    from jobs.rollup.summary_return import read_summary_return

    schema = load_schema()
    counted = counted_submissions(
        submissions, period=period, report_type=summary_report_type(schema), default_report_type=schema.default_report_type
    )
    if counted.height == 0 or "archive_path" not in submissions.columns:
        return pl.DataFrame(schema=SUMMARY_SCHEMA), []
    found = submissions.join(counted.select("submission_id"), on="submission_id", how="semi")
    rows, warnings = [], []
    for sid, unit, name, archived in found.select("submission_id", "unit", "file_name", "archive_path").iter_rows():
        try:
            frame, _findings = read_summary_return(home.store.root / archived, period=period)
        except (UnreadableFile, OSError):
            warnings.append(f"单位“{unit}”的汇总报表“{name}”存档无法读取，未计入汇总")
            continue
        rows.append(frame.with_columns(pl.lit(sid, pl.Utf8).alias("submission_id")))
    return (pl.concat(rows) if rows else pl.DataFrame(schema=SUMMARY_SCHEMA)), warnings


def summarize_home(
    home: Home,
    *,
    period: str,
    include: Sequence[Path] = (),
    with_previous: bool = True,
) -> Summary:
    """Summarize ``period`` from the home's store and registry, folding in 汇总 return files.

    The previous period (month-over-month) is summarized from the store when
    it has returns; rebound uses every earlier stored period's ledger.
    """
    store = home.store
    registry = home.registry(period)
    tables = dict(store.load_tables(period))
    submissions = store.submissions()
    stored, archive_warnings = stored_summary_rows(home, submissions, period=period)
    if stored.height:
        tables[SUMMARY_TABLE] = stored
    if include:
        times = {p: arrival_time(p, timezone=home.config.timezone) for p in include}
        rows, subs = include_summaries(include, registry=registry, period=period, received_at=times)
        stored = tables.get(SUMMARY_TABLE)
        tables[SUMMARY_TABLE] = pl.concat([stored, rows]) if stored is not None else rows
        submissions = pl.concat([submissions, subs], how="diagonal_relaxed")
    previous = None
    before = previous_period(period)
    if with_previous and submissions.filter(pl.col("period") == before).height:
        previous = summarize_home(home, period=before, with_previous=False)
    summary = summarize(
        tables,
        submissions,
        registry,
        period=period,
        deadline=home.deadline(period),
        previous=previous,
        history_tables=_history(home, period),
        thresholds=home.config.thresholds,
    )
    summary.warnings[:0] = archive_warnings
    return summary


def output_dir(home: Home, period: str) -> Path:
    """``<home>/summaries/<period>/``."""
    return home.path(OUTPUT_DIR) / period


def write_outputs(summary: Summary, folder: Path) -> dict[str, Path]:
    """Write the per-node indicator table and the lists as Parquet, the national JSON (temp + rename each).

    Files: ``nodes``, ``by_category``, ``attention``, ``rebound``, ``overdue``,
    ``mom`` (``.parquet``) and ``national.json``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in ("nodes", "by_category", "attention", "rebound", "overdue", "mom"):
        path = folder / f"{name}.parquet"
        atomic_write(path, getattr(summary, name).write_parquet)
        written[name] = path
    path = folder / "national.json"
    payload = {**summary.national, "warnings": summary.warnings}
    atomic_write(path, json.dumps(payload, ensure_ascii=False, indent=1))
    written["national"] = path
    return written
