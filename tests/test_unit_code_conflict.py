"""Issue 15 item 1 end to end: a mistyped 单位代码 never replaces another unit's return, and every
accepted replacement's receipt says which version it replaces."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from test_validate_helpers import base_return, set_item, write_return

from jobs.intake.parallel import ingest_paths
from tests.conftest import home_with_registry

PERIOD = "2015-02"
REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
120000,天津市,000000,省级,地方,李四,022-1,是
"""
T1, T2, T3, T4 = (dt.datetime(2015, 2, d, 9, 30) for d in (20, 23, 24, 25))


def _meta(path) -> dict[str, object]:
    ws = openpyxl.load_workbook(path).active
    return {row[0].value: row[1].value for row in ws.iter_rows(min_row=2, max_row=12)}


@pytest.fixture
def office(tmp_path):
    home = home_with_registry(tmp_path, REGISTRY)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    beijing = write_return(base_return("110000", "北京市", seed=1), inbox / "北京市.xlsx")
    wrong = base_return("120000", "天津市", seed=2)
    set_item(wrong, "基本信息", "单位代码", "110000")  # 天津市's clerk typed 北京市's code
    tianjin = write_return(wrong, tmp_path / "天津市.xlsx")
    return home, beijing, tianjin


def _current(home) -> list[tuple[str, int, str]]:
    rows = home.store.current(PERIOD).select("unit", "version", "file_name").rows()
    return sorted(rows)


def test_tianjin_return_with_beijings_code_is_rejected_and_beijing_stays_current(office):
    home, beijing, tianjin = office
    first = ingest_paths(home, [beijing], period=PERIOD, received_at=T1)
    assert [(f.status, f.accepted, f.version) for f in first.files] == [("stored", True, 1)]

    mistyped = ingest_paths(home, [tianjin], period=PERIOD, received_at=T2)
    (outcome,) = mistyped.files
    assert (outcome.status, outcome.accepted) == ("stored", False)
    report = home.store.report(outcome.submission_id)
    assert [f.code for f in report.errors] == ["unit-code-conflict"]
    assert "120000" in report.errors[0].message and "北京市" in report.errors[0].message
    assert _current(home) == [("110000", 1, "北京市.xlsx")]
    # the rejection receipt tells the sender that 北京市's version still counts
    meta = _meta(outcome.receipt)
    assert meta["结论"] == "退回" and meta["单位名称"] == "北京市"
    assert meta["版本"] == "第2版（未通过；2015-02-20 09:30:00收到的第1版仍然有效）"

    again = ingest_paths(home, [beijing], period=PERIOD, received_at=T3)
    assert [(f.status, f.version) for f in again.files] == [("duplicate", 1)]
    assert _current(home) == [("110000", 1, "北京市.xlsx")]


def test_accepted_replacement_receipt_names_the_version_it_replaces(office, tmp_path):
    home, beijing, tianjin = office
    ingest_paths(home, [beijing], period=PERIOD, received_at=T1)
    ingest_paths(home, [tianjin], period=PERIOD, received_at=T2)  # rejected: 北京市 第2版
    corrected = write_return(base_return("110000", "北京市", seed=3), tmp_path / "北京市（更正）.xlsx")
    (outcome,) = ingest_paths(home, [corrected], period=PERIOD, received_at=T4).files
    assert (outcome.status, outcome.accepted, outcome.version) == ("stored", True, 3)
    meta = _meta(outcome.receipt)
    assert meta["版本"] == "第3版（替换2015-02-20 09:30:00收到的第1版）"
    assert meta["单位名称"] == "北京市" and meta["收到时间"] == "2015-02-25 09:30:00"
    assert meta["截止时间"] == "2015-02-28 23:59:59" and meta["是否按时"] == "按时"
    assert _current(home) == [("110000", 3, "北京市（更正）.xlsx")]


def test_late_first_version_is_marked_late(office):
    home, beijing, _tianjin = office
    (outcome,) = ingest_paths(home, [beijing], period=PERIOD, received_at=dt.datetime(2015, 3, 2, 8, 0)).files
    meta = _meta(outcome.receipt)
    assert meta["版本"] == "第1版" and meta["是否按时"] == "逾期（截止时间后收到）"


def test_a_name_two_units_share_is_no_conflict_for_either(tmp_path):
    """Registries repeat names (城关镇 in many counties): a unit using its own name is fine."""
    from test_validate_helpers import ARRIVAL, registry_frame

    from jobs.validate import validate_files

    registry = registry_frame([("110000", "北京市"), ("410101", "城关镇"), ("420101", "城关镇")])
    paths = [write_return(base_return(code, "城关镇", seed=i), tmp_path / f"{code}.xlsx")
             for i, code in enumerate(("410101", "420101"))]
    wrong = base_return("110000", "城 关 镇", seed=5)
    paths.append(write_return(wrong, tmp_path / "wrong.xlsx"))
    results = validate_files(paths, registry=registry, period=PERIOD, received_at={p: ARRIVAL for p in paths})
    assert [[f.code for f in r.report.findings] for r in results] == [[], [], ["unit-code-conflict"]]
    assert "410101" in results[2].report.findings[0].message  # the first unit of that name, by code
