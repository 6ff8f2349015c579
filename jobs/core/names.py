"""Received file names: bytes the office did not choose.

On Linux a file name is bytes. Python hands it over as ``str`` with every
byte that is not UTF-8 as a lone surrogate (``surrogateescape``, PEP 383):
a GBK name from a Windows zip unpacked on Linux, ``北京.xlsx`` in GBK, becomes
``'\\udcb1\\udcb1\\udcbe\\udca9.xlsx'``. Such a string cannot be written as
UTF-8 (SQLite, JSON, a terminal, a receipt), and one of them used to stop a
whole batch. Two views of a name, one rule for every stage:

- :func:`display_name` — readable text, always valid UTF-8 and one line:
  the bytes decoded as UTF-8, else as GB18030 (Windows Chinese), else with
  each undecodable byte written ``\\xNN``; control characters as ``\\xNN``;
- :func:`name_bytes` — the exact bytes, as the file system has them.

The ledger keeps the display form in ``file_name`` and, when it differs
from the name, the exact bytes beside it (:mod:`jobs.store`).
"""

from __future__ import annotations

import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def name_bytes(name: str) -> bytes:
    """The exact bytes of a file name as Python gave it (``os.fsencode``).

    A surrogate that no file system produced (a name built in code) is kept
    as its UTF-8 bytes (``surrogatepass``), so this never raises.
    """
    try:
        return os.fsencode(name)
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogatepass")


def display_name(name: str) -> str:
    """A readable form of a file name (or path): valid UTF-8, no control characters.

    A name that is already such text is returned unchanged (the common case,
    checked first: intake shows ~700k names a run).
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return _readable(name_bytes(name))
    return _CONTROL.sub(_escape, name) if _CONTROL.search(name) else name


def _readable(raw: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _CONTROL.sub(_escape, text)
    return _CONTROL.sub(_escape, raw.decode("utf-8", "backslashreplace"))


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"
