"""Stage: this job's intake end to end, into a fresh office home.

Init a home, import the corpus's registry, then ``ingest`` every return
(archive, read, validate, record in the SQLite ledger + Parquet) on the local
process pool — exactly what ``rectify ingest DIR --workers N`` does, receipts
included unless ``--no-receipts``. The timed part starts after the registry
import and includes the pool's start-up (and its one Great Expectations import).

    python -m bench.bench_intake --corpus DIR --home DIR --workers 2
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import datetime
from pathlib import Path

from bench.corpus import PERIOD, list_returns, registry_path
from bench.harness import emit
from jobs.intake.executors import make_executor
from jobs.intake.parallel import ingest_paths
from jobs.office.home import init_home

RECEIVED_AT = datetime(2015, 2, 27, 16, 30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--no-receipts", dest="receipts", action="store_false",
                        help="skip the receipts (measure intake alone; default: every file gets its receipt)")
    args = parser.parse_args(argv)
    if args.home.exists():
        shutil.rmtree(args.home)
    home = init_home(args.home)
    home.import_registry(registry_path(args.corpus), from_period=PERIOD)
    paths = list_returns(args.corpus)

    start = time.perf_counter()
    with make_executor(args.executor, workers=args.workers) as executor:
        workers = executor.workers
        result = ingest_paths(
            home, paths, period=PERIOD, executor=executor, received_at=RECEIVED_AT,
            batch_size=args.batch_size, receipts=args.receipts,
        )  # fmt: skip
    seconds = time.perf_counter() - start

    rows = 0
    tables = home.store.root / "tables"
    if tables.exists():
        import polars as pl

        rows = sum(pl.scan_parquet(str(p)).select(pl.len()).collect().item() for p in tables.rglob("*.parquet"))
    emit({
        "files": len(result.files), "rows": rows, "seconds": seconds, "workers": workers,
        "stored": result.count("stored"), "rejected": result.rejected, "duplicate": result.count("duplicate"),
        "failed": result.count("failed"), "home": str(args.home),
    })  # fmt: skip


if __name__ == "__main__":
    main()
