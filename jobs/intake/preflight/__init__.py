"""Preflight: every received file is checked here, by content and within limits,
before any Excel reader touches it (see :mod:`jobs.intake.preflight.check`).

- ``check``: the entry points (:func:`preflight`, :func:`preflight_read`);
- ``zip_parts``, ``sheet_xml``, ``fast``: the OOXML zip, its XML parts and the
  byte-level fast proof that a plain sheet is safe;
- ``ole``: legacy ``.xls`` (OLE2) structure and extents;
- ``repack``: verified parts re-packed uncompressed for the reader;
- ``complete``: whether a file being received is whole yet (``watch`` asks before reading).
"""

from jobs.intake.preflight.check import (
    Preflight,
    preflight,
    preflight_findings,
    preflight_read,
    uncached_cells,
)
from jobs.office.config import Limits

__all__ = [
    "Limits",
    "Preflight",
    "preflight",
    "preflight_findings",
    "preflight_read",
    "uncached_cells",
]
