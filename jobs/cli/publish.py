"""``rectify publish``: publish a period's figures (and revise them); list its publications."""

from __future__ import annotations

import json
from pathlib import Path

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.core.errors import RectifyError
from jobs.office.registry import RegistryError


@click.command("publish", cls=ChineseCommand)
@period_option()
@home_option
@click.option("--by", default=None, help="发布人（默认当前系统用户名）。")
@click.option("--note", default="", help="发布说明（记入台账）。")
@click.option("--revise", is_flag=True, help="更正发布：纳入上次发布后收到的报表及撤回、恢复（须写明 --reason）。")
@click.option("--reason", default=None, help="更正发布的原因（记入台账，不可删除）。")
@click.option("--list", "listing", is_flag=True, help="只列出本期历次发布，不发布。")
@click.option("--json", "as_json", is_flag=True, help="以JSON输出（每次发布一行，键名为固定的英文）。")
def publish_command(
    period: str, home: Path | None, by: str | None, note: str, revise: bool, reason: str | None, listing: bool,
    as_json: bool,
) -> None:
    """发布报送期的汇总数字：记录发布人、时间、名册版本、截止时间、各单位计入汇总的报表版本
    和汇总结果。发布后，summarize、report、status 和汇总报表导出均显示已发布的数字；
    此后收到的报表照常检查、入库并出具回执，列为“发布后收到”，待更正发布时计入；
    此后的撤回、恢复也在更正发布后生效。每次发布都保留在台账中，不可删除。

    \b
    示例：
        rectify publish --period 2015-02 --by 张三 --note "报省办公室"
        rectify publish --period 2015-02 --revise --reason "纳入逾期补报的3个单位"
        rectify publish --period 2015-02 --list
    """
    if reason is not None and not revise and not listing:
        msg = "--reason 用于更正发布（--revise）；首次发布的说明请用 --note。"
        raise click.UsageError(msg)
    target = open_home(home)
    try:
        if listing:
            found = api.publications(target, period=period)
        else:
            found = [api.publish(target, period=period, by=by, note=note, revise=revise, reason=reason)]
    except (RectifyError, RegistryError) as exc:
        raise fail(exc) from None
    if as_json:
        for pub in found:
            click.echo(json.dumps(pub.to_dict(), ensure_ascii=False))
        return
    if listing and not found:
        click.echo(f"{period}尚未发布。")
    for pub in found:
        why = f"，原因：{pub.reason}" if pub.reason else (f"，说明：{pub.note}" if pub.note else "")
        head = "已发布" if not listing else ""
        click.echo(f"{head}{period} {pub.label}：名册第{pub.registry_version}版，截止时间{pub.deadline:%Y-%m-%d %H:%M}"
                   f"，报送率{_pct(pub.summary.get('reporting_rate'))}{why}")  # fmt: skip


def _pct(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float) else "—"


COMMANDS = [publish_command]
