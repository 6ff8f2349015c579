"""Graded accountability: the notice's three steps (约谈提醒 / 诫勉批评 / 追责问责), each unit with its reasons.

A unit on the list carries exactly one step, the highest it earns, and every
concrete reason (item 序号s, figures) in Chinese, most serious first:

- 约谈提醒 (slack work): 完成率 or 群众满意率 below :class:`Thresholds`, overdue
  items or rejected returns at their counts, unexplained ``stalled-item`` /
  ``deadline-postponed`` findings at :class:`Accountability`'s counts;
- 诫勉批评 (going through the motions): ``too-thin`` or ``copied-text``
  见人见物见思想 on more than ``thin_share`` of the unit's items, unexplained
  ``uniform-figures`` at their count, a 督办 item still open after its new
  deadline (:mod:`jobs.rollup.supervised`);
- 追责问责 (relapse or defiance): rebound items at their count, or 诫勉批评
  reasons in two consecutive periods (``admonished`` of the previous month's list).

Findings are read by code from the stored findings of the counting returns; a
finding frame without an ``explained`` column counts every finding as unexplained.
Units at 诫勉批评 or 追责问责 are not eligible for awards that year
(整改不力的不能列入评先选优对象): :func:`ineligible_units` carries them across the year.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import polars as pl

from jobs.core.jinja import zh_period
from jobs.core.schema import Schema, load_schema
from jobs.office.config import Accountability, Thresholds
from jobs.validate.lifecycle import HISTORY_CODES

__all__ = [
    "ATTENTION_SCHEMA",
    "INEFFECTIVE",
    "STEPS",
    "Accountability",
    "Step",
    "Thresholds",
    "attention_json",
    "finding_marks",
    "graded_attention",
    "ineligible_units",
    "rejection_counts",
]

Step = Literal["约谈提醒", "诫勉批评", "追责问责"]
STEPS: tuple[Step, ...] = ("约谈提醒", "诫勉批评", "追责问责")  # mildest first
# rectification judged ineffective: not eligible for awards that year
INEFFECTIVE: tuple[Step, ...] = ("诫勉批评", "追责问责")

# finding codes the steps read (the month-to-month ones come from the history stage)
STALLED, POSTPONED, UNIFORM = "stalled-item", "deadline-postponed", "uniform-figures"
SHALLOW = ("too-thin", "copied-text")
# the other month-to-month warnings: unexplained, they earn 约谈提醒 at [thresholds] unexplained_warnings.
# persistent-dissatisfaction is not among them: 群众满意率 has its own threshold, and an item 不满意 two
# months running is the masses' verdict, not the unit's backsliding
BACKSLIDING = tuple(c for c in HISTORY_CODES if c not in (STALLED, POSTPONED, UNIFORM, "persistent-dissatisfaction"))
MARK_CODES = (STALLED, POSTPONED, UNIFORM, *SHALLOW, *BACKSLIDING)

ATTENTION_SCHEMA: dict[str, Any] = {
    "code": pl.Utf8,
    "name": pl.Utf8,
    "level": pl.Utf8,
    "category": pl.Utf8,
    "step": pl.Utf8,
    "reasons": pl.List(pl.Utf8),
    "reason": pl.Utf8,
    "admonished": pl.Boolean,
}
MARKS_SCHEMA: dict[str, Any] = {"unit": pl.Utf8, "code": pl.Utf8, "seq": pl.Int64, "explained": pl.Boolean}
INELIGIBLE_SCHEMA: dict[str, Any] = {"code": pl.Utf8, "name": pl.Utf8, "periods": pl.List(pl.Utf8)}


def rejection_counts(submissions: pl.DataFrame, *, period: str) -> pl.DataFrame:
    """``unit, rejections``: returns of the period that were rejected."""
    return (
        submissions.filter((pl.col("period") == period) & ~pl.col("accepted").fill_null(False))
        .group_by("unit")
        .agg(pl.len().cast(pl.Int64).alias("rejections"))
    )


def finding_marks(
    findings: pl.DataFrame | None,
    counted: pl.DataFrame,
    ledger: pl.DataFrame,
    *,
    schema: Schema | None = None,
) -> pl.DataFrame:
    """``unit, code, seq, explained``: the findings the steps read, of the counting returns.

    ``findings`` is ``Store.findings`` of the period's submissions (any extra
    rows are dropped by ``counted``); ``seq`` is the item's 序号 for findings on
    a 整改台账 row (null otherwise). No ``explained`` column: all unexplained.
    """
    if findings is None or findings.height == 0:
        return pl.DataFrame(schema=MARKS_SCHEMA)
    schema = schema or load_schema()
    explained = pl.col("explained").fill_null(False).cast(pl.Boolean) if "explained" in findings.columns else pl.lit(False)
    rows = (
        findings.filter(pl.col("code").is_in(MARK_CODES))
        # the store's own ``seq`` numbers findings, not items
        .select("submission_id", "code", "sheet", pl.col("row").cast(pl.Int64), explained.alias("explained"))
        .join(counted.select("submission_id", "unit"), on="submission_id", how="inner")
    )
    items = ledger.select("submission_id", pl.col("row").cast(pl.Int64), pl.col("seq").cast(pl.Int64))
    on_ledger = pl.col("sheet") == schema.sheet("ledger").name
    return (
        rows.join(items, on=["submission_id", "row"], how="left")
        .select("unit", "code", pl.when(on_ledger).then(pl.col("seq")).alias("seq"), "explained")
        .cast(MARKS_SCHEMA)  # type: ignore[arg-type]
    )


def _pct(value: float) -> str:
    # via integer tenths: a float shown as text would read 33.300000000000004
    tenths = round(value * 1000)
    return f"{tenths // 10}.{tenths % 10}%"


def _seqs(seqs: Iterable[Any]) -> str:
    known = sorted({int(s) for s in seqs if s is not None})
    return f"（序号{'、'.join(str(s) for s in known)}）" if known else ""


def _by_unit(frame: pl.DataFrame | None) -> dict[str, list[Any]]:
    """``unit -> [seq, ...]`` of an item list (overdue, rebound)."""
    out: dict[str, list[Any]] = {}
    if frame is None or frame.height == 0:
        return out
    for unit, seq in frame.select("unit", "seq").iter_rows():
        out.setdefault(unit, []).append(seq)
    return out


def _reasons(
    row: Mapping[str, Any],
    marks: Mapping[tuple[str, str], list[Any]],
    *,
    overdue: list[Any],
    rebound: list[Any],
    supervised: list[Any],
    admonished_before: bool,
    previous_period: str | None,
    t: Thresholds,
    a: Accountability,
) -> dict[Step, list[str]]:
    """The unit's reasons by step (empty lists where it earns none)."""
    code = row["code"]
    out: dict[Step, list[str]] = {s: [] for s in STEPS}
    comp, sat = row["own.completion_rate"], row["own.satisfaction_rate"]
    if comp is not None and comp < t.completion_rate:
        out["约谈提醒"].append(f"整改完成率{_pct(comp)}，低于{t.completion_rate:.0%}")
    if sat is not None and sat < t.satisfaction_rate:
        out["约谈提醒"].append(f"群众满意率{_pct(sat)}，低于{t.satisfaction_rate:.0%}")
    if len(overdue) >= t.overdue_items:
        out["约谈提醒"].append(f"有{len(overdue)}项问题超过整改时限仍未完成{_seqs(overdue)}")
    if (row.get("rejections") or 0) >= t.rejections:
        out["约谈提醒"].append(f"本期报表被退回{row['rejections']}次")
    stalled, postponed = marks.get((code, STALLED), []), marks.get((code, POSTPONED), [])
    if len(stalled) >= a.stalled_items:
        out["约谈提醒"].append(f"有{len(stalled)}项问题长期未启动且未作说明{_seqs(stalled)}")
    if len(postponed) >= a.postponed_items:
        out["约谈提醒"].append(f"有{len(postponed)}项问题推迟整改时限且未作说明{_seqs(postponed)}")
    changed = [s for c in BACKSLIDING for s in marks.get((code, c), [])]
    if changed and len(changed) >= t.unexplained_warnings:
        out["约谈提醒"].append(f"有{len(changed)}条前后变化提示（问题消失、问题改写、状态倒退、累计数减少或异常等）未作说明{_seqs(changed)}")
    shallow = {s for c in SHALLOW for s in marks.get((code, c), []) if s is not None}
    total = row["own.items_total"] or 0
    if total and len(shallow) / total > a.thin_share:
        out["诫勉批评"].append(
            f"{len(shallow)}项问题的见人见物见思想过于简单或照抄照搬，占全部{total}项的{_pct(len(shallow) / total)}，"
            f"超过{a.thin_share:.0%}{_seqs(shallow)}"
        )
    uniform = marks.get((code, UNIFORM), [])
    if len(uniform) >= a.uniform_figures:
        out["诫勉批评"].append(f"报表数字千篇一律且未作说明{len(uniform)}处，疑似弄虚作假")
    if supervised:
        out["诫勉批评"].append(f"有{len(supervised)}项督办问题超过督办时限仍未整改到位{_seqs(supervised)}")
    if len(rebound) >= t.rebound_items:
        out["追责问责"].append(f"有{len(rebound)}项已销号问题反弹回潮{_seqs(rebound)}")
    if out["诫勉批评"] and admonished_before:
        when = f"（{zh_period(previous_period)}已被诫勉批评）" if previous_period else ""
        out["追责问责"].append(f"连续两期整改走过场、被诫勉批评{when}")
    return out


def graded_attention(
    nodes: pl.DataFrame,
    rejections: pl.DataFrame,
    thresholds: Thresholds,
    accountability: Accountability,
    *,
    marks: pl.DataFrame | None = None,
    overdue: pl.DataFrame | None = None,
    rebound: pl.DataFrame | None = None,
    supervised: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
    previous_period: str | None = None,
) -> pl.DataFrame:
    """The graded list: one row per listed unit (:data:`ATTENTION_SCHEMA`), sorted by code.

    Parameters
    ----------
    nodes
        The expected units' rows of ``Summary.nodes`` (their ``own.*`` figures).
    marks
        :func:`finding_marks` of the counting returns.
    overdue, rebound
        The period's overdue and rebound item lists (``unit, seq``).
    supervised
        The 督办 items past their new deadline and not resolved (``unit, seq``).
    previous, previous_period
        The previous month's list (``code, admonished``): 诫勉批评 reasons again
        this month earn 追责问责.
    """
    frame = nodes.select(
        "code", "name", "level", "category",
        "own.items_total", "own.completion_rate", "own.satisfaction_rate",
    ).join(rejections, left_on="code", right_on="unit", how="left")  # fmt: skip
    grouped: dict[tuple[str, str], list[Any]] = {}
    if marks is not None:
        for unit, code, seq in marks.filter(~pl.col("explained")).select("unit", "code", "seq").iter_rows():
            grouped.setdefault((unit, code), []).append(seq)
    late, back, chased = _by_unit(overdue), _by_unit(rebound), _by_unit(supervised)
    before: set[str] = set()
    if previous is not None and "admonished" in previous.columns:
        before = set(previous.filter(pl.col("admonished").fill_null(False))["code"].to_list())
    # reasons are formatted in Python for the units that earn one only (a national registry has ~10^6 units)
    named = {u for u, _ in grouped} | set(late) | set(back) | set(chased)
    candidates = frame.filter(
        (pl.col("own.completion_rate") < thresholds.completion_rate).fill_null(False)
        | (pl.col("own.satisfaction_rate") < thresholds.satisfaction_rate).fill_null(False)
        | (pl.col("rejections").fill_null(0) >= thresholds.rejections)
        | pl.col("code").is_in(list(named))
    )
    rows = []
    for row in candidates.iter_rows(named=True):
        code = row["code"]
        found = _reasons(
            row, grouped, overdue=late.get(code, []), rebound=back.get(code, []), supervised=chased.get(code, []),
            admonished_before=code in before, previous_period=previous_period, t=thresholds, a=accountability,
        )  # fmt: skip
        listed = [s for s in STEPS if found[s]]
        if not listed:
            continue
        reasons = [r for s in reversed(STEPS) for r in found[s]]
        rows.append({
            "code": code, "name": row["name"], "level": row["level"], "category": row["category"],
            "step": listed[-1], "reasons": reasons, "reason": "；".join(reasons),
            "admonished": bool(found["诫勉批评"]),
        })  # fmt: skip
    return pl.DataFrame(rows, schema=ATTENTION_SCHEMA).sort("code")


def attention_json(attention: pl.DataFrame, *, within: pl.Series | None = None) -> dict[str, list[str]]:
    """``{"约谈提醒": [codes], "诫勉批评": [...], "追责问责": [...]}`` (``within``: a subtree's codes)."""
    frame = attention if within is None else attention.filter(pl.col("code").is_in(within.implode()))
    out: dict[str, list[str]] = {s: [] for s in STEPS}
    if "step" not in frame.columns:
        return out
    for code, step in frame.sort("code").select("code", "step").iter_rows():
        out[step].append(code)
    return out


def ineligible_units(attention: pl.DataFrame, earlier: pl.DataFrame | None, *, period: str) -> pl.DataFrame:
    """Units not eligible for awards in ``period``'s year: ``code, name, periods`` (sorted by code).

    ``earlier`` is the list saved with an earlier period (any year; other
    years' rows are dropped), to which this period's 诫勉批评 and 追责问责 units are added.
    """
    year = period[:4]
    now = attention.filter(pl.col("step").is_in(INEFFECTIVE)).select("code", "name", pl.lit(period).alias("p"))
    parts = [now]
    if earlier is not None and earlier.height:
        parts.append(earlier.explode("periods").select("code", "name", pl.col("periods").alias("p")))
    return (
        pl.concat(parts)
        .filter(pl.col("p").str.starts_with(year) & (pl.col("p") <= period))
        .group_by("code", maintain_order=True)  # this period's name first
        .agg(pl.col("name").first(), pl.col("p").unique().sort().alias("periods"))
        .cast(INELIGIBLE_SCHEMA)  # type: ignore[arg-type]
        .sort("code")
    )
