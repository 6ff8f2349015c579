"""One typed config (checked at load), one discovery, one arrival time, one atomic write."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.files import atomic_write
from jobs.intake.discover import arrival_time, expand_paths
from jobs.office.config import Config, ConfigError, Limits, Thresholds
from jobs.office.home import Home, dump_toml
from tests.conftest import home_with_registry

PERIOD = "2015-02"
REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
"""


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def set_config(home: Home, table: str | None, key: str, value: str) -> None:
    """Replace one ``key = ...`` line (in ``[table]``) of the home's config.toml with ``key = value``."""
    path = home.root / "config.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n[{table}]\n") if table else 0
    line = re.compile(rf"^{key} = .*$", re.M)
    match = line.search(text, start)
    if match is None:  # a key the file does not hold yet: add it to the table
        head = text.index("\n", start + 1) + 1 if table else text.index("\n") + 1
        text = f"{text[:head]}{key} = {value}\n{text[head:]}"
    else:
        text = f"{text[: match.start()]}{key} = {value}{text[match.end():]}"
    path.write_text(text, encoding="utf-8")


# -- one set of defaults --------------------------------------------------------


def test_one_set_of_defaults(home):
    written = tomllib.loads((home.root / "config.toml").read_text(encoding="utf-8"))
    assert written["limits"]["max_file_mb"] == 20 == Limits().max_file_mb
    assert Config.from_dict(written) == Config() == home.config
    assert home.config.limits == Limits() and home.config.thresholds == Thresholds()
    assert Config.from_dict({}) == Config()  # an empty file means the defaults too


def test_config_round_trips_through_toml():
    config = Config.from_dict({"timezone": "UTC", "limits": {"batch_size": 7, "max_file_mb": 12.5},
                               "thresholds": {"completion_rate": 0.5}, "receipts": {"format": "html"},
                               "periods": {PERIOD: {"deadline": datetime(2015, 2, 27, 18)}}})  # fmt: skip
    assert (config.limits.batch_size, config.limits.max_file_mb, config.receipts.format) == (7, 12.5, "html")
    assert Config.from_dict(tomllib.loads(dump_toml(config.to_dict()))) == config


# -- config mistakes: caught at load, in Chinese, naming file, key, value and what is allowed ------------

BAD = [
    ("limits", "max_file_mb", '"20MB"', ["max_file_mb", "“20MB”", "大于0的数"]),
    ("thresholds", "completion_rate", "60", ["completion_rate", "60", "大于0且小于等于1的数"]),
    ("thresholds", "satisfaction_rate", "0", ["satisfaction_rate", "大于0且小于等于1的数"]),
    ("limits", "batch_size", "0", ["batch_size", "0", "大于等于1的整数"]),
    ("limits", "lock_timeout_seconds", "-1", ["lock_timeout_seconds", "-1", "大于等于0的数"]),
    ("limits", "max_rows", "true", ["max_rows", "true", "整数"]),
    ("limits", "max_count", "0", ["max_count", "0", "大于等于1", "整数"]),
    ("limits", "max_count", "9223372036854775807.5", ["max_count", "整数"]),
    (None, "timezone", '"Mars/Olympus"', ["timezone", "“Mars/Olympus”", "Asia/Shanghai"]),
    ("receipts", "format", '"pdf"', ["format", "“pdf”", "xlsx或html"]),
    ("limits", "max_file_MB", "30", ["max_file_MB", "无法识别", "max_file_mb"]),  # a misspelt key is an error
    ("limits", "max_rows_per_sheet", "0", ["max_rows_per_sheet", "0", "大于等于1的整数"]),
    ("limits", "max_findings_per_return", "2.5", ["max_findings_per_return", "2.5", "整数"]),
    ("limits", "batch_mb", '"200MB"', ["batch_mb", "“200MB”", "大于0的数"]),
    ("limits", "watch_incomplete_seconds", "-5", ["watch_incomplete_seconds", "-5", "大于等于0的数"]),
]


@pytest.mark.parametrize(("table", "key", "value", "expected"), BAD, ids=[b[1] + "=" + b[2] for b in BAD])
def test_bad_config_is_a_chinese_error_at_load(home, table, key, value, expected):
    set_config(home, table, key, value)
    with pytest.raises(ConfigError) as caught:
        Home.open(home.root)
    message = str(caught.value)
    assert f"配置文件“{home.root / 'config.toml'}”" in message
    for part in expected:
        assert part in message


COMMANDS = {
    "ingest": lambda inbox: ["ingest", str(inbox), "--period", PERIOD],
    "validate": lambda inbox: ["validate", str(inbox), "--period", PERIOD],
    "deadline": lambda _inbox: ["deadline", "--period", PERIOD, "--at", "2015-02-27T18:00:00"],
    "watch": lambda inbox: ["watch", str(inbox), "--period", PERIOD],
    "run": lambda inbox: ["run", "--period", PERIOD, "--inbox", str(inbox)],
}
CLI_CASES = [(c, b) for c in COMMANDS for b in BAD[:5]] + [("ingest", BAD[6]), ("ingest", BAD[8])]


@pytest.mark.parametrize(("command", "bad"), CLI_CASES, ids=[f"{c}-{b[1]}" for c, b in CLI_CASES])
def test_cli_reports_bad_config_without_traceback(home, tmp_path, command, bad):
    table, key, value, expected = bad
    set_config(home, table, key, value)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "北京市.xlsx").write_bytes(b"not a workbook")
    before = (home.root / "config.toml").read_text(encoding="utf-8")
    result = CliRunner().invoke(main, [*COMMANDS[command](inbox), "--home", str(home.root)])
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a clean exit, no traceback
    assert "Traceback" not in result.output
    assert "配置文件" in result.output and "config.toml" in result.output
    for part in expected:
        assert part in result.output
    assert (home.root / "config.toml").read_text(encoding="utf-8") == before  # nothing was written
    assert home.store.submissions().height == 0


def test_attention_threshold_is_a_fraction(home):
    set_config(home, "thresholds", "completion_rate", "0.75")
    assert Home.open(home.root).config.thresholds.completion_rate == 0.75
    with pytest.raises(ConfigError, match="大于0且小于等于1"):
        Thresholds.from_mapping({"completion_rate": 60})  # read as 6000 % before


# -- one discovery: every file in a folder gets a verdict in validate and ingest ---------------------

ODD = {"a.ods": b"PK\x03\x04odf", "b.xlsb": b"PK\x03\x04xlsb", "c.et": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1et",
       "d.csv": "单位代码,单位名称\n110000,北京市\n".encode(), "e.pdf": b"%PDF-1.4\n"}  # fmt: skip


def test_validate_and_ingest_answer_every_file_in_a_folder(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, data in ODD.items():
        (inbox / name).write_bytes(data)
    (inbox / "~$a.xlsx").write_bytes(b"lock")  # Excel's lock file: not a received file, in both
    assert [p.name for p in expand_paths([inbox])] == sorted(ODD)

    checked = CliRunner().invoke(main, ["validate", str(inbox), "--period", PERIOD, "--home", str(home.root),
                                        "--json"])  # fmt: skip
    assert checked.exit_code == 1, checked.output
    verdicts = {Path(r["file"]).name: r for r in map(json.loads, checked.output.splitlines())}
    assert sorted(verdicts) == sorted(ODD)
    assert all(not r["accepted"] and r["findings"][0]["code"] == "unreadable-file" for r in verdicts.values())

    ingested = CliRunner().invoke(main, ["ingest", str(inbox), "--period", PERIOD, "--home", str(home.root),
                                         "--workers", "1", "--quiet"])  # fmt: skip
    assert ingested.exit_code == 1, ingested.output
    assert f"共{len(ODD)}个文件：新入库{len(ODD)}个（其中退回{len(ODD)}个）" in ingested.output
    stored = home.store.submissions(PERIOD)
    assert sorted(stored["file_name"]) == sorted(ODD)
    assert not any(stored["accepted"])
    for sid, name in zip(stored["submission_id"], stored["file_name"], strict=True):  # the same reason in both
        (report,) = home.store.reports([sid])
        assert [f.message for f in report.findings] == [f["message"] for f in verdicts[name]["findings"]]


def test_validate_and_ingest_judge_file_sizes_alike(home, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    big = inbox / "北京市.xlsx"
    with open(big, "wb") as fh:
        fh.truncate(25 * 2**20)  # 25 MB: over the default 20 MB (validate used to allow 30)

    def outputs() -> tuple[str, str]:
        checked = CliRunner().invoke(main, ["validate", str(big), "--period", PERIOD, "--home", str(home.root)])
        ingested = CliRunner().invoke(main, ["ingest", str(big), "--period", PERIOD, "--home", str(home.root),
                                             "--workers", "1", "--quiet"])  # fmt: skip
        assert checked.exit_code == ingested.exit_code == 1, ingested.output
        return checked.output, ingested.output

    too_big = "文件过大（25.0MB，超过20MB），请删除无关内容（如图片）后重新报送"
    registry = tmp_path / "registry.csv"
    alone = CliRunner().invoke(main, ["validate", str(big), "--period", PERIOD, "--registry", str(registry)])
    assert too_big in alone.output  # without a home: the same defaults
    checked, ingested = outputs()
    assert too_big in checked and f"✗ 北京市.xlsx：{too_big}，未入库。" in ingested
    archive = home.store.root / "archive"
    assert not [p for p in archive.rglob("*") if p.is_file()]  # refused before any copy
    set_config(home, "limits", "max_file_mb", "30")
    checked, ingested = outputs()
    assert "文件过大" not in checked and "文件过大" not in ingested
    assert home.store.submissions(PERIOD)["accepted"].to_list() == [False]  # read, archived and rejected


# -- one arrival time -------------------------------------------------------------------------------------


def test_arrival_time_is_the_mtime_in_the_office_zone_for_validate_and_ingest(home, tmp_path, monkeypatch):
    set_config(home, None, "timezone", '"America/New_York"')
    path = tmp_path / "inbox" / "北京市.xlsx"
    path.parent.mkdir()
    path.write_bytes(b"not a workbook")
    noon_utc = datetime(2015, 2, 27, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    os.utime(path, (noon_utc, noon_utc))
    assert arrival_time(path, timezone="America/New_York") == datetime(2015, 2, 27, 7, 0)
    assert arrival_time(path) == datetime(2015, 2, 27, 20, 0)  # the default zone: Asia/Shanghai

    import jobs.validate

    seen = {}
    real = jobs.validate.validate_files

    def spy(paths, **options):
        seen.update(options["received_at"])
        return real(paths, **options)

    monkeypatch.setattr(jobs.validate, "validate_files", spy)
    CliRunner().invoke(main, ["validate", str(path), "--period", PERIOD, "--home", str(home.root)])
    assert seen == {path: datetime(2015, 2, 27, 7, 0)}
    monkeypatch.undo()
    CliRunner().invoke(main, ["ingest", str(path), "--period", PERIOD, "--home", str(home.root), "--workers", "1",
                              "--quiet"])  # fmt: skip
    assert home.store.submissions(PERIOD)["received_at"].to_list() == [datetime(2015, 2, 27, 7, 0)]


# -- one temp-then-rename helper --------------------------------------------------------------------------


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sub" / "out.json"
    assert not atomic_write(target, '{"a": 1}').exists()  # the temp is gone after the rename
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": 1}
    atomic_write(target, b"[2]", durable=False)
    assert target.read_bytes() == b"[2]"
    used = atomic_write(target, lambda tmp: tmp.write_text("[3]", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "[3]"
    assert used.parent == target.parent and used.name.startswith(".") and used.suffix == ".tmp"

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("[4, half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "[3]"  # the old file, whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]  # no temp left behind


def test_limits_are_a_frozen_typed_section():
    limits = Limits.from_mapping({"max_rows": 5.0, "batch_size": 3})
    assert isinstance(limits.max_rows, int) and isinstance(limits.max_file_mb, float)
    assert dataclasses.replace(limits, max_file_mb=1).max_file_mb == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_rows = 1  # type: ignore[misc]
