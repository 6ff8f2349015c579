"""Whether a received file is complete enough to judge: the cheap check ``watch`` makes first.

A file still being copied has a stable size whenever the copy pauses (a slow
network share, a mail client writing in pieces); reading it then would reject
the unit's good return as damaged. A workbook ends with what its readers need
first, so its completeness shows without reading its content:

- a ``.xlsx`` (ZIP) ends with the end-of-central-directory record, and the
  central directory it points at ends right before it;
- an ``.xls`` (OLE2) must hold its header, FAT and directory, and every
  sector its FAT marks as used (the same bounded parse preflight makes).

An empty file, or one whose first bytes are still zeros (a copy that
reserved the size first) or a cut workbook signature, may still become a
workbook: it waits too. A file that began as anything else (a PDF, a text
file) will never be a workbook, however long it is written: it is judged at
once, as are links, FIFOs and devices (never opened here: preflight refuses them).
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path
from typing import BinaryIO, Literal

from jobs.core.files import RefusedFile, open_regular
from jobs.intake.preflight.ole import container_complete

Completeness = Literal["complete", "incomplete", "not-a-file"]

_MB = 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"
_MAX_COMMENT = 0xFFFF


def completeness(path: str | Path, *, max_mb: float) -> Completeness:
    """Whether ``path`` can be judged now.

    ``"complete"``: a whole workbook, or a file that is no workbook at all
    (judged as it is); ``"incomplete"``: it may still be growing into a
    workbook (empty, zeros, a cut signature, no workbook's ending yet);
    ``"not-a-file"``: a link, FIFO, device or folder (never opened: preflight refuses it).

    A file over ``max_mb`` is ``"complete"``: only its size decides its verdict.
    """
    try:
        info = os.lstat(path)
    except OSError:
        return "incomplete"
    if not stat.S_ISREG(info.st_mode):
        return "not-a-file"
    if info.st_size == 0:
        return "incomplete"
    if info.st_size > max_mb * _MB:
        return "complete"
    try:
        with open_regular(path) as fp:
            head = fp.read(8)
            if head.startswith(_ZIP_MAGIC):
                return "complete" if _zip_complete(fp, info.st_size) else "incomplete"
            if head == _OLE_MAGIC:
                fp.seek(0)
                data = fp.read(info.st_size)
                whole = container_complete(data, max_bytes=int(max_mb * _MB))
                return "complete" if whole else "incomplete"
    except RefusedFile:
        return "not-a-file"  # replaced by a link or FIFO since the lstat
    except OSError:
        return "incomplete"
    cut = len(head) < 8 and (_ZIP_MAGIC.startswith(head) or _OLE_MAGIC.startswith(head))
    return "incomplete" if cut or not head.strip(b"\0") else "complete"


def _zip_complete(fp: BinaryIO, size: int) -> bool:
    """The last end-of-central-directory record and the directory it points at are in place."""
    tail_len = min(size, _EOCD_SIZE + _MAX_COMMENT + 20)
    fp.seek(size - tail_len)
    tail: bytes = fp.read(tail_len)
    pos = tail.rfind(_EOCD)
    while pos >= 0:
        if pos + _EOCD_SIZE <= len(tail):
            cd_size, cd_offset, comment = struct.unpack_from("<IIH", tail, pos + 12)
            end = size - tail_len + pos  # the record's offset in the file
            if pos + _EOCD_SIZE + comment == len(tail):  # the record (and its comment) end the file
                if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
                    return _zip64_complete(fp, tail, pos, end)
                return cd_offset + cd_size <= end
        pos = tail.rfind(_EOCD, 0, pos)
    return False


def _zip64_complete(fp: BinaryIO, tail: bytes, pos: int, end: int) -> bool:
    if pos < 20 or tail[pos - 20 : pos - 16] != _ZIP64_LOCATOR:
        return False
    record = struct.unpack_from("<Q", tail, pos - 20 + 8)[0]
    if record >= end:
        return False
    fp.seek(record)
    head: bytes = fp.read(56)
    if len(head) < 56 or head[:4] != _ZIP64_END:
        return False
    cd_size, cd_offset = struct.unpack_from("<QQ", head, 40)
    return cd_offset + cd_size <= record
