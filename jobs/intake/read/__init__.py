"""Reading a received workbook, after preflight, into raw text (``RawReturn``).

- ``workbook``: the one guarded open of every workbook read (:func:`open_workbook`) and :func:`read_return`;
- ``sheet``: one sheet: load, header, table or key/value list;
- ``grid``: table sheets kept as read and stacked a batch at a time.
"""

from jobs.intake.read.workbook import (
    OpenWorkbook,
    RawReturn,
    RawSheet,
    open_workbook,
    read_return,
    sheet_rows,
)

__all__ = ["OpenWorkbook", "RawReturn", "RawSheet", "open_workbook", "read_return", "sheet_rows"]
