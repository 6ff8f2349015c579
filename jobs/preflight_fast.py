"""Byte-level fast paths for preflight's XML checks (regular expressions in C, no callbacks).

Most returns are small and plain; proving that with a regex pass is several
times cheaper than the exact expat scan. Each function returns ``True`` only
when the part is certainly within the limits and holds nothing to report
(no formulas, no long text, an extent within bounds); anything else returns
``False`` and the caller runs the exact scan of :mod:`jobs.preflight_xml`,
which names the sheet or cell. Bytes bound characters from above, so a text
run or string item no longer in bytes than the character limit is safe.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.preflight import Limits

_PREFIX = rb"<(?:[A-Za-z_][\w.-]*:)?"
_CELL = re.compile(_PREFIX + rb"c[\s/>]")
_CELL_REF = re.compile(_PREFIX + rb"c\s[^>]*?\br=[\"']([A-Za-z]{1,3})(\d{1,7})[\"']")
_FORMULA = re.compile(_PREFIX + rb"f[\s/>]")
_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?si>")
_ROW = re.compile(_PREFIX + rb"row[\s/>]")
_SHEET_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?worksheet>\s*$")
_EXCEL_MAX_ROWS = 1_048_576
_MAX_CARRY = 1024 * 1024


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def sheet_is_plain(chunks: Iterator[bytes], limits: Limits) -> bool:
    """True when the streamed sheet has no formula, no text run over the cell
    limit, explicit cell references only, and a cell extent within the limits."""
    long_run = re.compile(rb">[^<]{%d,}" % (limits.max_cell_chars + 1))
    carry = b""
    max_row = max_col = rows = 0
    for chunk in itertools.chain(chunks, [None]):
        if chunk is None:
            if not _SHEET_END.search(carry):
                return False  # truncated or not a worksheet: the exact scan says which
            head, carry = carry, b""
        else:
            buf = carry + chunk
            cut = buf.rfind(b"<")
            cut = len(buf) if cut < 0 else cut
            head, carry = buf[:cut], buf[cut:]
            if len(carry) > _MAX_CARRY:
                return False
        if _FORMULA.search(head) or long_run.search(head):
            return False
        rows += len(_ROW.findall(head))
        if rows > _EXCEL_MAX_ROWS:
            return False
        refs = _CELL_REF.findall(head)
        if len(refs) != len(_CELL.findall(head)):
            return False  # cells placed implicitly: only the exact scan knows where
        if refs:
            max_row = max(max_row, max(int(digits) for _letters, digits in refs))
            max_col = max(max_col, max(_column(letters) for letters in {letters for letters, _d in refs}))
            if (max_row > limits.max_rows or max_col > limits.max_columns
                    or max_row * max_col > limits.max_cells):
                return False
    return True


def strings_are_short(chunks: Iterator[bytes], limits: Limits) -> bool:
    """True when no shared-string item (``<si>``, markup included) is longer in
    bytes than the cell limit in characters."""
    carry = b""
    for chunk in itertools.chain(chunks, [None]):
        if chunk is None:
            items, carry = [carry], b""
        else:
            items = _ITEM_END.split(carry + chunk)
            carry = items.pop()
            if len(carry) > limits.max_cell_chars:
                return False
        if any(len(item) > limits.max_cell_chars for item in items):
            return False
    return True


_SST_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst\b[^>]*>")
_UNIQUE_COUNT = re.compile(rb"\buniqueCount\s*=\s*[\"'](\d*)[\"']")


def checked_string_counts(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Pass the shared-strings part through, refusing an ``<sst uniqueCount>`` the part cannot hold.

    The Excel reader reserves memory for ``uniqueCount`` strings before reading
    one (measured: ``uniqueCount="4000000000"`` in a 10 KB file asked for 96 GB).
    Every ``<si>`` takes at least 5 bytes, which bounds an honest count.
    """
    from jobs.errors import UnreadableFile  # noqa: PLC0415 - keep this module import-light

    head, checked = b"", False
    for chunk in chunks:
        if not checked:
            head += chunk
            tag = _SST_TAG.search(head)
            if tag is None and len(head) > _MAX_CARRY:
                raise UnreadableFile("文件中的共享字符串表结构异常，疑似被篡改或损坏的文件，已拒收")
            if tag is not None:
                checked = True
                count = _UNIQUE_COUNT.search(tag.group())
                if count and (len(count[1]) > 12 or int(count[1] or 0) > size // 5 + 1):
                    msg = (f"文件中的共享字符串表声明了{int(count[1]):,}项，远超文件实际内容，"
                           "疑似被篡改或损坏的文件，已拒收")
                    raise UnreadableFile(msg)
        yield chunk
