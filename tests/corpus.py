"""Where the tests find the calamine corpus.

``tests/data/calamine/`` holds the few corpus workbooks the ordinary tests need
(with the corpus licence). The full 133-file corpus is opt-in: ``RECTIFY_CORPUS=DIR``
names it; otherwise it is used when present beside the repository
(``../shared/corpus/calamine-tests``). Tests that need it are skipped, saying
so, when it is absent, and fail when ``RECTIFY_CORPUS`` names no directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CALAMINE = ROOT / "tests" / "data" / "calamine"
BESIDE = ROOT.parent / "shared" / "corpus" / "calamine-tests"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")


def calamine(name: str) -> Path:
    """One of the corpus workbooks kept in ``tests/data/calamine``."""
    path = CALAMINE / name
    if not path.is_file():
        pytest.fail(f"test data missing: {path}")
    return path


def full_corpus() -> Path:
    """The full calamine corpus directory; skips the calling test when it is not there."""
    named = os.environ.get("RECTIFY_CORPUS")
    if named:
        if not Path(named).is_dir():
            pytest.fail(f"RECTIFY_CORPUS={named} is not a directory")
        return Path(named)
    if BESIDE.is_dir():
        return BESIDE
    pytest.skip(f"full calamine corpus not found at {BESIDE}; set RECTIFY_CORPUS=DIR to run this test")
    raise AssertionError  # unreachable: pytest.skip raises


def corpus_files(*suffixes: str) -> list[Path]:
    """The full corpus's workbooks (those with ``suffixes``, lower case; default every workbook type)."""
    wanted = suffixes or WORKBOOK_SUFFIXES
    return sorted(p for p in full_corpus().iterdir() if p.is_file() and p.suffix.lower() in wanted)
