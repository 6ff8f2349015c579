"""Hostile inbox entries: FIFOs, links and huge files get a verdict, never a hang, a leak or a full disk."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.files import RefusedFile, open_regular
from jobs.intake.parallel import ingest_paths
from jobs.intake.watch import InboxWatcher
from tests.conftest import home_with_registry

PERIOD = "2015-02"
REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
"""
SECRET = b"root:$6$not-for-the-archive"
REASONS = {
    "管道.xlsx": "不是普通文件（是管道）",
    "影子.xlsx": "符号链接",
    "零.xlsx": "符号链接",
    "大.xlsx": "文件过大（2048.0MB，超过20MB）",
}


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    os.mkfifo(folder / "管道.xlsx")  # opened for reading, it would wait for a writer forever
    secret = tmp_path / "shadow"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    (folder / "影子.xlsx").symlink_to(secret)  # a link out of the inbox
    (folder / "零.xlsx").symlink_to("/dev/zero")  # endless bytes
    with open(folder / "大.xlsx", "wb") as fh:
        fh.truncate(2 << 30)  # 2 GB, sparse: costs nothing until copied
    return folder


def bounded(call, timeout: float = 60.0):
    """Run ``call`` in a thread; a hang fails the test instead of stalling the suite."""
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(result=call()), daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "hung"
    return box["result"]


def test_ingest_refuses_what_is_not_a_regular_file_before_any_copy(home, inbox):
    result = bounded(lambda: ingest_paths(home, [inbox], period=PERIOD))
    messages = {f.path.name: (f.status, f.message) for f in result.files}
    assert sorted(messages) == sorted(REASONS)
    for name, reason in REASONS.items():
        status, message = messages[name]
        assert status == "failed" and reason in message, (name, message)
    archived = [p for p in (home.store.root / "archive").rglob("*") if p.is_file()]
    assert archived == []  # nothing copied: no secret, no 2 GB, no endless zeros
    assert home.store.submissions(PERIOD).height == 0


def test_validate_gives_every_hostile_entry_a_verdict(home, inbox):
    args = ["validate", str(inbox), "--period", PERIOD, "--home", str(home.root), "--json"]
    result = bounded(lambda: CliRunner().invoke(main, args))
    assert result.exit_code == 1, result.output
    reports = {Path(r["file"]).name: r for r in map(json.loads, result.output.splitlines())}
    assert sorted(reports) == sorted(REASONS)
    for name, reason in REASONS.items():
        (finding,) = reports[name]["findings"]
        assert finding["code"] == "unreadable-file" and reason in finding["message"], (name, finding)


def test_a_device_named_directly_is_refused(home):
    result = bounded(lambda: ingest_paths(home, [Path("/dev/zero")], period=PERIOD))
    (outcome,) = result.files
    assert outcome.status == "failed" and "不是普通文件（是设备）" in outcome.message
    with pytest.raises(RefusedFile, match="符号链接"):
        os.symlink("/dev/null", home.root / "link")
        open_regular(home.root / "link")


def test_archive_copies_get_the_umask_not_the_source_mode(home, tmp_path):
    source = tmp_path / "in" / "北京市.xlsx"
    source.parent.mkdir()
    source.write_bytes(b"not a workbook")
    source.chmod(0o600)
    old = os.umask(0o027)  # the office's: group may read, others nothing
    try:
        archived = home.store.archive(source)
    finally:
        os.umask(old)
    assert (home.store.root / archived.archive_path).stat().st_mode & 0o777 == 0o640


def test_watch_answers_a_fifo_and_keeps_going(home, tmp_path):
    inbox = tmp_path / "watched"
    inbox.mkdir()
    os.mkfifo(inbox / "管道.xlsx")
    results, errors = [], []
    done = threading.Event()

    def on_result(result):
        results.append(result)
        done.set()

    with InboxWatcher(home, inbox, period=PERIOD, validator=lambda *a, **k: [], settle=0.1,
                      on_result=on_result, on_error=errors.append):  # fmt: skip
        assert done.wait(30), errors
    (outcome,) = results[0].files
    assert outcome.status == "failed" and "不是普通文件（是管道）" in outcome.message
