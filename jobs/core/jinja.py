"""The one Jinja2 environment of the project, with all its filters.

Every HTML output (receipts, the summary report) renders through
:func:`environment`. Autoescape is always on: return content is untrusted.
Partials are named ``_*.html``.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from jobs.core.resources import TEMPLATE_DIR  # noqa: E402 - re-exported


def zh_number(value: object) -> str:
    """Thousands-separated integer; ``—`` for missing."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"  # type: ignore[call-overload]


def zh_percent(value: float | None, digits: int = 1) -> str:
    """A fraction in [0, 1] as a percent (``0.8765 -> 87.7%``); ``—`` where undefined."""
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f}%"


def zh_date(value: dt.date | dt.datetime | str | None) -> str:
    """``2015-02-28`` -> ``2015年2月28日``; datetimes keep hours and minutes."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    return f"{value.year}年{value.month}月{value.day}日"


def zh_period(period: str) -> str:
    """``2015-02`` -> ``2015年2月``."""
    year, month = period.split("-")
    return f"{int(year)}年{int(month)}月"


def zh_signed(value: float | None) -> str:
    """A change in a count with its sign (``+12``, ``-3``, ``0``); ``—`` where undefined."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:+,.2f}"
    return f"{int(value):+,}" if value else "0"


def zh_points(value: float | None, digits: int = 1) -> str:
    """A change between two fractions in percentage points (``0.012 -> +1.2个百分点``)."""
    if value is None:
        return "—"
    points = round(value * 100, digits)
    if points == 0:
        return "持平"
    return f"{points:+.{digits}f}个百分点"


_DIGITS = "零一二三四五六七八九"


def zh_numeral(value: int) -> str:
    """Chinese numeral for section numbers 1-99 (``7 -> 七``, ``12 -> 十二``, ``20 -> 二十``)."""
    n = int(value)
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


FILTERS = {
    "zh_numeral": zh_numeral,
    "zh_signed": zh_signed,
    "zh_points": zh_points,
    "zh_number": zh_number,
    "zh_percent": zh_percent,
    "zh_date": zh_date,
    "zh_period": zh_period,
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared environment: templates from ``templates/``, autoescape on, strict undefined."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env
