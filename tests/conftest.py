"""Shared fixtures. Expensive generated corpora are built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def home_with_registry(root: Path, registry_csv: str, *, from_period: str = "2015-01"):
    """A new office home under ``root / "home"`` with the registry given as CSV text."""
    from jobs.office.home import init_home

    home = init_home(root / "home")
    (root / "registry.csv").write_text(registry_csv, encoding="utf-8")
    home.import_registry(root / "registry.csv", from_period=from_period)
    return home


@pytest.fixture(scope="session")
def schema():
    from jobs.core.schema import load_schema

    return load_schema()


# Parameters of the shared generated sample set (small: ~80 returns, two periods).
GENERATED_SAMPLES = {"units": 40, "periods": ("2015-01", "2015-02"), "defects": 0.38, "seed": 7}


@pytest.fixture(scope="session")
def generated_samples(tmp_path_factory) -> Path:
    """A sample set from ``jobs.tooling.samples.generate_samples``, built once per session.

    Returns the output directory: ``registry.xlsx``, ``returns/<period>/<unit>.xlsx``
    and ``manifest.json`` (the oracle: every file's injected defects and cells).
    """
    from jobs.tooling.samples import generate_samples

    out = tmp_path_factory.mktemp("generated_samples")
    generate_samples(out, processes=0, **GENERATED_SAMPLES)
    return out
