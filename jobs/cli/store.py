"""``rectify store check`` and ``rectify store repair``: find damage in the store, rebuild its tables."""

from __future__ import annotations

from pathlib import Path

import click

from jobs import api
from jobs.cli._chinese import ChineseGroup
from jobs.cli._common import fail, home_option, open_home
from jobs.core.errors import RectifyError


@click.group("store", cls=ChineseGroup)
def store_group() -> None:
    """检查和修复数据仓库（台账数据库、数据表、归档的原件）。

    \b
    示例：
        rectify store check
        rectify store repair
    """


@store_group.command("check")
@home_option
def check_command(home: Path | None) -> None:
    """检查数据仓库是否完好（台账数据库、数据表文件、归档的原件）。

    台账数据库做完整性检查；每个数据表文件应都在，大小、行数和SHA-256与
    入库时一致；每个归档的原件应都在且未被改动。正在入库时会等其完成。
    列出发现的每个问题；有问题时退出码为1。数据表的问题可用
    rectify store repair 从归档的原件重建。

    \b
    示例：
        rectify store check --home rectify-data
    """
    target = open_home(home)
    try:
        problems = api.check_store(target)
    except RectifyError as exc:
        raise fail(exc) from None
    for problem in problems:
        click.echo(f"✗ {problem.message}")
    if not problems:
        click.echo(f"数据仓库完好：{target.store.root}")
        return
    parts = sum(1 for p in problems if p.kind.startswith("part-"))
    click.echo(f"共发现{len(problems)}个问题。", err=True)
    if parts:
        click.echo(f"其中{parts}个数据表文件的问题可运行 rectify store repair 从归档的原件重建。", err=True)
    if len(problems) > parts:
        click.echo("台账数据库或归档原件的问题无法自动修复：请从备份恢复所列文件。", err=True)
    raise SystemExit(1)


@store_group.command("repair")
@home_option
@click.option("--all", "everything", is_flag=True, help="重建所有批次的数据表，而不只是检查发现损坏的。")
def repair_command(home: Path | None, everything: bool) -> None:
    """从归档的原件重建损坏的数据表（归档的原件是依据）。

    重新读取和检查原件（各报表的审核结论以台账为准），在数据仓库锁内
    一次性替换：中途被终止时，数据表保持修复前或修复后的状态，不会混杂。
    修复后仍有问题（如归档原件缺失）时退出码为1。

    \b
    示例：
        rectify store repair --home rectify-data
        rectify store repair --all
    """
    target = open_home(home)
    try:
        result = api.repair_store(target, everything=everything)
    except RectifyError as exc:
        raise fail(exc) from None
    if result.rebuilt:
        click.echo(f"已从归档的原件重建{len(result.rebuilt)}个批次的数据表。")
    else:
        click.echo("没有需要重建的数据表。")
    for problem in result.remaining:
        click.echo(f"✗ {problem.message}")
    if result.remaining:
        click.echo(f"修复后仍有{len(result.remaining)}个问题，请从备份恢复所列文件。", err=True)
        raise SystemExit(1)
    click.echo(f"数据仓库完好：{target.store.root}")


COMMANDS = [store_group]
