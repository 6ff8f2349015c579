"""Version history, withdrawals and restores: one rule for which version counts, everywhere."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import polars as pl
import pytest
from click.testing import CliRunner

from jobs import api
from jobs.cli import main
from jobs.intake.parallel import ingest_paths
from jobs.rollup.status import compute_status
from jobs.store import Store
from jobs.store.history import WITHDRAWN, HistoryError
from tests.conftest import home_with_registry
from tests.test_intake import REGISTRY, FakeValidator, put
from tests.test_store import make_arrival

PERIOD = "2015-02"
ON_TIME, LATER, LATE = datetime(2015, 2, 20, 9), datetime(2015, 2, 25, 9), datetime(2015, 3, 3, 9)


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def ingest(home, tmp_path, name: str, unit: str, problems: list[str], *, at: datetime, ok: bool = True):
    path = put(tmp_path / "in" / name.split(".")[0], name, unit, problems, ok=ok)
    (outcome,) = ingest_paths(home, [path], period=PERIOD, validator=FakeValidator(), received_at=at,
                              receipts=False).files  # fmt: skip
    return outcome


@pytest.fixture
def three(home, tmp_path):
    """北京市: v1 accepted (2 rows), v2 rejected, v3 accepted (3 rows); 天津市: v1 accepted."""
    ingest(home, tmp_path, "bj1.xlsx", "110000", ["甲", "乙"], at=ON_TIME)
    ingest(home, tmp_path, "bj2.xlsx", "110000", ["坏"], at=LATER, ok=False)
    ingest(home, tmp_path, "bj3.xlsx", "110000", ["甲", "乙", "丙"], at=LATE)
    ingest(home, tmp_path, "tj1.xlsx", "120000", ["丁"], at=ON_TIME)
    return home


def states(home, unit: str = "110000") -> list[tuple[int, str, int | None]]:
    return [(v.version, v.state, v.replaced_by) for v in api.history(home, period=PERIOD, unit=unit)]


def counted_rows(home) -> dict[str, int]:
    ledger = home.store.load_tables(PERIOD)["ledger"]
    return dict(ledger.group_by("unit").len().sort("unit").iter_rows())


def test_history_lists_every_version_and_which_one_counts(three):
    found = api.history(three, period=PERIOD, unit="110000")
    assert [(v.version, v.file_name, v.accepted, v.received_at) for v in found] == [
        (1, "bj1.xlsx", True, ON_TIME), (2, "bj2.xlsx", False, LATER), (3, "bj3.xlsx", True, LATE),
    ]  # fmt: skip
    assert [v.label for v in found] == ["已被第3版替代", "退回", "当前有效"]
    assert found[1].n_errors == 1 and found[0].n_errors == 0
    assert api.history(three, period=PERIOD, unit="999999") == []


def test_withdrawing_the_current_version_makes_the_latest_earlier_accepted_one_count(three):
    change = api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="误报", by="王五")
    assert (change.counting_before, change.counting_after) == (3, 1)
    assert "现计入汇总的是第1版" in change.message
    assert states(three) == [(1, "counting", None), (2, "rejected", None), (3, "withdrawn", None)]
    withdrawn = api.history(three, period=PERIOD, unit="110000")[2]
    assert withdrawn.label.startswith("已撤回：误报（王五，")
    # one rule for every reader: current(), load_tables(), texts(), the submissions frame
    current = three.store.current(PERIOD).sort("unit")
    assert current.select("unit", "version").rows() == [("110000", 1), ("120000", 1)]
    assert counted_rows(three) == {"110000": 2, "120000": 1}
    subs = three.store.submissions(PERIOD).filter(pl.col("unit") == "110000")
    assert subs["superseded_by"].to_list()[2] == WITHDRAWN
    units_with_texts = set(three.store.texts(PERIOD)["unit"])
    assert units_with_texts <= {"110000", "120000"}

    back = api.restore(three, period=PERIOD, unit="110000", version=3, reason="核实无误", by="王五")
    assert (back.counting_before, back.counting_after) == (1, 3)
    assert states(three) == [(1, "superseded", 3), (2, "rejected", None), (3, "counting", None)]
    assert counted_rows(three) == {"110000": 3, "120000": 1}
    assert [e.action for e in api.history(three, period=PERIOD, unit="110000")[2].events] == ["withdraw", "restore"]


def test_texts_follow_the_counting_version(tmp_path):
    def texts(h: str) -> pl.DataFrame:
        return pl.DataFrame({"unit": ["110000"], "sheet": ["ledger"], "row": [3], "column": ["facts"], "hash": [h]})

    store = Store(tmp_path / "store")
    old = make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000")
    old.texts = texts("h-old")
    store.write_batch(PERIOD, [old], ingested_at=ON_TIME)
    new = make_arrival(store, tmp_path, "a2.xlsx", b"A2", unit="110000", received_at=LATER)
    new.texts = texts("h-new")
    store.write_batch(PERIOD, [new], ingested_at=LATER)
    assert store.texts(PERIOD)["hash"].to_list() == ["h-new"]
    store.change(action="withdraw", period=PERIOD, unit="110000", version=2, reason="错", by="x", at=LATER)
    assert store.texts(PERIOD)["hash"].to_list() == ["h-old"]
    assert store.texts(PERIOD, hashes=["h-new"]).height == 0
    store.change(action="withdraw", period=PERIOD, unit="110000", version=1, reason="也错", by="x", at=LATER)
    assert store.texts(PERIOD).height == 0 and store.current(PERIOD).height == 0


def test_report_types_are_separate_returns(tmp_path):
    store = Store(tmp_path / "store")
    own = make_arrival(store, tmp_path, "own.xlsx", b"O1", unit="110000")
    summary = make_arrival(store, tmp_path, "sum.xlsx", b"S1", unit="110000", report_type="汇总", received_at=LATER)
    own2 = make_arrival(store, tmp_path, "own2.xlsx", b"O2", unit="110000", received_at=LATE)
    for arrival in (own, summary, own2):
        store.write_batch(PERIOD, [arrival], ingested_at=arrival.received_at)
    change = store.change(action="withdraw", period=PERIOD, unit="110000", version=3, reason="错", by="x", at=LATE)
    assert (change.report_type, change.counting_before, change.counting_after) == ("本级", 3, 1)
    current = store.current(PERIOD).sort("version")
    assert current.select("version", "report_type").rows() == [(1, "本级"), (2, "汇总")]
    change = store.change(action="withdraw", period=PERIOD, unit="110000", version=2, reason="错", by="x", at=LATE)
    assert (change.report_type, change.counting_after) == ("汇总", None)
    assert "按未报统计" in change.message
    assert store.current(PERIOD)["version"].to_list() == [1]


def test_withdrawing_every_accepted_version_leaves_the_unit_missing(three):
    api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="错", by="x")
    last = api.withdraw(three, period=PERIOD, unit="110000", version=1, reason="也错", by="x")
    assert last.counting_after is None
    assert counted_rows(three) == {"120000": 1}
    row = compute_status(three, period=PERIOD).units.filter(pl.col("code") == "110000").row(0, named=True)
    assert row["state"] in ("rejected", "not_received")
    assert compute_status(three, period=PERIOD).totals["units_missing"] == 1


def test_a_withdrawn_version_does_not_make_a_unit_on_time(home, tmp_path):
    ingest(home, tmp_path, "bj1.xlsx", "110000", ["甲"], at=ON_TIME)
    ingest(home, tmp_path, "bj2.xlsx", "110000", ["乙"], at=LATE)
    def unit_state() -> str:
        return compute_status(home, period=PERIOD).units.filter(pl.col("code") == "110000")["state"][0]

    assert unit_state() == "on_time"  # a correction after the deadline: still on time
    api.withdraw(home, period=PERIOD, unit="110000", version=1, reason="实为其他单位的报表", by="x")
    assert unit_state() == "late"
    api.restore(home, period=PERIOD, unit="110000", version=1, reason="核实无误", by="x")
    assert unit_state() == "on_time"


def test_a_later_return_counts_over_a_restored_one(three, tmp_path):
    api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="错", by="x")
    api.withdraw(three, period=PERIOD, unit="110000", version=1, reason="错", by="x")
    # a new version after the withdrawals counts; restoring an older one does not outrank it
    four = ingest(three, tmp_path / "later", "bj4.xlsx", "110000", ["新"], at=LATE)
    assert four.version == 4
    assert [s for _, s, _ in states(three)] == ["withdrawn", "rejected", "withdrawn", "counting"]
    change = api.restore(three, period=PERIOD, unit="110000", version=3, reason="恢复", by="x")
    assert (change.counting_before, change.counting_after) == (4, 4)
    assert "仍是第4版" in change.message
    assert states(three)[2] == (3, "superseded", 4)
    api.withdraw(three, period=PERIOD, unit="110000", version=4, reason="错", by="x")
    assert states(three)[2] == (3, "counting", None)
    assert counted_rows(three)["110000"] == 3


@pytest.mark.parametrize(
    ("action", "version", "reason", "expected"),
    [
        ("restore", 2, "恢复", "已退回（1处错误），从未计入汇总，不能恢复"),
        ("withdraw", 2, "撤回", "已退回（1处错误），从未计入汇总，不能撤回"),
        ("withdraw", 7, "撤回", "没有第7版报表（已收到第1、2、3版）"),
        ("restore", 3, "恢复", "未被撤回（当前有效），无需恢复"),
        ("withdraw", 3, "  ", "请用 --reason 写明撤回的原因"),
    ],
)
def test_changes_that_cannot_be_done_say_why_and_change_nothing(three, action, version, reason, expected):
    before = three.store.submissions(PERIOD)
    call = api.withdraw if action == "withdraw" else api.restore
    with pytest.raises(HistoryError, match=expected.replace("（", r"\（").replace("）", r"\）")):
        call(three, period=PERIOD, unit="110000", version=version, reason=reason, by="x")
    assert three.store.submissions(PERIOD).equals(before)
    with sqlite3.connect(three.store.ledger_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)


def test_withdrawing_twice_is_refused(three):
    api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="误报", by="x")
    with pytest.raises(HistoryError, match="已经撤回（误报）"):
        api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="再撤", by="x")


def test_the_events_are_kept_append_only_with_who_when_and_why(three):
    change = api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="误报", by="王五")
    api.restore(three, period=PERIOD, unit="110000", version=3, reason="核实", by=None)
    with sqlite3.connect(three.store.ledger_path) as conn:
        rows = conn.execute("SELECT version, action, reason, actor FROM events ORDER BY seq").fetchall()
        assert rows[0] == (3, "withdraw", "误报", "王五") and rows[1][:3] == (3, "restore", "核实")
        assert rows[1][3]  # the OS user by default
        for statement in ("UPDATE events SET reason='x'", "DELETE FROM events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone() == (4,)
    assert change.event.at.date() == three.now().date()


def test_withdraw_waits_for_the_home_lock(three):
    from jobs.office.lock import LockTimeout, store_lock

    with store_lock(three.root, holder="test"), pytest.raises(LockTimeout):
        three.lock = lambda holder: store_lock(three.root, holder=holder, timeout=0.2)
        api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="误报", by="x")
    assert states(three)[2][1] == "counting"


def test_reingesting_a_withdrawn_file_changes_nothing_restore_does(three, tmp_path):
    api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="误报", by="x")
    again = ingest(three, tmp_path / "again", "bj3.xlsx", "110000", ["甲", "乙", "丙"], at=LATE)
    assert (again.status, again.version) == ("duplicate", 3)
    assert states(three)[2][1] == "withdrawn"
    api.restore(three, period=PERIOD, unit="110000", version=3, reason="按原件恢复", by="x")
    assert states(three)[2][1] == "counting"


# -- the command line ------------------------------------------------------------


def cli(home, *args: str):
    return CliRunner().invoke(main, [*args, "--home", str(home.root)])


def test_cli_history_text_and_json_lines(three):
    done = cli(three, "withdraw", "--period", PERIOD, "--unit", "110000", "--version", "3", "--reason", "误报",
               "--by", "王五")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "已撤回单位110000 2015-02 本级报表第3版。现计入汇总的是第1版。" in done.output
    text = cli(three, "history", "--period", PERIOD, "--unit", "110000")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == "北京市（110000） 2015-02：共收到3份报表"
    assert lines[1].startswith("第1版  本级  2015-02-20 09:00:00  bj1.xlsx  接收（错误0项，提示0项）  当前有效")
    assert "退回（错误1项，提示0项）  退回" in lines[2]
    assert "已撤回：误报（王五，" in lines[3]
    assert "王五  撤回第3版：误报" in text.output
    as_json = cli(three, "history", "--period", PERIOD, "--unit", "110000", "--json")
    rows = [json.loads(line) for line in as_json.output.splitlines()]
    assert [(r["version"], r["verdict"], r["state"]) for r in rows] == [
        (1, "accepted", "counting"), (2, "rejected", "rejected"), (3, "accepted", "withdrawn"),
    ]  # fmt: skip
    assert rows[2]["events"][0]["reason"] == "误报" and rows[2]["events"][0]["by"] == "王五"
    assert rows[1]["errors"] == 1 and rows[0]["received_at"] == "2015-02-20T09:00:00"


def test_cli_refusals_are_chinese_errors(three):
    done = cli(three, "restore", "--period", PERIOD, "--unit", "110000", "--version", "2", "--reason", "恢复")
    assert done.exit_code == 1 and "不能恢复" in done.output and "Traceback" not in done.output
    missing = cli(three, "withdraw", "--period", PERIOD, "--unit", "110000", "--version", "3")
    assert missing.exit_code == 2 and "--reason" in missing.output
    nothing = cli(three, "history", "--period", PERIOD, "--unit", "999999")
    assert nothing.exit_code == 0 and "本期未收到该单位的报表" in nothing.output


def _summary(home) -> dict:
    done = cli(home, "summarize", "--period", PERIOD, "--json")
    assert done.exit_code == 0, done.output
    return json.loads(done.output.splitlines()[-1])


def test_summarize_follows_withdraw_and_restore_and_matches_a_fresh_home(three, tmp_path):
    with_v3 = _summary(three)
    cli(three, "withdraw", "--period", PERIOD, "--unit", "110000", "--version", "3", "--reason", "误报")
    with_v1 = _summary(three)
    assert with_v1 != with_v3
    status = json.loads(cli(three, "status", "--period", PERIOD, "--json").output)
    assert status["totals"]["units_on_time"] == 2  # v1 arrived on time; v3 was late

    fresh = home_with_registry(tmp_path / "fresh", REGISTRY)
    ingest(fresh, tmp_path / "f", "bj1.xlsx", "110000", ["甲", "乙"], at=ON_TIME)
    ingest(fresh, tmp_path / "f", "tj1.xlsx", "120000", ["丁"], at=ON_TIME)
    assert _comparable(_summary(fresh)) == _comparable(with_v1)

    cli(three, "restore", "--period", PERIOD, "--unit", "110000", "--version", "3", "--reason", "核实")
    assert _comparable(_summary(three)) == _comparable(with_v3)


def _comparable(summary: dict) -> dict:
    # when it was made is not a figure
    return {k: v for k, v in summary.items() if not k.endswith("_at")}


def test_a_change_makes_the_saved_summary_of_its_month_stale(three):
    from jobs.rollup.run import fingerprint

    prints = lambda: fingerprint(three, three.store.submissions(), period=PERIOD, before=None)  # noqa: E731
    first = prints()
    api.withdraw(three, period=PERIOD, unit="110000", version=3, reason="误报", by="x")
    withdrawn = prints()
    api.restore(three, period=PERIOD, unit="110000", version=3, reason="核实", by="x")
    assert withdrawn != first and prints() == first
