"""Reporting status of a period: who is expected, who reported (on time or late), who to chase.

Definitions (for the office):
- expected: units with 是否报送=是 in the registry effective for the period
  (within the chosen unit's subtree). Returns from anyone else (closed units,
  units not in the registry, units that need not report) are listed as
  ``unexpected`` and never enter a count, so no rate can exceed 100%.
- reported: the unit has a current accepted return.
- on time: a reported unit whose *first* accepted return arrived by the
  deadline (a correction sent after the deadline does not make it late);
  late: reported, but its first accepted return arrived after the deadline.
- covered: a unit below a unit whose current accepted 汇总 return covers its
  subtree, with no detail return of its own here. The lower office reported
  and chases it (its counts arrive in the 汇总 return), so it is neither
  reported nor missing here, and rates use ``units_expected - units_covered``
  as their denominator.
- missing: expected, not reported and not covered; of these, ``rejected``
  (退回待改) sent something that was rejected, ``not_received`` (未报送) sent
  nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from jobs.core.excel_safe import inert

UnitState = Literal["on_time", "late", "covered", "rejected", "not_received"]
STATE_LABELS: dict[str, str] = {
    "on_time": "按时报送", "late": "逾期报送", "covered": "由下级汇总报送", "rejected": "退回待改", "not_received": "未报送",
}  # fmt: skip
COUNT_KEYS = (
    "units_expected", "units_reported", "units_on_time", "units_late", "units_covered", "units_missing", "units_rejected",
)  # fmt: skip
RATE_DENOMINATOR = "units_expected - units_covered"


def subtree(registry: pl.DataFrame, root: str | list[str]) -> set[str]:
    """Codes of ``root`` (one code or several) and every unit below them."""
    children: dict[str, list[str]] = {}
    for code, parent in registry.select("code", "parent").iter_rows():
        if parent is not None:
            children.setdefault(parent, []).append(code)
    seen: set[str] = set()
    stack = [root] if isinstance(root, str) else list(root)
    while stack:
        code = stack.pop()
        if code not in seen:
            seen.add(code)
            stack.extend(children.get(code, ()))
    return seen


def per_unit_submissions(submissions: pl.DataFrame) -> pl.DataFrame:
    """One row per unit: current accepted return, first accepted arrival, latest submission."""
    subs = submissions.filter(pl.col("unit").is_not_null()).sort("unit", "version")
    current = pl.col("accepted") & pl.col("superseded_by").is_null()
    return subs.group_by("unit", maintain_order=True).agg(
        current.any().alias("has_current"),
        pl.col("received_at").filter(pl.col("accepted")).min().alias("first_accepted_at"),
        pl.col("received_at").last().alias("last_received_at"),
        pl.col("accepted").last().alias("last_accepted"),
        pl.col("n_errors").last().alias("last_errors"),
        pl.len().alias("n_submissions"),
    )


def covered_units(registry: pl.DataFrame, submissions: pl.DataFrame) -> set[str]:
    """Units strictly below a unit whose current accepted 汇总 return covers its subtree."""
    from jobs.core.schema import load_schema

    summary_type = next(t for t in load_schema().report_types if t != load_schema().default_report_type)
    roots = (
        submissions.filter(
            pl.col("accepted") & pl.col("superseded_by").is_null() & (pl.col("report_type") == summary_type)
        )["unit"]
        .drop_nulls()
        .unique()
        .to_list()
    )
    if not roots:
        return set()
    below = set()
    for root in roots:
        below |= subtree(registry, root) - {root}
    return below


def unit_status(
    registry: pl.DataFrame, submissions: pl.DataFrame, *, deadline: datetime, unit: str | None = None
) -> pl.DataFrame:
    """Expected units with their state (``on_time``/``late``/``covered``/``rejected``/``not_received``), parent and contact."""
    names = registry.select(pl.col("code").alias("parent"), pl.col("name").alias("parent_name"))
    expected = registry.filter(pl.col("must_report").fill_null(False))
    if unit is not None:
        expected = expected.filter(pl.col("code").is_in(list(subtree(registry, unit))))
    per_unit = per_unit_submissions(submissions)
    frame = expected.join(per_unit, left_on="code", right_on="unit", how="left").join(names, on="parent", how="left")
    has_current = pl.col("has_current").fill_null(False)
    state = (
        pl.when(has_current & (pl.col("first_accepted_at") <= deadline))
        .then(pl.lit("on_time"))
        .when(has_current)
        .then(pl.lit("late"))
        .when(pl.col("code").is_in(list(covered_units(registry, submissions))))
        .then(pl.lit("covered"))
        .when(pl.col("n_submissions").fill_null(0) > 0)
        .then(pl.lit("rejected"))
        .otherwise(pl.lit("not_received"))
    )
    return frame.with_columns(
        state.alias("state"),
        pl.col("n_submissions").fill_null(0),
        (has_current & ~pl.col("last_accepted").fill_null(True)).alias("correction_rejected"),
    ).select(
        "code", "name", "level", "category", "parent", "parent_name", "contact", "phone", "state",
        "first_accepted_at", "last_received_at", "last_errors", "n_submissions", "correction_rejected",
    )  # fmt: skip


def _count_exprs() -> list[pl.Expr]:
    state = pl.col("state")
    reported = state.is_in(["on_time", "late"])
    return [
        pl.len().cast(pl.Int64).alias("units_expected"),
        reported.sum().cast(pl.Int64).alias("units_reported"),
        (state == "on_time").sum().cast(pl.Int64).alias("units_on_time"),
        (state == "late").sum().cast(pl.Int64).alias("units_late"),
        (state == "covered").sum().cast(pl.Int64).alias("units_covered"),
        (~reported & (state != "covered")).sum().cast(pl.Int64).alias("units_missing"),
        (state == "rejected").sum().cast(pl.Int64).alias("units_rejected"),
    ]


def _with_rates(frame: pl.DataFrame) -> pl.DataFrame:
    denominator = pl.col("units_expected") - pl.col("units_covered")
    rate = lambda c: pl.when(denominator > 0).then(pl.col(c) / denominator).otherwise(None)  # noqa: E731
    return frame.with_columns(
        rate("units_reported").alias("reporting_rate"),
        rate("units_on_time").alias("timeliness_rate"),
    )


def count_states(units: pl.DataFrame, *, by: list[str] | None = None) -> pl.DataFrame:
    """Counts per group (or one total row): expected, reported, on time, late, missing, rejected, rates.

    Rates are fractions of ``units_expected - units_covered`` (their denominator), null when it is 0.
    """
    if by:
        frame = units.group_by(by).agg(_count_exprs()).sort(by)
    else:
        frame = units.select(_count_exprs())
    return _with_rates(frame)


def chase_list(units: pl.DataFrame) -> pl.DataFrame:
    """催报名单: every expected unit without an accepted return, with its parent and contact."""
    return units.filter(pl.col("state").is_in(["rejected", "not_received"])).sort("parent", "code")


def unexpected_submissions(
    registry: pl.DataFrame, submissions: pl.DataFrame, *, unit: str | None = None
) -> pl.DataFrame:
    """Submissions from units that need not report this period (closed, unknown or 是否报送=否)."""
    expected = registry.filter(pl.col("must_report").fill_null(False))["code"].to_list()
    frame = submissions.filter(~pl.col("unit").is_in(expected) | pl.col("unit").is_null())
    if unit is not None:
        frame = frame.filter(pl.col("unit").is_in(list(subtree(registry, unit))))
    return frame.select("unit", "file_name", "received_at", "accepted")


@dataclass
class Status:
    """The status of one period, for printing, JSON and the chase-list workbook."""

    period: str
    unit: str | None
    deadline: datetime
    now: datetime
    units: pl.DataFrame
    unexpected: pl.DataFrame

    @property
    def seconds_to_deadline(self) -> int:
        return int((self.deadline - self.now).total_seconds())

    @property
    def totals(self) -> dict[str, Any]:
        return count_states(self.units).row(0, named=True)

    def by(self, column: Literal["level", "category"]) -> pl.DataFrame:
        """Counts per 层级 or 类别, in the schema's order (top level first)."""
        from jobs.core.schema import load_schema

        schema = load_schema()
        order = list(schema.levels if column == "level" else schema.categories)
        frame = count_states(self.units, by=[column])
        rank = pl.col(column).replace_strict(order, list(range(len(order))), default=len(order))
        return frame.sort(rank, pl.col(column))

    @property
    def chase(self) -> pl.DataFrame:
        return chase_list(self.units)

    def to_dict(self) -> dict[str, Any]:
        """Stable English keys for scripts (``rectify status --json``)."""

        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return [{k: _jsonable(v) for k, v in r.items()} for r in frame.iter_rows(named=True)]

        chase = self.chase.select(
            "code", "name", "level", "category", "parent", "parent_name", "contact", "phone", "state",
            "last_received_at", "last_errors",
        )  # fmt: skip
        return {
            "period": self.period,
            "unit": self.unit,
            "deadline": self.deadline.isoformat(),
            "now": self.now.isoformat(timespec="seconds"),
            "seconds_to_deadline": self.seconds_to_deadline,
            "rate_denominator": RATE_DENOMINATOR,
            "totals": {k: _jsonable(v) for k, v in self.totals.items()},
            "by_level": rows(self.by("level")),
            "by_category": rows(self.by("category")),
            "chase": rows(chase),
            "unexpected_submissions": self.unexpected.height,
        }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def compute_status(home, *, period: str, unit: str | None = None, now: datetime | None = None) -> Status:
    """Status of ``period`` from a home's registry (effective for the period) and ledger.

    Raises ``HomeError`` when no registry is imported or ``unit`` is not in it.
    """
    from jobs.office.home import HomeError

    registry = home.registry(period)
    if unit is not None and unit not in registry["code"].to_list():
        msg = f"单位代码“{unit}”不在{period}适用的组织机构名册中。"
        raise HomeError(msg)
    submissions = home.store.submissions(period)
    deadline = home.deadline(period)
    return Status(
        period=period,
        unit=unit,
        deadline=deadline,
        now=now or home.now(),
        units=unit_status(registry, submissions, deadline=deadline, unit=unit),
        unexpected=unexpected_submissions(registry, submissions, unit=unit),
    )


CHASE_HEADERS = (
    ("code", "单位代码"), ("name", "单位名称"), ("level", "层级"), ("category", "类别"),
    ("parent", "上级单位代码"), ("parent_name", "上级单位名称"), ("contact", "联系人"), ("phone", "联系电话"),
    ("state", "状态"), ("last_received_at", "最近报送时间"), ("last_errors", "退回错误数"),
)  # fmt: skip


def write_chase_xlsx(status: Status, path: str | Path) -> Path:
    """Write the chase list (催报名单) to ``path``; every value passes through :func:`inert`."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    book = Workbook()
    sheet = book.active
    sheet.title = "催报名单"
    sheet.append([f"{status.period}催报名单（截止时间{status.deadline:%Y-%m-%d %H:%M}）"])
    sheet.append([label for _, label in CHASE_HEADERS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for record in status.chase.iter_rows(named=True):
        values = []
        for key, _ in CHASE_HEADERS:
            value = record[key]
            if key == "state":
                value = STATE_LABELS.get(value, value)
            values.append(inert(value))
        sheet.append(values)
    for column, width in zip("ABCDEFGHIJK", (12, 24, 8, 14, 12, 24, 10, 16, 10, 20, 10), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A3"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
