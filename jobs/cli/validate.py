"""``rectify validate``: check received returns and print the verdicts (no store)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobs import api
from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import period_option
from jobs.core.errors import RectifyError
from jobs.core.findings import SEVERITY_ZH
from jobs.core.names import display_name
from jobs.intake.discover import arrival_time, expand_paths
from jobs.office.config import Config, ConfigError
from jobs.office.registry import RegistryError

if TYPE_CHECKING:
    import polars as pl

    from jobs.core.findings import Report
    from jobs.office.home import Home

NO_HISTORY_NOTE = "提示：未使用办公室数据目录（--home），没有往期报表可比对，未检查问题销号、时限推迟、累计数减少等前后变化。"


class SetupError(click.ClickException):
    """Wrong options or configuration: a usage error, exit status 2 (1 means a return was rejected)."""

    exit_code = 2


def _office(registry: Path | None, home: Path | None, period: str) -> tuple[pl.DataFrame, Config, Home | None]:
    """The registry (``--registry``, else the office home's), the office's config and its home.

    The config (limits, time zone) is the home's when one is named or the
    registry comes from it, else the defaults, which are the ones ``rectify
    init`` writes: ``validate`` and ``ingest`` judge a file alike. The home
    (when there is one) also gives the units' earlier returns (the history stage).
    """
    from jobs.office.home import Home, HomeError
    from jobs.office.registry import load_registry

    office = None
    if registry is None or home is not None:
        try:
            office = Home.open(home)
        except ConfigError as exc:
            raise SetupError(str(exc)) from None
        except (HomeError, OSError) as exc:
            if registry is None:
                msg = f"未指定组织机构名册：请用 --registry 名册.xlsx 指定，或先 rectify init 并导入名册（{exc}）"
                raise SetupError(msg) from None
    config = office.config if office is not None else Config()
    try:
        if registry is not None:
            return load_registry(registry), config, office
        return office.registry(period), config, office  # type: ignore[union-attr]
    except (RegistryError, HomeError, OSError) as exc:
        raise SetupError(str(exc)) from None


def summary_lines(results) -> list[str]:  # noqa: ANN001 - list[ValidatedReturn]
    """Readable Chinese summary: one line per file, then its findings."""
    lines = []
    for result in results:
        report = result.report
        mark, verdict = ("✓", "通过") if report.accepted else ("✗", "退回")
        who = f"单位{report.unit}" if report.unit else "未识别单位"
        lines.append(
            f"{mark} {display_name(Path(report.file).name)}（{who}，{report.period or '报送期不明'}）：{verdict}，"
            f"错误{report.n_errors}项，提示{report.n_warnings}项"
        )
        lines.extend(f"    [{SEVERITY_ZH[f.severity]}] {f.message}" for f in report.findings)
    accepted = sum(r.report.accepted for r in results)
    lines.append(f"共{len(results)}个文件：通过{accepted}个，退回{len(results) - accepted}个。")
    return lines


def _json(report: Report) -> dict[str, object]:
    """The report's JSON object, its file shown readably (a GBK name is not UTF-8 text)."""
    out = report.to_dict()
    out["file"] = display_name(out["file"])
    return out


def write_receipts(
    results, directory: Path, *, registry: pl.DataFrame | None = None,  # noqa: ANN001 - list[ValidatedReturn]
    received_at: Mapping[str, datetime] | None = None, deadline: datetime | None = None,
) -> list[Path]:
    """One receipt (.xlsx) per file in ``directory``, named from the unit and the file.

    The receipt names the unit (``registry``), the arrival (``received_at`` by
    file) and the ``deadline``; nothing is recorded, so it has no version.
    """
    from jobs.core.excel_safe import joined_filename
    from jobs.intake.receipts import ReceiptFacts, unit_names, write_receipt

    names = unit_names(registry, (r.report.unit for r in results))
    arrived = received_at or {}

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    for result in results:
        report = result.report
        parts = (report.unit or "未识别", display_name(Path(report.file).stem))
        name, n = joined_filename(*parts, tail="_回执.xlsx"), 1  # bounded, whatever the unit and name
        while name in used:
            n += 1
            name = joined_filename(*parts, tail=f"_回执_{n}.xlsx")
        used.add(name)
        facts = ReceiptFacts(unit_name=names.get(report.unit or ""), received_at=arrived.get(str(report.file)),
                             deadline=deadline)  # fmt: skip
        written.append(write_receipt(report, directory / name, fmt="xlsx", facts=facts))
    return written


@click.command("validate", cls=ChineseCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@period_option()
@click.option("--registry", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="组织机构名册（.xlsx/.csv）；默认用办公室数据目录中的名册。")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="RECTIFY_HOME", default=None,
              help="未给 --registry 时使用的办公室数据目录（环境变量 RECTIFY_HOME）。")
@click.option("--json", "as_json", is_flag=True, help="每个文件输出一个JSON对象（JSON Lines）。")
@click.option("--receipts", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="每个文件写一份回执（.xlsx）到此目录。")
def validate_command(
    paths: tuple[Path, ...], period: str, registry: Path | None, home: Path | None, as_json: bool,
    receipts: Path | None,
) -> None:
    """检查报表（文件或文件夹），不入库。

    找到的每个文件都有结论，与 rectify ingest 相同（PDF或.ods会被退回）；
    临时文件、隐藏文件和系统文件跳过。限制和时区取办公室数据目录的
    config.toml（如有）。收到时间（用于检查填报日期）取各文件的修改时间。
    退出码：0 全部通过，1 有文件被退回，2 用法错误。

    \b
    示例：
        rectify validate inbox/ --registry 名册.xlsx --period 2015-02
        rectify validate 北京市.xlsx --period 2015-02 --json --receipts outbox/
    """
    files = expand_paths(paths)
    if registry is not None:  # the registry often sits in the same folder as the returns
        target = registry.resolve()
        # resolve() is a syscall per path: only same-named files can be the registry
        files = [f for f in files if f.name != registry.name or f.resolve() != target]
    if not files:
        raise click.UsageError("没有找到要检查的文件。")
    frame, config, office = _office(registry, home, period)
    if office is None:  # said once, on stderr: --json's stdout stays JSON Lines
        click.echo(NO_HISTORY_NOTE, err=True)
    tz = config.tz
    arrivals = {}
    for path in files:
        try:
            arrivals[path] = arrival_time(path, timezone=tz)
        except OSError:  # unreadable: its verdict says so
            pass
    try:
        results = api.validate_files(files, registry=frame, period=period, received_at=arrivals,
                                     limits=config.limits, keep_tables=False, home=office)  # fmt: skip
    except RectifyError as exc:
        raise click.ClickException(str(exc)) from None
    from jobs.intake.hints import carried_period, period_hint

    hint = period_hint([carried_period(r.report) for r in results], period=period)
    if hint is not None:  # once, before the lines that blame each unit
        click.echo(hint.message(), err=True)
    # one write: click.echo flushes, a system call per line otherwise
    if as_json:
        click.echo("\n".join(json.dumps(_json(r.report), ensure_ascii=False) for r in results))
    else:
        click.echo("\n".join(summary_lines(results)))
    if receipts is not None:
        from jobs.office.home import default_deadline

        when = {str(p): t for p, t in arrivals.items()}
        deadline = config.deadlines.get(period) or default_deadline(period)
        written = write_receipts(results, receipts, registry=frame, received_at=when, deadline=deadline)
        if not as_json:
            click.echo(f"回执{len(written)}份已写入：{receipts}")
    if not all(r.report.accepted for r in results):
        raise SystemExit(1)


COMMANDS = [validate_command]
