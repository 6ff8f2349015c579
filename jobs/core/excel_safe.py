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
# Bytes (UTF-8) of a file name we make: NAME_MAX is 255 on Linux file systems,
# and a temp file next to it adds ~30 (jobs.core.files.temp_path).
MAX_NAME_BYTES = 200
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


def safe_filename(name: str, *, default: str = "unnamed", max_bytes: int = MAX_NAME_BYTES) -> str:
    """Make a file name from a unit code or received name: no path parts, no shell characters.

    Keeps ASCII letters, digits, ``_ - .`` and CJK ideographs; no leading dot
    (no hidden files, no ``..``), no Windows device names, at most 120
    characters and ``max_bytes`` bytes of UTF-8 (120 CJK ideographs are 360).
    """
    base = PurePath(str(name).replace("\\", "/").replace("\x00", "")).name
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._-")
    cleaned = _cut_bytes(cleaned[:120], max_bytes).strip("._-")
    if _RESERVED.match(cleaned):
        cleaned = _cut_bytes("_" + cleaned, max_bytes).rstrip("._-")
    return cleaned or default


def joined_filename(*parts: str, tail: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``parts`` made safe (:func:`safe_filename`) and joined by ``_``, then ``tail``: at most ``max_bytes`` bytes.

    ``tail`` (a hash, an extension: what makes the name unique and typed) is
    kept whole; when the whole is too long, the parts are cut, each to an
    equal share of the room left (a short part leaves its spare room to the
    others). A name that fits is ``"_".join(safe parts) + tail``.
    """
    safe = [safe_filename(p) for p in parts]
    name = "_".join(safe) + tail
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    room = max_bytes - len(tail.encode("utf-8")) - (len(safe) - 1)
    if room < 2 * len(safe):
        msg = f"no room for {len(safe)} name parts before {tail!r} in {max_bytes} bytes"
        raise ValueError(msg)
    sizes = {i: len(p.encode("utf-8")) for i, p in enumerate(safe)}
    cut = list(safe)
    for n, i in enumerate(sorted(sizes, key=sizes.__getitem__)):
        share = room // (len(safe) - n)
        cut[i] = _cut_bytes(safe[i], share).rstrip("._-") or "_"
        room -= len(cut[i].encode("utf-8"))
    return "_".join(cut) + tail


def _cut_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")
