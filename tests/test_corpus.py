"""The calamine corpus: 133 real-world oddities and crash reproductions, none a return.

Each must be rejected cleanly: preflight or the reader raises ``UnreadableFile``
with a Chinese reason, or the workbook is read and lacks the return's sheets;
through ``validate_files`` every file gets a verdict (never accepted) and the
batch continues. The read pass runs in a subprocess so a crash (a Rust abort)
would fail the test instead of killing pytest, and its peak memory is measured.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import full_corpus

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")
PEAK_MB = 500

READ_ALL = r"""
import json, sys, time
from jobs.core.errors import UnreadableFile
from jobs.intake.preflight import preflight
from jobs.intake.read import read_return
for name in sys.argv[1:]:
    start = time.perf_counter()
    row = {"file": name}
    try:
        row["kind"] = preflight(name).kind
        raw = read_return(name)
        row["missing"] = raw.missing_sheets
    except UnreadableFile as exc:
        row["reason"], row["kind"] = exc.reason, exc.kind
    except BaseException as exc:  # reported, so the test names the escaping exception
        row["escaped"] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - start
    print(json.dumps(row, ensure_ascii=False), flush=True)
# VmHWM: this image's own peak (ru_maxrss would include the parent's size at fork).
print(json.dumps({"peak_mb": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024}))
"""

# What each notable file must come to (its unreadable-file sub-code).
EXPECTED_KINDS = {
    "pass_protected.xlsx": "encrypted",
    "pass_protected.xlsb": "encrypted",
    "issue_385.xls": "encrypted",
    "any_sheets.ods": "ods",
    "pass_protected.ods": "ods",
    "issue_594_dos.ods": "ods",
    "issue_666_panic.xlsb": "xlsb",
    "adhocallbabynames1996to2016.xls": "empty-file",
    "too_small.xls": "not-a-workbook",
    "issue252.xlsx": "zip-bomb-overrun",
    "ptgexp-truncated-operand.xls": "corrupt",  # a calamine panic
    "OOM_alloc3.xls": "ole-broken",
}


@pytest.fixture(scope="session")
def files() -> list[Path]:
    """The full corpus (opt-in: skipped, saying so, without it)."""
    return sorted(p for p in full_corpus().iterdir() if p.is_file() and p.suffix != ".md")


@pytest.fixture(scope="session")
def corpus_read(files) -> dict:
    proc = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", READ_ALL, *map(str, files)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, f"reader process died ({proc.returncode}) after {len(lines) - 1} files: {proc.stderr[-2000:]}"
    return {"rows": {Path(r["file"]).name: r for r in lines[:-1]}, "peak_mb": lines[-1]["peak_mb"]}


def test_corpus_has_the_workbooks(files):
    assert len(files) >= 130


def test_every_corpus_file_is_rejected_cleanly(corpus_read, files):
    rows = corpus_read["rows"]
    assert set(rows) == {p.name for p in files}
    for name, row in rows.items():
        assert "escaped" not in row, f"{name}: {row['escaped']}"
        if "reason" in row:
            assert CJK.search(row["reason"]), (name, row["reason"])
        else:
            assert row["missing"], f"{name} was read as a complete return"
    unreadable = sum("reason" in r for r in rows.values())
    assert unreadable >= 30  # .ods, .xlsb, encrypted, corrupt, panicking (34 measured)


@pytest.mark.parametrize(("name", "kind"), sorted(EXPECTED_KINDS.items()))
def test_notable_corpus_files_get_their_reason(corpus_read, name, kind):
    row = corpus_read["rows"][name]
    assert "reason" in row, row
    assert row["kind"] == kind


def test_corpus_bounded_in_memory(corpus_read):
    """Time per file and in all is a benchmark: bench/bench_budgets.py (``corpus``)."""
    assert corpus_read["peak_mb"] < PEAK_MB


@pytest.mark.slow
def test_corpus_through_validate_files_never_accepts_and_continues(corpus_read, files):
    from jobs.validate.pipeline import validate_files

    results = validate_files(files, registry=None, period="2015-02")
    assert len(results) == len(files)
    for path, result in zip(files, results, strict=True):
        report = result.report
        assert report.file == str(path)
        assert not report.accepted, path.name
        codes = report.codes()
        if "reason" in corpus_read["rows"][path.name]:
            assert codes == ["unreadable-file"], (path.name, codes)
            assert report.findings[0].subcode == corpus_read["rows"][path.name]["kind"], path.name
            assert result.tables is None
        else:
            assert "missing-sheet" in codes, (path.name, codes)
        for finding in report.findings:
            assert CJK.search(finding.message), (path.name, finding)
