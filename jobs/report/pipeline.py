"""From an office home to report files: load the period's summary (and the months before), write the outputs.

``make_report`` is what ``rectify report`` and ``rectify run`` call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jobs.core.excel_safe import safe_filename
from jobs.office.home import Home, check_period

if TYPE_CHECKING:
    from jobs.report.context import ReportContext
    from jobs.rollup.summary import Summary

Format = Literal["html", "xlsx", "docx", "pdf", "png"]
DEFAULT_FORMATS: tuple[Format, ...] = ("html", "xlsx")
TREND_PERIODS = 12  # periods shown in the trend chart
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReportFiles:
    """Where the report was written; ``context`` is what was rendered."""

    html: Path | None
    xlsx: Path | None
    docx: Path | None
    pdf: Path | None
    png: Path | None
    context: ReportContext
    summary: Summary


def stored_periods(home: Home) -> list[str]:
    """Periods with at least one recorded submission, oldest first."""
    subs = home.store.submissions()
    return sorted(subs["period"].unique().to_list()) if subs.height else []


def load_summaries(
    home: Home, period: str, *, unit: str | None = None, include: Sequence[Path] = ()
) -> tuple[Summary, Summary | None, list]:
    """The period's summary, the previous period's (if any returns) and the trend points (roll-up's ``summarize_home``).

    Returns ``(summary, previous, history)`` where history is ``[(period, json)]``
    of earlier stored periods (at most :data:`TREND_PERIODS`) for ``unit`` or the root.
    ``include``: 汇总 return files folded into this period (``rectify summarize --include-summary``).
    """
    from jobs.rollup.run import previous_period, summarize_home
    from jobs.rollup.summary import node_json

    earlier = [p for p in stored_periods(home) if p < period][-(TREND_PERIODS - 1) :]
    history: list[tuple[str, dict]] = []
    summaries: dict[str, Summary] = {}
    for p in earlier:
        summaries[p] = summarize_home(home, period=p, with_previous=False)
        try:
            history.append((p, node_json(summaries[p], unit or summaries[p].root)))
        except KeyError:  # the unit did not exist then
            continue
    # summarize_home folds the previous period in for the roll-up's own month-over-month
    summary = summarize_home(home, period=period, include=tuple(include))
    return summary, summaries.get(previous_period(period)), history


def chase_rows(home: Home, period: str, *, unit: str | None = None) -> list[dict]:
    """The status area's chase list (催报名单) as annex rows with the state in Chinese."""
    from jobs.rollup.status import STATE_LABELS, compute_status

    chase = compute_status(home, period=period, unit=unit).chase
    return [
        {
            "code": r["code"], "name": r["name"], "parent": r["parent_name"], "level": r["level"],
            "contact": r["contact"], "phone": r["phone"], "state": STATE_LABELS.get(r["state"], r["state"]),
        }
        for r in chase.sort("code").iter_rows(named=True)
    ]  # fmt: skip


def docx_template(home: Home) -> Path | None:
    """The office's own Word template ``<home>/templates/report.docx``, if it has one."""
    own = home.root / "templates" / "report.docx"
    return own if own.is_file() else None


def report_dir(home: Home, period: str) -> Path:
    """Default output folder: ``<home>/reports/<period>/``."""
    return home.path("reports") / check_period(period)


def report_stem(period: str, unit: str | None = None) -> str:
    """File name stem: ``汇总报告_2015-02`` or ``汇总报告_2015-02_110000``."""
    return safe_filename(f"汇总报告_{period}" + (f"_{unit}" if unit else ""))


def write_outputs(
    ctx: ReportContext,
    out_dir: Path,
    stem: str,
    *,
    formats: tuple[Format, ...] = DEFAULT_FORMATS,
    docx_template: Path | None = None,
    progress: Progress | None = None,
) -> dict[Format, Path]:
    """Write the requested formats of ``ctx`` into ``out_dir``; PDF/PNG need Chromium and the HTML."""
    from jobs.report.html import write_html
    from jobs.report.xlsx import write_xlsx

    say = progress or (lambda _msg: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[Format, Path] = {}
    html = out_dir / f"{stem}.html"
    if {"html", "pdf", "png"} & set(formats):
        say("生成HTML报告")
        written["html"] = write_html(ctx, html)
    if "xlsx" in formats:
        say("生成Excel汇总表")
        written["xlsx"] = write_xlsx(ctx, out_dir / f"{stem}.xlsx")
    if "docx" in formats:
        from jobs.report.docx import write_docx

        say("生成Word报告")
        written["docx"] = write_docx(ctx, out_dir / f"{stem}.docx", template=docx_template)
    if "pdf" in formats:
        from jobs.report.screenshot import print_pdf

        say("打印PDF")
        written["pdf"] = print_pdf(html, out_dir / f"{stem}.pdf")
    if "png" in formats:
        from jobs.report.screenshot import screenshot

        say("截图")
        written["png"] = screenshot(html, out_dir / f"{stem}.png", max_width=1000)
    return written


def make_report(
    home: Home,
    *,
    period: str,
    unit: str | None = None,
    out_dir: Path | None = None,
    formats: tuple[Format, ...] = DEFAULT_FORMATS,
    generated_at: dt.datetime | None = None,
    progress: Progress | None = None,
    write_summary: bool = False,
    include: Sequence[Path] = (),
) -> ReportFiles:
    """Summarize ``period`` from the home and write the report of the nation or of ``unit``.

    ``write_summary`` also writes the roll-up's outputs (``<home>/summaries/<period>/``,
    as ``rectify summarize`` does), for ``rectify run``; ``include`` folds in 汇总
    return files of lower offices, as ``--include-summary`` does there.

    Raises
    ------
    jobs.office.home.HomeError
        No registry imported.
    jobs.report.build.UnknownUnit
        ``unit`` is not in the period's registry.
    jobs.report.screenshot.ChromiumMissing
        PDF/PNG requested without Chromium.
    """
    from jobs.report.build import build_context

    say = progress or (lambda _msg: None)
    check_period(period)
    say("汇总各单位报表")
    summary, before, history = load_summaries(home, period, unit=unit, include=include)
    if write_summary:
        from jobs.rollup.run import output_dir
        from jobs.rollup.run import write_outputs as write_rollup

        write_rollup(summary, output_dir(home, period))
    say("整理报告内容与图表")
    ctx = build_context(
        summary,
        registry=home.registry(period),
        deadline=home.deadline(period),
        unit=unit,
        missing=chase_rows(home, period, unit=unit),
        previous=before,
        history=history,
        generated_at=generated_at or home.now().replace(microsecond=0),
    )
    target = out_dir or report_dir(home, period)
    written = write_outputs(
        ctx, target, report_stem(period, unit), formats=formats, docx_template=docx_template(home), progress=say
    )
    return ReportFiles(
        html=written.get("html"),
        xlsx=written.get("xlsx"),
        docx=written.get("docx"),
        pdf=written.get("pdf"),
        png=written.get("png"),
        context=ctx,
        summary=summary,
    )
