"""The validation steps on hand-built frames and returns (no workbook, no GX)."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal, assert_series_equal

from jobs.core.findings import make_finding
from jobs.core.schema import DEFAULT_SCHEMA, parse_schema
from jobs.validate import copies, facts, suites
from jobs.validate.cross_units import cross_unit_copies
from jobs.validate.lifecycle import HISTORY_CODES
from jobs.validate.translate import cut_cascades
from jobs.validate.typing import (
    RID,
    ROW,
    copy_key_expr_py,
    parse_period_expr,
    stack_keyvalue,
    stack_table,
    type_columns,
)


@dataclass
class Sheet:
    frame: pl.DataFrame
    col_index: dict[str, int]
    missing_columns: list[str] = field(default_factory=list)


@dataclass
class Return:
    sheets: dict[str, Sheet]
    path: Path = Path("x.xlsx")
    missing_sheets: list[str] = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _ledger(rows: list[dict]) -> Sheet:
    frame = pl.DataFrame(rows).with_columns(pl.col("_row").cast(pl.Int32))
    return Sheet(frame, {c: i for i, c in enumerate(frame.columns) if c != "_row"})


def test_typing_parses_and_nulls_what_is_not_a_value(schema):
    ledger = _ledger([
        {"序号": "１", "整改时限": "2015年3月31日", "整改状态": " 已完成", "见物": "无", "_row": 2},
        {"序号": "-2", "整改时限": "年底前", "整改状态": "完成了", "见物": "全年会议 压减 一半以上，节约经费三万元整", "_row": 3},
    ])
    sheet = schema.sheet("ledger")
    stacked = stack_table([(0, Return({"ledger": ledger}))], sheet)
    typed = type_columns(stacked, sheet, schema=schema)
    got = typed.select(RID, ROW, "seq", "deadline", "status", "fold__status", "len__facts")
    expected = pl.DataFrame(
        {RID: [0, 0], ROW: [2, 3], "seq": [1, None], "deadline": [dt.date(2015, 3, 31), None],
         "status": ["已完成", None], "fold__status": ["已完成", "完成了"], "len__facts": [None, 19]},
        schema={RID: pl.Int32, ROW: pl.Int32, "seq": pl.Int64, "deadline": pl.Date, "status": pl.Utf8,
                "fold__status": pl.Utf8, "len__facts": pl.Int64},
    )
    assert_frame_equal(got, expected)


def test_period_spellings():
    got = pl.select(parse_period_expr(pl.lit(pl.Series(["2015-02", "2015年2月", "2015.2", "2015-13", "二月"]))))
    assert got.to_series().to_list() == ["2015-02", "2015-02", "2015-02", None, None]


def _kv(items: list[tuple[str, str | None, int]]) -> Sheet:
    frame = pl.DataFrame({"_item": [i for i, _, _ in items], "_value": [v for _, v, _ in items],
                          "_row": [r for _, _, r in items]}, schema={"_item": pl.Utf8, "_value": pl.Utf8,
                                                                     "_row": pl.Int32})
    return Sheet(frame, {i: 1 for i, _, _ in items})


def test_keyvalue_sheets_become_one_wide_row(schema):
    info = _kv([("单位代码", "110000", 2), ("主要负责人", "张三", 5), ("不认识的项", "x", 9), ("单位代码", "重复", 10)])
    wide = stack_keyvalue([(3, Return({"info": info})), (4, Return({}))], schema.sheet("info"))
    assert wide.height == 1
    row = wide.row(0, named=True)
    assert (row[RID], row["raw__unit_code"], row["row__unit_code"], row["raw__principal"]) == (3, "110000", 2, "张三")
    assert row["raw__period"] is None and row["row__period"] is None


def test_task_facts_count_each_catalogue_number(schema):
    tasks = pl.DataFrame({RID: [0, 0, 0, 1], "task_no": [1, 1, 2, 5]}, schema={RID: pl.Int32, "task_no": pl.Int64})
    locs = {"tasks": {0: {"任务编号": 0}, 1: {"任务编号": 0}, 2: {"任务名称": 1}}}
    got = facts.task_facts(tasks, locs, schema=schema)
    n = len(schema.tasks)
    assert got.height == 2 * n  # return 2 lacks the 任务编号 column: no facts rows
    assert got.filter(pl.col(RID) == 0)["n"].to_list()[:3] == [2, 1, 0]
    assert got.filter((pl.col(RID) == 1) & (pl.col("n") == 1))["task_no"].to_list() == [5]


def test_return_facts_principal_and_ledger(schema):
    info = pl.DataFrame({RID: [0, 1, 2], "report_type": [None, "汇总", "本级"], "raw__principal": ["张 三", "李四", None]},
                        schema={RID: pl.Int32, "report_type": pl.Utf8, "raw__principal": pl.Utf8})
    ledger = pl.DataFrame({RID: [0, 0]}, schema={RID: pl.Int32})
    members = pl.DataFrame({RID: [0, 1], "raw__member": ["张三", "王五"]}, schema={RID: pl.Int32, "raw__member": pl.Utf8})
    locs = {"ledger": {0: {}, 1: {}, 2: {}}, "members": {0: {"姓名": 0}, 1: {"姓名": 0}, 2: {"姓名": 0}}}
    got = facts.return_facts([0, 1, 2], info=info, ledger=ledger, members=members, locs=locs, schema=schema)
    expected = pl.DataFrame(
        {RID: [0, 1, 2], "report_type": ["本级", "汇总", "本级"], "principal": ["张 三", "李四", None],
         "n_ledger": [2, 0, 0], "principal_listed": ["yes", "no", None]},
        schema={RID: pl.Int32, "report_type": pl.Utf8, "principal": pl.Utf8, "n_ledger": pl.Int64,
                "principal_listed": pl.Utf8},
    )
    assert_frame_equal(got, expected)


def test_copy_texts_hashes_what_detection_compares(schema):
    """The store keeps copy_texts() of accepted returns; a later batch must recognise them."""
    from jobs.core.tables import empty_table

    texts = ["全年会议由120次压减到60次，节约经费3万元。", "全年会议由１２０次 压减到60次节约经费3万元", "无"]
    ledger = empty_table("ledger").vstack(pl.DataFrame(
        {"unit": ["A"] * 3, "period": ["2015-02"] * 3, "row": [2, 3, 4], "facts": texts},
    ).with_columns(pl.col("row").cast(pl.Int32)).select(
        [pl.col(c) if c in ("unit", "period", "row", "facts") else pl.lit(None).alias(c)
         for c in empty_table("ledger").columns]).cast(empty_table("ledger").schema))
    stored = copies.copy_texts({"ledger": ledger}, schema=schema)
    assert stored.columns == ["unit", "sheet", "row", "column", "hash"]
    assert stored["row"].to_list() == [2, 3]  # the placeholder is not a text worth comparing
    assert stored["sheet"].to_list() == ["整改台账"] * 2 and stored["column"].to_list() == ["见物"] * 2
    assert stored["hash"][0] == stored["hash"][1]  # width, spaces and punctuation folded
    frame = _copy_frame([(0, 7, texts[0])])
    _frames, batch = copies.detect_repeats({"ledger": frame}, units=_units(["B"]), locs={}, schema=schema)
    marks = cross_unit_copies(batch, _returns(["B"]), stored=stored, period="2015-02", stored_kind="本级")
    assert marks["other"].to_list() == ["单位“A”报送的内容"]


def _copy_frame(rows: list[tuple[int, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={RID: pl.Int32, ROW: pl.Int32, "raw__facts": pl.Utf8}, orient="row",
                        ).with_columns(pl.lit(None, pl.Utf8).alias("raw__mindset"))


def _units(units: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({RID: range(len(units)), "unit": units}, schema={RID: pl.Int32, "unit": pl.Utf8})


def _returns(units, *, periods=None, ranks=None, pooled=None) -> pl.DataFrame:
    n = len(units)
    return pl.DataFrame({"_i": range(n), "unit": units, "kind": ["本级"] * n, "period": periods or ["2015-02"] * n,
                         "rank": ranks or [0] * n, "pooled": pooled or [True] * n})


def _marks(frame: pl.DataFrame) -> dict[tuple[int, int], str]:
    return {(i, row): other for i, row, other in frame.select("_i", "row", "other").iter_rows()}


def test_copies_within_period_across_units_and_not_same_unit(schema):
    text = "全年会议由120次压减到60次，节约经费3万元。"
    frame = _copy_frame([(0, 2, text), (1, 2, text + " "), (2, 5, text), (3, 2, "短文本"), (0, 3, text)])
    locs = {"ledger": {r: {"见物": 10} for r in range(4)}}
    frames, batch = copies.detect_repeats({"ledger": frame}, units=_units(["A", "A", "B", "C"]), locs=locs,
                                          schema=schema)  # fmt: skip
    within = {(r[RID], r[ROW]): r["copy__facts"] for r in frames["ledger"].iter_rows(named=True)}
    assert within == {(0, 2): None, (1, 2): None, (2, 5): None, (3, 2): None, (0, 3): "本表整改台账!K2"}
    assert batch.filter(pl.col("_i") == 2)["col"].to_list() == [10]  # where the cell is, for the finding
    across = _marks(cross_unit_copies(batch, _returns(["A", "A", "B", "C"])))
    # all at once: unit A shares the text with unit B and B with A; A's two returns are not copies of each other
    assert across == {(0, 2): "单位“B”报送的内容", (0, 3): "单位“B”报送的内容", (1, 2): "单位“B”报送的内容",
                      (2, 5): "单位“A”报送的内容"}  # fmt: skip


def test_copies_against_stored_texts_and_other_periods(schema):
    text = "本单位深刻反思形式主义根源，认识到脱离群众的严重危害。"
    _frames, batch = copies.detect_repeats({"ledger": _copy_frame([(0, 2, text), (1, 2, text)])},
                                           units=_units(["A", "B"]), locs={}, schema=schema)  # fmt: skip
    stored = pl.DataFrame({"unit": ["S", "A"], "hash": [copies.text_hash(pl.Series([copy_key_expr_py(text)]))[0]] * 2})
    marks = cross_unit_copies(batch, _returns(["A", "B"], periods=["2015-02", "2015-03"]), stored=stored,
                              period="2015-02", stored_kind="本级")  # fmt: skip
    # stored texts are the collected period's: A is flagged (naming S, never itself); B's month differs
    assert _marks(marks) == {(0, 2): "单位“S”报送的内容"}


def test_copies_in_recording_order_follow_what_the_store_would_hold(schema):
    """Ranked returns see only the accepted returns recorded before them, each unit's latest one only."""
    batch = pl.DataFrame(
        [(i, u, "整改台账", 2, "见物", t, 10) for i, (u, t) in enumerate(
            [("S", "h0"), ("B", "h1"), ("A", "h2"), ("C", "h2"), ("D", "h3"), ("E", "h3"), ("0", "h9")])],
        schema=copies.BATCH_TEXTS_SCHEMA, orient="row",
    )
    stored = pl.DataFrame({"unit": ["S", "X", "Y", "0", "Z"], "hash": ["h1", "h9", "h9", "h9", "h9"]})
    returns = _returns(["S", "B", "A", "C", "D", "E", "0"], ranks=[0, 1, 2, 3, 4, 5, 6],
                       pooled=[True, True, False, True, True, True, True])
    marks = _marks(cross_unit_copies(batch, returns, stored=stored, period="2015-02", stored_kind="本级"))
    # B: S's stored h1 was replaced by S's newer return (rank 0) before B; C: A was rejected (not stored);
    # D: E comes later; E names D; unit 0 names the smallest other unit of many storing h9
    assert marks == {(5, 2): "单位“D”报送的内容", (6, 2): "单位“X”报送的内容"}


def test_cut_cascades_keeps_primary(schema):
    cell = dict(sheet="整改台账", row=2, col_index=8, schema=schema)
    found = [
        make_finding("bad-date", column="完成日期", value="x", **cell),
        make_finding("done-without-date", column="完成日期", **cell),
        make_finding("too-thin", column="见物", sheet="整改台账", row=2, col_index=10, schema=schema),
        make_finding("too-thin", column="见物", sheet="整改台账", row=2, col_index=10, schema=schema),
    ]
    assert [(f.code, f.cell) for f in cut_cascades(found)] == [("bad-date", "整改台账!I2"), ("too-thin", "整改台账!K2")]


def _modified_schema():
    data = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    ledger = next(s for s in data["sheets"] if s["key"] == "ledger")
    source = next(c for c in ledger["columns"] if c["key"] == "source")
    source["values"].append("巡视反馈")
    ledger["columns"].append({"name": "整改成效", "key": "effect", "type": "enum", "required": True,
                              "values": ["明显", "一般"]})
    data["rules"].append({"id": "ineffective-not-satisfied", "sheet": "ledger", "code": "closed-not-approved",
                          "when": {"column": "整改状态", "equals": "效果不理想"},
                          "then": {"column": "群众评价", "in": ["不满意", "未评价"]}})
    return parse_schema(data)


def test_checks_follow_schema_edits(schema):
    base = suites.all_checks(schema)
    changed = suites.all_checks(_modified_schema())
    enum = next(c for c in changed["ledger"] if c.id == "ledger:source:enum")
    assert "巡视反馈" in enum.value_set and "巡视反馈" in dict(enum.params)["allowed"]
    new_ids = {c.id for c in changed["ledger"]} - {c.id for c in base["ledger"]}
    assert new_ids == {"ledger:effect:required", "ledger:effect:enum", "ineffective-not-satisfied"}
    rule = next(c for c in changed["ledger"] if c.id == "ineffective-not-satisfied")
    assert (rule.kind, rule.column, rule.when, rule.header) == (
        "in_set", "evaluation", suites.Cond("status", "eq", "效果不理想"), "群众评价")


def test_every_schema_code_is_reachable(schema):
    """Each finding code of the schema is produced by some check or structural step."""
    produced = {c.code for checks in suites.all_checks(schema).values() for c in checks}
    produced |= {"unreadable-file", "missing-sheet", "missing-column", "workbook-note"}  # reader, structural
    produced |= {"more-findings"}  # jobs.core.findings.cap_findings, over the findings cap
    produced |= {"summary-not-signed", "summary-draft"}  # the 汇总 reader (tests/test_federation_signoff.py)
    produced |= set(HISTORY_CODES)  # the history stage (tests/test_lifecycle.py)
    assert set(schema.findings) <= produced, set(schema.findings) - produced


@pytest.mark.parametrize("bad", [{"column": "整改状态", "like": "x"}])
def test_unsupported_rule_condition_is_an_error(schema, bad):
    data = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    data["rules"].append({"id": "odd", "sheet": "ledger", "code": "count-inconsistent", "when": bad,
                          "then": {"column": "完成日期", "not_null": True}})
    with pytest.raises(ValueError, match="unsupported"):
        suites.all_checks(parse_schema(data))


def test_gx_plan_stacks_same_kind_checks(schema):
    """GX cost is per run and per expectation: every frame's checks of one kind become one expectation."""
    from jobs.validate.gx import plan

    checks = suites.all_checks(schema)
    flat = [c for cs in checks.values() for c in cs]
    groups = plan(checks)
    assert len(groups) < len(flat) / 4
    assert sorted(c.id for g in groups for c in g.members) == sorted(c.id for c in flat)
    for group in groups:
        assert len({(c.kind, c.other is not None) for c in group.members}) == 1
        assert all(c in checks[f] for f, c in zip(group.frames, group.members, strict=True))
    enum = next(g for g in groups if g.head.kind == "in_set")
    stacked = enum.expectation_check()
    assert all(v.startswith("0\x1f") for v in stacked.value_set[: len(enum.head.value_set)])
    # members keep their own conditions inside the one expectation
    conditional = next(g for g in groups if g.conditional and any(c.when is None for c in g.members))
    allowed = conditional.allowed_conditions()
    assert any(a.endswith("\x1d") for a in allowed) and any("\x1f" in a for a in allowed)


def test_gx_one_run_equals_one_check_at_a_time():
    """Stacking, distinct rows and encoded conditions change nothing: each check alone fails the same rows."""
    from jobs.validate.gx import failing_positions
    from jobs.validate.suites import Check, Cond

    frame = pl.DataFrame({
        "a": ["x", None, "y", "x", "z", None, "x"],
        "b": ["是", "否", None, "是", "是", "否", "否"],
        "n": [1, 0, 5, None, 2, 0, 1],
        "m": [1, 1, 3, 4, None, 0, 2],
        "d": [None, "t", "t", None, "t", None, None],
    })
    other = pl.DataFrame({"a": ["x", "q", None], "k": [3, 0, 1]})
    base = {"code": "missing-field", "sheet": None, "header": None}
    checks = {
        "f": [
            Check(id="nn", frame="f", kind="not_null", column="a", **base),
            Check(id="nn-if", frame="f", kind="not_null", column="a", when=Cond("b", "eq", "是"), **base),
            Check(id="null-if", frame="f", kind="null", column="d", when=Cond("b", "in", ("否",)), **base),
            Check(id="set", frame="f", kind="in_set", column="a", value_set=("x", "y"), **base),
            Check(id="set-b", frame="f", kind="in_set", column="b", value_set=("是",), when=Cond("a", "not_null"), **base),
            Check(id="nset", frame="f", kind="not_in_set", column="a", value_set=("z",), **base),
            Check(id="ge", frame="f", kind="between", column="n", min_value=1, **base),
            Check(id="ge3", frame="f", kind="between", column="m", min_value=3, **base),
            Check(id="pair", frame="f", kind="pair_ge", column="m", other="n", **base),
        ],
        "o": [
            Check(id="o-set", frame="o", kind="in_set", column="a", value_set=("q",), **base),
            Check(id="o-ge", frame="o", kind="between", column="k", min_value=1, **base),
            Check(id="o-nn", frame="o", kind="not_null", column="a", **base),
        ],
    }
    frames = {"f": frame, "o": other}
    together = failing_positions(frames, checks)
    alone: dict[str, list[int]] = {}
    for name, frame_checks in checks.items():
        for check in frame_checks:
            alone.update(failing_positions({name: frames[name]}, {name: [check]}))
    assert together == alone
    assert together["nn"] == [1, 5] and "nn-if" not in together and together["set"] == [4]
    assert together["null-if"] == [1] and together["set-b"] == [6] and together["ge"] == [1, 5]
    assert together["pair"] == [2] and together["o-set"] == [0] and together["o-ge"] == [1]
    assert together["o-nn"] == [2] and together["nset"] == [4] and together["set-b"] == [6]
    assert together["ge3"] == [0, 1, 5, 6]  # bounds differ within the one between expectation


def test_warm_up_builds_every_suite_once(schema):
    from jobs.validate import gx, warm_up

    warm_up(schema=schema)
    built = len(gx._STATE["defs"])
    warm_up(schema=schema)
    assert len(gx._STATE["defs"]) == built >= 1


def test_gx_set_checks_on_long_text_keep_their_verdicts():
    """A value longer than every allowed value reaches GX as one stand-in: verdicts stay per value."""
    from jobs.validate.gx import _distinct, failing_positions, plan
    from jobs.validate.suites import Check

    long_a = "甲" * 40
    frame = pl.DataFrame({
        "t": ["无", long_a, "同上。", None, "无" + long_a, long_a + "x", "略", "同上"],
        "e": ["是", "否否否否否否否否否否", "否", "是x", None, "是", "否否", "否"],
    })
    base = {"code": "missing-field", "sheet": None, "header": None}
    checks = {"f": [
        Check(id="ph", frame="f", kind="not_in_set", column="t", value_set=("无", "略", "同上"), **base),
        Check(id="enum", frame="f", kind="in_set", column="e", value_set=("是", "否"), **base),
    ]}
    found = failing_positions({"f": frame}, checks)
    assert found == {"ph": [0, 6, 7], "enum": [1, 3, 6]}
    # GX sees 无, 略, 同上, null and one stand-in for every longer text (同上。 included)
    group = next(g for g in plan(checks) if g.head.kind == "not_in_set")
    assert _distinct(group, {"f": frame}).height == 5


def test_settled_heap_unfreezes_only_what_it_froze():
    """Validation keeps the batch out of the GC's full passes, then leaves the heap as it found it."""
    import gc

    from jobs.process import settled_heap

    assert gc.get_freeze_count() == 0
    with settled_heap():
        assert gc.get_freeze_count() > 0
        with settled_heap():  # validate_files -> validate_returns
            pass
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()  # a caller that freezes on its own keeps its frozen objects
    try:
        with settled_heap():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_cyclic_garbage_frozen_during_one_batch_is_collected_by_the_next():
    """Objects unfrozen after a batch do not count towards a full collection: the next batch collects them,
    else a long-lived worker grows by every batch's cyclic garbage."""
    import gc
    import weakref

    from jobs.process import settled_heap

    class Node:
        pass

    assert gc.get_freeze_count() == 0
    with settled_heap():
        node = Node()
        node.itself = node  # a cycle: only the cyclic GC frees it
        alive = weakref.ref(node)
        del node
        gc.freeze()  # as the read loop does every few hundred returns
    with settled_heap():
        assert alive() is None


def test_stacked_columns_clean_the_same_per_value_or_per_cell():
    """Repeating columns are cleaned once per distinct value: the result is the per-cell cleaning."""
    from jobs.core.normalize import clean_cell_expr
    from jobs.validate.typing import _cleaned

    values = ["1", " 1", "2015-01-15 00:00:00", None, "已完成\u3000", "  ", "a  b", "１２"]
    repeating = pl.Series("c", values * 600)  # few distinct values: cleaned per value
    free = pl.Series("c", [f"第{i}项 说明  文字" if i % 3 else None for i in range(3000)])  # cleaned per cell
    for column in (repeating, free):
        expected = column.to_frame().select(clean_cell_expr("c")).to_series()
        assert_series_equal(_cleaned(column), expected)
    assert _cleaned(repeating)[:8].to_list() == ["1", "1", "2015-01-15", None, "已完成", None, "a b", "１２"]


def test_copies_all_at_once_name_the_smallest_other_unit(schema):
    """Every unit of a group is flagged, naming the smallest other unit (only two are kept per text)."""
    batch = pl.DataFrame([(i, None, "整改台账", 2, "见物", "h", 10) for i in range(4)],
                         schema=copies.BATCH_TEXTS_SCHEMA, orient="row")  # fmt: skip
    marks = _marks(cross_unit_copies(batch, _returns(["D", "B", "C", "A"])))
    assert marks == {(0, 2): "单位“A”报送的内容", (1, 2): "单位“A”报送的内容", (2, 2): "单位“A”报送的内容",
                     (3, 2): "单位“B”报送的内容"}  # fmt: skip


def _naive_copies(texts, returns, stored, period):
    """The stage's rule spelled out return by return: what the store holds when each is recorded."""
    rets = {r["_i"]: r for r in returns.iter_rows(named=True)}
    out = {}
    for i, row, h in texts.select("_i", "row", "hash").iter_rows():
        me = rets[i]
        if me["unit"] is None:
            continue
        held = {(u, "本级"): {x for v, x in stored.iter_rows() if v == u} for u in stored["unit"].unique()}
        held = {k: (period, hs) for k, hs in held.items()}
        for j in sorted(rets, key=lambda j: rets[j]["rank"]):
            o = rets[j]
            if o["rank"] > me["rank"]:
                break
            if o["pooled"] and o["unit"] is not None:
                held[(o["unit"], o["kind"])] = (o["period"], set(texts.filter(pl.col("_i") == j)["hash"]))
        names = [u for (u, _k), (p, hs) in held.items() if u != me["unit"] and p == me["period"] and h in hs]
        if names:
            out[(i, row)] = f"单位“{min(names)}”报送的内容"
    return out


@pytest.mark.parametrize("seed", range(20))
def test_copies_stage_equals_the_rule_spelled_out(seed):
    import random

    rnd = random.Random(seed)
    n = rnd.randint(1, 14)
    units = [rnd.choice(["A", "B", "C", "D", "E", None]) for _ in range(n)]
    rows = [(i, units[i], "整改台账", r, "见物", rnd.choice("wxyz"), 3) for i in range(n) for r in range(rnd.randint(0, 3))]
    texts = pl.DataFrame(rows, schema=copies.BATCH_TEXTS_SCHEMA, orient="row")
    ranks = rnd.sample(range(100), n)  # recording order, not the order of the results
    returns = pl.DataFrame({"_i": range(n), "unit": units, "kind": [rnd.choice(["本级", "本级", "汇总"]) for _ in range(n)],
                            "period": [rnd.choice(["2015-02", "2015-02", "2015-01"]) for _ in range(n)],
                            "rank": ranks, "pooled": [rnd.random() < 0.7 for _ in range(n)]})  # fmt: skip
    stored = pl.DataFrame({"unit": [rnd.choice("ABCFG") for _ in range(6)], "hash": [rnd.choice("wxyz") for _ in range(6)]})
    got = _marks(cross_unit_copies(texts, returns, stored=stored, period="2015-02", stored_kind="本级"))
    assert got == _naive_copies(texts, returns, stored, "2015-02")
