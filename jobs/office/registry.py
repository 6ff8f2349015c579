"""The unit registry (组织机构名册): reading and checking it.

The registry frame has the English keys declared in ``schemas/`` (``code``,
``name``, ``parent``, ``level``, ``category``, ``contact``, ``phone``,
``must_report`` as a boolean).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jobs.core.schema import Schema, load_schema
from jobs.core.text import clean_text


class RegistryError(ValueError):
    """The registry is not a proper tree; ``problems`` lists every fault in Chinese."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("组织机构名册有误：\n" + "\n".join(f"- {p}" for p in problems))


REGISTRY_SCHEMA = {
    "code": pl.Utf8,
    "name": pl.Utf8,
    "parent": pl.Utf8,
    "level": pl.Utf8,
    "category": pl.Utf8,
    "contact": pl.Utf8,
    "phone": pl.Utf8,
    "must_report": pl.Boolean,
}


def _find_header(grid: list[list[str | None]], names: list[str]) -> int | None:
    for i, row in enumerate(grid[:20]):
        cells = {clean_text(c) for c in row if c is not None}
        if all(n in cells for n in names):
            return i
    return None


def read_registry(path: str | Path, *, schema: Schema | None = None) -> pl.DataFrame:
    """Read a registry workbook (``.xlsx``/``.xls``) or CSV into the registry frame.

    Raises
    ------
    RegistryError
        When the file cannot be read or lacks required columns.
    """
    import fastexcel

    schema = schema or load_schema()
    path = Path(path)
    names = [c.name for c in schema.registry_columns]
    required = [c.name for c in schema.registry_columns if c.required]
    try:
        if path.suffix.lower() == ".csv":
            raw = pl.read_csv(path, infer_schema=False)
            grid = [list(raw.columns), *[list(r) for r in raw.iter_rows()]]
        else:
            reader = fastexcel.read_excel(str(path))
            sheet_names = reader.sheet_names
            wanted = next((s for s in sheet_names if clean_text(s) == schema.registry_sheet), sheet_names[0])
            df = reader.load_sheet_by_name(wanted, header_row=None, dtypes="string").to_polars()
            grid = [list(r) for r in df.iter_rows()]
    except BaseException as exc:  # noqa: BLE001 - calamine panics derive from BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise RegistryError([f"名册文件“{path.name}”无法读取，请确认是Excel或CSV文件。"]) from None
    header_at = _find_header(grid, required)
    if header_at is None:
        raise RegistryError([f"名册缺少表头，应包含：{'、'.join(names)}"])
    header = [clean_text(c) if c is not None else "" for c in grid[header_at]]
    positions = {name: header.index(name) for name in names if name in header}
    rows = []
    for raw_row in grid[header_at + 1 :]:
        values = {
            c.key: clean_text(raw_row[positions[c.name]]) if c.name in positions else None
            for c in schema.registry_columns
        }
        if not any(values.values()):
            continue
        rows.append(values)
    frame = pl.DataFrame(rows, schema={k: pl.Utf8 for k in REGISTRY_SCHEMA}, orient="row")
    frame = frame.with_columns(
        pl.col(pl.Utf8).replace("", None),
    ).with_columns(pl.col("must_report").fill_null("是").eq("是").alias("must_report"))
    return frame


def check_registry(frame: pl.DataFrame, *, schema: Schema | None = None) -> list[str]:
    """Return every fault of the registry as a Chinese sentence (empty if it is a proper tree).

    Checks: required fields, unique codes, known 层级 and 类别, exactly one root
    (层级 全国, no parent), every parent exists, no cycles.
    """
    schema = schema or load_schema()
    problems: list[str] = []
    for col in schema.registry_columns:
        if col.required and col.key != "must_report":
            missing = frame.filter(pl.col(col.key).is_null())
            if missing.height:
                problems.append(f"{missing.height}个单位缺少“{col.name}”")
    dup = frame.group_by("code").len().filter(pl.col("len") > 1)
    for code in dup["code"].sort().to_list():
        problems.append(f"单位代码“{code}”重复")
    bad_level = frame.filter(pl.col("level").is_not_null() & ~pl.col("level").is_in(schema.levels))
    for code, level in bad_level.select("code", "level").iter_rows():
        problems.append(f"单位“{code}”的层级“{level}”无法识别，应为：{'、'.join(schema.levels)}")
    bad_cat = frame.filter(pl.col("category").is_not_null() & ~pl.col("category").is_in(schema.categories))
    for code, cat in bad_cat.select("code", "category").iter_rows():
        problems.append(f"单位“{code}”的类别“{cat}”无法识别，应为：{'、'.join(schema.categories)}")
    roots = frame.filter(pl.col("parent").is_null())
    if roots.height != 1:
        listed = "、".join(roots["code"].to_list()[:10])
        problems.append(f"名册应有且只有一个根单位（全国，无上级单位），现有{roots.height}个：{listed}")
    codes = set(frame["code"].drop_nulls().to_list())
    orphans = frame.filter(pl.col("parent").is_not_null() & ~pl.col("parent").is_in(list(codes)))
    for code, parent in orphans.select("code", "parent").iter_rows():
        problems.append(f"单位“{code}”的上级单位“{parent}”不在名册中")
    problems.extend(_cycles(frame))
    return problems


def _cycles(frame: pl.DataFrame) -> list[str]:
    parent_of = dict(frame.select("code", "parent").drop_nulls("code").iter_rows())
    state: dict[str, int] = {}  # 1 = on the current path, 2 = known to reach the root
    problems = []
    for start in parent_of:
        path = []
        node = start
        while node is not None and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = parent_of.get(node)
        if node is not None and state.get(node) == 1:
            cycle = path[path.index(node) :]
            problems.append(f"上下级关系成环：{' → '.join([*cycle, node])}")
        for n in path:
            state[n] = 2
    return problems


def load_registry(path: str | Path, *, schema: Schema | None = None) -> pl.DataFrame:
    """Read and check a registry; raise :class:`RegistryError` listing every fault."""
    frame = read_registry(path, schema=schema)
    problems = check_registry(frame, schema=schema)
    if problems:
        raise RegistryError(problems)
    return frame
