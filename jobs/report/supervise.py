"""The 督办通知单: one per unit on the graded list, its items under supervision with a new deadline.

Each notice (Word, ``templates/supervision.docx`` made by
``scripts/make_circular_template.py``, the same 红头 layout as the 通报; an
office's own copy at ``<home>/templates/supervision.docx`` wins) names the
unit's step and reasons and lists its overdue, ineffective (效果不理想),
rebounded and stalled items, one row per item. Each item is recorded in the
store's 督办 ledger (:mod:`jobs.store.supervision`) with the new deadline
(``[accountability] supervision_days`` after the notice); an item already
under supervision keeps its first deadline. Later month-ends track the items
(:mod:`jobs.rollup.supervised`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from jobs.core.excel_safe import safe_filename
from jobs.core.jinja import TEMPLATE_DIR
from jobs.office.config import Letterhead
from jobs.office.home import Home, check_period
from jobs.report.docx import render_docx
from jobs.rollup.attention import STALLED, STEPS, finding_marks
from jobs.rollup.crossperiod import ITEM_COLUMNS
from jobs.store.supervision import Reason, SupervisedItem

DEFAULT_TEMPLATE = TEMPLATE_DIR / "supervision.docx"
REASON_LABELS: dict[Reason, str] = {
    "overdue": "超过整改时限未完成", "ineffective": "整改效果不理想", "rebound": "已销号问题反弹回潮", "stalled": "长期未启动",
}  # fmt: skip
ITEMS_SCHEMA: dict[str, Any] = {"unit": pl.Utf8, "seq": pl.Int64, "problem": pl.Utf8, "deadline": pl.Date,
                                "status": pl.Utf8, "reason": pl.Utf8}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NoticeItem:
    """One item of a notice: ``reasons`` as :data:`REASON_LABELS` keys, ``due`` its 督办 deadline."""

    seq: int
    problem: str
    reasons: tuple[str, ...]
    deadline: dt.date | None
    status: str
    due: dt.date
    earlier: bool  # under supervision since an earlier notice (its first deadline stands)

    @property
    def reason_text(self) -> str:
        return "、".join(REASON_LABELS[r] for r in self.reasons)  # type: ignore[index]


@dataclass(frozen=True)
class Notice:
    """One 督办通知单."""

    code: str
    name: str
    step: str
    reasons: tuple[str, ...]
    number: str
    items: tuple[NoticeItem, ...]
    due: dt.date


@dataclass(frozen=True)
class SupervisionFiles:
    """The notices written (with their files) and the 督办 items newly recorded."""

    notices: tuple[tuple[Notice, Path], ...]
    recorded: int


def listed_items(
    summary_overdue: pl.DataFrame,
    summary_rebound: pl.DataFrame,
    ledger: pl.DataFrame,
    marks: pl.DataFrame,
    *,
    counted: pl.DataFrame,
    ineffective: tuple[str, str],
    units: list[str],
) -> pl.DataFrame:
    """``unit, seq, problem, deadline, status, reasons (list)``: each item of ``units`` to supervise, once."""
    column, value = ineffective
    rows = ledger.join(counted.select("submission_id"), on="submission_id", how="semi").select(*ITEM_COLUMNS)
    stalled = marks.filter((pl.col("code") == STALLED) & ~pl.col("explained")).select("unit", "seq").unique()
    parts = [
        summary_overdue.select(*ITEM_COLUMNS).with_columns(pl.lit("overdue").alias("reason")),
        rows.filter(pl.col(column) == value).with_columns(pl.lit("ineffective").alias("reason")),
        summary_rebound.select(*ITEM_COLUMNS).with_columns(pl.lit("rebound").alias("reason")),
        rows.join(stalled, on=["unit", "seq"], how="semi").with_columns(pl.lit("stalled").alias("reason")),
    ]
    order = {k: i for i, k in enumerate(REASON_LABELS)}
    frame = pl.concat([p.select(*ITEMS_SCHEMA).cast(ITEMS_SCHEMA) for p in parts])  # type: ignore[arg-type]
    return (
        frame.filter(pl.col("unit").is_in(units))
        .with_columns(pl.col("reason").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort("unit", "seq", "_order")
        .group_by("unit", "seq", "problem", maintain_order=True)
        .agg(pl.col("deadline").first(), pl.col("status").first(), pl.col("reason").unique(maintain_order=True).alias("reasons"))
    )


def notice_number(letterhead: Letterhead, *, period: str, index: int, issued_on: dt.date) -> str:
    """``群教办督〔2015〕2-3号``: the year of issue (as the 通报's 发文字号, GB/T 9704), the period's month,
    then the notice's place in the period."""
    month = int(period.split("-")[1])
    return f"{letterhead.number_prefix}督〔{issued_on.year}〕{month}-{index}号"


def make_supervision(
    home: Home, *, period: str, out_dir: Path | None = None, issued_on: dt.date | None = None
) -> SupervisionFiles:
    """Summarize ``period`` (saving it), record the listed units' items under supervision, write the notices.

    Raises
    ------
    jobs.office.home.HomeError
        No registry imported.
    jobs.report.docx.DocxTemplateError
        The Word template cannot be rendered.
    """
    from jobs.report.pipeline import report_dir
    from jobs.rollup.run import saved_month_end

    check_period(period)
    month = saved_month_end(home, period)
    view = month.view
    summary = month.summary
    issued_on = issued_on or home.now().date()
    due = issued_on + dt.timedelta(days=home.config.accountability.supervision_days)
    counted = view.coverage.counted
    vocab = summary.vocab
    ineffective = next(c for c in vocab.ledger if c.key == "items_ineffective") if vocab is not None else None
    marks = finding_marks(view.findings, counted, view.tables["ledger"])
    attention = summary.attention.with_columns(
        pl.col("step").replace_strict({s: -i for i, s in enumerate(STEPS)}, return_dtype=pl.Int64).alias("_rank")
    ).sort("_rank", "code")
    items = listed_items(
        summary.overdue, summary.rebound, view.tables["ledger"], marks, counted=counted,
        ineffective=(str(ineffective.column), (ineffective.values or ("",))[0]) if ineffective else ("status", ""),
        units=attention["code"].to_list(),
    )  # fmt: skip
    earlier = {(u, s, p): d for u, s, p, d in home.store.supervised().select("unit", "seq", "problem", "due").iter_rows()}
    letterhead = home.config.letterhead
    notices, records = [], []
    for index, row in enumerate(attention.iter_rows(named=True), start=1):
        number = notice_number(letterhead, period=period, index=index, issued_on=issued_on)
        mine = items.filter(pl.col("unit") == row["code"])
        listed = []
        for seq, problem, deadline, status, reasons in mine.select("seq", "problem", "deadline", "status", "reasons").iter_rows():
            first = earlier.get((row["code"], seq, problem))
            listed.append(NoticeItem(seq, problem, tuple(reasons), deadline, status or "", first or due, first is not None))
            if first is None:
                records.append(SupervisedItem(row["code"], seq, problem, period, ",".join(reasons), number, issued_on, due))
        notices.append(Notice(row["code"], row["name"], row["step"], tuple(row["reasons"]), number, tuple(listed), due))
    with home.lock(holder="rectify supervise"):
        recorded = home.store.supervise(records)
    target = (out_dir or report_dir(home, period)) / "督办通知单"
    own = home.root / "templates" / "supervision.docx"
    template = own if own.is_file() else DEFAULT_TEMPLATE
    written = []
    for notice in notices:
        path = target / safe_filename(f"督办通知单_{period}_{notice.code}.docx")
        values = {"n": notice, "letterhead": letterhead, "issued_on": issued_on, "period": period}
        written.append((notice, render_docx(template, values, path)))
    return SupervisionFiles(notices=tuple(written), recorded=recorded)
