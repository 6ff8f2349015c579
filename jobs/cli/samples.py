"""``rectify samples``: generate a deterministic sample registry and returns."""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

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


@click.command("samples")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (registry.xlsx, returns/<period>/<unit>.xlsx, manifest.json).")
@click.option("--units", default=40, show_default=True, type=click.IntRange(1, 200_000),
              help="Approximate number of reporting units.")
@click.option("--periods", default="2015-01,2015-02", show_default=True, callback=_periods,
              help="Comma-separated periods YYYY-MM.")
@click.option("--defects", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="Share of returns carrying exactly one known defect.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed (same seed, same output).")
@click.option("--messy", default=0.4, show_default=True, type=click.FloatRange(0, 1),
              help="Share of files with real-world messiness (title rows, spaces, date spellings...).")
@click.option("--xls", "xls", default=0.1, show_default=True, type=click.FloatRange(0, 1),
              help="Share of legacy .xls files.")
@click.option("--processes", default=None, type=click.IntRange(0, 64),
              help="Worker processes (default: all CPUs for large sets).")
def samples_command(out: Path, units: int, periods: tuple[str, ...], defects: float, seed: int,
                    messy: float, xls: float, processes: int | None) -> None:
    """Generate a sample registry and monthly returns, with known defects
    recorded in manifest.json (the oracle for validation tests).

    \b
    Example:
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
