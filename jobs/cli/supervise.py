"""``rectify supervise``: one 督办通知单 per unit on the graded list, its items recorded under supervision."""

from __future__ import annotations

from pathlib import Path

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.core.errors import RectifyError
from jobs.office.registry import RegistryError


@click.command("supervise", cls=ChineseCommand)
@period_option()
@home_option
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="输出文件夹（默认 <home>/reports/<period>/，通知单在其“督办通知单”子文件夹）。",
)
def supervise_command(period: str, home: Path | None, out_dir: Path | None) -> None:
    """为列入分级问责名单的每个单位生成督办通知单，并登记督办问题。

    通知单列出该单位逾期未完成、整改效果不理想、反弹回潮和长期未启动的问题，
    督办时限为发出之日起 [accountability] supervision_days 天（默认30天）。
    以后各期汇总跟踪这些问题：已整改、逾期未整改（逾期的单位列入诫勉批评，
    并在通报中点名）。同一问题已督办的，保持原督办时限。

    \b
    示例：
        rectify supervise --period 2015-02
    """
    target = open_home(home)
    try:
        files = api.supervise(target, period=period, out_dir=out_dir)
    except (RectifyError, RegistryError, OSError) as exc:
        raise fail(exc) from None
    if not files.notices:
        click.echo(f"{period}没有列入分级问责名单的单位，未生成督办通知单。")
        return
    items = sum(len(n.items) for n, _ in files.notices)
    click.echo(f"已生成督办通知单{len(files.notices)}份，列入督办问题{items}项（新登记{files.recorded}项）：")
    for notice, path in files.notices:
        click.echo(f"  {notice.name}（{notice.step}，{len(notice.items)}项）：{path}")


COMMANDS = [supervise_command]
