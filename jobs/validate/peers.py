"""Rates against peers (issue 17): a return's rate far from the same period's units of its 层级 and 类别.

Two rates per 本级 return: 专项整治 整改率 (Σ已整改数 / Σ排查问题数) and
整改台账 完成率 (已完成 items / items). A rate is an ``outlier`` when its
modified z-score 0.6745·(x − median)/MAD over at least ``outlier_peers``
peers reaches ``outlier_z``. Rates are fractions: a MAD below 0.05 (most peers
within a few points of each other) counts as 0.05, so a rate five points off
a crowd of identical rates is no outlier.

Peers are what the store holds when the return is recorded, as for
cross-unit copies: the period's counting returns stored before the batch
(:class:`Peers`, loaded once per run and kept current by the writer), then
the batch's accepted returns recorded before it (``rank``); equal ranks (all
of ``rectify validate``'s files) compare both ways. So verdicts do not depend
on batch boundaries.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from jobs.validate.lifecycle import (
    STACK_INDEX,
    TIMINGS,
    StoredReturns,
    empty_marks,
    marks_frame,
)

RATES: dict[str, tuple[str, str]] = {"fix_rate": ("tasks", "整改率"), "completion_rate": ("ledger", "完成率")}
RATE_RESOLUTION = 0.05
_RATE_SCHEMA = {"unit": pl.Utf8, "fix_rate": pl.Float64, "completion_rate": pl.Float64}


def return_rates(tables: Mapping[str, pl.DataFrame], *, by: str) -> pl.DataFrame:
    """``by`` (``_i`` or ``submission_id``), ``unit`` and the two rates of each return (null: nothing to rate)."""
    parts = []
    tasks = tables.get("tasks")
    if tasks is not None and tasks.height:
        parts.append(tasks.group_by(by, "unit").agg(
            pl.when(pl.col("found").sum() > 0).then(pl.col("fixed").sum() / pl.col("found").sum()).alias("fix_rate")
        ))  # fmt: skip
    ledger = tables.get("ledger")
    if ledger is not None and ledger.height:
        parts.append(ledger.group_by(by, "unit").agg((pl.col("status") == "已完成").mean().alias("completion_rate")))
    if not parts:
        return pl.DataFrame(schema={by: pl.Int32 if by == STACK_INDEX else pl.Utf8, **_RATE_SCHEMA})
    out = parts[0]
    for part in parts[1:]:
        out = out.join(part, on=[by, "unit"], how="full", coalesce=True)
    for rate in RATES:
        if rate not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(rate))
    return out.select(by, "unit", *[pl.col(r).cast(pl.Float64) for r in RATES])


@dataclass
class Peers:
    """The period's counting returns' rates so far: per (层级, 类别) and rate, unit -> rate."""

    groups: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, tables: Mapping[str, pl.DataFrame], *, registry: pl.DataFrame) -> Peers:
        """From the period's stored counting tables (``Store.load_tables`` layouts) and the registry."""
        peers = cls()
        rates = return_rates(tables, by="submission_id")
        for unit, level, category, *values in _placed(rates, registry).select(
            "unit", "level", "category", *RATES
        ).iter_rows():
            peers.add(unit, level, category, dict(zip(RATES, values, strict=True)))
        return peers

    def add(self, unit: str, level: str | None, category: str | None, rates: Mapping[str, float | None]) -> None:
        """Record (or replace) a unit's rates."""
        if level is None or category is None:
            return
        for rate, value in rates.items():
            group = self.groups.setdefault((level, category, rate), {})
            if value is None or value != value:  # null or NaN: nothing to rate, and no older rate stays
                group.pop(unit, None)
            else:
                group[unit] = float(value)


def load_peers(store: StoredReturns, period: str, *, registry: pl.DataFrame, report_type: str) -> Peers:
    """The period's counting (``report_type``) returns stored so far, as :class:`Peers` (read once per run)."""
    started = time.perf_counter()
    current = store.current(period)
    counting = current.filter(pl.col("report_type").fill_null(report_type) == report_type)["submission_id"]
    if counting.len() == 0:
        return Peers()
    tables = {k: t.filter(pl.col("submission_id").is_in(counting.implode()))
              for k, t in store.load_tables(period).items() if k in ("tasks", "ledger")}  # fmt: skip
    peers = Peers.from_tables(tables, registry=registry)
    TIMINGS["load"] += time.perf_counter() - started
    return peers


def _placed(rates: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    return rates.join(registry.select(pl.col("code").alias("unit"), "level", "category"), on="unit", how="left")


def peer_outliers(
    tables: Mapping[str, pl.DataFrame],
    units: pl.DataFrame,
    peers: Peers,
    *,
    registry: pl.DataFrame,
    z: float,
    min_peers: int,
) -> pl.DataFrame:
    """``outlier`` marks for rates far from their peers; ``peers`` takes in the pooled returns as it goes.

    ``units`` is ``_i, unit, rank, pooled`` of the batch's returns taking part.
    """
    rates = _placed(return_rates(tables, by=STACK_INDEX).drop("unit").join(units, on=STACK_INDEX), registry)
    hits: list[tuple[int, str, str]] = []
    rows = sorted(rates.iter_rows(named=True), key=lambda r: (r["rank"], r[STACK_INDEX]))
    for _, same in _by_rank(rows):
        # returns of one rank (all of ``rectify validate``'s files) are each other's peers too
        for r in same:
            if r["pooled"]:
                peers.add(r["unit"], r["level"], r["category"], {rate: r[rate] for rate in RATES})
        for r in same:
            for rate in RATES:
                x = r[rate]
                group = peers.groups.get((r["level"], r["category"], rate), {})
                if x is None or len(group) - (r["unit"] in group) < min_peers:
                    continue
                values = np.fromiter((v for u, v in group.items() if u != r["unit"]), dtype=np.float64)
                med = float(np.median(values))
                mad = max(float(np.median(np.abs(values - med))), RATE_RESOLUTION)
                score = 0.6745 * (x - med) / mad
                if abs(score) >= z:
                    hits.append((r[STACK_INDEX], rate, f"为{x:.0%}，与同层级同类别{len(values)}个单位（中位数{med:.0%}）"
                                                     f"相比异常（修正Z值{score:.1f}）"))
    if not hits:
        return empty_marks()
    frame = pl.DataFrame(hits, schema={STACK_INDEX: pl.Int32, "_rate": pl.Utf8, "_reason": pl.Utf8}, orient="row")
    out = [empty_marks()]
    for rate, (sheet, label) in RATES.items():
        part = frame.filter(pl.col("_rate") == rate)
        if part.height:
            marks = marks_frame(part, code="outlier", sheet=sheet, column=None, reason=pl.lit(label) + pl.col("_reason"))
            out.append(marks)
    return pl.concat(out)


def _by_rank(rows: list[dict]) -> list[tuple[int, list[dict]]]:
    groups: list[tuple[int, list[dict]]] = []
    for r in rows:
        if groups and groups[-1][0] == r["rank"]:
            groups[-1][1].append(r)
        else:
            groups.append((r["rank"], [r]))
    return groups
