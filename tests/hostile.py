"""Generators of hostile and broken received files (nothing here is committed as a binary).

Each function writes one file and returns its path. Valid returns are written
with openpyxl from the schema; hostile variants are made from them by editing
the zip, or written byte by byte (zip bombs, a million rows) without ever
holding the inflated content in memory.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from jobs.core.schema import Schema, load_schema

FACTS = "清理超标办公用房12间，退还面积860平方米，节约经费40万元，通报典型案例2起。"
MINDSET = "根源在于宗旨意识淡薄、特权思想作祟，通过整改深刻认识到作风建设永远在路上。"
PERIOD = "2015-02"


def registry_rows() -> list[dict]:
    """A tiny registry (as a list of dicts in the registry frame layout)."""
    return [
        {"code": "000000", "name": "全国", "parent": None, "level": "全国", "category": "地方",
         "contact": "王", "phone": "010-1", "must_report": False},
        {"code": "110000", "name": "北京市", "parent": "000000", "level": "省级", "category": "地方",
         "contact": "李", "phone": "010-2", "must_report": True},
        {"code": "120000", "name": "天津市", "parent": "000000", "level": "省级", "category": "地方",
         "contact": "赵", "phone": "022-3", "must_report": True},
    ]


def _info_values(unit: str, name: str, period: str) -> dict[str, object]:
    return {
        "单位代码": unit, "单位名称": name, "报送期": period, "报表类型": "本级", "主要负责人": "张三",
        "填报人": "李四", "联系电话": "010-12345678", "填报日期": dt.datetime(2015, 2, 26),
    }


def _ledger_row(seq: int, *, facts: str = FACTS) -> dict[str, object]:
    return {
        "序号": seq, "问题来源": "查摆问题", "问题类别": "享乐主义", "问题描述": f"超标占用办公用房第{seq}处",
        "整改措施": "腾退超标面积", "责任领导": "王五", "整改时限": dt.datetime(2015, 1, 31),
        "整改状态": "已完成", "完成日期": dt.datetime(2015, 1, 20), "见人": "王五、赵六",
        "见物": f"{facts}（第{seq}项）", "见思想": f"{MINDSET}（第{seq}项）", "群众评价": "满意", "是否销号": "是",
    }


def build_return(*, unit: str = "110000", name: str = "北京市", period: str = PERIOD,
                 schema: Schema | None = None, ledger_rows: int = 2) -> openpyxl.Workbook:
    """A valid return as an openpyxl workbook (edit it, then save)."""
    schema = schema or load_schema()
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in schema.sheets:
        ws = wb.create_sheet(sheet.name)
        ws.append(list(sheet.headers))
        if sheet.key == "info":
            values = _info_values(unit, name, period)
            for col in sheet.columns:
                ws.append([col.name, values.get(col.name, "")])
        elif sheet.key == "accountability":
            for col in sheet.columns:
                ws.append([col.name, 1])
        elif sheet.key == "ledger":
            for seq in range(1, ledger_rows + 1):
                row = _ledger_row(seq)
                ws.append([row.get(c.name) for c in sheet.columns])
        elif sheet.key == "tasks":
            for no, title in schema.tasks.items():
                row = {"任务编号": no, "任务名称": title, "承担方式": "牵头", "排查问题数": 3,
                       "已整改数": 2, "立案查处数": 1, "进展情况": "已按要求推进整改，完成阶段目标。"}
                ws.append([row.get(c.name) for c in sheet.columns])
        elif sheet.key == "institutions":
            row = {"制度名称": "公务接待管理办法", "制度类别": "新建", "状态": "已出台",
                   "出台日期": dt.datetime(2015, 1, 10), "文号": "京办发〔2015〕1号"}
            ws.append([row.get(c.name) for c in sheet.columns])
        elif sheet.key == "members":
            row = {"姓名": "张三", "职务": "书记", "查摆问题": "调查研究不够深入", "整改措施": "每月下基层调研",
                   "落实情况": "已落实", "见物": FACTS, "见思想": MINDSET}
            ws.append([row.get(c.name) for c in sheet.columns])
    return wb


def write_return(path: Path, **options: object) -> Path:
    """Write a valid return to ``path``."""
    build_return(**options).save(path)  # type: ignore[arg-type]
    return path


# -- raw zip writing ---------------------------------------------------------

@dataclass
class RawEntry:
    """One zip entry given as already-compressed bytes and the sizes to declare."""

    name: str
    data: bytes
    crc: int
    size: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0


def stored(name: str, content: bytes) -> RawEntry:
    """An entry deflated normally, declaring its true size."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = comp.compress(content) + comp.flush()
    return RawEntry(name, data, zlib.crc32(content), len(content))


def write_raw_zip(path: Path, entries: Iterable[RawEntry]) -> Path:
    """Write a zip whose directory declares exactly what the entries say (lies included)."""
    central, count = b"", 0
    with path.open("wb") as fp:
        for e in entries:
            count += 1
            name = e.name.encode()
            offset = fp.tell()
            fp.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, e.flags, e.method, 0, 0x21,
                                 e.crc, len(e.data), e.size, len(name), 0) + name)
            fp.write(e.data)
            central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, e.flags, e.method, 0, 0x21,
                                   e.crc, len(e.data), e.size, len(name), 0, 0, 0, 0, 0, offset) + name
        start = fp.tell()
        fp.write(central)
        fp.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), start, 0))
    return path


def _entries_of(src: Path) -> list[RawEntry]:
    with zipfile.ZipFile(src) as zf:
        return [stored(i.filename, zf.read(i)) for i in zf.infolist()]


def _minimal_workbook_parts(sheet_xml_entry: RawEntry) -> list[RawEntry]:
    """The smallest OOXML package around one (possibly huge) worksheet entry."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
    odoc = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    return [
        stored("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>').encode()),
        stored("_rels/.rels", (f'<?xml version="1.0"?><Relationships {rel_ns}><Relationship Id="rId1" '
                               f'Type="{odoc}/officeDocument" Target="xl/workbook.xml"/></Relationships>').encode()),
        stored("xl/workbook.xml", (f'<?xml version="1.0"?><workbook {ns} xmlns:r="{odoc}"><sheets>'
                                   '<sheet name="整改台账" sheetId="1" r:id="rId1"/></sheets></workbook>').encode()),
        stored("xl/_rels/workbook.xml.rels", (
            f'<?xml version="1.0"?><Relationships {rel_ns}><Relationship Id="rId1" '
            f'Type="{odoc}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>').encode()),
        sheet_xml_entry,
    ]


def _repeated_deflate(head: bytes, chunk: bytes, times: int, tail: bytes) -> RawEntry:
    """Deflate ``head + chunk * times + tail`` cheaply: after a full flush the
    compressor's output for the same input is the same bytes, so one block is
    compressed once and repeated."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    last = comp.compress(tail) + comp.flush()
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + len(chunk) * times + len(tail)
    return RawEntry("xl/worksheets/sheet1.xml", first + block * times + last, crc, size)


def _sheet_stream(rows_per_chunk: int, first_row: int = 1) -> tuple[bytes, bytes, bytes]:
    head = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    # Rows without r attributes: every chunk is identical, readers count them in order.
    chunk = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * rows_per_chunk
    tail = b"</sheetData></worksheet>"
    return head, chunk, tail


def zip_bomb(path: Path, *, megabytes: int = 2048, lie: bool = False) -> Path:
    """A few-MB workbook whose sheet inflates to ``megabytes`` MB.

    With ``lie`` the directory declares a small size for the sheet (readers
    that trust the stream still inflate everything).
    """
    head, _chunk, tail = _sheet_stream(1)
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    chunk = row * (1024 * 1024 // len(row))
    entry = _repeated_deflate(head, chunk, megabytes, tail)
    if lie:
        entry.size = 64 * 1024
    return write_raw_zip(path, _minimal_workbook_parts(entry))


def many_rows(path: Path, *, rows: int = 1_000_000) -> Path:
    """One sheet with ``rows`` rows of real data (a plausible ratio, not a bomb)."""
    import random  # noqa: PLC0415

    rng = random.Random(7)
    head = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    body = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (r, r, rng.randrange(10**9))
                    for r in range(1, rows + 1))
    content = head + body + b"</sheetData></worksheet>"
    entry = stored("xl/worksheets/sheet1.xml", content)
    return write_raw_zip(path, _minimal_workbook_parts(entry))


def sparse_extent(path: Path) -> Path:
    """Two cells, A1 and XFD1048576: a 5 KB file whose grid is 17 billion cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "整改台账"
    ws["A1"] = "序号"
    ws["XFD1048576"] = "x"
    wb.save(path)
    return path


def edit_zip(src: Path, dst: Path, *, add: dict[str, bytes] | None = None,
             replace: dict[str, bytes] | None = None) -> Path:
    """Copy a workbook, adding or replacing entries."""
    entries = _entries_of(src)
    replace = replace or {}
    out = [stored(e.name, replace[e.name]) if e.name in replace else e for e in entries]
    out += [stored(name, data) for name, data in (add or {}).items()]
    return write_raw_zip(dst, out)


def with_macros(src: Path, dst: Path) -> Path:
    """The return plus a VBA project (never run: preflight only notes it)."""
    return edit_zip(src, dst, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"Attribute VB_Name = \"x\"\n" * 50})


def with_external_link(src: Path, dst: Path) -> Path:
    link = (b'<?xml version="1.0"?><externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rId1"/>'
            b"</externalLink>")
    rels = (b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'externalLinkPath" Target="file:///C:/secret/other.xlsx" TargetMode="External"/></Relationships>')
    return edit_zip(src, dst, add={"xl/externalLinks/externalLink1.xml": link,
                                   "xl/externalLinks/_rels/externalLink1.xml.rels": rels})


def encrypted_entries(src: Path, dst: Path) -> Path:
    """A zip whose entries carry the (legacy ZipCrypto) encryption flag."""
    entries = _entries_of(src)
    for e in entries:
        e.flags |= 0x1
    return write_raw_zip(dst, entries)


def truncated(src: Path, dst: Path, *, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def long_cell(src: Path, dst: Path, *, chars: int = 100_000) -> Path:
    """The return with a 见物 cell of ``chars`` characters (Excel's limit is 32,767).

    openpyxl truncates long text, so the cell is spliced into the sheet XML.
    """
    marker = "LONG-CELL-MARKER-7f3a"  # ASCII: openpyxl with lxml writes CJK as character references
    wb = openpyxl.load_workbook(src)
    ws = wb["整改台账"]
    col = [c.value for c in ws[1]].index("见物") + 1
    ws.cell(row=2, column=col, value=marker)
    tmp = dst.with_suffix(".tmp.xlsx")
    wb.save(tmp)
    with zipfile.ZipFile(tmp) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    tmp.unlink()
    name = next(n for n, data in parts.items() if marker.encode() in data)
    spliced = parts[name].replace(marker.encode(), ("整改" * (chars // 2)).encode())
    return edit_zip_parts(parts, dst, replace={name: spliced})


def edit_zip_parts(parts: dict[str, bytes], dst: Path, *, replace: dict[str, bytes]) -> Path:
    return write_raw_zip(dst, [stored(n, replace.get(n, data)) for n, data in parts.items()])


def uncached_formulas(src: Path, dst: Path) -> Path:
    """Formulas written by a tool that does not compute them (openpyxl stores no result)."""
    wb = openpyxl.load_workbook(src)
    ws = wb["专项整治"]
    headers = [c.value for c in ws[1]]
    found, fixed = headers.index("排查问题数") + 1, headers.index("已整改数") + 1
    ws.cell(row=2, column=found, value=f"={openpyxl.utils.get_column_letter(fixed)}2+1")
    ws.cell(row=3, column=found, value="=SUM(E3:E3)")
    wb.save(dst)
    return dst


def hidden_data_sheet(src: Path, dst: Path) -> Path:
    """The real ledger in a hidden sheet."""
    wb = openpyxl.load_workbook(src)
    wb["整改台账"].sheet_state = "hidden"
    wb.save(dst)
    return dst


def merged_header(src: Path, dst: Path) -> Path:
    """The ledger's header cells 见人/见物/见思想 merged into one."""
    wb = openpyxl.load_workbook(src)
    ws = wb["整改台账"]
    headers = [c.value for c in ws[1]]
    first = headers.index("见人") + 1
    ws.merge_cells(start_row=1, start_column=first, end_row=1, end_column=first + 2)
    wb.save(dst)
    return dst


def fake_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    return path


def fake_csv(path: Path) -> Path:
    path.write_bytes("单位代码,单位名称,报送期\n110000,北京市,2015-02\n".encode("gb18030"))
    return path


def fake_html(path: Path) -> Path:
    path.write_bytes('<html><head><meta charset="utf-8"></head><body><table><tr><td>整改台账</td></tr>'
                     "</table></body></html>".encode())
    return path


def not_a_zip(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 40)
    return path


def ole_container(path: Path, streams: Iterable[str]) -> Path:
    """A minimal OLE2 compound file holding empty streams with the given names.

    Enough for preflight, which only reads the directory: an encrypted .xlsx
    (``EncryptionInfo``, ``EncryptedPackage``), a Word file (``WordDocument``),
    an .xls with VBA (``Workbook``, ``_VBA_PROJECT_CUR``).
    """
    names = ["Root Entry", *streams]
    per_sector = 512 // 128
    n_dir = -(-len(names) // per_sector)
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 0x2C, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    difat = [0] + [0xFFFFFFFF] * 108  # FAT in sector 0, directory from sector 1
    struct.pack_into("<109I", header, 0x4C, *difat)
    fat = [0xFFFFFFFD] + [2 + i for i in range(n_dir - 1)] + [0xFFFFFFFE]
    fat += [0xFFFFFFFF] * (128 - len(fat))
    directory = bytearray(512 * n_dir)
    for i, name in enumerate(names):
        raw = (name + "\x00").encode("utf-16-le")
        entry = bytearray(128)
        entry[: len(raw)] = raw
        struct.pack_into("<HBB", entry, 64, len(raw), 5 if i == 0 else 2, 1)
        struct.pack_into("<III", entry, 68, 0xFFFFFFFF, 0xFFFFFFFF, 1 if i == 0 and len(names) > 1 else 0xFFFFFFFF)
        if 0 < i < len(names) - 1:
            struct.pack_into("<I", entry, 72, i + 1)  # a right-leaning chain of siblings
        struct.pack_into("<IQ", entry, 116, 0xFFFFFFFE, 0)
        directory[128 * i : 128 * (i + 1)] = entry
    path.write_bytes(bytes(header) + struct.pack("<128I", *fat) + bytes(directory))
    return path


def legacy_xls(path: Path) -> Path:
    """A small genuine .xls (xlwt)."""
    import xlwt  # noqa: PLC0415

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("基本信息")
    for r, (k, v) in enumerate([("项目", "内容"), ("单位代码", "110000"), ("报送期", "2015-02")]):
        ws.write(r, 0, k)
        ws.write(r, 1, v)
    wb.add_sheet("整改台账").write(0, 0, "序号")
    wb.save(str(path))
    return path


def xls_huge_dimensions(path: Path) -> Path:
    """An .xls whose first DIMENSIONS record declares 167 million rows (the reader would ask for 13 GB)."""
    data = bytearray(legacy_xls(path).read_bytes())
    pos = data.index(b"\x00\x02\x0e\x00")  # DIMENSIONS, 14 bytes
    struct.pack_into("<I", data, pos + 8, 167_946_200)
    path.write_bytes(bytes(data))
    return path


def xls_far_cell(path: Path) -> Path:
    """An .xls with one LABELSST cell moved to column 30964 (the reader would ask for 38 GB)."""
    data = bytearray(legacy_xls(path).read_bytes())
    pos = data.index(b"\xfd\x00\x0a\x00")  # LABELSST, 10 bytes: row, col, xf, isst
    struct.pack_into("<HH", data, pos + 4, 39_087, 30_964)
    path.write_bytes(bytes(data))
    return path


def sst_count_bomb(dst: Path) -> Path:
    """A return whose shared-strings table declares 4 billion strings (the reader would ask for 96 GB)."""
    import re  # noqa: PLC0415

    import xlsxwriter  # noqa: PLC0415

    tmp = dst.with_suffix(".sst.xlsx")
    wb = xlsxwriter.Workbook(str(tmp))  # xlsxwriter writes a shared-strings table
    ws = wb.add_worksheet("整改台账")
    ws.write("A1", "序号")
    ws.write("B1", "问题描述")
    wb.close()
    with zipfile.ZipFile(tmp) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    tmp.unlink()
    sst = re.sub(rb'uniqueCount="\d+"', b'uniqueCount="4000000000"', parts["xl/sharedStrings.xml"])
    return edit_zip_parts(parts, dst, replace={"xl/sharedStrings.xml": sst})
