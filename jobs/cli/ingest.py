"""``rectify ingest``: validate received returns and record them in the store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from jobs import api
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.cli._parallel import check_parallel, intake_runtime, parallel_options
from jobs.core.errors import RectifyError
from jobs.core.names import display_name
from jobs.intake.batch import IngestResult
from jobs.intake.discover import expand_paths
from jobs.office.registry import RegistryError


def _parse_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        msg = f"收到时间“{value}”格式不对，例如应为2015-02-27T16:30:00"
        raise click.BadParameter(msg) from None


def summary_lines(result: IngestResult) -> list[str]:
    """Chinese lines describing an intake result (shared by ingest and watch)."""
    lines = []
    for f in result.files:
        name = display_name(f.path.name)  # a GBK or control-character name, shown readably
        if f.status == "failed":
            lines.append(f"✗ {name}：{f.message}")
        elif f.status == "duplicate":
            lines.append(f"= {name}：{f.message}")
        else:
            verdict = "通过" if f.accepted else "退回"
            lines.append(
                f"{'✓' if f.accepted else '✗'} {name}：{f.unit or '未识别单位'} 第{f.version}版 {verdict}"
                f"（错误{f.n_errors}项，提示{f.n_warnings}项）"
            )
        if f.receipt_error:
            lines.append(f"  ! {f.receipt_error}")
    stored = result.count("stored")
    lines.append(
        f"共{len(result.files)}个文件：新入库{stored}个（其中退回{result.rejected}个），"
        f"重复{result.count('duplicate')}个，无法读取{result.count('failed')}个。"
    )
    unsent = sum(1 for f in result.files if f.receipt_error)
    if unsent:
        lines.append(f"有{unsent}份回执未能写入（各文件均已入库），排除原因后重新运行同一命令即可补发。")
    return lines


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@period_option()
@home_option
@click.option(
    "--received-at",
    callback=_parse_time,
    default=None,
    help="Arrival time (ISO, office local time) for all files; default: each file's modification time.",
)
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Files per batch (default from config).")
@click.option("--no-receipts", is_flag=True, help="Do not write receipts to the outbox.")
@parallel_options
def ingest_command(
    paths: tuple[Path, ...],
    period: str,
    home: Path | None,
    received_at: datetime | None,
    batch_size: int | None,
    no_receipts: bool,
    workers: int | None,
    executor_kind: str,
    address: str | None,
    quiet: bool,
) -> None:
    """Validate returns (files or directories) and record them in the store.

    Every file is archived first; a file already received changes nothing;
    a new accepted return of a unit replaces its previous one (kept in
    history). Receipts go to <home>/outbox/<period>/. Exit status 1 when any
    file was rejected or unreadable, or a receipt could not be written (the
    next run writes it).

    Many files are read and validated in parallel (--workers, default every
    core; --executor ray spreads them over a Ray cluster) while this process
    alone writes the store; the results are the same either way. A progress
    line (files, rate, ETA) goes to stderr on a terminal unless --quiet.

    \b
    Example:
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
    for line in summary_lines(result):
        click.echo(line)
    if not no_receipts:
        click.echo(f"回执已写入：{target.outbox(period)}")
    if result.rejected or result.count("failed") or any(f.receipt_error for f in result.files):
        raise SystemExit(1)


COMMANDS = [ingest_command]
