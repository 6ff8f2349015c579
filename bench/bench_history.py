"""Stage: intake with vs without the history stage (issue 17), in one run.

Two office homes share a registry of about ``--units`` units. One store holds
six earlier months of every unit's clean returns (written through
``Store.write_batch`` from generated tables: no files, so the set-up stays in
minutes); the other holds none. The same month's files are then ingested into
each home (``ingest_paths``, local process pool, no receipts). Reported:

- ``intake_seconds`` (with history) and ``bare_seconds`` (no earlier month),
- ``history_seconds``: the stage's own time in the writer (loading the six
  months once, ``load_seconds``, plus the rules over every batch, ``stage_seconds``),
- ``share``: ``history_seconds / intake_seconds`` (target: < 10 %).

    python -m bench.run history --units 2000 --workers 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import time
from pathlib import Path

import polars as pl

from bench.harness import CACHE, emit
from jobs.core.findings import Report
from jobs.core.schema import load_schema
from jobs.intake.executors import make_executor
from jobs.intake.parallel import ingest_paths
from jobs.office.home import Home, init_home
from jobs.store import STACK_INDEX, Archived, Arrival
from jobs.tooling.samples.content import month_start
from jobs.tooling.samples.history import (
    build_history,
    periods_from,
    stacked_tables,
    write_return,
)
from jobs.tooling.samples.registry import build_registry, write_registry
from jobs.validate.lifecycle import HISTORY_CODES, TIMINGS

MONTHS = 6  # earlier months in the store


def _arrival(period: str) -> dt.datetime:
    return dt.datetime.combine(month_start(period) + dt.timedelta(days=22), dt.time(9))


def _store_month(home: Home, history: dict, units: list, period: str) -> None:
    """Record every unit's return of ``period`` as one batch (ledger rows + Parquet), as intake would."""
    tables = stacked_tables(history, units, period)
    arrivals = [
        Arrival(
            archived=Archived(Path(f"{u.code}.xlsx"), hashlib.sha256(f"{period}-{u.code}".encode()).hexdigest(),
                              f"archive/{period}/{u.code}.xlsx"),
            file_name=f"{u.code}.xlsx", received_at=_arrival(period),
            report=Report(file=f"{u.code}.xlsx", unit=u.code, period=period), tables=None, report_type="本级",
        )
        for u in units
    ]  # fmt: skip
    with home.lock(holder="bench"):
        home.store.write_batch(period, arrivals, ingested_at=_arrival(period), stacked=tables)
    assert STACK_INDEX in tables["ledger"].columns


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=CACHE / "history")
    args = parser.parse_args(argv)
    schema = load_schema()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    registry = build_registry(units=args.units, seed=args.seed)
    units = [u for u in registry if u.must_report and u.level != "全国"]
    periods = periods_from("2015-01", MONTHS + 1)
    write_registry(registry, args.work / "registry.xlsx", sheet=schema.registry_sheet,
                   headers=tuple(c.name for c in schema.registry_columns))  # fmt: skip
    homes = {}
    for name in ("history", "bare"):
        homes[name] = init_home(args.work / name)
        homes[name].import_registry(args.work / "registry.xlsx", from_period=periods[0])
    started = time.perf_counter()
    history = build_history(units, periods=periods, seed=args.seed)
    for period in periods[:-1]:
        _store_month(homes["history"], history, units, period)
    now = periods[-1]
    files = [write_return(history[(u.code, now)], args.work / "returns" / f"{u.code}.xlsx") for u in units]
    setup = time.perf_counter() - started

    seconds = {}
    results = {}
    for name in ("bare", "history"):
        before = dict(TIMINGS)
        start = time.perf_counter()
        with make_executor("local", workers=args.workers) as executor:
            results[name] = ingest_paths(homes[name], files, period=now, executor=executor, received_at=_arrival(now),
                                         batch_size=args.batch_size, receipts=False)  # fmt: skip
        seconds[name] = time.perf_counter() - start
        spent = {k: TIMINGS[k] - before[k] for k in TIMINGS}
    warned = homes["history"].store.findings(homes["history"].store.current(now)["submission_id"].to_list()).filter(
        pl.col("code").is_in(HISTORY_CODES)
    )
    history_seconds = spent["load"] + spent["stage"]
    emit({
        "files": len(files), "rows": 0, "seconds": seconds["history"], "units": len(units), "months": MONTHS,
        "setup_seconds": round(setup, 2), "intake_seconds": round(seconds["history"], 2),
        "bare_seconds": round(seconds["bare"], 2), "load_seconds": round(spent["load"], 3),
        "stage_seconds": round(spent["stage"], 3), "history_seconds": round(history_seconds, 3),
        "share": round(history_seconds / seconds["history"], 4),
        "per_return_ms": round(1000 * history_seconds / max(1, len(files)), 3),
        "stored": results["history"].count("stored"), "history_warnings": warned.height,
    })  # fmt: skip


if __name__ == "__main__":
    main()
