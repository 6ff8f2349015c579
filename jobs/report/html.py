"""Render the summary report as one self-contained HTML page (CSS and SVG inline)."""

from __future__ import annotations

from pathlib import Path

from jobs.core.jinja import environment
from jobs.report.context import ReportContext
from jobs.report.indicators import BREAKDOWN_GROUPS, INDICATORS, TASK_COLUMNS

TEMPLATE = "report.html"


def render_html(ctx: ReportContext) -> str:
    """The report page for ``ctx`` (autoescaped; no external resources)."""
    template = environment().get_template(TEMPLATE)
    return template.render(
        ctx=ctx,
        indicators=INDICATORS,
        breakdown_groups=BREAKDOWN_GROUPS,
        task_columns=TASK_COLUMNS,
    )


def write_html(ctx: ReportContext, path: str | Path) -> Path:
    """Write the page to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(ctx), encoding="utf-8")
    return path
