"""Reading a received workbook, after preflight, into raw text (``RawReturn``).

- ``workbook``: the one guarded open of a workbook and :func:`read_return`;
- ``sheet``: one sheet: load, header, table or key/value list;
- ``grid``: table sheets kept as read and stacked a batch at a time.
"""

from jobs.intake.read.workbook import (
    REASON_CORRUPT,
    REASON_ENCRYPTED,
    REASON_TOO_LARGE,
    RawReturn,
    RawSheet,
    read_return,
)

__all__ = ["REASON_CORRUPT", "REASON_ENCRYPTED", "REASON_TOO_LARGE", "RawReturn", "RawSheet", "read_return"]
