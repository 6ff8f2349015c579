"""Month-end roll-up of an office home: summarize a period once, save it, read earlier periods from what was saved.

Each period's summary is saved under ``<home>/summaries/<period>/`` with a
fingerprint of what it was computed from (``source.json``: the period's
submissions, registry version, deadline, thresholds, and the fingerprint of
the earlier period it read). Month-over-month, the trend and rebound read the
saved summaries of earlier periods; an earlier period is summarized again
only when its saved summary is missing or stale, so a month's cost does not
grow with the months of history.

A save is one unit, written under the home's lock: the files go to a new
hidden folder ``<home>/summaries/.<period>.<token>/`` and ``<period>`` is a
link switched to it by one rename, so a kill at any moment leaves the old
outputs or the new ones, never a mix; a reader resolves the link once
(:func:`_saved`) and reads one version throughout. The version before stays
for such a reader; older ones and those of killed saves go at the next save.

``rectify summarize``, ``report`` and ``run`` call :func:`month_end`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from jobs.core.files import atomic_write
from jobs.core.schema import load_schema
from jobs.rollup import crossperiod
from jobs.rollup.period import PeriodView, SummaryReturnRejected, load_period
from jobs.rollup.published import freeze
from jobs.rollup.summary import Summary, summarize
from jobs.rollup.vocab import load_vocab

if TYPE_CHECKING:
    from jobs.office.home import Home
    from jobs.store.publication import Publication

__all__ = ["MonthEnd", "Saved", "SummaryReturnRejected", "month_end", "summarize_home", "write_outputs"]

OUTPUT_DIR = "summaries"
SAVED_FORMAT = 2  # bump when what a saved summary holds changes: older ones are recomputed
FRAMES = ("nodes", "by_category", "attention", "rebound", "overdue", "mom", "ineligible", "supervised")
CLOSED = "closed.parquet"  # every item closed up to the period (rebound of later periods)
SOURCE = "source.json"


def previous_period(period: str) -> str:
    """``2015-01`` for ``2015-02``; ``2014-12`` for ``2015-01``."""
    year, month = (int(p) for p in period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def output_dir(home: Home, period: str) -> Path:
    """``<home>/summaries/<period>/``."""
    return home.path(OUTPUT_DIR) / period


@dataclass(frozen=True)
class Saved:
    """A period's saved summary (``<home>/summaries/<period>/``), read on demand."""

    period: str
    folder: Path
    fingerprint: str

    def summary(self) -> Summary:
        """The saved frames and national JSON as a :class:`Summary` (no coverage, tree or contributions)."""
        frames = {name: pl.read_parquet(self.folder / f"{name}.parquet") for name in FRAMES}
        national = json.loads((self.folder / "national.json").read_text(encoding="utf-8"))
        warnings = national.pop("warnings", [])
        return Summary(period=self.period, root=national["unit"], national=national, warnings=warnings,
                       vocab=load_vocab(), registry_version=national.get("registry_version"), **frames)  # fmt: skip

    def node_json(self, code: str | None) -> dict[str, Any] | None:
        """The saved JSON of ``code``'s subtree (the nation's when None); None when it was not a node then."""
        from jobs.rollup.summary import node_json

        national = json.loads((self.folder / "national.json").read_text(encoding="utf-8"))
        national.pop("warnings", None)
        if code is None or code == national["unit"]:
            return national
        pick = pl.col("code") == code
        nodes = pl.scan_parquet(self.folder / "nodes.parquet").filter(pick).collect()
        if nodes.height == 0:
            return None
        mom = pl.scan_parquet(self.folder / "mom.parquet").filter(pick).collect()
        empty = nodes.clear()
        part = Summary(period=self.period, root=national["unit"], nodes=nodes, by_category=empty, national=national,
                       attention=pl.read_parquet(self.folder / "attention.parquet").filter(pick),
                       rebound=empty, overdue=empty, mom=mom, vocab=load_vocab(),
                       registry_version=national.get("registry_version"))  # fmt: skip
        return node_json(part, code)

    def ineligible(self) -> pl.DataFrame:
        """Units not eligible for awards in this period's year so far (see :func:`jobs.rollup.attention.ineligible_units`)."""
        return pl.read_parquet(self.folder / "ineligible.parquet")

    def own_history(self) -> pl.DataFrame:
        """``code`` and each unit's own history counts (``own.items_vanished`` ...); only ``code`` when saved before them."""
        path = self.folder / "nodes.parquet"
        names = pl.read_parquet_schema(path)
        wanted = ["code", *(f"own.{c.key}" for c in load_vocab().history)]
        return pl.read_parquet(path, columns=[c for c in wanted if c in names])

    def closed(self) -> pl.DataFrame:
        """Items closed up to this period (see :func:`jobs.rollup.crossperiod.closed_items`)."""
        return pl.read_parquet(self.folder / CLOSED)


@dataclass(frozen=True)
class MonthEnd:
    """A period summarized from its :class:`PeriodView`, with the saved summaries of the periods before it.

    ``earlier`` holds the stored periods before this one, oldest first, each
    saved and fresh; ``closed`` and ``fingerprint`` are what :meth:`save` writes.
    """

    view: PeriodView
    summary: Summary
    earlier: tuple[Saved, ...]
    closed: pl.DataFrame
    fingerprint: str
    previous_summary: Summary | None = None  # the month before, as saved (month-over-month)

    @property
    def previous(self) -> Saved | None:
        """The saved summary of the month before, when it has returns."""
        if self.earlier and self.earlier[-1].period == previous_period(self.view.period):
            return self.earlier[-1]
        return None

    def save(self) -> dict[str, Path]:
        """Write the summary to ``<home>/summaries/<period>/`` under the home's lock (see :func:`save_summary`)."""
        home = self.view.home
        with home.lock(holder="rectify summarize"):
            return save_summary(self.summary, output_dir(home, self.view.period), closed=self.closed,
                                fingerprint=self.fingerprint)  # fmt: skip


def stored_periods(home: Home, submissions: pl.DataFrame | None = None) -> list[str]:
    """Periods with at least one recorded submission, oldest first."""
    subs = submissions if submissions is not None else home.store.submissions()
    return sorted(subs["period"].drop_nulls().unique().to_list()) if subs.height else []


def fingerprint(
    home: Home, submissions: pl.DataFrame, *, period: str, before: Saved | None, publication: Publication | None = None
) -> str:
    """What a period's summary is computed from, hashed: a saved summary with another one is stale.

    The period's stored submissions (not 汇总 files given with ``--include-summary``:
    the office's saved summary of a month stands as it was made), the
    registry version, the deadline, the thresholds and the earlier period read.
    For a published period: its frozen submissions, the publication's registry
    version and deadline (the same as the live ones at the moment of publishing).
    """
    subs = submissions.filter(pl.col("period") == period)
    if "ingested_at" in subs.columns:
        subs = subs.filter(pl.col("ingested_at").is_not_null())
    rows = subs.select(
        *(pl.col(c).cast(pl.Utf8) for c in ("submission_id", "accepted", "superseded_by", "received_at"))
    ).sort("submission_id")
    source = {
        "format": SAVED_FORMAT,
        "period": period,
        "registry": home.registry_version(period)["version"] if publication is None else publication.registry_version,
        "deadline": (home.deadline(period) if publication is None else publication.deadline).isoformat(),
        "thresholds": dataclasses.asdict(home.config.thresholds),
        "accountability": dataclasses.asdict(home.config.accountability),
        # the 督办 items tracked in the period (those of earlier periods)
        "supervised": home.store.supervised(before=period).rows(),
        "before": before.fingerprint if before is not None else None,
        "submissions": rows.rows(),
    }
    return hashlib.sha256(json.dumps(source, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def _saved(home: Home, period: str, print_: str) -> Saved | None:
    # resolved once: every file is read from the one version the link showed now
    folder = output_dir(home, period).resolve()
    try:
        source = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    present = all((folder / f"{n}.parquet").is_file() for n in FRAMES) and (folder / CLOSED).is_file()
    if source.get("fingerprint") != print_ or not present:
        return None
    return Saved(period, folder, print_)


def _summarize(
    view: PeriodView, before: Saved | None, *, with_previous: bool = True
) -> tuple[Summary, pl.DataFrame, Summary | None]:
    """The period's summary, its closed-items frame and the previous month's saved summary (if read).

    Of the earlier periods only ``before`` (the latest one saved) is read.
    """
    history = before.closed() if before is not None else None
    previous = None
    if with_previous and before is not None and before.period == previous_period(view.period):
        previous = before.summary()
    summary = summarize(
        view.tables, view.submissions, view.registry, period=view.period, deadline=view.deadline,
        previous=previous, history_tables={"ledger": history} if history is not None else None,
        thresholds=view.home.config.thresholds, coverage=view.coverage,
        accountability=view.home.config.accountability, findings=view.findings,
        ineligible_before=before.ineligible() if before is not None else None,
        supervised=view.home.store.supervised(before=view.period),
    )  # fmt: skip
    summary.warnings[:0] = view.warnings
    closed = crossperiod.closed_items(view.tables["ledger"], history, summary.vocab or load_vocab(), period=view.period)
    return summary, closed, previous


def earlier_summaries(
    home: Home, period: str, *, submissions: pl.DataFrame | None = None, holding_lock: bool = False
) -> list[Saved]:
    """The saved summaries of every stored period before ``period``, oldest first; missing or stale ones are made.

    Each period is summarized at most once (then read): the first month-end
    after a change of period ``p`` summarizes ``p`` and the periods after it.
    A published period is summarized as published. ``holding_lock``: the
    caller holds the home's lock (saves then take it no second time).
    """
    subs = submissions if submissions is not None else home.store.submissions()
    kind = load_schema().default_report_type
    out: list[Saved] = []
    before: Saved | None = None
    for p in (p for p in stored_periods(home, subs) if p < period):
        frozen = freeze(home, subs, period=p, default_report_type=kind)
        print_ = fingerprint(home, frozen.submissions, period=p, before=before, publication=frozen.publication)
        saved = _saved(home, p, print_)
        if saved is None:
            summary, closed, _ = _summarize(load_period(home, p), before)
            with nullcontext() if holding_lock else home.lock(holder="rectify summarize"):
                save_summary(summary, output_dir(home, p), closed=closed, fingerprint=print_)
            saved = _saved(home, p, print_)
            if saved is None:  # pragma: no cover - a save that cannot be read back
                msg = f"汇总结果未能保存到“{output_dir(home, p)}”，请检查该文件夹的权限与磁盘空间后重试。"
                raise OSError(msg)
        out.append(saved)
        before = saved
    return out


def saved_month_end(home: Home, period: str) -> MonthEnd:
    """The period's month end, saved under the lock: what the office's documents (通报, 督办通知单) rest on,
    and what the next month reads (诫勉 twice running, the year's ineligible units)."""
    month = month_end(load_period(home, period))
    month.save()
    return month


def month_end(view: PeriodView, *, with_previous: bool = True, holding_lock: bool = False) -> MonthEnd:
    """Summarize the view's period against the saved summaries of the periods before it (made if missing).

    ``holding_lock``: the caller holds the home's lock (``rectify publish``).
    """
    home = view.home
    earlier = earlier_summaries(home, view.period, submissions=view.submissions, holding_lock=holding_lock)
    before = earlier[-1] if earlier else None
    summary, closed, previous = _summarize(view, before, with_previous=with_previous)
    print_ = fingerprint(home, view.submissions, period=view.period, before=before, publication=view.publication)
    return MonthEnd(view=view, summary=summary, earlier=tuple(earlier), closed=closed, fingerprint=print_,
                    previous_summary=previous)  # fmt: skip


def summarize_home(
    home: Home,
    *,
    period: str,
    include: Sequence[Path] = (),
    with_previous: bool = True,
) -> Summary:
    """Summarize ``period`` from the home's store and registry, folding in 汇总 return files (see :func:`month_end`)."""
    return month_end(load_period(home, period, include=include), with_previous=with_previous).summary


def _write_json(payload: dict[str, Any], path: Path) -> None:
    atomic_write(path, json.dumps(payload, ensure_ascii=False, indent=1))


def write_outputs(summary: Summary, folder: Path) -> dict[str, Path]:
    """Write the per-node indicator table and the lists as Parquet, the national JSON (temp + rename each).

    Files: ``nodes``, ``by_category``, ``attention``, ``rebound``, ``overdue``,
    ``mom``, ``ineligible``, ``supervised`` (``.parquet``) and ``national.json``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in FRAMES:
        path = folder / f"{name}.parquet"
        atomic_write(path, getattr(summary, name).write_parquet)
        written[name] = path
    path = folder / "national.json"
    _write_json({**summary.national, "warnings": summary.warnings}, path)
    written["national"] = path
    return written


def save_summary(summary: Summary, folder: Path, *, closed: pl.DataFrame, fingerprint: str) -> dict[str, Path]:
    """:func:`write_outputs`, the closed items and ``source.json``, published at ``folder`` as one unit.

    The caller holds the home's lock. Returns the paths under ``folder``.
    """

    def write(fresh: Path) -> dict[str, Path]:
        written = write_outputs(summary, fresh)
        atomic_write(fresh / CLOSED, closed.write_parquet)
        _write_json({"format": SAVED_FORMAT, "period": summary.period, "fingerprint": fingerprint}, fresh / SOURCE)
        return {name: folder / path.name for name, path in written.items()}

    return publish(folder, write)



def publish(folder: Path, write: Callable[[Path], dict[str, Path]]) -> dict[str, Path]:
    """Call ``write`` on a new hidden folder, then switch the link ``folder`` to it in one rename.

    ``folder`` (a link to ``.<name>.<token>`` beside it) shows all the old files
    or all the new ones whenever the writer dies. A real folder left by an
    earlier version is moved aside first (readers then see no summary for an
    instant and compute one). Keeps the version the link showed before;
    removes older ones and those of killed saves. The caller holds the home's lock.
    """
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    fresh = parent / f".{folder.name}.{token}"
    link = parent / f".{folder.name}.{token}.link"
    previous = os.readlink(folder) if folder.is_symlink() else None
    fresh.mkdir()
    try:
        result = write(fresh)
        _fsync_dir(fresh)
        os.symlink(fresh.name, link)  # relative: the home may move
        if folder.is_dir() and not folder.is_symlink():
            previous = f".{folder.name}.{token}.old"
            os.rename(folder, parent / previous)
        os.replace(link, folder)
        _fsync_dir(parent)
    except BaseException:
        link.unlink(missing_ok=True)
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    keep = {fresh.name, previous}
    for stale in parent.glob(f".{folder.name}.*"):
        if stale.name not in keep:
            if stale.is_symlink() or not stale.is_dir():
                stale.unlink(missing_ok=True)
            else:
                shutil.rmtree(stale, ignore_errors=True)
    return result


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
