"""Watch: a real watchdog observer thread picks up dropped files (bounded in time)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest

from jobs.core.findings import Report, make_finding
from jobs.intake.preflight.complete import completeness
from jobs.intake.watch import InboxMissing, InboxWatcher
from jobs.office.lock import store_lock
from tests.conftest import ROOT, home_with_registry

PERIOD = "2015-02"
REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
120000,天津市,000000,省级,地方,李四,022-1,是
"""


class FakeValidated:
    def __init__(self, report, tables):
        self.report, self.tables, self.content_hash, self.report_type = report, tables, "", "本级"


def zipped_return(unit: str) -> bytes:
    """A zip holding ``unit.json`` (and padding): complete only once its last byte is written."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("unit.json", json.dumps({"unit": unit}))
        zf.writestr("padding.bin", os.urandom(30_000))
    return buffer.getvalue()


def _unit_of(path: Path) -> str:
    data = Path(path).read_bytes()
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            data = zf.read("unit.json")
    return json.loads(data.decode("utf-8"))["unit"]


def fake_validator(paths, *, registry, period, received_at=None, **_options):
    """A JSON file ``{"unit": ...}`` (or a zip holding one) is an accepted return; anything else is unreadable."""
    out = []
    for path in paths:
        try:
            unit = _unit_of(path)
        except (ValueError, UnicodeDecodeError, KeyError, zipfile.BadZipFile):
            report = Report(file=str(path), findings=[make_finding("unreadable-file", reason="不是Excel文件")])
            out.append(FakeValidated(report, None))
            continue
        frame = pl.DataFrame({"row": [3], "seq": [1], "problem": ["文山会海"]})
        out.append(FakeValidated(Report(file=str(path), unit=unit, period=period), {"ledger": frame}))
    return out


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def receipts(home):
    folder = home.outbox(PERIOD)
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


def test_dropped_file_gets_a_receipt_quickly_and_partial_files_are_ignored(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "already.xlsx").write_text(json.dumps({"unit": "120000"}), encoding="utf-8")
    results, errors = [], []
    with InboxWatcher(home, inbox, period=PERIOD, validator=fake_validator, settle=0.3,
                      on_result=results.append, on_error=errors.append):  # fmt: skip
        assert wait_for(lambda: len(receipts(home)) == 1), "a file present at start is ingested"
        (inbox / "~$北京市.xlsx").write_bytes(b"office lock file")
        (inbox / "北京市.xlsx.tmp").write_bytes(b"half")
        # written in two pieces, the pause shorter than the settle time: read once, whole
        target = inbox / "北京市.xlsx"
        with open(target, "w", encoding="utf-8") as fh:
            fh.write('{"unit": ')
            fh.flush()
            time.sleep(0.15)
            fh.write('"110000"}')
        dropped = time.monotonic()
        assert wait_for(lambda: len(receipts(home)) == 2)
        latency = time.monotonic() - dropped
    assert latency < 3.0, f"receipt took {latency:.1f}s"
    subs = home.store.submissions(PERIOD)
    assert sorted(subs["unit"].to_list()) == ["110000", "120000"]
    assert subs["accepted"].all()
    assert not errors
    assert sum(r.count("stored") for r in results) == 2


def test_watch_keeps_running_through_bad_files(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    calls = {"n": 0}

    def flaky(paths, **kw):
        calls["n"] += 1
        if any("boom" in Path(p).read_text(errors="ignore") for p in paths):
            raise RuntimeError("validator crashed")
        return fake_validator(paths, **kw)

    errors = []
    with InboxWatcher(home, inbox, period=PERIOD, validator=flaky, settle=0.2, on_error=errors.append):
        (inbox / "坏.xlsx").write_bytes(b"\x00\xff not a workbook")
        assert wait_for(lambda: len(receipts(home)) == 1)
        (inbox / "崩.xlsx").write_text("boom", encoding="utf-8")
        assert wait_for(lambda: bool(errors))
        (inbox / "天津市.xlsx").write_text(json.dumps({"unit": "120000"}), encoding="utf-8")
        assert wait_for(lambda: len(receipts(home)) == 2)
    assert "继续监视" in errors[0]
    subs = home.store.submissions(PERIOD).sort("file_name")
    assert subs.select("file_name", "accepted").rows() == [("坏.xlsx", False), ("天津市.xlsx", True)]


def test_watch_waits_for_the_store_lock(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    release = threading.Event()
    held = threading.Event()

    def monthly_run():
        with store_lock(home.root, holder="rectify run"):
            held.set()
            release.wait(10)

    runner = threading.Thread(target=monthly_run)
    runner.start()
    assert held.wait(5)
    with InboxWatcher(home, inbox, period=PERIOD, validator=fake_validator, settle=0.1):
        (inbox / "北京市.xlsx").write_text(json.dumps({"unit": "110000"}), encoding="utf-8")
        time.sleep(1.0)
        assert home.store.submissions(PERIOD).height == 0  # nothing written while the run holds the lock
        release.set()
        assert wait_for(lambda: len(receipts(home)) == 1)
    runner.join(5)
    assert home.store.submissions(PERIOD)["unit"].to_list() == ["110000"]


def test_cli_watch_runs_for_a_bounded_time(home, tmp_path, monkeypatch):
    from click.testing import CliRunner

    import jobs.intake.watch
    from jobs.cli import main

    monkeypatch.setattr(jobs.intake.watch, "default_validator", lambda: fake_validator)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "北京市.xlsx").write_text(json.dumps({"unit": "110000"}), encoding="utf-8")
    result = CliRunner().invoke(main, ["watch", str(inbox), "--period", PERIOD, "--home", str(home.root),
                                       "--settle", "0.1", "--stop-after", "1.5"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "北京市.xlsx：110000 第1版 通过" in result.output and "已停止监视" in result.output
    assert len(receipts(home)) == 1


def test_a_file_overwritten_in_the_inbox_becomes_a_new_version(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = inbox / "北京市.xlsx"
    with InboxWatcher(home, inbox, period=PERIOD, validator=fake_validator, settle=0.2):
        target.write_text(json.dumps({"unit": "110000"}), encoding="utf-8")
        assert wait_for(lambda: len(receipts(home)) == 1)
        target.write_text(json.dumps({"unit": "110000", "note": "更正"}), encoding="utf-8")
        assert wait_for(lambda: len(receipts(home)) == 2)
    subs = home.store.submissions(PERIOD)
    assert subs["version"].to_list() == [1, 2]
    assert home.store.current(PERIOD)["version"].to_list() == [2]


# -- a dependable watch (#15 item 8, #16 item 12) ---------------------------------


def test_a_workbook_copied_in_pauses_longer_than_the_settle_time_gets_one_receipt(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = zipped_return("110000")
    third = len(data) // 3
    results = []
    with InboxWatcher(home, inbox, period=PERIOD, validator=fake_validator, settle=0.1, incomplete=30,
                      on_result=results.append):  # fmt: skip
        with open(inbox / "北京市.xlsx", "wb") as fh:
            for part in (data[:third], data[third : 2 * third], data[2 * third :]):
                fh.write(part)
                fh.flush()
                time.sleep(0.6)  # a copy pausing six settle times
        assert wait_for(lambda: len(receipts(home)) == 1)
        time.sleep(0.5)
    assert len(receipts(home)) == 1
    handled = [f for r in results for f in r.files]
    assert [(f.status, f.accepted) for f in handled] == [("stored", True)]
    assert home.store.submissions(PERIOD)["accepted"].to_list() == [True]


def test_a_workbook_that_never_completes_is_judged_after_the_incomplete_time(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with InboxWatcher(home, inbox, period=PERIOD, validator=fake_validator, settle=0.1, incomplete=1.5):
        (inbox / "断.xlsx").write_bytes(zipped_return("110000")[:5000])  # a copy that stopped for good
        time.sleep(1.0)
        assert receipts(home) == []  # settled long ago, but may still be growing
        assert wait_for(lambda: len(receipts(home)) == 1, timeout=5)
    assert home.store.submissions(PERIOD)["accepted"].to_list() == [False]


def test_what_may_still_become_a_workbook_waits_and_anything_else_is_judged(tmp_path):
    corpus = ROOT / "tests" / "data" / "calamine"
    for name in ("date.xls", "issue_385.xls", "any_sheets.xlsx", "date.xlsx"):
        data = (corpus / name).read_bytes()
        whole = tmp_path / name
        whole.write_bytes(data)
        assert completeness(whole, max_mb=20) == "complete", name
        for cut in (3, 600, len(data) // 2, len(data) - 1):
            whole.write_bytes(data[:cut])
            assert completeness(whole, max_mb=20) == "incomplete", (name, cut)
    other = tmp_path / "x.xlsx"
    for content, state in ((b"", "incomplete"), (b"\0" * 4096, "incomplete"), (b"%PDF-1.4 ...", "complete"),
                           (b"name,code\n", "complete")):  # fmt: skip
        other.write_bytes(content)
        assert completeness(other, max_mb=20) == state, content[:8]
    os.mkfifo(tmp_path / "pipe.xlsx")
    assert completeness(tmp_path / "pipe.xlsx", max_mb=20) == "not-a-file"  # never opened: it would block


def test_a_missing_inbox_is_an_error_not_created(home, tmp_path):
    from click.testing import CliRunner

    from jobs.cli import main

    missing = tmp_path / "inbxo"
    with pytest.raises(InboxMissing, match="收件文件夹.*不存在"):
        InboxWatcher(home, missing, period=PERIOD, validator=fake_validator).start()
    result = CliRunner().invoke(main, ["watch", str(missing), "--period", PERIOD, "--home", str(home.root),
                                       "--stop-after", "0.1"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "收件文件夹" in result.output and "不存在" in result.output and "Traceback" not in result.output
    assert not missing.exists()


def test_ctrl_c_stops_the_watch_promptly_and_lines_carry_time_and_reasons(home, tmp_path):
    from jobs.office.template import write_template

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_template(inbox / "空白.xlsx")  # a real workbook, rejected: the blank template has no unit
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "jobs", "watch", str(inbox), "--period", PERIOD,
                             "--home", str(home.root), "--settle", "0.1"],  # fmt: skip
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(line.startswith("[") and "共1个文件" in line for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        assert any("共1个文件" in line for line in lines), lines
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines += rest.splitlines()
    assert proc.returncode == 130, lines
    assert took < 5, f"stopped {took:.1f}s after Ctrl-C"
    assert "已停止监视" in lines[-1]
    assert all(re.match(r"^\[\d\d:\d\d:\d\d\] ", line) for line in lines), lines
    verdict = next(i for i, line in enumerate(lines) if "空白.xlsx" in line)
    assert "退回" in lines[verdict]
    reasons = [line for line in lines[verdict + 1 :] if "] " in line and line.split("] ", 1)[1].startswith("  · ")]
    assert 1 <= len(reasons) <= 3
    stored = home.store.report(home.store.submissions(PERIOD)["submission_id"][0])
    assert reasons[0].split("  · ", 1)[1] == stored.errors[0].message
    assert home.store.submissions(PERIOD).height == 1  # the store is intact and usable
