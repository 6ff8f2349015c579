"""Preflight: type by content, limits from the zip directory and a bounded inflate, precise reasons."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
import xlwt

from jobs.core.errors import UnreadableFile
from jobs.core.findings import make_finding
from jobs.intake.preflight import (
    Limits,
    Preflight,
    preflight,
    preflight_findings,
    preflight_read,
    uncached_cells,
)
from jobs.office.config import ConfigError
from tests import hostile as H
from tests.corpus import corpus_files

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="session")
def good(tmp_path_factory) -> Path:
    return H.write_return(tmp_path_factory.mktemp("pf") / "good.xlsx")


def _reject(path: Path, limits: Limits | None = None) -> UnreadableFile:
    """The failure preflight raises (its sub-code is what tests assert; the reason is Chinese)."""
    with pytest.raises(UnreadableFile) as info:
        preflight(path, limits=limits)
    reason = info.value.reason
    assert CJK.search(reason), reason
    return info.value


def test_valid_return_passes_with_its_sheets(good):
    pf = preflight(good)
    assert pf == Preflight(kind="xlsx", sheet_names=("基本信息", "整改台账", "专项整治", "制度建设", "责任追究", "个人整改"))


def test_kind_is_by_content_not_extension(tmp_path, good):
    renamed = shutil.copy(good, tmp_path / "really-xlsx.xls")
    assert preflight(renamed).kind == "xlsx"
    wb = xlwt.Workbook()
    wb.add_sheet("基本信息").write(0, 0, "项目")
    wb.save(str(tmp_path / "legacy.xlsx"))  # an .xls named .xlsx
    assert preflight(tmp_path / "legacy.xlsx").kind == "xls"


def test_limits_from_config_mapping():
    limits = Limits.from_mapping({"max_file_mb": 5, "max_rows": 2000, "batch_size": 200, "lock_timeout_seconds": 9})
    assert (limits.max_file_mb, limits.max_rows, limits.max_ratio) == (5.0, 2000, Limits().max_ratio)
    assert (limits.batch_size, limits.lock_timeout_seconds) == (200, 9.0)
    assert Limits.from_mapping(None) == Limits()
    for bad, allowed in (({"max_rows": 0}, "大于等于1的整数"), ({"max_ratio": "lots"}, "大于0的数"),
                         ({"max_entries": -1}, "大于等于1的整数"), ({"max_rows": 2.5}, "整数")):  # fmt: skip
        with pytest.raises(ConfigError, match=allowed):
            Limits.from_mapping(bad)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (H.fake_pdf, ("not-a-workbook", {"looks_like": "PDF文件"})),
        (H.fake_csv, ("not-a-workbook", {"looks_like": "CSV或文本文件"})),
        (H.fake_html, ("not-a-workbook", {"looks_like": "网页（HTML）文件"})),
        (H.not_a_zip, ("not-a-workbook", {"looks_like": "无法识别的格式"})),
        (lambda p: p.write_bytes(b"") and p or p, ("empty-file", {})),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)) and p or p, ("not-a-workbook", {"looks_like": "PNG图片"})),
        (lambda p: p.write_bytes(b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">')
         and p or p, ("not-a-workbook", {"looks_like": "Excel 2003 XML表格"})),
    ],
)
def test_not_a_workbook_names_what_it_looks_like(tmp_path, make, expected):
    path = make(tmp_path / "整改报表.xlsx")
    failure = _reject(path)
    assert (failure.kind, failure.params) == expected


def test_other_zip_documents(tmp_path):
    docx = tmp_path / "a.xlsx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    assert _reject(docx).kind == "word-document"
    ods = tmp_path / "b.xlsx"
    with zipfile.ZipFile(ods, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<x/>")
    assert _reject(ods).kind == "ods"
    plain = tmp_path / "c.xlsx"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert _reject(plain).kind == "zip-not-workbook"


def test_truncated_and_encrypted_zip(tmp_path, good):
    assert _reject(H.truncated(good, tmp_path / "t.xlsx")).kind == "zip-truncated"
    assert _reject(H.truncated(good, tmp_path / "t2.xlsx", keep=0.98)).kind == "zip-truncated"
    assert _reject(H.encrypted_entries(good, tmp_path / "e.xlsx")).kind == "encrypted"


def test_file_size_limit(good):
    failure = _reject(good, Limits(max_file_mb=0.001))
    assert failure.kind == "file-too-large" and failure.params["limit_mb"] == "0.001"
    assert "超过0.001MB" in failure.reason  # the parameter reaches the clerk's text


def test_zip_bomb_rejected_from_the_directory_before_inflating(tmp_path):
    bomb = H.zip_bomb(tmp_path / "bomb.xlsx", megabytes=64)
    too_big = _reject(bomb, Limits(max_uncompressed_mb=16))
    assert (too_big.kind, too_big.params) == ("uncompressed-too-large", {"limit_mb": "16"})
    assert _reject(bomb, Limits(max_ratio=50)).kind == "zip-bomb-ratio"


def test_zip_lying_about_sizes_is_caught_while_inflating(tmp_path):
    liar = H.zip_bomb(tmp_path / "liar.xlsx", megabytes=64, lie=True)
    assert _reject(liar).kind == "zip-bomb-overrun"


def test_corrupt_entry_checksum(tmp_path, good):
    entries = H._entries_of(good)
    sheet = next(e for e in entries if e.name.endswith("sheet2.xml"))
    sheet.crc ^= 0xFFFF
    assert _reject(H.write_raw_zip(tmp_path / "crc.xlsx", entries)).kind == "zip-checksum"


def test_entry_count_and_duplicates(tmp_path, good):
    assert _reject(good, Limits(max_entries=5)).kind == "too-many-entries"
    entries = H._entries_of(good)
    dup = H.write_raw_zip(tmp_path / "dup.xlsx", [*entries, entries[-1]])
    assert _reject(dup).kind == "duplicate-entries"


def _table(path: Path, rows: int, cols: int) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("整改台账")
    for r in range(rows):
        for c in range(cols):
            ws.write(r, c, r * cols + c)
    wb.close()
    return path


def test_rows_columns_and_extent_limits(tmp_path):
    table = _table(tmp_path / "t.xlsx", rows=60, cols=8)
    assert preflight(table, limits=Limits(max_rows=60, max_columns=8, max_cells=480)).kind == "xlsx"
    rows = _reject(table, Limits(max_rows=50))
    assert rows.kind == "too-many-rows" and rows.params["limit"] == 50
    columns = _reject(table, Limits(max_columns=5))
    assert columns.kind == "too-many-columns" and (columns.params["column"], columns.params["limit"]) == ("F", 5)
    cells = _reject(table, Limits(max_cells=100))
    assert cells.kind == "too-many-cells" and cells.params["limit"] == 100
    sparse = H.sparse_extent(tmp_path / "sparse.xlsx")
    assert (_reject(sparse).kind, _reject(sparse).params["row"]) == ("too-many-rows", 1048576)


def test_styled_far_cells_without_values_are_not_data(tmp_path, good):
    # Excel keeps formatting of a far cell as <c r="XFD1048576" s="1"/>; readers ignore it.
    with zipfile.ZipFile(good) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    name = "xl/worksheets/sheet2.xml"
    styled = parts[name].replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" s="0"/></row></sheetData>')
    path = H.edit_zip_parts(parts, tmp_path / "styled.xlsx", replace={name: styled})
    assert preflight(path).kind == "xlsx"


def test_long_cells_inline_and_shared(tmp_path, good):
    inline = _reject(H.long_cell(good, tmp_path / "inline.xlsx"))
    assert (inline.kind, inline.params["cell"]) == ("cell-too-long", "整改台账!K2")
    wb = xlsxwriter.Workbook(str(tmp_path / "shared.xlsx"))  # xlsxwriter writes shared strings
    ws = wb.add_worksheet("整改台账")
    ws.write("A1", "序号")
    ws.write("C7", "长" * 300)
    wb.close()
    shared = _reject(tmp_path / "shared.xlsx", Limits(max_cell_chars=200))
    assert (shared.kind, shared.params) == ("cell-too-long", {"cell": "整改台账!C7", "limit": 200})


def test_uncached_formulas_are_listed_by_cell(tmp_path, good):
    pf = preflight(H.uncached_formulas(good, tmp_path / "f.xlsx"))
    assert pf.uncached_formulas == ("专项整治!D2", "专项整治!D3")
    assert pf.uncached_total == 2
    (finding,) = preflight_findings(pf, sheets=["专项整治"])
    assert finding.code == "unreadable-file"
    assert finding.severity == "error"
    assert finding.subcode == "uncached-formulas"
    assert finding.message == make_finding("unreadable-file", subcode="uncached-formulas",
                                           cells="专项整治!D2、专项整治!D3").message
    assert uncached_cells([f"S!A{i}" for i in range(1, 13)], 40) == "、".join(f"S!A{i}" for i in range(1, 11)) + "等40处"
    assert preflight_findings(pf, sheets=["填表说明"]) == []


def test_cached_formula_results_are_not_flagged(tmp_path):
    wb = xlsxwriter.Workbook(str(tmp_path / "cached.xlsx"))
    ws = wb.add_worksheet("专项整治")
    ws.write("A1", 1)
    ws.write_formula("A2", "=A1*2", None, 2)
    ws.write_formula("A3", '=""', None, "")
    wb.close()
    assert preflight(tmp_path / "cached.xlsx").uncached_formulas == ("专项整治!A3",)
    # Excel stores a cached empty text result as t="str" with an empty <v>.
    with zipfile.ZipFile(tmp_path / "cached.xlsx") as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    name = "xl/worksheets/sheet1.xml"
    excel_like = parts[name].replace(b'<c r="A3">', b'<c r="A3" t="str">')
    path = H.edit_zip_parts(parts, tmp_path / "excel.xlsx", replace={name: excel_like})
    assert preflight(path).uncached_formulas == ()


def test_macros_external_links_hidden_sheets_are_noted(tmp_path, good):
    pf = preflight(H.with_macros(good, tmp_path / "m.xlsx"))
    assert (pf.kind, pf.warnings) == ("xlsm", ("含宏，已忽略宏，仅读取数据",))
    pf = preflight(H.with_external_link(good, tmp_path / "x.xlsx"))
    assert pf.kind == "xlsx"
    assert any("外部链接" in w for w in pf.warnings)
    pf = preflight(H.hidden_data_sheet(good, tmp_path / "h.xlsx"))
    assert pf.hidden_sheets == ("整改台账",)


def test_xml_with_dtd_is_refused(tmp_path, good):
    with zipfile.ZipFile(good) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    body = parts["xl/workbook.xml"].split(b"?>", 1)[-1]
    laughs = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' + body
    path = H.edit_zip_parts(parts, tmp_path / "dtd.xlsx", replace={"xl/workbook.xml": laughs})
    assert _reject(path).kind == "xml-dtd"


def test_broken_xml_is_corrupt(tmp_path, good):
    with zipfile.ZipFile(good) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    path = H.edit_zip_parts(parts, tmp_path / "bad.xlsx",
                            replace={"xl/worksheets/sheet1.xml": parts["xl/worksheets/sheet1.xml"][:-40]})
    assert _reject(path).kind == "xml-invalid"


def test_ole_legacy_workbook_and_macros(tmp_path):
    wb = xlwt.Workbook()
    wb.add_sheet("基本信息").write(0, 0, "项目")
    wb.save(str(tmp_path / "a.xls"))
    assert preflight(tmp_path / "a.xls") == Preflight(kind="xls")
    # A truncated OLE container is refused before the reader allocates anything for it.
    data = (tmp_path / "a.xls").read_bytes()
    (tmp_path / "cut.xls").write_bytes(data[:700])
    assert _reject(tmp_path / "cut.xls").kind == "ole-broken"


def test_reader_failures_get_their_sub_codes():
    from jobs.intake.read.sheet import read_failure

    class PanicException(BaseException):  # the name pyo3 gives a Rust panic
        pass

    assert read_failure(RuntimeError("Workbook is password protected")).kind == "encrypted"
    assert read_failure(PanicException("index out of range")).kind == "corrupt"
    assert read_failure(ValueError("Cfb error")).kind == "corrupt"
    assert read_failure(MemoryError()).kind == "too-large-to-read"
    assert read_failure(RuntimeError("cell limit exceeded")).kind == "too-large-to-read"


def test_missing_file_is_unreadable(tmp_path):
    assert _reject(tmp_path / "nope.xlsx").kind == "cannot-open"


def test_openpyxl_workbook_with_formula_in_guide_sheet_only(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "填表说明"
    wb.active["A1"] = "=1+1"
    wb.save(tmp_path / "g.xlsx")
    pf = preflight(tmp_path / "g.xlsx")
    assert pf.uncached_formulas == ("填表说明!A1",)
    assert preflight_findings(pf, sheets=["整改台账", "专项整治"]) == []


@pytest.mark.parametrize(
    ("streams", "expected"),
    [
        (["EncryptionInfo", "EncryptedPackage"], "encrypted"),
        (["WordDocument", "1Table"], "word-document"),
        (["PowerPoint Document"], "powerpoint-document"),
        (["Contents", "Equation Native"], "other-compound-document"),
    ],
)
def test_ole_containers_that_are_not_workbooks(tmp_path, streams, expected):
    path = H.ole_container(tmp_path / "整改报表.xls", streams)
    assert _reject(path).kind == expected


def test_ole_workbook_with_vba_is_read_with_a_warning(tmp_path):
    path = H.ole_container(tmp_path / "a.xls", ["Workbook", "_VBA_PROJECT_CUR", "VBA"])
    assert preflight(path) == Preflight(kind="xls", warnings=("含宏，已忽略宏，仅读取数据",))
    many = H.ole_container(tmp_path / "b.xls", [f"S{i}" for i in range(9)] + ["Book"])  # three directory sectors
    assert preflight(many) == Preflight(kind="xls")


def _sheet_workbook(path: Path, body: bytes) -> Path:
    head = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    entry = H.stored("xl/worksheets/sheet1.xml", head + body + b"</sheetData></worksheet>")
    return H.write_raw_zip(path, H._minimal_workbook_parts(entry))


def test_formatted_empty_rows_are_not_data(tmp_path):
    # Excel writes a <row> for every row given a height or style, with no cells: readers skip them.
    rows = b"".join(b'<row r="%d" ht="20" customHeight="1"/>' % r for r in range(1, 200_001))
    data = b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
    path = _sheet_workbook(tmp_path / "styled-rows.xlsx", data + rows.replace(b'<row r="1" ', b'<row r="0" ', 1))
    assert preflight(path).kind == "xlsx"
    too_many = _sheet_workbook(tmp_path / "too-many.xlsx", b"<row/>" * 1_048_577)
    assert _reject(too_many, Limits(max_ratio=10_000)).kind == "too-many-row-elements"


def test_giant_xml_token_is_refused_before_expat_buffers_it(tmp_path):
    import os

    blob = os.urandom(1_200_000).hex().encode()  # incompressible enough to pass the ratio check
    path = _sheet_workbook(tmp_path / "attr.xlsx", b'<row r="1"><c r="A1" x="' + blob + b'"/></row>')
    assert _reject(path).kind == "xml-token-too-long"


def test_unsupported_compression_method(tmp_path, good):
    entries = H._entries_of(good)
    entries[0].method = 12  # bzip2: never written by Excel
    assert _reject(H.write_raw_zip(tmp_path / "bz.xlsx", entries)).kind == "zip-compression-method"


def test_worksheets_not_listed_in_the_workbook_are_still_checked(tmp_path):
    sparse = H.sparse_extent(tmp_path / "sparse.xlsx")
    with zipfile.ZipFile(sparse) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist() if i.filename != "xl/_rels/workbook.xml.rels"}
    unlisted = H.write_raw_zip(tmp_path / "unlisted.xlsx", [H.stored(n, d) for n, d in parts.items()])
    failure = _reject(unlisted)
    assert (failure.kind, failure.params["sheet"], failure.params["row"]) == ("too-many-rows", "sheet1.xml", 1048576)


def _outcome(path: Path, *, exact: bool = False):
    try:
        return preflight(path, exact=exact)
    except UnreadableFile as exc:
        return (exc.kind, exc.params)


def test_fast_path_agrees_with_the_exact_scan(tmp_path, good):
    files = corpus_files(".xlsx", ".xlsm")  # the full corpus: opt-in, skipped without it
    files += [good, H.long_cell(good, tmp_path / "long.xlsx"), H.uncached_formulas(good, tmp_path / "f.xlsx"),
              H.sparse_extent(tmp_path / "s.xlsx"), H.merged_header(good, tmp_path / "m.xlsx"),
              _table(tmp_path / "t.xlsx", rows=300, cols=30)]
    assert len(files) > 60
    fast = [_outcome(p) for p in files]
    exact = [_outcome(p, exact=True) for p in files]
    assert fast == exact


def test_fast_path_decisions(tmp_path, good):
    from jobs.intake.preflight.fast import sheet_is_plain, strings_are_short

    def sheet(path: Path, name: str = "xl/worksheets/sheet2.xml") -> bytes:
        with zipfile.ZipFile(path) as zf:
            return zf.read(name)

    plain = sheet(good)
    assert sheet_is_plain(iter([plain[:100], plain[100:3000], plain[3000:]]), Limits())
    assert not sheet_is_plain(iter([plain[:-30]]), Limits())  # truncated
    assert not sheet_is_plain(iter([sheet(H.long_cell(good, tmp_path / "l.xlsx"))]), Limits())
    assert not sheet_is_plain(iter([sheet(H.uncached_formulas(good, tmp_path / "f.xlsx"), "xl/worksheets/sheet3.xml")]),
                              Limits())
    assert not sheet_is_plain(iter([sheet(H.sparse_extent(tmp_path / "s.xlsx"), "xl/worksheets/sheet1.xml")]), Limits())
    assert not sheet_is_plain(iter([plain]), Limits(max_columns=5))
    sst = b'<sst xmlns="x"><si><t>abc</t></si><si><r><t>de</t></r><r><t>fg</t></r></si></sst>'
    assert strings_are_short(iter([sst[:20], sst[20:]]), Limits())
    assert not strings_are_short(iter([sst]), Limits(max_cell_chars=30))


FUZZ_READ = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))
from jobs.core.errors import UnreadableFile
from jobs.intake.preflight import preflight
from jobs.intake.read import read_return
for name in sys.argv[1:]:
    print(json.dumps({"file": name}), flush=True)  # names the culprit if the process dies
    try:
        preflight(name)
        read_return(name)
        print(json.dumps({"ok": name}), flush=True)
    except UnreadableFile as exc:
        print(json.dumps({"rejected": name, "reason": exc.reason}, ensure_ascii=False), flush=True)
"""


def _mutate(data: bytes, rng) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(buf))
        blob = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        kind = rng.choice(["flip", "zero", "set", "cut", "insert"])
        if kind == "flip":
            buf[pos : pos + len(blob)] = bytes(a ^ b for a, b in zip(buf[pos : pos + len(blob)], blob, strict=False))
        elif kind == "zero":
            buf[pos : pos + len(blob)] = bytes(len(blob))
        elif kind == "set":
            buf[pos : pos + len(blob)] = blob
        elif kind == "cut":
            del buf[max(pos, 8) :]
        else:
            buf[pos:pos] = blob
    return bytes(buf)


def test_mutated_files_are_read_or_rejected_cleanly_within_memory(tmp_path, good):
    """A seeded fuzz (1,200 files): raw byte edits of an .xlsx and an .xls, and edits of
    each part inside a valid zip. One memory-capped child reads them all: calamine
    allocating by an edited count would abort it instead of exhausting the machine."""
    import json
    import random
    import subprocess
    import sys

    rng = random.Random(20261130)
    legacy = H.legacy_xls(tmp_path / "legacy.xls")
    with zipfile.ZipFile(good) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    files = []
    for i in range(400):
        files.append(tmp_path / f"x{i}.xlsx")
        files[-1].write_bytes(_mutate(good.read_bytes(), rng))
        files.append(tmp_path / f"l{i}.xls")
        files[-1].write_bytes(_mutate(legacy.read_bytes(), rng))
        name = rng.choice(sorted(parts))
        files.append(H.edit_zip_parts(parts, tmp_path / f"p{i}.xlsx", replace={name: _mutate(parts[name], rng)}))
    proc = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", FUZZ_READ, *map(str, files)],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=600, check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    last = next((line["file"] for line in reversed(lines) if "file" in line), None)
    assert proc.returncode == 0, f"reader died ({proc.returncode}) on {last}: {proc.stderr[-1500:]}"
    outcomes = [line for line in lines if "file" not in line]
    assert len(outcomes) == len(files)
    assert all(CJK.search(line["reason"]) for line in outcomes if "rejected" in line)
    assert sum("ok" in line for line in outcomes) > 50  # the fuzz also reaches the reader


def test_xls_extents_and_string_counts_the_reader_would_allocate_by(tmp_path):
    def failure(path: Path, limits: Limits | None = None) -> tuple:
        exc = _reject(path, limits)
        return exc.kind, exc.params

    assert failure(H.xls_huge_dimensions(tmp_path / "d.xls")) == ("xls-sheet-too-large", {"rows": 167946200, "columns": 2})
    assert failure(H.xls_far_cell(tmp_path / "c.xls")) == ("xls-sheet-too-large", {"rows": 39088, "columns": 30965})
    assert failure(H.sst_count_bomb(tmp_path / "s.xlsx")) == ("shared-strings-count", {"count": "4,000,000,000"})
    legacy = H.legacy_xls(tmp_path / "l.xls")
    assert preflight(legacy) == Preflight(kind="xls")
    assert failure(legacy, Limits(max_cells=5)) == ("xls-sheet-too-large", {"rows": 3, "columns": 2})
    data = bytearray(legacy.read_bytes())
    pos = data.index(b"\x00\x02\x0e\x00")
    data[pos + 4 : pos + 8] = (7450).to_bytes(4, "little")  # first row after the last: the reader would wrap
    (tmp_path / "inverted.xls").write_bytes(bytes(data))
    assert _reject(tmp_path / "inverted.xls").kind == "ole-broken"


# --- fast paths agree with the exact ones (issue #3: preflight nearly free on ordinary returns) ---


@pytest.fixture(scope="session")
def varied(tmp_path_factory, good) -> list[Path]:
    """Ordinary, hostile and odd zips: the full calamine corpus (opt-in, skipped without it) plus generated cases."""
    root = tmp_path_factory.mktemp("varied")
    files = corpus_files(".xlsx", ".xlsm")
    with zipfile.ZipFile(good) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    entries = H._entries_of(good)
    bad_crc = H._entries_of(good)
    bad_crc[3].crc ^= 1
    files += [
        good, H.long_cell(good, root / "long.xlsx"), H.uncached_formulas(good, root / "f.xlsx"),
        H.sparse_extent(root / "s.xlsx"), H.merged_header(good, root / "m.xlsx"), _table(root / "t.xlsx", 300, 30),
        H.truncated(good, root / "cut.xlsx", keep=0.98), H.encrypted_entries(good, root / "enc.xlsx"),
        H.zip_bomb(root / "liar.xlsx", megabytes=64, lie=True), H.with_macros(good, root / "mac.xlsx"),
        H.with_external_link(good, root / "ext.xlsx"), H.hidden_data_sheet(good, root / "hid.xlsx"),
        H.sst_count_bomb(root / "sst.xlsx"), H.write_raw_zip(root / "crc.xlsx", bad_crc),
        H.write_raw_zip(root / "dup.xlsx", [*entries, entries[-1]]),
        H.edit_zip_parts(parts, root / "bad.xlsx", replace={"xl/worksheets/sheet1.xml": parts["xl/worksheets/sheet1.xml"][:-40]}),
    ]
    short = H._entries_of(good)
    short[2].size += 7  # declares more than the stream holds
    files.append(H.write_raw_zip(root / "short.xlsx", short))
    return files


def test_one_call_inflate_agrees_with_the_stream(varied):
    whole = [_outcome(p) for p in varied]
    assert [_outcome(p, exact=True) for p in varied] == whole
    kinds = {o[0] for o in whole if isinstance(o, tuple)}
    assert {"zip-bomb-overrun", "zip-checksum"} <= kinds


def test_direct_directory_agrees_with_zipfile(varied):
    import jobs.intake.preflight.zip_parts as pz

    direct = 0
    for path in varied:
        data = path.read_bytes()
        listed = pz._directory(data)
        if listed is None:
            continue
        direct += 1
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
        fields = ("filename", "header_offset", "compress_size", "file_size", "CRC", "compress_type", "flag_bits")
        assert [[getattr(e, f) for f in fields] for e in listed[1]] == [[getattr(i, f) for f in fields] for i in infos]
    assert direct > 40
    fast = [_outcome(p) for p in varied]
    assert [_outcome(p, exact=True) for p in varied] == fast


def test_one_call_inflate_refuses_a_lying_size_within_its_buffer(tmp_path, good):
    import tracemalloc

    import jobs.intake.preflight.zip_parts as pz

    liar = H.zip_bomb(tmp_path / "liar.xlsx", megabytes=64, lie=True)
    data = liar.read_bytes()
    (sheet,) = [e for e in pz._directory(data)[1] if e.filename.endswith("sheet1.xml")]
    assert sheet.file_size == 64 * 1024 and sheet.compress_size * 1032 > 64 * 1024 * 1024
    tracemalloc.start()
    assert pz._inflate_whole(data, sheet) is None
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # the declared 64 KB buffer, never the 64 MB the stream holds
    assert _reject(liar).kind == "zip-bomb-overrun"
    honest = good.read_bytes()
    with zipfile.ZipFile(good) as zf:
        assert all(pz._inflate_whole(honest, e) == zf.read(e.filename) for e in pz._directory(honest)[1])


def _crafted_sheets() -> dict[str, bytes]:
    big = b"x" * 20_000
    ns = b' xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    return {
        "plain": b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1"><v>2</v></c></row>',
        # Two text runs of one cell: each run is short, the cell is not.
        "runs": b'<row r="1"><c r="A1" t="inlineStr"><is><r><t>' + big + b"</t></r><r><t>" + big + b"</t></r></is></c></row>",
        # CDATA faking a cell start inside a long value.
        "cdata": b'<row r="1"><c r="A1" t="str"><v><![CDATA[' + big + b'<c r="B1">' + big + b"]]></v></c></row>",
        "comment": b'<row r="1"><c r="A1"><!-- note --><f>1+1</f></c></row>',
        "prefixed": b'<row r="1"><x:c' + ns + b' r="A1"><x:f>1+1</x:f></x:c></row>',
        "r-not-first": b'<row r="1"><c s="0" r="XFD1048576"><v>1</v></c></row>',
        "lowercase": b'<row r="1"><c r="zz99999"><v>1</v></c></row>',
        "six-digits": b'<row r="1"><c r="A100001"><v>1</v></c></row>',
        "wide": b'<row r="1"><c r="AB999"><v>1</v></c></row>',
        "pi": b'<row r="1"><c r="A1"><?x y?><v>1</v></c></row>',
        "implicit": b'<row r="1"><c><v>1</v></c><c><v>2</v></c></row>',
    }


@pytest.mark.parametrize("name", sorted(_crafted_sheets()))
def test_fast_proof_is_sound_on_crafted_sheets(tmp_path, name):
    """Whatever the byte-level proof accepts, the exact scan accepts too (same outcome)."""
    path = _sheet_workbook(tmp_path / f"{name}.xlsx", _crafted_sheets()[name])
    fast = _outcome(path)
    assert _outcome(path, exact=True) == fast
    expected = {"runs": "cell-too-long", "cdata": "cell-too-long", "comment": "uncached-formulas",
                "prefixed": "uncached-formulas", "r-not-first": "too-many-rows", "lowercase": "too-many-cells",
                "six-digits": "too-many-rows"}
    if name in expected:
        kind = fast[0] if isinstance(fast, tuple) else "uncached-formulas" if fast.uncached_formulas else None
        assert kind == expected[name]


def test_fast_proof_on_whole_bytes_and_chunks(good):
    from jobs.intake.preflight.fast import sheet_is_plain

    with zipfile.ZipFile(good) as zf:
        sheets = [zf.read(n) for n in zf.namelist() if "/worksheets/" in n]
    for body in sheets:
        pieces = [body[i : i + 97] for i in range(0, len(body), 97)]
        assert sheet_is_plain(body, Limits()) is sheet_is_plain(iter(pieces), Limits()) is True
    wide = Limits(max_columns=26, max_rows=99_999, max_cells=26 * 99_999)
    assert sheet_is_plain(sheets[1], wide)
    assert not sheet_is_plain(sheets[1], Limits(max_columns=20))  # no box fits: the exact scan decides


def test_ole_inspected_once_agrees_with_the_separate_readers(tmp_path):
    from jobs.intake.preflight.ole import inspect_ole, ole_entry_names, workbook_info

    paths = [H.legacy_xls(tmp_path / "l.xls"), H.xls_far_cell(tmp_path / "c.xls"),
             H.xls_huge_dimensions(tmp_path / "d.xls"), H.ole_container(tmp_path / "o.xls", ["Workbook", "VBA"])]
    for path in paths:
        cap = 30 * 1024 * 1024
        assert inspect_ole(path.read_bytes(), max_bytes=cap) == (ole_entry_names(path, max_bytes=cap),
                                                                   workbook_info(path, max_bytes=cap))



def test_parts_read_once_per_content_are_reused_as_copies(good):
    from jobs.intake.preflight.sheet_xml import relationships, sheet_entries

    with zipfile.ZipFile(good) as zf:
        rels, workbook = zf.read("xl/_rels/workbook.xml.rels"), zf.read("xl/workbook.xml")
    first = relationships((rels,), "xl", part="a.rels")
    first.append(("junk", "", ""))
    assert relationships((rels,), "xl", part="b.rels") == relationships(iter([rels]), "xl", part="c.rels") == first[:-1]
    assert relationships((rels,), "", part="d.rels") != first[:-1]  # resolved against its own base
    names = [name for name, _state, _rid in sheet_entries((workbook,), part="wb.xml")]
    assert names == ["基本信息", "整改台账", "专项整治", "制度建设", "责任追究", "个人整改"]
    broken = workbook[:-20]
    for part in ("one.xml", "two.xml"):  # failures are not remembered: each names its own part
        with pytest.raises(UnreadableFile, match=part):
            sheet_entries((broken,), part=part)


def test_verified_parts_are_reused_only_for_the_same_bytes_size_and_checksum(tmp_path, good):
    honest = H.write_raw_zip(tmp_path / "honest.xlsx", H._entries_of(good))
    assert preflight(honest).kind == "xlsx"  # every part verified once, then remembered
    for field, change in (("crc", lambda e: setattr(e, "crc", e.crc ^ 1)),
                          ("size", lambda e: setattr(e, "size", e.size - 1))):
        entries = H._entries_of(good)
        change(next(e for e in entries if e.name == "xl/styles.xml"))
        assert _reject(H.write_raw_zip(tmp_path / f"{field}.xlsx", entries)).kind in ("zip-checksum", "zip-bomb-overrun")


def test_preflight_read_hands_back_the_bytes_unless_a_binary_workbook_part_is_there(tmp_path, good):
    pf, data = preflight_read(good)
    assert pf == preflight(good) and data == good.read_bytes()
    wb = xlwt.Workbook()
    wb.add_sheet("基本信息").write(0, 0, "项目")
    wb.save(str(tmp_path / "legacy.xls"))
    assert preflight_read(tmp_path / "legacy.xls") == (Preflight(kind="xls"), (tmp_path / "legacy.xls").read_bytes())
    # a reader sniffing the format from bytes could open an .xlsb part preflight never parsed
    for part in ("xl/workbook.bin", "xl/_rels/Workbook.bin.rels"):
        mixed = tmp_path / f"mixed-{part.count('/')}.xlsx"
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(mixed, "w", zipfile.ZIP_DEFLATED) as out:
            for info in src.infolist():
                out.writestr(info, src.read(info))
            out.writestr(part, b"\0" * 64)
        pf, data = preflight_read(mixed)
        assert pf.kind == "xlsx" and data is None


def _reference_stream_info(stream: bytes):
    """The plain record-by-record walk ``stream_info`` must agree with (two reads per cell record)."""
    import struct

    from jobs.intake.preflight.ole import SheetExtent, WorkbookInfo

    extents, rows, cols, started = [], 0, 0, False
    pos, end, padding = 0, len(stream), len(stream.rstrip(b"\0"))
    while pos + 4 <= end and pos < padding:
        kind, length = struct.unpack_from("<HH", stream, pos)
        body, pos = pos + 4, pos + 4 + length
        size = min(pos, end) - body
        if kind in (0x0006, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E):
            if length >= 4 and body + 4 <= end:
                row, col = struct.unpack_from("<HH", stream, body)
                rows, cols = max(rows, row + 1), max(cols, col + 1)
        elif kind in (0x00BD, 0x00BE):
            if size >= 6:
                row, first = struct.unpack_from("<HH", stream, body)
                last = struct.unpack_from("<H", stream, body + size - 2)[0]
                rows, cols = max(rows, row + 1), max(cols, first + 1, last + 1)
        elif kind == 0x002F:
            return WorkbookInfo(encrypted=True, extents=extents)
        elif kind == 0x0809:
            if started:
                extents.append(SheetExtent(rows=rows, columns=cols))
            rows, cols, started = 0, 0, True
        elif kind == 0x0200 and size >= 8:
            fmt = "<IIHH" if size >= 14 else "<HHHH"
            first_row, last_row, first_col, last_col = struct.unpack_from(fmt, stream, body)
            if first_row > last_row or first_col > last_col:
                return None
            rows, cols = max(rows, last_row), max(cols, last_col)
    if started:
        extents.append(SheetExtent(rows=rows, columns=cols))
    return WorkbookInfo(encrypted=False, extents=extents)


def test_xls_record_walk_agrees_with_the_plain_walk_on_cut_and_mutated_streams(tmp_path):
    import random

    from jobs.intake.preflight.ole import _container, stream_info

    wb = xlwt.Workbook()
    for s in range(3):
        ws = wb.add_sheet(f"表{s}")
        for r in range(40):
            for c in range(6):
                ws.write(r, c, f"文本{r}" if c % 2 else r * c + 0.5)
    wb.save(str(tmp_path / "w.xls"))
    container = _container((tmp_path / "w.xls").read_bytes(), 1 << 30)
    entry = next(e for e in container.entries if e.name.lower() == "workbook")
    stream = container.stream(entry)
    assert stream_info(stream) == _reference_stream_info(stream) and len(stream_info(stream).extents) == 4
    rng = random.Random(7)
    for _ in range(300):
        cut = stream[: rng.randrange(len(stream) + 1)]
        mutated = bytearray(stream)
        for _ in range(rng.randrange(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        for case in (cut, bytes(mutated), cut + b"\0" * rng.randrange(12), stream[: rng.randrange(9)]):
            assert stream_info(case) == _reference_stream_info(case)
    # cell records of every short length, whole or cut, at the end of the stream
    bof = (0x0809).to_bytes(2, "little") + (4).to_bytes(2, "little") + b"\x00\x06\x10\x00"
    for kind in (0x00FD, 0x00BD, 0x0200):
        for length in range(16):
            record = kind.to_bytes(2, "little") + length.to_bytes(2, "little") + bytes(range(9, 9 + length))
            for tail in range(len(record) + 1):
                case = bof + record[:tail]
                assert stream_info(case) == _reference_stream_info(case), (kind, length, tail)
                assert stream_info(case + bof) == _reference_stream_info(case + bof), (kind, length, tail)


def test_one_pass_for_formulas_and_the_first_box_agrees_with_the_two(good):
    from jobs.intake.preflight.fast import _FORMULA, _formula_or_first, _ref_tiers

    with zipfile.ZipFile(good) as zf:
        pieces = [zf.read(n) for n in zf.namelist() if "/worksheets/" in n]
    pieces += [*_crafted_sheets().values(), b'<c r="A1"><f>1</f>', b"<f/>", b"<f>", b"<fx>", b'<c  r="A1">',
               b'<c r="AA1">', b"<c>", b"<cols>", b"<c/>", b"<c\tr=\"A1\">"]
    for limits in (Limits(), Limits(max_columns=26, max_rows=99_999, max_cells=26 * 99_999), Limits(max_rows=999)):
        first = _ref_tiers(limits.max_rows, limits.max_columns, limits.max_cells)[0]
        quick = _formula_or_first(limits.max_rows, limits.max_columns, limits.max_cells)
        for piece in pieces:
            assert (quick.search(piece) is None) == (_FORMULA.search(piece) is None and first.search(piece) is None)
    assert _formula_or_first(1, 1, 1) is None  # no box fits: no fast proof at all


def test_the_rows_per_sheet_cap_rejects_before_any_reader_naming_the_sheet_and_the_cap(tmp_path):
    table = _table(tmp_path / "t.xlsx", rows=60, cols=3)
    assert preflight(table, limits=Limits(max_rows_per_sheet=60)).kind == "xlsx"
    capped = _reject(table, Limits(max_rows_per_sheet=50))
    assert capped.kind == "sheet-rows-over-cap"
    assert capped.params == {"sheet": "整改台账", "row": 60, "limit": 50}  # the real last row, not the 51st
    assert "工作表“整改台账”数据到第60行" in capped.reason and "最多50行" in capped.reason
    # the default applies, and the byte-level fast proof never lets a sheet over it through
    assert Limits().max_rows_per_sheet == 5000
    big = _table(tmp_path / "big.xlsx", rows=5001, cols=1)
    assert _reject(big).params == {"sheet": "整改台账", "row": 5001, "limit": 5000}
    assert preflight(_table(tmp_path / "ok.xlsx", rows=5000, cols=1)).kind == "xlsx"
    # a legacy .xls: its sheets are numbered (the extent check names no sheet)
    wb = xlwt.Workbook()
    wb.add_sheet("基本信息").write(0, 0, "项目")
    ledger = wb.add_sheet("整改台账")
    for r in range(60):
        ledger.write(r, 0, r)
    wb.save(str(tmp_path / "t.xls"))
    legacy = _reject(tmp_path / "t.xls", Limits(max_rows_per_sheet=50))
    assert legacy.kind == "sheet-rows-over-cap" and legacy.params == {"sheet": "第2张工作表", "row": 60, "limit": 50}
