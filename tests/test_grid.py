"""Table sheets kept as read (jobs.intake.read.grid): a batch stacked at once equals each sheet built alone."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from jobs.intake.read.grid import AsRead, stack


def _grid(rows: list[list[str | None]]) -> list[list[str | None]]:
    """The grid's columns, as fastexcel's reader hands them over."""
    width = max(len(r) for r in rows)
    return [[r[i] if i < len(r) else None for r in rows] for i in range(width)]


def _as_read(grid: list[list[str | None]], start: int, names: tuple[str, ...], positions: tuple[int, ...]) -> AsRead:
    return AsRead(tuple(grid[p] for p in positions), start, names, len(grid[0]))


TEMPLATE = _grid([["序号", "问题", "状态"], ["1", "a", "推进中"], ["2", None, "已完成"], [None, None, None]])
TITLED = _grid([["某某表", None, None, None], [None, None, None, None], ["状态", "x", "序号", "问题"],
                ["已完成", "?", "7", " b "]])
EMPTY_BODY = _grid([["序号", "问题", "状态"]])


def _sheets() -> list[tuple[int, AsRead]]:
    return [
        (0, _as_read(TEMPLATE, 1, ("序号", "问题", "状态"), (0, 1, 2))),
        (1, _as_read(TITLED, 3, ("序号", "问题", "状态"), (2, 3, 0))),
        (2, _as_read(EMPTY_BODY, 1, ("序号", "问题", "状态"), (0, 1, 2))),
        (3, _as_read(TEMPLATE, 1, ("序号", "状态"), (0, 2))),  # 问题 column missing
        (4, _as_read(TEMPLATE, 1, ("序号", "问题", "状态"), (0, 1, 2))),
    ]


def test_one_sheet_keeps_text_as_read_every_row_and_excel_rows():
    table = _as_read(TITLED, 3, ("序号", "问题", "状态"), (2, 3, 0)).table()
    expected = pl.DataFrame({"序号": ["7"], "问题": [" b "], "状态": ["已完成"], "_row": [4]},
                            schema={"序号": pl.Utf8, "问题": pl.Utf8, "状态": pl.Utf8, "_row": pl.Int32})
    assert_frame_equal(table, expected)
    assert _as_read(TEMPLATE, 1, ("序号", "问题", "状态"), (0, 1, 2)).table()["_row"].to_list() == [2, 3, 4]


def test_batch_over_many_layouts_equals_each_sheet_alone():
    sheets = _sheets()
    together = stack(sheets, rid="_rid")
    alone = pl.concat(
        [g.table().with_columns(pl.lit(r, pl.Int32).alias("_rid")) for r, g in sheets],
        how="diagonal_relaxed",
    ).select(together.columns)
    assert_frame_equal(together, alone)
    assert together["_rid"].to_list() == [0, 0, 0, 1, 3, 3, 3, 4, 4, 4]


def test_holes_are_required_nulls_in_rows_holding_something():
    template = _as_read(TEMPLATE, 1, ("序号", "问题", "状态"), (0, 1, 2))
    assert template.has_holes(frozenset({"问题"}))  # row 3 has 序号 and 状态 but no 问题
    assert not template.has_holes(frozenset({"状态"}))  # only the empty trailing row lacks it
    assert not template.has_holes(frozenset({"未知"}))
    titled = _as_read(TITLED, 3, ("序号", "问题", "状态"), (2, 3, 0))
    assert not titled.has_holes(frozenset({"序号", "问题", "状态"}))  # the title rows above do not count


def test_key_values_stack_like_frames(schema):
    """A batch of key/value sheets as plain lists stacks exactly as the same sheets as frames."""
    from dataclasses import dataclass

    from jobs.intake.read.grid import KeyValues, key_values_frame
    from jobs.validate.typing import stack_keyvalue

    @dataclass
    class Src:
        data: object

        @property
        def frame(self) -> pl.DataFrame:
            return self.data.frame() if isinstance(self.data, KeyValues) else self.data

    @dataclass
    class Ret:
        sheets: dict

    sheets = [
        KeyValues(("单位代码", "单位名称", "报送期", "单位代码"), ("110000", "北京市", "2015-02", "999"), (2, 3, 4, 9)),
        KeyValues((), (), ()),
        KeyValues(("报 送 期", "未知项", None), ("2015年2月", "x", "y"), (5, 6, 7)),
    ]
    as_lists = [(i, Ret({"info": Src(kv)})) for i, kv in enumerate(sheets)]
    as_frames = [(i, Ret({"info": Src(kv.frame())})) for i, kv in enumerate(sheets)]
    info = schema.sheet("info")
    assert_frame_equal(stack_keyvalue(as_lists, info), stack_keyvalue(as_frames, info))
    assert_frame_equal(key_values_frame(sheets), pl.concat([kv.frame() for kv in sheets]))
    assert key_values_frame(sheets)["_row"].dtype == pl.Int32


def test_holes_agree_with_their_definition_on_random_grids():
    """The one-call null count only short-cuts: any grid, header row and layout gives the plain answer."""
    import random

    rng = random.Random(3)
    for _ in range(400):
        height, width = rng.randrange(1, 7), rng.randrange(1, 5)
        rows = [[rng.choice([None, None, "", "x", "#"]) for _ in range(width)] for _ in range(height)]
        start = rng.randrange(1, height + 1)
        positions = tuple(rng.sample(range(width), rng.randrange(1, width + 1)))
        names = tuple(f"h{p}" for p in positions)
        required = frozenset(rng.sample(names, rng.randrange(len(names) + 1)))
        body = [[row[p] for p in positions] for row in rows[start:]]
        holes = [i for i, n in enumerate(names) if n in required]
        expected = any(any(r[i] is None for i in holes) and any(v is not None for v in r) for r in body)
        assert _as_read(_grid(rows), start, names, positions).has_holes(required) is expected, (rows, start, positions)
