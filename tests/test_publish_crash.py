"""kill -9 at every step of ``publish --revise``: the previous publication stays in force, or the new one is whole.

Extends the crash tests (:mod:`tests.test_history_crash`): the revision runs in
a subprocess that SIGKILLs itself at ``$RECTIFY_FAULT_STEP``; then the ledger is
checked (SQLite integrity, the same publications) and the published view still
shows the first publication's figures; a kill after the commit shows the
revision whole, and the next publish finds the lock free.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from jobs import api
from jobs.rollup.status import compute_status
from tests.test_publish import (
    EARLY,
    LATE_ONES,
    PERIOD,
    feed,
    figures,
    make_home,
    summarize_json,
)

ROOT = Path(__file__).resolve().parent.parent
REVISE = """
import sys
sys.path.insert(0, {root!r})
from jobs import api
from jobs.office.home import Home
api.publish(Home({home!r}), period={period!r}, revise=True, reason="补报", by="王五")
print("done", flush=True)
"""


def ledger(home) -> tuple:
    with sqlite3.connect(home.store.ledger_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        pubs = conn.execute("SELECT period, revision, actor, reason FROM publications ORDER BY revision").fetchall()
        frozen = conn.execute("SELECT revision, COUNT(*) FROM published_versions GROUP BY revision").fetchall()
    return pubs, frozen


def killed(home, step: str) -> subprocess.CompletedProcess:
    script = REVISE.format(root=str(ROOT), home=str(home.root), period=PERIOD)
    env = {**os.environ, "RECTIFY_FAULT_STEP": step}
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=False)  # fmt: skip


def test_kill_at_every_step_of_a_publication(tmp_path):
    home = make_home(tmp_path / "a", EARLY)
    api.publish(home, period=PERIOD, by="张三")
    first = summarize_json(home)
    feed(home, tmp_path / "a", LATE_ONES)
    before = ledger(home)
    assert before[0] == [(PERIOD, 1, "张三", None)]
    for step in ("publish-summarized", "publish-checked", "publish-before-commit"):
        done = killed(home, step)
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert ledger(home) == before  # killed before its commit: the first publication is in force
        now = summarize_json(home)
        assert figures(now) == figures(first) and now["revision"] == 1 and len(now["received_after_publish"]) == 3
        assert compute_status(home, period=PERIOD).totals["units_reported"] == 1
    done = killed(home, "publish-committed")
    assert done.returncode == -signal.SIGKILL, done.stderr
    pubs, frozen = ledger(home)
    assert pubs == [(PERIOD, 1, "张三", None), (PERIOD, 2, "王五", "补报")]
    assert frozen == [(1, 1), (2, 4)]
    revised = summarize_json(home)
    assert revised["revision"] == 2 and revised["received_after_publish"] == []
    assert figures(revised) == figures(summarize_json(make_home(tmp_path / "b", EARLY + LATE_ONES)))
    # the lock died with the process: the next revision runs at once
    assert api.publish(home, period=PERIOD, revise=True, reason="再核", by="x").revision == 3
