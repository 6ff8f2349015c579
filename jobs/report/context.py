"""The summary report's context: what ``templates/report.html`` and the xlsx writer render.

:class:`ReportContext` is the one documented context object of the report
template; every figure on the page and in the workbook comes from it.
:func:`assemble_context` builds it from plain values (the spec's indicator
dicts, one per node); :func:`jobs.report.build.build_context` adapts the
roll-up's ``Summary`` to those values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jobs.core.schema import Schema, load_schema
from jobs.report.charts import Charts, render_charts
from jobs.report.indicators import (
    CHANGE_KEYS,
    COVERAGE_KEYS,
    HEADLINE_KEYS,
    HISTORY_KEYS,
    INDICATORS,
    STATUS_KEYS,
)
from jobs.report.rows import (
    AttentionRow,
    BackslidingRow,
    ChangeRow,
    CountRow,
    Figure,
    IneligibleRow,
    MissingUnit,
    Number,
    TaskRow,
    UnitRow,
)
from jobs.rollup.attention import STEPS
from jobs.rollup.indicators import registry_note

# Rows of the attention list and of the annex printed on the page; the Excel
# tables always hold every row (a national registry has thousands of units).
PAGE_LIST_LIMIT = 200


@dataclass(frozen=True)
class ReportContext:
    """Everything ``report.html`` renders and ``write_xlsx`` writes.

    Attributes
    ----------
    title
        The report's title without book-title marks, e.g.
        ``关于2015年2月整改落实情况“回头看”的汇总报告``.
    period, deadline, generated_at
        ``YYYY-MM``, the collection deadline, when the report was made.
    scope_code, scope_name, scope_level
        The node summarised (the root for the national report).
    figures
        Every scalar indicator by spec key (:class:`Figure`).
    coverage, headline
        Ordered figure lists for the coverage and headline sections.
    status
        Items by 整改状态.
    items_by_category, items_by_source
        Items by 问题类别 / 问题来源.
    tasks
        The special tasks, in catalogue order.
    institutions, institutions_by_kind, accountability, members
        Counts by 状态 (and by 制度类别 when the roll-up gives it), by fixed 事项, by 落实情况.
    breakdown_title, breakdown
        Lower units of the scope (provinces and central units for the nation).
    by_category
        Breakdown by 类别 (empty for a single-category scope).
    attention
        Units on the graded list, each with its step and reasons (:attr:`attention_steps` groups them).
    ineligible
        Units judged ineffective in any period of the year so far: not eligible for awards that year.
    backsliding
        Units with history warnings (delay and backsliding), the worst first:
        most unexplained warnings, then most warnings.
    previous_period, changes, previous_figures
        Month-over-month against the previous period (empty when none): the
        main indicators' changes, and every indicator of the previous period.
    trend
        ``(period, figures)`` for each period summarised so far, oldest first.
    missing
        Annex: units that have not reported, with contacts.
    charts
        Inline SVG charts.
    registry_version
        The registry version the figures were counted with (named in the page's
        heading and the workbook's 说明 sheet).
    notes
        Chinese notes on what the figures rest on (the roll-up's warnings, e.g.
        a detail return set aside because a 汇总 return covers its unit).
    publication_note
        Which publication of the period the figures are, and what arrived
        since (:func:`jobs.rollup.published.publication_note`); or that the
        period is not yet published.
    """

    title: str
    period: str
    deadline: dt.datetime
    generated_at: dt.datetime
    scope_code: str
    scope_name: str
    scope_level: str
    figures: Mapping[str, Figure]
    coverage: tuple[Figure, ...]
    headline: tuple[Figure, ...]
    status: tuple[Figure, ...]
    items_by_category: tuple[CountRow, ...]
    items_by_source: tuple[CountRow, ...]
    tasks: tuple[TaskRow, ...]
    institutions: tuple[CountRow, ...]
    institutions_by_kind: tuple[CountRow, ...]
    accountability: tuple[CountRow, ...]
    members: tuple[CountRow, ...]
    breakdown_title: str
    breakdown: tuple[UnitRow, ...]
    by_category: tuple[UnitRow, ...]
    attention: tuple[AttentionRow, ...]
    previous_period: str | None
    changes: tuple[ChangeRow, ...]
    previous_figures: Mapping[str, Figure]
    trend: tuple[tuple[str, Mapping[str, Number]], ...]
    missing: tuple[MissingUnit, ...]
    charts: Charts = field(default_factory=Charts)
    registry_version: int | None = None
    notes: tuple[str, ...] = ()
    publication_note: str = ""
    ineligible: tuple[IneligibleRow, ...] = ()
    backsliding: tuple[BackslidingRow, ...] = ()

    @property
    def attention_steps(self) -> tuple[tuple[str, tuple[AttentionRow, ...]], ...]:
        """``(step, rows)`` for each of the three steps, most serious first; rows with most reasons first."""
        return tuple(
            (s, tuple(sorted((a for a in self.attention if a.step == s), key=lambda a: (-len(a.reasons), a.code))))
            for s in reversed(STEPS)
        )

    @property
    def attention_rows_by_step(self) -> tuple[AttentionRow, ...]:
        """Every attention row, most serious step first (the workbook's and the Word table's order)."""
        return tuple(a for _, rows in self.attention_steps for a in rows)

    @property
    def page_limit(self) -> int:
        """Rows of a list printed on the page (:data:`PAGE_LIST_LIMIT`); the workbook has them all."""
        return PAGE_LIST_LIMIT

    @property
    def backsliding_shown(self) -> tuple[BackslidingRow, ...]:
        """The delay and backsliding rows printed on the page (at most :data:`PAGE_LIST_LIMIT`)."""
        return self.backsliding[:PAGE_LIST_LIMIT]

    @property
    def missing_shown(self) -> tuple[MissingUnit, ...]:
        """The annex rows printed on the page (at most :data:`PAGE_LIST_LIMIT`)."""
        return self.missing[:PAGE_LIST_LIMIT]

    @property
    def registry_note(self) -> str:
        """``应报单位依据：组织机构名册第N版``: which registry the figures were counted with."""
        return registry_note(self.registry_version)

    @property
    def missing_total(self) -> int:
        """Units not reported that the annex accounts for (a covering unit's row counts its return's missing units)."""
        return sum(m.units for m in self.missing)

    @property
    def is_national(self) -> bool:
        """True when the scope is the registry's root (全国)."""
        return self.scope_level == "全国"


def report_title(period: str, *, scope_name: str | None = None) -> str:
    """``关于2015年2月整改落实情况“回头看”的汇总报告``; a unit's name is prefixed for unit reports."""
    year, month = period.split("-")
    who = f"{scope_name}" if scope_name else ""
    return f"关于{who}{int(year)}年{int(month)}月整改落实情况“回头看”的汇总报告"


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _figure(key: str, values: Mapping[str, Any]) -> Figure:
    ind = INDICATORS[key]
    value = values.get(key)
    if value is not None and ind.kind == "count":
        value = int(value)
    elif value is not None:
        value = float(value)
    return Figure(key, ind.label, ind.unit, ind.kind, value)


def _counts(mapping: Mapping[str, Any] | None, order: Sequence[str], unit: str) -> tuple[CountRow, ...]:
    mapping = dict(mapping or {})
    keys = list(order) + sorted(k for k in mapping if k not in order)
    return tuple(CountRow(k, k, unit, _int(mapping.get(k))) for k in keys)


def _task_rows(tasks: Mapping[str, Any] | None, schema: Schema) -> tuple[TaskRow, ...]:
    tasks = tasks or {}
    rows = []
    for no, name in sorted(schema.tasks.items()):
        t = tasks.get(str(no)) or tasks.get(no) or {}  # type: ignore[call-overload]
        found, fixed, cases = _int(t.get("found")), _int(t.get("fixed")), _int(t.get("cases"))
        rows.append(TaskRow(no, name, found, fixed, cases, fixed / found if found else None))
    return tuple(rows)


def _change(key: str, current: Mapping[str, Any], previous: Mapping[str, Any]) -> ChangeRow:
    now, before = _figure(key, current), _figure(key, previous)
    diff = None if now.value is None or before.value is None else now.value - before.value
    return ChangeRow(key, now.label, now.unit, now.kind, now.value, before.value, diff)


def _unit_row(values: Mapping[str, Any]) -> UnitRow:
    picked = {k: _figure(k, values).value for k in INDICATORS if k in values}
    return UnitRow(str(values.get("code") or ""), str(values.get("name") or ""), picked)


def _backsliding(rows: Sequence[Mapping[str, Any]]) -> tuple[BackslidingRow, ...]:
    out = [
        BackslidingRow(_text(r.get("code")), _text(r.get("name")), {k: _int(r.get(k)) for k in HISTORY_KEYS},
                       tuple((str(p), int(n)) for p, n in r.get("trend") or ()))
        for r in rows
    ]  # fmt: skip
    return tuple(sorted(out, key=lambda r: (-r.values.get("warnings_unexplained", 0), -r.total, r.code)))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def assemble_context(
    node: Mapping[str, Any],
    *,
    period: str,
    deadline: dt.datetime,
    scope_code: str,
    scope_name: str,
    scope_level: str,
    children: Sequence[Mapping[str, Any]] = (),
    by_category: Sequence[Mapping[str, Any]] = (),
    attention: Sequence[Mapping[str, Any]] = (),
    ineligible: Sequence[Mapping[str, Any]] = (),
    backsliding: Sequence[Mapping[str, Any]] = (),
    missing: Sequence[Mapping[str, Any]] = (),
    previous: Mapping[str, Any] | None = None,
    previous_period: str | None = None,
    history: Sequence[tuple[str, Mapping[str, Any]]] = (),
    generated_at: dt.datetime | None = None,
    charts: bool = True,
    schema: Schema | None = None,
    registry_version: int | None = None,
    notes: Sequence[str] = (),
) -> ReportContext:
    """Build the report context from the scope's indicator dict and its lower units.

    Parameters
    ----------
    node
        The scope's indicators: the spec's summarize JSON dict (``items_total``,
        ``tasks``, ``accountability``...).
    children, by_category
        Indicator dicts (with ``code`` and ``name``) of the scope's direct lower
        units and of each 类别.
    attention
        Dicts with ``code``, ``name``, ``reasons`` (a list of Chinese reasons or one string), ``step``.
    ineligible
        Dicts with ``code``, ``name``, ``periods`` (units not eligible for awards this year).
    backsliding
        Dicts with ``code``, ``name``, the history counts and ``trend``
        (``(period, warnings)`` pairs), any order: sorted here, the worst first.
    missing
        Dicts with ``code, name, parent, level, contact, phone`` (and optionally
        ``state``, and for a covering unit's row ``covering`` and ``units``: the
        missing units its 汇总 return reports) of units not reported.
    previous, previous_period
        The scope's indicators in the previous period, for month-over-month.
    history
        ``(period, indicators)`` of earlier periods for the trend chart; the
        current period is appended when absent.
    charts
        Render the SVG charts (matplotlib); off for fast tests.
    registry_version, notes
        The registry version counted with, and the roll-up's notes (:class:`ReportContext`).
    """
    schema = schema or load_schema()
    generated_at = generated_at or dt.datetime.now().replace(microsecond=0)
    figures = {key: _figure(key, node) for key in INDICATORS}
    ledger = schema.sheet("ledger")
    accountability = dict(node.get("accountability") or {})
    trend_points = [(p, dict(v)) for p, v in history if p != period]
    trend_points.append((period, dict(node)))
    trend_points.sort(key=lambda pv: pv[0])
    ctx = ReportContext(
        title=report_title(period, scope_name=None if scope_level == "全国" else scope_name),
        period=period,
        deadline=deadline,
        generated_at=generated_at,
        scope_code=scope_code,
        scope_name=scope_name,
        scope_level=scope_level,
        figures=figures,
        coverage=tuple(figures[k] for k in COVERAGE_KEYS),
        headline=tuple(figures[k] for k in HEADLINE_KEYS),
        status=tuple(figures[k] for k in STATUS_KEYS),
        items_by_category=_counts(node.get("items_by_category"), ledger.column("问题类别").values or (), "项"),
        items_by_source=_counts(node.get("items_by_source"), ledger.column("问题来源").values or (), "项"),
        tasks=_task_rows(node.get("tasks"), schema),
        institutions=_counts(
            node.get("institutions_by_status"), schema.sheet("institutions").column("状态").values or (), "项"
        ),
        institutions_by_kind=_counts(
            node.get("institutions_by_kind"), schema.sheet("institutions").column("制度类别").values or (), "项"
        )
        if node.get("institutions_by_kind")
        else (),
        accountability=tuple(
            CountRow(c.key, c.name, c.name.rsplit("（", 1)[-1].rstrip("）"), _int(accountability.get(c.name)))
            for c in schema.sheet("accountability").columns
        ),
        members=_counts(node.get("members_by_status"), schema.sheet("members").column("落实情况").values or (), "人"),
        breakdown_title="分省（区、市）和中央单位情况" if scope_level == "全国" else "分下级单位情况",
        breakdown=tuple(_unit_row(c) for c in children),
        by_category=tuple(_unit_row(c) for c in by_category),
        attention=tuple(
            AttentionRow(
                _text(a.get("code")),
                _text(a.get("name")),
                tuple(a["reasons"]) if isinstance(a.get("reasons"), (list, tuple)) else (_text(a.get("reasons")),),
                _text(a.get("step")) or STEPS[0],
            )
            for a in attention
        ),
        ineligible=tuple(
            IneligibleRow(_text(i.get("code")), _text(i.get("name")), tuple(i.get("periods") or ())) for i in ineligible
        ),
        backsliding=_backsliding(backsliding),
        previous_period=previous_period if previous is not None else None,
        changes=tuple(_change(k, node, previous) for k in CHANGE_KEYS) if previous is not None else (),
        previous_figures={k: _figure(k, previous) for k in INDICATORS} if previous is not None else {},
        trend=tuple(trend_points),
        missing=tuple(
            MissingUnit(
                *(_text(m.get(k)) for k in ("code", "name", "parent", "level", "contact", "phone", "state")),
                units=int(m.get("units") or 1),
                covering=bool(m.get("covering")),
            )
            for m in missing
        ),
        registry_version=registry_version,
        notes=tuple(notes),
    )
    if charts:
        rendered = render_charts(
            completion=[(r.name, r.values.get("completion_rate")) for r in ctx.breakdown if r.values.get("items_total")],
            tasks=[(t.name, t.found, t.fixed) for t in ctx.tasks],
            trend=ctx.trend,
            national=ctx.is_national,
        )
        ctx = replace(ctx, charts=rendered)
    return ctx
