"""Byte-level fast paths for preflight's XML checks (regular expressions in C, no callbacks).

Most returns are small and plain; proving that with a regex pass is several
times cheaper than the exact expat scan. Each function returns ``True`` only
when the part is certainly within the limits and holds nothing to report
(no formulas, no long text, an extent within bounds); anything else returns
``False`` and the caller runs the exact scan of :mod:`jobs.intake.preflight.sheet_xml`,
which names the sheet or cell. Bytes bound characters from above, so a text
run or string item no longer in bytes than the character limit is safe.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.office.config import Limits

_SHEET_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?worksheet>\s*$")
_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?si>")
_EXCEL_MAX_ROWS = 1_048_576
_MAX_CARRY = 1024 * 1024
_MAX_TOKEN = 1024 * 1024  # jobs.intake.preflight.sheet_xml refuses a longer stretch without '>'
# The proof below works on raw bytes, where every element expat reports is a
# start tag too: finding a pattern in the bytes is conservative. A prefixed
# element (``<x:c>``) whose local name the exact scanner acts on sends the sheet
# to the exact scan; so does a formula. Comments, CDATA and processing
# instructions could fake a cell start inside a cell's text, which matters only
# to the text bound of sheets longer than the cell limit: those must have none.
_PREFIXED_SCANNED = re.compile(rb":(?:c|f|v|t|row)[\s/>]")
_FORMULA = re.compile(rb"<f[\s/>]")
_HIDING = re.compile(rb"<[!?]")
_CELL_START = re.compile(rb"<c[\s/>]")
_COLUMNS_BY_LETTERS = ((1, 26), (2, 702), (3, 18_278))


@functools.lru_cache(maxsize=16)
def _ref_tiers(max_rows: int, max_columns: int, max_cells: int) -> tuple[re.Pattern[bytes], ...]:
    """Patterns finding a cell whose reference is missing or outside a box within the limits.

    Each box is "at most L letters, at most D digits" (columns up to Z, ZZ,
    ZZZ; rows up to 10**D - 1), the largest D whose box keeps rows, columns and
    rows x columns within the limits. A sheet all of whose cells start with
    such an explicit ``r`` is within the limits; other sheets take the exact scan.
    The first pattern is the first box in its usual spelling (``<c r="``), so
    an ordinary sheet is proved in one search.
    """
    boxes = []
    for letters, columns in _COLUMNS_BY_LETTERS:
        if columns > max_columns:
            break
        digits = 7
        while digits and (10**digits - 1 > max_rows or columns * (10**digits - 1) > max_cells):
            digits -= 1
        if digits:
            letters_class = b"[A-Z]" if letters == 1 else b"[A-Z]{1,%d}" % letters
            boxes.append(b'"%s[0-9]{1,%d}"' % (letters_class, digits))
    if not boxes:
        return ()
    first = re.compile(rb"<c(?! r=%s)[\s/>]" % boxes[0])
    return (first, *(re.compile(rb"<c(?!\s+r=%s)[\s/>]" % box) for box in boxes))


@functools.lru_cache(maxsize=16)
def _formula_or_first(max_rows: int, max_columns: int, max_cells: int) -> re.Pattern[bytes] | None:
    """``_FORMULA`` or the first tier in one pattern: an ordinary sheet is proved in one pass, not two
    (no match means neither matches; a match sends the piece to both, as before)."""
    tiers = _ref_tiers(max_rows, max_columns, max_cells)
    return re.compile(rb"<(?:f[\s/>]|%s)" % tiers[0].pattern[1:]) if tiers else None


class _PlainProof:
    """The fast proof over consecutive pieces of one sheet (no piece splits a tag).

    Sound with respect to :class:`jobs.intake.preflight.sheet_xml.SheetScanner`: ``feed``
    keeps returning true only if the exact scan finds no formula, no cell over
    the character limit, no extent over the limits and no over-long token
    (well-formedness is left to the reader, as before).
    """

    __slots__ = ("first", "limits", "offset", "quick", "rows", "since_cell", "since_gt", "tiers", "whole")

    def __init__(self, limits: Limits, *, whole: bool) -> None:
        self.limits, self.whole = limits, whole
        rows = min(limits.max_rows, limits.max_rows_per_sheet)  # within both, or the exact scan names which
        tiers = _ref_tiers(rows, limits.max_columns, limits.max_cells)
        self.first, self.tiers = (tiers[0], tiers[1:]) if tiers else (None, ())
        self.quick = _formula_or_first(rows, limits.max_columns, limits.max_cells)
        self.offset = self.since_cell = self.since_gt = self.rows = 0

    def feed(self, piece: bytes) -> bool:
        if not self.tiers:
            return False
        skip = 0
        if self.offset == 0:
            # The prolog holds the XML declaration only: a DTD, comment or
            # processing instruction before the root goes to the exact scan.
            if piece.startswith((b"<?", b"\xef\xbb\xbf<?")):
                skip = piece.find(b"?>") + 2
            root = piece.find(b"<", skip)
            if root >= 0 and piece[root + 1 : root + 2] in (b"!", b"?"):
                return False
        if (not self.whole or len(piece) > self.limits.max_cell_chars) \
                and _HIDING.search(piece, skip) is not None:
            return False
        if _PREFIXED_SCANNED.search(piece) is not None:
            return False
        # Sheets without formulas fitting the first box in its usual spelling cost one search.
        if self.first is None or self.quick.search(piece) is not None:
            if _FORMULA.search(piece) is not None:
                return False
            if self.first is None or self.first.search(piece) is not None:
                self.first = None
                self.tiers = tuple(t for t in self.tiers if t.search(piece) is None)
                if not self.tiers:
                    return False
        size = len(piece)
        self.offset += size
        # A row start tag takes at least 5 bytes: small pieces are bounded by their size.
        self.rows += piece.count(b"<row") if size > 65_536 else size // 5
        if self.rows > _EXCEL_MAX_ROWS:
            return False
        # The exact scan counts a cell's text from its <c> start: bytes between two
        # cell starts bound the characters of the first (entities only shrink text).
        self.since_cell = _longest_gap(piece, _CELL_START.split, self.since_cell, self.limits.max_cell_chars)
        self.since_gt = _longest_gap(piece, _split_gt, self.since_gt, _MAX_TOKEN)
        return self.since_cell >= 0 and self.since_gt >= 0


def _split_gt(piece: bytes) -> list[bytes]:
    return piece.split(b">")


def _longest_gap(piece: bytes, split: Callable[[bytes], list[bytes]], since: int, limit: int) -> int:
    """Bytes since the last separator after ``piece``, or -1 if a gap exceeds ``limit``."""
    if since < 0:
        return -1
    if since + len(piece) <= limit:
        return since + len(piece)  # an upper bound; exact again once a piece is split
    parts = split(piece)
    if since + len(parts[0]) > limit or len(parts[-1]) > limit:
        return -1
    if len(parts) > 2 and max(map(len, parts[1:-1])) > limit:
        return -1
    return len(parts[-1])  # one part only: since + len(piece) > limit returned above


def sheet_is_plain(chunks: Iterator[bytes] | bytes, limits: Limits) -> bool:
    """True when the sheet (its whole bytes, or streamed chunks) has no formula,
    no cell text over the cell limit, explicit cell references only, and a cell
    extent within the limits; ``False`` sends it to the exact scan."""
    if isinstance(chunks, bytes):
        cut = chunks.rfind(b"<")
        if cut < 0 or len(chunks) - cut > _MAX_CARRY or not _SHEET_END.search(chunks, cut):
            return False  # truncated or not a worksheet: the exact scan says which
        return _PlainProof(limits, whole=True).feed(chunks)
    proof = _PlainProof(limits, whole=False)
    carry = b""
    for chunk in itertools.chain(chunks, [None]):
        if chunk is None:
            if not _SHEET_END.search(carry):
                return False
            head, carry = carry, b""
        else:
            buf = carry + chunk
            cut = buf.rfind(b"<")
            cut = len(buf) if cut < 0 else cut
            head, carry = buf[:cut], buf[cut:]
            if len(carry) > _MAX_CARRY:
                return False
        if head and not proof.feed(head):
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
            buf = carry + chunk
            if len(buf) <= limits.max_cell_chars:
                carry = buf  # no item in it can be too long; split once it grows
                continue
            items = _ITEM_END.split(buf)
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
    from jobs.core.errors import UnreadableFile  # noqa: PLC0415 - keep this module import-light

    head, checked = b"", False
    for chunk in chunks:
        if not checked:
            head += chunk
            tag = _SST_TAG.search(head)
            if tag is None and len(head) > _MAX_CARRY:
                raise UnreadableFile("shared-strings-malformed")
            if tag is not None:
                checked = True
                count = _UNIQUE_COUNT.search(tag.group())
                if count and (len(count[1]) > 12 or int(count[1] or 0) > size // 5 + 1):
                    raise UnreadableFile("shared-strings-count", count=f"{int(count[1]):,}")
        yield chunk
