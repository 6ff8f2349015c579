"""Watch: a real watchdog observer thread picks up dropped files (bounded in time)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from jobs.core.findings import Report, make_finding
from jobs.intake.watch import InboxWatcher
from jobs.office.lock import store_lock
from tests.conftest import home_with_registry

PERIOD = "2015-02"
REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
120000,天津市,000000,省级,地方,李四,022-1,是
"""


class FakeValidated:
    def __init__(self, report, tables):
        self.report, self.tables, self.content_hash, self.report_type = report, tables, "", "本级"


def fake_validator(paths, *, registry, period, received_at=None, **_options):
    """A JSON file ``{"unit": ...}`` is an accepted return; anything else is unreadable."""
    out = []
    for path in paths:
        try:
            unit = json.loads(Path(path).read_text(encoding="utf-8"))["unit"]
        except (ValueError, UnicodeDecodeError, KeyError):
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
