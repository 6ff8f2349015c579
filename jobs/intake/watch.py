"""Watch an inbox: ingest each received file once it is fully written.

File-system events come from watchdog (inotify on Linux). A file is *ready*
when it is a candidate (not ``~$*.xlsx``, ``*.tmp``, hidden ...), its size
and modification time have not changed for ``settle`` seconds after its last
event, and it opens as a whole workbook (:mod:`jobs.intake.preflight.complete`:
a copy that pauses longer than ``settle`` is not finished). A file that stays
unchanged but incomplete for ``incomplete`` seconds is judged all the same, so a
truly broken file still gets its verdict. The inbox must exist
(:class:`InboxMissing`): a mistyped path must not be watched, empty, forever.
Ready files are ingested together as one batch through
:func:`jobs.intake.parallel.ingest_paths`, which takes the store lock per batch, so a
watch and a monthly run never write at the same time. A failing batch is
reported and the watcher carries on; a batch that could not get the lock is
retried.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from jobs.core.errors import RectifyError, known_error
from jobs.intake.batch import FileOutcome, IngestResult, Validator, default_validator
from jobs.intake.discover import expand_paths, is_candidate
from jobs.intake.parallel import ingest_paths
from jobs.intake.preflight.complete import completeness
from jobs.office.home import Home
from jobs.office.lock import LockTimeout
from jobs.validate.history import HistoryCache

log = logging.getLogger(__name__)


_RECHECK = 0.25  # seconds at least between two looks at a settled but incomplete file


class InboxMissing(RectifyError):
    """The inbox to watch does not exist or is not a folder (Chinese message with a hint)."""


def check_inbox(inbox: str | Path) -> Path:
    """The inbox as an absolute path, if it is an existing folder.

    Raises
    ------
    InboxMissing
        It does not exist or is not a folder: never created here, a typo
        would otherwise be watched, empty, while the units' files land elsewhere.
    """
    path = Path(inbox).absolute()
    if not path.is_dir():
        what = "不是文件夹" if path.exists() else "不存在"
        msg = f"收件文件夹“{inbox}”{what}。请检查路径是否写错，或先创建该文件夹再运行 rectify watch。"
        raise InboxMissing(msg)
    return path


@dataclass
class _Pending:
    size: int
    mtime_ns: int
    changed: float  # time.monotonic() of the last change seen
    checked: float = 0.0  # time.monotonic() of the last completeness check


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        # a close follows the writes already seen: noticed again, a file read meanwhile would be read twice
        if event.is_directory or event.event_type in ("deleted", "opened", "closed", "closed_no_write"):
            return
        target = getattr(event, "dest_path", "") or event.src_path
        # bytes only from a bytes-watching observer; a non-UTF-8 name stays lossless (surrogateescape)
        self.watcher.notice(Path(os.fsdecode(target)))


class InboxWatcher:
    """Ingest files dropped into ``inbox`` for ``period`` until :meth:`stop`.

    Parameters
    ----------
    home
        The office home (its store, registry and config).
    inbox
        Directory watched recursively.
    period
        Reporting period the files are collected for.
    settle
        Seconds a file's size must stay unchanged before it is read
        (default: config ``limits.watch_settle_seconds``).
    incomplete
        Seconds a settled file that does not open as a whole workbook waits
        before it is judged anyway (default: config ``limits.watch_incomplete_seconds``).
    on_result
        Called with each batch's :class:`IngestResult` (from the worker thread).
    on_error
        Called with a Chinese message when a batch fails; the watcher keeps running.
    """

    def __init__(
        self,
        home: Home,
        inbox: str | Path,
        *,
        period: str,
        validator: Validator | None = None,
        settle: float | None = None,
        incomplete: float | None = None,
        on_result: Callable[[IngestResult], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.home = home
        self.inbox = Path(inbox).absolute()
        self.period = period
        self.validator = validator
        self._history = HistoryCache()  # six months of history read once, not per arrival
        limits = home.config.limits
        self.settle = limits.watch_settle_seconds if settle is None else float(settle)
        self.incomplete = limits.watch_incomplete_seconds if incomplete is None else float(incomplete)
        self._max_mb = limits.max_file_mb
        self.on_result = on_result
        self.on_error = on_error
        self._pending: dict[Path, _Pending] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._observer = Observer()
        self._worker = threading.Thread(target=self._run, name="rectify-watch", daemon=True)

    def start(self) -> InboxWatcher:
        """Warm up the validator, start watching, and queue files already in the inbox.

        Raises
        ------
        InboxMissing
            The inbox is not an existing folder (checked before the validator is loaded).
        """
        check_inbox(self.inbox)
        if self.validator is None:
            self.validator = default_validator()
            self._warm_up()
        self._observer.schedule(_Handler(self), str(self.inbox), recursive=True)
        self._observer.start()
        for path in expand_paths([self.inbox]):
            self.notice(path)
        self._worker.start()
        return self

    def _warm_up(self) -> None:
        """Validate the blank template once: GX is imported and its suites built before the first file."""
        import tempfile

        from jobs.office.template import write_template

        try:
            with tempfile.TemporaryDirectory() as tmp:
                blank = write_template(Path(tmp) / "warm-up.xlsx")
                self.validator([blank], registry=self.home.registry(self.period), period=self.period)
        except Exception:  # noqa: BLE001 - only a speed-up; real files report their own errors
            log.warning("validator warm-up failed", exc_info=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; a batch being ingested is finished first."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout)
        if self._worker.is_alive():
            self._worker.join(timeout)

    def __enter__(self) -> InboxWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def notice(self, path: Path) -> None:
        """Record that ``path`` changed (called by the watchdog handler)."""
        try:
            hidden = any(p.startswith(".") for p in path.relative_to(self.inbox).parts)
        except ValueError:  # moved out of the inbox
            return
        if hidden or not is_candidate(path):
            return
        try:
            stat = path.lstat()  # a link is refused with a verdict, never followed
        except OSError:
            return
        with self._cond:
            self._pending[path] = _Pending(stat.st_size, stat.st_mtime_ns, time.monotonic())
            self._cond.notify_all()

    def _ready(self) -> tuple[list[Path], float]:
        """Files settled and complete (or unchanged past ``incomplete``), and how long to wait
        for the next look (under the condition)."""
        now = time.monotonic()
        ready, wait = [], max(self.settle, _RECHECK)
        for path, seen in list(self._pending.items()):
            try:
                stat = path.lstat()
            except OSError:
                del self._pending[path]  # moved away or deleted before it settled
                continue
            if (stat.st_size, stat.st_mtime_ns) != (seen.size, seen.mtime_ns):
                self._pending[path] = _Pending(stat.st_size, stat.st_mtime_ns, now)
                continue
            left = seen.changed + self.settle - now
            if left > 0:
                wait = min(wait, left)
                continue
            overdue = now - seen.changed >= self.incomplete
            if not overdue and now - seen.checked < _RECHECK:
                wait = min(wait, seen.checked + _RECHECK - now)
                continue
            if overdue or completeness(path, max_mb=self._max_mb) != "incomplete":
                ready.append(path)
                del self._pending[path]
                continue
            # a copy paused, not finished: look again soon, judge it once it has waited long enough
            seen.checked = now
            wait = min(wait, _RECHECK, seen.changed + self.incomplete - now)
        return ready, max(wait, 0.02)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                ready, wait = self._ready()
                if not ready:
                    self._cond.wait(wait if self._pending else 1.0)
                    continue
            self._ingest(sorted(ready))

    def _ingest(self, paths: list[Path]) -> None:
        try:
            result = ingest_paths(
                self.home, paths, period=self.period, validator=self.validator, holder="rectify watch",
                history_cache=self._history,
            )
        except LockTimeout as exc:
            self._report_error(f"{exc}；稍后重试。")
            for path in paths:
                self.notice(path)
            return
        except RectifyError as exc:
            self._report_error(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the watch
            known = known_error(exc)  # a full disk, a damaged store: named, with what to do
            if known is not None:
                self._report_error(f"{known}（继续监视）")
                return
            log.exception("watch batch failed")
            self._report_error(f"处理{len(paths)}个文件时出错（{type(exc).__name__}: {exc}），已跳过，继续监视。")
            return
        if self.on_result is not None:
            self.on_result(result)

    def _report_error(self, message: str) -> None:
        if self.on_error is not None:
            self.on_error(message)
        else:
            log.error(message)


def watch(
    home: Home,
    inbox: str | Path,
    *,
    period: str,
    stop: threading.Event,
    validator: Validator | None = None,
    settle: float | None = None,
    on_result: Callable[[IngestResult], None] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> None:
    """Run an :class:`InboxWatcher` until ``stop`` is set (blocking).

    The wait is timed: a signal handler of the calling (main) thread runs within
    a fraction of a second, even when the signal reached another thread.
    """
    with InboxWatcher(
        home, inbox, period=period, validator=validator, settle=settle, on_result=on_result, on_error=on_error
    ):
        while not stop.wait(_RECHECK):
            pass


def rejection_reasons(home: Home, outcomes: Sequence[FileOutcome], *, first: int = 3) -> dict[str, list[str]]:
    """The first ``first`` error messages of each recorded, rejected file, by submission id (read from the ledger)."""
    ids = [o.submission_id for o in outcomes if o.status == "stored" and o.accepted is False and o.submission_id]
    if not ids:
        return {}
    reports = home.store.reports(ids)
    return {sid: [f.message for f in report.errors[:first]] for sid, report in zip(ids, reports, strict=True)}
