"""Rates recomputed from summed counts (never averages of rates), and the spec's JSON shape."""

from __future__ import annotations

from typing import Any

import polars as pl

from jobs.rollup.vocab import Vocab


def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``num / den`` as Float64, null where the denominator is 0 or null."""
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64)).otherwise(None)


def with_rates(frame: pl.DataFrame, vocab: Vocab, *, prefix: str = "") -> pl.DataFrame:
    """Add every rate of the vocabulary (columns ``prefix + key``) from the counts ``prefix + num/den``."""
    return frame.with_columns(
        ratio(pl.col(prefix + r.num), pl.col(prefix + r.den)).alias(prefix + r.key) for r in vocab.rates
    )


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def indicators_json(row: dict[str, Any], vocab: Vocab, *, prefix: str = "") -> dict[str, Any]:
    """The spec's ``summarize --json`` object for one node row (counts under ``prefix``).

    Keys fixed by the spec come first; extras: ``items_by_status``,
    ``institutions_by_kind``, ``institutions_total``, per-task ``rate``, and a
    Chinese ``coverage_note`` so no total is read without its completeness.
    """
    def count(key: str) -> int:
        value = row.get(prefix + key)
        return int(value) if value is not None else 0

    out: dict[str, Any] = {}
    for c in vocab.coverage:
        out[c.key] = count(c.key)
    for r in vocab.rates[:2]:
        out[r.key] = _rate(count(r.num), count(r.den))
    for c in (*vocab.ledger, *vocab.history):
        out[c.key] = count(c.key)
    for r in vocab.rates[2:]:
        out[r.key] = _rate(count(r.num), count(r.den))
    for b in vocab.breakdowns:
        out[b.prefix] = {v: count(b.key(v)) for v in b.values}
    tasks: dict[str, dict[str, Any]] = {}
    for n in vocab.task_numbers:
        entry: dict[str, Any] = {f: count(vocab.task_key(n, f)) for f in vocab.task_sums}
        entry["rate"] = _rate(entry.get("fixed", 0), entry.get("found", 0))
        tasks[str(n)] = entry
    out["tasks"] = tasks
    out[vocab.accountability_prefix] = {name: count(vocab.accountability_key(name)) for _k, name in vocab.accountability}
    out[vocab.members.key] = count(vocab.members.key)
    out[vocab.institutions.key] = count(vocab.institutions.key)
    out["coverage_note"] = coverage_note(out)
    return out


def coverage_note(values: dict[str, Any]) -> str:
    """A Chinese sentence saying how complete the totals are."""
    expected = values.get("units_expected", 0)
    reported = values.get("units_reported", 0)
    note = (
        f"应报{expected}个单位，已报{reported}个（按时{values.get('units_on_time', 0)}个、"
        f"逾期{values.get('units_late', 0)}个），未报{values.get('units_missing', 0)}个"
    )
    if expected:
        note += f"；报送率{reported / expected:.1%}，以上数据仅含已报单位"
    return note


def registry_note(version: int | None) -> str:
    """Which registry version the figures were counted with, in Chinese (every output names it)."""
    if version is None:
        return "应报单位依据：组织机构名册（版本未记录）"
    return f"应报单位依据：组织机构名册第{version}版"
