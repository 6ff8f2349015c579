"""Validation throughput against the raw-parsing floor, on generated returns.

Measures, on the same generated returns in one run and pinned to one core:

- floor: fastexcel reading every sheet of every file as strings (in process);
- end to end: ``rectify validate DIR --json`` in a subprocess (process start,
  GX import, reading, checks, JSON output included);
- the GX share: the same validation in a fresh process reporting
  ``jobs.validate.gx.TIMINGS`` (import, to_pandas, runs) against its total.

Reproduce::

    .venv/bin/python -m bench.run validate --n 500            # target: ratio <= 3 at --n 5000
    make bench                                                # --n 5000, then the national run

Returns are generated once into bench/.cache/validate-n<N>-...; the result
is also written to bench/results/validate-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import CACHE, RESULTS, git_revision

ROOT = Path(__file__).resolve().parent.parent
ONE_CORE = {"POLARS_MAX_THREADS": "1", "RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _pin() -> list[str]:
    """``taskset -c 0`` prefix when available: the target is one core."""
    return ["taskset", "-c", "0"] if Path("/usr/bin/taskset").exists() else []


def generate(out: Path, *, n: int, period: str, seed: int) -> list[Path]:
    """Generate about ``n`` returns for one period (30% with one defect, 40% messy) unless present."""
    if not (out / "manifest.json").exists():
        from jobs.tooling.samples import generate_samples

        generate_samples(out, units=n, periods=(period,), defects=0.3, seed=seed)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return [out / f["path"] for f in manifest["files"]]


def raw_floor(paths: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds to read every sheet of every file as strings with fastexcel (the floor)."""
    import fastexcel

    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        try:
            book = fastexcel.read_excel(str(path))
            for name in book.sheet_names:
                book.load_sheet_by_name(name, header_row=None, dtypes="string").to_polars()
        except BaseException as exc:  # noqa: BLE001 - corrupt samples count as read
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
    return time.perf_counter() - started, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def end_to_end(folder: Path, *, period: str) -> tuple[float, float, int]:
    """Wall and CPU seconds for ``rectify validate FOLDER --json`` in a subprocess, and the number of JSON lines."""
    cmd = [*_pin(), str(ROOT / ".venv/bin/rectify"), "validate", str(folder), "--registry",
           str(folder / "registry.xlsx"), "--period", period, "--json"]
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ONE_CORE}, check=False)
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-2000:])
    return elapsed, cpu, sum(1 for line in done.stdout.splitlines() if line.startswith("{"))


def _inner(folder: Path, period: str) -> None:
    """In a fresh process: validate and print the GX timings as JSON."""
    started = time.perf_counter()
    from jobs.office.registry import load_registry
    from jobs.validate import gx, pipeline, validate_files

    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".xlsx", ".xls", ".xlsm")
                   and p.name != "registry.xlsx")
    validate_files(paths, registry=load_registry(folder / "registry.xlsx"), period=period)
    print(json.dumps({"total": time.perf_counter() - started, **gx.TIMINGS, **pipeline.TIMINGS}))


def gx_share(folder: Path, *, period: str) -> dict[str, float]:
    cmd = [*_pin(), sys.executable, "-m", "bench.bench_validate", "--inner", str(folder), "--period", period]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **ONE_CORE}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="approximate number of returns")
    parser.add_argument("--period", default="2015-02")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="reuse/generate returns here (default: temp)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of floor and end to end (best kept)")
    parser.add_argument("--inner", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        _inner(args.inner, args.period)
        return {}
    folder = args.dir or CACHE / f"validate-n{args.n}-s{args.seed}-{args.period}"
    paths = generate(folder, n=args.n, period=args.period, seed=args.seed)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    # Best of a few interleaved rounds for both sides: on a shared machine a
    # single round of either swings by a third (page cache, other jobs).
    floors, runs = [], []
    for _ in range(args.rounds):
        floors.append(raw_floor(paths))
        runs.append(end_to_end(folder, period=args.period))
    floor, floor_cpu = min(f[0] for f in floors), min(f[1] for f in floors)
    e2e, e2e_cpu, lines = min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]
    share = gx_share(folder, period=args.period)
    gx_time = share["import"] + share["to_pandas"] + share["run"]
    result = {
        "files": len(paths),
        "json_lines": lines,
        "floor_files_per_s": len(paths) / floor,
        "e2e_files_per_s": len(paths) / e2e,
        "rounds": args.rounds,
        "ratio": e2e / floor,
        # CPU seconds: the same ratio, insensitive to other load on a shared machine
        "floor_cpu_s": floor_cpu,
        "e2e_cpu_s": e2e_cpu,
        "ratio_cpu": e2e_cpu / floor_cpu,
        "gx_share": gx_time / share["total"],
        "gx_import_s": share["import"],
        "gx_run_s": share["run"],
        "read_s": share["read"],
        "prepare_s": share["prepare"],
        "translate_s": share["translate"],
        "inner_total_s": share["total"],
    }
    shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
    print(json.dumps(shown, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "validate-latest.json").write_text(
        json.dumps({"git": git_revision(), "target_ratio_max": 3.0, **shown}, indent=1), encoding="utf-8"
    )
    return result


if __name__ == "__main__":
    main()
