"""Month-end cost against months of history: month 1 vs month N of the same office.

Builds a home (synthetic registry and returns, written to the store directly,
no Excel), then runs each month's end in order as ``rectify run`` does
(summarize, save, report to xlsx) and times each. With earlier months read
from their saved summaries, the last month should cost about what the first
does (before: ~1.5x at 9 months on 200 units, growing each month).

    python -m bench.bench_month_end --units 200 --months 9
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path


def build_home(root: Path, *, units: int, months: int) -> tuple[object, list[str]]:
    """A home with ``months`` periods of returns of about ``units`` units."""
    import polars as pl

    from jobs.core.findings import Report
    from jobs.office.home import init_home
    from jobs.store import Arrival
    from jobs.tooling.synthetic import synthetic

    provinces = max(1, units // 9)  # a province and its 2 + 6 units below
    periods = [f"2015-{m:02d}" for m in range(1, months + 1)]
    home = init_home(root / "home")
    first = synthetic(provinces=provinces, fanout=(2, 3), central=3, seed=1, period=periods[0], previous="2014-12")
    csv = root / "registry.csv"
    first.registry.with_columns(
        pl.when(pl.col("must_report")).then(pl.lit("是")).otherwise(pl.lit("否")).alias("must_report")
    ).rename({"code": "单位代码", "name": "单位名称", "parent": "上级单位代码", "level": "层级", "category": "类别",
              "contact": "联系人", "phone": "联系电话", "must_report": "是否报送"}).write_csv(csv)  # fmt: skip
    home.import_registry(csv, from_period=periods[0])
    blobs = root / "blobs"
    blobs.mkdir()
    for i, period in enumerate(periods):
        syn = synthetic(provinces=provinces, fanout=(2, 3), central=3, seed=1 + i, period=period, previous="2014-12")
        current = syn.submissions.filter(pl.col("accepted") & pl.col("superseded_by").is_null())
        parts = {k: v.partition_by("submission_id", as_dict=True) for k, v in syn.tables.items()}
        arrivals = []
        for sid, unit, at in current.select("submission_id", "unit", "received_at").iter_rows():
            blob = blobs / f"{sid}.xlsx"
            blob.write_bytes(sid.encode())
            tables = {k: frames.get((sid,), syn.tables[k].clear()) for k, frames in parts.items()}
            arrivals.append(Arrival(home.store.archive(blob), blob.name, at - timedelta(days=1),
                                    Report(file=blob.name, unit=unit, period=period), tables, report_type="本级"))  # fmt: skip
        with home.lock():
            home.store.write_batch(period, arrivals, ingested_at=datetime(2015, 12, 31))
    return home, periods


def measure(units: int, months: int) -> dict[str, object]:
    from jobs.report.pipeline import make_report

    with tempfile.TemporaryDirectory(prefix="rectify-bench-month-end-") as tmp:
        home, periods = build_home(Path(tmp), units=units, months=months)
        make_report(home, period=periods[0], out_dir=Path(tmp) / "warm", formats=("xlsx",))  # imports, caches
        seconds, cpu = [], []
        for period in periods:
            start, start_cpu = time.perf_counter(), time.process_time()
            make_report(home, period=period, out_dir=Path(tmp) / period, formats=("xlsx",), write_summary=True)
            seconds.append(round(time.perf_counter() - start, 4))
            cpu.append(round(time.process_time() - start_cpu, 4))
        units_in_registry = home.registry(periods[0]).height
    # CPU time is the steadier figure on a shared machine
    return {"units": units_in_registry, "months": months, "seconds": seconds, "cpu_seconds": cpu,
            "last_over_first": round(seconds[-1] / seconds[0], 2),
            "last_over_first_cpu": round(cpu[-1] / cpu[0], 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--months", type=int, default=9)
    args = parser.parse_args(argv)
    result = measure(args.units, args.months)
    print(f"month 1: {result['cpu_seconds'][0]:.3f} s cpu, month {args.months}: {result['cpu_seconds'][-1]:.3f} s cpu "
          f"({result['last_over_first_cpu']:.2f}x; wall {result['last_over_first']:.2f}x)", file=sys.stderr)  # fmt: skip
    print(json.dumps({"month_end": result}))


if __name__ == "__main__":
    main()
