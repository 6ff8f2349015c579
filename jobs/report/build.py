"""Adapt the roll-up's ``Summary`` to the report context, for the nation or any node.

The context of a node's report: the node's spec JSON (``node_json``), its
direct lower units, the 类别 breakdown of its subtree, the attention list and
the units not reported within the subtree, the previous period's figures and
the trend over earlier periods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from jobs.core.errors import RectifyError
from jobs.report.context import ReportContext, assemble_context

if TYPE_CHECKING:
    from jobs.rollup.summary import Summary


class UnknownUnit(RectifyError):
    """The requested ``--unit`` is not a node of the period's registry."""


def _subtree(summary: Summary, code: str) -> pl.Series:
    from jobs.rollup.tree import closure, subtree_codes

    tree = summary.tree if summary.tree is not None else closure(summary.nodes.select("code", "parent"))
    return subtree_codes(tree, code)


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return list(frame.iter_rows(named=True))


def children_rows(summary: Summary, code: str) -> list[dict[str, Any]]:
    """Indicator rows of the direct lower units of ``code`` (registry order by code)."""
    return _rows(summary.nodes.filter(pl.col("parent") == code).sort("code"))


def category_rows(summary: Summary, code: str) -> list[dict[str, Any]]:
    """Indicators per 类别 within the subtree of ``code`` (the summary's own breakdown for the root)."""
    if code == summary.root or summary.contributions is None:
        frame = summary.by_category
    else:
        from jobs.rollup.indicators import with_rates

        keys = list(summary.vocab.count_keys) if summary.vocab is not None else []
        within = summary.contributions.filter(pl.col("code").is_in(_subtree(summary, code).implode()))
        frame = with_rates(within.group_by("category").agg(pl.col(keys).sum()).sort("category"), summary.vocab)
    frame = frame.with_columns(pl.col("category").alias("code"), pl.col("category").alias("name"))
    if frame.height < 2:  # one 类别: the breakdown would repeat the totals
        return []
    return _rows(frame)


def attention_rows(summary: Summary, code: str) -> list[dict[str, Any]]:
    """The attention list restricted to the subtree of ``code``."""
    frame = summary.attention
    if code != summary.root:
        frame = frame.filter(pl.col("code").is_in(_subtree(summary, code).implode()))
    return _rows(frame.select("code", "name", "reasons", *(["step"] if "step" in frame.columns else [])))


def ineligible_rows(summary: Summary, code: str) -> list[dict[str, Any]]:
    """Units of the subtree of ``code`` not eligible for awards this year (``code, name, periods``)."""
    frame = summary.ineligible
    if code != summary.root:
        frame = frame.filter(pl.col("code").is_in(_subtree(summary, code).implode()))
    return _rows(frame)


def backsliding_rows(
    summary: Summary, code: str, *, earlier: Sequence[tuple[str, pl.DataFrame]] = ()
) -> list[dict[str, Any]]:
    """Units of the subtree of ``code`` with history warnings in their own return, and their year's trend.

    ``earlier`` is ``(period, nodes)`` of the year's earlier summaries (``code``
    plus the ``own.`` history counts, as saved); a unit's trend is its number
    of history warnings in each of those months and this one.
    """
    vocab = summary.vocab
    keys = [c.key for c in vocab.history] if vocab is not None else []
    own = [f"own.{k}" for k in keys]
    if not keys or not set(own) <= set(summary.nodes.columns):
        return []
    frame = summary.nodes.select("code", "name", *own)
    if code != summary.root:
        frame = frame.filter(pl.col("code").is_in(_subtree(summary, code).implode()))
    total = pl.col("own.warnings_explained").fill_null(0) + pl.col("own.warnings_unexplained").fill_null(0)
    frame = frame.filter(total > 0)
    if frame.height == 0:
        return []
    months: dict[str, list[tuple[str, int]]] = {c: [] for c in frame["code"]}
    year = summary.period[:4]
    for period, nodes in [*earlier, (summary.period, summary.nodes)]:
        if period[:4] != year or not {"own.warnings_explained", "own.warnings_unexplained"} <= set(nodes.columns):
            continue
        counts = nodes.filter(pl.col("code").is_in(list(months))).select("code", total.alias("n"))
        for c, n in counts.iter_rows():
            months[c].append((period, int(n or 0)))
    rows = []
    for r in frame.iter_rows(named=True):
        row = {"code": r["code"], "name": r["name"], **{k: r[f"own.{k}"] for k in keys}}
        row["trend"] = sorted(months[r["code"]])
        rows.append(row)
    return rows


def missing_rows(summary: Summary, code: str) -> list[dict[str, Any]]:
    """The annex of the subtree of ``code``, from the period's coverage (the one the totals come from).

    One row per expected unit without a counted return (``state`` in Chinese),
    then one row per covering unit whose 汇总 return reports missing units
    (``units``: how many; the lower office chases them), so the rows account
    for every unit in ``units_missing``.
    """
    from jobs.rollup.coverage import STATE_LABELS

    coverage = summary.coverage
    if coverage is None:
        msg = "summary has no coverage (a saved summary): the annex needs the period's coverage"
        raise ValueError(msg)
    rows = [
        {"code": r["code"], "name": r["name"], "parent": r["parent_name"], "level": r["level"],
         "contact": r["contact"], "phone": r["phone"], "state": STATE_LABELS[r["state"]], "units": 1}
        for r in coverage.chase(within=code).sort("code").iter_rows(named=True)
    ]  # fmt: skip
    rows += [
        {"code": r["code"], "name": r["name"], "parent": r["parent_name"], "level": r["level"],
         "contact": r["contact"], "phone": r["phone"], "units": r["units_missing"], "covering": True,
         "state": f"所报汇总报表含未报单位{r['units_missing']}个，由其催报"}
        for r in coverage.delegated(within=code).iter_rows(named=True)
    ]  # fmt: skip
    return rows


def build_context(
    summary: Summary,
    *,
    deadline: dt.datetime,
    unit: str | None = None,
    missing: Sequence[dict[str, Any]] | None = None,
    previous: Summary | None = None,
    history: Sequence[tuple[str, dict[str, Any]]] = (),
    generated_at: dt.datetime | None = None,
    charts: bool = True,
    earlier_nodes: Sequence[tuple[str, pl.DataFrame]] = (),
) -> ReportContext:
    """The report context of ``summary`` for the nation, or for the subtree of ``unit``.

    Parameters
    ----------
    missing
        The annex rows (dicts with ``code, name, parent, level, contact,
        phone, state, units, covering``); default: :func:`missing_rows` of the summary's coverage.
    previous
        The previous period's summary, for month-over-month.
    history
        ``(period, national-or-unit JSON)`` of earlier periods for the trend.
    earlier_nodes
        ``(period, nodes)`` of earlier periods (``code`` + ``own.`` history
        counts), for each unit's trend of history warnings.

    Raises
    ------
    UnknownUnit
        When ``unit`` is not in the period's registry.
    """
    from jobs.rollup.summary import node_json

    code = unit or summary.root
    try:
        node = node_json(summary, code)
    except KeyError:
        msg = f"单位代码“{code}”不在{summary.period}的组织机构名册中，请核对 --unit。"
        raise UnknownUnit(msg) from None
    before = None
    if previous is not None:
        try:
            before = node_json(previous, code)
        except KeyError:  # the unit is new this period
            before = None
    return assemble_context(
        node,
        period=summary.period,
        deadline=deadline,
        scope_code=code,
        scope_name=str(node.get("name") or code),
        scope_level=str(node.get("level") or ""),
        children=children_rows(summary, code),
        by_category=category_rows(summary, code),
        attention=attention_rows(summary, code),
        ineligible=ineligible_rows(summary, code),
        backsliding=backsliding_rows(summary, code, earlier=earlier_nodes),
        missing=missing if missing is not None else missing_rows(summary, code),
        previous=before,
        previous_period=previous.period if previous is not None else None,
        history=history,
        generated_at=generated_at,
        charts=charts,
        registry_version=summary.registry_version,
        notes=summary.warnings,
    )
