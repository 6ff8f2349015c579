"""A one-line progress display for long runs: files done, rate, ETA (stderr).

Off when the stream is not a terminal (logs, pipes, ``--json`` consumers) or
when the caller passes ``enabled=False`` (``--quiet``). Never writes to stdout.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1小时02分05秒``; ``65`` -> ``1分05秒``; ``7`` -> ``7秒``."""
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}小时{m:02d}分{sec:02d}秒"
    if m:
        return f"{m}分{sec:02d}秒"
    return f"{sec}秒"


class Progress:
    """Counts done items and redraws one status line at most every ``interval`` s.

    Parameters
    ----------
    total
        Number of items expected (files).
    enabled
        ``None``: on only when ``stream`` is a TTY.
    stream
        Where to draw (default ``sys.stderr``).
    label
        Chinese noun for what is counted.
    interval
        Minimum seconds between redraws.
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        label: str = "文件",
        interval: float = 0.5,
        clock=time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = _is_tty(self.stream) if enabled is None else enabled
        self.label = label
        self.interval = interval
        self.done = 0
        self._clock = clock
        self._start = clock()
        self._last_draw = float("-inf")
        self._width = 0

    def line(self) -> str:
        """The current status line (without carriage return)."""
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        text = f"已处理 {self.done:,}/{self.total:,} 个{self.label}（{rate:,.1f} 个/秒"
        if 0 < self.done < self.total and rate > 0:
            text += f"，预计剩余 {format_duration((self.total - self.done) / rate)}"
        elif self.done >= self.total:
            text += f"，用时 {format_duration(elapsed)}"
        return text + "）"

    def advance(self, n: int = 1) -> None:
        """Record ``n`` more items done; redraw if enough time has passed."""
        self.done += n
        if not self.enabled:
            return
        now = self._clock()
        if now - self._last_draw >= self.interval or self.done >= self.total:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        text = self.line()
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Draw the final line and end it with a newline."""
        if self.enabled and self._width:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
