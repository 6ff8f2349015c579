"""``rectify status``: deadline, reporting counts per level and 类别, the chase list."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import click

from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.core.errors import RectifyError
from jobs.core.names import display_name
from jobs.rollup.published import publication_lines
from jobs.rollup.status import STATE_LABELS, Status, compute_status, write_chase_xlsx


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    pad = lambda s, w: str(s) + " " * (w - _width(str(s)))  # noqa: E731
    return ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [headers, *rows]]


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:.1%}（{part}/{whole}）" if whole else f"—（{part}/0）"


def _remaining(status: Status) -> str:
    seconds = status.seconds_to_deadline
    days, rest = divmod(abs(seconds), 86400)
    hours = rest // 3600
    when = f"{status.deadline:%Y-%m-%d %H:%M:%S}"
    if seconds >= 0:
        return f"截止时间 {when}，距截止还有{days}天{hours}小时"
    return f"截止时间 {when}，已过截止时间{days}天{hours}小时"


def _counts_row(label: str, r: dict) -> list:
    # a covered subtree's counts are its 汇总 return's (in 应报/已报/未报); 由下级汇总 counts its registry units
    return [label, r["units_expected"], r["units_reported"], r["units_on_time"], r["units_late"],
            r["units_covered"], r["units_missing"], r["units_rejected"],
            _rate(r["units_reported"], r["units_expected"]), _rate(r["units_on_time"], r["units_expected"])]  # fmt: skip


def render(status: Status) -> list[str]:
    """The status as Chinese text lines."""
    scope = f"（{status.unit}及其下级）" if status.unit else ""
    lines = [f"{status.period}报送情况{scope}", _remaining(status), status.registry_note, ""]
    headers = ["", "应报", "已报", "按时", "逾期", "由下级汇总", "未报", "其中退回待改",
               "报送率（已报/应报）", "及时率（按时/应报）"]  # fmt: skip
    for column, title in (("level", "按层级"), ("category", "按类别")):
        rows = [
            _counts_row(r[column], r) for r in status.by(column).iter_rows(named=True)
        ]  # fmt: skip
        t = status.totals
        rows.append(_counts_row("合计", t))
        lines += [title, *_table(headers, rows), ""]
    chase = status.chase
    lines.append(f"催报名单（{chase.height}个单位）")
    if chase.height:
        rows = [
            [r["code"], r["name"], r["parent_name"] or r["parent"] or "", r["contact"] or "", r["phone"] or "",
             STATE_LABELS[r["state"]]]
            for r in chase.iter_rows(named=True)
        ]  # fmt: skip
        lines += _table(["单位代码", "单位名称", "上级单位", "联系人", "联系电话", "状态"], rows)
    else:
        lines.append("应报单位均已报送。")
    for note in status.set_aside_notes:
        lines += ["", f"注意：{note}"]
    delegated = status.delegated
    if delegated.height:
        who = "、".join(f"{r['name']}（未报{r['units_missing']}个）" for r in delegated.iter_rows(named=True))
        lines += ["", f"另有{delegated['units_missing'].sum()}个未报单位在下级汇总报送范围内，由其汇总单位催报：{who}"]
    optional = status.not_required
    if optional.height:
        lines += ["", f"另有{optional.height}份报表来自本期无需报送的单位，已存档，未计入上述统计。"]
    if status.published.get("revision"):
        lines += ["", *publication_lines(status.published)]
    return lines + _inbox_lines(status)


def _inbox_lines(status: Status) -> list[str]:
    """Files from senders not in the registry, and unreadable files: each in its own section, in no total."""
    lines: list[str] = []
    unknown = status.unknown_senders
    if unknown.height:
        rows = [[r["unit"] or "（未填单位代码）", display_name(r["file_name"]), f"{r['received_at']:%Y-%m-%d %H:%M}",
                 "通过" if r["accepted"] else "退回"] for r in unknown.iter_rows(named=True)]  # fmt: skip
        lines += ["", f"不在名册中的报送单位（{unknown.height}个文件，未计入上述统计，请核对单位代码或名册）",
                  *_table(["单位代码", "文件", "收到时间", "结论"], rows)]  # fmt: skip
    unreadable = status.unreadable_files
    if unreadable.height:
        rows = [[display_name(r["file_name"]), f"{r['received_at']:%Y-%m-%d %H:%M}", r["reason"]]
                for r in unreadable.iter_rows(named=True)]  # fmt: skip
        lines += ["", f"无法读取的文件（{unreadable.height}个，不知是哪个单位的，请联系报送人重新报送）",
                  *_table(["文件", "收到时间", "原因"], rows)]  # fmt: skip
    return lines


@click.command("status", cls=ChineseCommand)
@period_option()
@home_option
@click.option("--unit", default=None, help="只看该单位及其下级（单位代码）。")
@click.option("--json", "as_json", is_flag=True, help="输出一个JSON对象（键名为固定的英文）。")
@click.option(
    "--xlsx",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="同时将催报名单写入此 .xlsx 文件。",
)
def status_command(period: str, home: Path | None, unit: str | None, as_json: bool, xlsx: Path | None) -> None:
    """查看报送期的报送情况：距截止时间；按层级和类别的应报、已报、按时、逾期、
    退回待改和未报单位数（比率注明分母）；催报名单。

    \b
    示例：
        rectify status --period 2015-02
        rectify status --period 2015-02 --unit 110000 --xlsx 催报名单.xlsx
        rectify status --period 2015-02 --json
    """
    target = open_home(home)
    if xlsx is not None and xlsx.suffix.lower() != ".xlsx":
        raise click.BadParameter("催报名单文件名应以.xlsx结尾", param_hint="--xlsx")
    try:
        status = compute_status(target, period=period, unit=unit)
        if xlsx is not None:
            write_chase_xlsx(status, xlsx)
    except RectifyError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise click.ClickException(f"无法写入催报名单文件：{exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(status.to_dict(), ensure_ascii=False))
    else:
        for line in render(status):
            click.echo(line)
        if xlsx is not None:
            click.echo(f"催报名单已写入：{xlsx}")


COMMANDS = [status_command]
