"""Killing a pool-mode ingest (SIGTERM or kill -9 of the parent) leaves no worker process behind.

The ingest runs in a subprocess on a local process pool whose validator marks
each worker busy and then takes far longer than the test waits; once both
workers are busy the parent is killed, and every process it started (fork
server, resource tracker, workers) must be gone within a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import home_with_registry
from tests.test_intake import REGISTRY, put

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
GONE_WITHIN = 10.0  # seconds; a worker left alone would sleep for SLOW_SECONDS
SLOW_SECONDS = 120

SLOW_VALIDATOR = '''
import os, time
from pathlib import Path
from tests.test_intake import FakeValidator


class SlowValidator(FakeValidator):
    """Marks the worker busy (a file named by its pid), then works far longer than the test waits."""

    def __init__(self, marks):
        super().__init__()
        self.marks = marks

    def __call__(self, paths, **options):
        (Path(self.marks) / str(os.getpid())).touch()
        time.sleep({slow})
        return super().__call__(paths, **options)
'''

INGEST = """
import sys
sys.path[:0] = [{root!r}, {here!r}]
from slow_validator import SlowValidator
from jobs.office.home import Home
from jobs.intake.executors import LocalExecutor
from jobs.intake.parallel import ingest_paths
with LocalExecutor(workers={workers}, preload=()) as executor:
    ingest_paths(Home({home!r}), [{inbox!r}], period="2015-02", validator=SlowValidator({marks!r}), batch_size=1,
                 executor=executor, receipts=False)
"""


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def _children() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            out[int(entry.name)] = int(stat.rpartition(b")")[2].split()[1])
    return out


def _descendants(pid: int) -> set[int]:
    parents = _children()
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        todo += sorted(kids - found)
        found |= kids
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")  # a zombie holds no memory; its new parent reaps it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_killed_pool_ingest_leaves_no_workers(home, tmp_path, sig):
    inbox, marks = tmp_path / "inbox", tmp_path / "marks"
    marks.mkdir()
    for k in range(2 * WORKERS):
        put(inbox, f"r{k}.xlsx", "110000" if k % 2 else "120000", [f"问题{k}"])
    (tmp_path / "slow_validator.py").write_text(SLOW_VALIDATOR.format(slow=SLOW_SECONDS), encoding="utf-8")
    script = INGEST.format(root=str(ROOT), here=str(tmp_path), home=str(home.root), inbox=str(inbox),
                           marks=str(marks), workers=WORKERS)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE)  # noqa: S603
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(list(marks.iterdir())) < WORKERS:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.1)
        workers = {int(p.name) for p in marks.iterdir()}
        started = _descendants(proc.pid)
        assert workers <= started
        proc.send_signal(sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + GONE_WITHIN
        while {p for p in started if _running(p)} and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {p for p in started if _running(p)}
        assert not left, f"processes left behind after {sig.name}: {sorted(left)} (workers {sorted(workers)})"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in started | {int(p.name) for p in marks.iterdir()}:
            if _running(pid):  # only on failure: the processes this test started, by pid
                os.kill(pid, signal.SIGKILL)
