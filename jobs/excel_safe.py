"""Values from returns written into our own workbooks are made inert.

A unit controls the text of its return; a value such as ``=HYPERLINK(...)`` or
``@SUM(...)`` copied into a receipt or a summary table would be evaluated by
Excel on the office's machine (formula/CSV injection). Every writer passes
return-derived text through :func:`inert`.
"""

from __future__ import annotations

import re
from pathlib import PurePath

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z_\-.\u4e00-\u9fff]+")


def inert(value: object) -> object:
    """Return ``value`` safe to write into a cell: text starting with a formula trigger gets a leading apostrophe-like quote.

    Numbers, dates and ``None`` pass through unchanged.
    """
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def safe_filename(name: str, *, default: str = "unnamed") -> str:
    """Make a file name from a unit code or received name: no path parts, no shell characters."""
    base = PurePath(str(name).replace("\\", "/")).name
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")
    return cleaned[:120] or default
