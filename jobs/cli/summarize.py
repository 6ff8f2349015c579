"""``rectify summarize``: roll the period's counted returns up the registry tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.core.errors import RectifyError
from jobs.office.registry import RegistryError
from jobs.rollup.published import publication_lines
from jobs.rollup.tree import subtree_codes


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def headline(node: dict[str, Any]) -> list[str]:
    """The node's main figures as Chinese text lines."""
    # the roll-up loads Polars: imported when used, not at CLI start
    from jobs.rollup.indicators import registry_note

    return [
        f"{node['period']} {node['name']}（{node['unit']}）汇总",
        node["coverage_note"],
        registry_note(node.get("registry_version")),
        f"报送率{_pct(node['reporting_rate'])}，及时率{_pct(node['timeliness_rate'])}",
        f"整改问题{node['items_total']}个：已完成{node['items_done']}个、推进中{node['items_in_progress']}个、"
        f"未启动{node['items_not_started']}个、效果不理想{node['items_ineffective']}个；"
        f"逾期未完成{node['items_overdue']}个，反弹回潮{node['items_rebound']}个，回头看新发现{node['items_new']}个",
        f"完成率{_pct(node['completion_rate'])}，销号率{_pct(node['closure_rate'])}，"
        f"群众满意率{_pct(node['satisfaction_rate'])}",
    ]


@click.command("summarize", cls=ChineseCommand)
@period_option()
@home_option
@click.option("--json", "as_json", is_flag=True, help="以一个JSON对象输出各项指标（键名按规范）。")
@click.option("--unit", default=None, help="输出该单位及其下级（单位代码），而非全国。")
@click.option(
    "--export-summary", "export", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="同时将结果（全国，或 --unit 单位及其下级）写成报上级办公室的汇总报表工作簿。",
)
@click.option(
    "--include-summary", "include", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="并入下级办公室的汇总报表工作簿（可重复）。",
)
@click.option("--principal", default=None, help="写入导出的汇总报表的主要负责人。")
@click.option("--reviewer", default=None, help="审核人：导出汇总报表时必填，与审核日期一并写入汇总报表。")
def summarize_command(
    period: str,
    home: Path | None,
    as_json: bool,
    unit: str | None,
    export: Path | None,
    include: tuple[Path, ...],
    principal: str | None,
    reviewer: str | None,
) -> None:
    """汇总报送期：各单位及其下级的指标、按类别的分解、重点关注单位。

    写入 <home>/summaries/<period>/nodes.parquet（名册每个节点一行：下级合计、
    由合计重算的比率、报送情况；本级数字为 own.*）及同目录的其他表，然后输出
    全国（或 --unit 单位）的指标。下级办公室的汇总报表代表其全部下级；
    同一范围内另有下级单位的本级报表时，因汇总报表只有合计数、无法拆分，
    按汇总报表计算，该本级报表不计入合计，并逐一提示（单位、代码、文件）。

    \b
    示例：
        rectify summarize --period 2015-02
        rectify summarize --period 2015-02 --json --unit 110000
        rectify summarize --period 2015-02 --export-summary 汇总_110000_2015-02.xlsx --unit 110000 --reviewer 李四
        rectify summarize --period 2015-02 --include-summary 北京汇总.xlsx --include-summary 天津汇总.xlsx
    """
    from jobs.rollup.summary import node_json

    if export is not None and not (reviewer or "").strip():
        msg = "导出汇总报表须用 --reviewer 写明审核人（未经审核的汇总报表上级不予接收）。"
        raise click.UsageError(msg)
    target = open_home(home)
    try:
        result = api.summarize(target, period=period, include=include)
        summary, written = result.summary, result.files
        if unit is not None and summary.nodes.filter(summary.nodes["code"] == unit).height == 0:
            msg = f"单位代码“{unit}”不在{period}的组织机构名册中，请核对 --unit。"
            raise click.ClickException(msg)
        node = node_json(summary, unit or summary.root)
        if export is not None:
            _export(target, summary, code=node["unit"], path=export, principal=principal, reviewer=reviewer or "",
                    published=result.published)  # fmt: skip
    except (RectifyError, RegistryError) as exc:
        raise fail(exc) from None
    except OSError as exc:
        msg = f"无法写入文件“{exc.filename or export}”：{exc.strerror or exc}，请检查路径和权限。"
        raise click.ClickException(msg) from None
    for warning in summary.warnings:
        click.echo(f"注意：{warning}", err=True)
    node.update(result.published)
    if unit is not None and node["received_after_publish"]:  # only the subtree's, as the figures are
        below = set(subtree_codes(summary.tree, unit).to_list()) if summary.tree is not None else {unit}
        node["received_after_publish"] = [r for r in node["received_after_publish"] if r["unit"] in below]
    if as_json:
        click.echo(json.dumps(node, ensure_ascii=False))
        return
    for line in headline(node):
        click.echo(line)
    for line in publication_lines(result.published):
        click.echo(line)
    if summary.attention.height:
        steps = "，".join(f"{step}{len(codes)}个" for step, codes in node["attention"].items() if codes)
        click.echo(f"分级问责单位{summary.attention.height}个（{steps}），详见 {written['attention']}")
    click.echo(f"各单位指标表：{written['nodes']}")
    if export is not None:
        state = "已发布的数字" if result.published.get("revision") else "草稿：本期尚未发布，上级将收到提示"
        click.echo(f"汇总报表已导出：{export}（报表类型：汇总，审核人：{reviewer}，{state}）")


def _export(home, summary, *, code: str, path: Path, principal: str | None, reviewer: str,  # noqa: ANN001
            published: dict[str, Any]) -> None:  # fmt: skip
    """Write the 汇总 return, filled by the unit's registry contact and signed by ``reviewer``."""
    import polars as pl

    from jobs.rollup.summary_return import export_summary

    unit = home.registry(summary.period).filter(pl.col("code") == code)
    contact = unit["contact"][0] if unit.height else None
    phone = unit["phone"][0] if unit.height else None
    export_summary(summary, path, code=code, principal=principal or contact or "汇总", reviewer=reviewer,
                   filled_by=contact or "汇总", phone=phone or "", published=published)  # fmt: skip


COMMANDS = [summarize_command]
