"""Re-packing verified parts uncompressed (jobs.zip_stored)."""

from __future__ import annotations

import io
import zipfile
import zlib

from jobs.zip_stored import repack, stored_zip


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
