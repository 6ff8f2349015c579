"""Publishing a period: the figures sent upward, frozen in the ledger (``rectify publish``).

A publication records, in one transaction, who published the period, when and
why, the registry version and the deadline in force, the last withdrawal or
restore event it saw (``last_event_seq``), the summary itself (the national
JSON and the fingerprint of the saved summary) and, for every submission of
the period recorded by then, its effective ``superseded_by`` at that moment
(``published_versions``; the versions that count are the accepted rows whose
``superseded_by`` is NULL, flagged ``counts``). A revision publishes again:
every revision is kept, the latest is in force.

Both tables are append-only (triggers refuse an UPDATE or DELETE), like
``events``. The published view of a period (:func:`jobs.rollup.period.load_period`)
reads the period's submissions as the latest revision froze them: a return
recorded later is not among them (it is listed as received after publication),
and an event with a seq above ``last_event_seq`` changes nothing until the
next revision, because the frozen ``superseded_by`` already holds its effect.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.core.errors import RectifyError
from jobs.store.history import effective_superseded_by
from jobs.store.types import write_transaction

PUBLICATION_DDL = """
CREATE TABLE IF NOT EXISTS publications (
    period TEXT NOT NULL,
    revision INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    reason TEXT,
    registry_version INTEGER NOT NULL,
    deadline TEXT NOT NULL,
    last_event_seq INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (period, revision)
);
CREATE TABLE IF NOT EXISTS published_versions (
    period TEXT NOT NULL,
    revision INTEGER NOT NULL,
    submission_id TEXT NOT NULL,
    superseded_by TEXT,
    counts INTEGER NOT NULL,
    PRIMARY KEY (period, revision, submission_id)
);
CREATE TRIGGER IF NOT EXISTS publications_no_update BEFORE UPDATE ON publications
BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;
CREATE TRIGGER IF NOT EXISTS publications_no_delete BEFORE DELETE ON publications
BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;
CREATE TRIGGER IF NOT EXISTS published_versions_no_update BEFORE UPDATE ON published_versions
BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;
CREATE TRIGGER IF NOT EXISTS published_versions_no_delete BEFORE DELETE ON published_versions
BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;
"""

_COLUMNS = ("period, revision, at, actor, note, reason, registry_version, deadline, last_event_seq, "
            "fingerprint, summary")  # fmt: skip


class PublicationError(RectifyError):
    """A publication that cannot be made (Chinese message saying why)."""


@dataclass(frozen=True)
class Publication:
    """One recorded publication (revision) of a period."""

    period: str
    revision: int
    at: datetime
    by: str
    note: str
    reason: str | None
    registry_version: int
    deadline: datetime
    last_event_seq: int
    fingerprint: str
    summary: dict[str, Any]

    @property
    def label(self) -> str:
        """Chinese: 第N次发布（时间，发布人）."""
        return f"第{self.revision}次发布（{self.at:%Y-%m-%d %H:%M}，{self.by}）"

    def to_dict(self) -> dict[str, Any]:
        """The publication as JSON (English keys; the summary as published)."""
        return {
            "period": self.period, "revision": self.revision, "published_at": self.at.isoformat(), "by": self.by,
            "note": self.note, "reason": self.reason, "registry_version": self.registry_version,
            "deadline": self.deadline.isoformat(), "last_event_seq": self.last_event_seq,
            "fingerprint": self.fingerprint, "summary": self.summary,
        }  # fmt: skip


def _publication(row: tuple) -> Publication:
    period, revision, at, actor, note, reason, registry, deadline, seq, print_, summary = row
    return Publication(
        period=period, revision=revision, at=datetime.fromisoformat(at), by=actor, note=note, reason=reason,
        registry_version=registry, deadline=datetime.fromisoformat(deadline), last_event_seq=seq,
        fingerprint=print_, summary=json.loads(summary),
    )  # fmt: skip


def publications(conn: sqlite3.Connection, period: str) -> list[Publication]:
    """Every publication of ``period``, first revision first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM publications WHERE period = ? ORDER BY revision", (period,))
    return [_publication(r) for r in rows]


def published_versions(conn: sqlite3.Connection, period: str, revision: int) -> list[tuple[str, str | None, bool]]:
    """``(submission_id, superseded_by, counts)`` of every submission the revision froze."""
    rows = conn.execute(
        "SELECT submission_id, superseded_by, counts FROM published_versions WHERE period = ? AND revision = ? "
        "ORDER BY submission_id",
        (period, revision),
    )
    return [(sid, sup, bool(counts)) for sid, sup, counts in rows]


def record(
    conn: sqlite3.Connection,
    *,
    period: str,
    revise: bool,
    note: str,
    reason: str | None,
    by: str,
    at: datetime,
    registry_version: int,
    deadline: datetime,
    fingerprint: str,
    summary: dict[str, Any],
    default_report_type: str,
    fault: Callable[[str], None],
) -> Publication:
    """Record a publication of ``period`` in one transaction (the caller holds the home's lock).

    The period's submissions are frozen as the ledger shows them inside the
    transaction; the caller computed ``summary`` under the same lock, so it is
    their summary. ``fault`` is called at ``publish-checked`` (nothing written),
    ``publish-before-commit`` (rows written, not committed) and ``publish-committed``.

    Raises
    ------
    PublicationError
        A first publication asked with ``revise``, a period already published
        without ``revise``, or a revision without a reason.
    """
    with write_transaction(conn):
        (last,) = conn.execute("SELECT MAX(revision) FROM publications WHERE period = ?", (period,)).fetchone()
        check_revision(period, last, revise=revise, reason=reason)
        effective = effective_superseded_by(default_report_type)
        rows = conn.execute(
            f"SELECT s.submission_id, {effective}, s.accepted FROM submissions s WHERE s.period = ?", (period,)
        ).fetchall()
        (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        revision = (last or 0) + 1
        fault("publish-checked")
        conn.execute(
            f"INSERT INTO publications ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (period, revision, at.isoformat(), by, note, reason.strip() if revise and reason else None,
             registry_version, deadline.isoformat(), seq, fingerprint,
             json.dumps(summary, ensure_ascii=False, sort_keys=True, default=str)),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO published_versions VALUES (?, ?, ?, ?, ?)",
            [(period, revision, sid, sup, int(bool(accepted) and sup is None)) for sid, sup, accepted in rows],
        )
        fault("publish-before-commit")
    fault("publish-committed")
    return publications(conn, period)[-1]


def check_revision(period: str, last: int | None, *, revise: bool, reason: str | None) -> None:
    """Refuse a publication that cannot be made (``last``: the period's latest revision, None when unpublished).

    Raises
    ------
    PublicationError
        See :func:`record`.
    """
    if revise and not (reason or "").strip():
        msg = "更正发布须用 --reason 写明原因。"
        raise PublicationError(msg)
    if revise and last is None:
        msg = f"{period}尚未发布，不能更正发布；请先运行 rectify publish --period {period}。"
        raise PublicationError(msg)
    if not revise and last is not None:
        msg = (f"{period}已发布（共{last}次）；如需纳入此后收到的报表及撤回、恢复，请用 "
               f"rectify publish --period {period} --revise --reason 原因。")  # fmt: skip
        raise PublicationError(msg)
