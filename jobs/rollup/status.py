"""Reporting status of a period: who is expected, who reported (on time or late), who to chase.

Everything here reads the period's one coverage model
(:mod:`jobs.rollup.coverage`, where the states and counts are defined), so
``status --json`` totals equal ``summarize --json`` on every coverage key.
Rates come from the summary schema: 报送率 = reported / expected, 及时率 =
on time / expected. A subtree covered by a lower office's 汇总 return takes
its counts from that return; its units are neither counted nor chased one
by one (``units_covered`` says how many registry units that is). Returns
from units that need not report, or are not in the registry, are listed as
``unexpected`` and count in no total; unreadable files and files from
senders not in the registry are also listed on their own (``inbox_problems``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from jobs.core.excel_safe import inert
from jobs.core.schema import load_schema
from jobs.rollup.coverage import STATE_LABELS, Coverage, UnitState
from jobs.rollup.federation import set_aside_notes
from jobs.rollup.indicators import registry_note
from jobs.rollup.period import PeriodView, load_period
from jobs.rollup.published import publication_json

if TYPE_CHECKING:
    from jobs.office.home import Home

__all__ = ["STATE_LABELS", "Status", "UnitState", "compute_status", "write_chase_xlsx"]

RATE_DENOMINATOR = "units_expected"


@dataclass
class Status:
    """The status of one period, for printing, JSON and the chase-list workbook.

    ``units`` are the expected units (是否报送=是) of the scope with their state.
    """

    period: str
    unit: str | None
    deadline: datetime
    now: datetime
    coverage: Coverage
    # the inbox's problems, apart from every count: files that could not be read (``file_name,
    # received_at, reason``) and files from senders not in the registry in force (``unit`` (None:
    # no 单位代码), ``file_name, received_at, accepted``); see :func:`inbox_problems`
    unreadable_files: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=UNREADABLE_SCHEMA))
    unknown_senders: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=UNKNOWN_SCHEMA))
    # the period's publication keys (jobs.rollup.published.publication_json): the counts are the published ones
    published: dict[str, Any] = field(default_factory=dict)

    @property
    def units(self) -> pl.DataFrame:
        frame = self.coverage.units.filter(pl.col("must_report"))
        if self.unit is not None:
            frame = frame.filter(pl.col("code").is_in(self.coverage.subtree(self.unit).implode()))
        return frame

    @property
    def unexpected(self) -> pl.DataFrame:
        frame = self.coverage.unexpected
        if self.unit is not None:
            frame = frame.filter(pl.col("unit").is_in(self.coverage.subtree(self.unit).implode()))
        return frame

    @property
    def not_required(self) -> pl.DataFrame:
        """Returns from registered units that need not report this period (stored, counted nowhere)."""
        frame = self.unexpected
        return frame.filter(pl.col("unit").is_in(self.coverage.units["code"].implode()))

    @property
    def seconds_to_deadline(self) -> int:
        return int((self.deadline - self.now).total_seconds())

    @property
    def totals(self) -> dict[str, Any]:
        return self.coverage.totals(within=self.unit)

    def by(self, column: Literal["level", "category"]) -> pl.DataFrame:
        """Counts per 层级 or 类别 in the schema's order (top level first); groups with nobody expected are left out.

        A 汇总 return's counts are under its own unit's 层级 and under each 类别 it reports.
        """
        schema = load_schema()
        order = list(schema.levels if column == "level" else schema.categories)
        frame = self.coverage.counts(within=self.unit, by=column).filter(
            (pl.col("units_expected") > 0) | (pl.col("units_covered") > 0)
        )
        rank = pl.col(column).replace_strict(order, list(range(len(order))), default=len(order))
        return frame.sort(rank, pl.col(column))

    @property
    def chase(self) -> pl.DataFrame:
        """催报名单: every expected unit without an accepted return, outside covered subtrees."""
        return self.coverage.chase(within=self.unit)

    @property
    def delegated(self) -> pl.DataFrame:
        """Covering units whose 汇总 return reports missing units (theirs to chase), with ``units_missing``."""
        return self.coverage.delegated(within=self.unit)

    @property
    def registry_version(self) -> int | None:
        """The registry version the status was computed from."""
        return self.coverage.registry_version

    @property
    def registry_note(self) -> str:
        """``应报单位依据：组织机构名册第N版`` (every output names the version it used)."""
        return registry_note(self.registry_version)

    @property
    def set_aside(self) -> pl.DataFrame:
        """本级 returns set aside because a 汇总 return covers their unit (counted in no total)."""
        frame = self.coverage.set_aside
        if self.unit is not None:
            frame = frame.filter(pl.col("unit").is_in(self.coverage.subtree(self.unit).implode()))
        return frame

    @property
    def set_aside_notes(self) -> list[str]:
        """One Chinese note per covering 汇总 return naming the set-aside returns (unit, code, file)."""
        return set_aside_notes(self.set_aside)

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
            "registry_version": self.registry_version,
            "deadline": self.deadline.isoformat(),
            "now": self.now.isoformat(timespec="seconds"),
            "seconds_to_deadline": self.seconds_to_deadline,
            "rate_denominator": RATE_DENOMINATOR,
            "set_aside": rows(self.set_aside.select("unit", "name", "file_name", "covered_by", "summary_file")),
            "totals": {k: _jsonable(v) for k, v in self.totals.items()},
            "by_level": rows(self.by("level")),
            "by_category": rows(self.by("category")),
            "chase": rows(chase),
            "unexpected_submissions": self.unexpected.height,
            "unreadable_files": rows(self.unreadable_files),
            "unknown_senders": rows(self.unknown_senders),
            **self.published,
        }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def compute_status(
    home: Home, *, period: str, unit: str | None = None, now: datetime | None = None, view: PeriodView | None = None
) -> Status:
    """Status of ``period`` from its :class:`PeriodView` (loaded from ``home`` unless given).

    Raises ``HomeError`` when no registry is imported or ``unit`` is not in it.
    """
    from jobs.office.home import HomeError

    view = view or load_period(home, period)
    if unit is not None and unit not in view.registry["code"].to_list():
        msg = f"单位代码“{unit}”不在{period}适用的组织机构名册中。"
        raise HomeError(msg)
    unreadable, unknown = inbox_problems(home, view)
    late = view.late if unit is None else view.late.filter(pl.col("unit").is_in(view.coverage.subtree(unit).implode()))
    return Status(period=period, unit=unit, deadline=view.deadline, now=now or home.now(), coverage=view.coverage,
                  unreadable_files=unreadable, unknown_senders=unknown,
                  published=publication_json(view.publication, late))  # fmt: skip


UNREADABLE_SCHEMA = {"file_name": pl.Utf8, "received_at": pl.Datetime("us"), "reason": pl.Utf8}
UNKNOWN_SCHEMA = {"unit": pl.Utf8, "file_name": pl.Utf8, "received_at": pl.Datetime("us"), "accepted": pl.Boolean}


def inbox_problems(home: Home, view: PeriodView) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The period's files that could not be read, and those from senders not in the registry in force.

    An unreadable file has no unit; a readable one without a known 单位代码
    is an unknown sender's. Neither is a unit that need not report, and
    neither counts in any total. Both in order of arrival.
    """
    subs = view.submissions.filter((pl.col("period") == view.period) & pl.col("submission_id").is_not_null())
    strays = subs.filter(pl.col("unit").is_null() | ~pl.col("unit").is_in(view.registry["code"].implode()))
    ids = strays.filter(pl.col("unit").is_null())["submission_id"].to_list()
    findings = home.store.findings(ids) if ids else pl.DataFrame(schema={"submission_id": pl.Utf8, "code": pl.Utf8,
                                                                          "message": pl.Utf8})  # fmt: skip
    reasons = (
        findings.filter(pl.col("code") == "unreadable-file")
        .unique("submission_id", keep="first", maintain_order=True)
        .select("submission_id", pl.col("message").alias("reason"))
    )
    strays = strays.sort("received_at", "file_name")
    unreadable = strays.join(reasons, on="submission_id", how="inner", maintain_order="left")
    unknown = strays.join(reasons, on="submission_id", how="anti", maintain_order="left")
    return (unreadable.select(list(UNREADABLE_SCHEMA)).cast(UNREADABLE_SCHEMA),
            unknown.select(list(UNKNOWN_SCHEMA)).cast(UNKNOWN_SCHEMA))  # fmt: skip


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
