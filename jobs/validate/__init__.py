"""Validation of received returns (issue 3): GX checks, cell-precise Chinese findings.

Public API: :func:`validate_files` (per-file checks, then cross-unit copies among
the files, then, given earlier returns, the history stage of :mod:`jobs.validate.history`), :func:`validate_batch` (per-file checks and the batch's text hashes,
for intake's writer), :func:`validate_returns`, :class:`ValidatedReturn`,
:class:`ValidatedBatch`, :func:`copy_texts` (hashes the store keeps for later copy detection),
:func:`warm_up` (import GX and build the suites ahead of the first file).
Only :mod:`jobs.validate.gx` imports Great Expectations.
"""

from jobs.validate.copies import copy_texts
from jobs.validate.pipeline import (
    ValidatedBatch,
    ValidatedReturn,
    arrival_time,
    validate_batch,
    validate_files,
    validate_returns,
    warm_up,
)

__all__ = [
    "ValidatedBatch", "ValidatedReturn", "arrival_time", "copy_texts", "validate_batch", "validate_files",
    "validate_returns", "warm_up",
]
