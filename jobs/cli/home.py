"""``rectify init`` and ``rectify registry import``: the office home and its registry.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import click

from jobs.cli._chinese import ChineseCommand, ChineseGroup
from jobs.cli._common import (
    fail,
    home_option,
    open_home,
    period_callback,
    period_option,
)
from jobs.core.errors import RectifyError
from jobs.office.home import RegistryPeriodRequired, covers_all, init_home
from jobs.office.registry import RegistryError


@click.command("init", cls=ChineseCommand)
@home_option
@click.option("--timezone", default=None, help="办公室所在时区（默认 Asia/Shanghai）。")
def init_command(home: Path | None, timezone: str | None) -> None:
    """创建办公室数据目录：config.toml、registry/、store/、outbox/。

    已有的配置文件保留不动，重复运行无害。

    \b
    示例：
        rectify init --home rectify-data
    """
    try:
        created = init_home(home, timezone=timezone)
    except RectifyError as exc:
        raise fail(exc) from None
    click.echo(f"办公室数据目录已就绪：{created.root}")
    click.echo(f"配置文件：{created.root / 'config.toml'}（可在其中设置各报送期截止时间与阈值）")
    if not created.registry_versions():
        click.echo("下一步：rectify registry import 名册.xlsx")


@click.group("registry", cls=ChineseGroup)
def registry_group() -> None:
    """办公室数据目录中的组织机构名册。

    \b
    示例：
        rectify registry import 名册.xlsx --from-period 2015-02
    """


@registry_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@home_option
@click.option(
    "--from-period",
    callback=period_callback,
    default=None,
    help="此版名册自哪个报送期起生效。首次导入可省略（适用于所有报送期）；再次导入必须指明。",
)
def registry_import_command(file: Path, home: Path | None, from_period: str | None) -> None:
    """检查并导入名册文件（.xlsx/.xls/.csv），作为新的一版。

    首次导入的名册适用于所有报送期（除非用 --from-period 指明起始期）；
    此后每次导入都须用 --from-period 指明新版自哪个报送期起生效，
    此前的报送期仍按当时有效的版本。名册有任何错误时不导入，并逐条指出所在行。
    CSV文件可为UTF-8或GBK（Excel中文版另存的CSV）编码。

    \b
    示例：
        rectify registry import 名册.xlsx
        rectify registry import 名册.xlsx --from-period 2015-03
    """
    target = open_home(home)
    try:
        entry = target.import_registry(file, from_period=from_period)
    except RegistryPeriodRequired as exc:
        raise click.UsageError(str(exc)) from None
    except (RegistryError, RectifyError) as exc:
        raise fail(exc) from None
    if entry["unchanged"]:
        click.echo(
            f"名册“{file.name}”的内容与现行第{entry['version']}版（{effective(entry)}）相同，未导入新版。"
        )
        return
    click.echo(
        f"名册第{entry['version']}版已导入（{entry['source']}）：{entry['units']}个单位，"
        f"其中应报送{entry['expected']}个；{effective(entry)}。"
    )
    if entry["covers_all"]:
        click.echo("此后导入新版名册时，须用 --from-period 指明新版自哪个报送期起生效。")


def effective(entry: dict) -> str:
    """When a registry version is in force, in Chinese."""
    if covers_all(entry) and entry.get("from_period"):
        return f"自{entry['from_period']}起生效，也适用于此前各期"
    if covers_all(entry):
        return "适用于所有报送期"
    return f"自{entry['from_period']}起生效"


@registry_group.command("history")
@home_option
def registry_history_command(home: Path | None) -> None:
    """列出已导入的各版名册及其生效的报送期。

    \b
    示例：
        rectify registry history
    """
    target = open_home(home)
    versions = target.registry_versions()
    if not versions:
        click.echo("尚未导入组织机构名册。")
    for v in versions:
        click.echo(
            f"第{v['version']}版  {effective(v)}  {v['units']}个单位  "
            f"来源：{v['source']}  导入于{v['imported_at']}"
        )


def parse_deadline(at: str) -> datetime:
    """``--at``: an ISO local time; a date alone means the end of that day (23:59:59)."""
    try:
        return datetime.combine(date.fromisoformat(at), time(23, 59, 59))
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        msg = f"截止时间“{at}”格式不对，例如应为2015-02-27（当天23:59:59）或2015-02-27T18:00:00"
        raise click.BadParameter(msg, param_hint="--at") from None


@click.command("deadline", cls=ChineseCommand)
@period_option()
@home_option
@click.option("--at", "at", default=None,
              help="新的截止时间，ISO格式的本地时间（例如 2015-02-27T18:00:00；只写日期 2015-02-27 即当天23:59:59）。")
@click.option("--force", is_flag=True, help="允许截止时间不在该报送期的月份内。")
def deadline_command(period: str, home: Path | None, at: str | None, force: bool) -> None:
    """查看或设置报送期的截止时间（默认：当月最后一天 23:59:59）。

    截止时间不在该报送期的月份内时（多半是月份写错了），须加 --force。

    \b
    示例：
        rectify deadline --period 2015-02 --at 2015-02-27
        rectify deadline --period 2015-02 --at 2015-02-27T18:00:00
    """
    target = open_home(home)
    if at is not None:
        when = parse_deadline(at)
        if when.tzinfo is not None:
            when = when.astimezone(target.config.tz).replace(tzinfo=None)
        if f"{when:%Y-%m}" != period and not force:
            msg = (f"截止时间{when:%Y-%m-%d %H:%M:%S}不在报送期{period}的月份内，请核对 --period 和 --at；"
                   f"如确需如此，请加 --force。")  # fmt: skip
            raise click.UsageError(msg)
        target.set_deadline(period, when)
    click.echo(f"{period}截止时间：{target.deadline(period):%Y-%m-%d %H:%M:%S}（{target.config.timezone}）")


COMMANDS = [init_command, registry_group, deadline_command]
