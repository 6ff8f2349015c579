"""Known defects injected into otherwise correct returns.

Each injector changes one return so that validation finds exactly one finding
of its code, at a known place, and nothing else. Places are logical here
(sheet key, data-row index or key/value item key, column key); the writer turns
them into real cells once the file's layout (title rows, column order) is known.

Place conventions (also documented in docs/ARCHITECTURE.md and samples/README.md):
- a bad value: the cell holding it;
- a conditional rule (done-without-date, date-without-done, closed-not-approved,
  count-inconsistent, missing-field from a rule): the cell of the rule's
  ``then`` column (closed-not-approved: 整改状态 or 群众评价, whichever fails);
- a repeat (duplicate-item, duplicate-task, copied-text within a return): the
  later occurrence; copied-text across units: the copied cell in both files
  (the source file's entry is an induced defect of an otherwise clean file);
- sheet-level faults (missing-sheet, missing-column, missing-task,
  missing-accountability-row, empty-ledger, no-principal): sheet (and column
  where one is named), no row or cell;
- unreadable-file: no place at all.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, Callable

from jobs.tooling.samples.content import ReturnData, month_start


@dataclass(frozen=True)
class DefectRef:
    """Where a defect sits, logically."""

    code: str
    sheet: str | None = None          # schema sheet key
    row: int | str | None = None      # table data-row index, or key/value item key
    column: str | None = None         # column key (or item key for key/value sheets)


@dataclass
class Context:
    """What an injector may need besides the return itself."""

    rng: random.Random
    received_on: dt.date
    variant: int
    # copied-text across units: the other unit's 见物 text (same period) to copy.
    source_text: str | None = None


Injector = Callable[[ReturnData, Context], "DefectRef | list[DefectRef]"]


def _pick(rows: list[dict[str, Any]], ctx: Context, pred: Callable[[dict[str, Any]], bool] = lambda r: True) -> int | None:
    idx = [i for i, r in enumerate(rows) if pred(r)]
    return ctx.rng.choice(idx) if idx else None


def _ledger_cell(data: ReturnData, ctx: Context, column: str, value: Any, code: str) -> DefectRef:
    rows = data.tables["ledger"]
    i = _pick(rows, ctx)
    rows[i][column] = value
    return DefectRef(code, "ledger", i, column)


def missing_sheet(data: ReturnData, ctx: Context) -> DefectRef:
    data.omit_sheets.add("institutions")
    return DefectRef("missing-sheet", "institutions")


def missing_column(data: ReturnData, ctx: Context) -> DefectRef:
    data.omit_columns.setdefault("members", set()).add("measure")
    return DefectRef("missing-column", "members", None, "measure")


def missing_field(data: ReturnData, ctx: Context) -> DefectRef:
    variant = ctx.variant % 3
    if variant == 1:
        rows = data.tables["tasks"]
        i = _pick(rows, ctx, lambda r: r["role"] != "不涉及")
        if i is not None:
            rows[i]["progress"] = None
            return DefectRef("missing-field", "tasks", i, "progress")
    if variant == 2:
        return _ledger_cell(data, ctx, "measure", None, "missing-field")
    data.kv["info"]["filled_by"] = None
    return DefectRef("missing-field", "info", "filled_by", "filled_by")


def missing_task(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["tasks"]
    rows.pop(ctx.rng.randrange(len(rows)))
    return DefectRef("missing-task", "tasks")


def duplicate_task(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["tasks"]
    rows.append(dict(rows[ctx.rng.randrange(len(rows))]))
    return DefectRef("duplicate-task", "tasks", len(rows) - 1, "task_no")


def task_name_mismatch(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["tasks"]
    i = ctx.rng.randrange(len(rows))
    rows[i]["task_name"] = rows[i]["task_name"] + ctx.rng.choice(("工作", "专项行动", "问题"))
    return DefectRef("task-name-mismatch", "tasks", i, "task_name")


def missing_accountability_row(data: ReturnData, ctx: Context) -> DefectRef:
    key = ctx.rng.choice(list(data.kv["accountability"]))
    del data.kv["accountability"][key]
    return DefectRef("missing-accountability-row", "accountability", None, key)


def bad_enum(data: ReturnData, ctx: Context) -> DefectRef:
    if ctx.variant % 2:
        rows = data.tables["institutions"]
        i = ctx.rng.randrange(len(rows))
        rows[i]["kind"] = "新制定"
        return DefectRef("bad-enum", "institutions", i, "kind")
    return _ledger_cell(data, ctx, "category", ctx.rng.choice(("作风问题", "四风问题", "形式主义问题")), "bad-enum")


def bad_date(data: ReturnData, ctx: Context) -> DefectRef:
    return _ledger_cell(data, ctx, "deadline", ctx.rng.choice(("长期坚持", "年底前", "立行立改")), "bad-date")


def bad_number(data: ReturnData, ctx: Context) -> DefectRef:
    if ctx.variant % 2:
        key = ctx.rng.choice(list(data.kv["accountability"]))
        data.kv["accountability"][key] = "若干"
        return DefectRef("bad-number", "accountability", key, key)
    rows = data.tables["tasks"]
    i = _pick(rows, ctx, lambda r: r["role"] != "不涉及") or 0
    if rows[i]["role"] == "不涉及":
        rows[i]["role"] = "参与"
        rows[i]["progress"] = "已开展自查"
    rows[i]["cases"] = "若干"
    return DefectRef("bad-number", "tasks", i, "cases")


def duplicate_item(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["ledger"]
    rows[-1]["seq"] = rows[0]["seq"]
    return DefectRef("duplicate-item", "ledger", len(rows) - 1, "seq")


def empty_ledger(data: ReturnData, ctx: Context) -> DefectRef:
    data.tables["ledger"] = []
    return DefectRef("empty-ledger", "ledger")


def no_principal(data: ReturnData, ctx: Context) -> DefectRef:
    principal = data.kv["info"]["principal"]
    data.tables["members"] = [m for m in data.tables["members"] if m["member"] != principal]
    return DefectRef("no-principal", "members")


def done_without_date(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["ledger"]
    i = _pick(rows, ctx)
    rows[i]["status"] = "已完成"
    rows[i]["done_on"] = None
    return DefectRef("done-without-date", "ledger", i, "done_on")


def date_without_done(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["ledger"]
    i = _pick(rows, ctx)
    filled = data.kv["info"]["filled_on"]
    rows[i].update(status="推进中", closed="否", done_on=filled - dt.timedelta(days=ctx.rng.randint(1, 10)))
    return DefectRef("date-without-done", "ledger", i, "done_on")


def date_in_future(data: ReturnData, ctx: Context) -> DefectRef:
    if ctx.variant % 2:
        data.kv["info"]["filled_on"] = ctx.received_on + dt.timedelta(days=ctx.rng.randint(2, 9))
        return DefectRef("date-in-future", "info", "filled_on", "filled_on")
    rows = data.tables["ledger"]
    i = _pick(rows, ctx)
    filled = data.kv["info"]["filled_on"]
    if rows[i]["status"] != "已完成":
        rows[i].update(status="已完成", closed="否")
    rows[i]["done_on"] = filled + dt.timedelta(days=ctx.rng.randint(3, 20))
    return DefectRef("date-in-future", "ledger", i, "done_on")


def closed_not_approved(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["ledger"]
    i = _pick(rows, ctx)
    row = rows[i]
    if ctx.variant % 2:
        row.update(status="推进中", done_on=None, evaluation="满意", closed="是")
        return DefectRef("closed-not-approved", "ledger", i, "status")
    if row["status"] != "已完成":
        period_start = month_start(data.period)
        row.update(status="已完成", done_on=period_start + dt.timedelta(days=ctx.rng.randint(0, 14)))
    row.update(evaluation="不满意", closed="是")
    return DefectRef("closed-not-approved", "ledger", i, "evaluation")


def count_inconsistent(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["tasks"]
    i = _pick(rows, ctx, lambda r: r["role"] != "不涉及")
    if i is None:
        i = 0
        rows[i].update(role="参与", progress="已开展自查")
    rows[i]["fixed"] = rows[i]["found"] + ctx.rng.randint(1, 5)
    return DefectRef("count-inconsistent", "tasks", i, "fixed")


def people_missing(data: ReturnData, ctx: Context) -> DefectRef:
    return _ledger_cell(data, ctx, "people", ctx.rng.choice(("无", "/", "暂无")), "people-missing")


def facts_missing(data: ReturnData, ctx: Context) -> DefectRef:
    return _ledger_cell(data, ctx, "facts", ctx.rng.choice(("同上", "略", "见附件")), "facts-missing")


def mindset_missing(data: ReturnData, ctx: Context) -> DefectRef:
    if ctx.variant % 2:
        rows = data.tables["members"]
        i = ctx.rng.randrange(len(rows))
        rows[i]["mindset"] = ctx.rng.choice(("略", "无", "同上"))
        return DefectRef("mindset-missing", "members", i, "mindset")
    return _ledger_cell(data, ctx, "mindset", ctx.rng.choice(("略", "无", "—")), "mindset-missing")


def too_thin(data: ReturnData, ctx: Context) -> DefectRef:
    if ctx.variant % 2:
        rows = data.tables["members"]
        i = ctx.rng.randrange(len(rows))
        rows[i]["mindset"] = ctx.rng.choice(("思想认识有了提高", "受到了深刻教育"))
        return DefectRef("too-thin", "members", i, "mindset")
    return _ledger_cell(data, ctx, "facts", ctx.rng.choice(("已全部整改到位", "问题已解决", "已按要求整改完毕")), "too-thin")


def copied_text(data: ReturnData, ctx: Context) -> DefectRef:
    rows = data.tables["ledger"]
    if ctx.source_text is not None:
        # 照抄照搬 another unit: its file gets the same finding (see plan_jobs).
        i = ctx.rng.randrange(len(rows))
        rows[i]["facts"] = ctx.source_text
        return DefectRef("copied-text", "ledger", i, "facts")
    column = ("mindset", "facts")[ctx.variant % 2]
    rows[-1][column] = rows[0][column]
    return DefectRef("copied-text", "ledger", len(rows) - 1, column)


def unit_name_mismatch(data: ReturnData, ctx: Context) -> DefectRef:
    data.kv["info"]["unit_name"] = data.kv["info"]["unit_name"] + ctx.rng.choice(("党委", "办公室", "领导小组"))
    return DefectRef("unit-name-mismatch", "info", "unit_name", "unit_name")


def wrong_period(data: ReturnData, ctx: Context) -> DefectRef:
    data.kv["info"]["period"] = f"{month_start(data.period, -1):%Y-%m}"
    return DefectRef("wrong-period", "info", "period", "period")


def unit_code_place(code: str) -> Injector:
    """unknown-unit / not-required: the content is correct; the unit is the defect."""

    def inject(data: ReturnData, ctx: Context) -> DefectRef:
        return DefectRef(code, "info", "unit_code", "unit_code")

    return inject


def unreadable(data: ReturnData, ctx: Context) -> DefectRef:
    return DefectRef("unreadable-file")


# Order matters: a small sample set covers the first codes first.
INJECTORS: dict[str, Injector] = {
    "bad-enum": bad_enum,
    "missing-field": missing_field,
    "done-without-date": done_without_date,
    "closed-not-approved": closed_not_approved,
    "too-thin": too_thin,
    "missing-task": missing_task,
    "unknown-unit": unit_code_place("unknown-unit"),
    "bad-date": bad_date,
    "facts-missing": facts_missing,
    "copied-text": copied_text,
    "count-inconsistent": count_inconsistent,
    "wrong-period": wrong_period,
    "missing-sheet": missing_sheet,
    "date-in-future": date_in_future,
    "people-missing": people_missing,
    "unit-name-mismatch": unit_name_mismatch,
    "duplicate-task": duplicate_task,
    "no-principal": no_principal,
    "bad-number": bad_number,
    "unreadable-file": unreadable,
    "date-without-done": date_without_done,
    "mindset-missing": mindset_missing,
    "not-required": unit_code_place("not-required"),
    "missing-column": missing_column,
    "duplicate-item": duplicate_item,
    "task-name-mismatch": task_name_mismatch,
    "empty-ledger": empty_ledger,
    "missing-accountability-row": missing_accountability_row,
}
# These replace who sends the file rather than what is in it.
EXTRA_FILE_CODES = frozenset({"unknown-unit", "not-required"})
