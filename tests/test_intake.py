"""Intake: archive first, validate, record; idempotent and crash-safe.

A small fake validator stands in for jobs.validate (injected): a "return" is a
JSON file ``{"unit": ..., "ok": bool, "problems": [...]}`` with an .xlsx name.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from jobs.core.findings import Report, make_finding
from jobs.core.tables import table_schema
from jobs.intake.batch import (
    read_validate_batch,
    text_hashes,
)
from jobs.intake.discover import expand_paths, is_candidate
from jobs.intake.parallel import ingest_paths
from jobs.office.home import init_home
from tests.conftest import home_with_registry

PERIOD = "2015-02"
REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
120000,天津市,000000,省级,地方,李四,022-1,是
"""
FACTS = "清理超标办公用房十二处，腾退面积三千平方米"


@dataclass
class FakeValidated:
    report: Report
    tables: dict[str, pl.DataFrame] | None
    content_hash: str
    report_type: str | None


class FakeValidator:
    """Records what it was called with; turns JSON files into reports and ledger rows."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, paths, *, registry, period, received_at=None, **_options):
        self.calls.append({"paths": list(paths), "received_at": received_at})
        out = []
        for path in paths:
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                report = Report(file=str(path), findings=[make_finding("unreadable-file", reason="不是Excel")])
                out.append(FakeValidated(report, None, "", None))
                continue
            report = Report(file=str(path), unit=data["unit"], period=period)
            if data["unit"] not in registry["code"].to_list():
                report.findings.append(make_finding("unknown-unit", value=data["unit"]))
            if not data.get("ok", True):
                report.findings.append(make_finding("empty-ledger", sheet="整改台账"))
            rows = [{"row": 3 + i, "seq": i + 1, "problem": p, "facts": FACTS} for i, p in enumerate(data["problems"])]
            layout = table_schema("ledger")
            frame = pl.DataFrame(rows) if rows else pl.DataFrame(schema={"row": pl.Int32})
            frame = frame.select(
                pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c) for c, t in layout.items()
            )
            out.append(FakeValidated(report, {"ledger": frame}, "", "本级"))
        return out


def put(folder: Path, name: str, unit: str, problems: list[str], *, ok: bool = True, mtime: datetime | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps({"unit": unit, "ok": ok, "problems": problems}, ensure_ascii=False), encoding="utf-8")
    if mtime:
        ts = mtime.timestamp()
        os.utime(path, (ts, ts))
    return path


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def snapshot(home):
    store = home.store
    files = sorted(str(p.relative_to(home.root)) for p in home.root.rglob("*") if p.is_file() and "-" not in p.suffix)
    return store.submissions(PERIOD).drop("ingested_at"), store.load_tables(PERIOD), files


def test_candidates_skip_temporary_and_hidden_files(tmp_path):
    for name in ["a.xlsx", "~$a.xlsx", "b.xlsx.tmp", ".hidden.xlsx", "c.XLS", "d.pdf", "e.crdownload", "Thumbs.db"]:
        (tmp_path / name).write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.xlsx").write_text("x")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.xlsx", "c.XLS", "d.pdf"]
    assert not is_candidate("~$北京市.xlsx") and is_candidate("北京市.xlsx")


def test_ingest_twice_changes_nothing(home, tmp_path):
    inbox = tmp_path / "inbox"
    put(inbox, "bj.xlsx", "110000", ["甲", "乙"], mtime=datetime(2015, 2, 20, 10))
    put(inbox, "tj.xlsx", "120000", ["丙"], ok=False)
    put(inbox, "junk.xlsx", "x", []).write_bytes(b"\x00\x01 not json")
    fake = FakeValidator()
    first = ingest_paths(home, [inbox], period=PERIOD, validator=fake)
    assert [f.status for f in first.files] == ["stored", "stored", "stored"]
    assert first.rejected == 2
    before = snapshot(home)
    receipts = sorted(home.outbox(PERIOD).iterdir())
    assert len(receipts) == 3

    second = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    assert [f.status for f in second.files] == ["duplicate"] * 3
    after = snapshot(home)
    assert_frame_equal(after[0], before[0])
    for key in before[1]:
        assert_frame_equal(after[1][key], before[1][key])
    assert after[2] == before[2]
    assert sorted(home.outbox(PERIOD).iterdir()) == receipts


def test_same_bytes_under_two_names_are_stored_once(home, tmp_path):
    first = put(tmp_path / "in", "a.xlsx", "110000", ["甲"])
    (tmp_path / "in" / "b.xlsx").write_bytes(first.read_bytes())
    result = ingest_paths(home, [tmp_path / "in"], period=PERIOD, validator=FakeValidator())
    assert [(f.path.name, f.status) for f in result.files] == [("a.xlsx", "stored"), ("b.xlsx", "duplicate")]
    assert result.files[1].message and home.store.submissions(PERIOD).height == 1


def test_arrival_time_is_local_mtime_unless_given(home, tmp_path):
    from zoneinfo import ZoneInfo

    utc_noon = datetime(2015, 2, 27, 12, 0, tzinfo=ZoneInfo("UTC"))
    path = put(tmp_path / "in", "bj.xlsx", "110000", ["甲"])
    os.utime(path, (utc_noon.timestamp(), utc_noon.timestamp()))
    ingest_paths(home, [path], period=PERIOD, validator=FakeValidator())
    assert home.store.submissions(PERIOD)["received_at"].to_list() == [datetime(2015, 2, 27, 20, 0)]
    other = put(tmp_path / "in", "tj.xlsx", "120000", ["乙"])
    fake = FakeValidator()
    ingest_paths(home, [other], period=PERIOD, validator=fake, received_at=datetime(2015, 3, 1, 9, 30))
    assert list(fake.calls[0]["received_at"].values()) == [datetime(2015, 3, 1, 9, 30)]
    assert home.store.submissions(PERIOD)["received_at"].to_list()[-1] == datetime(2015, 3, 1, 9, 30)


def test_resubmission_and_copy_detection_inputs(home, tmp_path):
    ingest_paths(home, [put(tmp_path / "a", "bj.xlsx", "110000", ["旧"])], period=PERIOD, validator=FakeValidator())
    ingest_paths(home, [put(tmp_path / "b", "bj.xlsx", "110000", ["新"])], period=PERIOD, validator=FakeValidator())
    subs = home.store.submissions(PERIOD)
    assert subs["version"].to_list() == [1, 2]
    assert subs["superseded_by"].null_count() == 1
    assert home.store.load_tables(PERIOD)["ledger"]["problem"].to_list() == ["新"]
    # the store keeps the current return's texts, as the validator's own hashing gives them
    expected = text_hashes({"ledger": _ledger([FACTS])}, unit="110000")
    assert expected.height == 1 and expected["column"].to_list() == ["见物"]
    assert_frame_equal(home.store.texts(PERIOD), expected)
    # another unit carrying the same 见物: the writer finds the copy from the stored hashes;
    # the stored verdicts of 110000 do not change
    before = home.store.reports(subs["submission_id"].to_list())
    (outcome,) = ingest_paths(home, [put(tmp_path / "c", "tj.xlsx", "120000", ["别"])], period=PERIOD,
                              validator=FakeValidator()).files  # fmt: skip
    (copied,) = home.store.reports([outcome.submission_id])[0].findings
    assert (copied.code, copied.sheet, copied.row, copied.column) == ("copied-text", "整改台账", 3, "见物")
    assert "单位“110000”报送的内容" in copied.message and outcome.accepted and outcome.n_warnings == 1
    assert home.store.reports(subs["submission_id"].to_list()) == before


def test_files_are_validated_from_the_archive(home, tmp_path):
    fake = FakeValidator()
    ingest_paths(home, [put(tmp_path, "bj.xlsx", "110000", ["甲"])], period=PERIOD, validator=fake)
    (validated,) = fake.calls[0]["paths"]
    assert validated.is_relative_to(home.store.root / "archive")
    assert home.store.submissions(PERIOD)["file_name"].to_list() == ["bj.xlsx"]


@pytest.mark.parametrize("step", ["archived", "validated", "parquet-written", "before-commit", "committed"])
def test_crash_at_any_step_then_rerun_completes(home, tmp_path, step):
    inbox = tmp_path / "inbox"
    put(inbox, "bj.xlsx", "110000", ["甲"])
    put(inbox, "tj.xlsx", "120000", ["乙"])

    def hook(at):
        if at == step:
            raise KeyboardInterrupt(at)  # like Ctrl-C: not an Exception

    with pytest.raises(KeyboardInterrupt):
        ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), fault_hook=hook)
    committed = step == "committed"
    assert home.store.submissions(PERIOD).height == (2 if committed else 0)
    assert home.store.load_tables(PERIOD)["ledger"].height == (2 if committed else 0)
    result = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    assert [f.status for f in result.files] == (["duplicate"] * 2 if committed else ["stored"] * 2)
    assert home.store.current(PERIOD).height == 2
    assert sorted(home.store.load_tables(PERIOD)["ledger"]["problem"].to_list()) == sorted(["甲", "乙"])
    assert len(list(home.outbox(PERIOD).iterdir())) == 2  # receipts re-issued after the crash
    assert not list(home.store.root.rglob("*.tmp"))


def _ledger(facts: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame({"row": list(range(3, 3 + len(facts))), "facts": facts})
    layout = table_schema("ledger")
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c) for c, t in layout.items()
    )


def test_text_hashes_fold_punctuation_and_skip_short_texts():
    out = text_hashes({"ledger": _ledger([FACTS, FACTS.replace("，", " , "), "太短", "无"])}, unit="110000")
    assert out["row"].to_list() == [3, 4]
    assert out["hash"].n_unique() == 1
    assert out["unit"].to_list() == ["110000", "110000"]


def test_cli_ingest_reports_in_chinese_and_exit_status(home, tmp_path, monkeypatch):
    import jobs.intake.batch

    monkeypatch.setattr(jobs.intake.batch, "default_validator", lambda: FakeValidator())
    from jobs.cli import main

    good = put(tmp_path / "in", "bj.xlsx", "110000", ["甲"])
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(good), "--period", PERIOD, "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    assert "新入库1个" in result.output
    bad = put(tmp_path / "in2", "tj.xlsx", "120000", [], ok=False)
    result = runner.invoke(main, ["ingest", str(bad), "--period", PERIOD, "--home", str(home.root),
                                  "--received-at", "2015-02-28T10:00:00"])  # fmt: skip
    assert result.exit_code == 1 and "退回" in result.output
    result = runner.invoke(main, ["ingest", str(bad), "--period", "2015-2", "--home", str(home.root)])
    assert result.exit_code == 2


def test_cli_ingest_json_lines_per_file_handled(home, tmp_path, monkeypatch):
    """``ingest --json``: stdout is only JSON Lines, the verdict as ``validate --json`` plus version and stored."""
    import jobs.intake.batch

    monkeypatch.setattr(jobs.intake.batch, "default_validator", lambda: FakeValidator())
    from jobs.cli import main

    good = put(tmp_path / "in", "bj.xlsx", "110000", ["甲"])
    bad = put(tmp_path / "in", "tj.xlsx", "120000", [], ok=False)
    link = tmp_path / "in" / "link.xlsx"
    link.symlink_to(good)
    runner = CliRunner()
    args = ["--period", PERIOD, "--home", str(home.root), "--json"]
    result = runner.invoke(main, ["ingest", str(good), str(bad), str(link), *args])
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_file = {Path(v["file"]).name: v for v in lines}
    assert [Path(v["file"]).name for v in lines] == ["bj.xlsx", "tj.xlsx", "link.xlsx"]
    keys = {"file", "unit", "period", "accepted", "findings", "stats", "version", "stored"}
    assert all(set(v) == keys for v in lines)
    assert by_file["bj.xlsx"] | {"stats": None} == {"file": str(good), "unit": "110000", "period": PERIOD,
                                                   "accepted": True, "findings": [], "stats": None,
                                                   "version": 1, "stored": True}  # fmt: skip
    rejected = by_file["tj.xlsx"]
    assert (rejected["unit"], rejected["accepted"], rejected["version"], rejected["stored"]) == (
        "120000", False, 1, True)  # fmt: skip
    assert [f["code"] for f in rejected["findings"]] == ["empty-ledger"]
    assert set(rejected["findings"][0]) >= {"code", "severity", "sheet", "row", "column", "cell", "message"}
    assert rejected["stats"] == {"n_errors": 1, "n_warnings": 0}
    refused = by_file["link.xlsx"]
    assert (refused["unit"], refused["accepted"], refused["version"], refused["stored"]) == (None, False, None, False)
    assert [(f["code"], f["subcode"]) for f in refused["findings"]] == [("unreadable-file", "symlink")]
    assert "符号链接" in refused["findings"][0]["message"]

    # the same bytes again, under another name: a duplicate, with the stored version's verdict
    again = tmp_path / "later" / "tj-again.xlsx"
    again.parent.mkdir()
    again.write_bytes(bad.read_bytes())
    result = runner.invoke(main, ["ingest", str(again), *args])
    assert result.exit_code == 0, result.output
    (dup,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert dup["file"] == str(again) and dup["stored"] is False and dup["version"] == 1
    assert (dup["unit"], dup["accepted"], dup["findings"]) == ("120000", False, rejected["findings"])


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """A small generated month (with defects) and the same month without defects."""
    from jobs.tooling.samples import generate_samples

    out = tmp_path_factory.mktemp("samples")
    manifest = generate_samples(out / "defective", units=12, periods=(PERIOD,), defects=0.35, xls=0.1,
                                messy=0.3, seed=11, processes=0)  # fmt: skip
    generate_samples(out / "clean", units=12, periods=(PERIOD,), defects=0, xls=0, messy=0, seed=11, processes=0)
    return out, manifest


@pytest.mark.slow
def test_real_validator_month_end_to_end(samples, tmp_path):
    from jobs.rollup.status import compute_status

    out, manifest = samples
    home = init_home(tmp_path / "home")
    home.import_registry(out / "defective" / "registry.xlsx", from_period="2015-01")
    result = ingest_paths(home, [out / "defective" / "returns" / PERIOD], period=PERIOD)
    verdicts = {f.path.name: f.accepted for f in result.files}
    expected = {
        Path(f["path"]).name: not any(d["severity"] == "error" for d in f["defects"]) for f in manifest["files"]
    }
    assert verdicts == expected
    assert all(f.receipt is not None and f.receipt.is_file() for f in result.files)

    registry_units = set(home.registry(PERIOD)["code"].to_list())
    accepted_units = {f["unit"] for f in manifest["files"] if expected[Path(f["path"]).name]}
    assert set(home.store.load_tables(PERIOD)["ledger"]["unit"].unique().to_list()) == accepted_units
    status = compute_status(home, period=PERIOD)
    totals = status.totals
    assert totals["units_expected"] == manifest["periods"][PERIOD]["expected_units"]
    assert totals["units_reported"] == len(accepted_units & registry_units)
    late = {f["unit"] for f in manifest["files"] if f["late"] and expected[Path(f["path"]).name]}
    assert totals["units_late"] == len(late)
    assert set(manifest["periods"][PERIOD]["missing_units"]) <= set(status.chase["code"].to_list())

    again = ingest_paths(home, [out / "defective" / "returns" / PERIOD], period=PERIOD)
    assert {f.status for f in again.files} == {"duplicate"}

    # a rejected unit sends its corrected return after the deadline: reported, late, old version kept
    rejected = sorted(f["unit"] for f in manifest["files"]
                      if not expected[Path(f["path"]).name] and f["unit"] in registry_units)  # fmt: skip
    unit = rejected[0]
    fixed = ingest_paths(home, [out / "clean" / "returns" / PERIOD / f"{unit}.xlsx"], period=PERIOD,
                         received_at=datetime(2015, 3, 2, 9, 0))  # fmt: skip
    assert fixed.files[0].accepted and fixed.files[0].version == 2
    row = compute_status(home, period=PERIOD).units.filter(pl.col("code") == unit).row(0, named=True)
    assert row["state"] == "late" and row["n_submissions"] == 2


KILLED_INGEST = """
import sys
sys.path.insert(0, {tests!r})
from test_intake import FakeValidator
from jobs.office.home import Home
from jobs.intake.parallel import ingest_paths
ingest_paths(Home({home!r}), [{inbox!r}], period={period!r}, validator=FakeValidator())
"""


@pytest.mark.parametrize("step", ["archived", "before-commit"])
def test_sigkill_mid_ingest_then_rerun_completes(home, tmp_path, step):
    import signal
    import subprocess
    import sys

    inbox = tmp_path / "inbox"
    put(inbox, "bj.xlsx", "110000", ["甲"])
    put(inbox, "tj.xlsx", "120000", ["乙"])
    script = KILLED_INGEST.format(tests=str(Path(__file__).parent), home=str(home.root), inbox=str(inbox),
                                  period=PERIOD)  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "RECTIFY_FAULT_STEP": step},
                          capture_output=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert home.store.submissions(PERIOD).height == 0
    result = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    assert [f.status for f in result.files] == ["stored", "stored"]
    assert home.store.load_tables(PERIOD)["ledger"].height == 2
    assert not list(home.store.root.rglob("*.tmp")) and not list(home.store.root.rglob(".*.tmp"))


def test_receipts_carry_the_verdict_in_the_configured_format(home, tmp_path):
    from openpyxl import load_workbook

    bad = put(tmp_path / "in", "tj.xlsx", "120000", ["甲"], ok=False)
    (outcome,) = ingest_paths(home, [bad], period=PERIOD, validator=FakeValidator()).files
    assert outcome.receipt.name.startswith("120000_tj_") and outcome.receipt.suffix == ".xlsx"
    cells = [c for row in load_workbook(outcome.receipt).active.iter_rows(values_only=True) for c in row if c]
    assert any("退回" in str(c) for c in cells) and any("empty-ledger" in str(c) for c in cells)

    text = (home.root / "config.toml").read_text(encoding="utf-8").replace('format = "xlsx"', 'format = "html"')
    (home.root / "config.toml").write_text(text, encoding="utf-8")
    from jobs.office.home import Home

    html_home = Home.open(home.root)
    good = put(tmp_path / "in2", "bj.xlsx", "110000", ["乙"])
    (outcome,) = ingest_paths(html_home, [good], period=PERIOD, validator=FakeValidator()).files
    assert outcome.receipt.suffix == ".html" and "通过" in outcome.receipt.read_text(encoding="utf-8")


def test_office_limits_reach_preflight(tmp_path):
    """`[limits]` in config.toml bound what preflight lets through (here: the file size)."""
    from jobs.office.home import init_home

    h = init_home(tmp_path / "home")
    (tmp_path / "r.csv").write_text(
        "单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送\n000000,全国,,全国,地方,,,否\n"
        "110000,北京市,000000,省级,地方,张三,010-1,是\n",
        encoding="utf-8",
    )
    h.import_registry(tmp_path / "r.csv", from_period="2015-01")
    big = tmp_path / "in" / "110000.xlsx"
    big.parent.mkdir()
    from jobs.office.template import write_template

    write_template(big)
    limits = dataclasses.replace(h.config.limits, max_file_mb=0.001)  # ~1 KB: the blank template is larger
    results = read_validate_batch([big], registry=h.registry(PERIOD), period=PERIOD,
                                  received_at={big: datetime(2015, 2, 1)}, limits=limits).results  # fmt: skip
    (finding,) = results[0].report.findings
    assert (finding.code, finding.subcode) == ("unreadable-file", "file-too-large")
    default = read_validate_batch([big], registry=h.registry(PERIOD), period=PERIOD,
                                  received_at={big: datetime(2015, 2, 1)}).results  # fmt: skip
    assert "unreadable-file" not in default[0].report.codes()
