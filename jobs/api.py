"""The public entry points: one typed function per thing the office runs.

The command line (:mod:`jobs.cli`) is a thin layer over these, and a script or
a notebook of the office calls them the same way::

    from jobs import api
    from jobs.office.home import Home

    home = Home.open("rectify-data")
    api.ingest(home, ["inbox/"], period="2015-02")
    api.summarize(home, period="2015-02")
    api.report(home, period="2015-02", formats=("html", "xlsx"))

The stages behind them, in pipeline order: :mod:`jobs.intake` (discover,
preflight, read, batch, parallel), :mod:`jobs.validate`, :mod:`jobs.store`,
:mod:`jobs.rollup` (period view, coverage, summary, status) and
:mod:`jobs.report`. Each function imports its stage when called, so a command
that needs only one stage (``rectify status``, ``--help``) never loads GX or
the report's chart libraries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from jobs.intake.batch import IngestResult
    from jobs.intake.executors import Executor
    from jobs.intake.progress import Progress
    from jobs.office.config import Limits
    from jobs.office.home import Home
    from jobs.report.pipeline import Format, ReportFiles
    from jobs.rollup.summary import Summary
    from jobs.validate import ValidatedReturn

__all__ = ["RunResult", "SummaryResult", "ingest", "report", "run_month", "summarize", "validate_files"]


def validate_files(
    paths: Iterable[str | Path],
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    received_at: Mapping[Path, dt.datetime] | None = None,
    limits: Limits | None = None,
    keep_tables: bool = True,
    home: Home | None = None,
) -> list[ValidatedReturn]:
    """Validate files without storing anything (``rectify validate``).

    Parameters
    ----------
    paths
        Received files (folders are not walked here; see :func:`jobs.intake.discover.expand_paths`).
    registry, period
        The unit registry and the period being collected; ``None`` skips the checks that need them.
    received_at
        Arrival time per file; default its modification time in the office's zone.
    limits
        The office's ``[limits]``; default the built-in ones (the same defaults as ``config.toml``).
    keep_tables
        False leaves each verdict's ``tables`` empty (a verdict is all ``rectify validate`` prints).
    home
        The office's home: each return is then also read against its unit's
        earlier returns in the store (the history stage, ``[history]`` settings),
        as ``ingest`` reads it. Without a home (or a period) there is no history.

    Returns
    -------
    list[ValidatedReturn]
        One verdict per path, in order, cross-unit copies among these files included.
    """
    from jobs.core.schema import load_schema
    from jobs.validate import validate_files as validate
    from jobs.validate.lifecycle import load_earlier
    from jobs.validate.peers import load_peers

    earlier = rules = peers = None
    if home is not None and period is not None:
        kind = load_schema().default_report_type
        earlier = load_earlier(home.store, period, report_type=kind)
        rules = home.config.history
        if registry is not None:
            peers = load_peers(home.store, period, registry=registry, report_type=kind)
    return validate(paths, registry=registry, period=period, received_at=received_at, limits=limits,
                    keep_tables=keep_tables, earlier=earlier, rules=rules, peers=peers)


def ingest(
    home: Home,
    paths: Iterable[str | Path],
    *,
    period: str,
    received_at: dt.datetime | None = None,
    batch_size: int | None = None,
    receipts: bool = True,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Archive, validate and record received files, and write each unit's receipt (``rectify ingest``).

    Idempotent: a file already recorded for the period changes nothing. Holds
    the home's lock while it writes; ``executor`` validates batches in parallel
    (process pool or Ray) with the same results as in this process.
    """
    from jobs.intake.parallel import ingest_paths

    return ingest_paths(home, paths, period=period, received_at=received_at, batch_size=batch_size,
                        receipts=receipts, executor=executor, progress=progress)  # fmt: skip


@dataclass(frozen=True)
class SummaryResult:
    """A period's summary and the files it was saved to (``<home>/summaries/<period>/``)."""

    summary: Summary
    files: dict[str, Path]


def summarize(home: Home, *, period: str, include: Sequence[Path] = ()) -> SummaryResult:
    """Roll the period's counted returns up the registry tree and save the result (``rectify summarize``).

    ``include`` folds in lower offices' 汇总 return files. Earlier periods'
    saved summaries are read for the month-over-month comparison (summarised
    once if missing), so the cost does not grow with the months of history.
    """
    from jobs.rollup.period import load_period
    from jobs.rollup.run import month_end

    result = month_end(load_period(home, period, include=include))
    return SummaryResult(summary=result.summary, files=result.save())


def report(
    home: Home,
    *,
    period: str,
    unit: str | None = None,
    out_dir: Path | None = None,
    formats: Sequence[Format] = ("html", "xlsx"),
    include: Sequence[Path] = (),
    progress: Callable[[str], None] | None = None,
    write_summary: bool = False,
) -> ReportFiles:
    """Write the summary report of the nation, or of ``unit``'s subtree (``rectify report``).

    ``formats``: any of ``html``, ``xlsx``, ``docx``, ``pdf``, ``png``.
    ``write_summary`` also saves the roll-up's outputs, as :func:`summarize` does.
    """
    from jobs.report.pipeline import make_report

    return make_report(home, period=period, unit=unit, out_dir=out_dir, formats=tuple(formats),
                       progress=progress, write_summary=write_summary, include=include)  # fmt: skip


@dataclass(frozen=True)
class RunResult:
    """What the monthly run did: the intake (None without an inbox) and the report files."""

    intake: IngestResult | None
    files: ReportFiles


def run_month(
    home: Home,
    *,
    period: str,
    inbox: Path | None = None,
    out_dir: Path | None = None,
    formats: Sequence[Format] = ("html", "xlsx"),
    include: Sequence[Path] = (),
    executor: Executor | None = None,
    intake_progress: Progress | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """The month (``rectify run``): ingest what is new in ``inbox`` (if given), summarize, write the report.

    Intake is idempotent, so the run can be repeated as more returns arrive.
    ``executor``/``intake_progress`` are the intake's; ``progress`` receives a
    Chinese line per report step. The roll-up's outputs are saved to
    ``<home>/summaries/<period>/`` as :func:`summarize` does.
    """
    from jobs.intake.parallel import ingest_paths

    intake = None
    if inbox is not None:
        intake = ingest_paths(home, [inbox], period=period, holder="rectify run", executor=executor,
                              progress=intake_progress)  # fmt: skip
    files = report(home, period=period, out_dir=out_dir, formats=formats, include=include, progress=progress,
                   write_summary=True)  # fmt: skip
    return RunResult(intake=intake, files=files)
