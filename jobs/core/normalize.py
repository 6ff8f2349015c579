"""Clean cell text, and parse it into dates and integers, one value or a whole column.

The reader cleans every cell with :func:`clean_cell` / :func:`clean_column`
(``jobs.core.text.clean_text`` plus: a real Excel date cell, which fastexcel renders
``2015-01-15 00:00:00``, becomes ``2015-01-15``); this module then decides
what counts as a date or a whole number. The scalar functions
(:func:`parse_date`, :func:`parse_int`, ``clean_text``) and the Polars
expressions (:func:`date_expr`, :func:`int_expr`, :func:`clean_expr`) accept
exactly the same spellings; property tests hold them to that.

Accepted dates
    ``2015-01-15``, ``2015-1-5``, ``2015/1/15``, ``2015.1.15``,
    ``2015年1月15日``, ``20150115``, any of these followed by a time
    (``2015-01-15 00:00:00``, the way fastexcel renders a real Excel date cell
    read as text), and Excel serial day numbers (``42019``, ``42019.0``,
    ``42019.5``; 1900 date system). Full-width digits and punctuation are
    folded (NFKC), stray spaces around separators ignored. Only dates between
    :data:`EARLIEST` and :data:`LATEST` are accepted, so a count like ``12``
    or a typo like ``0215-01-15`` is never taken for a date.

Accepted integers
    ``12``, ``１２``, ``+12``, ``-3``, ``12.0``, ``1,234`` (thousands groups
    of exactly three), surrounding spaces. Fractions (``12.5``), exponents,
    units (``12人``) and values outside the Int64 range give ``None``.
    Negative numbers are returned as negative ints: the validator reports both
    unparseable values and negatives as ``bad-number`` (“应为非负整数”), and
    keeping the sign lets it tell which.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import polars as pl

from jobs.core.text import clean_text

EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2100, 12, 31)

# Excel's 1900 system counts days from 1899-12-30 (its fictitious 1900-02-29
# only matters before March 1900, far outside the accepted window).
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)

# Same whitespace set as jobs.core.text.clean_text; spelled out as an explicit
# class because Python's and Rust's ``\s`` differ at the edges.
_WS = r"[\s\u3000\u00a0\u200b\ufeff]"
# Every code point Python's ``_WS`` matches (tests check the two agree).
WS_CODEPOINTS = (
    0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
    *range(0x2000, 0x200C), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF,
)
_WS_RUST = "[" + "".join(f"\\x{{{cp:x}}}" for cp in WS_CODEPOINTS) + "]"

# ``[0-9]`` rather than ``\d``: both regex engines treat ``\d`` as any
# Unicode digit, and int("١٢") would then disagree with the Polars cast.
# One pattern with named alternatives, so the Polars path scans each value once.
_TIME = r"(?:(?:T|{ws}+)[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}}(?:\.[0-9]+)?)?)?"
_DATE = (
    r"^(?:(?P<y>[0-9]{{4}}){ws}*[-/.年]{ws}*(?P<m>[0-9]{{1,2}}){ws}*[-/.月]{ws}*(?P<d>[0-9]{{1,2}}){ws}*日?"
    + _TIME
    + r"|(?P<cy>[0-9]{{4}})(?P<cm>[0-9]{{2}})(?P<cd>[0-9]{{2}})"
    + r"|(?P<serial>[0-9]{{5}})(?:\.[0-9]+)?)$"
)
_INT = r"^(?P<sign>[+-]?)(?P<digits>[0-9]+|[0-9]{{1,3}}(?:,[0-9]{{3}})+)(?:\.0+)?$"

_DATE_PY = re.compile(_DATE.format(ws=_WS))
_INT_PY = re.compile(_INT.format(ws=_WS))
_DATE_RS = _DATE.format(ws=_WS_RUST)
_INT_RS = _INT.format(ws=_WS_RUST)
_STRIP_PY = re.compile(rf"^{_WS}+|{_WS}+$")
_WS_CHARS = "".join(chr(cp) for cp in WS_CODEPOINTS)


# A real Excel date cell read as text: "2015-01-15 00:00:00". Midnight adds
# nothing, and the bare date is what the clerk sees in Excel.
_MIDNIGHT = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) 00:00:00$")


def clean_cell(value: str | None) -> str | None:
    """:func:`jobs.core.text.clean_text` for one cell, with a fast path for ordinary text.

    ``str.isprintable`` is False for every character ``clean_text`` treats as
    space except the ASCII space itself, so printable text without double
    spaces only needs its ends trimmed. A real Excel date cell
    (``2015-01-15 00:00:00``) is shortened to the date the clerk sees.
    """
    if value is None:
        return None
    if value.isprintable() and "  " not in value:
        value = value.strip(" ")
    else:
        value = clean_text(value)
        if value is None:
            return None
    if len(value) == 19 and value.endswith(" 00:00:00") and _MIDNIGHT.match(value):
        return value[:10]
    return value or None


def clean_column(values: list[str | None]) -> list[str | None]:
    """``clean_cell`` over a column; returns ``values`` itself when nothing changes.

    Most columns need no cleaning, and one check on the tab-joined column (tab
    is not printable, so it cannot hide inside a printable value) decides that
    at C speed instead of a Python call per cell.
    """
    texts = list(filter(None, values))
    joined = "\t".join(texts)
    if (
        "".join(texts).isprintable()
        and "" not in values
        and "  " not in joined
        and " \t" not in joined
        and "\t " not in joined
        and not joined.startswith(" ")
        and not joined.endswith(" ")
        and " 00:00:00" not in joined
    ):
        return values
    return [clean_cell(v) for v in values]


def _fold(text: str) -> str:
    return _STRIP_PY.sub("", unicodedata.normalize("NFKC", text))


def _in_window(value: dt.date) -> dt.date | None:
    return value if EARLIEST <= value <= LATEST else None


def parse_date(text: str | None) -> dt.date | None:
    """Parse a cell's text as a date; ``None`` when it is not one.

    Parameters
    ----------
    text
        Cleaned cell text (any spelling listed in the module docstring).

    Returns
    -------
    datetime.date | None
        The date, or ``None`` for empty, unparseable or out-of-window values.
    """
    if text is None:
        return None
    match = _DATE_PY.match(_fold(str(text)))
    if match is None:
        return None
    if match["serial"] is not None:
        return _in_window(_EXCEL_EPOCH + dt.timedelta(days=int(match["serial"])))
    y, m, d = (match["y"], match["m"], match["d"]) if match["y"] else (match["cy"], match["cm"], match["cd"])
    try:
        return _in_window(dt.date(int(y), int(m), int(d)))
    except ValueError:
        return None


def parse_int(text: str | None) -> int | None:
    """Parse a cell's text as a whole number; ``None`` when it is not one.

    Parameters
    ----------
    text
        Cleaned cell text: ``12``, ``１２``, ``12.0``, ``1,234``, ``-3`` ...

    Returns
    -------
    int | None
        The number (negatives kept, see the module docstring), or ``None``.
    """
    if text is None:
        return None
    match = _INT_PY.match(_fold(str(text)))
    if not match:
        return None
    number = int(match["digits"].replace(",", ""))
    number = -number if match["sign"] == "-" else number
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def clean_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised :func:`jobs.core.text.clean_text`: collapse and trim spaces, empty to null.

    Parameters
    ----------
    col
        Column name or expression (Utf8).

    Returns
    -------
    pl.Expr
        Cleaned text, null where :func:`~jobs.core.text.clean_text` gives ``None``.
    """
    expr = pl.col(col) if isinstance(col, str) else col
    # each reference to a sub-expression is evaluated again: the text is named once
    return _named(expr.str.replace_all(_WS_RUST + "+", " ").str.strip_chars(" ").replace("", None), col)


def clean_cell_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised :func:`clean_cell`: :func:`clean_expr`, and a real Excel date cell shortened to its date."""
    return _named(clean_expr(col).map_batches(_shorten_midnight, return_dtype=pl.Utf8, is_elementwise=True), col)


def _shorten_midnight(text: pl.Series) -> pl.Series:
    # A Series function: the cleaned text is computed once, not once per branch.
    # The pattern spans the whole value and its group is the first ten characters:
    # a match test and a slice give the replace's result at a tenth of its cost.
    midnight = text.str.contains(_MIDNIGHT.pattern).fill_null(False)
    if not midnight.any():
        return text
    return text.zip_with(~midnight, text.str.slice(0, 10))


def _folded(col: str | pl.Expr) -> pl.Expr:
    expr = pl.col(col) if isinstance(col, str) else col
    return expr.cast(pl.Utf8).str.normalize("NFKC").str.strip_chars(_WS_CHARS)


def _named(expr: pl.Expr, col: str | pl.Expr) -> pl.Expr:
    # Keep the input's column name so ``with_columns(int_expr("x"))`` replaces x.
    if isinstance(col, str):
        return expr.alias(col)
    try:
        return expr.alias(col.meta.output_name())
    except pl.exceptions.ComputeError:
        return expr


def _dates(text: pl.Series) -> pl.Series:
    # A Series function (run through map_batches) so the regex scan is
    # materialised once; as one expression tree Polars re-ran it per field.
    parts = text.str.extract_groups(_DATE_RS).struct.unnest()
    ymd = parts.select(
        pl.concat_str(
            [
                pl.coalesce("y", "cy"),
                pl.coalesce("m", "cm").str.zfill(2),
                pl.coalesce("d", "cd").str.zfill(2),
            ],
            separator="-",
        ).str.to_date("%Y-%m-%d", strict=False)
    ).to_series()
    serial = parts["serial"].cast(pl.Int64, strict=False)
    from_serial = pl.select((pl.lit(_EXCEL_EPOCH) + pl.duration(days=serial)).cast(pl.Date)).to_series()
    out = ymd.fill_null(from_serial)
    return out.set((out < EARLIEST) | (out > LATEST), None).rename(text.name)


def _ints(text: pl.Series) -> pl.Series:
    parts = text.str.extract_groups(_INT_RS).struct.unnest()
    digits = parts["digits"].str.replace_all(",", "", literal=True)
    signed = pl.select(pl.concat_str([pl.when(parts["sign"] == "-").then(pl.lit("-")).otherwise(pl.lit("")), digits]))
    return signed.to_series().cast(pl.Int64, strict=False).rename(text.name)


def date_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised :func:`parse_date`: a Utf8 column to a ``pl.Date`` column.

    Parameters
    ----------
    col
        Column name or expression of cleaned text.

    Returns
    -------
    pl.Expr
        Dates, null where :func:`parse_date` would give ``None``.
    """
    return _named(_folded(col).map_batches(_dates, return_dtype=pl.Date, is_elementwise=True), col)


def int_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised :func:`parse_int`: a Utf8 column to an ``Int64`` column.

    Parameters
    ----------
    col
        Column name or expression of cleaned text.

    Returns
    -------
    pl.Expr
        Whole numbers, null where :func:`parse_int` would give ``None``.
    """
    return _named(_folded(col).map_batches(_ints, return_dtype=pl.Int64, is_elementwise=True), col)
