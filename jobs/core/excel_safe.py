"""Values from returns written into our own workbooks are made inert.

A unit controls the text of its return; a value such as ``=HYPERLINK(...)`` or
``@SUM(...)`` copied into a receipt or a summary table would be evaluated by
Excel on the office's machine (formula/CSV injection), and openpyxl and
xlsxwriter both turn a string starting with ``=`` into a formula. Every writer
passes return-derived text through :func:`inert`.
"""

from __future__ import annotations

import re
from pathlib import PurePath

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Characters XML 1.0 cannot hold: openpyxl raises on them, which would let one
# hostile return abort the writing of every receipt in a batch.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z_\-.\u4e00-\u9fff]+")
# Excel's limit for the text of one cell.
MAX_CELL_CHARS = 32_767
# Device names Windows refuses as file names, whatever the extension.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


def inert(value: object) -> object:
    """Return ``value`` safe to write into a cell.

    Text starting with a formula trigger (``=``, ``+``, ``-``, ``@``, tab, CR,
    LF) gets a leading apostrophe, so Excel shows it as text and never
    evaluates it; characters XML cannot hold are dropped; text is cut to
    Excel's cell limit. Numbers, dates, booleans and ``None`` pass through.
    """
    if not isinstance(value, str):
        return value
    text = _ILLEGAL_XML.sub("", value)
    if text.startswith(_TRIGGERS):
        text = "'" + text
    return text[:MAX_CELL_CHARS]


def safe_filename(name: str, *, default: str = "unnamed") -> str:
    """Make a file name from a unit code or received name: no path parts, no shell characters.

    Keeps ASCII letters, digits, ``_ - .`` and CJK ideographs; no leading dot
    (no hidden files, no ``..``), no Windows device names, at most 120 characters.
    """
    base = PurePath(str(name).replace("\\", "/").replace("\x00", "")).name
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._-")
    cleaned = cleaned[:120].strip("._-")
    if _RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    return cleaned or default
