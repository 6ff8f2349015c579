"""``rectify circular``: the 通报 of a period (Word in the 红头 layout, and HTML)."""

from __future__ import annotations

from pathlib import Path

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.core.errors import RectifyError
from jobs.office.registry import RegistryError


@click.command("circular", cls=ChineseCommand)
@period_option()
@home_option
@click.option("--number", type=click.IntRange(min=1), default=None, help="发文字号的序号（默认为报送期的月份）。")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="输出文件夹（默认 <home>/reports/<period>/）。",
)
def circular_command(period: str, home: Path | None, number: int | None, out_dir: Path | None) -> None:
    """生成报送期的通报：点名未报送、逾期报送和列入分级问责名单的单位。

    Word文档按GB/T 9704红头格式（发文机关、发文字号取自 config.toml 的
    [letterhead]），同时生成便于屏幕阅读的HTML。办公室可在Word中修改模板，
    放在 <home>/templates/circular.docx 即优先使用。

    \b
    示例：
        rectify circular --period 2015-02
        rectify circular --period 2015-02 --number 5 --out out/通报
    """
    target = open_home(home)
    try:
        files = api.circular(target, period=period, number=number, out_dir=out_dir)
    except (RectifyError, RegistryError, OSError) as exc:
        raise fail(exc) from None
    click.echo(f"《{files.circular.title}》（{files.circular.number}）已生成：")
    click.echo(f"  通报（Word）：{files.docx}")
    click.echo(f"  通报（HTML）：{files.html}")


COMMANDS = [circular_command]
