"""The unit registry (组织机构名册): reading and checking it.

The registry frame has the English keys declared in ``schemas/`` (``code``,
``name``, ``parent``, ``level``, ``category``, ``contact``, ``phone``,
``must_report`` as a boolean). :func:`read_registry` adds ``source_row``,
where each unit stands in the file (the Excel row, or the CSV line), so
that every fault :func:`check_registry` finds names its row;
:func:`load_registry` drops it from the frame it returns.

Values are read strictly: ``是否报送`` is ``是`` or ``否`` (blank means 是);
anything else is a fault, never a silent 否. A CSV is read as UTF-8 (with or
without a BOM), else as GB18030 (a superset of the GBK that Excel writes on
a Chinese Windows).
"""

from __future__ import annotations

import csv
import io
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
ROW = "source_row"  # the unit's Excel row or CSV line (1-based), while the file is checked
CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # tried in order; utf-8-sig also reads UTF-8 without a BOM
Grid = list[tuple[int, list[str | None]]]  # (row number in the file, cells)


def _find_header(grid: Grid, names: list[str]) -> int | None:
    for i, (_, row) in enumerate(grid[:20]):
        cells = {clean_text(c) for c in row if c is not None}
        if all(n in cells for n in names):
            return i
    return None


def decode_csv(data: bytes, *, name: str) -> str:
    """The text of a CSV registry: UTF-8 (BOM or not), else GB18030/GBK.

    Raises
    ------
    RegistryError
        Neither decodes: the message names the encoding problem and the fix.
    """
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    msg = (f"名册文件“{name}”的文字编码无法识别：既不是UTF-8，也不是GBK/GB18030（Excel中文版保存CSV的编码）。"
           "请在Excel中用“另存为”→“CSV UTF-8（逗号分隔）”重新保存后再导入。")  # fmt: skip
    raise RegistryError([msg])


def _csv_grid(path: Path) -> Grid:
    text = decode_csv(path.read_bytes(), name=path.name)
    reader = csv.reader(io.StringIO(text, newline=""))
    grid: Grid = []
    line = 1
    for record in reader:
        grid.append((line, list(record)))
        line = reader.line_num + 1  # a quoted value may span lines: the next record starts after them
    return grid


def _excel_grid(path: Path, schema: Schema) -> Grid:
    import fastexcel

    reader = fastexcel.read_excel(str(path))
    sheet_names = reader.sheet_names
    wanted = next((s for s in sheet_names if clean_text(s) == schema.registry_sheet), sheet_names[0])
    # skip_rows=0 keeps leading blank rows, so grid row i is Excel row i + 1
    df = reader.load_sheet_by_name(wanted, header_row=None, dtypes="string", skip_rows=0).to_polars()
    return [(i + 1, list(r)) for i, r in enumerate(df.iter_rows())]


def where(row: int | None, code: str | None = None) -> str:
    """``第5行（单位代码110000）``: how a fault names its place in the file."""
    at = f"第{row}行" if row is not None else ""
    who = f"（单位代码{code}）" if code else ""
    return (at + who) or "某行"


def read_rows(path: str | Path, *, schema: Schema | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Read a registry file into the registry frame (with :data:`ROW`) and the faults of its values.

    A unit whose ``是否报送`` is not 是/否/blank gets a null ``must_report``
    and a fault naming its row and the value.

    Raises
    ------
    RegistryError
        When the file cannot be read or decoded, or lacks required columns.
    """
    schema = schema or load_schema()
    path = Path(path)
    names = [c.name for c in schema.registry_columns]
    required = [c.name for c in schema.registry_columns if c.required]
    try:
        grid = _csv_grid(path) if path.suffix.lower() == ".csv" else _excel_grid(path, schema)
    except RegistryError:
        raise
    except BaseException as exc:  # noqa: BLE001 - calamine panics derive from BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise RegistryError([f"名册文件“{path.name}”无法读取，请确认是Excel或CSV文件。"]) from None
    header_at = _find_header(grid, required)
    if header_at is None:
        raise RegistryError([f"名册缺少表头，应包含：{'、'.join(names)}"])
    header = [clean_text(c) if c is not None else "" for c in grid[header_at][1]]
    positions = {name: header.index(name) for name in names if name in header}
    flag = next(c for c in schema.registry_columns if c.key == "must_report")
    yes, no = flag.values or ("是", "否")
    rows, problems = [], []
    for line, raw_row in grid[header_at + 1 :]:
        values: dict[str, object] = {
            c.key: clean_text(raw_row[positions[c.name]]) if c.name in positions and positions[c.name] < len(raw_row)
            else None
            for c in schema.registry_columns
        }  # fmt: skip
        if not any(values.values()):
            continue
        text = values["must_report"]
        if text not in (None, yes, no):
            problems.append(
                f"{where(line, values['code'])}：“{flag.name}”为“{text}”，只能填“{yes}”或“{no}”（空白视为“{yes}”）"
            )
        values["must_report"] = None if text not in (None, yes, no) else text != no
        rows.append({**values, ROW: line})
    frame = pl.DataFrame(rows, schema={**REGISTRY_SCHEMA, ROW: pl.Int64}, orient="row")
    return frame.with_columns(pl.col(pl.Utf8).replace("", None)), problems


def read_registry(path: str | Path, *, schema: Schema | None = None) -> pl.DataFrame:
    """Read a registry workbook (``.xlsx``/``.xls``) or CSV into the registry frame (with :data:`ROW`).

    Raises
    ------
    RegistryError
        When the file cannot be read, lacks required columns, or holds a
        ``是否报送`` other than 是/否/blank.
    """
    frame, problems = read_rows(path, schema=schema)
    if problems:
        raise RegistryError(problems)
    return frame


def _rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame if ROW in frame.columns else frame.with_columns(pl.lit(None, pl.Int64).alias(ROW))


def check_registry(frame: pl.DataFrame, *, schema: Schema | None = None) -> list[str]:
    """Return every fault of the registry as a Chinese sentence naming its row (empty if it is a proper tree).

    Checks: required fields, unique codes, known 层级 and 类别, exactly one root
    (层级 全国, no parent), every parent exists, no cycles. Rows are named
    when the frame has :data:`ROW` (as :func:`read_registry` gives it).
    """
    schema = schema or load_schema()
    frame = _rows(frame)
    problems: list[str] = []
    for col in schema.registry_columns:
        if col.required and col.key != "must_report":
            for row, code in frame.filter(pl.col(col.key).is_null()).select(ROW, "code").iter_rows():
                problems.append(f"{where(row, code)}：缺少“{col.name}”")
    dup = frame.filter(pl.col("code").is_not_null() & pl.col("code").is_duplicated())
    for (code,), group in dup.sort(ROW).group_by("code", maintain_order=True):
        rows = "、".join(where(r) for r in group[ROW].to_list())
        problems.append(f"单位代码“{code}”重复：{rows}")
    bad_level = frame.filter(pl.col("level").is_not_null() & ~pl.col("level").is_in(schema.levels))
    for row, code, level in bad_level.select(ROW, "code", "level").iter_rows():
        problems.append(f"{where(row, code)}：层级“{level}”无法识别，应为：{'、'.join(schema.levels)}")
    bad_cat = frame.filter(pl.col("category").is_not_null() & ~pl.col("category").is_in(schema.categories))
    for row, code, cat in bad_cat.select(ROW, "code", "category").iter_rows():
        problems.append(f"{where(row, code)}：类别“{cat}”无法识别，应为：{'、'.join(schema.categories)}")
    roots = frame.filter(pl.col("parent").is_null())
    if roots.height != 1:
        listed = "、".join(where(r, c) for r, c in roots.select(ROW, "code").head(10).iter_rows())
        problems.append(f"名册应有且只有一个根单位（全国，无上级单位），现有{roots.height}个：{listed}")
    codes = set(frame["code"].drop_nulls().to_list())
    orphans = frame.filter(pl.col("parent").is_not_null() & ~pl.col("parent").is_in(list(codes)))
    for row, code, parent in orphans.select(ROW, "code", "parent").iter_rows():
        problems.append(f"{where(row, code)}：上级单位“{parent}”不在名册中")
    problems.extend(_cycles(frame))
    return problems


def _cycles(frame: pl.DataFrame) -> list[str]:
    parent_of = dict(frame.select("code", "parent").drop_nulls("code").iter_rows())
    row_of = dict(frame.select("code", ROW).drop_nulls("code").iter_rows())
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
            rows = "、".join(where(row_of.get(c), c) for c in cycle)
            problems.append(f"上下级关系成环：{' → '.join([*cycle, node])}（{rows}）")
        for n in path:
            state[n] = 2
    return problems


def load_registry(path: str | Path, *, schema: Schema | None = None) -> pl.DataFrame:
    """Read and check a registry; raise :class:`RegistryError` listing every fault, each naming its row.

    Returns the registry frame without :data:`ROW`.
    """
    frame, problems = read_rows(path, schema=schema)
    problems += check_registry(frame, schema=schema)
    if problems:
        raise RegistryError(problems)
    return frame.drop(ROW)
