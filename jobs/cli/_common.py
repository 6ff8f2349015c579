"""Options and helpers every command that works on an office home shares.

``--home`` (:func:`home_option`), ``--period`` (:func:`period_option`),
:func:`open_home` and :func:`fail` / :func:`as_failure` (a known error, or an
environment failure — disk full, read-only home, damaged store — as a clean
Chinese CLI failure naming the file and what to do; the ``rectify`` group
applies :func:`as_failure` to whatever a command lets escape).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from jobs.core.errors import RectifyError, known_error
from jobs.office.home import DEFAULT_HOME, ENV_HOME, Home, HomeError, check_period
from jobs.office.registry import RegistryError


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
    return as_failure(exc) or click.ClickException(str(exc))


def as_failure(exc: BaseException) -> click.ClickException | None:
    """The clean CLI failure for ``exc``, or ``None`` for an unexpected one (a bug keeps its traceback).

    The project's errors keep their message; ``OSError``, SQLite and Polars
    errors are mapped by :func:`jobs.core.errors.known_error`, the one place
    that knows them.
    """
    if isinstance(exc, RegistryError):
        return click.ClickException(str(exc))
    known = known_error(exc)
    return None if known is None else click.ClickException(str(known))
