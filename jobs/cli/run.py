"""``rectify run``: the office's monthly job in one command (ingest the inbox, summarize, report)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobs.api import RunResult, run_month
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.cli._parallel import check_parallel, intake_runtime, parallel_options
from jobs.cli.ingest import JSON_HELP, json_lines, period_hint_text
from jobs.cli.report import output_lines, step
from jobs.core.errors import RectifyError
from jobs.office.registry import RegistryError

if TYPE_CHECKING:
    from jobs.report.pipeline import Format


def screen_summary(result: RunResult) -> list[str]:
    """One screen of Chinese lines: intake, coverage, headline figures, attention, outputs."""
    from jobs.core.jinja import zh_number, zh_percent
    from jobs.rollup.indicators import registry_note

    ctx = result.files.context
    f = ctx.figures
    lines = [f"{ctx.title}", registry_note(ctx.registry_version), *(f"注意：{n}" for n in ctx.notes), ""]
    if result.intake is not None:
        i = result.intake
        lines.append(
            f"收件：{len(i.files)}个文件，新入库{i.count('stored')}个（退回{i.rejected}个），"
            f"此前已收{i.count('duplicate')}个，无法读取{i.count('failed')}个。"
        )
    lines += [
        f"报送：应报{zh_number(f['units_expected'].value)}个，已报{zh_number(f['units_reported'].value)}个，"
        f"报送率{zh_percent(f['reporting_rate'].value)}，及时率{zh_percent(f['timeliness_rate'].value)}，"
        f"未报{zh_number(f['units_missing'].value)}个。",
        f"台账：问题{zh_number(f['items_total'].value)}项，完成率{zh_percent(f['completion_rate'].value)}，"
        f"销号率{zh_percent(f['closure_rate'].value)}，群众满意率{zh_percent(f['satisfaction_rate'].value)}；"
        f"逾期未完成{zh_number(f['items_overdue'].value)}项，反弹回潮{zh_number(f['items_rebound'].value)}项，"
        f"新发现{zh_number(f['items_new'].value)}项。",
        f"分级问责单位{len(ctx.attention)}个" + "".join(f"，{step}{len(rows)}个" for step, rows in ctx.attention_steps if rows)
        + (f"：{'、'.join(a.name for a in ctx.attention_rows_by_step[:8])}" if ctx.attention else "")
        + ("等。" if len(ctx.attention) > 8 else "。"),
        "",
        "输出文件：",
        *(f"  {line}" for line in output_lines(result.files)),
    ]
    return lines


@click.command("run", cls=ChineseCommand)
@period_option()
@home_option
@click.option(
    "--inbox", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="收到报表的文件夹；先将其中本期尚未入库的文件入库。",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="报告输出文件夹（默认 <home>/reports/<period>/）。",
)
@click.option("--pdf", is_flag=True, help="同时输出PDF报告（无界面Chromium）。")
@click.option("--docx", is_flag=True, help="同时输出Word报告。")
@click.option(
    "--include-summary", "include", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="并入下级办公室的汇总报表（可重复），同 `rectify summarize`。",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@parallel_options
def run_command(
    period: str,
    home: Path | None,
    inbox: Path | None,
    out_dir: Path | None,
    pdf: bool,
    docx: bool,
    include: tuple[Path, ...],
    as_json: bool,
    workers: int | None,
    executor_kind: str,
    address: str | None,
    quiet: bool,
) -> None:
    """一条命令完成每月工作：收件入库、汇总、生成报告。

    输出各文件的位置和一屏摘要；收件入库时在标准错误显示进度行（--workers
    并行）。被退回的报表不会中断运行（其单位收到回执并留在催报名单上）。
    --json 时标准输出只有收件的JSON（每个文件一行），摘要输出到标准错误。

    \b
    示例：
        rectify run --period 2015-02 --inbox inbox/
        rectify run --period 2015-02 --inbox inbox/ --out out/2015-02 --pdf
    """
    target = open_home(home)
    formats: tuple[Format, ...] = ("html", "xlsx") + (("docx",) if docx else ()) + (("pdf",) if pdf else ())
    check_parallel(executor_kind, address)  # type: ignore[arg-type]
    say = (lambda _msg: None) if quiet else step
    try:
        runtime = nullcontext((None, None))
        if inbox is not None:
            from jobs.intake.discover import expand_paths

            n_files = len(expand_paths([inbox]))
            size = target.config.limits.batch_size
            runtime = intake_runtime(
                n_files=n_files, batch_size=size, workers=workers, executor_kind=executor_kind,  # type: ignore[arg-type]
                address=address, quiet=quiet,
            )  # fmt: skip
            say(f"收件入库：{n_files}个文件")
        with runtime as (executor, bar):
            result = run_month(
                target, period=period, inbox=inbox, out_dir=out_dir, formats=formats, include=include,
                executor=executor, intake_progress=bar, progress=say,
            )  # fmt: skip
    except (RectifyError, RegistryError, OSError) as exc:  # OSError: named, with what to do (fail)
        raise fail(exc) from None
    hint = period_hint_text(result.intake) if result.intake is not None else None
    if hint:
        click.echo(hint, err=True)
    if as_json:  # stdout is the machines': the screen summary goes to stderr
        if result.intake is not None and result.intake.files:
            click.echo(json_lines(target, result.intake))
        click.echo("\n".join(screen_summary(result)), err=True)
    else:
        click.echo("\n".join(screen_summary(result)))


COMMANDS = [run_command]
