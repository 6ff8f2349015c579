"""``rectify samples``: generate a deterministic sample registry and returns."""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from jobs.cli._chinese import ChineseCommand
from jobs.core.errors import RectifyError

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _periods(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    periods = tuple(p.strip() for p in value.split(",") if p.strip())
    bad = [p for p in periods if not _PERIOD.match(p)]
    if not periods or bad:
        msg = f"报送期应为 YYYY-MM，用逗号分隔，例如 2015-01,2015-02；无法识别：{'、'.join(bad) or value}"
        raise click.BadParameter(msg)
    if len(set(periods)) != len(periods):
        msg = "报送期有重复"
        raise click.BadParameter(msg)
    return periods


@click.command("samples", cls=ChineseCommand)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="输出目录：名册 registry.xlsx、各期报表 returns/、缺陷清单 manifest.json。")
@click.option("--units", default=40, show_default=True, type=click.IntRange(1, 200_000),
              help="报送单位的大致数量。")
@click.option("--periods", default="2015-01,2015-02", show_default=True, callback=_periods,
              help="报送期 YYYY-MM，用逗号分隔。")
@click.option("--defects", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="带有一个已知缺陷的报表所占比例。")
@click.option("--seed", default=7, show_default=True, type=int, help="随机种子（种子相同，输出相同）。")
@click.option("--messy", default=0.4, show_default=True, type=click.FloatRange(0, 1),
              help="带有实际常见不规范（标题行、空格、日期写法等）的文件所占比例。")
@click.option("--xls", "xls", default=0.1, show_default=True, type=click.FloatRange(0, 1),
              help="旧版 .xls 文件所占比例。")
@click.option("--processes", default=None, type=click.IntRange(0, 64),
              help="工作进程数（默认：数据量大时用全部CPU）。")
def samples_command(out: Path, units: int, periods: tuple[str, ...], defects: float, seed: int,
                    messy: float, xls: float, processes: int | None) -> None:
    """生成样例名册和月度报表，已知缺陷记录在 manifest.json 中（检查规则测试的标准答案）。

    \b
    示例：
        rectify samples --out samples --units 40 --periods 2015-01,2015-02 --defects 0.3 --seed 7
        rectify samples --out /tmp/big --units 20000 --defects 0.05
    """
    from jobs.tooling.samples import generate_samples

    started = time.perf_counter()
    try:
        manifest = generate_samples(out, units=units, periods=periods, defects=defects, seed=seed,
                                    messy=messy, xls=xls, processes=processes)
    except (RectifyError, ValueError) as exc:
        msg = f"样例生成失败：{exc}"
        raise click.ClickException(msg) from None
    except OSError as exc:
        msg = f"无法写入“{out}”：{exc.strerror or exc}。请检查目录权限和磁盘空间。"
        raise click.ClickException(msg) from None
    files = manifest["files"]
    n_defects = sum(1 for f in files if f["defects"])
    late = sum(1 for f in files if f["late"])
    missing = sum(len(p["missing_units"]) for p in manifest["periods"].values())
    click.echo(
        f"已生成：名册 {manifest['registry_units']} 个单位，报表 {len(files)} 份"
        f"（含缺陷 {n_defects} 份，逾期 {late} 份，未报 {missing} 个单位次），"
        f"用时 {time.perf_counter() - started:.1f} 秒 → {out}"
    )


COMMANDS = [samples_command]
