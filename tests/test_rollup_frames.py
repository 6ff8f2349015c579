"""Helpers building stored-layout frames by hand for the roll-up tests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl

from jobs.core.tables import table_schema
from jobs.office.registry import REGISTRY_SCHEMA

SUBMISSION_SCHEMA = {
    "submission_id": pl.Utf8,
    "unit": pl.Utf8,
    "period": pl.Utf8,
    "file_name": pl.Utf8,
    "sha256": pl.Utf8,
    "received_at": pl.Datetime("us"),
    "accepted": pl.Boolean,
    "n_errors": pl.Int64,
    "n_warnings": pl.Int64,
    "version": pl.Int64,
    "superseded_by": pl.Utf8,
    "report_type": pl.Utf8,
}


def registry(rows: list[tuple[str, str, str | None, str, str, bool]]) -> pl.DataFrame:
    """Rows ``(code, name, parent, level, category, must_report)``."""
    return pl.DataFrame(
        [
            {"code": c, "name": n, "parent": p, "level": lv, "category": cat, "contact": None, "phone": None, "must_report": m}
            for c, n, p, lv, cat, m in rows
        ],
        schema=REGISTRY_SCHEMA,
    )


def table(key: str, sid: str, unit: str, period: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A stored table of one return; missing columns are null, ``row`` is numbered from 2."""
    schema = table_schema(key)
    out = []
    for i, r in enumerate(rows):
        rec = {c: None for c in schema}
        rec.update(submission_id=sid, unit=unit, period=period)
        if "row" in schema:
            rec["row"] = i + 2
        rec.update(r)
        out.append(rec)
    return pl.DataFrame(out, schema=schema)


def item(seq: int, status: str, closed: str, evaluation: str, source: str, category: str, deadline: date, **kw: Any) -> dict[str, Any]:
    """One ledger row."""
    rec = {
        "seq": seq,
        "status": status,
        "closed": closed,
        "evaluation": evaluation,
        "source": source,
        "category": category,
        "deadline": deadline,
        "problem": kw.pop("problem", f"问题{seq}"),
        "measure": "措施",
        "leader": "张三",
        "done_on": deadline if status == "已完成" else None,
        "people": "张三",
        "facts": "事实" * 10,
        "mindset": "思想" * 10,
    }
    rec.update(kw)
    return rec


def submission(sid: str, unit: str, period: str, received: datetime, *, accepted: bool = True,
               superseded_by: str | None = None, report_type: str = "本级") -> dict[str, Any]:
    return {
        "submission_id": sid,
        "unit": unit,
        "period": period,
        "file_name": f"{sid}.xlsx",
        "sha256": sid,
        "received_at": received,
        "accepted": accepted,
        "n_errors": 0 if accepted else 1,
        "n_warnings": 0,
        "version": 1,
        "superseded_by": superseded_by,
        "report_type": report_type,
    }


def submissions(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SUBMISSION_SCHEMA)


def concat(tables: list[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """Merge per-return table dicts into one dict of frames."""
    keys = {k for t in tables for k in t}
    return {k: pl.concat([t[k] for t in tables if k in t]) for k in keys}
