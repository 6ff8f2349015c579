"""Hints about a run as a whole: when most files carry another 报送期, the clerk's ``--period`` is
probably wrong (or the folder is last month's), not every unit.

Said once, before the per-file lines (ingest, run, watch, validate). Intake
still archives and records every file (nothing is lost), but holds back the
receipts of its wrong-period rejections: a unit is not blamed for the
office's slip. Running the same command again (the files are then already
recorded) writes the held receipts, should the period be right after all;
running it with the right ``--period`` records the files for that period.
``validate`` records nothing: it prints the hint and writes the receipts
asked for with ``--receipts`` (the clerk is checking, not answering units).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from jobs.core.findings import Report

WRONG_PERIOD = "wrong-period"
# Fewer files say nothing about the run: one unit's wrong month is that unit's mistake.
MIN_FILES = 3
HELD = "回执暂缓发出：本次多数文件的报送期与--period不符（见开头的提示）"


@dataclass(frozen=True)
class PeriodHint:
    """Most of a run's files are ``wrong-period``: the period they carry instead."""

    period: str
    carried: str | None
    n_wrong: int
    n_files: int

    def message(self, *, held: int = 0) -> str:
        """The hint in Chinese; ``held``: how many receipts intake held back."""
        most = f"，其中多数为{self.carried}" if self.carried else ""
        text = (f"提示：本次{self.n_files}个文件中有{self.n_wrong}个的报送期与 --period {self.period} 不符{most}。"
                f"很可能是 --period 填错了或选错了收件文件夹，而不是各单位填错了")  # fmt: skip
        text += f"：如要收集{self.carried}的报表，请改用 --period {self.carried}。" if self.carried else "。"
        if held:
            text += (f"这些文件已归档入库，{held}份退回回执暂缓发出；"
                     f"确认 --period {self.period} 无误后，再次运行同一命令即补发回执。")  # fmt: skip
        return text


def is_wrong_period(report: Report) -> bool:
    """Whether ``report`` is rejected (also) for carrying another period."""
    return any(f.code == WRONG_PERIOD for f in report.errors)


def carried_period(report: Report) -> str | None:
    """The 报送期 a ``wrong-period`` return carries (as read, ``""`` if none); None for any other return."""
    return (report.period or "") if is_wrong_period(report) else None


def period_hint(carried: Sequence[str | None], *, period: str, n_files: int | None = None) -> PeriodHint | None:
    """The hint when more than half of a run's files (``n_files``, default ``len(carried)``) are ``wrong-period``.

    ``carried`` holds, per file looked at, :func:`carried_period` (None: not
    wrong-period); the period most wrong-period files carry is named.
    """
    wrong = [p for p in carried if p is not None]
    total = len(carried) if n_files is None else n_files
    if total < MIN_FILES or 2 * len(wrong) <= total:
        return None
    named = Counter(p for p in wrong if p and p != period).most_common(1)
    return PeriodHint(period=period, carried=named[0][0] if named else None, n_wrong=len(wrong), n_files=total)
