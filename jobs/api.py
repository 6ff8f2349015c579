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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from jobs.intake.batch import IngestResult
    from jobs.intake.executors import Executor
    from jobs.intake.progress import Progress
    from jobs.intake.recheck import RecheckResult
    from jobs.intake.repair import RepairResult
    from jobs.office.config import Limits
    from jobs.office.home import Home
    from jobs.report.circular import CircularFiles
    from jobs.report.pipeline import Format, ReportFiles
    from jobs.report.supervise import SupervisionFiles
    from jobs.rollup.summary import Summary
    from jobs.store.history import Action, Change, Version
    from jobs.store.integrity import Problem
    from jobs.store.publication import Publication
    from jobs.validate import ValidatedReturn

__all__ = [
    "RunResult", "SummaryResult", "check_store", "circular", "history", "ingest", "publications", "publish",
    "recheck", "repair_store", "report", "restore", "run_month", "summarize", "supervise", "validate_files",
    "withdraw",
]  # fmt: skip


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
    # ``published_at``, ``revision``, ``received_after_publish`` (None, 0, [] when unpublished)
    published: dict[str, Any] = field(default_factory=dict)


def summarize(home: Home, *, period: str, include: Sequence[Path] = ()) -> SummaryResult:
    """Roll the period's counted returns up the registry tree and save the result (``rectify summarize``).

    ``include`` folds in lower offices' 汇总 return files. Earlier periods'
    saved summaries are read for the month-over-month comparison (summarised
    once if missing), so the cost does not grow with the months of history.
    A published period shows its latest publication's figures (:func:`publish`).
    """
    from jobs.rollup.period import load_period
    from jobs.rollup.published import publication_json
    from jobs.rollup.run import month_end

    result = month_end(load_period(home, period, include=include))
    return SummaryResult(summary=result.summary, files=result.save(),
                         published=publication_json(result.view.publication, result.view.late))  # fmt: skip


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


def circular(
    home: Home, *, period: str, number: int | None = None, out_dir: Path | None = None
) -> CircularFiles:
    """Write the period's 通报 as Word and HTML (``rectify circular``); saves the period's summary.

    ``number``: the 发文字号's number (default: the period's month).
    """
    from jobs.report.circular import make_circular

    return make_circular(home, period=period, number=number, out_dir=out_dir)


def supervise(home: Home, *, period: str, out_dir: Path | None = None) -> SupervisionFiles:
    """Write one 督办通知单 per unit on the period's graded list and record its items (``rectify supervise``).

    Each item gets a new deadline (``[accountability] supervision_days``); later
    month-ends track it (``supervised_items``, ``supervised_resolved``, ``supervised_overdue``).
    """
    from jobs.report.supervise import make_supervision

    return make_supervision(home, period=period, out_dir=out_dir)


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


def history(home: Home, *, period: str, unit: str) -> list[Version]:
    """Every version of ``unit``'s returns received for ``period`` (本级 and 汇总), oldest first (``rectify history``).

    Each :class:`jobs.store.history.Version` says whether it counts now and
    why (``state``, ``label``: 当前有效 / 已被第N版替代 / 已撤回 / 退回) and
    carries its withdrawals and restores.
    """
    return home.store.versions(period, unit)


def withdraw(home: Home, *, period: str, unit: str, version: int, reason: str, by: str | None = None) -> Change:
    """Withdraw a version from counting (``rectify withdraw``); the latest earlier accepted, not-withdrawn one counts.

    Recorded with ``reason``, ``by`` (default: the OS user) and the time in the
    ledger's append-only events; nothing is deleted. Holds the home's lock.

    Raises
    ------
    jobs.store.history.HistoryError
        No such version, a rejected version, already withdrawn, or no reason.
    """
    return _change(home, "withdraw", period=period, unit=unit, version=version, reason=reason, by=by)


def restore(home: Home, *, period: str, unit: str, version: int, reason: str, by: str | None = None) -> Change:
    """Undo a withdrawal (``rectify restore``): the version counts again unless a later accepted one counts.

    Raises
    ------
    jobs.store.history.HistoryError
        No such version, a rejected version (it can never count), not withdrawn, or no reason.
    """
    return _change(home, "restore", period=period, unit=unit, version=version, reason=reason, by=by)


def publish(
    home: Home, *, period: str, by: str | None = None, note: str = "", revise: bool = False, reason: str | None = None
) -> Publication:
    """Publish the period (``rectify publish``): freeze which version of each return counts, with the summary.

    From then on :func:`summarize`, :func:`report`, ``status`` and the 汇总
    export show the published figures; returns received later are stored and
    receipted as usual and listed as received after publication. ``revise``
    (with ``reason``) publishes again with everything recorded since; every
    publication is kept. Holds the home's lock.

    Raises
    ------
    jobs.store.publication.PublicationError
        Already published (use ``revise``), not yet published (``revise``), or a revision without a reason.
    """
    from jobs.rollup.publishing import publish_period

    return publish_period(home, period=period, by=by or _user(), note=note, revise=revise, reason=reason)


def publications(home: Home, *, period: str) -> list[Publication]:
    """Every publication of the period, first revision first (who, when, why, registry version, the summary)."""
    return home.store.publications(period)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's anonymous uid)
        return "未知用户"


def _change(home: Home, action: Action, *, period: str, unit: str, version: int, reason: str, by: str | None) -> Change:
    by = by or _user()
    with home.lock(holder=f"rectify {action}"):
        return home.store.change(action=action, period=period, unit=unit, version=version, reason=reason, by=by,
                                 at=home.now())  # fmt: skip


def recheck(home: Home, *, period: str, unit: str, version: int, reason: str, by: str | None = None) -> RecheckResult:
    """Judge a recorded version's archived original again, on purpose (``rectify recheck``).

    For a return rejected by the office's own mistake (the registry lacked the
    unit, a threshold was wrong) once that is fixed: the same file, read from
    the archive, goes through the intake's pipeline with the registry and
    config in force now and is recorded as a new version of the unit (its
    arrival time unchanged), with ``reason``, ``by`` and the time kept in the
    ledger; its receipt is written. Nothing is deleted; :func:`history` shows
    both versions. A plain re-send of the file stays a duplicate.

    Raises
    ------
    jobs.intake.recheck.RecheckError
        No such version, or no reason.
    """
    from jobs.intake.recheck import recheck_version

    return recheck_version(home, period=period, unit=unit, version=version, reason=reason, by=by or _user())


def check_store(home: Home) -> list[Problem]:
    """Every damage of the home's store (``rectify store check``); empty when the store is whole.

    Checks the ledger (``PRAGMA integrity_check``), every Parquet part (there,
    its recorded size, rows and SHA-256) and every archived original (there,
    its SHA-256). Parts of batches recorded before the ledger listed its
    parts are recorded once they read back whole.
    """
    from jobs.intake.repair import check

    return check(home)


def repair_store(home: Home, *, everything: bool = False) -> RepairResult:
    """Rebuild damaged Parquet parts from the archived originals (``rectify store repair``).

    The originals are re-read and re-validated by the intake's pipeline; the
    ledger's verdicts are kept. Under the home's lock, swapped in by one
    ledger transaction: a kill leaves the old parts or the new. ``everything``
    rebuilds every batch, damaged or not.
    """
    from jobs.intake.repair import repair

    return repair(home, everything=everything)
