"""The history stage's wiring (issue 17): item and figure rules over a batch, findings added in place.

Two callers, as for cross-unit copies (:mod:`jobs.validate.cross_units`):

- intake's single writer, once per batch before ``write_batch``, with the
  earlier periods loaded once per run (:func:`jobs.validate.lifecycle.load_earlier`);
- :func:`jobs.validate.validate_files` given a home (``rectify validate --home``).

Only earlier periods are read, so a return's verdict does not depend on
batch boundaries, executors or the order of the period's own returns. A
warning on a row whose 说明 the unit filled is kept, marked ``explained``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from jobs.core.findings import Finding, Report, in_place_order, make_finding
from jobs.core.schema import Schema
from jobs.core.tables import table_schema
from jobs.office.config import History
from jobs.validate.figures import figure_marks
from jobs.validate.lifecycle import (
    STACK_INDEX,
    TIMINGS,
    Earlier,
    StoredReturns,
    item_marks,
    load_earlier,
)
from jobs.validate.peers import Peers, load_peers, peer_outliers


@dataclass
class HistoryCache:
    """The history stage's inputs for one period, kept across ingest runs while the store is unchanged.

    A watching process ingests a few files at a time: reading six months of
    every unit's returns per arrival would cost seconds each. The cache is
    valid while the ledger holds exactly what it held when last seen
    (:meth:`seen`, called by the writer under the lock after each of its own
    batches, whose rates the stage has already taken into the peers).
    """

    key: tuple[Any, ...] | None = None
    earlier: Earlier | None = None
    peers: Peers | None = None

    @staticmethod
    def _key(store: StoredReturns, period: str) -> tuple[Any, ...]:
        subs = store.submissions()
        return (period, subs.height, subs["ingested_at"].max() if subs.height else None)

    def get(self, store: StoredReturns, period: str, *, registry: pl.DataFrame, report_type: str) -> tuple[Earlier, Peers]:
        """The earlier returns and the period's peers, read again only when another writer changed the store."""
        key = self._key(store, period)
        if key != self.key or self.earlier is None or self.peers is None:
            self.earlier = load_earlier(store, period, report_type=report_type)
            self.peers = load_peers(store, period, registry=registry, report_type=report_type)
            self.key = key
        return self.earlier, self.peers

    def seen(self, store: StoredReturns, period: str) -> None:
        """The store now holds this process's own batch (already in the peers): still valid."""
        if self.key is not None and self.key[0] == period:
            self.key = self._key(store, period)


def stack(tables: Sequence[Mapping[str, pl.DataFrame] | None], key: str) -> pl.DataFrame | None:
    """One sheet's tables of many returns in one frame, ``_i`` their index (as intake stacks them)."""
    parts = [t[key].with_columns(pl.lit(i, pl.Int32).alias(STACK_INDEX)) for i, t in enumerate(tables)
             if t and key in t and t[key].height]  # fmt: skip
    return pl.concat(parts, how="diagonal_relaxed") if parts else None


def find_history(
    results: Sequence[Any],
    tables: Mapping[str, pl.DataFrame],
    *,
    earlier: Earlier,
    schema: Schema,
    rules: History,
    peers: Peers | None = None,
    registry: pl.DataFrame | None = None,
    ranks: Sequence[int] | None = None,
    pooled: Sequence[bool] | None = None,
) -> list[int]:
    """The stage: add history findings to the batch's ``results`` (``_i`` of ``tables`` indexes them); the indices changed.

    ``tables`` are the batch's typed tables stacked per sheet key (stored
    layout plus ``_i``). 汇总 returns and returns without a unit take no part.
    With ``peers`` (the period's stored rates) and the ``registry``, rates are
    also compared with the same 层级 and 类别; ``ranks``/``pooled`` are the
    recording order and which returns join the peers (default: all at once, the accepted).
    """
    started = time.perf_counter()
    try:
        return _find_history(results, tables, earlier=earlier, schema=schema, rules=rules, peers=peers,
                             registry=registry, ranks=ranks, pooled=pooled)  # fmt: skip
    finally:
        TIMINGS["stage"] += time.perf_counter() - started


def _find_history(
    results: Sequence[Any],
    tables: Mapping[str, pl.DataFrame],
    *,
    earlier: Earlier,
    schema: Schema,
    rules: History,
    peers: Peers | None,
    registry: pl.DataFrame | None,
    ranks: Sequence[int] | None,
    pooled: Sequence[bool] | None,
) -> list[int]:
    taking = [i for i, r in enumerate(results)
              if r.report.unit is not None and getattr(r, "report_type", None) == schema.default_report_type]  # fmt: skip
    if not taking:
        return []
    units = pl.DataFrame({STACK_INDEX: taking, "unit": [results[i].report.unit for i in taking]},
                         schema={STACK_INDEX: pl.Int32, "unit": pl.Utf8})  # fmt: skip
    parts = []
    if peers is not None and registry is not None:
        order = units.with_columns(
            pl.Series("rank", [ranks[i] if ranks is not None else 0 for i in taking], pl.Int64),
            pl.Series("pooled", [pooled[i] if pooled is not None else results[i].report.accepted for i in taking],
                      pl.Boolean),
        )  # fmt: skip
        parts.append(peer_outliers(tables, order, peers, registry=registry, z=rules.outlier_z,
                                   min_peers=rules.outlier_peers))  # fmt: skip
    if earlier.returns.height:
        ledger = tables.get("ledger")
        if ledger is None:
            ledger = pl.DataFrame(schema={**table_schema("ledger", schema=schema), STACK_INDEX: pl.Int32()})
        parts += [item_marks(ledger, units, earlier, rules=rules),
                  figure_marks(tables, units, earlier, rules=rules, schema=schema)]  # fmt: skip
    if not parts:
        return []
    marks = pl.concat(parts).sort(STACK_INDEX, "sheet", "row", "code", "column", "seq", nulls_last=False)
    return add_history_findings(results, marks, explained_rows(tables), schema=schema)


def explained_rows(tables: Mapping[str, pl.DataFrame]) -> set[tuple[int, str, int]]:
    """``(_i, sheet key, row)`` of the batch's rows whose 说明 is filled."""
    out: set[tuple[int, str, int]] = set()
    for key in ("ledger", "tasks"):
        frame = tables.get(key)
        if frame is None or "note" not in frame.columns:
            continue
        filled = frame.filter(pl.col("note").str.strip_chars().str.len_chars() > 0)
        out.update((i, key, r) for i, r in filled.select(STACK_INDEX, "row").iter_rows())
    return out


def add_history_findings(
    results: Sequence[Any], marks: pl.DataFrame, explained: set[tuple[int, str, int]], *, schema: Schema
) -> list[int]:
    """Turn marks into findings on the results' reports, in place order; the indices changed."""
    names = {s.key: s.name for s in schema.sheets}
    new: dict[int, list[Finding]] = {}
    for mark in marks.iter_rows(named=True):
        i, key, row, column = mark[STACK_INDEX], mark["sheet"], mark["row"], mark["column"]
        where = getattr(results[i], "columns", None) or {}
        col_index = where.get(key, {}).get(column) if column else None
        params = {k: mark[k] for k in ("seq", "earlier", "previous", "value", "count", "reason") if mark[k] is not None}
        finding = make_finding(mark["code"], sheet=names[key], row=row, column=column, col_index=col_index,
                               schema=schema, **params)  # fmt: skip
        if row is not None and (i, key, row) in explained:
            finding = replace(finding, explained=True)
        new.setdefault(i, []).append(finding)
    for i, found in new.items():
        report: Report = results[i].report
        report.findings = in_place_order([*report.findings, *found], schema=schema)
        if isinstance(report.stats, dict) and "n_warnings" in report.stats:
            report.stats["n_warnings"] = len(report.warnings)
    return sorted(new)
