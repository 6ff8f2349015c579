"""Copy detection redone by intake's single writer: no file read, no GX (issue #7).

Workers validate a batch without stored texts; when texts stored since the
run began (earlier batches) are shared with the batch, only ``copied-text``
findings can change. The worker records what :func:`detect_copies` compared
(:class:`jobs.validate.copies.CopyCapture`, mapped to the batch's result
indices by :func:`batch_copy_state`); the writer then redoes the cross-unit
grouping with the stored texts (:func:`recheck_copies`) and rebuilds the
copy findings of the returns whose marks changed with the validator's own
``emit``, putting them where the full validation puts them: each finding
carries its check's place (``Finding.order``), and within one check its row's
place in the checked frame. The result is the report a full re-validation
with the stored texts gives (tested against it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from jobs.core.findings import Finding
from jobs.core.schema import Schema
from jobs.validate.copies import RID, ROW, CopyCapture, across_marks, checked_columns
from jobs.validate.suites import Check, all_checks
from jobs.validate.translate import check_order, cut_cascades, emit

COPY_CODE = "copied-text"


@dataclass(frozen=True)
class CopyState:
    """A batch's :class:`CopyCapture` with ``_rid`` holding the result's index in the batch (``_i``)."""

    texts: pl.DataFrame
    units: pl.DataFrame
    places: pl.DataFrame
    marks: pl.DataFrame


def batch_copy_state(
    calls: Sequence[CopyCapture],
    *,
    results: Sequence[Any],
    readable: Sequence[bool],
    texts: pl.DataFrame,
    schema: Schema,
) -> CopyState | None:
    """Map the one validation call's return ids to result indices; None when that cannot be proved.

    The validator numbers the returns it validates together (readable, not
    汇总) in order. The mapping is checked: every return's unit, and every
    compared text (place and hash) equal to the batch's stored-text rows
    ``texts`` (``_i, unit, sheet, row, column, hash``). Anything else (a
    validator double, the one-by-one fallback after a failure) gives None:
    the writer then validates again in full.
    """
    state = _aligned(calls, results=results, readable=readable, schema=schema)
    if state is None or not _same_texts(state, texts, schema=schema):
        return None
    return state


def batch_copy_texts(
    calls: Sequence[CopyCapture],
    *,
    results: Sequence[Any],
    readable: Sequence[bool],
    tables: Mapping[str, pl.DataFrame],
    schema: Schema,
) -> tuple[CopyState, pl.DataFrame] | None:
    """:func:`batch_copy_state` proved against the stacked ``tables`` instead; also the batch's texts.

    When every row of every copy-checked column of ``tables`` (``_i, row,
    <key>``) carries exactly the text the validator compared at that place,
    the validator's hashes are the ones :func:`jobs.intake.batch.stacked_text_hashes`
    would compute from the tables (same text, same folding and hash), so the
    batch's texts (``_i`` + ``unit, sheet, row, column, hash``) come from the
    record instead of folding every text again (~0.5 ms per file). None when
    not proved (the caller hashes the tables).
    """
    state = _aligned(calls, results=results, readable=readable, schema=schema)
    cells = calls[0].cells if state is not None else None
    if state is None or cells is None:
        return None
    validated = _validated(results, readable, schema=schema)
    cells = cells.with_columns(_to_i(validated))
    checked = checked_columns(schema)
    for c, (sheet_key, key, _header, _min) in enumerate(checked):
        table = tables.get(sheet_key)
        mine = cells.filter(pl.col("check") == c).select(pl.col(RID).alias("_i"), pl.col(ROW).alias("row"), "text")
        if table is None or key not in table.columns:
            if mine.height:
                return None
            continue
        theirs = table.select(pl.col("_i").cast(pl.Int32), pl.col("row").cast(pl.Int32), pl.col(key).cast(pl.Utf8).alias("text"))
        if mine.height != theirs.height or not mine.sort("_i", "row").equals(theirs.sort("_i", "row")):
            return None
    names = {s.key: s.name for s in schema.sheets}
    labels = pl.DataFrame(
        {"check": range(len(checked)), "sheet": [names[c[0]] for c in checked], "column": [c[2] for c in checked]},
        schema={"check": pl.Int16, "sheet": pl.Utf8, "column": pl.Utf8},
    )
    units = pl.DataFrame({"_i": range(len(results)), "unit": [r.report.unit for r in results]},
                         schema={"_i": pl.Int32, "unit": pl.Utf8})  # fmt: skip
    texts = (
        state.texts.join(labels, on="check").sort("check", RID, ROW)
        .select(pl.col(RID).alias("_i"), "sheet", pl.col(ROW).cast(pl.Int64).alias("row"), "column", "hash")
        .join(units, on="_i", how="left", maintain_order="left")
        .select("_i", "unit", "sheet", "row", "column", "hash")
    )  # fmt: skip
    return state, texts


def _validated(results: Sequence[Any], readable: Sequence[bool], *, schema: Schema) -> list[int]:
    """Indices of the results the validator numbered (readable, not 汇总), in its order."""
    from jobs.rollup.federation import summary_report_type

    summary = summary_report_type(schema)
    return [i for i, r in enumerate(results) if readable[i] and getattr(r, "report_type", None) != summary]


def _to_i(validated: Sequence[int]) -> pl.Expr:
    index = pl.Series(range(len(validated)), dtype=pl.Int32)
    return pl.col(RID).replace_strict(index, pl.Series(validated, dtype=pl.Int32), return_dtype=pl.Int32)


def _aligned(
    calls: Sequence[CopyCapture], *, results: Sequence[Any], readable: Sequence[bool], schema: Schema
) -> CopyState | None:
    """The one call's record with return ids mapped to result indices, if every return's unit agrees."""
    if len(calls) != 1:
        return None
    capture = calls[0]
    validated = _validated(results, readable, schema=schema)
    ids = sorted(
        set(capture.units[RID].to_list()) | set(capture.texts[RID].to_list()) | set(capture.places[RID].to_list())
        | (set(capture.cells[RID].unique().to_list()) if capture.cells is not None else set())
    )  # fmt: skip
    if ids and (ids[0] < 0 or ids[-1] >= len(validated)):
        return None
    for rid, unit in capture.units.select(RID, "unit").iter_rows():
        if results[validated[rid]].report.unit != unit:
            return None
    to_i = _to_i(validated)
    return CopyState(
        texts=capture.texts.with_columns(to_i),
        units=capture.units.with_columns(to_i),
        places=capture.places.with_columns(to_i),
        marks=capture.marks.with_columns(to_i),
    )


def _same_texts(state: CopyState, texts: pl.DataFrame, *, schema: Schema) -> bool:
    names = {s.key: s.name for s in schema.sheets}
    checked = checked_columns(schema)
    labels = pl.DataFrame(
        {"check": range(len(checked)), "sheet": [names[c[0]] for c in checked], "column": [c[2] for c in checked]},
        schema={"check": pl.Int16, "sheet": pl.Utf8, "column": pl.Utf8},
    )
    cols = ["_i", "sheet", "row", "column", "hash"]
    mine = state.texts.join(labels, on="check").select(
        pl.col(RID).alias("_i"), "sheet", pl.col(ROW).cast(pl.Int64).alias("row"), "column", "hash"
    )
    theirs = texts.select(pl.col("_i").cast(pl.Int32), "sheet", pl.col("row").cast(pl.Int64), "column", "hash")
    if mine.height != theirs.height:
        return False
    return mine.sort(cols).equals(theirs.sort(cols))


def _copy_checks(schema: Schema) -> dict[int, tuple[Check, int]]:
    """Per checked column (index of :func:`checked_columns`): its ``…:copy`` check and that check's order."""
    checks = all_checks(schema)
    order = check_order(checks)
    by_column = {(c.sheet, c.column): c for cs in checks.values() for c in cs if c.code == COPY_CODE}
    out = {}
    for i, (sheet_key, key, _header, _min) in enumerate(checked_columns(schema)):
        check = by_column[(sheet_key, f"copy__{key}")]
        out[i] = (check, order[check.id])
    return out


def recheck_copies(
    results: Sequence[Any],
    state: CopyState,
    *,
    stored: pl.DataFrame | None,
    period: str | None,
    schema: Schema,
) -> list[int] | None:
    """Redo copy detection with the ``stored`` texts; update the reports whose copy findings change.

    ``results`` are the batch's validator results (``_i`` indexes them);
    ``stored`` the period's stored texts sharing the batch's hashes (what the
    full validation gets as ``other_units_texts``). Returns the indices of the
    reports changed, or None (nothing changed) when a report's findings do
    not carry their check order, so the caller validates again in full.
    """
    checked = checked_columns(schema)
    keys = pl.DataFrame(
        {"check": range(len(checked)), "sheet": [c[0] for c in checked], "key": [c[1] for c in checked]},
        schema={"check": pl.Int16, "sheet": pl.Utf8, "key": pl.Utf8},
    )
    long = state.texts.join(state.units, on=RID, how="left").join(keys, on="check")
    inner = state.marks.filter(pl.col("inner")).select(RID, "check", ROW, "other")
    across = across_marks(long, other_units_texts=stored, period=period).join(keys, on=["sheet", "key"]).select(
        RID, "check", ROW, "other"
    )
    marks = pl.concat([inner, across.join(inner, on=[RID, "check", ROW], how="anti")])
    old = state.marks.select(RID, "check", ROW, "other")
    changed = sorted(
        set(marks.join(old, on=[RID, "check", ROW, "other"], how="anti")[RID].to_list())
        | set(old.join(marks, on=[RID, "check", ROW, "other"], how="anti")[RID].to_list())
    )
    if not changed:
        return []
    copy_checks = _copy_checks(schema)
    orders = {order for _check, order in copy_checks.values()}
    for i in changed:
        if not _ordered(results[i].report.findings, orders):
            return None
    mine = pl.col(RID).is_in(changed)
    located = marks.filter(mine).join(state.texts.filter(mine).select(RID, "check", ROW, "_pos"),
                                      on=[RID, "check", ROW], how="left")  # fmt: skip
    locs: dict[str, dict[int, dict[str, int]]] = {}
    for rid, c, col in state.places.filter(mine).iter_rows():
        sheet_key, _key, header, _min = checked[c]
        locs.setdefault(sheet_key, {}).setdefault(rid, {})[header] = col
    found: dict[int, list[Finding]] = {}
    for c, (check, order) in copy_checks.items():
        frame = located.filter(pl.col("check") == c).sort(RID, "_pos").select(
            RID, ROW, pl.col("other").alias(check.column)
        )
        if frame.height:
            emit(check, frame, list(range(frame.height)), found, locs=locs, schema=schema, order=order)
    for i in changed:
        _replace_copies(results[i].report, found.get(i, []), orders)
    return changed


def _ordered(findings: Sequence[Finding], orders: set[int]) -> bool:
    """Findings from checks (``order`` set) follow all others, in check order, and copy findings have one."""
    seen_ranked, last = False, 0
    for f in findings:
        if f.order is None:
            if seen_ranked or f.code == COPY_CODE:
                return False
            continue
        if f.order < last:
            return False
        seen_ranked, last = True, f.order
    return True


def _replace_copies(report: Any, new: list[Finding], orders: set[int]) -> None:
    """The report's findings with those of the copy checks replaced by ``new``, cascades cut as the validator does."""
    kept = [f for f in report.findings if not (f.code == COPY_CODE and f.order in orders)]
    head = [f for f in kept if f.order is None]
    ranked = sorted([*(f for f in kept if f.order is not None), *new], key=lambda f: f.order)
    report.findings = cut_cascades([*head, *ranked])
    if isinstance(report.stats, dict):
        if "n_errors" in report.stats:
            report.stats["n_errors"] = len(report.errors)
        if "n_warnings" in report.stats:
            report.stats["n_warnings"] = len(report.warnings)
