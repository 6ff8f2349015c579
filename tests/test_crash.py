"""Crash safety and concurrency of the store: kill -9 anywhere, rerun, nothing lost or counted twice.

An ingest runs in a subprocess and is SIGKILLed at a random moment of its
work, 20 times over a growing inbox; after every kill the store is checked
(SQLite integrity, each file recorded at most once, the current returns'
Parquet rows complete and unique, every recorded file archived), and the next
round reruns the ingest over the same inbox. Validation is the intake tests'
fake validator (JSON "returns"): the store, not GX, is under test here, and a
subprocess start stays cheap. A summarize is killed the same way; two writers
at once wait for each other's lock; readers never see a partial write.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from jobs.office.home import init_home
from jobs.office.lock import store_lock
from jobs.rollup.run import CLOSED
from jobs.store import submission_id
from tests.test_intake import FakeValidator, put

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2015-02"
KILLS = 20
# three units a round, for as many rounds as the kill loop may take (3 * KILLS)
UNITS = [f"{110000 + 100 * i}" for i in range(3 * (3 * KILLS + 1) + 3)]

INGEST = """
import sys, time
sys.path.insert(0, {root!r})
from tests.test_intake import FakeValidator
from jobs.office.home import Home
from jobs.intake.parallel import ingest_paths
home = Home({home!r})
print("start", flush=True)
t0 = time.perf_counter()
ingest_paths(home, [{inbox!r}], period={period!r}, validator=FakeValidator(), batch_size=1,
             fault_hook=lambda step: print(step, flush=True), receipts={receipts!r})
print("done", time.perf_counter() - t0, flush=True)
"""


def _registry(path: Path) -> Path:
    lines = ["单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送", "000000,全国,,全国,地方,,,否"]
    lines += [f"{code},单位{code},000000,省级,地方,张三,010-1,是" for code in UNITS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path):
    h = init_home(tmp_path / "home")
    h.import_registry(_registry(tmp_path / "registry.csv"), from_period="2015-01")
    return h


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _add_round(inbox: Path, n: int, expected: dict[str, int | None]) -> None:
    """Two accepted returns of new units and one rejected file; ``expected`` maps sha -> ledger rows (None: rejected)."""
    for k, unit in enumerate(UNITS[3 * n : 3 * n + 2]):
        path = put(inbox, f"r{n:02d}-{k}.xlsx", unit, [f"问题{n}-{k}-{i}" for i in range(1 + (n + k) % 3)])
        expected[_sha(path)] = 1 + (n + k) % 3
    path = put(inbox, f"r{n:02d}-bad.xlsx", UNITS[3 * n + 2], ["甲"], ok=False)
    expected[_sha(path)] = None


def check_rows_complete(home, expected: dict[str, int | None]) -> int:
    """One read of the current returns' rows: each return has all its rows, once, or none."""
    by_id = {submission_id(PERIOD, sha): n for sha, n in expected.items()}
    ledger = home.store.load_tables(PERIOD).get("ledger")
    if ledger is None:
        return 0
    assert ledger.select("submission_id", "row").is_duplicated().sum() == 0, "a row counted twice"
    for sid, n in ledger.group_by("submission_id").len().iter_rows():
        assert by_id[sid] == n, (sid, n, by_id[sid])
    return ledger.height


def check_consistent(home, expected: dict[str, int | None]) -> pl.DataFrame:
    """The store after a crash: intact, nothing twice, current returns' rows complete."""
    store = home.store
    with sqlite3.connect(store.ledger_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    subs = store.submissions(PERIOD)
    assert subs["sha256"].n_unique() == subs.height, "a file recorded twice"
    assert set(subs["sha256"]) <= set(expected)
    for row in subs.iter_rows(named=True):
        assert row["accepted"] == (expected[row["sha256"]] is not None), row
        assert Path(row["archive_path"]).is_file() or (store.root / row["archive_path"]).is_file(), row
    current = subs.filter(pl.col("accepted") & pl.col("superseded_by").is_null())
    assert current["unit"].n_unique() == current.height, "two current returns for one unit"
    tables = store.load_tables(PERIOD)
    ledger = tables.get("ledger", pl.DataFrame(schema={"submission_id": pl.Utf8, "row": pl.Int32}))
    assert ledger.select("submission_id", "row").is_duplicated().sum() == 0, "a row counted twice"
    per_sub = dict(ledger.group_by("submission_id").len().iter_rows())
    want = {r["submission_id"]: expected[r["sha256"]] for r in current.iter_rows(named=True)}
    assert per_sub == want
    return subs


def _start(home, inbox: Path, *, receipts: bool = True) -> subprocess.Popen:
    script = INGEST.format(root=str(ROOT), home=str(home.root), inbox=str(inbox), period=PERIOD, receipts=receipts)
    proc = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "start", proc.stderr.read() if proc.stderr else ""
    return proc


@pytest.mark.slow
def test_kill_ingest_at_random_points_then_rerun(home, tmp_path):
    rng = random.Random(20260530)
    inbox = tmp_path / "inbox"
    expected: dict[str, int | None] = {}
    _add_round(inbox, 0, expected)
    proc = _start(home, inbox)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    work = float(out.strip().splitlines()[-1].split()[1])  # seconds of ingest work for one round
    check_consistent(home, expected)

    kills, steps, rounds = 0, [], 0
    while kills < KILLS and rounds < 3 * KILLS:
        rounds += 1
        _add_round(inbox, rounds, expected)
        proc = _start(home, inbox)
        time.sleep(rng.uniform(0, work))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        seen = out.strip().splitlines()
        finished = bool(seen) and seen[-1].startswith("done")  # the kill came after the work
        if not finished:
            assert proc.returncode == -signal.SIGKILL, err
            kills += 1
            steps.append(seen[-1] if seen else "before-any-step")
        check_consistent(home, expected)
    assert kills == KILLS
    print(f"{kills} kills in {rounds} rounds at steps {sorted(set(steps))}")
    assert len(set(steps)) >= 2, f"kills should land at different steps: {steps}"

    # The rerun after the last kill: every file recorded exactly once, every accepted one counted.
    from jobs.intake.parallel import ingest_paths

    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    subs = check_consistent(home, expected)
    assert set(subs["sha256"]) == set(expected)
    ledger = home.store.load_tables(PERIOD)["ledger"]
    assert ledger.height == sum(n for n in expected.values() if n)
    assert not list(home.store.root.rglob("*.tmp"))


@pytest.mark.slow
def test_second_writer_waits_for_the_lock(home, tmp_path):
    inbox = tmp_path / "inbox"
    expected: dict[str, int | None] = {}
    _add_round(inbox, 0, expected)
    with store_lock(home.root, holder="test"):
        proc = _start(home, inbox)
        time.sleep(2.0)
        assert proc.poll() is None, "the ingest should be waiting for the lock"
        assert home.store.submissions(PERIOD).height == 0
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert set(check_consistent(home, expected)["sha256"]) == set(expected)


@pytest.mark.slow
def test_two_ingests_at_once_record_each_file_once_and_readers_never_see_partial_writes(home, tmp_path):
    _two_ingests(home, tmp_path, receipts=False)


def test_two_writers_issuing_the_same_receipt_at_once(home, tmp_path, monkeypatch):
    import threading

    import jobs.intake.receipts
    from jobs.intake.batch import issue_receipt
    from jobs.intake.parallel import ingest_paths

    inbox = tmp_path / "inbox"
    put(inbox, "bj.xlsx", "110000", ["甲"])
    (outcome,) = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), receipts=False).files
    real = jobs.intake.receipts.write_receipt

    def slow_write(*args, **kwargs):  # widen the window between writing the temp file and renaming it
        out = real(*args, **kwargs)
        time.sleep(0.5)
        return out

    monkeypatch.setattr(jobs.intake.receipts, "write_receipt", slow_write)
    errors: list[object] = []

    def issue() -> None:
        try:
            written = issue_receipt(home, outcome, period=PERIOD)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        else:
            if not isinstance(written, Path):  # a failed receipt is reported, not raised
                errors.append(written)

    threads = [threading.Thread(target=issue) for _ in range(2)]
    threads[0].start()
    time.sleep(0.2)
    threads[1].start()
    for thread in threads:
        thread.join()
    assert errors == []


def _two_ingests(home, tmp_path, *, receipts: bool) -> None:
    inbox = tmp_path / "inbox"
    expected: dict[str, int | None] = {}
    for n in range(6):
        _add_round(inbox, n, expected)
    first, second = _start(home, inbox, receipts=receipts), _start(home, inbox, receipts=receipts)
    reads = 0
    seen_rows = []
    while first.poll() is None or second.poll() is None:
        # WAL readers see the last committed state: whole returns, never half a batch.
        seen_rows.append(check_rows_complete(home, expected))
        reads += 1
    assert seen_rows == sorted(seen_rows), "a reader saw rows disappear"
    for proc in (first, second):
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    subs = check_consistent(home, expected)
    assert set(subs["sha256"]) == set(expected)
    assert reads >= 1


SUMMARIZE = """
import sys
sys.path.insert(0, {root!r})
from click.testing import CliRunner
from jobs.cli import main
print("start", flush=True)
result = CliRunner().invoke(main, ["summarize", "--period", {period!r}, "--home", {home!r}])
print("done", result.exit_code, flush=True)
"""


@pytest.mark.slow
def test_kill_summarize_then_rerun_gives_the_same_outputs(home, tmp_path):
    from click.testing import CliRunner

    from jobs.cli import main
    from jobs.intake.parallel import ingest_paths

    inbox = tmp_path / "inbox"
    expected: dict[str, int | None] = {}
    for n in range(4):
        _add_round(inbox, n, expected)
    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    runner = CliRunner()
    first = runner.invoke(main, ["summarize", "--period", PERIOD, "--home", str(home.root), "--json"])
    assert first.exit_code == 0, first.output
    folder = home.root / "summaries" / PERIOD
    reference = json.loads((folder / "national.json").read_text(encoding="utf-8"))

    rng = random.Random(7)
    script = SUMMARIZE.format(root=str(ROOT), period=PERIOD, home=str(home.root))
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "start"
        time.sleep(rng.uniform(0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        # Whatever moment it died, every visible output is complete and readable.
        for path in folder.iterdir():
            if path.name.startswith("."):
                continue
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".parquet":
                pl.read_parquet(path)
        assert json.loads((folder / "national.json").read_text(encoding="utf-8")) == reference
    again = runner.invoke(main, ["summarize", "--period", PERIOD, "--home", str(home.root)])
    assert again.exit_code == 0, again.output
    assert json.loads((folder / "national.json").read_text(encoding="utf-8")) == reference


SUMMARIZE_KILLED_AT = """
import os, signal, sys
sys.path.insert(0, {root!r})
import jobs.rollup.run as run
from jobs.api import summarize
from jobs.office.home import Home

writes = 0


def atomic_write(path, content, **options):
    # the moment between two of the save's writes: die as kill -9 would
    global writes
    writes += 1
    if writes == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, content, **options)


real, run.atomic_write = run.atomic_write, atomic_write
summarize(Home({home!r}), period={period!r})
print("writes", writes, flush=True)
"""


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def test_summarize_killed_between_its_writes_leaves_one_run_s_outputs(home, tmp_path):
    # the seven outputs, the closed items and source.json: a kill after each write in turn
    from jobs.api import summarize
    from jobs.intake.parallel import ingest_paths

    inbox = tmp_path / "inbox"
    expected: dict[str, int | None] = {}
    _add_round(inbox, 0, expected)
    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    summarize(home, period=PERIOD)
    folder = home.root / "summaries" / PERIOD
    old = _outputs(folder)
    assert {"nodes.parquet", "national.json", "source.json", CLOSED} <= set(old)
    _add_round(inbox, 1, expected)  # the next run's outputs differ from these
    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())

    def run(kill_at: int) -> subprocess.CompletedProcess:
        script = SUMMARIZE_KILLED_AT.format(root=str(ROOT), home=str(home.root), period=PERIOD, kill_at=kill_at)
        return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                              timeout=120, check=False)  # fmt: skip

    for kill_at in range(1, len(old) + 1):
        done = run(kill_at)
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert _outputs(folder) == old, f"killed after write {kill_at - 1}: outputs of two runs"
    done = run(0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["writes", str(len(old))]
    new = _outputs(folder)
    assert set(new) == set(old) and new["national.json"] != old["national.json"]
    # the versions of the killed saves are gone; the one before stays for a reader still reading it
    versions = [p for p in folder.parent.iterdir() if p.name.startswith(f".{PERIOD}.")]
    assert len(versions) == 2, versions
    assert folder.resolve() in versions


def test_summarize_saves_under_the_home_lock(home, tmp_path):
    from jobs.api import summarize
    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import Home
    from jobs.office.lock import LockTimeout

    inbox = tmp_path / "inbox"
    _add_round(inbox, 0, {})
    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    config = home.root / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "lock_timeout_seconds = 600.0", "lock_timeout_seconds = 0.2"), encoding="utf-8")  # fmt: skip
    impatient = Home(home.root)
    assert impatient.config.limits.lock_timeout_seconds == 0.2
    with store_lock(home.root, holder="test"), pytest.raises(LockTimeout):
        summarize(impatient, period=PERIOD)
    assert not (home.root / "summaries" / PERIOD).exists()
    summarize(impatient, period=PERIOD)
    assert (home.root / "summaries" / PERIOD / "national.json").is_file()


def test_a_summary_folder_of_an_earlier_version_is_replaced_by_the_link(home, tmp_path):
    from jobs.api import summarize
    from jobs.intake.parallel import ingest_paths

    inbox = tmp_path / "inbox"
    _add_round(inbox, 0, {})
    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    folder = home.root / "summaries" / PERIOD
    folder.mkdir(parents=True)
    (folder / "national.json").write_text("{}", encoding="utf-8")  # saved in place, as before
    summarize(home, period=PERIOD)
    assert folder.is_symlink() and json.loads((folder / "national.json").read_text(encoding="utf-8"))["unit"]
    summarize(home, period=PERIOD)
    summarize(home, period=PERIOD)
    hidden = sorted(p.name for p in folder.parent.iterdir() if p.name.startswith("."))
    assert len(hidden) == 2 and not any(name.endswith((".old", ".link")) for name in hidden), hidden


def test_a_reader_sees_one_saved_version_throughout(home, tmp_path):
    from jobs.api import summarize
    from jobs.intake.parallel import ingest_paths
    from jobs.rollup.run import _saved, fingerprint

    inbox = tmp_path / "inbox"
    _add_round(inbox, 0, {})
    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    summarize(home, period=PERIOD)
    subs = home.store.submissions()
    saved = _saved(home, PERIOD, fingerprint(home, subs, period=PERIOD, before=None))
    assert saved is not None
    before = saved.summary().national
    summarize(home, period=PERIOD)  # a new save while the reader holds the old one
    assert saved.summary().national == before
    assert saved.folder != (home.root / "summaries" / PERIOD).resolve()


@pytest.mark.slow
def test_watch_and_run_on_the_same_home_at_once(home, tmp_path):
    from jobs.intake.watch import InboxWatcher

    watched, monthly = tmp_path / "watched", tmp_path / "monthly"
    watched.mkdir()  # a watch never creates its inbox
    expected: dict[str, int | None] = {}
    for n in range(0, 6):  # the month-end run's inbox
        _add_round(monthly, n, expected)
    errors: list[str] = []
    results = []
    watcher = InboxWatcher(home, watched, period=PERIOD, validator=FakeValidator(), settle=0.2,
                           on_result=results.append, on_error=errors.append)
    with watcher:
        run = _start(home, monthly, receipts=True)
        for n in range(6, 12):  # returns keep landing in the watched inbox meanwhile
            staging = tmp_path / f"staging-{n}"
            _add_round(staging, n, expected)
            for path in staging.iterdir():
                path.rename(watched / path.name)
            check_rows_complete(home, expected)
            time.sleep(0.1)
        _out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        deadline = time.monotonic() + 60
        while home.store.submissions(PERIOD).height < len(expected) and time.monotonic() < deadline:
            check_rows_complete(home, expected)
            time.sleep(0.2)
    assert errors == []
    subs = check_consistent(home, expected)
    assert set(subs["sha256"]) == set(expected)
    watched_paths = {f.path.name for r in results for f in r.files}
    assert len(watched_paths) == 18
    assert all(f.status in ("stored", "duplicate") for r in results for f in r.files)
