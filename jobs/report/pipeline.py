"""From an office home to report files: the period's month-end (earlier months from their saved summaries), the outputs.

``make_report`` is what ``rectify report`` and ``rectify run`` call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jobs.core.excel_safe import safe_filename
from jobs.office.home import Home, check_period

if TYPE_CHECKING:
    from jobs.report.context import ReportContext
    from jobs.rollup.run import MonthEnd
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


def trend_points(month: MonthEnd, *, unit: str | None = None) -> list[tuple[str, dict]]:
    """``(period, JSON)`` of ``unit`` (or the nation) in the earlier periods shown in the trend, from their saved summaries."""
    points = []
    for saved in month.earlier[-(TREND_PERIODS - 1) :]:
        node = saved.node_json(unit)
        if node is not None:  # None: the unit did not exist then
            points.append((saved.period, node))
    return points


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
    from jobs.rollup.period import load_period
    from jobs.rollup.published import publication_note
    from jobs.rollup.run import month_end

    say = progress or (lambda _msg: None)
    check_period(period)
    say("汇总各单位报表")
    month = month_end(load_period(home, period, include=include))
    summary = month.summary
    if write_summary:
        month.save()
    say("整理报告内容与图表")
    ctx = build_context(
        summary,
        deadline=month.view.deadline,
        unit=unit,
        previous=month.previous_summary,
        history=trend_points(month, unit=unit),
        earlier_nodes=[(saved.period, saved.own_history()) for saved in month.earlier
                       if saved.period[:4] == period[:4]],
        generated_at=generated_at or home.now().replace(microsecond=0),
    )
    ctx = replace(ctx, publication_note=publication_note(month.view.publication, month.view.late))
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
