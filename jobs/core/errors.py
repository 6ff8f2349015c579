"""Known failures, each carrying a Chinese reason a clerk or the office can act on."""

from __future__ import annotations

from typing import Any

from jobs.core.findings import Finding, make_finding, unreadable_reason
from jobs.core.schema import Schema


class RectifyError(Exception):
    """Base of the project's known errors; the CLI turns these into clean messages."""


class UnreadableFile(RectifyError):
    """A received file cannot be read as a return (finding ``unreadable-file``).

    Parameters
    ----------
    kind
        The sub-code, a key of the schema's ``unreadable`` catalogue
        (``encrypted``, ``zip-bomb-ratio``, ``too-many-rows`` ...).
    **params
        Fields of that sub-code's Chinese template (``part``, ``limit`` ...).

    ``reason`` is the rendered Chinese text naming what the unit should do,
    e.g. “文件已加密，请去除密码后重新报送”.
    """

    def __init__(self, kind: str, **params: Any) -> None:
        self.kind = kind
        self.params = params
        self.reason = unreadable_reason(kind, **params)
        super().__init__(self.reason)

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process pools: rebuilt from the sub-code and its parameters.
        return _rebuild, (self.kind, self.params)

    def finding(self, *, schema: Schema | None = None) -> Finding:
        """The ``unreadable-file`` finding for this failure (``Finding.subcode`` is ``kind``)."""
        return make_finding("unreadable-file", schema=schema, subcode=self.kind, reason=self.reason)


def _rebuild(kind: str, params: dict[str, Any]) -> UnreadableFile:
    return UnreadableFile(kind, **params)
