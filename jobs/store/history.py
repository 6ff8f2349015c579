"""Which version of a unit's return counts: withdrawals, restores and the version history.

The one rule (every reader goes through :func:`effective_superseded_by`):

    Of a unit's returns of one period and one report type (本级 or 汇总), the
    version that counts is the latest *accepted* version that is not
    *withdrawn*. A rejected version never counts. A version is withdrawn when
    the latest event recorded for it is a withdrawal; restoring it ends that.
    When every accepted version is withdrawn, none counts: the unit has no
    return for the period (it is chased like a unit whose return was returned).

So withdrawing the version that counts makes the latest earlier accepted,
not-withdrawn version count (or none); restoring a withdrawn version makes it
count again only if no later accepted, not-withdrawn version exists (restore
never outranks a later return; withdraw that one too to go back further).

Withdrawals and restores are rows of the ledger's ``events`` table: who, when,
why and what. The table is append-only (triggers refuse an UPDATE or DELETE),
and no submission, finding or archived file is ever deleted or rewritten: the
``superseded_by`` column stays as intake wrote it, and the state that counts
is computed from it and the events whenever the ledger is read. Events carry
a sequence number and a time, so a publication of the month can record the
counting versions and the last event it used; later events then take effect
with its next revision (publishing is not built here).

``superseded_by`` as read (:meth:`jobs.store.Store.submissions`) is therefore
the *effective* one: ``NULL`` for the version that counts (and for rejected
versions no accepted one followed), :data:`WITHDRAWN` for a withdrawn version,
otherwise the accepted submission that replaced it on arrival. Everything
downstream keeps the one test ``accepted AND superseded_by IS NULL``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from jobs.core.errors import RectifyError
from jobs.store.rechecks import Note, notes
from jobs.store.types import write_transaction

Action = Literal["withdraw", "restore"]
State = Literal["counting", "superseded", "withdrawn", "rejected"]
WITHDRAWN = "withdrawn"  # superseded_by of a withdrawn version, as read (never a submission id)
ACTION_LABELS: dict[str, str] = {"withdraw": "撤回", "restore": "恢复"}

HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL,
    period TEXT NOT NULL,
    unit TEXT,
    version INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('withdraw', 'restore')),
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_submission ON events(submission_id, seq);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""


class HistoryError(RectifyError):
    """A withdrawal or restore that cannot be done (Chinese message saying why)."""


def _withdrawn(alias: str) -> str:
    # not correlated with the row: SQLite builds the set once per statement
    # (a per-row look-up cost ~2.5 µs a submission, +0.5 s per 200k read)
    return (f"{alias}.submission_id IN (SELECT e.submission_id FROM events e WHERE e.action = 'withdraw' "
            "AND e.seq = (SELECT MAX(x.seq) FROM events x WHERE x.submission_id = e.submission_id))")  # fmt: skip


def effective_superseded_by(default_report_type: str, alias: str = "s") -> str:
    """SQL for the effective ``superseded_by`` of the ``submissions`` row ``alias`` (the module's rule).

    A row intake left current (``superseded_by IS NULL``) still counts unless
    withdrawn; a replaced accepted row counts again when every later accepted
    row of its unit, period and report type is withdrawn.
    """
    kind = "'" + default_report_type.replace("'", "''") + "'"
    later = (
        f"SELECT 1 FROM submissions l WHERE l.period = {alias}.period AND l.unit = {alias}.unit "
        f"AND l.version > {alias}.version AND l.accepted = 1 "
        f"AND COALESCE(l.report_type, {kind}) = COALESCE({alias}.report_type, {kind}) AND NOT {_withdrawn('l')}"
    )
    return (
        f"CASE WHEN {_withdrawn(alias)} THEN '{WITHDRAWN}' "
        f"WHEN {alias}.superseded_by IS NULL THEN NULL "
        f"WHEN {alias}.accepted = 1 AND NOT EXISTS ({later}) THEN NULL "
        f"ELSE {alias}.superseded_by END"
    )


@dataclass(frozen=True)
class Event:
    """One recorded withdrawal or restore."""

    seq: int
    action: Action
    reason: str
    by: str
    at: datetime

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "reason": self.reason, "by": self.by, "at": self.at.isoformat()}


@dataclass(frozen=True)
class Version:
    """One received version of a unit's return, with what it is now (see :func:`history`)."""

    submission_id: str
    period: str
    unit: str
    version: int
    report_type: str
    received_at: datetime
    file_name: str
    accepted: bool
    n_errors: int
    n_warnings: int
    state: State
    replaced_by: int | None  # the version that counts instead (state superseded)
    events: tuple[Event, ...] = field(default=())
    recheck: Note | None = None  # a deliberate re-judgement of an earlier version's file (jobs.store.rechecks)

    @property
    def label(self) -> str:
        """Chinese: 当前有效 / 已被第N版替代 / 已撤回：reason / 退回."""
        if self.state == "counting":
            return "当前有效"
        if self.state == "rejected":
            return "退回"
        if self.state == "withdrawn":
            last = self.events[-1]
            return f"已撤回：{last.reason}（{last.by}，{last.at:%Y-%m-%d %H:%M}）"
        return f"已被第{self.replaced_by}版替代"

    def to_dict(self) -> dict[str, object]:
        """The ``history --json`` line (English keys)."""
        return {
            "period": self.period, "unit": self.unit, "version": self.version, "report_type": self.report_type,
            "received_at": self.received_at.isoformat(), "file_name": self.file_name,
            "verdict": "accepted" if self.accepted else "rejected", "errors": self.n_errors,
            "warnings": self.n_warnings, "state": self.state, "state_label": self.label,
            "replaced_by": self.replaced_by, "submission_id": self.submission_id,
            "events": [e.to_dict() for e in self.events],
            "recheck": None if self.recheck is None else self.recheck.to_dict(),
        }  # fmt: skip


@dataclass(frozen=True)
class Change:
    """What a withdrawal or restore did: the version and, for its report type, the counting version before and after."""

    action: Action
    period: str
    unit: str
    version: int
    report_type: str
    counting_before: int | None
    counting_after: int | None
    event: Event

    @property
    def message(self) -> str:
        """Chinese summary of the change."""
        head = f"已{ACTION_LABELS[self.action]}单位{self.unit} {self.period} {self.report_type}报表第{self.version}版。"
        if self.counting_after is None:
            return head + "该单位本期已无计入汇总的报表，按未报统计。"
        if self.counting_after == self.counting_before:
            return head + f"计入汇总的仍是第{self.counting_after}版。"
        return head + f"现计入汇总的是第{self.counting_after}版。"


def versions(conn: sqlite3.Connection, *, period: str, unit: str, default_report_type: str) -> list[Version]:
    """Every received version of ``unit`` in ``period`` (both report types), oldest first, with its state."""
    effective = effective_superseded_by(default_report_type)
    rows = conn.execute(
        "SELECT s.submission_id, s.version, COALESCE(s.report_type, ?), s.received_at, s.file_name, s.accepted, "
        f"s.n_errors, s.n_warnings, {effective} FROM submissions s WHERE s.period = ? AND s.unit = ? "
        "ORDER BY s.version",
        (default_report_type, period, unit),
    ).fetchall()
    events: dict[str, list[Event]] = {}
    for sid, seq, action, reason, actor, at in conn.execute(
        "SELECT submission_id, seq, action, reason, actor, at FROM events WHERE period = ? AND unit = ? ORDER BY seq",
        (period, unit),
    ):
        events.setdefault(sid, []).append(Event(seq, action, reason, actor, datetime.fromisoformat(at)))
    rejudged = notes(conn, period=period, unit=unit)
    # the version that counts per report type: accepted, effective superseded_by NULL
    counting = {kind: ver for _sid, ver, kind, _r, _n, accepted, _e, _w, sup in rows if accepted and sup is None}
    out = []
    for sid, version, kind, received, name, accepted, n_err, n_warn, superseded in rows:
        state: State
        if not accepted:
            state = "rejected"
        elif superseded == WITHDRAWN:
            state = "withdrawn"
        elif superseded is None:
            state = "counting"
        else:
            state = "superseded"
        out.append(Version(
            submission_id=sid, period=period, unit=unit, version=version, report_type=kind,
            received_at=datetime.fromisoformat(received), file_name=name, accepted=bool(accepted),
            n_errors=n_err, n_warnings=n_warn, state=state,
            replaced_by=counting.get(kind) if state == "superseded" else None, events=tuple(events.get(sid, ())),
            recheck=rejudged.get(sid),
        ))  # fmt: skip
    return out


def change(
    conn: sqlite3.Connection,
    *,
    action: Action,
    period: str,
    unit: str,
    version: int,
    reason: str,
    by: str,
    at: datetime,
    default_report_type: str,
    fault: Callable[[str], None],
) -> Change:
    """Withdraw or restore one version in one transaction (the caller holds the home's lock).

    ``fault`` is called at ``history-checked`` (inside the transaction, nothing
    written), ``history-before-commit`` (event written, not committed) and
    ``history-committed``.

    Raises
    ------
    HistoryError
        No such version, a rejected version, a version already withdrawn
        (withdraw) or not withdrawn (restore), or an empty reason.
    """
    reason = reason.strip()
    if not reason:
        msg = f"请用 --reason 写明{ACTION_LABELS[action]}的原因。"
        raise HistoryError(msg)
    with write_transaction(conn):
        before = versions(conn, period=period, unit=unit, default_report_type=default_report_type)
        target = _check(before, action=action, period=period, unit=unit, version=version)
        fault("history-checked")
        cursor = conn.execute(
            "INSERT INTO events (submission_id, period, unit, version, action, reason, actor, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (target.submission_id, period, unit, version, action, reason, by, at.isoformat()),
        )
        after = versions(conn, period=period, unit=unit, default_report_type=default_report_type)
        fault("history-before-commit")
    fault("history-committed")
    seq = cursor.lastrowid or 0
    return Change(
        action=action, period=period, unit=unit, version=version, report_type=target.report_type,
        counting_before=_counting(before, target.report_type), counting_after=_counting(after, target.report_type),
        event=Event(seq, action, reason, by, at),
    )  # fmt: skip


def _counting(found: list[Version], report_type: str) -> int | None:
    return next((v.version for v in found if v.state == "counting" and v.report_type == report_type), None)


def find_version(
    found: list[Version], *, period: str, unit: str, version: int, error: type[HistoryError] = HistoryError
) -> Version:
    """The version numbered ``version`` among a unit's ``found`` versions; ``error`` (Chinese) when absent."""
    target = next((v for v in found if v.version == version), None)
    if target is None:
        have = "、".join(str(v.version) for v in found)
        msg = (f"单位{unit}在{period}没有第{version}版报表" + (f"（已收到第{have}版）。" if have else "（本期未收到报表）。")
               + "可用 rectify history 查看。")  # fmt: skip
        raise error(msg)
    return target


def _check(found: list[Version], *, action: Action, period: str, unit: str, version: int) -> Version:
    target = find_version(found, period=period, unit=unit, version=version)
    if target.state == "rejected":
        msg = (f"单位{unit} {period} 第{version}版已退回（{target.n_errors}处错误），从未计入汇总，不能"
               f"{ACTION_LABELS[action]}；请单位改正后重新报送。")  # fmt: skip
        raise HistoryError(msg)
    if action == "withdraw" and target.state == "withdrawn":
        msg = f"单位{unit} {period} 第{version}版已经撤回（{target.events[-1].reason}），无需再撤回。"
        raise HistoryError(msg)
    if action == "restore" and target.state != "withdrawn":
        msg = f"单位{unit} {period} 第{version}版未被撤回（{target.label}），无需恢复。"
        raise HistoryError(msg)
    return target
