"""``rectify watch``: ingest returns as they land in an inbox directory.

Ctrl-C stops it promptly: the main thread waits in short timed steps (a
signal may reach another thread, and an untimed wait would never return to
run the handler) and handles SIGINT and SIGTERM itself, installed after the
heavy imports. Exit status 130 after Ctrl-C (128 + SIGINT, as shells report
it), 0 when ``--stop-after`` ends it or SIGTERM stops it as a service.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType

import click

from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.cli.ingest import file_line, period_hint_text, total_lines
from jobs.core.errors import RectifyError
from jobs.intake.batch import IngestResult
from jobs.office.home import Home
from jobs.office.lock import LockTimeout

INTERRUPTED = 130  # 128 + SIGINT
_TICK = 0.25  # seconds between two looks of the main thread at the stop flag


@click.command("watch", cls=ChineseCommand)
@click.argument("inbox", type=click.Path(file_okay=False, path_type=Path))
@period_option()
@home_option
@click.option(
    "--settle",
    type=click.FloatRange(0.05),
    default=None,
    help="文件保持不变多少秒后才读取（默认取配置文件）。",
)
@click.option(
    "--stop-after",
    type=click.FloatRange(0),
    default=None,
    help="运行多少秒后停止（用于脚本；默认一直运行到按 Ctrl-C）。",
)
def watch_command(inbox: Path, period: str, home: Path | None, settle: float | None, stop_after: float | None) -> None:
    """监视收件文件夹 INBOX，每个文件写完后立即检查并入库。

    临时和未写完的文件（~$*.xlsx、*.tmp、隐藏文件）忽略；文件大小保持不变且能作为
    完整的工作簿打开后才读取，复制到一半的文件不会被退回。每个文件的回执写入
    <home>/outbox/<period>/；每行输出带时间，退回的文件列出前几条原因。
    有问题的文件会报告，监视继续运行。按 Ctrl-C 停止（退出码130；--stop-after
    到时或收到 SIGTERM 时退出码0）。收件文件夹须已存在。

    \b
    示例：
        rectify watch inbox/ --period 2015-02
    """
    from jobs.intake.watch import (
        InboxMissing,
        InboxWatcher,
        check_inbox,
        rejection_reasons,
    )

    target = open_home(home)
    try:
        target.registry(period)  # fail now, not at the first file, when no registry is imported
        _writable(target)  # likewise a home the watch may not write (read-only, no permission)
        target.store.known(period, ())  # and a ledger it cannot read (damaged)
        check_inbox(inbox)
    except InboxMissing as exc:
        raise click.BadParameter(str(exc), param_hint="INBOX") from None
    except (RectifyError, OSError) as exc:
        raise fail(exc) from None
    tz = target.config.tz

    def say(line: str, *, err: bool = False) -> None:
        click.echo(f"[{datetime.now(tz):%H:%M:%S}] {line}", err=err)

    def show(result: IngestResult) -> None:
        hint = period_hint_text(result)
        if hint:
            say(hint, err=True)
        reasons = rejection_reasons(target, result.files)
        for f in result.files:
            say(file_line(f))
            for reason in reasons.get(f.submission_id or "", ()):
                say(f"  · {reason}")
            if f.receipt_error:
                say(f"  ! {f.receipt_error}")
        for line in total_lines(result):
            say(line)

    def warn(message: str) -> None:
        say(f"提示：{message}", err=True)

    stop, interrupted, watching = threading.Event(), threading.Event(), threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            interrupted.set()
        stop.set()
        if not watching.is_set():
            raise KeyboardInterrupt  # still loading the validator: stop now, not after it

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    say("正在加载校验程序……")
    watcher = InboxWatcher(target, inbox, period=period, settle=settle, on_result=show, on_error=warn)
    try:
        watcher.start()
        watching.set()
        say(f"正在监视“{inbox}”（报送期{period}），回执写入“{target.outbox(period)}”。按Ctrl-C停止。")
        end = None if stop_after is None else time.monotonic() + stop_after
        while not stop.is_set():
            left = _TICK if end is None else min(_TICK, end - time.monotonic())
            if left <= 0:
                break
            stop.wait(left)
    except KeyboardInterrupt:
        pass
    except RectifyError as exc:
        raise fail(exc) from None
    finally:
        watching.set()  # a second signal while stopping must not break the clean-up
        watcher.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("已停止监视。")
    if interrupted.is_set():
        click.get_current_context().exit(INTERRUPTED)


def _writable(home: Home) -> None:
    """Raise ``OSError`` if the home's lock cannot be taken for lack of permission."""
    try:
        with home.lock(holder="rectify watch", timeout=0):
            pass
    except LockTimeout:
        pass  # another writer holds it: the home is writable


COMMANDS = [watch_command]
