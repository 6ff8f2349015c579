"""Validation of received returns (issue 3): GX checks, cell-precise Chinese findings.

Public API: :func:`validate_files`, :func:`validate_returns`, :class:`ValidatedReturn`,
:func:`copy_texts` (hashes the store keeps for later copy detection),
:func:`warm_up` (import GX and build the suites ahead of the first file).
Only :mod:`jobs.validate.gx` imports Great Expectations.
"""

from jobs.validate.copies import copy_texts
from jobs.validate.pipeline import (
    ValidatedReturn,
    arrival_time,
    validate_files,
    validate_returns,
    warm_up,
)

__all__ = ["ValidatedReturn", "arrival_time", "copy_texts", "validate_files", "validate_returns", "warm_up"]
