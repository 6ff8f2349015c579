"""The report's indicators: one table of keys, Chinese labels, units and definitions.

The HTML page, the ``.xlsx`` tables and the 说明 sheet all read their labels
from here, so a label is changed in one place. Keys are the spec's summarize
JSON keys (``/work/shared/spec/return-format.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["count", "rate"]


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator of the summary.

    Attributes
    ----------
    key
        Spec JSON key, e.g. ``completion_rate``.
    label
        Chinese label used in tables and prose.
    unit
        Unit of measure shown in table headers (``个``, ``项``, ``%`` ...).
    kind
        ``count`` (integer, ``#,##0``) or ``rate`` (fraction, ``0.0%``).
    definition
        Chinese definition for the 说明 sheet and the page's notes.
    """

    key: str
    label: str
    unit: str
    kind: Kind
    definition: str


_ROWS: tuple[Indicator, ...] = (
    Indicator("units_expected", "应报单位", "个", "count", "组织机构名册中“是否报送”为“是”的单位数（含下级）。"),
    Indicator("units_reported", "已报单位", "个", "count", "已报送且通过校验的单位数；被退回的报表不计。"),
    Indicator("units_on_time", "按时报送", "个", "count", "在截止时间前报送并通过校验的单位数。"),
    Indicator("units_late", "逾期报送", "个", "count", "截止时间后报送的单位数，仍计入各项合计。"),
    Indicator("units_missing", "未报单位", "个", "count", "应报而未报送（或报表被退回未重报）的单位数。"),
    Indicator("reporting_rate", "报送率", "%", "rate", "已报单位 ÷ 应报单位。"),
    Indicator("timeliness_rate", "及时率", "%", "rate", "按时报送单位 ÷ 应报单位。"),
    Indicator("items_total", "整改问题", "项", "count", "整改台账所列问题总数（含“回头看”新发现）。"),
    Indicator("items_done", "已完成", "项", "count", "整改状态为“已完成”的问题数。"),
    Indicator("items_in_progress", "推进中", "项", "count", "整改状态为“推进中”的问题数。"),
    Indicator("items_not_started", "未启动", "项", "count", "整改状态为“未启动”的问题数。"),
    Indicator("items_ineffective", "效果不理想", "项", "count", "整改状态为“效果不理想”的问题数。"),
    Indicator("items_overdue", "逾期未完成", "项", "count", "整改时限早于本期最后一天且未完成的问题数。"),
    Indicator("items_closed", "已销号", "项", "count", "已销号的问题数（已完成且群众满意或基本满意）。"),
    Indicator("items_evaluated", "群众已评价", "项", "count", "群众评价为满意、基本满意或不满意的问题数。"),
    Indicator("items_satisfied", "群众满意", "项", "count", "群众评价为满意或基本满意的问题数。"),
    Indicator("items_new", "新发现问题", "项", "count", "问题来源为“回头看新发现”的问题数。"),
    Indicator("items_rebound", "反弹回潮", "项", "count", "以前月份已销号、本期不再销号的问题数（同一单位、同一序号和问题描述）。"),
    Indicator("completion_rate", "完成率", "%", "rate", "已完成问题 ÷ 整改问题总数，由合计数重新计算，不取平均。"),
    Indicator("closure_rate", "销号率", "%", "rate", "已销号问题 ÷ 整改问题总数。"),
    Indicator("satisfaction_rate", "群众满意率", "%", "rate", "群众满意（含基本满意）问题 ÷ 群众已评价问题。"),
    Indicator("members_total", "班子成员", "人", "count", "个人整改表所列领导班子成员人数。"),
)

INDICATORS: dict[str, Indicator] = {i.key: i for i in _ROWS}

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


@dataclass(frozen=True, slots=True)
class TaskColumn:
    """A column of the 21 special tasks table."""

    key: str
    label: str
    unit: str
    kind: Kind
    definition: str


TASK_COLUMNS: tuple[TaskColumn, ...] = (
    TaskColumn("found", "排查问题数", "个", "count", "各单位专项整治表“排查问题数”之和。"),
    TaskColumn("fixed", "已整改数", "个", "count", "各单位专项整治表“已整改数”之和。"),
    TaskColumn("rate", "整改率", "%", "rate", "已整改数 ÷ 排查问题数（由合计数计算）。"),
    TaskColumn("cases", "立案查处数", "件", "count", "各单位专项整治表“立案查处数”之和。"),
)

RATE_OF = {
    "reporting_rate": ("units_reported", "units_expected"),
    "timeliness_rate": ("units_on_time", "units_expected"),
    "completion_rate": ("items_done", "items_total"),
    "closure_rate": ("items_closed", "items_total"),
    "satisfaction_rate": ("items_satisfied", "items_evaluated"),
}


def label(key: str) -> str:
    """Chinese label of an indicator key."""
    return INDICATORS[key].label


def header(key: str) -> str:
    """Label with its unit, as in an official table header: ``整改问题（项）``."""
    ind = INDICATORS[key]
    return f"{ind.label}（{ind.unit}）"
