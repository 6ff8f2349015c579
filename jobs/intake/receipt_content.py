"""What a receipt (回执) says: the verdict and findings, and who, when, against which deadline, which version.

:func:`receipt_context` builds the one context both receipt forms render
(:mod:`jobs.intake.receipts`: the workbook, and templates/receipt.html);
:func:`ledger_facts` gathers the facts of recorded returns from the ledger,
the registry in force and the period's deadline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from jobs.core.errors import RectifyError
from jobs.core.findings import SEVERITY_ZH, Report
from jobs.core.names import display_name

if TYPE_CHECKING:
    from jobs.office.home import Home

VERDICT_ZH = {True: "通过", False: "退回"}
TITLE = "整改落实情况“回头看”报表 回执"
HEADERS = ("序号", "单元格", "代码", "严重程度", "说明")
UNKNOWN = "—"
_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Version:
    """A recorded version of a unit's return: its number and when it arrived."""

    number: int
    received_at: dt.datetime


@dataclass(frozen=True)
class ReceiptFacts:
    """What the receipt says beyond the verdict: who, when, against which deadline, which version.

    ``replaces`` is the accepted version this one replaced (accepted returns);
    ``current`` the accepted version that still counts when this one was
    rejected. Unknown facts are None (``validate`` records no version).
    """

    unit_name: str | None = None
    received_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    version: int | None = None
    replaces: Version | None = None
    current: Version | None = None
    recheck: str | None = None  # re-judged on purpose: which version's file, and why (jobs.store.rechecks)


@dataclass(frozen=True)
class ReceiptRow:
    """One finding as printed on the receipt."""

    no: int
    cell: str
    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class ReceiptContext:
    """What templates/receipt.html renders (the xlsx receipt shows the same meta rows, :attr:`meta`)."""

    title: str
    file: str
    unit: str
    unit_name: str
    period: str
    received_at: str
    deadline: str
    timeliness: str
    version: str
    accepted: bool
    verdict: str
    n_errors: int
    n_warnings: int
    rows: tuple[ReceiptRow, ...]

    @property
    def meta(self) -> tuple[tuple[str, str | int], ...]:
        """The receipt's labelled facts, in order (Chinese labels)."""
        return (
            ("文件", self.file), ("单位代码", self.unit), ("单位名称", self.unit_name), ("报送期", self.period),
            ("收到时间", self.received_at), ("截止时间", self.deadline), ("是否按时", self.timeliness),
            ("版本", self.version), ("结论", self.verdict),
            (SEVERITY_ZH["error"], self.n_errors), (SEVERITY_ZH["warning"], self.n_warnings),
        )  # fmt: skip


def _version_text(facts: ReceiptFacts, *, accepted: bool) -> str:
    if facts.version is None:
        return "未入库（仅检查）"
    notes = [] if facts.recheck is None else [facts.recheck]
    if accepted and facts.replaces is not None:
        old = facts.replaces
        notes.append(f"替换{old.received_at:{_TIME}}收到的第{old.number}版")
    elif not accepted and facts.current is not None:
        old = facts.current
        notes.append(f"未通过；{old.received_at:{_TIME}}收到的第{old.number}版仍然有效")
    elif accepted and facts.version > 1:
        notes.append("此前各版均未通过")
    return f"第{facts.version}版" + (f"（{'；'.join(notes)}）" if notes else "")


def _timeliness(facts: ReceiptFacts) -> str:
    if facts.received_at is None or facts.deadline is None:
        return UNKNOWN
    return "按时" if facts.received_at <= facts.deadline else "逾期（截止时间后收到）"


def receipt_context(report: Report, facts: ReceiptFacts | None = None) -> ReceiptContext:
    """The receipt's content for ``report``: who and when (``facts``), verdict, counts and one row per finding."""
    facts = facts or ReceiptFacts()
    rows = tuple(
        ReceiptRow(
            no=i,
            cell=f.cell or f.sheet or "（整个文件）",
            code=f.code,
            severity=SEVERITY_ZH.get(f.severity, f.severity),
            message=f"（已说明）{f.message}" if f.explained else f.message,  # the unit's 说明 is on file
        )
        for i, f in enumerate(report.findings, start=1)
    )
    return ReceiptContext(
        title=TITLE,
        file=display_name(Path(report.file).name),
        unit=report.unit or "未识别",
        unit_name=facts.unit_name or ("不在名册中" if report.unit and facts.version is not None else UNKNOWN),
        period=report.period or "未识别",
        received_at=f"{facts.received_at:{_TIME}}" if facts.received_at else UNKNOWN,
        deadline=f"{facts.deadline:{_TIME}}" if facts.deadline else UNKNOWN,
        timeliness=_timeliness(facts),
        version=_version_text(facts, accepted=report.accepted),
        accepted=report.accepted,
        verdict=VERDICT_ZH[report.accepted],
        n_errors=report.n_errors,
        n_warnings=report.n_warnings,
        rows=rows,
    )


def unit_names(registry: pl.DataFrame | None, units: Iterable[str | None]) -> dict[str, str]:
    """Registry name per unit code, for the units asked (a national registry is never turned into a dict whole)."""
    wanted = [u for u in set(units) if u is not None]
    if registry is None or not wanted:
        return {}
    found = registry.filter(pl.col("code").is_in(wanted)).select("code", "name")
    return dict(found.iter_rows())


def ledger_facts(
    home: Home, submission_ids: Sequence[str], reports: Sequence[Report], *, period: str
) -> list[ReceiptFacts]:
    """The receipt facts of recorded submissions: registry names, the period's deadline, versions from the ledger."""
    lineage = home.store.lineage(submission_ids)
    rechecked = home.store.rechecked(submission_ids)
    try:
        names = unit_names(home.registry(period), (r.unit for r in reports))
    except RectifyError:  # no registry in force: the receipt says the name is unknown
        names = {}
    deadline = home.deadline(period)
    out = []
    for sid, report in zip(submission_ids, reports, strict=True):
        line = lineage.get(sid)
        out.append(ReceiptFacts(
            unit_name=names.get(report.unit or ""),
            received_at=line.received_at if line else None,
            deadline=deadline,
            version=line.version if line else None,
            replaces=Version(*line.replaced) if line and line.replaced else None,
            current=Version(*line.current) if line and line.current else None,
            recheck=f"重新审核第{again.of_version}版的原件：{again.reason}" if (again := rechecked.get(sid)) else None,
        ))  # fmt: skip
    return out
