"""The 汇总 return workbook: writing this office's result, reading a lower office's.

Layout (documented in ``schemas/summary-return.schema.yaml``): the return's own
基本信息 sheet with 报表类型 = 汇总 and 单位代码 = the covered subtree's root,
then the sign-off (审核人, 审核日期, 发布状态: 已发布 or 草稿), and a 汇总指标
sheet: 指标代码 | 指标名称 | 合计 | one column per unit 类别. Reading one
rejects it without 审核人 (``summary-not-signed``) and warns when it is a draft
(``summary-draft``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from jobs.core.errors import RectifyError, UnreadableFile
from jobs.core.excel_safe import inert
from jobs.core.files import atomic_write
from jobs.core.findings import Finding, make_finding
from jobs.core.normalize import parse_int
from jobs.core.schema import Schema, load_schema
from jobs.core.text import clean_text, fold_key
from jobs.intake.read.grid import KeyValues
from jobs.intake.read.workbook import OpenWorkbook, open_workbook, sheet_rows
from jobs.rollup.federation import SUMMARY_SCHEMA, summary_report_type
from jobs.rollup.vocab import Vocab, load_vocab


class SummaryExportError(RectifyError):
    """The 汇总 return cannot be written (Chinese message)."""


def subtree_by_category(summary: Any, code: str) -> pl.DataFrame:
    """Counts of the subtree of ``code`` per unit 类别 (``category`` + every count key)."""
    if summary.contributions is None or summary.tree is None:
        msg = "该汇总结果不含分类别明细，无法导出汇总报表"
        raise SummaryExportError(msg)
    keys = list((summary.vocab or load_vocab()).count_keys)
    below = summary.tree.filter(pl.col("ancestor") == code).select(pl.col("descendant").alias("code"))
    if below.height == 0:
        msg = f"单位代码“{code}”不在本期名册中，无法导出汇总报表"
        raise SummaryExportError(msg)
    return summary.contributions.join(below, on="code", how="semi").group_by("category").agg(pl.col(keys).sum())


def export_summary(
    summary: Any,
    path: str | Path,
    *,
    code: str | None = None,
    reviewer: str,
    principal: str = "汇总",
    filled_by: str = "汇总",
    phone: str = "",
    filled_on: date | None = None,
    published: Mapping[str, Any] | None = None,
    schema: Schema | None = None,
) -> Path:
    """Write the subtree of ``code`` (default the root) as a 汇总 return workbook, signed by ``reviewer``.

    Parameters
    ----------
    summary
        A :class:`jobs.rollup.summary.Summary`.
    path
        The ``.xlsx`` to write (temp + rename).
    reviewer
        审核人: who checked the summary (required; the office above rejects a 汇总 return without one).
    principal, filled_by, phone
        基本信息 items of the office sending the return; ``filled_on`` is also the 审核日期.
    published
        The period's publication keys (``revision``, ``published_at``:
        :func:`jobs.rollup.published.publication_json`); unpublished (revision
        0 or None) marks the return 草稿.

    Raises
    ------
    SummaryExportError
        No reviewer, or ``code`` not in the summary's registry.
    """
    from openpyxl import Workbook

    if not reviewer.strip():
        msg = "导出汇总报表须写明审核人（--reviewer），未经审核的汇总报表上级不予接收。"
        raise SummaryExportError(msg)
    schema = schema or load_schema()
    vocab = summary.vocab or load_vocab()
    signed_on = (filled_on or date.today()).isoformat()
    code = code or summary.root
    parts = subtree_by_category(summary, code)
    node = summary.nodes.filter(pl.col("code") == code).row(0, named=True)
    categories = list(schema.categories)
    per_cat = {row["category"]: row for row in parts.iter_rows(named=True)}
    extra = sorted(c for c in per_cat if c not in categories and c is not None)
    categories += extra

    book = Workbook()
    info_sheet = schema.sheet("info")
    ws = book.active
    ws.title = info_sheet.name
    ws.append([info_sheet.key_header, info_sheet.value_header])
    values = {
        "unit_code": code,
        "unit_name": node["name"],
        "period": summary.period,
        "report_type": summary_report_type(schema),
        "principal": principal,
        "filled_by": filled_by,
        "phone": phone,
        "filled_on": signed_on,
    }
    for col in info_sheet.columns:
        ws.append([col.name, inert(values.get(col.key, ""))])
    revision = (published or {}).get("revision")
    status = vocab.draft_label
    if revision:
        status = vocab.published_label.format(revision=revision, date=str(published["published_at"])[:10])
    signed = {"reviewer": reviewer.strip(), "signed_on": signed_on, "status": status}
    for key, name in vocab.sign_off.items():
        ws.append([name, inert(signed[key])])
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 30

    sheet = book.create_sheet(vocab.sheet_name)
    sheet.append([vocab.key_header, vocab.label_header, vocab.total_header, *categories])
    for key in vocab.count_keys:
        by_cat = [int(per_cat[c][key]) if c in per_cat else 0 for c in categories]
        sheet.append([key, vocab.labels[key], sum(by_cat), *by_cat])
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 34
    sheet.freeze_panes = "C2"

    path = Path(path)
    atomic_write(path, book.save)
    return path


def _grid(book: OpenWorkbook, wanted: str) -> list[list[str | None]] | None:
    rows = sheet_rows(book, wanted)
    return None if rows is None else [[clean_text(v) for v in row] for row in rows]


def _info(
    grid: list[list[str | None]], schema: Schema, vocab: Vocab
) -> tuple[dict[str, str | None], dict[str, int]]:
    sheet = schema.sheet("info")
    by_name = {fold_key(c.name): c.key for c in sheet.columns}
    by_name.update({fold_key(name): key for key, name in vocab.sign_off.items()})
    values: dict[str, str | None] = {}
    rows: dict[str, int] = {}
    for i, row in enumerate(grid):
        cells = [*row, None, None]
        key = by_name.get(fold_key(cells[0] or ""))
        if key and key not in values:
            values[key], rows[key] = cells[1], i + 1
    return values, rows


def read_summary_return(
    source: Any,
    *,
    registry: pl.DataFrame | None = None,
    period: str | None = None,
    schema: Schema | None = None,
    vocab: Vocab | None = None,
) -> tuple[pl.DataFrame, list[Finding]]:
    """Read a 汇总 return into ``summary`` table rows (:data:`SUMMARY_SCHEMA`) and findings.

    Parameters
    ----------
    source
        A path, or a :class:`jobs.intake.read.RawReturn` (its ``path`` is re-read
        for the 汇总指标 sheet, which the return format does not know).
    registry, period
        When given, 单位代码 must be in the registry and 报送期 must equal ``period``.

    Returns
    -------
    rows, findings
        ``submission_id`` is null (the store fills it). Any error finding
        means the return must be rejected.
    """
    schema = schema or load_schema()
    vocab = vocab or load_vocab()
    path = Path(getattr(source, "path", source))
    info_name = schema.sheet("info").name
    findings: list[Finding] = []
    empty = pl.DataFrame(schema=SUMMARY_SCHEMA)

    def bad(code: str, **kw: Any) -> None:
        findings.append(make_finding(code, schema=schema, **kw))

    # preflight and the guarded reader, as for every received file (raises UnreadableFile)
    book = open_workbook(path)
    info_grid = _grid(book, info_name)
    grid = _grid(book, vocab.sheet_name)
    del book
    for name, g in ((info_name, info_grid), (vocab.sheet_name, grid)):
        if g is None:
            bad("missing-sheet", sheet=name)
    if info_grid is None or grid is None:
        return empty, findings
    info, info_rows = _info(info_grid, schema, vocab)
    findings += _sign_off(info, info_rows, schema=schema, vocab=vocab, sheet=info_name)
    unit, got_period = info.get("unit_code"), info.get("period")
    for key, label in (("unit_code", "单位代码"), ("period", "报送期")):
        if not info.get(key):
            bad("missing-field", sheet=info_name, row=info_rows.get(key), column=label, col_index=1 if key in info_rows else None)
    if unit and registry is not None and registry.filter(pl.col("code") == unit).height == 0:
        bad("unknown-unit", sheet=info_name, row=info_rows.get("unit_code"), col_index=1, value=unit)
    if got_period and period is not None and got_period != period:
        bad("wrong-period", sheet=info_name, row=info_rows.get("period"), col_index=1, value=got_period, expected=period)

    header_at = next((i for i, r in enumerate(grid[:20]) if vocab.key_header in r), None)
    if header_at is None or vocab.total_header not in grid[header_at]:
        missing = vocab.key_header if header_at is None else vocab.total_header
        bad("missing-column", sheet=vocab.sheet_name, column=missing)
        return empty, findings
    header = grid[header_at]
    key_col, total_col = header.index(vocab.key_header), header.index(vocab.total_header)
    cat_cols = {i: h for i, h in enumerate(header) if h in schema.categories}
    known = set(vocab.count_keys)
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r, row in enumerate(grid[header_at + 1 :], start=header_at + 2):
        key = row[key_col] if key_col < len(row) else None
        if key not in known:
            continue  # blank or a key this version does not count: ignored
        seen.add(key)
        numbers: dict[int, int] = {}
        for c in (total_col, *cat_cols):
            value = parse_int(row[c]) if c < len(row) and row[c] is not None else 0
            if value is None or value < 0:
                bad("bad-number", sheet=vocab.sheet_name, row=r, col_index=c, column=header[c], value=row[c])
                value = 0
            numbers[c] = value
        parts = sum(numbers[c] for c in cat_cols)
        if cat_cols and parts != numbers[total_col]:
            bad("count-inconsistent", sheet=vocab.sheet_name, row=r, col_index=total_col,
                reason=f"指标“{key}”各类别之和{parts}与合计{numbers[total_col]}不一致")  # fmt: skip
        if cat_cols:
            records += [{"row": r, "key": key, "category": cat, "value": numbers[c]} for c, cat in cat_cols.items()]
        else:
            records.append({"row": r, "key": key, "category": _category(registry, unit), "value": numbers[total_col]})
    for key in vocab.count_keys:
        if key not in seen:
            bad("missing-field", sheet=vocab.sheet_name, column=vocab.key_header, reason=f"（缺少指标“{key}”）")
    rows = pl.DataFrame(records, schema={"row": pl.Int32, "key": pl.Utf8, "category": pl.Utf8, "value": pl.Int64})
    findings += _consistency(rows, vocab, schema)
    frame = rows.with_columns(
        pl.lit(None, pl.Utf8).alias("submission_id"), pl.lit(unit, pl.Utf8).alias("unit"), pl.lit(got_period, pl.Utf8).alias("period")
    ).select(list(SUMMARY_SCHEMA))
    return frame, findings


def _sign_off(
    info: dict[str, str | None], rows: dict[str, int], *, schema: Schema, vocab: Vocab, sheet: str
) -> list[Finding]:
    """``summary-not-signed`` without 审核人; ``summary-draft`` unless 发布状态 says published."""
    out = []
    where = lambda key: {"row": rows.get(key), "col_index": 1 if key in rows else None}  # noqa: E731
    if not (info.get("reviewer") or "").strip():
        out.append(make_finding("summary-not-signed", schema=schema, sheet=sheet, column=vocab.sign_off["reviewer"],
                                **where("reviewer")))  # fmt: skip
    status = (info.get("status") or "").strip()
    published = vocab.published_label.split("{", 1)[0]
    if not published or not status.startswith(published):
        out.append(make_finding("summary-draft", schema=schema, sheet=sheet, column=vocab.sign_off["status"],
                                value=status or "未填写", **where("status")))  # fmt: skip
    return out


def _category(registry: pl.DataFrame | None, unit: str | None) -> str | None:
    if registry is None or unit is None:
        return None
    found = registry.filter(pl.col("code") == unit)["category"]
    return found[0] if found.len() else None


# (part, whole): a subtree's part can never exceed its whole
_BOUNDS = (
    ("units_reported", "units_expected"),
    ("units_on_time", "units_reported"),
    ("items_done", "items_total"),
    ("items_closed", "items_total"),
    ("items_evaluated", "items_total"),
    ("items_satisfied", "items_evaluated"),
)


def _consistency(rows: pl.DataFrame, vocab: Vocab, schema: Schema) -> list[Finding]:
    totals = dict(rows.group_by("key").agg(pl.col("value").sum()).iter_rows())
    rows_of = dict(rows.group_by("key").agg(pl.col("row").first()).iter_rows())
    out = []
    for part, whole in _BOUNDS:
        if part in totals and whole in totals and totals[part] > totals[whole]:
            out.append(
                make_finding(
                    "count-inconsistent", schema=schema, sheet=vocab.sheet_name, row=rows_of[part], col_index=2,
                    reason=f"“{vocab.labels[part]}”{totals[part]}大于“{vocab.labels[whole]}”{totals[whole]}",
                )
            )  # fmt: skip
    return out


def is_summary_return(raw: Any, *, schema: Schema | None = None) -> bool:
    """Whether a read return (:class:`jobs.intake.read.RawReturn`) says 报表类型 = 汇总."""
    schema = schema or load_schema()
    info = getattr(raw, "sheets", {}).get("info")
    if info is None:
        return False
    data = getattr(info, "data", None)
    if isinstance(data, KeyValues):  # the reader's plain lists: no frame needed
        items, values = data.items, data.values
    elif "_item" not in info.frame.columns:
        return False
    else:
        items, values = info.frame.get_column("_item").to_list(), info.frame.get_column("_value").to_list()
    item = schema.sheet("info").columns[[c.key for c in schema.sheet("info").columns].index("report_type")].name
    wanted = fold_key(summary_report_type(schema))
    # A plain scan of the few key/value rows: a filter expression per return
    # costs more than the whole check (it runs on every received file).
    return any(i == item and v is not None and fold_key(v) == wanted for i, v in zip(items, values, strict=True))


def check_summary_return(
    raw: Any, *, registry: pl.DataFrame | None, period: str | None, schema: Schema | None = None
) -> tuple[Any, dict[str, pl.DataFrame]]:
    """The verdict on a 汇总 return and its ``summary`` table, for the validator's routing.

    Returns ``(Report, {"summary": rows})``; rows carry no ``submission_id``
    (the store assigns it). Any error finding rejects the return.
    """
    from jobs.core.findings import Report
    from jobs.rollup.federation import SUMMARY_TABLE

    schema = schema or load_schema()
    info = raw.sheets["info"].frame
    by_item = {item: value for item, value in info.select("_item", "_value").iter_rows()}
    names = {c.key: c.name for c in schema.sheet("info").columns}
    try:
        rows, findings = read_summary_return(raw, registry=registry, period=period, schema=schema)
    except UnreadableFile as exc:
        rows, findings = pl.DataFrame(schema=SUMMARY_SCHEMA), [exc.finding(schema=schema)]
    report = Report(
        file=str(raw.path),
        unit=by_item.get(names["unit_code"]),
        period=by_item.get(names["period"]),
        findings=[*getattr(raw, "warnings", []), *findings],
    )
    report.stats = {"rows": {load_vocab().sheet_name: rows.height}, "n_errors": len(report.errors),
                    "n_warnings": len(report.warnings)}  # fmt: skip
    return report, {SUMMARY_TABLE: rows}
