"""The office's month on the bundled samples, from a fresh home to the summary report.

``make demo`` runs ``scripts/demo.py --home out/demo-home --period 2015-02``:

1. ``rectify init`` a fresh home (an existing demo home is removed first);
2. ``rectify registry import samples/registry.xlsx``;
3. ``rectify ingest samples/returns/<previous period>`` so month-over-month
   and rebound have a previous period;
4. ``rectify run --period <period> --inbox samples/returns/<period>``;
5. ``rectify publish``, ``rectify circular`` and ``rectify supervise`` for that period;
6. prints where the report is (and, with ``--screenshot``, saves the first page as PNG).

Each step is the real CLI in a subprocess, as the office would type it. When
``samples/`` has no registry (a clone before ``make samples``), the samples are
generated into ``out/samples`` with the Makefile's parameters.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ARGS = {"units": 40, "periods": ("2015-01", "2015-02"), "defects": 0.3, "seed": 7}


def previous_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def rectify(*args: str, allow: tuple[int, ...] = (0,)) -> None:
    """Run ``rectify ARGS`` with this interpreter; exit on an unexpected status."""
    cmd = [sys.executable, "-m", "jobs", *args]
    print(f"\n$ rectify {' '.join(args)}", flush=True)
    done = subprocess.run(cmd, cwd=ROOT, check=False)  # noqa: S603
    if done.returncode not in allow:
        sys.exit(f"demo: `rectify {' '.join(args)}` failed with status {done.returncode}")


def samples_dir(requested: Path) -> Path:
    """The bundled samples, or freshly generated ones when they are not there."""
    if (requested / "registry.xlsx").is_file():
        return requested
    target = ROOT / "out" / "samples"
    if not (target / "registry.xlsx").is_file():
        print(f"{requested} has no samples; generating them into {target}", flush=True)
        sys.path.insert(0, str(ROOT))
        from jobs.tooling.samples import generate_samples

        generate_samples(target, **SAMPLE_ARGS)  # type: ignore[arg-type]
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / "out" / "demo-home")
    parser.add_argument("--period", default="2015-02")
    parser.add_argument("--samples", type=Path, default=ROOT / "samples")
    parser.add_argument("--pdf", action="store_true", help="also print the report to PDF (Chromium)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the report's first page as PNG")
    args = parser.parse_args(argv)

    home = args.home if args.home.is_absolute() else ROOT / args.home
    samples = samples_dir(args.samples if args.samples.is_absolute() else ROOT / args.samples)
    before = previous_period(args.period)
    sys.path.insert(0, str(ROOT))
    from jobs.tooling.samples import restore_arrival_times

    restore_arrival_times(samples)  # a fresh clone's files carry the checkout time, not the arrival
    if home.exists():
        shutil.rmtree(home)  # the demo always starts from a fresh home
    rectify("init", "--home", str(home))
    rectify("registry", "import", str(samples / "registry.xlsx"), "--home", str(home), "--from-period", before)
    previous = samples / "returns" / before
    if previous.is_dir():
        # exit 1 means some returns were rejected: expected, the samples carry defects
        rectify("ingest", str(previous), "--period", before, "--home", str(home), allow=(0, 1))
    run = ["run", "--period", args.period, "--inbox", str(samples / "returns" / args.period), "--home", str(home)]
    rectify(*run, *(["--pdf"] if args.pdf else []))
    # the month's figures go upward: publish them, then the circular and the supervision notices
    rectify("publish", "--period", args.period, "--by", "演示", "--home", str(home))
    rectify("circular", "--period", args.period, "--home", str(home))
    rectify("supervise", "--period", args.period, "--home", str(home))

    report = home / "reports" / args.period / f"汇总报告_{args.period}.html"
    if not report.is_file():
        sys.exit(f"demo: the report was not written ({report})")
    if args.screenshot is not None:
        sys.path.insert(0, str(ROOT))
        from jobs.report.screenshot import screenshot

        shot = screenshot(report, args.screenshot, max_width=900)
        print(f"首页截图：{shot}")
    print(f"\n演示完成。汇总报告：{report}")
    print(f"汇总表：{report.with_suffix('.xlsx')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
