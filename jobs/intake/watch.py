"""Watch an inbox: ingest each received file once it is fully written.

File-system events come from watchdog (inotify on Linux). A file is *ready*
when it is a candidate (not ``~$*.xlsx``, ``*.tmp``, hidden ...) and its size
and modification time have not changed for ``settle`` seconds after its last
event: a unit's mail client or a copy over the network writes in pieces.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from jobs.core.errors import RectifyError
from jobs.intake.batch import IngestResult, Validator, default_validator
from jobs.intake.discover import expand_paths, is_candidate
from jobs.intake.parallel import ingest_paths
from jobs.office.home import Home
from jobs.office.lock import LockTimeout
from jobs.validate.history import HistoryCache

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    size: int
    mtime_ns: int
    changed: float  # time.monotonic() of the last change seen


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("deleted", "opened", "closed_no_write"):
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
        on_result: Callable[[IngestResult], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.home = home
        self.inbox = Path(inbox).absolute()
        self.period = period
        self.validator = validator
        self._history = HistoryCache()  # six months of history read once, not per arrival
        self.settle = home.config.limits.watch_settle_seconds if settle is None else float(settle)
        self.on_result = on_result
        self.on_error = on_error
        self._pending: dict[Path, _Pending] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._observer = Observer()
        self._worker = threading.Thread(target=self._run, name="rectify-watch", daemon=True)

    def start(self) -> InboxWatcher:
        """Warm up the validator, start watching, and queue files already in the inbox."""
        if self.validator is None:
            self.validator = default_validator()
            self._warm_up()
        self.inbox.mkdir(parents=True, exist_ok=True)
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
        """Files whose size settled, and how long to wait for the next one (under the condition)."""
        now = time.monotonic()
        ready, wait = [], self.settle
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
            if left <= 0:
                ready.append(path)
                del self._pending[path]
            else:
                wait = min(wait, left)
        return ready, max(wait, 0.02)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                ready, wait = self._ready()
                if not ready:
                    self._cond.wait(wait if self._pending else None)
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
    """Run an :class:`InboxWatcher` until ``stop`` is set (blocking)."""
    with InboxWatcher(
        home, inbox, period=period, validator=validator, settle=settle, on_result=on_result, on_error=on_error
    ):
        stop.wait()
