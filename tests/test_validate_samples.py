"""The sample generator's manifest is the oracle: every injected defect is found at its cell, no other error.

Runs on the committed ``samples/`` set and on a freshly generated set where
every return carries a defect (both variants of each injector).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def _check(folder: Path) -> tuple[set[str], list[str]]:
    """Validate every period of a generated folder; return the codes seen and the mismatches."""
    from jobs.office.registry import load_registry
    from jobs.validate import validate_files

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    registry = load_registry(folder / manifest["registry"])
    by_period: dict[str, list[dict]] = {}
    for entry in manifest["files"]:
        by_period.setdefault(entry["period"], []).append(entry)
    codes: set[str] = set()
    problems: list[str] = []
    for period, entries in sorted(by_period.items()):
        paths = [folder / e["path"] for e in entries]
        arrival = {p: dt.datetime.fromisoformat(e["received_at"]) for p, e in zip(paths, entries, strict=True)}
        results = validate_files(paths, registry=registry, period=period, received_at=arrival)
        for entry, result in zip(entries, results, strict=True):
            found = {(f.code, f.sheet, f.column, f.cell) for f in result.report.findings}
            wanted = {(d["code"], d["sheet"], d["column"], d["cell"]) for d in entry["defects"]}
            codes |= {d["code"] for d in entry["defects"]}
            for want in wanted:
                code, sheet, column, cell = want
                # sheet-level defects name no cell; when the manifest has one, it must match exactly
                hit = any(f[0] == code and (cell is None or f[3] == cell) and (sheet is None or f[1] == sheet)
                          for f in found)
                if not hit:
                    problems.append(f"{entry['path']}: missed {want}; got {sorted(found, key=str)}")
            extra = [(f.code, f.cell) for f in result.report.errors
                     if not any(f.code == w[0] for w in wanted)]
            if extra:
                problems.append(f"{entry['path']}: unexpected errors {extra}")
            if bool(entry["defects"]) and any(d["severity"] == "error" for d in entry["defects"]):
                if result.report.accepted:
                    problems.append(f"{entry['path']}: accepted despite an injected error")
            elif not result.report.accepted:
                problems.append(f"{entry['path']}: rejected without an injected error")
    return codes, problems


@pytest.mark.skipif(not (SAMPLES / "manifest.json").exists(), reason="no committed samples/")
def test_committed_samples_match_their_manifest():
    codes, problems = _check(SAMPLES)
    assert problems == []
    assert len(codes) >= 20


@pytest.mark.slow
def test_generated_defects_are_all_found(tmp_path_factory, schema):
    from jobs.tooling.samples import generate_samples

    folder = tmp_path_factory.mktemp("samples-all-defects")
    generate_samples(folder, units=60, periods=("2015-02",), defects=1.0, seed=23, processes=0)
    codes, problems = _check(folder)
    assert problems == []
    # every injectable code came up at least once
    assert len(codes) >= 25, sorted(set(schema.findings) - codes)


@pytest.mark.skipif(not (SAMPLES / "manifest.json").exists(), reason="no committed samples/")
def test_verdicts_without_tables_are_the_same_verdicts():
    """``keep_tables=False`` (rectify validate) skips the per-return tables and changes no verdict."""
    from jobs.office.registry import load_registry
    from jobs.validate import validate_files

    manifest = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))
    entries = [e for e in manifest["files"] if e["period"] == "2015-02"][:30]
    paths = [SAMPLES / e["path"] for e in entries]
    arrival = {p: dt.datetime.fromisoformat(e["received_at"]) for p, e in zip(paths, entries, strict=True)}
    options = {"registry": load_registry(SAMPLES / manifest["registry"]), "period": "2015-02", "received_at": arrival}
    kept = validate_files(paths, **options)
    lean = validate_files(paths, keep_tables=False, **options)
    assert [r.report.to_dict() for r in lean] == [r.report.to_dict() for r in kept]
    assert all(r.tables == {} for r in lean if r.tables is not None)
    assert any(r.tables for r in kept) and any(r.tables is not None for r in lean)
