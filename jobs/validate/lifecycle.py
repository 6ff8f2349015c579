"""The history stage (issue 17): a batch's returns read against each unit's earlier accepted returns.

An item is the same item from month to month when its unit and 序号 match and
its 问题描述 matches after folding (:func:`fold`). "Previous" is the counting
(本级, accepted, current) return of the same unit in the latest earlier period
that has one, as :class:`Earlier` loads it through ``Store.current`` and
``Store.load_tables`` once per run. Each rule is a DataFrame → DataFrame step
returning *marks* (:data:`MARKS`); :func:`jobs.validate.history.find_history`
wires them with the figure rules of :mod:`jobs.validate.figures`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from jobs.core.schema import load_schema
from jobs.office.config import History

STACK_INDEX = "_i"  # a stacked table's result index (jobs.store.STACK_INDEX)
# seconds spent loading earlier periods and running the rules (bench/bench_history.py reads them)
TIMINGS: dict[str, float] = {"load": 0.0, "stage": 0.0}
HISTORY_CODES = (
    "item-redefined", "item-vanished", "deadline-postponed", "status-regressed", "stalled-item",
    "persistent-dissatisfaction", "count-decreased", "outlier", "uniform-figures",
)  # fmt: skip
# What a rule returns: one row per finding. ``sheet`` is a sheet key; params are message fields.
MARKS: dict[str, pl.DataType] = {
    STACK_INDEX: pl.Int32(), "code": pl.Utf8(), "sheet": pl.Utf8(), "row": pl.Int64(), "column": pl.Utf8(),
    "seq": pl.Utf8(), "earlier": pl.Utf8(), "previous": pl.Utf8(), "value": pl.Utf8(), "count": pl.Int64(),
    "reason": pl.Utf8(),
}  # fmt: skip
NOT_STARTED, IN_PROGRESS, DONE = "未启动", "推进中", "已完成"
_PROGRESS = {NOT_STARTED: 0, IN_PROGRESS: 1, DONE: 2}  # 效果不理想 is no step on this scale
ITEM = ["unit", "seq", "key"]
_LEDGER = ["seq", "problem", "deadline", "status", "evaluation", "closed"]
_COUNTS = ("task_no", "found", "fixed", "cases")


class StoredReturns(Protocol):
    """What the history reads from the store (``jobs.store.Store``): its public readers only."""

    def submissions(self, period: str | None = None) -> pl.DataFrame: ...
    def current(self, period: str) -> pl.DataFrame: ...
    def load_tables(
        self, period: str, *, keys: Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> dict[str, pl.DataFrame]: ...


def fold(column: str) -> pl.Expr:
    """A text folded for matching, as :func:`jobs.core.text.fold_key` folds it (NFKC, no whitespace)."""
    return pl.col(column).str.normalize("NFKC").str.replace_all(r"\s+", "").fill_null("")


@dataclass(frozen=True)
class Earlier:
    """The units' counting returns of the periods before one, with their ledger and counts.

    ``returns``: ``unit, period, rank`` (rank 1 is the unit's latest earlier
    return, 2 the one before ...); the tables carry ``unit, period`` plus their
    stored columns (``key``: the folded 问题描述).
    """

    returns: pl.DataFrame
    ledger: pl.DataFrame
    tasks: pl.DataFrame
    accountability: pl.DataFrame
    # frames derived from the earlier returns, computed by the first batch of a run (see derived)
    _derived: dict[str, pl.DataFrame] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, name: str, make: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """``make()``, computed once per :class:`Earlier` (a run's batches share the earlier periods)."""
        if name not in self._derived:
            self._derived[name] = make()
        return self._derived[name]

    @classmethod
    def empty(cls) -> Earlier:
        """No earlier return at all (the first period)."""
        return cls.from_tables({})

    @classmethod
    def from_tables(cls, per_period: Mapping[str, Mapping[str, pl.DataFrame]]) -> Earlier:
        """From each earlier period's counting tables (``Store.load_tables`` layouts)."""
        infos, ledgers, tasks, accs = [], [], [], []
        for period, tables in sorted(per_period.items()):
            info = tables.get("info")
            if info is None or info.height == 0:
                continue
            infos.append(info.select(pl.col("unit").cast(pl.Utf8), pl.lit(period).alias("period")))
            ledgers.append(tables["ledger"].select("unit", pl.lit(period).alias("period"), *_LEDGER))
            tasks.append(tables["tasks"].select("unit", pl.lit(period).alias("period"), "task_no", "found", "fixed",
                                                "cases"))  # fmt: skip
            accs.append(tables["accountability"].drop("submission_id", "period").with_columns(
                pl.lit(period).alias("period")))  # fmt: skip
        ret_schema = {"unit": pl.Utf8, "period": pl.Utf8}
        returns = pl.concat(infos) if infos else pl.DataFrame(schema=ret_schema)
        returns = returns.unique().with_columns(
            pl.col("period").rank("ordinal", descending=True).over("unit").cast(pl.Int64).alias("rank")
        )
        led_schema = {"unit": pl.Utf8, "period": pl.Utf8, "seq": pl.Int64, "problem": pl.Utf8, "deadline": pl.Date,
                      "status": pl.Utf8, "evaluation": pl.Utf8, "closed": pl.Utf8}  # fmt: skip
        ledger = pl.concat(ledgers, how="vertical_relaxed") if ledgers else pl.DataFrame(schema=led_schema)
        ledger = ledger.filter(pl.col("seq").is_not_null()).with_columns(fold("problem").alias("key")).join(
            returns, on=["unit", "period"], how="inner"
        )
        task_schema = {"unit": pl.Utf8, "period": pl.Utf8, "task_no": pl.Int64, "found": pl.Int64,
                       "fixed": pl.Int64, "cases": pl.Int64}  # fmt: skip
        task = pl.concat(tasks, how="vertical_relaxed") if tasks else pl.DataFrame(schema=task_schema)
        acc = pl.concat(accs, how="vertical_relaxed") if accs else pl.DataFrame(schema={"unit": pl.Utf8,
                                                                                       "period": pl.Utf8})
        return cls(
            returns=returns,
            ledger=ledger,
            tasks=task.join(returns, on=["unit", "period"], how="inner"),
            accountability=acc.join(returns, on=["unit", "period"], how="inner"),
        )


def load_earlier(store: StoredReturns, period: str, *, report_type: str) -> Earlier:
    """Every period before ``period``: each unit's counting (``report_type``) return's tables, read once.

    Only ``Store.load_tables`` (the current accepted returns, ``Store.current``)
    decides what counts: a resubmission (or a withdrawal) changes which return is previous.
    """
    started = time.perf_counter()
    # the stored columns the history stage reads: statuses and counts, not the returns' texts
    read = (*_LEDGER, *_COUNTS, "report_type", *(c.key for c in load_schema().sheet("accountability").columns))
    periods = sorted(p for p in store.submissions()["period"].unique().to_list() if p < period)
    per_period: dict[str, dict[str, pl.DataFrame]] = {}
    for p in periods:
        # load_tables keeps the current accepted returns; their 基本信息 says which are 本级
        tables = store.load_tables(p, keys=("info", "ledger", "tasks", "accountability"), columns=read)
        info = tables["info"]
        counting = info.filter(pl.col("report_type").fill_null(report_type) == report_type)["submission_id"]
        if counting.len() == 0:
            continue
        per_period[p] = {k: t.filter(pl.col("submission_id").is_in(counting.implode())) for k, t in tables.items()}
    earlier = Earlier.from_tables(per_period)
    TIMINGS["load"] += time.perf_counter() - started
    return earlier


def marks_frame(frame: pl.DataFrame, *, code: str, sheet: str, column: str | None, **params: pl.Expr) -> pl.DataFrame:
    """Rows of ``frame`` (``_i``, optionally ``row``) as marks of ``code`` with message ``params``."""
    exprs = {name: pl.lit(None, dtype) for name, dtype in MARKS.items()}
    exprs.update({STACK_INDEX: pl.col(STACK_INDEX), "code": pl.lit(code), "sheet": pl.lit(sheet),
                  "column": pl.lit(column, pl.Utf8)})  # fmt: skip
    if "row" in frame.columns:
        exprs["row"] = pl.col("row")
    exprs.update(params)
    return frame.select(**{k: v.cast(MARKS[k]) for k, v in exprs.items()})


def empty_marks() -> pl.DataFrame:
    """No marks."""
    return pl.DataFrame(schema=MARKS)


# -- the item rules ---------------------------------------------------------
def current_items(ledger: pl.DataFrame) -> pl.DataFrame:
    """The batch's ledger rows with an item identity: ``_i, unit, row, seq, key, ...``."""
    note = pl.col("note") if "note" in ledger.columns else pl.lit(None, pl.Utf8)
    return ledger.filter(pl.col("seq").is_not_null() & pl.col("unit").is_not_null()).select(
        STACK_INDEX, "unit", pl.col("row").cast(pl.Int64), *_LEDGER, fold("problem").alias("key"), note.alias("note"),
    )  # fmt: skip


def previous(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``frame`` (an :class:`Earlier` table) from each unit's previous return."""
    return frame.filter(pl.col("rank") == 1)


def redefined(cur: pl.DataFrame, prev: pl.DataFrame) -> pl.DataFrame:
    """``item-redefined``: the same 序号 as in the previous return, another 问题描述."""
    both = cur.join(prev.select("unit", "seq", "key", "problem", "period"), on=["unit", "seq"], suffix="_p")
    hit = both.filter(pl.col("key") != pl.col("key_p"))
    return marks_frame(hit, code="item-redefined", sheet="ledger", column="问题描述", seq=pl.col("seq"),
                       earlier=pl.col("problem_p"), previous=pl.col("period"))  # fmt: skip


def vanished(units: pl.DataFrame, cur: pl.DataFrame, prev: pl.DataFrame) -> pl.DataFrame:
    """``item-vanished``: an item of the previous return, not 销号, whose 序号 the return no longer lists.

    ``units`` is ``_i, unit`` of the batch's returns taking part (their ledgers may be empty).
    """
    open_items = prev.filter(pl.col("closed").fill_null("否") != "是")
    gone = units.join(open_items, on="unit").join(cur.select(STACK_INDEX, "seq"), on=[STACK_INDEX, "seq"],
                                                    how="anti")  # fmt: skip
    return marks_frame(gone.sort(STACK_INDEX, "seq"), code="item-vanished", sheet="ledger", column=None,
                       seq=pl.col("seq"), earlier=pl.col("problem"), previous=pl.col("period"))  # fmt: skip


def postponed(cur: pl.DataFrame, earlier: Earlier) -> pl.DataFrame:
    """``deadline-postponed``: 整改时限 later than in the previous return; ``count`` postponements in all."""
    chain = earlier.ledger.select(*ITEM, "rank", "deadline")
    moves = earlier.derived("postponements", lambda: (
        chain.sort(*ITEM, "rank", descending=[False, False, False, True])
        .with_columns((pl.col("deadline") > pl.col("deadline").shift(1).over(ITEM)).alias("_later"))
        .group_by(ITEM).agg(pl.col("_later").fill_null(False).sum().alias("_before"))
    ))  # fmt: skip
    prev = chain.filter(pl.col("rank") == 1)
    hit = (
        cur.join(prev, on=ITEM, suffix="_p").filter(pl.col("deadline") > pl.col("deadline_p"))
        .join(moves, on=ITEM, how="left")
    )  # fmt: skip
    return marks_frame(hit, code="deadline-postponed", sheet="ledger", column="整改时限", seq=pl.col("seq"),
                       earlier=pl.col("deadline_p").cast(pl.Utf8), value=pl.col("deadline").cast(pl.Utf8),
                       count=pl.col("_before").fill_null(0) + 1)  # fmt: skip


def regressed(cur: pl.DataFrame, earlier: Earlier) -> pl.DataFrame:
    """``status-regressed``: 整改状态 moved back (已完成 → 推进中/未启动, 推进中 → 未启动).

    An item closed (销号) in any earlier return is a rebound (``items_rebound``), not this.
    """
    ever_closed = earlier.derived("closed", lambda: earlier.ledger.filter(pl.col("closed") == "是").select(ITEM).unique())
    prev = earlier.ledger.filter(pl.col("rank") == 1).select(*ITEM, "status", "period")
    step = pl.col("status").replace_strict(_PROGRESS, default=None, return_dtype=pl.Int8)
    hit = (
        cur.join(prev, on=ITEM, suffix="_p").join(ever_closed, on=ITEM, how="anti")
        .filter(step < pl.col("status_p").replace_strict(_PROGRESS, default=None, return_dtype=pl.Int8))
    )  # fmt: skip
    return marks_frame(hit, code="status-regressed", sheet="ledger", column="整改状态", seq=pl.col("seq"),
                       earlier=pl.col("status_p"), previous=pl.col("period"), value=pl.col("status"))  # fmt: skip


def stalled(cur: pl.DataFrame, earlier: Earlier, *, periods: int) -> pl.DataFrame:
    """``stalled-item``: 未启动 now and in the unit's previous returns, ``periods`` consecutive returns in all."""
    run = earlier.derived("not-started", lambda: (
        earlier.ledger.filter(pl.col("status") == NOT_STARTED).select(*ITEM, "rank").unique().sort(*ITEM, "rank")
        # ranks rise strictly: the run from the latest return lasts while rank == its position
        .with_columns((pl.col("rank") == pl.int_range(1, pl.len() + 1).over(ITEM)).alias("_on"))
        .group_by(ITEM).agg(pl.col("_on").sum().alias("_run"))
    ))  # fmt: skip
    hit = (
        cur.filter(pl.col("status") == NOT_STARTED).join(run, on=ITEM, how="left")
        .with_columns((pl.col("_run").fill_null(0) + 1).alias("_count"))
        .filter(pl.col("_count") >= periods)
    )  # fmt: skip
    return marks_frame(hit, code="stalled-item", sheet="ledger", column="整改状态", seq=pl.col("seq"),
                       count=pl.col("_count"))  # fmt: skip


def dissatisfied(cur: pl.DataFrame, prev: pl.DataFrame) -> pl.DataFrame:
    """``persistent-dissatisfaction``: 不满意 in this and the previous return."""
    hit = cur.filter(pl.col("evaluation") == "不满意").join(
        prev.filter(pl.col("evaluation") == "不满意").select(*ITEM, "period"), on=ITEM
    )
    return marks_frame(hit, code="persistent-dissatisfaction", sheet="ledger", column="群众评价", seq=pl.col("seq"),
                       previous=pl.col("period"))  # fmt: skip


def item_marks(ledger: pl.DataFrame, units: pl.DataFrame, earlier: Earlier, *, rules: History) -> pl.DataFrame:
    """Every item rule over a batch's ledger rows (``units``: ``_i, unit`` of the returns taking part)."""
    cur = current_items(ledger.join(units.select(STACK_INDEX), on=STACK_INDEX, how="semi"))
    prev = previous(earlier.ledger)
    return pl.concat([
        redefined(cur, prev), vanished(units, cur, prev), postponed(cur, earlier), regressed(cur, earlier),
        stalled(cur, earlier, periods=rules.stalled_periods), dissatisfied(cur, prev),
    ])  # fmt: skip
