"""Re-packing verified parts uncompressed (jobs.intake.preflight.repack)."""

from __future__ import annotations

import io
import zipfile
import zlib

from jobs.intake.preflight.repack import repack, stored_zip


def test_stored_zip_reads_back_with_names_order_and_checksums() -> None:
    parts = [("[Content_Types].xml", b"<Types/>"), ("xl/worksheets/sheet1.xml", b"<worksheet>" * 50),
             ("xl/工作表.xml", "中文".encode()), ("xl/empty/", b"")]
    data = stored_zip([(n, d, zlib.crc32(d)) for n, d in parts])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None  # every checksum verifies
        assert [(i.filename, i.compress_type) for i in z.infolist()] == [(n, zipfile.ZIP_STORED) for n, _ in parts]
        assert [z.read(n) for n, _ in parts] == [d for _, d in parts]


def test_repack_needs_every_entry_whole() -> None:
    src = io.BytesIO()
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.xml", b"<a/>" * 100)
        z.writestr("b.xml", b"<b/>")
    infos = zipfile.ZipFile(io.BytesIO(src.getvalue())).infolist()
    whole = {"a.xml": b"<a/>" * 100, "b.xml": b"<b/>"}
    out = repack(infos, whole, str)
    assert out is not None
    assert zipfile.ZipFile(io.BytesIO(out)).read("a.xml") == whole["a.xml"]
    assert repack(infos, {"a.xml": whole["a.xml"]}, str) is None  # b.xml not held
    assert repack(infos, {**whole, "b.xml": b"<b/>x"}, str) is None  # not its declared size
    # over the re-pack bound the parts are left as they are (a re-pack copies every part once more)
    total = sum(len(d) for d in whole.values())
    assert repack(infos, whole, str, max_bytes=total) is not None
    assert repack(infos, whole, str, max_bytes=total - 1) is None


def test_preflight_repacks_a_small_workbook_when_asked(tmp_path) -> None:
    import openpyxl

    from jobs.intake.preflight import preflight_read

    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "单位代码"
    wb.save(path)
    unpacked = preflight_read(path, unpack=True)[0].unpacked
    assert unpacked is not None and preflight_read(path)[0].unpacked is None  # only when asked
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(io.BytesIO(unpacked)) as stored:
        assert [i.filename for i in stored.infolist()] == [i.filename for i in original.infolist()]
        assert all(stored.read(n) == original.read(n) for n in original.namelist())
        assert {i.compress_type for i in stored.infolist()} == {zipfile.ZIP_STORED}
