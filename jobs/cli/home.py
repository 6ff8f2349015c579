"""``rectify init`` and ``rectify registry import``: the office home and its registry.
"""

from __future__ import annotations

from pathlib import Path

import click

from jobs.cli._common import (
    fail,
    home_option,
    open_home,
    period_callback,
    period_option,
)
from jobs.core.errors import RectifyError
from jobs.office.home import init_home
from jobs.office.registry import RegistryError


@click.command("init")
@home_option
@click.option("--timezone", default=None, help="Office time zone (default Asia/Shanghai).")
def init_command(home: Path | None, timezone: str | None) -> None:
    """Create the office home: config.toml, registry/, store/, outbox/.

    An existing config is kept, so running it twice is harmless.

    \b
    Example:
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


@click.group("registry")
def registry_group() -> None:
    """The unit registry (组织机构名册) of the office home.

    \b
    Example:
        rectify registry import 名册.xlsx --from-period 2015-02
    """


@registry_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@home_option
@click.option(
    "--from-period",
    callback=period_callback,
    default=None,
    help="First period this version applies to (default: the current month).",
)
def registry_import_command(file: Path, home: Path | None, from_period: str | None) -> None:
    """Check and import a registry file (.xlsx/.xls/.csv) as a new version.

    Units added or removed change who must report from --from-period on;
    earlier periods keep the version that was effective for them.

    \b
    Example:
        rectify registry import 名册.xlsx --from-period 2015-03
    """
    target = open_home(home)
    try:
        entry = target.import_registry(file, from_period=from_period)
    except RegistryError as exc:
        raise fail(exc) from None
    except RectifyError as exc:
        raise fail(exc) from None
    frame = target.registry(entry["from_period"])
    expected = int(frame["must_report"].sum())
    click.echo(
        f"名册第{entry['version']}版已导入（{entry['source']}）：{entry['units']}个单位，"
        f"其中应报送{expected}个；自{entry['from_period']}起生效。"
    )


@registry_group.command("history")
@home_option
def registry_history_command(home: Path | None) -> None:
    """List the imported registry versions and the period each applies from.

    \b
    Example:
        rectify registry history
    """
    target = open_home(home)
    versions = target.registry_versions()
    if not versions:
        click.echo("尚未导入组织机构名册。")
    for v in versions:
        click.echo(
            f"第{v['version']}版  自{v['from_period']}起  {v['units']}个单位  "
            f"来源：{v['source']}  导入于{v['imported_at']}"
        )


@click.command("deadline")
@period_option()
@home_option
@click.option("--at", "at", default=None, help="New deadline, ISO local time (e.g. 2015-02-27T18:00:00).")
def deadline_command(period: str, home: Path | None, at: str | None) -> None:
    """Show or set a period's deadline (default: the month's last day 23:59:59).

    \b
    Example:
        rectify deadline --period 2015-02 --at 2015-02-27T18:00:00
    """
    from datetime import datetime

    target = open_home(home)
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            msg = f"截止时间“{at}”格式不对，例如应为2015-02-27T18:00:00"
            raise click.BadParameter(msg, param_hint="--at") from None
        if when.tzinfo is not None:
            when = when.astimezone(target.config.tz).replace(tzinfo=None)
        target.set_deadline(period, when)
    click.echo(f"{period}截止时间：{target.deadline(period):%Y-%m-%d %H:%M:%S}（{target.config.timezone}）")


COMMANDS = [init_command, registry_group, deadline_command]
