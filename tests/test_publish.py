"""Publishing a month: the published figures stand until a revision; later returns are listed, not counted."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import pytest
from click.testing import CliRunner

from jobs import api
from jobs.cli import main
from jobs.intake.parallel import ingest_paths
from jobs.office.home import init_home
from jobs.rollup.status import compute_status
from jobs.store.publication import PublicationError
from tests.conftest import SAMPLES, home_with_registry
from tests.test_intake import REGISTRY, FakeValidator, put

PERIOD = "2015-02"
ON_TIME, LATER, LATE = datetime(2015, 2, 20, 9), datetime(2015, 2, 25, 9), datetime(2015, 3, 3, 9)
EARLY = [("bj1.xlsx", "110000", ["甲", "乙"], ON_TIME, True)]
LATE_ONES = [
    ("bj2.xlsx", "110000", ["甲", "乙", "丙"], LATER, True),  # replaces the counted v1
    ("tj1.xlsx", "120000", ["丁"], LATE, True),  # adds a unit that had not reported
    ("tj2.xlsx", "120000", ["坏"], LATE, False),  # rejected: changes nothing
]
PUBLISH_KEYS = ("published_at", "revision", "received_after_publish")


def make_home(root, returns):
    home = home_with_registry(root, REGISTRY)
    feed(home, root, returns)
    return home


def feed(home, root, returns):
    for name, unit, problems, at, ok in returns:
        path = put(root / "in" / name.split(".")[0], name, unit, problems, ok=ok)
        ingest_paths(home, [path], period=PERIOD, validator=FakeValidator(), received_at=at, receipts=False)


def summarize_json(home, *args: str) -> dict:
    result = CliRunner().invoke(main, ["summarize", "--period", PERIOD, "--json", *args, "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def figures(node: dict) -> dict:
    return {k: v for k, v in node.items() if k not in PUBLISH_KEYS}


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path / "a", EARLY)


def test_unpublished_summarize_json_has_null_publication_keys(home):
    node = summarize_json(home)
    assert (node["published_at"], node["revision"], node["received_after_publish"]) == (None, 0, [])


def test_published_figures_stand_until_revised_then_equal_a_fresh_home(home, tmp_path):
    before = summarize_json(home)
    pub = api.publish(home, period=PERIOD, by="张三", note="报省办公室")
    assert (pub.revision, pub.by, pub.note, pub.reason) == (1, "张三", "报省办公室", None)
    assert pub.summary["units_reported"] == before["units_reported"] == 1
    published = summarize_json(home)
    assert published["revision"] == 1 and published["published_at"] == pub.at.isoformat()
    assert figures(published) == figures(before)
    # the summary recorded with the publication is the one every view shows
    assert {k: v for k, v in pub.summary.items() if k != "warnings"} == json.loads(json.dumps(figures(published)))

    feed(home, tmp_path / "a", LATE_ONES)  # validated, stored as usual ...
    assert [v.version for v in api.history(home, period=PERIOD, unit="120000")] == [1, 2]
    frozen = summarize_json(home)
    assert figures(frozen) == figures(before)  # ... but the published figures stand
    late = [(r["unit"], r["version"], r["verdict"], r["effect"], r["replaces"]) for r in frozen["received_after_publish"]]
    assert late == [("110000", 2, "accepted", "replace", 1), ("120000", 1, "accepted", "add", None),
                    ("120000", 2, "rejected", "none", None)]  # fmt: skip
    status = compute_status(home, period=PERIOD)
    assert status.totals["units_reported"] == 1  # status reads the same published view

    with pytest.raises(PublicationError, match="--revise"):
        api.publish(home, period=PERIOD)
    with pytest.raises(PublicationError, match="--reason"):
        api.publish(home, period=PERIOD, revise=True, reason=" ")
    second = api.publish(home, period=PERIOD, revise=True, reason="纳入逾期补报", by="李四")
    assert (second.revision, second.reason) == (2, "纳入逾期补报")
    revised = summarize_json(home)
    assert (revised["revision"], revised["received_after_publish"]) == (2, [])
    fresh = make_home(tmp_path / "b", EARLY + LATE_ONES)
    assert figures(revised) == figures(summarize_json(fresh))
    assert figures(revised) != figures(before)
    assert [p.revision for p in api.publications(home, period=PERIOD)] == [1, 2]  # every publication kept


def test_withdrawal_after_publication_counts_only_after_the_next_revision(home, tmp_path):
    feed(home, tmp_path / "a", LATE_ONES[:1])  # 北京 v2 counts
    api.publish(home, period=PERIOD, by="张三")
    before = summarize_json(home)
    api.withdraw(home, period=PERIOD, unit="110000", version=2, reason="误报", by="王五")
    assert figures(summarize_json(home)) == figures(before)
    api.publish(home, period=PERIOD, revise=True, reason="撤回误报", by="张三")
    after = summarize_json(home)
    fresh = make_home(tmp_path / "b", EARLY)  # what counts now: v1 only
    assert figures(after) == figures(summarize_json(fresh))
    assert figures(after) != figures(before)


def test_publications_are_append_only(home):
    api.publish(home, period=PERIOD, by="张三")
    with sqlite3.connect(home.store.ledger_path) as conn:
        for sql in ("UPDATE publications SET actor='x'", "DELETE FROM publications",
                    "DELETE FROM published_versions", "UPDATE published_versions SET counts=0"):  # fmt: skip
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)


def test_publish_cli(home):
    runner = CliRunner()
    args = ["--period", PERIOD, "--home", str(home.root)]
    done = runner.invoke(main, ["publish", *args, "--by", "张三", "--note", "报省办公室"])
    assert done.exit_code == 0, done.output
    assert "第1次发布" in done.output and "张三" in done.output
    misplaced = runner.invoke(main, ["publish", *args, "--reason", "x"])
    assert misplaced.exit_code == 2 and "--note" in misplaced.output
    again = runner.invoke(main, ["publish", *args])
    assert again.exit_code != 0 and "--revise" in again.output
    listed = runner.invoke(main, ["publish", *args, "--list", "--json"])
    (line,) = listed.output.strip().splitlines()
    assert json.loads(line)["revision"] == 1 and json.loads(line)["by"] == "张三"


def test_status_and_report_say_which_publication_they_show(home, tmp_path):
    api.publish(home, period=PERIOD, by="张三")
    feed(home, tmp_path / "a", LATE_ONES)
    runner = CliRunner()
    status = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(home.root), "--json"])
    payload = json.loads(status.output)
    assert payload["revision"] == 1 and len(payload["received_after_publish"]) == 3
    assert payload["totals"]["units_reported"] == 1
    text = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(home.root)]).output
    assert "以上为第1次发布的数字" in text and "发布后收到3份报表" in text and "将替代已计入的第1版" in text
    files = api.report(home, period=PERIOD, out_dir=tmp_path / "out", formats=("html",))
    assert "第1次发布" in files.context.publication_note and "发布后收到报表3份" in files.context.publication_note
    assert files.context.figures["units_reported"].value == 1
    assert files.context.publication_note in files.html.read_text(encoding="utf-8")


def test_the_publication_keeps_its_registry_version_and_deadline(home, tmp_path):
    api.publish(home, period=PERIOD, by="张三")
    before = summarize_json(home)
    (tmp_path / "v2.csv").write_text(REGISTRY + "130000,河北省,000000,省级,地方,赵六,0311-1,是\n", encoding="utf-8")
    home.import_registry(tmp_path / "v2.csv", from_period=PERIOD)
    home.set_deadline(PERIOD, datetime(2015, 2, 10))
    assert figures(summarize_json(home)) == figures(before)  # 2 expected, 1 on time, as published
    api.publish(home, period=PERIOD, revise=True, reason="名册调整")
    after = summarize_json(home)
    assert (after["units_expected"], after["units_on_time"], after["units_late"]) == (3, 0, 1)


def test_commands_say_that_a_change_waits_for_the_next_revision(home, tmp_path):
    feed(home, tmp_path / "a", LATE_ONES[:1])
    api.publish(home, period=PERIOD, by="张三")
    runner = CliRunner()
    args = ["--period", PERIOD, "--home", str(home.root)]
    withdrawn = runner.invoke(main, ["withdraw", *args, "--unit", "110000", "--version", "2", "--reason", "误报"])
    assert withdrawn.exit_code == 0 and "已第1次发布" in withdrawn.output and "更正发布" in withdrawn.output
    feed(home, tmp_path / "a", LATE_ONES[1:])
    only = summarize_json(home, "--unit", "120000")  # the subtree's returns only, as its figures
    assert [(r["unit"], r["version"]) for r in only["received_after_publish"]] == [("120000", 1), ("120000", 2)]
    status = json.loads(runner.invoke(main, ["status", *args, "--unit", "110000", "--json"]).output)
    assert status["received_after_publish"] == []


def test_ingest_after_publication_says_the_return_waits_for_the_next_revision(tmp_path):
    home = init_home(tmp_path / "home")
    home.import_registry(SAMPLES / "registry.xlsx")
    returns = SAMPLES / "returns" / PERIOD
    api.ingest(home, [returns / "120000.xlsx"], period=PERIOD, receipts=False)
    api.publish(home, period=PERIOD, by="张三")
    done = CliRunner().invoke(main, ["ingest", str(returns / "140000.xlsx"), "--period", PERIOD, "--home",
                                     str(home.root), "--no-receipts"])  # fmt: skip
    assert "发布后收到" in done.output and "第1次发布" in done.output
    assert [r["unit"] for r in summarize_json(home)["received_after_publish"]] == ["140000"]
