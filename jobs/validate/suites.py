"""Declared checks, derived from the schema as data (no GX import here).

Each :class:`Check` is one expectation on one check frame (a stacked sheet,
or a per-return facts frame) plus what its failures mean: the finding code,
the cell it points at and the message parameters. :mod:`jobs.validate.gx`
turns checks into GX expectations; :mod:`jobs.validate.translate` turns
failing rows back into findings. Adding a column, an allowed value or a
conditional rule is a YAML edit: every check here is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from jobs.core.schema import Rule, Schema, Sheet
from jobs.core.text import fold_key
from jobs.validate.typing import (
    ROW,
    copy_key_expr_py,
    fold,
    length,
    parsed,
    raw,
    row_of,
)

Kind = Literal["not_null", "null", "in_set", "not_in_set", "between", "pair_ge", "pair_eq"]
Op = Literal["eq", "in", "not_null"]

# Frames that are not sheets: per-return facts built with group_by (facts.py).
FACTS_RETURNS = "facts:returns"
FACTS_TASKS = "facts:tasks"
FACTS_ACCOUNTABILITY = "facts:accountability"

# Cross-sheet date limits the YAML's row rules cannot express: (sheet, column
# key) must not be after the info item ``filled_on`` (填报日期).
DATE_NOT_AFTER_FILLED = (("ledger", "done_on"),)
TASK_NO, TASK_NAME = "task_no", "task_name"  # the 专项整治 columns matched to the catalogue
YES, NO = "yes", "no"


@dataclass(frozen=True, slots=True)
class Cond:
    """A row condition: ``column == value``, ``column in value`` or ``column is not null``."""

    column: str
    op: Op
    value: Any = None


@dataclass(frozen=True, slots=True)
class Check:
    """One declared expectation and the finding its failing rows produce.

    ``column``/``other`` are check-frame columns (pairs: ``column >= other`` or
    ``column == other``). ``header`` is the Chinese header the finding points
    at (None: the sheet as a whole); ``row`` the frame column holding the Excel
    row. ``row_params`` map message fields to frame columns; ``reason`` is a
    template filled with them.
    """

    id: str
    frame: str
    code: str
    kind: Kind
    column: str
    sheet: str | None
    header: str | None
    other: str | None = None
    value_set: tuple[Any, ...] = ()
    min_value: int | None = None
    when: Cond | None = None
    row: str | None = ROW
    params: tuple[tuple[str, Any], ...] = ()
    row_params: tuple[tuple[str, str], ...] = ()
    reason: str = ""


def _when(sheet: Sheet, when: dict[str, Any] | None) -> tuple[Cond | None, str]:
    """A YAML ``when`` as a row condition on the typed column, and its Chinese wording."""
    if not when:
        return None, ""
    col = sheet.column(when["column"])
    if "equals" in when:
        return Cond(col.key, "eq", when["equals"]), f"{col.name}为“{when['equals']}”"
    if "in" in when:
        values = tuple(when["in"])
        return Cond(col.key, "in", values), f"{col.name}为“{'”或“'.join(values)}”"
    if "not_equals" in when:
        # On an enum, "not X" means one of the other allowed values: a blank or
        # invalid value has its own finding and must not trigger the rule too.
        if col.values:
            rest = tuple(v for v in col.values if v != when["not_equals"])
            return Cond(col.key, "in", rest), f"{col.name}不是“{when['not_equals']}”"
    msg = f"unsupported rule condition {when!r}"
    raise ValueError(msg)


def _rule_checks(rule: Rule, sheet: Sheet) -> list[Check]:
    cond, wording = _when(sheet, rule.when)
    then = rule.then
    base = {"frame": sheet.key, "code": rule.code, "sheet": sheet.key, "when": cond}
    if "columns" in then and then.get("all_zero"):
        out = []
        for name in then["columns"]:
            col = sheet.column(name)
            out.append(Check(
                id=f"{rule.id}:{col.key}", kind="in_set", column=col.key, value_set=(0,), header=col.name,
                row_params=(("value", raw(col.key)),), reason=f"{wording}，但“{col.name}”为{{value}}", **base,
            ))
        return out
    col = sheet.column(then["column"])
    if then.get("not_null"):
        reason = f"（{wording}时）" if wording else ""
        return [Check(id=rule.id, kind="not_null", column=raw(col.key), header=col.name, reason=reason, **base)]
    if then.get("is_null"):
        when_col = sheet.column(rule.when["column"]) if rule.when else col
        return [Check(
            id=rule.id, kind="null", column=raw(col.key), header=col.name,
            row_params=(("value", raw(when_col.key)),), reason=wording, **base,
        )]
    if "le_column" in then:
        other = sheet.column(then["le_column"])
        return [Check(
            id=rule.id, kind="pair_ge", column=other.key, other=col.key, header=col.name,
            row_params=(("value", raw(col.key)), ("limit", raw(other.key))),
            reason=f"“{col.name}”（{{value}}）大于“{other.name}”（{{limit}}）", **base,
        )]
    if "equals" in then or "in" in then:
        values = (then["equals"],) if "equals" in then else tuple(then["in"])
        # Like every conditional rule, the finding points at the `then` column.
        return [Check(
            id=rule.id, kind="in_set", column=col.key, value_set=values, header=col.name,
            row_params=(("value", raw(col.key)),), reason=f"“{col.name}”为“{{value}}”", **base,
        )]
    msg = f"rule {rule.id}: unsupported `then` {then!r}"
    raise ValueError(msg)


def column_checks(sheet: Sheet, *, schema: Schema) -> list[Check]:
    """Checks for every column of ``sheet``: required, enum, types, substance, uniqueness."""
    sub = schema.substance
    keyvalue = sheet.layout == "keyvalue"
    placeholders = tuple(sorted({copy_key_expr_py(p) for p in sub.placeholders} | {""}))
    out: list[Check] = []
    for col in sheet.columns:
        base = {"frame": sheet.key, "sheet": sheet.key, "header": col.name,
                "row": row_of(col.key) if keyvalue else ROW}
        value = (("value", raw(col.key)),)
        if col.substance:
            missing = sub.missing_code[col.substance]
            out.append(Check(id=f"{sheet.key}:{col.key}:missing", code=missing, kind="not_null", column=raw(col.key),
                             reason="为空", **base))
            out.append(Check(id=f"{sheet.key}:{col.key}:placeholder", code=missing, kind="not_in_set", column=fold(col.key),
                             value_set=placeholders, row_params=value, reason="填写为“{value}”，属于空话套话或占位内容",
                             **base))
            out.append(Check(id=f"{sheet.key}:{col.key}:thin", code="too-thin", kind="between", column=length(col.key),
                             min_value=sub.min_length[col.substance],
                             params=(("min_length", sub.min_length[col.substance]),),
                             row_params=(("length", length(col.key)),), **base))
        elif col.required:
            out.append(Check(id=f"{sheet.key}:{col.key}:required", code="missing-field", kind="not_null", column=raw(col.key),
                             **base))
        if col.type == "enum":
            allowed = "、".join(col.values or ())
            out.append(Check(id=f"{sheet.key}:{col.key}:enum", code="bad-enum", kind="in_set", column=fold(col.key),
                             value_set=tuple(fold_key(v) for v in col.values or ()), params=(("allowed", allowed),),
                             row_params=value, **base))
        elif col.type in ("date", "integer"):
            code = "bad-date" if col.type == "date" else "bad-number"
            # parsed__k: true where the cell is empty or its text parses (typing.py)
            out.append(Check(id=f"{sheet.key}:{col.key}:type", code=code, kind="in_set", column=parsed(col.key),
                             value_set=(True,), row_params=value, **base))
        if col.substance and col.substance in sub.copy_checked:
            out.append(Check(id=f"{sheet.key}:{col.key}:copy", code="copied-text", kind="null", column=f"copy__{col.key}",
                             row_params=(("other", f"copy__{col.key}"),), **base))
        if col.unique:
            out.append(Check(id=f"{sheet.key}:{col.key}:unique", code="duplicate-item", kind="null", column=f"dup__{col.key}",
                             row_params=(*value, ("other", f"dup__{col.key}")), **base))
    return out


def special_checks(sheet: Sheet, *, schema: Schema) -> list[Check]:
    """Checks on columns derived from other sheets, the catalogue or the registry (derive.py)."""
    out: list[Check] = []
    keys = {c.key for c in sheet.columns}
    if sheet.key == "tasks" and {TASK_NO, TASK_NAME} <= keys:
        no, name = _by_key(sheet, TASK_NO), _by_key(sheet, TASK_NAME)
        out.append(Check(id="task:dup", frame="tasks", code="duplicate-task", kind="null", column=f"dup__{TASK_NO}",
                         sheet="tasks", header=no.name,
                         row_params=(("task_no", TASK_NO), ("other", f"dup__{TASK_NO}"))))
        out.append(Check(id="task:name", frame="tasks", code="task-name-mismatch", kind="pair_eq",
                         column="fold_name__", other="expected_fold__", sheet="tasks", header=name.name,
                         row_params=(("value", raw(TASK_NAME)), ("expected", "expected__"), ("task_no", TASK_NO))))
    for sheet_key, col_key in DATE_NOT_AFTER_FILLED:
        if sheet.key == sheet_key and col_key in keys:
            col = _by_key(sheet, col_key)
            out.append(Check(id=f"{sheet.key}:{col_key}:after-filled", frame=sheet.key, code="date-in-future", kind="pair_ge",
                             column="limit__filled_on", other=col_key, sheet=sheet.key, header=col.name,
                             row_params=(("value", f"show__{col_key}"), ("other", "other__filled_on"))))
    if sheet.key == "info":
        def at(key: str) -> dict[str, Any]:
            return {"frame": "info", "sheet": "info", "header": _by_key(sheet, key).name, "row": row_of(key)}
        out += [
            Check(id="reg:unknown", code="unknown-unit", kind="in_set", column="reg_known__", value_set=(YES,),
                  row_params=(("value", raw("unit_code")),), **at("unit_code")),
            Check(id="reg:conflict", code="unit-code-conflict", kind="null", column="conflict__",
                  row_params=(("value", raw("unit_code")), ("expected", "reg_name__"), ("name", "conflict_name__"),
                              ("other", "conflict__")),
                  **at("unit_code")),
            Check(id="reg:name", code="unit-name-mismatch", kind="pair_eq", column="name_cmp__",
                  other="reg_name_fold__", row_params=(("value", raw("unit_name")), ("expected", "reg_name__")),
                  **at("unit_name")),
            Check(id="reg:not-required", code="not-required", kind="in_set", column="reg_must__", value_set=(YES,),
                  row_params=(("value", raw("unit_code")),), **at("unit_code")),
            Check(id="period:wrong", code="wrong-period", kind="pair_eq", column=fold("period"),
                  other="expected_period__", row_params=(("value", raw("period")), ("expected", "expected_period__")),
                  **at("period")),
            Check(id="period:format", code="period-format", kind="pair_eq", column="period_typed__",
                  other="period_ok__", row_params=(("value", raw("period")), ("expected", "period_ok__")),
                  **at("period")),
            Check(id="filled:arrival", code="date-in-future", kind="pair_ge", column="arrival__",
                  other="filled_on", row_params=(("value", "show__filled_on"), ("other", "other__arrival")),
                  **at("filled_on")),
        ]
    return out


def _by_key(sheet: Sheet, key: str):
    return next(c for c in sheet.columns if c.key == key)


def facts_checks(*, schema: Schema) -> list[Check]:
    """Per-return checks on the facts frames (facts.py)."""
    ledger_min = schema.sheet("ledger").min_rows
    own = Cond("report_type", "eq", schema.default_report_type)
    return [
        Check(id="facts:tasks", frame=FACTS_TASKS, code="missing-task", kind="between", column="n", min_value=1,
              sheet="tasks", header=None, row=None, row_params=(("task_no", "task_no"), ("task_name", "task_name"))),
        Check(id="facts:accountability", frame=FACTS_ACCOUNTABILITY, code="missing-accountability-row",
              kind="in_set", column="present", value_set=(YES,), sheet="accountability", header=None, row=None,
              row_params=(("column", "item"),)),
        Check(id="facts:ledger", frame=FACTS_RETURNS, code="empty-ledger", kind="between", column="n_ledger",
              min_value=ledger_min, when=own, sheet="ledger", header=None, row=None),
        Check(id="facts:principal", frame=FACTS_RETURNS, code="no-principal", kind="in_set",
              column="principal_listed", value_set=(YES,), when=own, sheet="members", header=None, row=None,
              row_params=(("value", "principal"),)),
    ]


_CACHE: dict[int, tuple[Schema, dict[str, tuple[Check, ...]]]] = {}


def all_checks(schema: Schema) -> dict[str, tuple[Check, ...]]:
    """Every check of the format, grouped by check frame (sheet key or facts frame)."""
    cached = _CACHE.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    out: dict[str, list[Check]] = {}
    for sheet in schema.sheets:
        checks = column_checks(sheet, schema=schema)
        checks += [c for r in schema.rules if r.sheet == sheet.key for c in _rule_checks(r, sheet)]
        checks += special_checks(sheet, schema=schema)
        out[sheet.key] = checks
    for check in facts_checks(schema=schema):
        out.setdefault(check.frame, []).append(check)
    ids = [c.id for cs in out.values() for c in cs]
    seen = {i for i in ids if ids.count(i) > 1}
    if seen:
        msg = f"duplicate check ids {sorted(seen)}"
        raise ValueError(msg)
    result = {k: tuple(v) for k, v in out.items()}
    _CACHE[id(schema)] = (schema, result)
    return result
