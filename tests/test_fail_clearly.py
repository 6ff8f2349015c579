"""Must fail clearly (issue #16 item 9): store damage, a read-only home, a full disk and config errors
give a Chinese message naming the file and what to do, never a traceback, for every command; what
a failed run leaves (temp files, journal entries) is cleaned by the next run.

A full disk is a child process with a small ``RLIMIT_FSIZE`` (writes past it fail with ``EFBIG``,
as on a full disk) or standard output on ``/dev/full``; a read-only home is one the child's user
may not write (as root, the child runs as ``nobody``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.errors import (
    DiskFull,
    FileFailed,
    NotWritable,
    StoreDamaged,
    known_error,
)
from jobs.intake.parallel import ingest_paths
from jobs.intake.watch import InboxWatcher
from tests.conftest import home_with_registry
from tests.test_intake import REGISTRY, FakeValidator, put
from tests.test_watch import fake_validator, wait_for

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2015-02"
SAMPLES = ROOT / "samples"
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 24, 1, 2, 3  # <linux/prctl.h>, capability.h


# -- the one mapping ----------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/h/store/x"), DiskFull, ["/h/store/x", "磁盘空间"]),
        (OSError(errno.EFBIG, "File too large", "/h/a"), DiskFull, ["/h/a"]),
        (OSError(errno.EROFS, "Read-only file system", "/h/b"), NotWritable, ["/h/b", "--home"]),
        (PermissionError(errno.EACCES, "Permission denied", "/h/c"), NotWritable, ["/h/c", "权限"]),
        (OSError(errno.EIO, "Input/output error", "/h/d"), FileFailed, ["/h/d"]),
        (sqlite3.DatabaseError("file is not a database"), StoreDamaged, ["/h/ledger.sqlite", "备份"]),
        (sqlite3.DatabaseError("database disk image is malformed"), StoreDamaged, ["/h/ledger.sqlite"]),
        (sqlite3.OperationalError("database or disk is full"), DiskFull, ["/h/ledger.sqlite"]),
        (sqlite3.OperationalError("attempt to write a readonly database"), NotWritable, ["/h/ledger.sqlite"]),
        (sqlite3.OperationalError("disk I/O error"), FileFailed, ["/h/ledger.sqlite", "磁盘空间"]),
        (pl.exceptions.ComputeError("io error: No space left on device (os error 28)"), DiskFull, ["/h/ledger.sqlite"]),
        (pl.exceptions.ComputeError("parquet: File out of specification"), StoreDamaged, ["/h/ledger.sqlite", "repair"]),
    ],
)
def test_environment_failures_map_to_chinese_errors_naming_the_file(exc, kind, words):
    known = known_error(exc, path="/h/ledger.sqlite")
    assert isinstance(known, kind)
    for word in words:
        assert word in str(known)


def test_bugs_are_not_disguised():
    assert known_error(ValueError("x")) is None
    assert known_error(sqlite3.OperationalError("no such column: x")) is None
    assert known_error(pl.exceptions.ComputeError("bad"), path=None) is None
    assert isinstance(known_error(pl.exceptions.ComputeError("bad"), path="/p", writing=True), FileFailed)


# -- every command --------------------------------------------------------------
@pytest.fixture
def home(tmp_path):
    h = home_with_registry(tmp_path, REGISTRY)
    put(tmp_path / "inbox", "a.xlsx", "110000", ["甲"])
    ingest_paths(h, [tmp_path / "inbox"], period=PERIOD, validator=FakeValidator(), receipts=False)
    return h


def _commands(home, tmp_path: Path) -> dict[str, list[str]]:
    inbox = tmp_path / "inbox"
    h = ["--home", str(home.root)]
    return {
        "ingest": ["ingest", str(inbox), "--period", PERIOD, "--workers", "1", "--quiet", *h],
        "run": ["run", "--period", PERIOD, "--inbox", str(inbox), "--out", str(tmp_path / "out"), *h],
        "watch": ["watch", str(inbox), "--period", PERIOD, "--stop-after", "0.1", *h],
        "summarize": ["summarize", "--period", PERIOD, *h],
        "report": ["report", "--period", PERIOD, "--out", str(tmp_path / "out"), *h],
        "status": ["status", "--period", PERIOD, *h],
        "deadline": ["deadline", "--period", PERIOD, "--at", "2015-02-27T18:00:00", *h],
        "registry import": ["registry", "import", str(tmp_path / "registry.csv"), "--from-period", PERIOD, *h],
        "store check": ["store", "check", *h],
    }


ALL = ["ingest", "run", "watch", "summarize", "report", "status", "deadline", "registry import", "store check"]
STORE_READERS = ["ingest", "run", "watch", "summarize", "report", "status", "store check"]


def _clean_failure(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "错误：" in result.output or "✗ " in result.output  # store check lists what it found
    for word in words:
        assert word in result.output


@pytest.mark.parametrize("command", ALL)
@pytest.mark.parametrize(
    "config",
    ['[limits]\nbatch_size = "many"\n', "[limits]\nlock_timeout_seconds = -1\n", "[limits]\nmax_file_mb = 0\n",
     "[thresholds]\ncompletion_rate = 7\n", "timezone = [\n", 'timezone = "北京"\n'.encode("gbk")],
)  # fmt: skip
def test_config_errors_fail_every_command_naming_the_file(home, tmp_path, command, config):
    if isinstance(config, bytes):  # saved by an editor in GBK
        (home.root / "config.toml").write_bytes(config)
    else:
        (home.root / "config.toml").write_text(config, encoding="utf-8")
    result = CliRunner().invoke(main, _commands(home, tmp_path)[command])
    _clean_failure(result, str(home.root / "config.toml"))


@pytest.mark.parametrize("command", STORE_READERS)
def test_a_corrupt_ledger_fails_every_command_naming_it(home, tmp_path, command):
    ledger = home.store.ledger_path
    for extra in ("-wal", "-shm"):
        Path(f"{ledger}{extra}").unlink(missing_ok=True)
    ledger.write_bytes(b"this is no SQLite database, " * 200)
    result = CliRunner().invoke(main, _commands(home, tmp_path)[command])
    _clean_failure(result, str(ledger))


def _drop_root_powers() -> None:
    """As root, the child loses the capabilities that ignore file modes (read-only means read-only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _child(args: list[str], *, fsize: int | None = None, read_only: bool = False, stdout=subprocess.PIPE):
    def limit() -> None:
        if read_only and os.geteuid() == 0:
            _drop_root_powers()
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as a full disk gives ENOSPC, not a signal
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(  # noqa: S603 - our interpreter, our CLI
        [sys.executable, "-m", "jobs", *args], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True,
        preexec_fn=limit, timeout=600, check=False, env={**os.environ, "HOME": "/tmp"},
    )  # fmt: skip


def _no_traceback(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert "错误：" in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or "pending" in p.parts and p.is_file()]


def test_a_full_disk_fails_ingest_and_summarize_clearly_and_the_next_run_cleans_up(tmp_path):
    home = tmp_path / "home"
    assert _child(["init", "--home", str(home)]).returncode == 0
    registry = ["registry", "import", str(SAMPLES / "registry.xlsx"), "--from-period", "2015-01", "--home", str(home)]
    assert _child(registry).returncode == 0
    ingest = ["ingest", str(SAMPLES / "returns" / PERIOD), "--period", PERIOD, "--home", str(home),
              "--workers", "1", "--quiet", "--no-receipts"]  # fmt: skip
    full = _child(ingest, fsize=12_000)
    _no_traceback(full, "磁盘空间", str(home / "store"))
    assert "无法读取" not in full.stdout  # the office's disk is no unit's fault: no file got a verdict
    done = _child(ingest)
    assert done.returncode == 1, done.stderr  # rejected returns: 1, as always
    assert "新入库38个" in done.stdout
    assert _leftovers(home) == []
    summarize = _child(["summarize", "--period", PERIOD, "--home", str(home)], fsize=4_000)
    _no_traceback(summarize, str(home))
    assert _child(["summarize", "--period", PERIOD, "--home", str(home)]).returncode == 0
    assert _leftovers(home) == []
    assert [p for p in (home / "summaries").iterdir() if p.name.startswith(".")] == [
        (home / "summaries" / PERIOD).resolve()
    ]  # only the version the link points at


def test_standard_output_on_a_full_disk_fails_clearly(home):
    with open("/dev/full", "w") as full:
        proc = _child(["status", "--period", PERIOD, "--home", str(home.root)], stdout=full)
    _no_traceback(proc, "标准输出")


@pytest.mark.parametrize("command", ["ingest", "run", "summarize", "deadline", "registry import", "watch"])
def test_a_read_only_home_fails_every_writing_command_naming_the_file(tmp_path, command):
    home = home_with_registry(tmp_path, REGISTRY)
    put(tmp_path / "inbox", "a.xlsx", "110000", ["甲"])
    ingest_paths(home, [tmp_path / "inbox"], period=PERIOD, validator=FakeValidator(), receipts=False)
    put(tmp_path / "inbox", "b.xlsx", "120000", ["乙"])  # something new to write
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        proc = _child(_commands(home, tmp_path)[command], read_only=True)
    finally:
        for path in [tmp_path, *tmp_path.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    _no_traceback(proc, "权限", str(home.root))


def test_watch_names_an_environment_failure_and_keeps_watching(tmp_path):
    home = home_with_registry(tmp_path, REGISTRY)
    inbox = tmp_path / "inbox"
    inbox.mkdir()  # the watcher never creates its inbox

    def full_disk(paths, **kw):
        if any("full" in Path(p).read_text(errors="ignore") for p in paths):
            raise OSError(errno.ENOSPC, "No space left on device", str(home.root / "store" / "x"))
        return fake_validator(paths, **kw)

    errors: list[str] = []
    with InboxWatcher(home, inbox, period=PERIOD, validator=full_disk, settle=0.2, on_error=errors.append):
        (inbox / "a.xlsx").write_text("full", encoding="utf-8")
        assert wait_for(lambda: bool(errors))
        (inbox / "b.xlsx").write_text('{"unit": "120000"}', encoding="utf-8")
        assert wait_for(lambda: home.store.submissions(PERIOD).height == 1)
    assert "磁盘空间" in errors[0] and str(home.root / "store" / "x") in errors[0] and "继续监视" in errors[0]
