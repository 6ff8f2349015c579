"""Rates against peers (issue 17): a return's rate far from the same period's units of its 层级 and 类别.

The rate of a 本级 return: 专项整治 整改率 (Σ已整改数 / Σ排查问题数). It is an ``outlier`` when its
modified z-score 0.6745·(x − median)/MAD over at least ``outlier_peers``
peers reaches ``outlier_z``. Rates are fractions: a MAD below 0.1 (most peers
within a few points of each other) counts as 0.1, so a rate ten points off
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

# 完成率 is not compared: it follows when items were listed (new items found 回头看 lower it), so
# honest units differ widely; 整改率 of the cumulative 专项整治 counts is what 弄虚作假 inflates.
RATES: dict[str, tuple[str, str]] = {"fix_rate": ("tasks", "整改率")}
RATE_RESOLUTION = 0.1
EXACT_UP_TO = 100  # peers; larger groups: see _Group.reference
_RATE_SCHEMA = {"unit": pl.Utf8, "fix_rate": pl.Float64}


def return_rates(tables: Mapping[str, pl.DataFrame], *, by: str) -> pl.DataFrame:
    """``by`` (``_i`` or ``submission_id``), ``unit`` and the rates of each return (null: nothing to rate)."""
    parts = []
    tasks = tables.get("tasks")
    if tasks is not None and tasks.height:
        parts.append(tasks.group_by(by, "unit").agg(
            pl.when(pl.col("found").sum() > 0).then(pl.col("fixed").sum() / pl.col("found").sum()).alias("fix_rate")
        ))  # fmt: skip
    if not parts:
        return pl.DataFrame(schema={by: pl.Int32 if by == STACK_INDEX else pl.Utf8, **_RATE_SCHEMA})
    out = parts[0]
    for part in parts[1:]:
        out = out.join(part, on=[by, "unit"], how="full", coalesce=True)
    for rate in RATES:
        if rate not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(rate))
    return out.select(by, "unit", *[pl.col(r).cast(pl.Float64) for r in RATES])


class _Group:
    """One (层级, 类别, rate) group's rates: unit -> slot in an array (a national group holds thousands)."""

    def __init__(self) -> None:
        self.slot: dict[str, int] = {}
        self.values: list[float] = []
        self._array: np.ndarray | None = None
        self._summary: tuple[int, float, float] | None = None
        self._changes = 0

    def __len__(self) -> int:
        return len(self.slot)

    def __contains__(self, unit: object) -> bool:
        return unit in self.slot

    def set(self, unit: str, value: float | None) -> None:
        slot = self.slot.get(unit)
        if value is None:
            if slot is not None:
                self.values[slot] = np.nan
                del self.slot[unit]
        elif slot is None:
            self.slot[unit] = len(self.values)
            self.values.append(value)
        else:
            self.values[slot] = value
        self._array = None
        self._changes += 1

    def others(self, unit: str) -> np.ndarray:
        """The rates of every unit but ``unit``."""
        if self._array is None:
            self._array = np.asarray(self.values, dtype=np.float64)
        keep = ~np.isnan(self._array)
        slot = self.slot.get(unit)
        if slot is not None:
            keep[slot] = False
        return self._array[keep]

    def reference(self, unit: str) -> tuple[int, float, float]:
        """``(peers, median, MAD)`` of the rates of the units other than ``unit``.

        Exact up to :data:`EXACT_UP_TO` peers. A larger group (a nation's 村级
        units) is summarised again only after it changed by 1 %: a median
        over thousands per arriving return cost ~0.8 ms, and one unit's own
        rate moves such a median by less than that rounding. Deterministic:
        it depends only on the recording order.
        """
        if len(self) - (unit in self) <= EXACT_UP_TO:
            values = self.others(unit)
            med = float(np.median(values)) if len(values) else float("nan")
            return len(values), med, float(np.median(np.abs(values - med))) if len(values) else float("nan")
        if self._summary is None or self._changes * 100 >= len(self):
            values = self.others("")
            med = float(np.median(values))
            self._summary = (len(values), med, float(np.median(np.abs(values - med))))
            self._changes = 0
        return self._summary


@dataclass
class Peers:
    """The period's counting returns' rates so far, per (层级, 类别) and rate."""

    groups: dict[tuple[str, str, str], _Group] = field(default_factory=dict)

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
            # null or NaN: nothing to rate, and no older rate of the unit stays
            ok = value is not None and value == value
            self.groups.setdefault((level, category, rate), _Group()).set(unit, float(value) if ok else None)


def load_peers(store: StoredReturns, period: str, *, registry: pl.DataFrame, report_type: str) -> Peers:
    """The period's counting (``report_type``) returns stored so far, as :class:`Peers` (read once per run)."""
    started = time.perf_counter()
    current = store.current(period)
    counting = current.filter(pl.col("report_type").fill_null(report_type) == report_type)["submission_id"]
    if counting.len() == 0:
        return Peers()
    tables = {k: t.filter(pl.col("submission_id").is_in(counting.implode()))
              for k, t in store.load_tables(period, keys=("tasks",), columns=("found", "fixed")).items()}  # fmt: skip
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
                group = peers.groups.get((r["level"], r["category"], rate))
                if x is None or group is None or len(group) - (r["unit"] in group) < min_peers:
                    continue
                n, med, mad = group.reference(r["unit"])
                score = 0.6745 * (x - med) / max(mad, RATE_RESOLUTION)
                if abs(score) >= z:
                    hits.append((r[STACK_INDEX], rate, f"为{x:.0%}，与同层级同类别{n}个单位（中位数{med:.0%}）"
                                                     f"相比异常（修正Z值{score:.1f}）"))  # fmt: skip
    if not hits:
        return empty_marks()
    frame = pl.DataFrame(hits, schema={STACK_INDEX: pl.Int32, "_rate": pl.Utf8, "_reason": pl.Utf8}, orient="row")
    out = [empty_marks()]
    for rate, (sheet, label) in RATES.items():
        part = frame.filter(pl.col("_rate") == rate)
        if part.height:
            # the rate's name stands where a column's would: “整改率”为0%……
            out.append(marks_frame(part, code="outlier", sheet=sheet, column=label, reason=pl.col("_reason")))
    return pl.concat(out)


def _by_rank(rows: list[dict]) -> list[tuple[int, list[dict]]]:
    groups: list[tuple[int, list[dict]]] = []
    for r in rows:
        if groups and groups[-1][0] == r["rank"]:
            groups[-1][1].append(r)
        else:
            groups.append((r["rank"], [r]))
    return groups
