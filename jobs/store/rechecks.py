"""Re-judging an archived file on purpose (``rectify recheck``): a new version, the reason kept.

The office's case: a unit's return was rejected because the office's own
data was wrong (the registry lacked the unit, a threshold or the catalogue
was wrong). Once that is fixed, the *same* file is judged again by the one
intake pipeline (:func:`jobs.intake.parallel.ingest_paths` with ``again``)
and recorded as a new version of the unit, with the rules of
:mod:`jobs.store.history` deciding which version counts. Rules:

- only a deliberate re-judgement records a file a second time; a plain
  re-send of a recorded file stays a ``duplicate`` that changes nothing;
- the new row's id is ``<period>-<sha[:20]>-r<n>`` (``n``: the file's
  ``n``-th judgement in the period; the first is the plain ``<period>-<sha[:20]>``);
- ``received_at`` stays the original arrival time: the unit sent the file
  then, so whether it was on time does not change because the office erred;
- the reason, who and when are a row of the ``rechecks`` table, append-only
  like ``events`` (triggers refuse an UPDATE or DELETE). A separate table,
  because SQLite cannot alter the ``CHECK`` of ``events.action`` in place;
- nothing is deleted: the earlier version stays in the history.

Migration, in the transaction that records the first re-judgement (under the
home's lock, so a kill leaves the ledger as it was or fully migrated): the
unique index ``submissions_period_sha`` is replaced by a plain index of the
same name (the ledger's DDL creates it ``IF NOT EXISTS`` by name, so it is
not re-created as unique), and the ``rechecks`` table is created. Plain
ingests stay unique per period and file by their primary key
``<period>-<sha[:20]>`` and by :meth:`jobs.store.Store.known`. Readers never
create the table: a ledger without it has no re-judgements.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.store.types import submission_id

INDEX = "submissions_period_sha"
_RECHECK_ID = re.compile(r"-r\d+$")
TABLE = "rechecks"
_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    submission_id TEXT PRIMARY KEY,
    recheck_of TEXT NOT NULL,
    period TEXT NOT NULL,
    unit TEXT,
    version INTEGER NOT NULL,
    of_version INTEGER NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
)""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_unit ON {TABLE}(period, unit)",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'rechecks are append-only'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'rechecks are append-only'); END""",
)


@dataclass(frozen=True)
class Recheck:
    """A deliberate re-judgement of one recorded submission's archived file."""

    of: str  # the submission re-judged
    of_version: int
    sha256: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Note:
    """What a re-judged version records: which version it re-judged, why, who and when."""

    of_version: int
    reason: str
    by: str
    at: datetime

    @property
    def label(self) -> str:
        """Chinese: 重新审核第N版：reason（by，time）."""
        return f"重新审核第{self.of_version}版：{self.reason}（{self.by}，{self.at:%Y-%m-%d %H:%M}）"

    def to_dict(self) -> dict[str, object]:
        return {"of_version": self.of_version, "reason": self.reason, "by": self.by, "at": self.at.isoformat()}


def new_id(conn: sqlite3.Connection, *, period: str, sha256: str) -> str:
    """The id of the file's next judgement in ``period``: ``<period>-<sha[:20]>-r<n>`` (caller holds the lock)."""
    (n,) = conn.execute("SELECT COUNT(*) FROM submissions WHERE period=? AND sha256=?", (period, sha256)).fetchone()
    return f"{submission_id(period, sha256)}-r{n + 1}"


def migrate(conn: sqlite3.Connection) -> None:
    """Make the ledger hold re-judgements (in the caller's transaction; idempotent): see the module."""
    unique = {row[1]: bool(row[2]) for row in conn.execute("PRAGMA index_list(submissions)")}
    if unique.get(INDEX):
        conn.execute(f"DROP INDEX {INDEX}")
        conn.execute(f"CREATE INDEX {INDEX} ON submissions(period, sha256)")
    for statement in _DDL:
        conn.execute(statement)


def record(
    conn: sqlite3.Connection, again: Recheck, *, submission_id: str, period: str, unit: str | None, version: int
) -> None:
    """Record why ``submission_id`` re-judges ``again.of`` (in the transaction that inserted it, after :func:`migrate`)."""
    conn.execute(
        f"INSERT INTO {TABLE} (submission_id, recheck_of, period, unit, version, of_version, reason, actor, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (submission_id, again.of, period, unit, version, again.of_version, again.reason, again.by,
         again.at.isoformat()),
    )  # fmt: skip


def notes(conn: sqlite3.Connection, *, period: str, unit: str) -> dict[str, Note]:
    """``submission_id -> Note`` of ``unit``'s re-judged versions in ``period`` (none before the first)."""
    if not _has_table(conn):
        return {}
    rows = conn.execute(
        f"SELECT submission_id, of_version, reason, actor, at FROM {TABLE} WHERE period=? AND unit=?", (period, unit)
    )
    return {sid: Note(of, reason, actor, datetime.fromisoformat(at)) for sid, of, reason, actor, at in rows}


def of_submissions(conn: sqlite3.Connection, submission_ids: Sequence[str]) -> dict[str, Note]:
    """``submission_id -> Note`` of those of ``submission_ids`` that are re-judgements."""
    again = [sid for sid in submission_ids if _RECHECK_ID.search(sid)]  # the others need no look-up
    if not again or not _has_table(conn):
        return {}
    out: dict[str, Note] = {}
    for start in range(0, len(again), 500):
        chunk = again[start : start + 500]
        rows = conn.execute(f"SELECT submission_id, of_version, reason, actor, at FROM {TABLE} "
                            f"WHERE submission_id IN ({','.join('?' * len(chunk))})", chunk)  # fmt: skip
        out.update((sid, Note(of, reason, actor, datetime.fromisoformat(at))) for sid, of, reason, actor, at in rows)
    return out


def _has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)).fetchone() is not None


def original(conn: sqlite3.Connection, sid: str) -> tuple[str, str, datetime]:
    """``(sha256, archive_path, received_at)`` of a recorded submission (KeyError: none)."""
    row = conn.execute(
        "SELECT sha256, archive_path, received_at FROM submissions WHERE submission_id=?", (sid,)
    ).fetchone()
    if row is None:
        raise KeyError(sid)
    return row[0], row[1], datetime.fromisoformat(row[2])
