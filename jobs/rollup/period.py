"""One period as month-end sees it, loaded once and passed down.

:class:`PeriodView` holds the period, the registry version in force, the
deadline, the submissions (the store's, plus any 汇总 return files given with
``--include-summary``), the 汇总 return rows, and, loaded on first use and
then kept, the stored tables and the period's :class:`~jobs.rollup.coverage.Coverage`.
``status``, ``summarize``, ``report`` and ``run`` all start from one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from jobs.core.errors import RectifyError, UnreadableFile
from jobs.core.names import display_name
from jobs.core.schema import load_schema
from jobs.intake.discover import arrival_time
from jobs.rollup.counts import counted_submissions
from jobs.rollup.coverage import Coverage, compute_coverage
from jobs.rollup.federation import SUMMARY_SCHEMA, SUMMARY_TABLE, summary_report_type
from jobs.rollup.summary_return import read_summary_return
from jobs.rollup.tree import closure

if TYPE_CHECKING:
    from jobs.office.home import Home


class SummaryReturnRejected(RectifyError):
    """A 汇总 return given with ``--include-summary`` has errors (Chinese message listing them)."""


@dataclass(eq=False)
class PeriodView:
    """Everything month-end reads about one period (see the module docstring).

    Attributes
    ----------
    submissions
        Every recorded submission of every period (rebound and history need
        the earlier ones), plus the included 汇总 files' rows.
    summary_rows
        Long rows of the 汇总 returns (stored ones re-read from the archive,
        then the included files).
    warnings
        Chinese notes from loading (archived 汇总 returns that cannot be read).
    """

    home: Home
    period: str
    registry: pl.DataFrame
    registry_version: int
    deadline: datetime
    submissions: pl.DataFrame
    summary_rows: pl.DataFrame
    include: tuple[Path, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def tree(self) -> pl.DataFrame:
        """The registry's closure table."""
        return closure(self.registry)

    @cached_property
    def tables(self) -> dict[str, pl.DataFrame]:
        """The period's stored tables (current accepted returns), with the ``summary`` rows."""
        tables = dict(self.home.store.load_tables(self.period))
        if self.summary_rows.height:
            tables[SUMMARY_TABLE] = self.summary_rows
        return tables

    @cached_property
    def findings(self) -> pl.DataFrame:
        """Stored findings (``submission_id, code, explained``) of the period's current accepted returns."""
        current = self.home.store.current(self.period)["submission_id"].to_list()
        return self.home.store.findings(current).select("submission_id", "code", "explained")

    @cached_property
    def coverage(self) -> Coverage:
        """The period's per-unit coverage (computed once)."""
        return compute_coverage(
            self.registry, self.submissions, period=self.period, deadline=self.deadline,
            summary_rows=self.summary_rows, tree=self.tree,
        )  # fmt: skip


def load_period(home: Home, period: str, *, include: Sequence[Path] = ()) -> PeriodView:
    """Load ``period`` from the home: registry version in force, deadline, submissions, 汇总 returns.

    Raises
    ------
    jobs.office.home.HomeError
        No registry imported.
    SummaryReturnRejected
        An included 汇总 return file has errors.
    """
    registry = home.registry(period)
    submissions = home.store.submissions()
    rows, warnings = stored_summary_rows(home, submissions, period=period)
    if include:
        times = {p: arrival_time(p, timezone=home.config.tz) for p in include}
        extra, subs = include_summaries(include, registry=registry, period=period, received_at=times)
        rows = pl.concat([rows, extra])
        submissions = pl.concat([submissions, subs], how="diagonal_relaxed")
    return PeriodView(
        home=home,
        period=period,
        registry=registry,
        registry_version=int(home.registry_version(period)["version"]),
        deadline=home.deadline(period),
        submissions=submissions,
        summary_rows=rows,
        include=tuple(include),
        warnings=warnings,
    )


def include_summaries(
    paths: Sequence[Path], *, registry: pl.DataFrame, period: str, received_at: dict[Path, Any] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read 汇总 return files into ``summary`` rows and submissions rows (accepted, 报表类型 汇总).

    Raises
    ------
    SummaryReturnRejected
        When any file has an error finding (all findings listed, in Chinese).
    """
    schema = load_schema()
    rows, subs, problems = [], [], []
    for path in paths:
        try:
            frame, findings = read_summary_return(path, registry=registry, period=period)
        except UnreadableFile as exc:
            problems.append(f"{display_name(path.name)}：{exc.reason}")
            continue
        errors = [f for f in findings if f.severity == "error"]
        problems += [f"{display_name(path.name)}：{f.message}" for f in errors]
        if errors or frame.height == 0:
            continue
        sid = f"{period}-{hashlib.sha256(path.read_bytes()).hexdigest()[:20]}"
        rows.append(frame.with_columns(pl.lit(sid).alias("submission_id")))
        subs.append(
            {"submission_id": sid, "unit": frame["unit"][0], "period": period, "file_name": display_name(path.name),
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
