"""The generated hostile corpus, through the whole validation path in one batch.

Every case gets its precise finding (code and a fragment of the Chinese
reason), the valid returns in the same batch are still accepted (the batch
continues), and the dangerous cases (zip bombs, a million rows, a 17-billion
cell extent) stay within a memory and time bound, measured in a subprocess.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from jobs.core.excel_safe import safe_filename
from jobs.intake.preflight import preflight
from tests import hostile as H
from tests.corpus import calamine

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")
SHELL_NAME = "$(touch PWNED);rm -rf `id` x.xlsx"

# name -> (accepted, expected codes, the first finding's unreadable-file sub-code or a fragment of its message)
EXPECTED: dict[str, tuple[bool, list[str], str]] = {
    "good.xlsx": (True, [], ""),
    "not-a-zip.xlsx": (False, ["unreadable-file"], "not-a-workbook"),
    "truncated.xlsx": (False, ["unreadable-file"], "zip-truncated"),
    "bomb.xlsx": (False, ["unreadable-file"], "uncompressed-too-large"),
    "bomb-lying.xlsx": (False, ["unreadable-file"], "zip-bomb-overrun"),
    "encrypted.xlsx": (False, ["unreadable-file"], "encrypted"),
    "encrypted-ooxml.xlsx": (False, ["unreadable-file"], "encrypted"),
    "macros.xlsm": (True, ["workbook-note"], "含宏，已忽略宏，仅读取数据"),
    "csv-renamed.xlsx": (False, ["unreadable-file"], "not-a-workbook"),
    "pdf-renamed.xlsx": (False, ["unreadable-file"], "not-a-workbook"),
    "html-renamed.xls": (False, ["unreadable-file"], "not-a-workbook"),
    "million-rows.xlsx": (False, ["unreadable-file"], "too-many-rows"),
    "sparse-extent.xlsx": (False, ["unreadable-file"], "too-many-rows"),
    "xls-huge-dimensions.xls": (False, ["unreadable-file"], "xls-sheet-too-large"),
    "xls-far-cell.xls": (False, ["unreadable-file"], "xls-sheet-too-large"),
    "sst-count-bomb.xlsx": (False, ["unreadable-file"], "shared-strings-count"),
    "long-cell.xlsx": (False, ["unreadable-file"], "cell-too-long"),
    "external-link.xlsx": (True, ["workbook-note"], "外部链接"),
    "hidden-ledger.xlsx": (True, ["workbook-note"], "工作表“整改台账”处于隐藏状态"),
    "merged-header.xlsx": (False, ["missing-column", "missing-column"], "缺少列“见物”"),
    SHELL_NAME: (True, [], ""),
    "../same-file-again.xlsx": (True, [], ""),
    "xlsx-named.xls": (True, ["workbook-note"], "文件扩展名与实际格式不符"),
}


def _build(root: Path) -> dict[str, Path]:
    good = H.write_return(root / "good.xlsx")
    out = {"good.xlsx": good}
    makers = {
        "not-a-zip.xlsx": H.not_a_zip,
        "bomb.xlsx": H.zip_bomb,
        "bomb-lying.xlsx": lambda p: H.zip_bomb(p, lie=True),
        "csv-renamed.xlsx": H.fake_csv,
        "pdf-renamed.xlsx": H.fake_pdf,
        "html-renamed.xls": H.fake_html,
        "million-rows.xlsx": H.many_rows,
        "sparse-extent.xlsx": H.sparse_extent,
        "xls-huge-dimensions.xls": H.xls_huge_dimensions,
        "xls-far-cell.xls": H.xls_far_cell,
        "sst-count-bomb.xlsx": H.sst_count_bomb,
    }
    for name, make in makers.items():
        out[name] = make(root / name)
    derived = {
        "truncated.xlsx": H.truncated,
        "encrypted.xlsx": H.encrypted_entries,
        "macros.xlsm": H.with_macros,
        "long-cell.xlsx": H.long_cell,
        "external-link.xlsx": H.with_external_link,
        "hidden-ledger.xlsx": H.hidden_data_sheet,
        "merged-header.xlsx": H.merged_header,
        "uncached-formulas.xlsx": H.uncached_formulas,
    }
    for name, make in derived.items():
        out[name] = make(good, root / name)
    encrypted = calamine("pass_protected.xlsx")
    out["encrypted-ooxml.xlsx"] = Path(shutil.copy(encrypted, root / "encrypted-ooxml.xlsx"))
    out[SHELL_NAME] = Path(shutil.copy(good, root / SHELL_NAME))
    (root / "sub").mkdir()
    # The same bytes under another name, reached through a '..' path.
    shutil.copy(good, root / "same-file-again.xlsx")
    out["../same-file-again.xlsx"] = root / "sub" / ".." / "same-file-again.xlsx"
    out["xlsx-named.xls"] = Path(shutil.copy(good, root / "xlsx-named.xls"))
    return out


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return _build(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def verdicts(corpus) -> dict:
    from jobs.validate.pipeline import validate_files

    names = list(corpus)
    results = validate_files([corpus[n] for n in names], registry=pl.DataFrame(H.registry_rows()), period=H.PERIOD)
    return {"by_name": dict(zip(names, results, strict=True))}


def test_every_case_is_in_the_batch(corpus):
    assert set(EXPECTED) | {"uncached-formulas.xlsx"} == set(corpus)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case_gets_its_precise_finding(verdicts, corpus, name):
    accepted, codes, fragment = EXPECTED[name]
    result = verdicts["by_name"][name]
    report = result.report
    assert report.file == str(corpus[name])
    assert report.codes() == codes, [f.message for f in report.findings]
    assert report.accepted is accepted
    if codes[:1] == ["unreadable-file"]:
        assert report.findings[0].subcode == fragment
    elif fragment:
        assert fragment in report.findings[0].message
    for finding in report.findings:
        assert CJK.search(finding.message)
    assert (result.tables is None) == (codes == ["unreadable-file"])


def test_batch_continues(verdicts):
    """The batch's time is a benchmark: bench/bench_budgets.py (``hostile``)."""
    accepted = sorted(n for n, r in verdicts["by_name"].items() if r.report.accepted)
    assert accepted == sorted(n for n, (ok, _c, _f) in EXPECTED.items() if ok)


def test_same_file_under_two_names_has_one_content_hash(verdicts):
    hashes = {verdicts["by_name"][n].content_hash for n in ("good.xlsx", SHELL_NAME, "../same-file-again.xlsx")}
    assert len(hashes) == 1
    assert len(hashes.pop()) == 64


def test_shell_characters_in_names_are_never_run(verdicts, corpus):
    root = corpus["good.xlsx"].parent
    assert not (root / "PWNED").exists()
    assert not Path("PWNED").exists()
    assert safe_filename(SHELL_NAME) == "touch_PWNED_rm_-rf_id_x.xlsx"
    assert safe_filename("../../etc/passwd") == "passwd"


def test_uncached_formulas_are_detected_by_cell(corpus):
    pf = preflight(corpus["uncached-formulas.xlsx"])
    assert pf.uncached_formulas == ("专项整治!D2", "专项整治!D3")


def test_uncached_formulas_reject_the_return_naming_the_cells(verdicts):
    report = verdicts["by_name"]["uncached-formulas.xlsx"].report
    assert not report.accepted
    first = report.findings[0]
    assert (first.code, first.subcode) == ("unreadable-file", "uncached-formulas")
    assert "专项整治!D2、专项整治!D3" in first.message  # the cells are named


def test_uncached_formulas_are_not_reported_as_empty(verdicts):
    report = verdicts["by_name"]["uncached-formulas.xlsx"].report
    assert not [f for f in report.findings if f.code == "missing-field" and f.cell in ("专项整治!D2", "专项整治!D3")]


BOUNDED = r"""
import json, sys, time
from jobs.core.errors import UnreadableFile
from jobs.intake.read import read_return
out = {}
for name in sys.argv[1:]:
    start = time.perf_counter()
    try:
        read_return(name)
        out[name] = ["read", time.perf_counter() - start]
    except UnreadableFile as exc:
        out[name] = [exc.kind, time.perf_counter() - start]
# VmHWM is this process image's own peak RSS; ru_maxrss would include the
# parent's size at fork (Linux keeps it across exec), i.e. pytest's.
status = open("/proc/self/status").read()
out["peak_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps(out, ensure_ascii=False))
"""


def _memory_cap() -> None:
    # If a check regressed, the reader would ask for tens of GB: fail this child, not the machine.
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))


def test_dangerous_cases_refused_within_bounded_memory(corpus):
    """Each file's time is a benchmark: bench/bench_budgets.py (``hostile``)."""
    names = ["bomb.xlsx", "bomb-lying.xlsx", "million-rows.xlsx", "sparse-extent.xlsx", "long-cell.xlsx",
             "xls-huge-dimensions.xls", "xls-far-cell.xls", "sst-count-bomb.xlsx"]
    proc = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", BOUNDED, *(str(corpus[n]) for n in names)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, preexec_fn=_memory_cap,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    for name in names:
        reason, _seconds = results[str(corpus[name])]
        assert reason != "read", name
    # The child's own high-water mark: interpreter, polars and fastexcel included.
    assert results["peak_mb"] < 500, results["peak_mb"]


# -- property: validation never raises on arbitrary workbooks -----------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from jobs.core.schema import load_schema  # noqa: E402

_SCHEMA = load_schema()
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=40)
_SHEET_NAME = st.one_of(
    st.sampled_from([s.name for s in _SCHEMA.sheets]),
    st.sampled_from([f" {s.name}　" for s in _SCHEMA.sheets]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="[]:*?/\\'"),
            min_size=1, max_size=31),
)
_VALUE = st.one_of(
    st.none(),
    _TEXT,
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(dt_min := __import__("datetime").date(1900, 3, 1)),
    st.sampled_from(["已完成", "推进中", "满意", "是", "否", "牵头", "不涉及", "１２", "2015年2月30日", "#NAME?",
                     "=1+1", "=SUM(A1:A3)", "=1/0", "无", "同上", "  ", "１２３４５", "2015-02", "110000"]),
    st.text(min_size=200, max_size=2000, alphabet="整改落实见人见物见思想"),
)


@st.composite
def _workbooks(draw) -> list[tuple[str, list[list[object]]]]:
    sheets, used = [], set()
    for sheet in _SCHEMA.sheets:
        if not draw(st.booleans()) and draw(st.booleans()):
            continue  # about a quarter of the sheets missing
        name = draw(_SHEET_NAME)
        if name.strip().casefold() in used or not name.strip():
            continue
        used.add(name.strip().casefold())
        headers = list(sheet.headers)
        headers = draw(st.permutations(headers)) if draw(st.booleans()) else headers
        headers = [h if draw(st.integers(0, 9)) else draw(_TEXT) for h in headers]
        rows: list[list[object]] = [[draw(_TEXT)]] if draw(st.booleans()) else []  # a title row
        rows.append(headers)
        rows += draw(st.lists(st.lists(_VALUE, max_size=len(headers) + 2), max_size=6))
        sheets.append((name, rows))
    return sheets


def _save(sheets: list[tuple[str, list[list[object]]]], path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    if not sheets:
        wb.create_sheet("Sheet1")
    wb.save(path)
    return path


# One GX run costs seconds on a busy machine, so each example is a batch of
# workbooks validated together: 5 examples x up to 6 workbooks.
@pytest.mark.slow
@settings(max_examples=5, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(books=st.lists(_workbooks(), min_size=1, max_size=6))
def test_validation_never_raises_on_random_workbooks(tmp_path, verdicts, books):
    # ``verdicts`` only makes sure GX is imported and warm before hypothesis times anything.
    from jobs.validate.pipeline import validate_files

    paths = [_save(book, tmp_path / f"random-{i}.xlsx") for i, book in enumerate(books)]
    results = validate_files(paths, registry=pl.DataFrame(H.registry_rows()), period=H.PERIOD)
    assert [r.report.file for r in results] == [str(p) for p in paths]
    for result in results:
        report = result.report
        for finding in report.findings:
            assert finding.severity in ("error", "warning")
            assert CJK.search(finding.message), finding
        if not report.accepted:
            assert report.errors


def test_same_file_under_two_names_is_stored_once(corpus, verdicts, tmp_path):
    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import init_home

    home = init_home(tmp_path / "home")
    rows = H.registry_rows()
    lines = ["单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送"]
    lines += [",".join([r["code"], r["name"], r["parent"] or "", r["level"], r["category"], r["contact"], r["phone"],
                        "是" if r["must_report"] else "否"]) for r in rows]
    (tmp_path / "registry.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    home.import_registry(tmp_path / "registry.csv", from_period=H.PERIOD)
    paths = [corpus["good.xlsx"], corpus["../same-file-again.xlsx"], corpus[SHELL_NAME]]
    result = ingest_paths(home, paths, period=H.PERIOD, receipts=False)
    assert sorted(f.status for f in result.files) == ["duplicate", "duplicate", "stored"]
    subs = home.store.submissions(H.PERIOD)
    assert subs.height == 1
    assert subs["accepted"].to_list() == [True]


def test_cli_validate_prints_one_verdict_per_hostile_file(corpus, verdicts, tmp_path):
    from click.testing import CliRunner

    from jobs.cli import main

    panic = calamine("ptgexp-truncated-operand.xls")
    names = ["good.xlsx", "bomb.xlsx", "sparse-extent.xlsx", "pdf-renamed.xlsx", SHELL_NAME]
    paths = [str(corpus[n]) for n in names] + [str(panic)]
    (tmp_path / "registry.csv").write_text(
        "单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送\n000000,全国,,全国,地方,,,否\n"
        "110000,北京市,000000,省级,地方,李,010-2,是\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", *paths, "--period", H.PERIOD, "--json",
                                       "--registry", str(tmp_path / "registry.csv"),
                                       "--receipts", str(tmp_path / "receipts")])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["file"] for line in lines] == paths
    assert [line["accepted"] for line in lines] == [True, False, False, False, True, False]
    assert lines[-1]["findings"][0]["code"] == "unreadable-file"
    assert [line["findings"][0].get("subcode") for line in lines[1:4]] == [
        "uncompressed-too-large", "too-many-rows", "not-a-workbook"]
    assert lines[-1]["findings"][0]["subcode"] == "corrupt"  # a calamine panic
    receipts = sorted(p.name for p in (tmp_path / "receipts").iterdir())
    assert len(receipts) == len(paths)
    assert not [r for r in receipts if re.search(r"[$`|;<>'\"\s(]", r)]
