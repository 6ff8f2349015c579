"""``rectify report``: the summary report of a period (HTML page + Excel tables, optionally PDF)."""

from __future__ import annotations

from pathlib import Path

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
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


@click.command("report", cls=ChineseCommand)
@period_option()
@home_option
@click.option("--unit", default=None, help="只报告该单位及其下级（单位代码），而非全国。")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="输出文件夹（默认 <home>/reports/<period>/）。",
)
@click.option("--pdf", is_flag=True, help="同时用无界面Chromium输出PDF。")
@click.option(
    "--docx", is_flag=True,
    help="同时按Word模板输出Word文档（如有 <home>/templates/report.docx 则用它）。",
)
@click.option(
    "--include-summary", "include", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="并入下级办公室的汇总报表（可重复），同 `rectify summarize`。",
)
@click.option("--png", is_flag=True, help="同时保存首页截图（无界面Chromium）。")
def report_command(
    period: str, home: Path | None, unit: str | None, out_dir: Path | None, pdf: bool, docx: bool,
    include: tuple[Path, ...], png: bool,
) -> None:
    """生成报送期的汇总报告：可打印的HTML页面和Excel汇总表。

    报告按办公室的模板：报送情况（报送率、及时率、未报单位）、主要数字、
    21项专项整治、制度建设、责任追究、个人整改、按下级单位和类别的分解、
    重点关注单位、环比变化，以及附未报单位及联系人。用 --unit 可为任一
    单位及其下级生成同样的报告。

    \b
    示例：
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
    except (RectifyError, RegistryError, OSError) as exc:  # OSError: named, with what to do (fail)
        raise fail(exc) from None
    click.echo(f"《{files.context.title}》已生成：")
    for line in output_lines(files):
        click.echo(f"  {line}")


COMMANDS = [report_command]
