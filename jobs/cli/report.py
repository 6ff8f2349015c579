"""``rectify report``: the summary report of a period (HTML page + Excel tables, optionally PDF)."""

from __future__ import annotations

from pathlib import Path

import click

from jobs import api
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.core.errors import RectifyError
from jobs.office.registry import RegistryError


def step(message: str) -> None:
    """A progress line on stderr (stdout stays for results)."""
    click.echo(f"… {message}", err=True)


def output_lines(files) -> list[str]:  # noqa: ANN001 - jobs.report.pipeline.ReportFiles
    """Chinese lines naming the written files."""
    names = {
        "html": "报告（HTML，可打印）", "xlsx": "汇总表（Excel）", "docx": "报告（Word）",
        "pdf": "报告（PDF）", "png": "报告首页截图",
    }
    return [f"{label}：{getattr(files, key)}" for key, label in names.items() if getattr(files, key) is not None]


@click.command("report")
@period_option()
@home_option
@click.option("--unit", default=None, help="Report on this unit's subtree instead of the nation (单位代码).")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output folder (default <home>/reports/<period>/).",
)
@click.option("--pdf", is_flag=True, help="Also print the page to PDF with headless Chromium.")
@click.option(
    "--docx", is_flag=True,
    help="Also write a Word document from the Word template (<home>/templates/report.docx if present).",
)
@click.option(
    "--include-summary", "include", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A lower office's 汇总 return to fold in (repeatable), as in `rectify summarize`.",
)
@click.option("--png", is_flag=True, help="Also save a screenshot of the first page (headless Chromium).")
def report_command(
    period: str, home: Path | None, unit: str | None, out_dir: Path | None, pdf: bool, docx: bool,
    include: tuple[Path, ...], png: bool,
) -> None:
    """Write the summary report of a period: a printable HTML page and the Excel summary tables.

    The report follows the office's template: coverage (报送率, 及时率, who is
    missing), headline figures, the 21 special tasks, institutions,
    accountability, personal rectification, the breakdown by lower unit and
    by 类别, the attention list, the month-over-month change, and an annex of
    units not reported with their contacts. With --unit, the same report for
    any unit's subtree.

    \b
    Example:
        rectify report --period 2015-02
        rectify report --period 2015-02 --unit 110000 --out out/北京 --pdf --docx
    """
    from jobs.report.pipeline import DEFAULT_FORMATS

    target = open_home(home)
    formats = DEFAULT_FORMATS + (("docx",) if docx else ()) + (("pdf",) if pdf else ()) + (("png",) if png else ())
    try:
        files = api.report(
            target, period=period, unit=unit, out_dir=out_dir, formats=formats, progress=step, include=include
        )
    except (RectifyError, RegistryError) as exc:
        raise fail(exc) from None
    except OSError as exc:
        msg = f"无法写入输出文件“{exc.filename or ''}”：{exc.strerror or exc}"
        raise click.ClickException(msg) from None
    click.echo(f"《{files.context.title}》已生成：")
    for line in output_lines(files):
        click.echo(f"  {line}")


COMMANDS = [report_command]
