"""kill -9 at every step of ``recheck``: the store is as it was (migration included), or the new version is whole.

Like :mod:`tests.test_history_crash`: the re-judgement runs in a subprocess
that SIGKILLs itself at ``$RECTIFY_FAULT_STEP``; then the ledger is checked
(SQLite integrity, the same submissions, re-judgements, index and counted
rows) and the lock must be free for the next writer.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from jobs import api
from jobs.intake.parallel import ingest_paths
from tests.conftest import home_with_registry
from tests.test_intake import REGISTRY, FakeValidator, put

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2015-02"
SENT = datetime(2015, 2, 20, 9)
RECHECK = """
import sys
sys.path.insert(0, {root!r})
from jobs.intake.recheck import recheck_version
from jobs.office.home import Home
from tests.test_intake import FakeValidator
recheck_version(Home({home!r}), period={period!r}, unit="110000", version=2, reason="复核", by="王五",
                validator=FakeValidator())
print("done", flush=True)
"""


@pytest.fixture
def home(tmp_path):
    """北京市: v1 accepted, v2 rejected (``ok`` false: the FakeValidator rejects it again, v1 keeps counting)."""
    home = home_with_registry(tmp_path, REGISTRY)
    for k, ok in enumerate((True, False)):
        path = put(tmp_path / "in", f"bj{k + 1}.xlsx", "110000", ["甲"] * (k + 1), ok=ok)
        ingest_paths(home, [path], period=PERIOD, validator=FakeValidator(), received_at=SENT, receipts=False)
    return home


def snapshot(home) -> tuple:
    with sqlite3.connect(home.store.ledger_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        unique = {r[1]: r[2] for r in conn.execute("PRAGMA index_list(submissions)")}["submissions_period_sha"]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rechecks = None
        if "rechecks" in tables:
            rechecks = conn.execute("SELECT submission_id, of_version, version, reason, actor FROM rechecks").fetchall()
    return (home.store.submissions(PERIOD).drop("ingested_at"), (unique, rechecks),
            home.store.load_tables(PERIOD)["ledger"])  # fmt: skip


def assert_same(got: tuple, want: tuple) -> None:
    assert_frame_equal(got[0], want[0])
    assert got[1] == want[1]
    assert_frame_equal(got[2].sort("submission_id", "row"), want[2].sort("submission_id", "row"))


def killed(home, step: str) -> subprocess.CompletedProcess:
    script = RECHECK.format(root=str(ROOT), home=str(home.root), period=PERIOD)
    # the killed process leaves its temporary copy of the original behind: in the test's folder, not /tmp
    tmp = home.root.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "RECTIFY_FAULT_STEP": step, "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=False)  # fmt: skip


def test_kill_at_every_step_of_a_recheck(home, tmp_path):
    before = snapshot(home)
    assert before[1] == (1, None)  # the ledger as intake made it: unique index, no rechecks table
    for step in ("archived", "validated", "parquet-written", "before-commit"):
        done = killed(home, step)
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert_same(snapshot(home), before)  # killed before its commit: as it was, not even migrated
    done = killed(home, "committed")
    assert done.returncode == -signal.SIGKILL, done.stderr
    subs, (unique, rechecks), ledger = snapshot(home)
    assert subs.height == 3 and subs["version"].to_list() == [1, 2, 3]
    assert subs["sha256"][2] == subs["sha256"][1] and subs["received_at"][2] == SENT
    assert (unique, rechecks) == (0, [(subs["submission_id"][2], 2, 3, "复核", "王五")])
    assert_frame_equal(ledger.sort("row"), before[2].sort("row"))  # rejected again: v1 still counts
    # the lock died with the process; the receipt the kill cost is issued by a plain re-send of the file
    resent = ingest_paths(home, [tmp_path / "in" / "bj2.xlsx"], period=PERIOD, validator=FakeValidator(),
                          received_at=SENT)  # fmt: skip
    (outcome,) = resent.files
    assert (outcome.status, outcome.version) == ("duplicate", 3)
    assert outcome.receipt is not None and outcome.receipt.name.endswith("-r2.xlsx")
    assert [v.state for v in api.history(home, period=PERIOD, unit="110000")] == ["counting", "rejected", "rejected"]
