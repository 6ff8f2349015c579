"""Clean multi-month histories for the history stage's tests and bench (issue 17), and anomalies to inject.

A clean history is what an honest unit reports month after month: every item
keeps its 序号, 问题描述 and 整改时限; statuses only move forward (未启动 in
an item's first month only, then 推进中, then 已完成 with 满意/基本满意 and
销号); nobody stays 不满意; 专项整治 and 责任追究 counts are cumulative and
grow by small, regular increments; at least one task always has problems
left to fix. On such a history the history stage finds nothing.

:func:`build_history` gives :class:`~jobs.tooling.samples.content.ReturnData`
per unit and period (the texts, 基本信息 and other sheets come from
:func:`~jobs.tooling.samples.content.build_return`); :func:`inject` plants one
anomaly; :func:`typed_tables` turns a return into the stored table layouts.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl

from jobs.core.schema import Schema, load_schema
from jobs.core.tables import table_schema
from jobs.tooling.samples.content import ReturnData, build_return, month_start
from jobs.tooling.samples.registry import Unit

Anomaly = Literal[
    "item-redefined", "item-vanished", "deadline-postponed", "status-regressed", "stalled-item",
    "persistent-dissatisfaction", "count-decreased", "outlier", "uniform-figures-tasks", "uniform-figures-ledger",
]  # fmt: skip
ACCOUNTABILITY = ("talks", "admonitions", "liable_persons", "liable_leaders", "exposed_cases", "redo_units")
History = dict[tuple[str, str], ReturnData]  # (unit, period) -> content


def periods_from(first: str, n: int) -> tuple[str, ...]:
    """``n`` consecutive periods from ``first``."""
    return tuple(month_start(first, k).strftime("%Y-%m") for k in range(n))


def build_history(units: Sequence[Unit], *, periods: Sequence[str], seed: int = 7) -> History:
    """Every unit's clean return for every period (see the module docstring)."""
    periods = tuple(periods)
    out: History = {}
    for unit in units:
        rng = random.Random(f"{seed}:{unit.code}:history")
        last = build_return(unit, place=unit.name, periods=periods, index=len(periods) - 1,
                            filled_on=month_start(periods[-1]) + dt.timedelta(days=20), seed=seed)  # fmt: skip
        texts = last.tables["ledger"]
        # when each item appears, starts and is done (never: None); deadlines fixed for good
        plan = []
        for k, row in enumerate(texts):
            appear = 0 if k < 3 else rng.randint(1, max(1, len(periods) - 1))
            done = appear + rng.randint(2, len(periods) + 2)
            # the first item only 基本满意: a sheet all 满意 at once is what uniform-figures looks for
            plan.append((row, appear, done, "基本满意" if k == 0 else rng.choice(("满意", "基本满意"))))
        roles = [rng.choice(("牵头", "参与", "参与", "不涉及")) for _ in range(21)]
        roles[0] = "牵头"  # one task at least has problems
        steps = [rng.randint(1, 3) if role != "不涉及" else 0 for role in roles]
        gaps = [rng.choice((0, 1, 2)) if role != "不涉及" else 0 for role in roles]
        gaps[0] = max(gaps[0], 1)  # problems left to fix: never uniform by chance
        acc_steps = {key: rng.randint(0, 2) for key in ACCOUNTABILITY}
        found = [gap + rng.randint(0, 3) if role != "不涉及" else 0 for role, gap in zip(roles, gaps, strict=True)]
        cases = [0] * 21
        acc = {key: rng.randint(2, 5) for key in ACCOUNTABILITY}
        for index, period in enumerate(periods):
            filled = month_start(period) + dt.timedelta(days=20)
            data = build_return(unit, place=unit.name, periods=periods, index=index, filled_on=filled, seed=seed)
            data.tables["ledger"] = [_item(row, appear, done, evaluation, index, periods)
                                     for row, appear, done, evaluation in plan if appear <= index]  # fmt: skip
            if index:
                # increments: the task's own step give or take one, never negative
                found = [f + (s + rng.choice((0, 1)) if s else 0) for f, s in zip(found, steps, strict=True)]
                cases = [c + (rng.choice((0, 0, 1)) if s else 0) for c, s in zip(cases, steps, strict=True)]
                acc = {k: v + max(0, acc_steps[k] + rng.choice((-1, 0, 1))) for k, v in acc.items()}
            for row, f, gap, c in zip(data.tables["tasks"], found, gaps, cases, strict=True):
                row.update(found=f, fixed=f - gap, cases=min(c, f))
            for row, role in zip(data.tables["tasks"], roles, strict=True):
                row["role"] = role
                if role == "不涉及":
                    row.update(found=0, fixed=0, cases=0, progress=None)
                elif not row.get("progress"):
                    row["progress"] = "按计划推进，已建立工作台账，逐项督办落实"
            data.kv["accountability"] = dict(acc)
            out[(unit.code, period)] = data
    return out


def _item(row: dict[str, Any], appear: int, done: int, evaluation: str, index: int, periods: Sequence[str]) -> dict[str, Any]:
    item = dict(row)
    if index >= done:
        item.update(status="已完成", evaluation=evaluation, closed="是",
                    done_on=month_start(periods[done]) + dt.timedelta(days=5))  # fmt: skip
    else:
        item.update(status="未启动" if index == appear else "推进中", evaluation="未评价", closed="否", done_on=None)
    return item


def inject(history: History, anomaly: Anomaly, *, unit: str, periods: Sequence[str], note: str | None = None) -> int | None:
    """Plant ``anomaly`` in ``unit``'s return for the last of ``periods``; the 序号 or task number it touched.

    ``note`` fills the touched row's 说明. Earlier returns change only where
    the anomaly needs a past (a stalled item, a lasting 不满意, an open ledger).
    """
    now, before = history[(unit, periods[-1])], history[(unit, periods[-2])]
    ledger, prev_ledger = now.tables["ledger"], before.tables["ledger"]
    open_seqs = [r["seq"] for r in prev_ledger if r["closed"] == "否"]
    touched: int | None = None
    if anomaly in ("item-redefined", "deadline-postponed", "status-regressed", "persistent-dissatisfaction"):
        seq = next(r["seq"] for r in ledger if r["seq"] in open_seqs and r["status"] == "推进中"
                   and next(p for p in prev_ledger if p["seq"] == r["seq"])["status"] == "推进中")  # fmt: skip
        row = next(r for r in ledger if r["seq"] == seq)
        if anomaly == "item-redefined":
            row["problem"] = "另一个问题：" + row["problem"]
        elif anomaly == "deadline-postponed":
            row["deadline"] = row["deadline"] + dt.timedelta(days=60)
        elif anomaly == "status-regressed":
            row["status"] = "未启动"
        else:
            row["evaluation"] = "不满意"
            next(p for p in prev_ledger if p["seq"] == seq)["evaluation"] = "不满意"
        touched = seq
    elif anomaly == "item-vanished":
        touched = open_seqs[0]
        now.tables["ledger"] = [r for r in ledger if r["seq"] != touched]
    elif anomaly == "stalled-item":
        # a new item listed 未启动 in each of the last three returns
        touched = max(r["seq"] for r in ledger) + 1
        for period in periods[-3:]:
            rows = history[(unit, period)].tables["ledger"]
            rows.append({**ledger[0], "seq": touched, "problem": "新发现：会议纪要长期不公开", "status": "未启动",
                         "evaluation": "未评价", "closed": "否", "done_on": None})  # fmt: skip
    elif anomaly == "count-decreased":
        now.kv["accountability"]["talks"] = before.kv["accountability"]["talks"] - 1
    elif anomaly == "outlier":
        task = next(r for r in now.tables["tasks"] if r["role"] != "不涉及")
        task["found"] += 40
        touched = task["task_no"]
    elif anomaly == "uniform-figures-tasks":
        for row in now.tables["tasks"]:
            row["fixed"] = row["found"]
    elif anomaly == "uniform-figures-ledger":
        for row in ledger:
            row.update(status="已完成", evaluation="满意", closed="是",
                       done_on=month_start(periods[-1]) + dt.timedelta(days=5))  # fmt: skip
    if note is not None and touched is not None:
        sheet = "tasks" if anomaly == "outlier" else "ledger"
        for row in now.tables[sheet]:
            if row.get("seq", row.get("task_no")) == touched:
                row["note"] = note
    return touched


def typed_tables(data: ReturnData, *, schema: Schema | None = None) -> dict[str, pl.DataFrame]:
    """A return's content in the stored table layouts (rows numbered as under a one-row header)."""
    schema = schema or load_schema()
    out = {}
    for sheet in schema.sheets:
        layout = table_schema(sheet.key, schema=schema)
        ident = {"submission_id": f"{data.period}-{data.unit}", "unit": data.unit, "period": data.period}
        if sheet.layout == "keyvalue":
            rows = [{**ident, **data.kv.get(sheet.key, {})}]
        else:
            rows = [{**ident, "row": n, **r} for n, r in enumerate(data.tables.get(sheet.key, []), start=2)]
        rows = [{k: r.get(k) for k in layout} for r in rows]
        out[sheet.key] = pl.DataFrame(rows, schema=layout, orient="row") if rows else pl.DataFrame(schema=layout)
    return out


def write_return(data: ReturnData, path: Path, *, schema: Schema | None = None, received_at: dt.datetime | None = None,
                 without_notes: bool = False) -> Path:
    """Write one return as a plain ``.xlsx`` (the template's layout); its modification time is ``received_at``.

    ``without_notes`` leaves out the 说明 columns, as a return made from an older template does.
    """
    from jobs.tooling.samples.lean_xlsx import write_lean_xlsx
    from jobs.tooling.samples.writer import Messiness, build_grids, plan_layout

    schema = schema or load_schema()
    if without_notes:
        data.omit_columns = {"ledger": {"note"}, "tasks": {"note"}}
    rng = random.Random(f"{data.unit}:{data.period}:layout")
    layouts = plan_layout(data, schema, Messiness(), rng)
    grids = build_grids(data, layouts, schema, Messiness(), rng, title=f"{data.unit}（{data.period}）")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_lean_xlsx(path, grids)
    if received_at is not None:
        stamp = received_at.timestamp()
        os.utime(path, (stamp, stamp))
    return path


def write_history(history: History, out: Path, *, units: Sequence[Unit], periods: Sequence[str]) -> dict[str, list[Path]]:
    """Write every return of ``periods`` under ``out/returns/<period>/<unit>.xlsx``; the paths per period."""
    written: dict[str, list[Path]] = {}
    for period in periods:
        for unit in units:
            data = history[(unit.code, period)]
            written.setdefault(period, []).append(write_return(data, out / "returns" / period / f"{unit.code}.xlsx"))
    return written


def stacked_tables(history: History, units: Sequence[Unit], period: str, *, schema: Schema | None = None) -> dict[str, pl.DataFrame]:
    """Every unit's return of ``period`` in the stored layouts, one frame per sheet, ``_i`` the unit's index.

    ``submission_id`` is ``<period>-<unit>``; rows numbered as in :func:`typed_tables`.
    """
    schema = schema or load_schema()
    out = {}
    for sheet in schema.sheets:
        layout = table_schema(sheet.key, schema=schema)
        rows: list[dict[str, Any]] = []
        for i, unit in enumerate(units):
            data = history[(unit.code, period)]
            ident = {"submission_id": f"{period}-{unit.code}", "unit": unit.code, "period": period, "_i": i}
            if sheet.layout == "keyvalue":
                rows.append({**data.kv.get(sheet.key, {}), **ident})
            else:
                rows += [{**r, **ident, "row": n} for n, r in enumerate(data.tables.get(sheet.key, []), start=2)]
        full = {**layout, "_i": pl.Int32()}
        out[sheet.key] = pl.DataFrame([{k: r.get(k) for k in full} for r in rows], schema=full, orient="row")
    return out
