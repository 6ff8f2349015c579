"""The sample generator: registry, returns, manifest (the validation oracle), determinism."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import re
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.normalize import parse_date, parse_int
from jobs.core.text import clean_text, fold_key
from jobs.office.registry import check_registry, read_registry
from jobs.tooling.samples import generate_samples
from jobs.tooling.samples.banks import PROVINCES
from jobs.tooling.samples.content import build_return
from jobs.tooling.samples.defects import INJECTORS
from jobs.tooling.samples.registry import build_registry

SATISFIED = {"满意", "基本满意"}


@pytest.fixture(scope="module")
def manifest(generated_samples) -> dict:
    return json.loads((generated_samples / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry(generated_samples):
    return read_registry(generated_samples / "registry.xlsx")


class Book:
    """An xlsx return opened with openpyxl, sheets and headers found by folded name."""

    def __init__(self, path: Path, schema) -> None:  # noqa: ANN001
        self.wb = openpyxl.load_workbook(path)
        self.schema = schema
        self.by_name = {fold_key(ws.title): ws for ws in self.wb.worksheets}

    def ws(self, name: str):  # noqa: ANN201
        return self.by_name.get(fold_key(name))

    def header(self, name: str) -> tuple[int, dict[str, int]]:
        """1-based header row and folded header -> 1-based column."""
        ws = self.ws(name)
        first = fold_key(self.schema.sheet(name).headers[0])
        for r in range(1, 12):
            cells = {fold_key(c.value): c.column for c in ws[r] if c.value is not None}
            if first in cells:
                return r, cells
        raise AssertionError(f"no header in {name}")

    def rows(self, name: str) -> list[dict[str, object]]:
        """Data rows as {folded header: value}, with '_row'; empty rows dropped."""
        ws = self.ws(name)
        at, cols = self.header(name)
        out = []
        for r in range(at + 1, ws.max_row + 1):
            row = {h: ws.cell(row=r, column=c).value for h, c in cols.items()}
            if any(clean_text(v) for v in row.values()):
                out.append({**row, "_row": r})
        return out

    def kv(self, name: str) -> dict[str, object]:
        return {fold_key(r["项目"] if "项目" in r else r["事项"]): r.get("内容", r.get("数量")) for r in self.rows(name)}


def _date(value) -> dt.date | None:  # noqa: ANN001
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return parse_date(clean_text(value)) if value is not None else None


def _int(value) -> int | None:  # noqa: ANN001
    if isinstance(value, (int, float)):
        return int(value)
    return parse_int(clean_text(value)) if value is not None else None


# --- registry ---------------------------------------------------------------------------


def test_registry_is_a_proper_tree(registry, schema):
    assert check_registry(registry, schema=schema) == []
    rows = {r["code"]: r for r in registry.iter_rows(named=True)}
    root = [r for r in rows.values() if r["parent"] is None]
    assert len(root) == 1 and root[0]["level"] == "全国" and not root[0]["must_report"]
    provinces = {c: r["name"] for c, r in rows.items() if r["level"] == "省级" and r["category"] == "地方"}
    assert provinces == dict(PROVINCES)
    assert rows["110000"]["name"] == "北京市" and rows["650000"]["name"] == "新疆维吾尔自治区"
    assert set(registry["level"]) == set(schema.levels)
    assert set(registry["category"]) == set(schema.categories)
    assert 1 <= (~registry["must_report"]).sum() - 1 <= 5  # a few exempt units besides the root
    assert abs(int(registry["must_report"].sum()) - 40) <= 4


def test_registry_codes_follow_division_code_shapes(registry):
    shape = {"市级": r"^\d{4}00$", "县级": r"^\d{6}$", "乡级": r"^\d{9}$", "村级": r"^\d{12}$"}
    rows = {r["code"]: r for r in registry.iter_rows(named=True)}
    for r in rows.values():
        if r["category"] != "地方" or r["level"] not in shape:
            continue
        assert re.match(shape[r["level"]], r["code"]), r
        parent = rows[r["parent"]]
        prefix = {"市级": 2, "县级": 4, "乡级": 6, "村级": 9}[r["level"]]
        assert r["code"][:prefix] == parent["code"][:prefix], (r, parent)
    central = [r for r in rows.values() if r["category"] != "地方"]
    assert {r["level"] for r in central if r["parent"] == "000000"} == {"省级"}
    assert {r["category"] for r in central} == {"中央和国家机关", "中管金融企业", "中管企业", "中管高校"}
    assert all(r["contact"] and r["phone"] for r in rows.values())


def test_bigger_registry_distributes_levels():
    units = build_registry(units=2000, seed=3)
    levels = Counter(u.level for u in units if u.must_report)
    assert 1900 <= sum(levels.values()) <= 2100
    assert levels["村级"] > levels["乡级"] > levels["县级"] > levels["市级"] > 0
    assert len({u.code for u in units}) == len(units)
    by_code = {u.code: u for u in units}
    subordinates = [u for u in units if u.category != "地方" and u.parent != "000000"]
    assert subordinates and all(by_code[u.parent].category == u.category for u in subordinates)
    assert {by_code[u.parent].level for u in subordinates} == {"省级"}


# --- manifest ---------------------------------------------------------------------------


def test_manifest_describes_the_files(generated_samples, manifest, registry):
    tz = ZoneInfo(manifest["timezone"])
    reporters = set(registry.filter(registry["must_report"])["code"])
    for period, info in manifest["periods"].items():
        deadline = dt.datetime.fromisoformat(info["deadline"])
        year, month = map(int, period.split("-"))
        last = calendar.monthrange(year, month)[1]
        assert deadline == dt.datetime(year, month, last, 23, 59, 59)
        files = [f for f in manifest["files"] if f["period"] == period]
        sent = {f["unit"] for f in files}
        missing = set(info["missing_units"])
        assert not sent & missing
        assert reporters - missing <= sent
        assert info["expected_units"] == len(reporters)
    for f in manifest["files"]:
        path = generated_samples / f["path"]
        assert path.exists(), f
        assert path.suffix == f".{f['format']}"
        received = dt.datetime.fromisoformat(f["received_at"])
        assert path.stat().st_mtime == received.replace(tzinfo=tz).timestamp()
        deadline = dt.datetime.fromisoformat(manifest["periods"][f["period"]]["deadline"])
        assert f["late"] == (received > deadline)
    paths = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(generated_samples)) for p in (generated_samples / "returns").rglob("*.xls*")}
    assert paths == on_disk
    assert any(f["late"] for f in manifest["files"]) and any(f["format"] == "xls" for f in manifest["files"])
    assert any(f["messiness"] for f in manifest["files"])


def test_defects_cover_every_injectable_code(manifest, schema):
    defects = [d for f in manifest["files"] for d in f["defects"]]
    assert {d["code"] for d in defects} == set(INJECTORS)
    assert set(INJECTORS) <= set(schema.findings)
    for d in defects:
        assert d["severity"] == schema.finding(d["code"]).severity
        if d["cell"]:
            assert d["cell"] == f"{d['sheet']}!{re.sub(r'[0-9]+$', '', d['cell'].split('!')[1])}{d['row']}"
    files_with = [f for f in manifest["files"] if f["defects"]]
    assert all(len(f["defects"]) == 1 for f in files_with)


def _check_defect(book: Book, d: dict, f: dict, registry, schema) -> str | None:  # noqa: ANN001, C901, PLR0912
    code = d["code"]
    rows_of = {r["code"]: r for r in registry.iter_rows(named=True)}
    info = book.kv("基本信息")
    if d["cell"] is None:
        if code == "missing-sheet":
            assert book.ws(d["sheet"]) is None
        elif code == "missing-column":
            assert fold_key(d["column"]) not in book.header(d["sheet"])[1]
        elif code == "missing-task":
            numbers = {_int(r["任务编号"]) for r in book.rows("专项整治")}
            assert set(range(1, 22)) - numbers
        elif code == "missing-accountability-row":
            assert fold_key(d["column"]) not in book.kv("责任追究")
        elif code == "empty-ledger":
            assert book.rows("整改台账") == []
        elif code == "no-principal":
            members = {clean_text(r["姓名"]) for r in book.rows("个人整改")}
            assert clean_text(info["主要负责人"]) not in members
        else:
            raise AssertionError(f"unexpected sheet-level code {code}")
        return
    sheet, ref = d["cell"].split("!")
    ws = book.ws(sheet)
    value = ws[ref].value
    text = clean_text(value)
    at, cols = book.header(sheet)
    assert d["row"] > at
    if sheet in ("基本信息", "责任追究"):
        assert ref.startswith("B")
        assert fold_key(ws[f"A{d['row']}"].value) == fold_key(d["column"])
    else:
        assert fold_key(ws.cell(row=at, column=openpyxl.utils.column_index_from_string(re.sub(r"\d", "", ref))).value) == fold_key(d["column"])
    row = {h: ws.cell(row=d["row"], column=c).value for h, c in cols.items()}
    column = schema.sheet(sheet).column(d["column"]) if sheet not in ("基本信息", "责任追究") else None
    earlier = [r for r in book.rows(sheet) if r["_row"] < d["row"]] if column else []
    sub = schema.substance
    if code == "bad-enum":
        assert text not in column.values
    elif code == "bad-date":
        assert _date(value) is None and text
    elif code == "bad-number":
        assert _int(value) is None and text
    elif code == "missing-field":
        assert text is None
    elif code in ("duplicate-item", "duplicate-task"):
        assert _int(value) in {_int(r[fold_key(d["column"])]) for r in earlier}
    elif code == "task-name-mismatch":
        assert fold_key(value) != fold_key(schema.tasks[_int(row["任务编号"])])
    elif code == "done-without-date":
        assert text is None and clean_text(row["整改状态"]) == "已完成"
    elif code == "date-without-done":
        assert _date(value) and clean_text(row["整改状态"]) != "已完成"
    elif code == "date-in-future":
        if sheet == "基本信息":
            assert _date(value) > dt.datetime.fromisoformat(f["received_at"]).date()
        else:
            assert _date(value) > _date(info["填报日期"])
    elif code == "closed-not-approved":
        assert clean_text(row["是否销号"]) == "是"
        assert clean_text(row["整改状态"]) != "已完成" or clean_text(row["群众评价"]) not in SATISFIED
    elif code == "count-inconsistent":
        assert _int(row["已整改数"]) > _int(row["排查问题数"])
    elif code in ("people-missing", "facts-missing", "mindset-missing"):
        assert fold_key(value) in {fold_key(p) for p in sub.placeholders}
    elif code == "too-thin":
        assert 0 < len(fold_key(value)) < sub.min_length[column.substance]
        assert fold_key(value) not in {fold_key(p) for p in sub.placeholders}
    elif code == "copied-text":
        if fold_key(value) not in {fold_key(r[fold_key(d["column"])]) for r in earlier}:
            return fold_key(value)  # copied from another unit: the caller pairs the files
        assert len(fold_key(value)) >= sub.min_length[column.substance]
    elif code == "unit-name-mismatch":
        assert text != rows_of[clean_text(info["单位代码"])]["name"]
    elif code == "wrong-period":
        assert text != f["period"]
    elif code == "unknown-unit":
        assert text not in rows_of
    elif code == "not-required":
        assert rows_of[text]["must_report"] is False
    else:
        raise AssertionError(f"no check for {code}")


def test_manifest_cells_hold_the_defects(generated_samples, manifest, registry, schema):
    checked = Counter()
    cross: dict[tuple[str, str], list[str]] = {}
    for f in manifest["files"]:
        if not f["defects"] or f["format"] != "xlsx":
            continue
        path = generated_samples / f["path"]
        if f["defects"][0]["code"] == "unreadable-file":
            with pytest.raises(Exception):  # noqa: B017, PT011 - any reader failure is the point
                openpyxl.load_workbook(path)
            checked["unreadable-file"] += 1
            continue
        book = Book(path, schema)
        for d in f["defects"]:
            copied = _check_defect(book, d, f, registry, schema)
            if copied is not None:
                cross.setdefault((f["period"], copied), []).append(f["unit"])
            checked[d["code"]] += 1
    assert len(checked) >= len(INJECTORS) - 3  # a few codes may have landed only in .xls files
    # Copies across units come in pairs of files of the same period, both listed.
    xls_copies = {f["period"] for f in manifest["files"]
                  if f["format"] == "xls" and any(d["code"] == "copied-text" for d in f["defects"])}
    assert all(len(set(units)) == 2 or period in xls_copies for (period, _t), units in cross.items()), cross
    assert cross
    copies = [f for f in manifest["files"] for d in f["defects"] if d["code"] == "copied-text"]
    assert len(copies) >= 2


def test_clean_returns_are_consistent(generated_samples, manifest, registry, schema):
    rows_of = {r["code"]: r for r in registry.iter_rows(named=True)}
    texts: dict[str, Counter] = {}
    for f in manifest["files"]:
        if f["defects"] or f["format"] != "xlsx":
            continue
        book = Book(generated_samples / f["path"], schema)
        info = book.kv("基本信息")
        assert clean_text(info["单位代码"]) == f["unit"]
        assert clean_text(info["单位名称"]) == rows_of[f["unit"]]["name"]
        assert clean_text(info["报送期"]) == f["period"]
        filled = _date(info["填报日期"])
        assert filled <= dt.datetime.fromisoformat(f["received_at"]).date()
        ledger = book.rows("整改台账")
        assert ledger
        seqs = [_int(r["序号"]) for r in ledger]
        assert len(set(seqs)) == len(seqs)
        for r in ledger:
            done = clean_text(r["整改状态"]) == "已完成"
            assert (_date(r["完成日期"]) is not None) == done
            if done:
                assert _date(r["完成日期"]) <= filled
            if clean_text(r["是否销号"]) == "是":
                assert done and clean_text(r["群众评价"]) in SATISFIED
            assert len(fold_key(r["见物"])) >= 15 and len(fold_key(r["见思想"])) >= 15
            assert len(fold_key(r["见人"])) >= 2
            assert _date(r["整改时限"]) is not None
        tasks = book.rows("专项整治")
        assert sorted(_int(r["任务编号"]) for r in tasks) == list(range(1, 22))
        for r in tasks:
            assert _int(r["已整改数"]) <= _int(r["排查问题数"])
            if clean_text(r["承担方式"]) == "不涉及":
                assert _int(r["排查问题数"]) == _int(r["已整改数"]) == _int(r["立案查处数"]) == 0
            else:
                assert clean_text(r["进展情况"])
        assert {fold_key(k) for k in book.kv("责任追究")} == {fold_key(n) for n in schema.accountability_rows}
        members = book.rows("个人整改")
        assert clean_text(info["主要负责人"]) in {clean_text(m["姓名"]) for m in members}
        bag = texts.setdefault(f["period"], Counter())
        for r in [*ledger, *members]:
            bag[fold_key(r["见物"])] += 1
            bag[fold_key(r["见思想"])] += 1
    for period, bag in texts.items():
        repeated = [t for t, n in bag.items() if n > 1]
        assert not repeated, (period, repeated[:3])


def test_items_persist_and_progress_across_periods(registry):
    units = build_registry(units=200, seed=5)
    periods = ("2015-01", "2015-02", "2015-03")
    new = rebound = overdue = 0
    for unit in [u for u in units if u.must_report][:120]:
        first, *later = (build_return(unit, place=unit.name, periods=periods, index=i,
                                      filled_on=dt.date(2015, i + 1, 20), seed=5) for i in range(3))
        before = {r["seq"]: r for r in first.tables["ledger"]}
        for i, data in enumerate(later, start=1):
            for r in data.tables["ledger"]:
                if r["seq"] in before:
                    assert r["problem"] == before[r["seq"]]["problem"]
                else:
                    assert r["source"] == "回头看新发现"
                    new += 1
                prev = {p["seq"]: p for p in (first if i == 1 else later[0]).tables["ledger"]}
                if r["seq"] in prev and prev[r["seq"]]["closed"] == "是" and r["closed"] == "否":
                    rebound += 1
                if r["status"] != "已完成" and r["deadline"] < dt.date(2015, i + 1, 28):
                    overdue += 1
            assert {r["seq"] for r in data.tables["ledger"]} >= set(before)
    assert new > 0 and rebound > 0 and overdue > 0


# --- determinism and CLI ----------------------------------------------------------------


def test_same_seed_same_output(tmp_path, generated_samples, manifest):
    params = dict(manifest["parameters"], periods=tuple(manifest["parameters"]["periods"]))
    again = generate_samples(tmp_path / "again", processes=2, **params)
    assert json.loads(json.dumps(again, ensure_ascii=False)) == manifest
    for f in manifest["files"]:
        # Fixed zip timestamps and properties: files are byte-identical, not just equal in content.
        assert (tmp_path / "again" / f["path"]).read_bytes() == (generated_samples / f["path"]).read_bytes(), f
    assert (tmp_path / "again" / "registry.xlsx").read_bytes() == (generated_samples / "registry.xlsx").read_bytes()
    other = generate_samples(tmp_path / "other", units=40, periods=("2015-01",), defects=0.0, seed=8, processes=0)
    assert other["files"][0]["received_at"] != manifest["files"][0]["received_at"] or \
        (tmp_path / "other" / other["files"][0]["path"]).read_bytes() != (generated_samples / manifest["files"][0]["path"]).read_bytes()
    assert not any(f["defects"] for f in other["files"])


def test_cli_samples(tmp_path):
    runner = CliRunner()
    out = tmp_path / "s"
    result = runner.invoke(main, ["samples", "--out", str(out), "--units", "35", "--periods", "2015-03",
                                  "--defects", "0.1", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "已生成" in result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["periods"] == ["2015-03"]
    assert all(f["path"].startswith("returns/2015-03/") for f in manifest["files"])
    stale = out / "returns" / "2015-03" / "stale.xlsx"
    stale.write_bytes(b"old")
    assert runner.invoke(main, ["samples", "--out", str(out), "--units", "35", "--periods", "2015-03"]).exit_code == 0
    assert not stale.exists()
    bad = runner.invoke(main, ["samples", "--out", str(out), "--periods", "2015-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(main, ["samples", "--out", str(out), "--defects", "1.5"])
    assert bad.exit_code == 2


def test_arrival_times_are_realistic(manifest):
    received = [dt.datetime.fromisoformat(f["received_at"]) for f in manifest["files"]]
    late = [f for f in manifest["files"] if f["late"]]
    assert 0 < len(late) < len(received) / 3
    assert all(r.year == 2015 for r in received)
    assert os.path.basename(manifest["files"][0]["path"]).split(".")[0] == manifest["files"][0]["unit"]


def test_arrival_times_are_restored_from_the_manifest(tmp_path):
    """Git keeps no modification times: the committed samples get theirs back from the manifest."""
    import json
    import os
    import shutil
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from jobs.tooling.samples import restore_arrival_times
    from tests.conftest import SAMPLES

    copy = tmp_path / "samples"
    shutil.copytree(SAMPLES, copy)
    for path in copy.rglob("*.xls*"):
        os.utime(path, (0, 0))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    assert restore_arrival_times(copy) == len(manifest["files"])
    zone = ZoneInfo(manifest["timezone"])
    for entry in manifest["files"]:
        stamp = (copy / entry["path"]).stat().st_mtime
        assert datetime.fromtimestamp(stamp, zone).replace(tzinfo=None) == datetime.fromisoformat(entry["received_at"])


def test_every_planned_file_has_its_own_path():
    """Extra senders (not-required, unknown-unit) never reuse a unit that already sends a file that
    period: at scale there are more not-required injections than exempt units (5,000 returns
    once listed one path twice while writing one file)."""
    from dataclasses import replace

    from jobs.tooling.samples import plan_jobs

    registry = build_registry(units=300, seed=7)
    exempt = [u for u in registry if not u.must_report and u.level != "全国"]
    # one exempt unit only: with every job defective, not-required comes up many times per period
    registry = [u if u is exempt[0] or u.level == "全国" else replace(u, must_report=True) for u in registry]
    jobs, _missing = plan_jobs(registry, periods=("2015-01", "2015-02"), defects=1.0, seed=3, messy=0.0, xls=0.0)
    paths = Counter(job.path for job in jobs)
    assert [p for p, n in paths.items() if n > 1] == []
    not_required = [job for job in jobs if job.defect == "not-required"]
    assert {job.period for job in not_required} == {"2015-01", "2015-02"}  # one per period: the exempt unit's
    assert len(not_required) == 2
