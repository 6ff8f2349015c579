"""Failing rows of declared checks -> findings: the one place GX results become findings.

Each failing row position is joined back to its check frame to recover the
return, the Excel row, the source column (its real letter, columns may be
reordered) and the message parameters. Cascades are cut here: a finding on a
column or item the return does not have is dropped (missing-column or
missing-field already says so), and a cell that already has a primary
finding (empty, bad value) gets no secondary ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from jobs.core.findings import Finding, make_finding
from jobs.core.schema import Schema
from jobs.validate.suites import Check
from jobs.validate.typing import RID

# Findings that say a cell's own value is missing or unusable: other findings
# on the same cell would only repeat them.
PRIMARY = frozenset(
    {"missing-field", "bad-enum", "bad-date", "bad-number", "people-missing", "facts-missing", "mindset-missing"}
)

Locations = Mapping[str, Mapping[int, Mapping[str, int]]]


def _text(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def translate(
    frames: Mapping[str, pl.DataFrame],
    checks: Mapping[str, Sequence[Check]],
    positions: Mapping[str, list[int]],
    *,
    locs: Locations,
    schema: Schema,
) -> dict[int, list[Finding]]:
    """Turn failing positions per check id into findings per return id."""
    out: dict[int, list[Finding]] = {}
    for frame_name, frame_checks in checks.items():
        frame = frames.get(frame_name)
        for check in frame_checks:
            rows = positions.get(check.id)
            if not rows or frame is None:
                continue
            emit(check, frame, rows, out, locs=locs, schema=schema)
    return {rid: cut_cascades(found) for rid, found in out.items()}


def emit(
    check: Check,
    frame: pl.DataFrame,
    rows: list[int],
    out: dict[int, list[Finding]],
    *,
    locs: Locations,
    schema: Schema,
) -> None:
    """Append the findings of ``check`` failing at positions ``rows`` of ``frame`` to ``out`` (per return id)."""
    cols = [RID] + ([check.row] if check.row else []) + [c for _, c in check.row_params]
    picked = frame.select(list(dict.fromkeys(cols)))[rows]
    sheet = schema.sheet(check.sheet) if check.sheet else None
    sheet_locs = locs.get(check.sheet or "", {})
    static = dict(check.params)
    for record in picked.iter_rows(named=True):
        rid = record[RID]
        where = sheet_locs.get(rid)
        if check.header is not None and (where is None or check.header not in where):
            continue  # no such column/item in this return: its structural finding covers it
        values = {name: _text(record[col]) for name, col in check.row_params}
        params = {**static, **values}
        if check.reason:
            params["reason"] = check.reason.format(**{k: "" if v is None else v for k, v in values.items()})
        column = check.header if check.header is not None else params.pop("column", None)
        finding = make_finding(
            check.code,
            sheet=sheet.name if sheet else None,
            row=record[check.row] if check.row else None,
            column=column,
            col_index=where.get(check.header) if where and check.header else None,
            schema=schema,
            **params,
        )
        out.setdefault(rid, []).append(finding)


def cut_cascades(findings: list[Finding]) -> list[Finding]:
    """Keep one finding per (cell, code); drop secondary findings on a cell that has a primary one."""
    primary_cells = {f.cell for f in findings if f.cell and f.code in PRIMARY}
    kept: list[Finding] = []
    seen: set[tuple[str | None, str, str | None]] = set()
    for f in findings:
        if f.cell and f.cell in primary_cells and f.code not in PRIMARY:
            continue
        key = (f.cell, f.code, f.message if f.cell is None else None)
        if key in seen:
            continue
        seen.add(key)
        kept.append(f)
    return kept
