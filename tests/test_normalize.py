"""normalize: date and integer spellings; scalar and Polars versions agree."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_series_equal

from jobs.core import normalize
from jobs.core.normalize import (
    EARLIEST,
    LATEST,
    clean_expr,
    date_expr,
    int_expr,
    parse_date,
    parse_int,
)
from jobs.core.text import clean_text, fold_key

FUZZ = settings(max_examples=200, deadline=None)
D = dt.date(2015, 1, 15)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("42019", D),
        ("42019.0", D),
        ("42019.75", D),  # a serial with a time of day
        ("2015-01-15", D),
        ("2015-1-5", dt.date(2015, 1, 5)),
        ("2015/1/15", D),
        ("2015.1.15", D),
        ("2015年1月15日", D),
        ("2015年1月15", D),
        ("2015-01-15 00:00:00", D),
        ("2015-01-15 13:30:00", D),
        ("2015-01-15T08:00", D),
        ("２０１５－０１－１５", D),
        ("２０１５年１月１５日", D),
        (" 2015 年 1 月 15 日 ", D),
        ("2015 - 01 - 15", D),
        ("\u30002015/1/15\u3000", D),
        ("20150115", D),
        ("2015-02-30", None),
        ("2015-13-01", None),
        ("0215-01-15", None),  # outside the window
        ("12", None),  # a count is not a date
        ("99999", None),  # serial beyond 2100
        ("2015-01", None),
        ("2015年1月", None),
        ("15/1/2015", None),
        ("明天", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date_spellings(text, want):
    assert parse_date(text) == want
    got = pl.DataFrame({"x": [text]}, schema={"x": pl.Utf8}).select(date_expr("x"))["x"]
    assert got.to_list() == [want]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("12", 12),
        ("１２", 12),
        ("12.0", 12),
        ("12.00", 12),
        ("1,234", 1234),
        ("1,234,567", 1234567),
        ("１，２３４", 1234),
        (" 12 ", 12),
        ("+7", 7),
        ("0", 0),
        ("-3", -3),  # kept: the validator says "应为非负整数"
        ("12.5", None),
        ("1,23", None),
        ("12,", None),
        ("1e3", None),
        ("12人", None),
        ("十二", None),
        ("١٢", None),  # other digit scripts are not accepted
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_int_spellings(text, want):
    assert parse_int(text) == want
    got = pl.DataFrame({"x": [text]}, schema={"x": pl.Utf8}).select(int_expr("x"))["x"]
    assert got.to_list() == [want]


def test_whitespace_table_matches_python():
    pattern = re.compile(normalize._WS)
    assert {cp for cp in range(0x110000) if pattern.match(chr(cp))} == set(normalize.WS_CODEPOINTS)


def test_expressions_keep_column_name_and_dtype():
    frame = pl.DataFrame({"a": ["2015-01-15", None], "b": ["1", "x"]})
    out = frame.with_columns(date_expr("a"), int_expr(pl.col("b")))
    assert out.schema == pl.Schema({"a": pl.Date, "b": pl.Int64})


# --- property tests -------------------------------------------------------

FULL_WIDTH = str.maketrans("0123456789-/.", "０１２３４５６７８９－／．")
SPACES = st.sampled_from(["", " ", "\u3000", "\u00a0", "\t"])


@st.composite
def date_spellings(draw) -> tuple[dt.date, str]:
    day = draw(st.dates(min_value=EARLIEST, max_value=LATEST))
    style = draw(st.sampled_from(["-", "/", ".", "年", "compact", "serial", "excel"]))
    pad = draw(st.booleans())
    m, d = (f"{day.month:02d}", f"{day.day:02d}") if pad else (str(day.month), str(day.day))
    if style == "serial":
        serial = (day - dt.date(1899, 12, 30)).days
        text = str(serial) + draw(st.sampled_from(["", ".0", ".5"]))
    elif style == "compact":
        text = f"{day.year}{day.month:02d}{day.day:02d}"
    elif style == "excel":
        text = f"{day.isoformat()} {draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:00"
    elif style == "年":
        s = draw(SPACES)
        text = f"{day.year}{s}年{s}{m}{s}月{s}{d}{draw(st.sampled_from(['日', '']))}"
    else:
        s = draw(SPACES)
        text = f"{day.year}{s}{style}{s}{m}{s}{style}{s}{d}"
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return day, draw(SPACES) + text + draw(SPACES)


@FUZZ
@given(st.lists(date_spellings(), min_size=1, max_size=20))
def test_every_date_spelling_parses_both_ways(cases):
    days = [c[0] for c in cases]
    texts = [c[1] for c in cases]
    assert [parse_date(t) for t in texts] == days
    got = pl.DataFrame({"x": texts}).select(date_expr("x"))["x"]
    assert_series_equal(got, pl.Series("x", days, dtype=pl.Date))


@st.composite
def int_spellings(draw) -> tuple[int, str]:
    number = draw(st.integers(min_value=-(10**12), max_value=10**12))
    text = f"{abs(number):,}" if draw(st.booleans()) else str(abs(number))
    sign = "-" if number < 0 else draw(st.sampled_from(["", "+"]))
    text = sign + text + draw(st.sampled_from(["", ".0", ".000"]))
    if draw(st.booleans()):
        text = text.translate(str.maketrans("0123456789,", "０１２３４５６７８９，"))
    return number, draw(SPACES) + text + draw(SPACES)


@FUZZ
@given(st.lists(int_spellings(), min_size=1, max_size=20))
def test_every_int_spelling_parses_both_ways(cases):
    numbers = [c[0] for c in cases]
    texts = [c[1] for c in cases]
    assert [parse_int(t) for t in texts] == numbers
    got = pl.DataFrame({"x": texts}).select(int_expr("x"))["x"]
    assert got.to_list() == numbers


# Text near the accepted spellings, so the agreement check is not all misses.
NEAR = st.text(alphabet="0123456789０１２３-/.,年月日 :T+\u3000e", max_size=24)


@FUZZ
@given(st.lists(st.one_of(st.none(), NEAR, st.text(max_size=12)), max_size=30))
def test_scalar_and_vectorised_agree_on_any_text(texts):
    frame = pl.DataFrame({"x": texts}, schema={"x": pl.Utf8})
    assert frame.select(date_expr("x"))["x"].to_list() == [parse_date(t) for t in texts]
    assert frame.select(int_expr("x"))["x"].to_list() == [parse_int(t) for t in texts]
    assert frame.select(clean_expr("x"))["x"].to_list() == [clean_text(t) for t in texts]


# Text near a real Excel date cell read as text ("2015-01-15 00:00:00").
MIDNIGHTISH = st.builds(
    lambda a, b, c: a + b + c,
    st.sampled_from(["", " ", "\u3000", "x"]),
    st.sampled_from(["2015-01-15 00:00:00", "2015-1-15 00:00:00", "2015-01-15 00:00:01", "2015-01-15  00:00:00",
                     "２015-01-15 00:00:00", "abcd-ef-gh 00:00:00", "2015-01-15T00:00:00", "2015-01-15"]),
    st.sampled_from(["", " ", "\t", "0"]),
)


@FUZZ
@given(st.lists(st.one_of(st.none(), MIDNIGHTISH, NEAR, st.text(max_size=12)), max_size=30))
def test_clean_cell_and_its_expression_agree(texts):
    frame = pl.DataFrame({"x": texts}, schema={"x": pl.Utf8})
    assert frame.select(normalize.clean_cell_expr("x"))["x"].to_list() == [normalize.clean_cell(t) for t in texts]


HEADERS = ["序号", "见人", "见思想", "约谈提醒（人次）", "整改台账", "项目"]
HALF = str.maketrans("（）", "()")


@FUZZ
@given(st.sampled_from(HEADERS), st.lists(SPACES, min_size=8, max_size=8), st.booleans())
def test_header_variants_fold_to_the_schema_name(header, spaces, half_width_brackets):
    text = header.translate(HALF) if half_width_brackets else header
    chars = list(text)
    noisy = spaces[0] + "".join(c + spaces[(i + 1) % 8] for i, c in enumerate(chars))
    assert fold_key(noisy) == fold_key(header)
    cleaned = clean_text(noisy)
    assert cleaned is None or fold_key(cleaned) == fold_key(header)
