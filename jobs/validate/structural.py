"""Findings about a return's shape, before any cell is checked.

Missing sheets, missing columns and missing 基本信息 items; plus where each
column / item actually is in the source workbook (:func:`locations`), which
translate.py uses to point at the real cell and to drop findings on what is
absent.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from jobs.core.findings import Finding, make_finding
from jobs.core.schema import Schema, Sheet
from jobs.core.text import fold_key
from jobs.intake.read.grid import KeyValues


def _rule_columns(schema: Schema, sheet: Sheet) -> set[str]:
    names: set[str] = set()
    for rule in schema.rules:
        if rule.sheet not in (sheet.key, sheet.name):
            continue
        for part in (rule.when or {}, rule.then):
            if "column" in part:
                names.add(part["column"])
            names.update(part.get("columns", ()))
            if "le_column" in part:
                names.add(part["le_column"])
    return names


_NEEDED: dict[tuple[int, int], tuple[Schema, Sheet, list[str]]] = {}


def needed_columns(sheet: Sheet, *, schema: Schema) -> list[str]:
    """Columns whose absence is a ``missing-column``: required ones and those a rule reads."""
    # Asked for every return of a batch; cached by identity (hashing a Schema walks all of it).
    hit = _NEEDED.get((id(schema), id(sheet)))
    if hit is None or hit[0] is not schema or hit[1] is not sheet:
        used = _rule_columns(schema, sheet)
        hit = (schema, sheet, [c.name for c in sheet.columns if c.required or c.substance or c.name in used])
        _NEEDED[(id(schema), id(sheet))] = hit
    return list(hit[2])


_LOOKUPS: dict[int, tuple[Sheet, frozenset[str], dict[str, str]]] = {}


def _lookup(sheet: Sheet) -> tuple[frozenset[str], dict[str, str]]:
    """Schema names of a sheet's columns, and folded name -> name (cached by identity: hashing a Sheet is slow)."""
    hit = _LOOKUPS.get(id(sheet))
    if hit is None or hit[0] is not sheet:
        hit = (sheet, frozenset(c.name for c in sheet.columns), {fold_key(c.name): c.name for c in sheet.columns})
        _LOOKUPS[id(sheet)] = hit
    return hit[1], hit[2]


def _canonical(name: str | None, names: frozenset[str], by_fold: dict[str, str]) -> str | None:
    """The schema name of a header or item; the reader already gives schema names, so fold only strays."""
    if name is None or name in names:
        return name
    return by_fold.get(fold_key(name), name)


def locations(ret: Any, *, schema: Schema) -> dict[str, dict[str, int]]:
    """Per sheet key: schema header (or 基本信息/责任追究 item) -> 0-based column in the source sheet.

    Only columns, or items, the return actually has are listed.
    """
    out: dict[str, dict[str, int]] = {}
    for key, src in ret.sheets.items():
        sheet = schema.sheet(key)
        col_index = tuple((src.col_index or {}).items())
        listed: tuple[str, ...] = ()
        if sheet.layout == "keyvalue":
            data = getattr(src, "data", None)
            listed = tuple(data.items if isinstance(data, KeyValues) else src.frame.get_column("_item").cast(pl.Utf8).to_list())
        # Returns made from one template share their layouts: work each out once.
        memo = (id(sheet), col_index, listed)
        hit = _LAYOUTS.get(memo)
        if hit is None or hit[0] is not sheet:
            if len(_LAYOUTS) >= _MAX_LAYOUTS:
                _LAYOUTS.clear()
            hit = _LAYOUTS[memo] = (sheet, _sheet_locations(sheet, col_index, listed))
        out[key] = dict(hit[1])
    return out


_LAYOUTS: dict[tuple[Any, ...], tuple[Sheet, dict[str, int]]] = {}
_MAX_LAYOUTS = 4096


def _sheet_locations(sheet: Sheet, col_index: tuple[tuple[str, int], ...], listed: tuple[str, ...]) -> dict[str, int]:
    names, by_fold = _lookup(sheet)
    # the reader already names columns and items by the schema: fold only strays
    index = {k if k in names else _canonical(k, names, by_fold): v for k, v in col_index}
    if sheet.layout == "keyvalue":
        items = {i if i in names else _canonical(i, names, by_fold) for i in listed}
        value_col = next(iter(index.values()), 1)
        return {c.name: index.get(c.name, value_col) for c in sheet.columns if c.name in items}
    return {c.name: index[c.name] for c in sheet.columns if c.name in index}


def structural_findings(ret: Any, where: dict[str, dict[str, int]], *, schema: Schema) -> list[Finding]:
    """``missing-sheet``, ``missing-column`` and missing required 基本信息 items (``missing-field``)."""
    found: list[Finding] = [make_finding("missing-sheet", sheet=name, schema=schema) for name in ret.missing_sheets]
    for sheet in schema.sheets:
        if sheet.key not in ret.sheets:
            continue
        present = where.get(sheet.key, {})
        if sheet.layout == "table":
            for name in needed_columns(sheet, schema=schema):
                if name not in present:
                    found.append(make_finding("missing-column", sheet=sheet.name, column=name, schema=schema))
        elif sheet.key == "info":
            for col in sheet.columns:
                if col.required and col.name not in present:
                    found.append(make_finding("missing-field", sheet=sheet.name, column=col.name, schema=schema,
                                              reason="（基本信息表中缺少这一项）"))
    return found
