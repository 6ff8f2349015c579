"""Parquet parts verified (issue #16 item 6): a deleted or truncated part stops every reader with a
Chinese message naming it; ``rectify store check`` finds every damage; ``rectify store repair``
rebuilds the tables from the archived originals, atomically.

The intake tests' fake validator (JSON "returns") keeps these fast; the real pipeline's
repair is in ``test_repair_with_the_real_pipeline_gives_a_clean_runs_summary``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from jobs.cli import main
from jobs.core.errors import StoreDamaged
from jobs.intake.parallel import ingest_paths
from jobs.intake.repair import check, repair
from jobs.office.home import Home
from tests.conftest import home_with_registry
from tests.test_intake import REGISTRY, FakeValidator, put

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2015-02"


def _ingest(home, inbox: Path) -> None:
    ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), batch_size=1, receipts=False)


@pytest.fixture
def home(tmp_path):
    h = home_with_registry(tmp_path, REGISTRY)
    inbox = tmp_path / "inbox"
    put(inbox, "a.xlsx", "110000", ["甲", "乙", "丙"])
    put(inbox, "b.xlsx", "120000", ["丁"])
    put(inbox, "c.xlsx", "120000", ["戊"], ok=False)
    _ingest(h, inbox)
    return h


def _parts(home) -> list[tuple[str, str, int]]:
    with sqlite3.connect(home.store.ledger_path) as conn:
        return conn.execute('SELECT batch_id, path, "rows" FROM parts ORDER BY path').fetchall()


def _ledger_part(home) -> Path:
    """The part holding 110000's three rows."""
    (path,) = [home.store.root / p for _, p, n in _parts(home) if "ledger" in p and n == 3]
    return path


def _parts_batch(home, part: Path) -> str:
    return part.name.split(".")[0]


def _files(home) -> list[str]:
    return sorted(str(p.relative_to(home.store.root)) for p in (home.store.root / "tables").rglob("*") if p.is_file())


def test_each_batch_records_its_parts_with_rows_size_and_hash(home):
    parts = _parts(home)
    assert sorted(n for _, p, n in parts if "ledger" in p) == [1, 3]  # the rejected return wrote none
    assert sorted(p for _, p, _ in parts) == _files(home)
    with sqlite3.connect(home.store.ledger_path) as conn:
        for path, size, sha in conn.execute("SELECT path, bytes, sha256 FROM parts"):
            data = (home.store.root / path).read_bytes()
            assert len(data) == size
            assert hashlib.sha256(data).hexdigest() == sha


@pytest.mark.parametrize("damage", ["delete", "truncate", "rows"])
def test_a_damaged_part_stops_the_reader_naming_it(home, damage):
    assert home.store.load_tables(PERIOD)["ledger"].height == 4
    part = _ledger_part(home)
    if damage == "delete":
        part.unlink()
    elif damage == "truncate":
        part.write_bytes(part.read_bytes()[:200])
    else:  # same size, other content: the footer's row count tells
        with sqlite3.connect(home.store.ledger_path) as conn:
            conn.execute('UPDATE parts SET "rows"=5 WHERE path=?', (str(part.relative_to(home.store.root)),))
    with pytest.raises(StoreDamaged) as caught:
        home.store.load_tables(PERIOD)
    assert str(part) in str(caught.value)
    assert "rectify store repair" in str(caught.value)


@pytest.mark.parametrize("command", ["summarize", "report"])  # status counts returns, not their rows
def test_commands_reading_a_damaged_store_fail_in_chinese_naming_the_file(home, command, tmp_path):
    part = _ledger_part(home)
    part.unlink()
    args = [command, "--period", PERIOD, "--home", str(home.root)]
    if command == "report":
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert str(part) in result.output and "rectify store repair" in result.output
    assert "Traceback" not in result.output


def test_store_check_reports_every_problem_and_exits_1(home):
    runner = CliRunner()
    clean = runner.invoke(main, ["store", "check", "--home", str(home.root)])
    assert clean.exit_code == 0, clean.output
    assert "完好" in clean.output
    parts = [home.store.root / p for _, p, _ in _parts(home) if "ledger" in p]
    parts[0].unlink()
    parts[1].write_bytes(parts[1].read_bytes()[:100])
    subs = home.store.submissions(PERIOD)
    archived = [home.store.root / p for p in subs["archive_path"]]
    archived[0].unlink()
    archived[1].write_bytes(b"changed")
    result = runner.invoke(main, ["store", "check", "--home", str(home.root)])
    assert result.exit_code == 1, result.output
    kinds = sorted(p.kind for p in check(home))
    assert kinds == ["archive-changed", "archive-missing", "part-missing", "part-truncated"]
    for path in [*parts, archived[0], archived[1]]:
        assert str(path) in result.output


def test_store_check_finds_a_damaged_ledger(home):
    ledger = home.store.ledger_path
    with open(ledger, "r+b") as fh:  # the header's magic string: "file is not a database"
        fh.write(b"\0" * 16)
    result = CliRunner().invoke(main, ["store", "check", "--home", str(home.root)])
    assert result.exit_code == 1
    assert str(ledger) in result.output and "备份" in result.output
    assert "Traceback" not in result.output


def test_repair_rebuilds_what_a_clean_run_stored_and_leaves_no_old_part(home):
    clean = home.store.load_tables(PERIOD)
    part = _ledger_part(home)
    part.write_bytes(part.read_bytes()[:300])
    assert repair(home, validator=FakeValidator()).rebuilt == [(PERIOD, _parts_batch(home, part))]
    for key, frame in home.store.load_tables(PERIOD).items():
        assert_frame_equal(frame, clean[key])
    assert check(home) == []
    assert not part.exists()  # the damaged file is gone; the ledger names the rebuilt one
    assert sorted(p for _, p, _ in _parts(home)) == _files(home)
    assert not list((home.store.root / "pending").iterdir())


def test_repair_all_rebuilds_every_batch_identically(home):
    clean = home.store.load_tables(PERIOD)
    result = repair(home, everything=True, validator=FakeValidator())
    assert len(result.rebuilt) == 3 and result.remaining == []
    for key, frame in home.store.load_tables(PERIOD).items():
        assert_frame_equal(frame, clean[key])
    assert sorted(p for _, p, _ in _parts(home)) == _files(home)


def test_repair_without_the_original_changes_nothing_and_says_so(home):
    part = _ledger_part(home)
    part.unlink()
    subs = home.store.submissions(PERIOD).filter(pl.col("unit") == "110000")
    (home.store.root / subs["archive_path"][0]).unlink()
    before = _parts(home)
    with pytest.raises(StoreDamaged, match="归档的原件"):
        repair(home, validator=FakeValidator())
    assert _parts(home) == before


def test_a_ledger_from_before_the_parts_table_reads_and_is_backfilled_by_check(home):
    clean = home.store.load_tables(PERIOD)
    with sqlite3.connect(home.store.ledger_path) as conn:
        conn.execute("DELETE FROM parts")
    for key, frame in home.store.load_tables(PERIOD).items():  # read by the parts' fixed names
        assert_frame_equal(frame, clean[key])
    assert check(home) == []
    assert len(_parts(home)) == 2  # recorded once they read back whole
    _ledger_part(home).unlink()
    with pytest.raises(StoreDamaged):
        home.store.load_tables(PERIOD)


def test_a_ledger_without_the_parts_table_gets_it_and_is_backfilled(home):
    clean = home.store.load_tables(PERIOD)
    with sqlite3.connect(home.store.ledger_path) as conn:
        conn.execute("DROP TABLE parts")  # as the ledgers before it
    older = Home(home.root)  # a new process: the ledger is opened afresh
    assert check(older) == []
    assert len(_parts(older)) == 2
    for key, frame in older.store.load_tables(PERIOD).items():
        assert_frame_equal(frame, clean[key])


def test_an_unreadable_part_of_an_older_ledger_stops_the_reader(home):
    part = _ledger_part(home)
    with sqlite3.connect(home.store.ledger_path) as conn:
        conn.execute("DELETE FROM parts")
    part.write_bytes(b"PAR1 not parquet")
    with pytest.raises(StoreDamaged, match="无法读取"):
        home.store.load_tables(PERIOD)


REPAIR = """
import sys
sys.path.insert(0, {root!r})
from tests.test_intake import FakeValidator
from jobs.office.home import Home
from jobs.intake.repair import repair
repair(Home({home!r}), validator=FakeValidator())
print("done", flush=True)
"""


@pytest.mark.parametrize("step", ["repair-written", "repair-committed"])
def test_a_kill_during_repair_leaves_the_old_parts_or_the_new(home, step):
    clean = home.store.load_tables(PERIOD)
    part = _ledger_part(home)
    part.unlink()
    script = REPAIR.format(root=str(ROOT), home=str(home.root))
    env = {**os.environ, "RECTIFY_FAULT_STEP": step}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    if step == "repair-written":  # not committed: the old, damaged parts are still in force
        with pytest.raises(StoreDamaged):
            home.store.load_tables(PERIOD)
        assert [p.kind for p in check(home)] == ["part-missing"]
    else:
        for key, frame in home.store.load_tables(PERIOD).items():
            assert_frame_equal(frame, clean[key])
        assert check(home) == []
    repair(home, validator=FakeValidator())  # the next run settles the interrupted one and finishes
    for key, frame in home.store.load_tables(PERIOD).items():
        assert_frame_equal(frame, clean[key])
    assert sorted(p for _, p, _ in _parts(home)) == _files(home)
    assert not [p for p in home.store.root.rglob("*") if p.name.endswith(".tmp")]
    assert not list((home.store.root / "pending").iterdir())


def test_repair_with_the_real_pipeline_gives_a_clean_runs_summary(tmp_path):
    """Sample returns through the real reader and validator: delete a part, repair, same summary."""
    home = tmp_path / "home"
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, [*args, "--home", str(home)])
        assert result.exit_code in (0, 1), result.output
        return result.stdout

    run("init")
    run("registry", "import", str(ROOT / "samples" / "registry.xlsx"), "--from-period", "2015-01")
    run("ingest", str(ROOT / "samples" / "returns" / PERIOD), "--period", PERIOD, "--no-receipts",
        "--batch-size", "10", "--workers", "1", "--quiet")  # fmt: skip
    clean = json.loads(run("summarize", "--period", PERIOD, "--json"))
    parts = sorted((home / "store" / "tables" / "ledger").rglob("*.parquet"))
    assert len(parts) >= 3
    parts[1].unlink()
    damaged = runner.invoke(main, ["summarize", "--period", PERIOD, "--json", "--home", str(home)])
    assert damaged.exit_code == 1 and str(parts[1]) in damaged.output
    repaired = runner.invoke(main, ["store", "repair", "--home", str(home)])
    assert repaired.exit_code == 0, repaired.output
    assert "重建1个批次" in repaired.output
    assert json.loads(run("summarize", "--period", PERIOD, "--json")) == clean
