"""kill -9 at every step of ``withdraw``/``restore``: the store is as it was, or the change is whole.

Extends the store's crash tests (:mod:`tests.test_crash`): the change runs in
a subprocess that SIGKILLs itself at ``$RECTIFY_FAULT_STEP``; then the ledger
is checked (SQLite integrity, the same submissions, events and counted rows)
and the change is run again in this process, which must find the lock free.
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
CHANGE = """
import sys
sys.path.insert(0, {root!r})
from jobs import api
from jobs.office.home import Home
getattr(api, {action!r})(Home({home!r}), period={period!r}, unit="110000", version=2, reason="误报", by="王五")
print("done", flush=True)
"""


@pytest.fixture
def home(tmp_path):
    home = home_with_registry(tmp_path, REGISTRY)
    for k, (problems, at) in enumerate(((["甲"], datetime(2015, 2, 20)), (["甲", "乙"], datetime(2015, 2, 25)))):
        path = put(tmp_path / "in", f"bj{k}.xlsx", "110000", problems)
        ingest_paths(home, [path], period=PERIOD, validator=FakeValidator(), received_at=at, receipts=False)
    return home


def snapshot(home) -> tuple:
    with sqlite3.connect(home.store.ledger_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        events = conn.execute("SELECT submission_id, version, action, reason, actor FROM events ORDER BY seq")
        events = events.fetchall()
    return home.store.submissions(PERIOD).drop("ingested_at"), events, home.store.load_tables(PERIOD)["ledger"]


def assert_same(got: tuple, want: tuple) -> None:
    assert_frame_equal(got[0], want[0])
    assert got[1] == want[1]
    assert_frame_equal(got[2].sort("submission_id", "row"), want[2].sort("submission_id", "row"))


def killed(home, action: str, step: str) -> subprocess.CompletedProcess:
    script = CHANGE.format(root=str(ROOT), home=str(home.root), period=PERIOD, action=action)
    env = {**os.environ, "RECTIFY_FAULT_STEP": step}
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=False)  # fmt: skip


@pytest.mark.parametrize("action", ["withdraw", "restore"])
def test_kill_at_every_step_of_a_change(home, action):
    if action == "restore":
        api.withdraw(home, period=PERIOD, unit="110000", version=2, reason="先撤回", by="x")
    before = snapshot(home)
    for step in ("history-checked", "history-before-commit"):
        done = killed(home, action, step)
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert_same(snapshot(home), before)  # killed before its commit: as it was
    done = killed(home, action, "history-committed")
    assert done.returncode == -signal.SIGKILL, done.stderr
    after = snapshot(home)
    assert after[1][len(before[1]):] == [(after[0]["submission_id"][1], 2, action, "误报", "王五")]
    counting = 2 if action == "restore" else 1
    assert home.store.current(PERIOD)["version"].to_list() == [counting]
    assert after[2]["submission_id"].unique().to_list() == home.store.current(PERIOD)["submission_id"].to_list()
    # the lock died with the process: the next change runs at once and sees the committed one
    again = api.withdraw if action == "restore" else api.restore
    change = again(home, period=PERIOD, unit="110000", version=2, reason="再改", by="x")
    assert change.counting_before == counting
