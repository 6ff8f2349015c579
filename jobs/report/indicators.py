"""Which indicators each part of the report shows.

Labels, units and definitions come from the summary schema (through
:func:`jobs.rollup.vocab.load_vocab`), the one place they are written; the
HTML page, the ``.xlsx`` tables and the 说明 sheet read them from here. Keys
are the spec's summarize JSON keys (``/work/shared/spec/return-format.md``).
"""

from __future__ import annotations

from jobs.rollup.vocab import Indicator, Kind, load_vocab

__all__ = [
    "BREAKDOWN_GROUPS", "BREAKDOWN_KEYS", "CHANGE_KEYS", "COVERAGE_KEYS", "HEADLINE_KEYS", "HISTORY_KEYS", "INDICATORS",
    "STATUS_KEYS",
    "TASK_COLUMNS", "Indicator", "Kind", "header", "label",
]  # fmt: skip

_VOCAB = load_vocab()
# Labels, units and definitions are the summary schema's (schemas/summary-return.schema.yaml);
# this module only chooses which indicators each part of the report shows.
INDICATORS: dict[str, Indicator] = dict(_VOCAB.indicators)
# the columns of the 21 special tasks table (found, fixed, rate, cases)
TASK_COLUMNS: tuple[Indicator, ...] = _VOCAB.task_columns

COVERAGE_KEYS = (
    "units_expected",
    "units_reported",
    "units_on_time",
    "units_late",
    "units_missing",
    "reporting_rate",
    "timeliness_rate",
)
HEADLINE_KEYS = (
    "items_total",
    "items_done",
    "completion_rate",
    "items_closed",
    "closure_rate",
    "satisfaction_rate",
    "items_overdue",
    "items_rebound",
    "items_new",
)
# Delay and backsliding (issue 17): the history warnings of the counted returns.
HISTORY_KEYS: tuple[str, ...] = tuple(c.key for c in _VOCAB.history)
STATUS_KEYS = ("items_done", "items_in_progress", "items_not_started", "items_ineffective")
# Month-over-month compares these (counts by difference, rates in percentage points).
CHANGE_KEYS = (
    "units_reported",
    "reporting_rate",
    "items_total",
    "items_done",
    "completion_rate",
    "closure_rate",
    "satisfaction_rate",
    "items_overdue",
    "items_rebound",
    "items_new",
)

# Breakdown tables (by province / by 类别 / by lower unit): two-level headers.
BREAKDOWN_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("报送情况", ("units_expected", "units_reported", "reporting_rate", "timeliness_rate")),
    (
        "整改落实情况",
        ("items_total", "completion_rate", "closure_rate", "satisfaction_rate", "items_overdue", "items_rebound"),
    ),
)
BREAKDOWN_KEYS: tuple[str, ...] = tuple(k for _, keys in BREAKDOWN_GROUPS for k in keys)


def label(key: str) -> str:
    """Chinese label of an indicator key."""
    return INDICATORS[key].label


def header(key: str) -> str:
    """Label with its unit, as in an official table header: ``整改问题（项）``."""
    ind = INDICATORS[key]
    return f"{ind.label}（{ind.unit}）"
