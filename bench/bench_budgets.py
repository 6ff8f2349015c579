"""Time budgets: what used to be asserted in seconds inside the tests (issue #14, item 5).

A test asserts behaviour; a time bound depends on the machine and its load,
so the bounds live here and are measured on demand:

- ``receipt``  — CPU time per xlsx receipt, best of three rounds (issue #7: < 3 ms);
- ``hostile``  — ``validate_files`` over the hostile corpus (tests/hostile.py) in one batch (< 90 s),
  and each dangerous file (bombs, huge extents) read or refused in < 10 s;
- ``corpus``   — the calamine corpus (tests/data/calamine) read: each file < 10 s, all < 120 s.

The tests keep the functional side (verdicts, reasons, memory bounds).
Prints one JSON object, writes ``bench/results/budgets-latest.json`` and
exits 1 when a budget is exceeded.

    .venv/bin/python -m bench.run budgets                 # all
    .venv/bin/python -m bench.run budgets --only receipt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import RESULTS, git_revision

ROOT = Path(__file__).resolve().parent.parent

# Upper bounds, in the unit each name ends with.
BUDGETS: dict[str, float] = {
    "receipt_cpu_ms": 3.0,
    "hostile_batch_s": 90.0,
    "hostile_slowest_dangerous_s": 10.0,
    "corpus_slowest_file_s": 10.0,
    "corpus_total_s": 120.0,
}


def receipt() -> dict[str, float]:
    """CPU milliseconds per receipt: best of three rounds of 60 (other load barely matters)."""
    from jobs.core.findings import Report, make_finding
    from jobs.core.schema import load_schema
    from jobs.intake.receipts import write_receipt

    schema = load_schema()

    def finding(i: int) -> Any:
        if i % 2:
            return make_finding("bad-date", sheet="整改台账", row=2 + i, column="完成时限", col_index=6,
                                value=f"2015-13-{i}", schema=schema)  # fmt: skip
        return make_finding("too-thin", sheet="整改台账", row=2 + i, column="见物", col_index=10, length=3,
                            min_length=15, schema=schema)  # fmt: skip

    reports = [
        Report(file="/inbox/110000.xlsx", unit="110000", period="2015-02", findings=[finding(i) for i in range(2)]),
        Report(file="ok.xlsx", unit="110000", period="2015-02"),
        Report(file="/inbox/110000.xlsx", unit="110000", period="2015-02", findings=[finding(i) for i in range(40)]),
    ]
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(3):
            start = time.process_time()
            for i in range(60):
                write_receipt(reports[i % 3], Path(tmp) / f"{i}.xlsx")
            rounds.append((time.process_time() - start) / 60)
    return {"receipt_cpu_ms": min(rounds) * 1e3}


def hostile() -> dict[str, float]:
    """The hostile corpus: one validation batch, then each dangerous file read in a fresh process."""
    import polars as pl

    from jobs.validate.pipeline import validate_files
    from tests import hostile as H
    from tests.test_hostile import BOUNDED, _build

    with tempfile.TemporaryDirectory() as tmp:
        corpus = _build(Path(tmp))
        start = time.perf_counter()
        validate_files(list(corpus.values()), registry=pl.DataFrame(H.registry_rows()), period=H.PERIOD)
        batch = time.perf_counter() - start
        names = ["bomb.xlsx", "bomb-lying.xlsx", "million-rows.xlsx", "sparse-extent.xlsx", "long-cell.xlsx",
                 "xls-huge-dimensions.xls", "xls-far-cell.xls", "sst-count-bomb.xlsx"]  # fmt: skip
        done = subprocess.run([sys.executable, "-c", BOUNDED, *(str(corpus[n]) for n in names)], cwd=ROOT,
                              capture_output=True, text=True, timeout=600, check=True)  # fmt: skip
        results = json.loads(done.stdout)
        slowest = max(results[str(corpus[n])][1] for n in names)
    return {"hostile_batch_s": batch, "hostile_slowest_dangerous_s": slowest}


def _calamine_corpus() -> list[Path]:
    """The corpus's workbooks, from the copy the tests use (``tests/data/calamine``, or ``$RECTIFY_CORPUS``)."""
    from tests.corpus import CALAMINE

    folder = Path(os.environ.get("RECTIFY_CORPUS") or CALAMINE)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".md")


def corpus() -> dict[str, float]:
    """The calamine corpus read in one fresh process, as tests/test_corpus.py does."""
    from tests.test_corpus import READ_ALL

    files = _calamine_corpus()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", READ_ALL, *map(str, files)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=True)  # fmt: skip
    total = time.perf_counter() - start
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"file"')]
    return {"corpus_slowest_file_s": max(r["seconds"] for r in rows), "corpus_total_s": total}


MEASURES: dict[str, Callable[[], dict[str, float]]] = {"receipt": receipt, "hostile": hostile, "corpus": corpus}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(MEASURES), action="append", help="measure only these (repeatable)")
    args = parser.parse_args(argv)
    measured: dict[str, float] = {}
    for name in args.only or list(MEASURES):
        measured.update(MEASURES[name]())
    over = sorted(k for k, v in measured.items() if v >= BUDGETS[k])
    result = {
        "git": git_revision(),
        "measured": {k: round(v, 4) for k, v in measured.items()},
        "budgets": {k: BUDGETS[k] for k in measured},
        "over_budget": over,
    }
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "budgets-latest.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    if over:
        raise SystemExit(1)
    return result


if __name__ == "__main__":
    main()
