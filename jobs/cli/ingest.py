"""``rectify ingest``: validate received returns and record them in the store."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.cli._parallel import check_parallel, intake_runtime, parallel_options
from jobs.core.errors import RectifyError
from jobs.core.names import display_name
from jobs.intake.batch import FileOutcome, IngestResult, verdicts
from jobs.intake.discover import expand_paths
from jobs.intake.hints import HELD
from jobs.office.home import Home
from jobs.office.registry import RegistryError


def _parse_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        msg = f"收到时间“{value}”格式不对，例如应为2015-02-27T16:30:00"
        raise click.BadParameter(msg) from None


def json_lines(home: Home, result: IngestResult) -> str:
    """``--json``: one JSON object per file handled (JSON Lines), as ``validate --json`` plus ``version``, ``stored``."""
    return "\n".join(json.dumps(v, ensure_ascii=False) for v in verdicts(home, result.files))


def file_line(f: FileOutcome) -> str:
    """The one Chinese line about one file handled (shared by ingest and watch)."""
    name = display_name(f.path.name)  # a GBK or control-character name, shown readably
    if f.status == "failed":
        return f"✗ {name}：{f.message}"
    if f.status == "duplicate":
        return f"= {name}：{f.message}"
    verdict = "通过" if f.accepted else "退回"
    return (f"{'✓' if f.accepted else '✗'} {name}：{f.unit or '未识别单位'} 第{f.version}版 {verdict}"
            f"（错误{f.n_errors}项，提示{f.n_warnings}项）")  # fmt: skip


def summary_lines(result: IngestResult) -> list[str]:
    """Chinese lines describing an intake result (shared by ingest and watch)."""
    lines = []
    for f in result.files:
        lines.append(file_line(f))
        if f.receipt_error and f.receipt_error != HELD:  # held receipts: said once, by period_hint_text
            lines.append(f"  ! {f.receipt_error}")
    return lines + total_lines(result)


def total_lines(result: IngestResult) -> list[str]:
    """The closing Chinese lines of an intake result: how many files, and receipts not written."""
    lines = []
    stored = result.count("stored")
    lines.append(
        f"共{len(result.files)}个文件：新入库{stored}个（其中退回{result.rejected}个），"
        f"重复{result.count('duplicate')}个，无法读取{result.count('failed')}个。"
    )
    unsent = sum(1 for f in result.files if f.receipt_error and f.receipt_error != HELD)
    if unsent:
        lines.append(f"有{unsent}份回执未能写入（各文件均已入库），排除原因后重新运行同一命令即可补发。")
    held = sum(1 for f in result.files if f.receipt_error == HELD)
    if held:
        lines.append(f"有{held}份退回回执暂缓发出（报送期疑似有误，见开头的提示）。")
    return lines


def period_hint_text(result: IngestResult) -> str | None:
    """The run's wrong-period hint (:mod:`jobs.intake.hints`), for stderr before the per-file lines."""
    if result.period_hint is None:
        return None
    return result.period_hint.message(held=sum(1 for f in result.files if f.receipt_error == HELD))


JSON_HELP = "每个处理的文件输出一个JSON对象（JSON Lines），与 validate --json 相同，另加 version 和 stored。"


@click.command("ingest", cls=ChineseCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@period_option()
@home_option
@click.option(
    "--received-at",
    callback=_parse_time,
    default=None,
    help="所有文件的收到时间（ISO格式，办公室本地时间）；默认取各文件的修改时间。",
)
@click.option("--batch-size", type=click.IntRange(1), default=None, help="每批处理的文件数（默认取配置文件）。")
@click.option("--no-receipts", is_flag=True, help="不向 outbox 写回执。")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@parallel_options
def ingest_command(
    paths: tuple[Path, ...],
    period: str,
    home: Path | None,
    received_at: datetime | None,
    batch_size: int | None,
    no_receipts: bool,
    as_json: bool,
    workers: int | None,
    executor_kind: str,
    address: str | None,
    quiet: bool,
) -> None:
    """检查报表（文件或文件夹）并入库。

    每个文件先归档；已收到过的文件不会改变任何数据（要按更正后的名册或配置
    重新审核，用 rectify recheck）；某单位新的通过的报表
    取代其上一版（旧版保留在历史中）。回执写入 <home>/outbox/<period>/。
    有文件被退回或无法读取，或有回执未能写入（下次运行时补发）时，退出码为1。

    大量文件并行读取和检查（--workers，默认全部CPU核；--executor ray 分布到
    Ray集群），只由本进程写入数据库，结果与串行相同。在终端上，进度行
    （文件数、速度、预计剩余时间）输出到标准错误，--quiet 可关闭。
    --json 时标准输出只有每个文件一行的JSON。

    \b
    示例：
        rectify ingest inbox/ --period 2015-02
        rectify ingest 北京市.xlsx --period 2015-02 --received-at 2015-02-27T16:30:00
        rectify ingest inbox/ --period 2015-02 --workers 8
        rectify ingest inbox/ --period 2015-02 --executor ray --address ray://head:10001
    """
    check_parallel(executor_kind, address)  # type: ignore[arg-type]
    target = open_home(home)
    size = batch_size or target.config.limits.batch_size
    try:
        with intake_runtime(
            n_files=len(expand_paths(paths)), batch_size=size, workers=workers,
            executor_kind=executor_kind, address=address, quiet=quiet,  # type: ignore[arg-type]
        ) as (executor, progress):  # fmt: skip
            result = api.ingest(
                target, paths, period=period, received_at=received_at, batch_size=batch_size,
                receipts=not no_receipts, executor=executor, progress=progress,
            )  # fmt: skip
    except (RectifyError, RegistryError) as exc:
        raise fail(exc) from None
    hint = period_hint_text(result)
    if hint:
        click.echo(hint, err=True)
    if as_json:
        if result.files:
            click.echo(json_lines(target, result))
    else:
        click.echo("\n".join(summary_lines(result)))
    if not no_receipts and not as_json:
        click.echo(f"回执已写入：{target.outbox(period)}")
    published = api.publications(target, period=period) if result.count("stored") and not as_json else []
    if published:
        click.echo(f"注意：{period}已{published[-1].label}；本次入库的报表列为“发布后收到”，"
                   f"更正发布（rectify publish --revise）后计入。")  # fmt: skip
    if result.rejected or result.count("failed") or any(f.receipt_error for f in result.files):
        raise SystemExit(1)


COMMANDS = [ingest_command]
