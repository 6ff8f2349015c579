"""Issue 15 item 2, re-judging an archived file on purpose (``rectify recheck``, :mod:`jobs.store.rechecks`).

A return rejected by the office's own mistake (the registry lacked the unit)
is judged again from the archive once the registry is fixed: a new version,
the reason kept, the receipt written, the figures counted; nothing deleted, and
a plain re-send of the file stays a duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import openpyxl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal
from test_validate_helpers import base_return, write_return

from jobs import api
from jobs.cli import main
from jobs.core.errors import StoreDamaged
from jobs.intake.parallel import ingest_paths
from jobs.intake.recheck import RecheckError, recheck_version
from jobs.intake.repair import repair
from jobs.store import Store
from tests.conftest import home_with_registry
from tests.test_intake import FakeValidator, put

PERIOD = "2015-02"
WITHOUT_TIANJIN = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
"""
WITH_TIANJIN = WITHOUT_TIANJIN + "120000,天津市,000000,省级,地方,李四,022-1,是\n"
SENT, RESENT = dt.datetime(2015, 2, 20, 9, 30), dt.datetime(2015, 2, 26, 10)


def _meta(path) -> dict[str, object]:
    ws = openpyxl.load_workbook(path).active
    return {row[0].value: row[1].value for row in ws.iter_rows(min_row=2, max_row=14)}


def _cli(home, *args: str):
    return CliRunner().invoke(main, [*args, "--home", str(home.root)])


def _coverage(home) -> dict[str, object]:
    done = _cli(home, "summarize", "--period", PERIOD, "--json")
    assert done.exit_code == 0, done.output
    node = json.loads(done.output)
    return {k: node[k] for k in ("registry_version", "units_expected", "units_reported", "units_on_time",
                                 "items_total")}  # fmt: skip


def test_a_return_rejected_for_an_unknown_unit_counts_once_rechecked_after_the_registry_adds_it(tmp_path):
    home = home_with_registry(tmp_path, WITHOUT_TIANJIN)
    tianjin = write_return(base_return("120000", "天津市", seed=2), tmp_path / "天津市.xlsx")
    beijing = write_return(base_return("110000", "北京市", seed=1), tmp_path / "北京市.xlsx")
    first = ingest_paths(home, [tianjin, beijing], period=PERIOD, received_at=SENT)
    rejected = next(f for f in first.files if f.path == tianjin)
    assert (rejected.status, rejected.accepted, rejected.version) == ("stored", False, 1)
    assert [f.code for f in home.store.report(rejected.submission_id).errors] == ["unknown-unit"]

    (tmp_path / "registry-2.csv").write_text(WITH_TIANJIN, encoding="utf-8")
    home.import_registry(tmp_path / "registry-2.csv", from_period=PERIOD)
    # the registry alone changes nothing: 天津市 is expected now, its only version rejected
    assert _coverage(home) == {"registry_version": 2, "units_expected": 2, "units_reported": 1, "units_on_time": 1,
                               "items_total": 3}  # fmt: skip
    resent = ingest_paths(home, [tianjin], period=PERIOD, received_at=RESENT)  # sending it again: a duplicate
    assert [(f.status, f.version) for f in resent.files] == [("duplicate", 1)]

    done = _cli(home, "recheck", "--period", PERIOD, "--unit", "120000", "--version", "1",
                "--reason", "名册已补录天津市", "--by", "王五")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "记为第2版：接收" in done.output and "现计入汇总的是第2版" in done.output
    assert _coverage(home) == {"registry_version": 2, "units_expected": 2, "units_reported": 2, "units_on_time": 2,
                               "items_total": 6}  # fmt: skip

    v1, v2 = api.history(home, period=PERIOD, unit="120000")
    assert (v1.version, v1.state, v1.recheck) == (1, "rejected", None)
    assert (v2.version, v2.state, v2.accepted, v2.file_name) == (2, "counting", True, "天津市.xlsx")
    assert v2.received_at == SENT  # the arrival time is the original's: on time stays on time
    assert (v2.recheck.of_version, v2.recheck.reason, v2.recheck.by) == (1, "名册已补录天津市", "王五")
    assert v2.submission_id == f"{v1.submission_id}-r2"
    shown = _cli(home, "history", "--period", PERIOD, "--unit", "120000")
    assert shown.exit_code == 0 and "共收到2份报表" in shown.output
    assert "重新审核第1版：名册已补录天津市（王五，" in shown.output.splitlines()[2]
    lines = [json.loads(line) for line in _cli(home, "history", "--period", PERIOD, "--unit", "120000",
                                               "--json").output.splitlines()]  # fmt: skip
    assert [line["recheck"] and line["recheck"]["reason"] for line in lines] == [None, "名册已补录天津市"]

    # both receipts are there: the rejection's and the new version's
    receipts = sorted(home.outbox(PERIOD).glob("120000_*.xlsx"), key=lambda p: len(p.name))
    assert [p.name for p in receipts] == [f"120000_天津市_{v1.submission_id[8:16]}.xlsx",
                                          f"120000_天津市_{v1.submission_id[8:16]}-r2.xlsx"]  # fmt: skip
    assert _meta(receipts[0])["结论"] == "退回"
    meta = _meta(receipts[1])
    assert meta["结论"] == "通过" and meta["是否按时"] == "按时" and meta["收到时间"] == "2015-02-20 09:30:00"
    assert meta["版本"] == "第2版（重新审核第1版的原件：名册已补录天津市；此前各版均未通过）"

    # a plain re-send still changes nothing; it names the latest judgement
    again = ingest_paths(home, [tianjin], period=PERIOD, received_at=RESENT)
    assert [(f.status, f.version) for f in again.files] == [("duplicate", 2)]
    assert home.store.submissions(PERIOD).height == 3


@pytest.fixture
def home(tmp_path):
    """北京市: v1 accepted (2 rows), v2 rejected (FakeValidator: ``ok`` false)."""
    home = home_with_registry(tmp_path, WITH_TIANJIN)
    for k, (ok, problems) in enumerate(((True, ["甲", "乙"]), (False, ["坏"]))):
        path = put(tmp_path / "in", f"bj{k + 1}.xlsx", "110000", problems, ok=ok)
        ingest_paths(home, [path], period=PERIOD, validator=FakeValidator(), received_at=SENT, receipts=False)
    return home


def _recheck(home, version: int, reason: str = "复核", **options):
    return recheck_version(home, period=PERIOD, unit="110000", version=version, reason=reason, by="x",
                           validator=FakeValidator(), receipts=False, **options)  # fmt: skip


def test_a_recheck_that_is_rejected_again_leaves_the_counting_version_and_each_recheck_is_a_new_version(home):
    done = _recheck(home, 2)
    assert (done.outcome.status, done.outcome.accepted, done.outcome.version, done.counting) == ("stored", False, 3, 1)
    assert "记为第3版：退回" in done.message and "现计入汇总的是第1版" in done.message
    again = _recheck(home, 2, reason="再复核")
    assert again.outcome.version == 4
    found = api.history(home, period=PERIOD, unit="110000")
    assert [(v.version, v.state) for v in found] == [(1, "counting"), (2, "rejected"), (3, "rejected"), (4, "rejected")]
    assert [v.submission_id[-3:] for v in found[2:]] == ["-r2", "-r3"]
    assert [v.recheck.reason for v in found[2:]] == ["复核", "再复核"]
    assert home.store.load_tables(PERIOD)["ledger"].height == 2  # v1's rows only


def test_rechecking_an_accepted_version_makes_the_new_one_count(home):
    done = _recheck(home, 1)
    assert (done.outcome.accepted, done.outcome.version, done.counting) == (True, 3, 3)
    assert [(v.version, v.state) for v in api.history(home, period=PERIOD, unit="110000")] == [
        (1, "superseded"), (2, "rejected"), (3, "counting")]  # fmt: skip
    assert home.store.load_tables(PERIOD)["ledger"]["submission_id"].unique().to_list() == [done.outcome.submission_id]


def test_recheck_needs_a_reason_and_a_version_that_exists(home):
    with pytest.raises(RecheckError, match="--reason"):
        _recheck(home, 2, reason="  ")
    with pytest.raises(RecheckError, match="没有第7版报表（已收到第1、2版）"):
        _recheck(home, 7)
    done = _cli(home, "recheck", "--period", PERIOD, "--unit", "120000", "--version", "1", "--reason", "x")
    assert done.exit_code == 1 and "本期未收到报表" in done.output and "Traceback" not in done.output
    assert home.store.submissions(PERIOD).height == 2


def test_recheck_refuses_an_archived_original_that_is_gone_or_changed(home):
    (v1, *_) = api.history(home, period=PERIOD, unit="110000")
    archived = next((home.store.root / "archive").rglob(f"{home.store.submissions(PERIOD)['sha256'][0]}.*"))
    archived.write_bytes(b"changed")
    with pytest.raises(StoreDamaged, match="归档的原件"):
        _recheck(home, v1.version)
    assert home.store.submissions(PERIOD).height == 2


def _index_unique(store: Store) -> bool:
    with sqlite3.connect(store.ledger_path) as conn:
        return {r[1]: bool(r[2]) for r in conn.execute("PRAGMA index_list(submissions)")}["submissions_period_sha"]


def _tables(store: Store) -> set[str]:
    with sqlite3.connect(store.ledger_path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_the_first_recheck_migrates_the_ledger_and_rechecks_are_append_only(home, tmp_path):
    store = home.store
    assert _index_unique(store) and "rechecks" not in _tables(store)  # a ledger as before: readers add nothing
    assert [v.recheck for v in api.history(home, period=PERIOD, unit="110000")] == [None, None]
    _recheck(home, 2)
    assert not _index_unique(store) and "rechecks" in _tables(store)
    fresh = Store(store.root)  # a new process: its DDL (IF NOT EXISTS by name) leaves the plain index as it is
    assert fresh.submissions(PERIOD).height == 3 and not _index_unique(fresh)
    # plain ingests after the migration: new files recorded, a re-sent file a duplicate
    new = put(tmp_path / "in", "bj4.xlsx", "110000", ["丙"])
    sent = ingest_paths(home, [new, tmp_path / "in" / "bj1.xlsx"], period=PERIOD, validator=FakeValidator(),
                        received_at=RESENT, receipts=False)  # fmt: skip
    assert sorted((f.status, f.version) for f in sent.files) == [("duplicate", 1), ("stored", 4)]
    with sqlite3.connect(store.ledger_path) as conn:
        for statement in ("UPDATE rechecks SET reason='x'", "DELETE FROM rechecks"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)


def test_a_rechecked_version_is_checked_and_rebuilt_by_the_store_repair_under_its_own_id(home):
    done = _recheck(home, 1)
    assert api.check_store(home) == []
    counted = home.store.load_tables(PERIOD)["ledger"]
    rebuilt = repair(home, everything=True, validator=FakeValidator())
    assert len(rebuilt.rebuilt) == 3 and rebuilt.remaining == []
    after = home.store.load_tables(PERIOD)["ledger"]
    assert after["submission_id"].unique().to_list() == [done.outcome.submission_id]
    assert_frame_equal(after.sort("row"), counted.sort("row"))
