"""Stage: the office's report (HTML + xlsx) over the store intake built.

``make_report`` as ``rectify report --period P`` runs it: summarize the period
(with the previous one, if stored), build the context, write HTML and xlsx.
Timed from after imports.

    python -m bench.bench_report --home DIR
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.harness import emit


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=None, help="Ignored (bench.run passes it to every stage).")
    args = parser.parse_args(argv)
    from jobs.office.home import Home
    from jobs.report.pipeline import make_report
    from jobs.rollup.run import stored_periods

    home = Home.open(args.home)
    periods = stored_periods(home)
    if not periods:
        emit({"files": 0, "rows": 0, "seconds": 0.0})
        return
    with tempfile.TemporaryDirectory(prefix="rectify-bench-report-") as out:
        start = time.perf_counter()
        files = make_report(home, period=periods[-1], out_dir=Path(out), formats=("html", "xlsx"))
        seconds = time.perf_counter() - start
        sizes = {k: p.stat().st_size for k, p in (("html", files.html), ("xlsx", files.xlsx)) if p is not None}
    national = files.summary.national
    emit({"files": int(national["units_reported"]), "rows": int(national["items_total"]), "seconds": seconds,
          "bytes": sizes})  # fmt: skip


if __name__ == "__main__":
    main()
