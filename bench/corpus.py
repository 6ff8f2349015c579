"""Benchmark corpora: about N returns (N registry units; a few do not report) from the sample generator, cached in bench/.cache.

A corpus is generated once per (N, seed, defect rate, generator+schema
fingerprint) and reused by later runs; a ``.complete`` marker is written last,
so an interrupted generation is redone, never half-used.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import CACHE, ROOT

PERIOD = "2015-02"


def fingerprint() -> str:
    """Hash of the generator's code and the schema: a change regenerates the corpora."""
    h = hashlib.sha256()
    sources = sorted((ROOT / "jobs" / "tooling" / "samples").glob("*.py")) + sorted((ROOT / "schemas").glob("*.yaml"))
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def corpus_dir(n: int, *, seed: int, defects: float) -> Path:
    return CACHE / f"corpus-n{n}-s{seed}-d{defects:g}-{fingerprint()}"


def _manifest(corpus: Path) -> dict:
    return json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))


def registry_path(corpus: Path) -> Path:
    """The registry workbook the generator wrote next to the returns."""
    return corpus / _manifest(corpus)["registry"]


def list_returns(corpus: Path) -> list[Path]:
    """Every generated file of the corpus for ``PERIOD``, in manifest order."""
    return [corpus / f["path"] for f in _manifest(corpus)["files"] if f.get("period", PERIOD) == PERIOD]


def ensure_corpus(n: int, *, seed: int = 7, defects: float = 0.1, log=print) -> tuple[Path, float | None]:
    """The cached corpus of ``n`` returns for ``PERIOD``; generates it if missing.

    Returns the directory and the generation time in seconds (``None`` if cached).
    """
    target = corpus_dir(n, seed=seed, defects=defects)
    if (target / ".complete").exists():
        return target, None
    if target.exists():
        shutil.rmtree(target)
    for stale in CACHE.glob(f"corpus-n{n}-s{seed}-d{defects:g}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # older generator versions
    target.parent.mkdir(parents=True, exist_ok=True)
    log(f"generating {n} returns into {target} ...")
    start = time.perf_counter()
    # a separate process: the generator forks its own pool
    code = (
        "from jobs.tooling.samples import generate_samples; "
        f"generate_samples({str(target)!r}, units={n}, periods=({PERIOD!r},), defects={defects}, seed={seed})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    took = time.perf_counter() - start
    (target / ".complete").write_text(f"{n} returns in {took:.1f} s\n", encoding="utf-8")
    return target, took
