"""Shared fixtures. Expensive generated corpora are built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "calamine-tests"


@pytest.fixture(scope="session")
def schema():
    from jobs.schema import load_schema

    return load_schema()
