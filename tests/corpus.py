"""Where the tests find the calamine corpus: ``tests/data/calamine/``, inside the repository.

The 133 workbooks of the calamine reader's test suite (MIT, with its licence)
are kept there, so a fresh clone runs every corpus test with nothing beside it.
``RECTIFY_CORPUS=DIR`` points the full-corpus tests at another copy (a newer
corpus, say); it fails the tests when it names no directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CALAMINE = ROOT / "tests" / "data" / "calamine"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")


def calamine(name: str) -> Path:
    """One of the corpus workbooks kept in ``tests/data/calamine``."""
    path = CALAMINE / name
    if not path.is_file():
        pytest.fail(f"test data missing: {path}")
    return path


def full_corpus() -> Path:
    """The whole calamine corpus: ``$RECTIFY_CORPUS`` when set, else the copy in ``tests/data/calamine``."""
    named = os.environ.get("RECTIFY_CORPUS")
    if named:
        if not Path(named).is_dir():
            pytest.fail(f"RECTIFY_CORPUS={named} is not a directory")
        return Path(named)
    return CALAMINE


def corpus_files(*suffixes: str) -> list[Path]:
    """The corpus's workbooks (those with ``suffixes``, lower case; default every workbook type)."""
    wanted = suffixes or WORKBOOK_SUFFIXES
    return sorted(p for p in full_corpus().iterdir() if p.is_file() and p.suffix.lower() in wanted)
