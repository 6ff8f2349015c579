"""``rectify history``, ``withdraw``, ``restore``, ``recheck``: every version a unit sent, which one counts,
and judging a version's archived original again once the office fixed its registry or config."""

from __future__ import annotations

import json
from pathlib import Path

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.core.errors import RectifyError
from jobs.office.home import Home
from jobs.office.registry import RegistryError
from jobs.store.history import ACTION_LABELS, Change, Version


def _unit_name(home: Home, period: str, unit: str) -> str:
    try:
        registry = home.registry(period)
    except RectifyError:  # no registry yet: the code alone
        return unit
    found = registry.filter(registry["code"] == unit)["name"]
    return f"{found[0]}（{unit}）" if found.len() else unit


def render(versions: list[Version], *, title: str) -> list[str]:
    """The history as Chinese lines: one per version, then the withdrawals and restores."""
    if not versions:
        return [f"{title}：本期未收到该单位的报表。"]
    lines = [f"{title}：共收到{len(versions)}份报表"]
    for v in versions:
        verdict = "接收" if v.accepted else "退回"
        lines.append(
            f"第{v.version}版  {v.report_type}  {v.received_at:%Y-%m-%d %H:%M:%S}  {v.file_name}  "
            f"{verdict}（错误{v.n_errors}项，提示{v.n_warnings}项）  {v.label}"
            + (f"  {v.recheck.label}" if v.recheck is not None else "")
        )
    events = sorted((e, v.version) for v in versions for e in v.events)
    if events:
        lines += ["", "撤回与恢复记录："]
        lines += [f"{e.at:%Y-%m-%d %H:%M:%S}  {e.by}  {ACTION_LABELS[e.action]}第{n}版：{e.reason}" for e, n in events]
    return lines


@click.command("history", cls=ChineseCommand)
@period_option()
@click.option("--unit", required=True, help="单位代码。")
@home_option
@click.option("--json", "as_json", is_flag=True, help="每个版本输出一行JSON（JSON Lines，键名为固定的英文）。")
def history_command(period: str, unit: str, home: Path | None, as_json: bool) -> None:
    """列出某单位本期收到的每一版报表（本级和汇总）：收到时间、文件名、
    接收或退回（错误、提示项数）、版本号，以及哪一版计入汇总、为什么
    （当前有效 / 已被第N版替代 / 已撤回及原因 / 退回）。

    \b
    示例：
        rectify history --period 2015-02 --unit 110000
        rectify history --period 2015-02 --unit 110000 --json
    """
    target = open_home(home)
    try:
        found = api.history(target, period=period, unit=unit)
    except RectifyError as exc:
        raise fail(exc) from None
    if as_json:
        for v in found:
            click.echo(json.dumps(v.to_dict(), ensure_ascii=False))
        return
    for line in render(found, title=f"{_unit_name(target, period, unit)} {period}"):
        click.echo(line)


def _change_options(func):  # noqa: ANN001, ANN202 - click decorators
    func = click.option("--by", default=None, help="操作人（默认当前系统用户名）。")(func)
    func = click.option("--reason", required=True, help="原因（记入台账，不可删除）。")(func)
    func = click.option("--version", "version", required=True, type=click.IntRange(min=1),
                        help="版本号（见 rectify history）。")(func)  # fmt: skip
    func = click.option("--unit", required=True, help="单位代码。")(func)
    func = home_option(func)
    return period_option()(func)


def _run(action: str, home: Path | None, **options: object) -> None:
    target = open_home(home)
    call = api.withdraw if action == "withdraw" else api.restore
    try:
        done: Change = call(target, **options)  # type: ignore[arg-type]
    except RectifyError as exc:
        raise fail(exc) from None
    click.echo(done.message)
    published = api.publications(target, period=str(options["period"]))
    if published:
        click.echo(f"注意：{options['period']}已{published[-1].label}；已发布的数字不变，此项变更在更正发布"
                   f"（rectify publish --revise）后计入。")  # fmt: skip


@click.command("withdraw", cls=ChineseCommand)
@_change_options
def withdraw_command(period: str, home: Path | None, unit: str, version: int, reason: str, by: str | None) -> None:
    """撤回某单位本期的某一版报表，使其不再计入汇总：撤回当前有效的一版后，
    改由此前最近一版已接收、未撤回的报表计入；没有这样的一版时该单位按未报统计。
    原因、操作人和时间记入台账；报表和记录都不会删除，可用 rectify restore 恢复。

    \b
    示例：
        rectify withdraw --period 2015-02 --unit 110000 --version 2 --reason "误用北京市代码，实为天津市报表"
    """
    _run("withdraw", home, period=period, unit=unit, version=version, reason=reason, by=by)


@click.command("restore", cls=ChineseCommand)
@_change_options
def restore_command(period: str, home: Path | None, unit: str, version: int, reason: str, by: str | None) -> None:
    """恢复已撤回的一版报表：计入汇总的始终是最近一版已接收、未撤回的报表，
    因此恢复的一版只有在其后没有这样的报表时才重新计入。退回的报表不能恢复计入。

    \b
    示例：
        rectify restore --period 2015-02 --unit 110000 --version 2 --reason "核实无误，恢复计入"
    """
    _run("restore", home, period=period, unit=unit, version=version, reason=reason, by=by)


@click.command("recheck", cls=ChineseCommand)
@_change_options
def recheck_command(period: str, home: Path | None, unit: str, version: int, reason: str, by: str | None) -> None:
    """按现行的名册和配置重新审核某单位本期某一版报表的归档原件（无需原文件），
    记为该单位的新一版：用于办公室更正名册（如补录了单位）或配置后，对当初因此
    被退回的报表重新审核。收到时间仍按原件的收到时间计（是否按时不变）；原因、
    操作人和时间记入台账，原来的一版保留在历史中；照常写回执。同一文件再次
    报送（rectify ingest）仍只提示已收到过，不会重新审核。新的一版被退回或回执
    未能写入时，退出码为1。

    \b
    示例：
        rectify registry import 名册.xlsx --from-period 2015-02
        rectify recheck --period 2015-02 --unit 120000 --version 1 --reason "名册已补录天津市"
    """
    target = open_home(home)
    try:
        done = api.recheck(target, period=period, unit=unit, version=version, reason=reason, by=by)
    except (RectifyError, RegistryError) as exc:  # the registry in force now is read again
        raise fail(exc) from None
    click.echo(done.message)
    outcome = done.outcome
    if outcome.receipt is not None:
        click.echo(f"回执已写入：{outcome.receipt}")
    elif outcome.receipt_error:
        click.echo(outcome.receipt_error, err=True)
    if outcome.status != "stored" or not outcome.accepted or outcome.receipt_error:
        raise SystemExit(1)


COMMANDS = [history_command, withdraw_command, restore_command, recheck_command]
