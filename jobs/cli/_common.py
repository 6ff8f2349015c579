"""Options and helpers every command that works on an office home shares.

``--home`` (:func:`home_option`), ``--period`` (:func:`period_option`),
:func:`open_home` and :func:`fail` (a known error as a clean CLI failure).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from jobs.core.errors import RectifyError
from jobs.office.home import DEFAULT_HOME, ENV_HOME, Home, HomeError, check_period


def home_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--home DIR`` (env ``RECTIFY_HOME``, default ``./rectify-data``)."""
    return click.option(
        "--home",
        "home",
        envvar=ENV_HOME,
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"办公室数据目录（环境变量 {ENV_HOME}；默认 ./{DEFAULT_HOME}）。",
    )(func)


def period_callback(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_period(value)
    except HomeError as exc:
        raise click.BadParameter(str(exc)) from None


def period_option(*, required: bool = True) -> Callable[..., Any]:
    """``--period YYYY-MM``, checked."""
    return click.option(
        "--period", required=required, callback=period_callback, metavar="YYYY-MM", help="报送期，格式 YYYY-MM，例如 2015-02。"
    )


def open_home(home: Path | None) -> Home:
    """Open the home or fail with the Chinese hint to run ``rectify init`` or what is wrong in its config."""
    try:
        return Home.open(home)
    except RectifyError as exc:  # HomeError, ConfigError
        raise click.ClickException(str(exc)) from None


def fail(exc: Exception) -> click.ClickException:
    """A known error as a clean CLI failure (Chinese message, no traceback)."""
    return click.ClickException(str(exc))
