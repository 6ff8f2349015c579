"""``make bench``: national-scale throughput of rectify against its floor and a naive peer.

For each N (default 1k, 10k, 50k returns) it generates N returns with the
sample generator (cached in bench/.cache), then measures on the same files:

- ``floor``     — fastexcel parses every sheet of every file, nothing else
  (the same process pool and cores as intake);
- ``naive``     — pandas+openpyxl and one GX validation per file, on the first
  ``--naive-sample`` files, one core, extrapolated per file to all files and
  to the same number of cores as if it scaled perfectly;
- ``intake``    — this job's intake end to end (archive, read, validate, record);
- ``summarize`` / ``report`` — over the store intake built (bench.bench_summarize,
  bench.bench_report in stage mode, when present).

It prints files/s, rows/s, peak memory (PSS of the process tree), the ratios
intake/floor and naive/intake, time growth across N (linear fit) and the
memory bound, checks the issue's targets, and writes everything as JSON to
bench/results/ (``latest.json`` plus a time-stamped copy).

    python -m bench.run --sizes 200,1000 --workers 2
    python -m bench.run validate --n 500      # a single named benchmark (see BENCHES)
    python -m bench.run history --units 2000  # intake with vs without the history stage (issue 17)
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.corpus import ensure_corpus, list_returns
from bench.harness import (
    CACHE,
    RESULTS,
    StageResult,
    git_revision,
    linear_fit,
    run_stage,
)
from jobs.intake.executors import default_workers

# Named single benchmarks, kept runnable as ``python -m bench.run NAME ...``.
BENCHES = {"validate": "bench.bench_validate", "summarize": "bench.bench_summarize", "budgets": "bench.bench_budgets",
           "memory": "bench.bench_memory", "history": "bench.bench_history"}

TARGETS = {
    "intake_vs_floor_min": 0.5,  # intake files/s >= 50 % of the raw-parse floor's
    "intake_vs_naive_min": 20.0,  # >= 20x the naive approach on the same cores
    "memory_ratio_max": 1.5,  # peak memory at 50k <= 1.5x that at 10k
    "summarize_share_max": 0.10,  # summarize time < 10 % of intake time
}

# Stages over the home intake built: module -> stage name. Each runs as
# ``python -m <module> --home HOME --corpus DIR`` and prints one JSON line.
HOME_STAGES = {"bench.bench_summarize": "summarize", "bench.bench_report": "report"}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure_size(n: int, *, workers: int, naive_sample: int, seed: int, defects: float, stages: set[str],
                 batch_size: int | None = None, keep_home: bool = False) -> dict[str, Any]:  # fmt: skip
    """Every stage on one corpus of about ``n`` returns."""
    corpus, generated = ensure_corpus(n, seed=seed, defects=defects, log=_log)
    files = len(list_returns(corpus))
    out: dict[str, Any] = {"n": n, "files": files, "corpus": str(corpus), "generation_seconds": generated}
    results: dict[str, StageResult] = {}
    common = ["--corpus", str(corpus)]
    if "floor" in stages:
        _log(f"[{n}] floor ...")
        results["floor"] = run_stage("floor", "bench.floor", [*common, "--workers", str(workers)], n=n)
    if "naive" in stages:
        _log(f"[{n}] naive on {min(naive_sample, files)} files ...")
        results["naive"] = run_stage("naive", "bench.naive", [*common, "--sample", str(naive_sample)], n=n)
    home = CACHE / f"home-n{n}"
    if "intake" in stages:
        _log(f"[{n}] intake ...")
        extra = ["--batch-size", str(batch_size)] if batch_size else []
        results["intake"] = run_stage(
            "intake", "bench.bench_intake", [*common, "--home", str(home), "--workers", str(workers), *extra], n=n
        )
    for module, stage in HOME_STAGES.items():
        if stage in stages and "intake" in results and importlib.util.find_spec(module) is not None:
            _log(f"[{n}] {stage} ...")
            results[stage] = run_stage(stage, module, [*common, "--home", str(home)], n=n)
    out["stages"] = {k: v.to_dict() for k, v in results.items()}
    out["ratios"] = ratios(results, files=files, workers=workers)
    if home.exists() and not keep_home:
        shutil.rmtree(home, ignore_errors=True)
    return out


def ratios(results: dict[str, StageResult], *, files: int, workers: int) -> dict[str, Any]:
    """intake/floor, naive/intake (extrapolated), summarize/intake for one N."""
    out: dict[str, Any] = {}
    floor, naive, intake = results.get("floor"), results.get("naive"), results.get("intake")
    if floor and floor.rows:
        # rows/s of every stage in input rows (the sheets' rows as the floor counted them)
        rows_per_file = floor.rows / max(floor.files, 1)
        out["input_rows_per_file"] = round(rows_per_file, 1)
        for name, r in results.items():
            if r.seconds > 0 and name in ("floor", "naive", "intake"):
                out[f"{name}_input_rows_per_s"] = round(r.files * rows_per_file / r.seconds, 1)
    if naive and naive.files:
        # files openpyxl cannot open (legacy .xls) fail fast: count only the files it processed
        per_file = naive.seconds / max(naive.files - int(naive.extra.get("unreadable", 0)), 1)
        out["naive_seconds_per_file_one_core"] = round(per_file, 4)
        out["naive_files_per_s_extrapolated"] = round(workers / per_file, 3)
        out["naive_seconds_extrapolated"] = round(per_file * files / workers, 1)
        out["naive_note"] = (
            f"naive measured on {naive.files} files on one core; extrapolated to {files} files on "
            f"{workers} cores assuming perfect scaling"
        )
    if intake and floor:
        out["intake_vs_floor"] = round(intake.files_per_s / floor.files_per_s, 3) if floor.files_per_s else None
    if intake and naive and naive.files:
        out["naive_over_intake_time"] = round(out["naive_seconds_extrapolated"] / intake.seconds, 2)
    if intake and results.get("summarize"):
        out["summarize_share_of_intake"] = round(results["summarize"].seconds / intake.seconds, 4)
    if intake and results.get("report"):
        out["report_share_of_intake"] = round(results["report"].seconds / intake.seconds, 4)
    return out


def scaling(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth with N per stage (linear fit) and the memory bound between the two largest N."""
    out: dict[str, Any] = {}
    for stage in ("floor", "intake", "summarize", "report"):
        points = [(s["files"], s["stages"][stage]["seconds"]) for s in sizes if stage in s["stages"]]
        if len(points) >= 2:
            out[f"{stage}_time_vs_n"] = linear_fit([p[0] for p in points], [p[1] for p in points])
    mem = sorted((s["n"], s["stages"]["intake"]["peak_pss_mib"]) for s in sizes if "intake" in s["stages"])
    if len(mem) >= 2:
        (n_lo, m_lo), (n_hi, m_hi) = mem[-2], mem[-1]
        out["intake_memory"] = {
            "peak_pss_mib_by_n": {str(n): m for n, m in mem},
            "ratio_largest_vs_next": round(m_hi / m_lo, 3) if m_lo else None,
            "between": [n_lo, n_hi],
        }
    return out


def check_targets(sizes: list[dict[str, Any]], scale: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets at the largest N measured (and memory across the two largest)."""
    if not sizes:
        return {}
    top = max(sizes, key=lambda s: s["n"])
    r = top["ratios"]
    checks: dict[str, Any] = {"at_n": top["n"]}

    def check(name: str, value: float | None, ok: bool | None) -> None:
        checks[name] = {"value": value, "target": TARGETS.get(name), "met": ok}

    v = r.get("intake_vs_floor")
    check("intake_vs_floor_min", v, None if v is None else v >= TARGETS["intake_vs_floor_min"])
    v = r.get("naive_over_intake_time")
    check("intake_vs_naive_min", v, None if v is None else v >= TARGETS["intake_vs_naive_min"])
    v = r.get("summarize_share_of_intake")
    check("summarize_share_max", v, None if v is None else v < TARGETS["summarize_share_max"])
    mem = scale.get("intake_memory", {})
    v = mem.get("ratio_largest_vs_next")
    check("memory_ratio_max", v, None if v is None else v <= TARGETS["memory_ratio_max"])
    lin = scale.get("intake_time_vs_n", {})
    checks["intake_linear"] = {"value": lin.get("per_file_cost_ratio_largest_vs_smallest"), "met": lin.get("linear")}
    return checks


def table(sizes: list[dict[str, Any]]) -> str:
    """The human-readable summary printed at the end."""
    lines = [f"{'N':>7} {'stage':<10} {'files':>7} {'seconds':>9} {'files/s':>9} {'rows/s':>11} {'peak MiB':>9}"]
    for s in sizes:
        for name, st in s["stages"].items():
            rows_s = s["ratios"].get(f"{name}_input_rows_per_s", st["rows_per_s"])
            lines.append(
                f"{s['n']:>7} {name:<10} {st['files']:>7} {st['seconds']:>9.2f} {st['files_per_s']:>9.1f} "
                f"{rows_s:>11,.0f} {st['peak_pss_mib']:>9.1f}"
            )
        r = s["ratios"]
        lines.append(
            f"{'':>7} intake/floor={r.get('intake_vs_floor')}  naive/intake(time)={r.get('naive_over_intake_time')}"
            f"  summarize/intake={r.get('summarize_share_of_intake')}"
        )
        if "naive_note" in r:
            lines.append(f"{'':>7} ({r['naive_note']})")
    return "\n".join(lines)


def national(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated numbers of returns")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--batch-size", type=int, default=500,
                        help="intake batch size (files per read+validate task; the home's default is 200)")
    parser.add_argument("--naive-sample", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--defects", type=float, default=0.1)
    parser.add_argument("--stages", default="floor,naive,intake,summarize,report")
    parser.add_argument("--keep-homes", action="store_true", help="keep the homes intake built (bench/.cache)")
    parser.add_argument("--out", default=None, help="results JSON (default bench/results/bench-<time>.json)")
    parser.add_argument("--previous", action="append", default=[],
                        help="an earlier results JSON whose sizes join this run's scaling (repeatable)")
    args = parser.parse_args(argv)
    sizes_n = [int(x) for x in args.sizes.split(",") if x.strip()]
    stages = {s.strip() for s in args.stages.split(",")}
    started = time.time()
    sizes = []
    for n in sizes_n:
        sizes.append(measure_size(n, workers=args.workers, naive_sample=args.naive_sample, seed=args.seed,
                                  defects=args.defects, stages=stages, batch_size=args.batch_size,
                                  keep_home=args.keep_homes))  # fmt: skip
        _log(table(sizes[-1:]))
    measured = [s["n"] for s in sizes]
    for earlier in args.previous:
        from pathlib import Path as _Path

        data = json.loads(_Path(earlier).read_text(encoding="utf-8"))
        sizes += [dict(s, from_file=earlier) for s in data["sizes"] if s["n"] not in measured]
    sizes.sort(key=lambda s: s["n"])
    scale = scaling(sizes)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": git_revision(),
        "machine": {"cores": default_workers(), "python": platform.python_version(), "platform": platform.platform()},
        "workers": args.workers,
        "batch_size": args.batch_size,
        "command": "python -m bench.run " + " ".join(argv),
        "sizes": sizes,
        "scaling": scale,
        "targets": check_targets(sizes, scale),
        "total_seconds": round(time.time() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    from pathlib import Path

    out = Path(args.out) if args.out else RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    text = json.dumps(result, ensure_ascii=False, indent=1)
    out.write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    print(table(sizes))
    print(json.dumps({"scaling": scale, "targets": result["targets"]}, ensure_ascii=False, indent=1))
    print(f"results: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in BENCHES:
        importlib.import_module(BENCHES[argv[0]]).main(argv[1:])
        return 0
    return national(argv)


if __name__ == "__main__":
    raise SystemExit(main())
