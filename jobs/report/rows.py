"""The rows the report's context holds (:class:`jobs.report.context.ReportContext`): one small type per table.

Templates read their fields by name; the xlsx and Word writers render the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.report.indicators import Kind

Number = int | float | None


@dataclass(frozen=True, slots=True)
class Figure:
    """One indicator's value for the report's scope (``value`` a count or a fraction)."""

    key: str
    label: str
    unit: str
    kind: Kind
    value: Number


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One of the 21 special tasks: sums over the scope; ``rate`` = fixed / found."""

    no: int
    name: str
    found: int
    fixed: int
    cases: int
    rate: float | None


@dataclass(frozen=True, slots=True)
class CountRow:
    """A labelled count (institutions by state, accountability rows, members by state)."""

    key: str
    label: str
    unit: str
    value: int


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One line of a breakdown table: a lower unit or a 类别; ``values`` keyed by indicator."""

    code: str
    name: str
    values: Mapping[str, Number]


@dataclass(frozen=True, slots=True)
class AttentionRow:
    """A unit on the attention list: its step (约谈提醒 / 诫勉批评 / 追责问责) and its reasons in Chinese."""

    code: str
    name: str
    reasons: tuple[str, ...]
    step: str = ""


@dataclass(frozen=True, slots=True)
class IneligibleRow:
    """A unit judged ineffective this year (诫勉批评 or 追责问责): not eligible for awards; ``periods`` ``YYYY-MM``."""

    code: str
    name: str
    periods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BackslidingRow:
    """A unit with history warnings (delay, backsliding, falling figures), its counts and its months' trend.

    ``values`` is keyed by the history indicators (``items_vanished`` ...);
    ``trend`` is ``(period, warnings)`` for each month of the year summarised so far.
    """

    code: str
    name: str
    values: Mapping[str, int]
    trend: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return int(self.values.get("warnings_explained", 0)) + int(self.values.get("warnings_unexplained", 0))


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """Month-over-month: ``change`` is a difference of counts or of fractions (percentage points)."""

    key: str
    label: str
    unit: str
    kind: Kind
    current: Number
    previous: Number
    change: Number


@dataclass(frozen=True, slots=True)
class MissingUnit:
    """A unit that has not reported (annex), with whom to call; ``state`` e.g. 未报送 / 已退回待重报."""

    code: str
    name: str
    parent: str
    level: str
    contact: str
    phone: str
    state: str = ""
    units: int = 1
    # a covering unit: the row stands for the ``units`` missing units its 汇总 return reports
    covering: bool = False
