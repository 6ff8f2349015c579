"""``rectify watch``: ingest returns as they land in an inbox directory."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from jobs.cli._chinese import ChineseCommand
from jobs.cli._common import fail, home_option, open_home, period_option
from jobs.cli.ingest import period_hint_text, summary_lines
from jobs.core.errors import RectifyError
from jobs.intake.batch import IngestResult
from jobs.office.home import Home
from jobs.office.lock import LockTimeout


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

    临时和未写完的文件（~$*.xlsx、*.tmp、隐藏文件）忽略；每个文件的回执写入
    <home>/outbox/<period>/。有问题的文件会报告，监视继续运行。按 Ctrl-C 停止。

    \b
    示例：
        rectify watch inbox/ --period 2015-02
    """
    from jobs.intake.watch import InboxWatcher

    target = open_home(home)
    try:
        target.registry(period)  # fail now, not at the first file, when no registry is imported
        _writable(target)  # likewise a home the watch may not write (read-only, no permission)
        target.store.known(period, ())  # and a ledger it cannot read (damaged)
    except (RectifyError, OSError) as exc:
        raise fail(exc) from None
    stop = threading.Event()

    def show(result: IngestResult) -> None:
        hint = period_hint_text(result)
        if hint:
            click.echo(hint, err=True)
        for line in summary_lines(result):
            click.echo(line)

    def warn(message: str) -> None:
        click.echo(f"提示：{message}", err=True)

    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo("正在加载校验程序……")
    watcher = InboxWatcher(target, inbox, period=period, settle=settle, on_result=show, on_error=warn)
    try:
        watcher.start()
        click.echo(f"正在监视“{inbox}”（报送期{period}），回执写入“{target.outbox(period)}”。按Ctrl-C停止。")
        stop.wait(stop_after)
    except KeyboardInterrupt:
        pass
    except RectifyError as exc:
        raise fail(exc) from None
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
    click.echo("已停止监视。")


def _writable(home: Home) -> None:
    """Raise ``OSError`` if the home's lock cannot be taken for lack of permission."""
    try:
        with home.lock(holder="rectify watch", timeout=0):
            pass
    except LockTimeout:
        pass  # another writer holds it: the home is writable


COMMANDS = [watch_command]
