"""The 通报: a circular naming the units that did not report, reported late, or are on the graded list.

Written as Word (``templates/circular.docx``, made by
``scripts/make_circular_template.py``; an office's own copy at
``<home>/templates/circular.docx`` wins) in the 红头 layout of GB/T 9704, and
as one HTML page for screens (``templates/circular.html``). Both render the
report's context (:class:`~jobs.report.context.ReportContext` as ``ctx``, its
figures as ``f``) plus :class:`CircularContext` as ``c``: the letterhead from
``config.toml`` ``[letterhead]``, the document number, the late units. Unit
names and free text are autoescaped text in both: no field codes, formulas or
markup from a return reach the document.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from jobs.core.excel_safe import safe_filename
from jobs.core.jinja import TEMPLATE_DIR, environment, zh_period
from jobs.office.config import Letterhead
from jobs.office.home import Home, check_period
from jobs.report.context import ReportContext
from jobs.report.docx import render_docx
from jobs.report.rows import MissingUnit

DEFAULT_TEMPLATE = TEMPLATE_DIR / "circular.docx"
HTML_TEMPLATE = "circular.html"


@dataclass(frozen=True, slots=True)
class LateUnit:
    """A unit whose counted return arrived after the deadline: when, and how many days late (started days)."""

    code: str
    name: str
    received_at: dt.datetime
    days_late: int


@dataclass(frozen=True)
class CircularContext:
    """What the 通报 adds to the report's context.

    Attributes
    ----------
    letterhead
        ``[letterhead]`` of ``config.toml``.
    number
        发文字号, e.g. ``群教办〔2015〕2号``.
    title
        The circular's title.
    issued_on
        成文日期 (the signature block's date and the 版记's 印发日期).
    missing, delegated
        Units that did not report (one row each), and the covering units whose
        汇总 return reports missing units below them.
    late
        Units that reported after the deadline, by code.
    """

    letterhead: Letterhead
    number: str
    title: str
    issued_on: dt.date
    missing: tuple[MissingUnit, ...]
    delegated: tuple[MissingUnit, ...]
    late: tuple[LateUnit, ...]

    @property
    def delegated_units(self) -> int:
        """Missing units that lower offices' 汇总 returns report (chased by those offices)."""
        return sum(m.units for m in self.delegated)


def circular_title(period: str) -> str:
    """``关于2015年2月整改落实情况“回头看”报送和分级问责情况的通报``."""
    return f"关于{zh_period(period)}整改落实情况“回头看”报送和分级问责情况的通报"


def document_number(letterhead: Letterhead, *, year: int, number: int) -> str:
    """发文字号 after GB/T 9704: 机关代字, the year in 〔〕, the number without leading zeros."""
    return f"{letterhead.number_prefix}〔{year}〕{number}号"


def late_units(coverage_units: pl.DataFrame, *, deadline: dt.datetime) -> tuple[LateUnit, ...]:
    """The late units of a coverage frame (``state == "late"``), by code, with days late (a started day counts)."""
    rows = coverage_units.filter(pl.col("state") == "late").sort("code")
    out = []
    for code, name, at in rows.select("code", "name", "first_accepted_at").iter_rows():
        days = max(1, math.ceil((at - deadline).total_seconds() / 86400))
        out.append(LateUnit(code, name, at, days))
    return tuple(out)


def circular_context(
    ctx: ReportContext,
    *,
    letterhead: Letterhead,
    late: tuple[LateUnit, ...],
    issued_on: dt.date,
    number: int | None = None,
) -> CircularContext:
    """The 通报's own values; ``number`` defaults to the period's month."""
    month = int(ctx.period.split("-")[1])
    return CircularContext(
        letterhead=letterhead,
        number=document_number(letterhead, year=issued_on.year, number=number if number is not None else month),
        title=circular_title(ctx.period),
        issued_on=issued_on,
        missing=tuple(m for m in ctx.missing if not m.covering),
        delegated=tuple(m for m in ctx.missing if m.covering),
        late=late,
    )


def _values(ctx: ReportContext, circ: CircularContext) -> dict[str, Any]:
    return {"ctx": ctx, "f": ctx.figures, "c": circ}


def render_circular_html(ctx: ReportContext, circ: CircularContext) -> str:
    """The 通报 as one HTML page (autoescaped; fonts with fallbacks; no external resources)."""
    return environment().get_template(HTML_TEMPLATE).render(**_values(ctx, circ))


def write_circular(
    ctx: ReportContext,
    circ: CircularContext,
    out_dir: Path,
    *,
    template: Path | None = None,
) -> dict[str, Path]:
    """Write ``通报_<period>.docx`` and ``.html`` into ``out_dir``; returns ``{"docx": path, "html": path}``.

    Raises
    ------
    jobs.report.docx.DocxTemplateError
        The Word template is missing or one of its tags cannot be rendered.
    """
    stem = safe_filename(f"通报_{ctx.period}")
    out_dir.mkdir(parents=True, exist_ok=True)
    docx = render_docx(template or DEFAULT_TEMPLATE, _values(ctx, circ), out_dir / f"{stem}.docx")
    html = out_dir / f"{stem}.html"
    html.write_text(render_circular_html(ctx, circ), encoding="utf-8")
    return {"docx": docx, "html": html}


@dataclass(frozen=True)
class CircularFiles:
    """Where the 通报 was written, and what was rendered."""

    docx: Path
    html: Path
    context: ReportContext
    circular: CircularContext


def circular_template(home: Home) -> Path | None:
    """The office's own Word template ``<home>/templates/circular.docx``, if it has one."""
    own = home.root / "templates" / "circular.docx"
    return own if own.is_file() else None


def make_circular(
    home: Home,
    *,
    period: str,
    number: int | None = None,
    out_dir: Path | None = None,
    issued_on: dt.date | None = None,
) -> CircularFiles:
    """Summarize ``period`` from the home (saving the summary) and write its 通报 (``rectify circular``).

    Raises
    ------
    jobs.office.home.HomeError
        No registry imported.
    jobs.report.docx.DocxTemplateError
        The Word template cannot be rendered.
    """
    from jobs.report.build import build_context
    from jobs.report.pipeline import report_dir
    from jobs.rollup.run import saved_month_end

    check_period(period)
    month = saved_month_end(home, period)
    summary = month.summary
    now = home.now().replace(microsecond=0)
    ctx = build_context(summary, deadline=month.view.deadline, previous=month.previous_summary,
                        generated_at=now, charts=False)  # fmt: skip
    coverage = summary.coverage
    late = late_units(coverage.units, deadline=month.view.deadline) if coverage is not None else ()
    circ = circular_context(ctx, letterhead=home.config.letterhead, late=late, issued_on=issued_on or now.date(),
                            number=number)  # fmt: skip
    written = write_circular(ctx, circ, out_dir or report_dir(home, period), template=circular_template(home))
    return CircularFiles(docx=written["docx"], html=written["html"], context=ctx, circular=circ)
