"""Status counts against a hand-computed fixture (late, missing, rejected, a closed unit)."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from jobs.cli import main
from jobs.core.findings import Report, make_finding
from jobs.office.home import init_home
from jobs.rollup.status import compute_status, write_chase_xlsx
from jobs.store import Arrival

PERIOD = "2015-02"
HEADER = "单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送\n"
V1 = [
    "000000,全国,,全国,地方,,,否",
    "110000,北京市,000000,省级,地方,张三,010-1,是",
    "110100,东城区,110000,市级,地方,赵一,010-2,是",
    "120000,天津市,000000,省级,地方,李四,=HYPERLINK(\"x\"),是",
    "130000,河北省,000000,省级,地方,王五,0311-1,是",
    "130100,石家庄市,130000,市级,地方,钱二,0311-2,是",
    "140000,山西省,000000,省级,地方,孙三,0351-1,是",
    "900001,某部委,000000,省级,中央和国家机关,周七,010-9,是",
    "900002,某高校,000000,省级,中管高校,吴八,010-8,否",
]
# 山西省 (140000) is closed from 2015-02 on.
V2 = [r for r in V1 if not r.startswith("140000")]

# (unit, received_at, accepted)
ARRIVALS = [
    ("110000", datetime(2015, 2, 20, 9), True),  # on time
    ("110100", datetime(2015, 2, 28, 10), True),  # late: after the 02-27 18:00 deadline
    ("120000", datetime(2015, 2, 25, 9), False),  # rejected, awaiting correction
    ("130000", datetime(2015, 2, 26, 9), True),  # on time ...
    ("130000", datetime(2015, 3, 2, 9), True),  # ... and a later correction keeps it on time
    ("140000", datetime(2015, 2, 10, 9), True),  # closed: not expected, not counted
    ("900001", datetime(2015, 2, 27, 17, 59), True),  # on time, then a rejected correction
    ("900001", datetime(2015, 2, 28, 9), False),
    ("900002", datetime(2015, 2, 11, 9), True),  # need not report: not counted
    ("999999", datetime(2015, 2, 12, 9), False),  # not in the registry
]
# 130100 sends nothing.


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    h = init_home(root / "home")
    (root / "v1.csv").write_text(HEADER + "\n".join(V1) + "\n", encoding="utf-8")
    (root / "v2.csv").write_text(HEADER + "\n".join(V2) + "\n", encoding="utf-8")
    h.import_registry(root / "v1.csv", from_period="2015-01")
    h.import_registry(root / "v2.csv", from_period="2015-02")
    h.set_deadline(PERIOD, datetime(2015, 2, 27, 18, 0))
    store = h.store
    with h.lock():
        for i, (unit, at, ok) in enumerate(ARRIVALS):
            src = root / f"{unit}-{i}.xlsx"
            src.write_bytes(f"{unit}-{i}".encode())
            report = Report(file=src.name, unit=unit, period=PERIOD)
            if not ok:
                report.findings.append(make_finding("empty-ledger", sheet="整改台账"))
            store.write_batch(PERIOD, [Arrival(store.archive(src), src.name, at, report, None)], ingested_at=at)
    return h


NOW = datetime(2015, 2, 26, 6, 0)


def test_totals_and_breakdowns_match_hand_count(home):
    status = compute_status(home, period=PERIOD, now=NOW)
    t = status.totals
    assert {k: t[k] for k in ("units_expected", "units_reported", "units_on_time", "units_late",
                              "units_missing", "units_rejected")} == {  # fmt: skip
        "units_expected": 6, "units_reported": 4, "units_on_time": 3, "units_late": 1,
        "units_missing": 2, "units_rejected": 1,
    }  # fmt: skip
    assert t["reporting_rate"] == pytest.approx(4 / 6)
    assert t["timeliness_rate"] == pytest.approx(3 / 6)
    by_level = {r["level"]: r for r in status.by("level").iter_rows(named=True)}
    assert set(by_level) == {"省级", "市级"}
    assert [by_level["省级"][k] for k in ("units_expected", "units_reported", "units_on_time", "units_late",
                                          "units_missing", "units_rejected")] == [4, 3, 3, 0, 1, 1]  # fmt: skip
    assert [by_level["市级"][k] for k in ("units_expected", "units_reported", "units_on_time", "units_late",
                                          "units_missing", "units_rejected")] == [2, 1, 0, 1, 1, 0]  # fmt: skip
    by_cat = {r["category"]: r for r in status.by("category").iter_rows(named=True)}
    assert (by_cat["地方"]["units_expected"], by_cat["地方"]["units_reported"], by_cat["地方"]["units_late"]) == (5, 3, 1)
    assert by_cat["中央和国家机关"]["timeliness_rate"] == 1.0
    assert "中管高校" not in by_cat
    for frame in (status.by("level"), status.by("category")):
        assert (frame["reporting_rate"] <= 1).all() and (frame["units_reported"] <= frame["units_expected"]).all()
    assert sorted(status.unexpected["unit"].to_list()) == ["140000", "900002", "999999"]
    assert status.seconds_to_deadline == (36 * 3600)
    correction = status.units.filter(pl.col("code") == "900001")
    assert correction["correction_rejected"].to_list() == [True]


def test_chase_list_has_parent_and_contact(home):
    chase = compute_status(home, period=PERIOD, now=NOW).chase
    assert chase.select("code", "parent", "parent_name", "contact", "state").rows() == [
        ("120000", "000000", "全国", "李四", "rejected"),
        ("130100", "130000", "河北省", "钱二", "not_received"),
    ]


def test_closed_unit_is_expected_before_it_closed(home):
    january = compute_status(home, period="2015-01", now=NOW)
    assert january.totals["units_expected"] == 7
    assert "140000" in january.chase["code"].to_list()
    assert january.totals["units_reported"] == 0 and january.totals["reporting_rate"] == 0


def test_unit_subtree(home):
    status = compute_status(home, period=PERIOD, unit="130000", now=NOW)
    t = status.totals
    assert (t["units_expected"], t["units_reported"], t["units_on_time"], t["units_missing"]) == (2, 1, 1, 1)
    assert status.chase["code"].to_list() == ["130100"]


def test_chase_xlsx_values_are_inert(home, tmp_path):
    status = compute_status(home, period=PERIOD, now=NOW)
    path = write_chase_xlsx(status, tmp_path / "催报名单.xlsx")
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in rows] == ["120000", "130100"]
    assert rows[0][7] == "'=HYPERLINK(\"x\")"
    assert rows[0][8] == "退回待改" and rows[1][8] == "未报送"


def test_cli_status_text_json_and_errors(home, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    assert "66.7%（4/6）" in result.output and "催报名单（2个单位）" in result.output
    assert "已过截止时间" in result.output or "距截止还有" in result.output
    result = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(home.root), "--json",
                                  "--xlsx", str(tmp_path / "c.xlsx")])  # fmt: skip
    data = json.loads(result.output)
    # Chinese as UTF-8, as the other commands write it, not \u escapes
    assert "省级" in result.stdout and "\\u" not in result.stdout
    assert data["totals"]["units_expected"] == 6 and data["totals"]["units_late"] == 1
    assert [c["code"] for c in data["chase"]] == ["120000", "130100"]
    assert data["deadline"] == "2015-02-27T18:00:00" and data["unexpected_submissions"] == 3
    assert data["rate_denominator"] == "units_expected"
    assert data["by_level"][0]["level"] == "省级" and data["by_level"][0]["reporting_rate"] == 0.75
    assert (tmp_path / "c.xlsx").is_file()
    result = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(home.root), "--unit", "777"])
    assert result.exit_code == 1 and "不在" in result.output
    result = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(home.root), "--xlsx", "x.csv"])
    assert result.exit_code == 2


def test_unreadable_files_and_unknown_senders_are_listed_on_their_own(tmp_path):
    """Neither counts as a unit that need not report, nor in any total (issue 15 item 10)."""
    from jobs.core.errors import UnreadableFile

    h = init_home(tmp_path / "home")
    (tmp_path / "v1.csv").write_text(HEADER + "\n".join(V1) + "\n", encoding="utf-8")
    h.import_registry(tmp_path / "v1.csv", from_period="2015-01")
    broken = Report(file="坏文件.xlsx", findings=[UnreadableFile("encrypted").finding()])
    no_code = Report(file="无代码.xlsx", findings=[make_finding("missing-field", sheet="基本信息", column="单位代码")])
    arrivals = [
        (Report(file="bj.xlsx", unit="110000", period=PERIOD), datetime(2015, 2, 20, 9)),
        (Report(file="gx.xlsx", unit="900002", period=PERIOD), datetime(2015, 2, 21, 9)),  # need not report
        (Report(file="stray.xlsx", unit="999999", period=PERIOD), datetime(2015, 2, 22, 9)),  # not in the registry
        (broken, datetime(2015, 2, 23, 9)),
        (no_code, datetime(2015, 2, 24, 9)),
    ]
    with h.lock():
        for i, (report, at) in enumerate(arrivals):
            src = tmp_path / f"{i}-{report.file}"
            src.write_bytes(f"file {i}".encode())
            h.store.write_batch(PERIOD, [Arrival(h.store.archive(src), report.file, at, report, None)], ingested_at=at)
    status = compute_status(h, period=PERIOD, now=NOW)
    assert status.unreadable_files["file_name"].to_list() == ["坏文件.xlsx"]
    assert "加密" in status.unreadable_files["reason"].item()
    assert status.unknown_senders.select("unit", "file_name").rows() == [("999999", "stray.xlsx"), (None, "无代码.xlsx")]
    assert status.not_required["unit"].to_list() == ["900002"]
    assert status.totals["units_reported"] == 1

    runner = CliRunner()
    text = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(h.root)]).output
    assert "另有1份报表来自本期无需报送的单位" in text
    assert "不在名册中的报送单位（2个文件" in text and "stray.xlsx" in text and "（未填单位代码）" in text
    assert "无法读取的文件（1个" in text and "坏文件.xlsx" in text
    data = json.loads(runner.invoke(main, ["status", "--period", PERIOD, "--home", str(h.root), "--json"]).output)
    assert [f["file_name"] for f in data["unreadable_files"]] == ["坏文件.xlsx"]
    assert data["unreadable_files"][0]["received_at"] == "2015-02-23T09:00:00"
    assert [(s["unit"], s["file_name"]) for s in data["unknown_senders"]] == [("999999", "stray.xlsx"),
                                                                              (None, "无代码.xlsx")]
    assert data["unexpected_submissions"] == 4  # unchanged key: every return outside the totals
