"""Benchmark plumbing: run a stage in a fresh process, time it, watch its memory.

Every measured stage (raw-parse floor, naive peer, intake, summarize, report)
runs as ``python -m bench.<module> ...`` in its own process, so one stage's
imports and heap never flatter or burden another. While it runs, the harness
samples the memory of the whole process tree (the stage and its workers) from
``/proc``: the sum of PSS (proportional set size: pages shared by forked
workers are split between them, not counted twice) and the sum of RSS.

A stage prints one JSON object on its last stdout line: at least
``{"files": n, "rows": n, "seconds": s}`` where ``seconds`` is the stage's own
timing of its work (after interpreter start). The harness adds ``wall`` (the
whole process, start-up included) and the memory peaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
MIB = 1024 * 1024


# ------------------------------------------------------------------ memory


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may contain spaces: fields start after the last ")"
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _memory_of(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in bytes; (0, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            values = {}
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
                    values[parts[0]] = int(parts[1]) * 1024
        return values.get("Pss:", 0), values.get("Rss:", 0)
    except OSError:
        return 0, 0


def tree_memory(pid: int) -> tuple[int, int]:
    """Summed (PSS, RSS) in bytes of ``pid`` and its descendants."""
    pss = rss = 0
    for p in process_tree(pid):
        a, b = _memory_of(p)
        pss += a
        rss += b
    return pss, rss


class MemoryWatch:
    """Samples a process tree's memory in a thread; keeps the peaks."""

    # Once a second: reading smaps_rollup costs the kernel ~25 ms per GB of
    # mapped memory, so 5 samples a second of a 4-process tree took ~20 % of a
    # core from the stage being measured. Intake's memory is flat batch to
    # batch, so the peak is still seen.
    def __init__(self, pid: int, *, interval: float = 1.0) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_pss = 0
        self.peak_rss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pss, rss = tree_memory(self.pid)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------- stages


@dataclass
class StageResult:
    """One stage run: the stage's own figures plus wall time and memory peaks."""

    stage: str
    n: int
    files: int
    rows: int
    seconds: float
    wall: float
    peak_pss_mib: float
    peak_rss_mib: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["files_per_s"] = round(self.files_per_s, 2)
        out["rows_per_s"] = round(self.rows_per_s, 1)
        return out


class StageFailed(RuntimeError):
    """A stage process exited non-zero."""


def run_stage(stage: str, module: str, args: Sequence[str], *, n: int, timeout: float | None = None) -> StageResult:
    """Run ``python -m <module> <args>``, watch its tree, parse its last JSON line."""
    cmd = [sys.executable, "-m", module, *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_DISABLE="1")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with MemoryWatch(proc.pid) as watch:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            msg = f"stage {stage} timed out after {timeout} s"
            raise StageFailed(msg) from None
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        msg = f"stage {stage} failed ({proc.returncode}): {' '.join(cmd)}\n{err[-4000:]}"
        raise StageFailed(msg)
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
    if not lines:
        msg = f"stage {stage} printed no JSON result\n{out[-2000:]}\n{err[-2000:]}"
        raise StageFailed(msg)
    data = json.loads(lines[-1])
    return StageResult(
        stage=stage,
        n=n,
        files=int(data.pop("files")),
        rows=int(data.pop("rows", 0)),
        seconds=float(data.pop("seconds")),
        wall=round(wall, 3),
        peak_pss_mib=round(watch.peak_pss / MIB, 1),
        peak_rss_mib=round(watch.peak_rss / MIB, 1),
        extra=data,
    )


def emit(result: dict[str, Any]) -> None:
    """A stage's last stdout line: its JSON result."""
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# -------------------------------------------------------------- linearity


def linear_fit(ns: Sequence[float], ts: Sequence[float]) -> dict[str, float]:
    """Least-squares ``t = a + b·n`` with R², and the per-file cost ratio largest/smallest N.

    Growth is called linear when the per-file cost at the largest N is within
    1.25× of the smallest (no super-linear term) — fixed start-up makes small
    runs dearer per file, never cheaper, so the ratio is ≤ 1 for a linear job.
    """
    k = len(ns)
    if k < 2:
        return {"points": k}
    mean_n = sum(ns) / k
    mean_t = sum(ts) / k
    sxx = sum((n - mean_n) ** 2 for n in ns)
    sxy = sum((n - mean_n) * (t - mean_t) for n, t in zip(ns, ts, strict=True))
    slope = sxy / sxx if sxx else 0.0
    intercept = mean_t - slope * mean_n
    ss_tot = sum((t - mean_t) ** 2 for t in ts)
    ss_res = sum((t - intercept - slope * n) ** 2 for n, t in zip(ns, ts, strict=True))
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    order = sorted(range(k), key=lambda i: ns[i])
    lo, hi = order[0], order[-1]
    ratio = (ts[hi] / ns[hi]) / (ts[lo] / ns[lo]) if ts[lo] and ns[lo] else float("nan")
    return {
        "points": k,
        "seconds_per_file": round(slope, 6),
        "startup_seconds": round(intercept, 3),
        "r2": round(r2, 5),
        "per_file_cost_ratio_largest_vs_smallest": round(ratio, 3),
        "linear": bool(ratio <= 1.25),
    }


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
