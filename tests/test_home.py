"""Office home: config, deadlines, registry import with history, the lock."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.office.config import ConfigError
from jobs.office.home import Home, HomeError, init_home
from jobs.office.lock import LockTimeout, store_lock
from jobs.office.registry import RegistryError

HEADER = "单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送\n"
BASE = [
    "000000,全国,,全国,地方,,,否",
    "110000,北京市,000000,省级,地方,张三,010-1,是",
    "120000,天津市,000000,省级,地方,李四,022-1,是",
    "130000,河北省,000000,省级,地方,王五,0311-1,是",
]


def write_registry(path, rows):
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_init_creates_home_and_keeps_existing_config(tmp_path):
    home = init_home(tmp_path / "h")
    assert (home.root / "config.toml").is_file()
    assert home.config.timezone == "Asia/Shanghai"
    assert home.config.thresholds.completion_rate == pytest.approx(0.4)
    assert home.config.accountability.supervision_days == 30
    home.set_deadline("2015-02", datetime(2015, 2, 27, 18, 0))
    again = init_home(tmp_path / "h")
    assert again.deadline("2015-02") == datetime(2015, 2, 27, 18, 0)
    assert again.deadline("2015-03") == datetime(2015, 3, 31, 23, 59, 59)
    assert again.deadline("2016-02") == datetime(2016, 2, 29, 23, 59, 59)


def test_open_uninitialised_home_and_bad_input_give_chinese_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("RECTIFY_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(HomeError, match="尚未初始化"):
        Home.open()
    with pytest.raises(ConfigError, match="时区"):
        init_home(tmp_path / "bad", timezone="Mars/Olympus")
    home = init_home(tmp_path / "h")
    with pytest.raises(HomeError, match="格式不对"):
        home.deadline("2015-13")
    (home.root / "config.toml").write_text("timezone = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="格式有误"):
        Home.open(home.root).config


def test_registry_history_is_not_retroactive(tmp_path):
    home = init_home(tmp_path / "h")
    with pytest.raises(HomeError, match="尚未导入"):
        home.registry("2015-02")
    v1 = home.import_registry(write_registry(tmp_path / "r1.csv", BASE), from_period="2015-01")
    # 河北省 closed and 山西省 opened from 2015-03
    rows2 = [*BASE[:3], "140000,山西省,000000,省级,地方,赵六,0351-1,是"]
    v2 = home.import_registry(write_registry(tmp_path / "r2.csv", rows2), from_period="2015-03")
    assert (v1["version"], v2["version"]) == (1, 2)
    assert "130000" in home.registry("2015-02")["code"].to_list()
    assert "140000" not in home.registry("2015-02")["code"].to_list()
    assert "130000" not in home.registry("2015-04")["code"].to_list()
    assert "140000" in home.registry("2015-03")["code"].to_list()
    with pytest.raises(HomeError, match="2014-06没有适用的组织机构名册"):  # before every version: no fallback
        home.registry_version("2014-06")
    again = home.import_registry(tmp_path / "r2.csv", from_period="2015-03")
    assert again["unchanged"] and again["version"] == 2 and len(home.registry_versions()) == 2


def test_bad_registry_lists_every_fault_in_chinese(tmp_path):
    home = init_home(tmp_path / "h")
    rows = [
        *BASE,
        "110000,重复,000000,省级,地方,,,是",
        "210000,辽宁省,999999,省级,地方,,,是",
        "310000,上海市,000000,直辖级,地方,,,是",
        "A,甲,B,市级,地方,,,是",
        "B,乙,A,市级,地方,,,是",
    ]
    with pytest.raises(RegistryError) as info:
        home.import_registry(write_registry(tmp_path / "bad.csv", rows), from_period="2015-01")
    text = str(info.value)
    for fragment in ("重复", "999999", "直辖级", "成环"):
        assert fragment in text
    assert home.registry_versions() == []


def test_cli_init_and_registry_import(tmp_path):
    runner = CliRunner()
    home = tmp_path / "h"
    result = runner.invoke(main, ["registry", "import", str(write_registry(tmp_path / "r.csv", BASE)),
                                  "--home", str(home)])  # fmt: skip
    assert result.exit_code == 1 and "rectify init" in result.output
    assert runner.invoke(main, ["init", "--home", str(home)]).exit_code == 0
    result = runner.invoke(main, ["registry", "import", str(tmp_path / "r.csv"), "--from-period", "2015-01"],
                           env={"RECTIFY_HOME": str(home)})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "应报送3个" in result.output
    bad = write_registry(tmp_path / "bad.csv", [*BASE, "X,孤,Y,市级,地方,,,是"])
    result = runner.invoke(main, ["registry", "import", str(bad), "--home", str(home)])
    assert result.exit_code == 1 and "不在名册中" in result.output and "Traceback" not in result.output
    assert "第6行（单位代码X）" in result.output
    result = runner.invoke(main, ["registry", "import", str(bad), "--home", str(home), "--from-period", "2015/1"])
    assert result.exit_code == 2 and "YYYY-MM" in result.output
    result = runner.invoke(main, ["registry", "history", "--home", str(home)])
    assert result.exit_code == 0 and "第1版  自2015-01起生效  4个单位" in result.output


def test_lock_makes_a_second_writer_wait_then_time_out(tmp_path):
    held = threading.Event()
    release = threading.Event()

    def holder():
        with store_lock(tmp_path, holder="monthly run"):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(5)
    started = time.monotonic()
    with pytest.raises(LockTimeout, match="monthly run"), store_lock(tmp_path, timeout=0.3):
        pass
    assert time.monotonic() - started >= 0.3
    release.set()
    thread.join(5)
    with store_lock(tmp_path, timeout=1):  # free again
        pass


def test_cli_deadline_shows_and_sets(tmp_path):
    runner = CliRunner()
    home = init_home(tmp_path / "h")
    result = runner.invoke(main, ["deadline", "--period", "2015-02", "--home", str(home.root)])
    assert result.exit_code == 0 and "2015-02-28 23:59:59" in result.output
    result = runner.invoke(main, ["deadline", "--period", "2015-02", "--home", str(home.root),
                                  "--at", "2015-02-27T10:00:00+00:00"])  # fmt: skip
    assert result.exit_code == 0 and "2015-02-27 18:00:00" in result.output
    assert Home.open(home.root).deadline("2015-02") == datetime(2015, 2, 27, 18, 0)
    result = runner.invoke(main, ["deadline", "--period", "2015-02", "--home", str(home.root), "--at", "明天"])
    assert result.exit_code == 2 and "格式不对" in result.output
