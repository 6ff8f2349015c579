"""Typed table layouts of an accepted return, derived from the schema.

One table per sheet key. Table sheets keep one row per source row; key/value
sheets (基本信息, 责任追究) become one wide row per return. Every table starts
with the identity columns below, then one column per schema column, named by
its English ``key``: text/enum/period as ``Utf8``, integer as ``Int64``, date
as ``Date``. The store's Parquet files and the roll-up use exactly these.
"""

from __future__ import annotations

import polars as pl

from jobs.core.schema import ColumnType, Schema, load_schema

IDENTITY: dict[str, pl.DataType] = {
    "submission_id": pl.Utf8(),
    "unit": pl.Utf8(),
    "period": pl.Utf8(),
}
ROW_COLUMN = "row"  # 1-based Excel row of a table sheet's source row

_POLARS_TYPE: dict[ColumnType, pl.DataType] = {
    "text": pl.Utf8(),
    "enum": pl.Utf8(),
    "period": pl.Utf8(),
    "integer": pl.Int64(),
    "date": pl.Date(),
}


def polars_type(column_type: ColumnType) -> pl.DataType:
    """The Polars dtype a schema column type is stored as."""
    return _POLARS_TYPE[column_type]


def table_schema(sheet_key: str, *, schema: Schema | None = None) -> dict[str, pl.DataType]:
    """Column names and dtypes of the stored table for ``sheet_key`` (e.g. ``ledger``)."""
    schema = schema or load_schema()
    sheet = schema.sheet(sheet_key)
    columns = dict(IDENTITY)
    if sheet.layout == "table":
        columns[ROW_COLUMN] = pl.Int32()
    for col in sheet.columns:
        columns[col.key] = polars_type(col.type)
    return columns


def empty_table(sheet_key: str, *, schema: Schema | None = None) -> pl.DataFrame:
    """An empty frame with the stored table's columns."""
    return pl.DataFrame(schema=table_schema(sheet_key, schema=schema))


def table_keys(*, schema: Schema | None = None) -> tuple[str, ...]:
    """Sheet keys in schema order: ``info, ledger, tasks, institutions, accountability, members``."""
    schema = schema or load_schema()
    return tuple(s.key for s in schema.sheets)
