"""Issue 15 item 9: a run whose files mostly carry another month says the --period is probably wrong,
once and first, instead of blaming every unit; nothing is lost; ``deadline --at`` with a date only."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from test_validate_helpers import base_return, set_item, write_return

from jobs.cli import main
from jobs.intake.parallel import ingest_paths
from tests.conftest import home_with_registry

REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
120000,天津市,000000,省级,地方,李四,022-1,是
130000,河北省,000000,省级,地方,王五,0311-1,是
"""
UNITS = (("110000", "北京市"), ("120000", "天津市"), ("130000", "河北省"))
AT = dt.datetime(2015, 2, 20, 9, 0)


def _folder(root, *, periods: tuple[str, ...]):
    root.mkdir()
    for (code, name), period in zip(UNITS, periods, strict=True):
        spec = base_return(code, name, seed=int(code[:2]))
        set_item(spec, "基本信息", "报送期", period)
        write_return(spec, root / f"{name}.xlsx")
    return root


@pytest.fixture
def office(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def _ingest(home, folder, period):
    args = ["ingest", str(folder), "--period", period, "--home", str(home.root), "--received-at", AT.isoformat()]
    return CliRunner().invoke(main, args)


def test_last_months_folder_gets_one_hint_and_no_blaming_receipts(office, tmp_path):
    folder = _folder(tmp_path / "inbox-2015-01", periods=("2015-01",) * 3)
    done = _ingest(office, folder, "2015-02")
    assert done.exit_code == 1
    assert done.stderr.count("很可能是 --period 填错了") == 1, done.stderr
    assert "其中多数为2015-01" in done.stderr and "--period 2015-01" in done.stderr
    assert "有3份退回回执暂缓发出" in done.stdout
    # never lost: every file archived and recorded (rejected), but no receipt blames the units
    subs = office.store.submissions("2015-02")
    assert subs.height == 3 and not subs["accepted"].any()
    outbox = office.outbox("2015-02")
    assert not outbox.exists() or list(outbox.iterdir()) == []
    # the right period records them for that period, accepted, with receipts
    right = _ingest(office, folder, "2015-01")
    assert right.exit_code == 0, right.output
    assert "很可能" not in right.stderr
    assert len(list(office.outbox("2015-01").iterdir())) == 3
    # the same command again (the clerk is sure): the held receipts are written
    again = _ingest(office, folder, "2015-02")
    assert "很可能" not in again.stderr
    assert len(list(outbox.iterdir())) == 3


def test_one_units_wrong_month_is_that_units_receipt(office, tmp_path):
    folder = _folder(tmp_path / "inbox", periods=("2015-01", "2015-02", "2015-02"))
    result = ingest_paths(office, [folder], period="2015-02", received_at=AT)
    assert result.period_hint is None
    wrong = [f for f in result.files if f.wrong_period is not None]
    assert len(wrong) == 1 and wrong[0].receipt is not None and wrong[0].receipt.is_file()


def test_period_spelled_201502_is_accepted_with_a_format_warning(office, tmp_path):
    folder = _folder(tmp_path / "inbox", periods=("201502", "2015.02", "2015年2月"))
    result = ingest_paths(office, [folder], period="2015-02", received_at=AT)
    assert result.period_hint is None
    assert [(f.accepted, f.n_errors, f.n_warnings) for f in result.files] == [(True, 0, 1)] * 3
    codes = {f.code for sid in office.store.current("2015-02")["submission_id"] for f in office.store.report(sid).findings}
    assert codes == {"period-format"}


def test_validate_says_it_once_too(tmp_path):
    folder = _folder(tmp_path / "inbox", periods=("2015-01", "2015-01", "2015-02"))
    registry = tmp_path / "registry.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    done = CliRunner().invoke(main, ["validate", str(folder), "--registry", str(registry), "--period", "2015-02"])
    assert done.exit_code == 1
    assert done.stderr.count("很可能是 --period 填错了") == 1 and "其中多数为2015-01" in done.stderr
    assert "警告" not in done.output


def _deadline(home, *args):
    return CliRunner().invoke(main, ["deadline", "--period", "2015-02", "--home", str(home.root), *args])


def test_deadline_date_without_time_is_the_end_of_that_day(office):
    done = _deadline(office, "--at", "2015-02-27")
    assert done.exit_code == 0, done.output
    assert "2015-02-27 23:59:59" in done.output
    assert office.__class__(office.root).deadline("2015-02") == dt.datetime(2015, 2, 27, 23, 59, 59)


def test_deadline_outside_the_month_needs_force(office):
    done = _deadline(office, "--at", "2015-03-05")
    assert done.exit_code == 2 and "--force" in done.stderr and "2015-02" in done.stderr
    assert office.__class__(office.root).deadline("2015-02") == dt.datetime(2015, 2, 28, 23, 59, 59)
    forced = _deadline(office, "--at", "2015-03-05T12:00:00", "--force")
    assert forced.exit_code == 0, forced.output
    assert office.__class__(office.root).deadline("2015-02") == dt.datetime(2015, 3, 5, 12, 0)


def test_watch_says_it_once_for_a_batch_of_last_months_files(office, tmp_path, monkeypatch):
    import json
    from pathlib import Path

    import polars as pl

    import jobs.intake.watch
    from jobs.core.findings import Report, make_finding

    class Validated:
        def __init__(self, report):
            self.report, self.content_hash, self.report_type = report, "", "本级"
            self.tables = {"ledger": pl.DataFrame({"row": [3], "seq": [1], "problem": ["文山会海"]})}

    def last_month(paths, *, period, **_options):
        out = []
        for path in paths:
            unit = json.loads(Path(path).read_text(encoding="utf-8"))["unit"]
            wrong = make_finding("wrong-period", sheet="基本信息", value="2015-01", expected=period)
            out.append(Validated(Report(file=str(path), unit=unit, period="2015-01", findings=[wrong])))
        return out

    monkeypatch.setattr(jobs.intake.watch, "default_validator", lambda: last_month)
    inbox = tmp_path / "watched"
    inbox.mkdir()
    for code, name in UNITS:
        (inbox / f"{name}.xlsx").write_text(json.dumps({"unit": code}), encoding="utf-8")
    done = CliRunner().invoke(main, ["watch", str(inbox), "--period", "2015-02", "--home", str(office.root),
                                     "--settle", "0.1", "--stop-after", "1.5"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.stderr.count("很可能是 --period 填错了") == 1 and "其中多数为2015-01" in done.stderr
    assert office.store.submissions("2015-02").height == 3
    outbox = office.outbox("2015-02")
    assert not outbox.exists() or list(outbox.iterdir()) == []


def test_run_says_it_once_before_the_summary(office, tmp_path):
    folder = _folder(tmp_path / "inbox-2015-01", periods=("2015-01",) * 3)
    done = CliRunner().invoke(main, ["run", "--period", "2015-02", "--inbox", str(folder), "--home", str(office.root),
                                     "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.stderr.count("很可能是 --period 填错了") == 1 and "其中多数为2015-01" in done.stderr
    outbox = office.outbox("2015-02")
    assert not outbox.exists() or list(outbox.iterdir()) == []
