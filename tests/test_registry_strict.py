"""The registry is read strictly and is effective-dated (issue 15, item 3; spec "Who reports")."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from jobs.cli import main
from jobs.office.home import HomeError, RegistryPeriodRequired, init_home
from jobs.office.registry import RegistryError, load_registry

HEADER = ["单位代码", "单位名称", "上级单位代码", "层级", "类别", "联系人", "联系电话", "是否报送"]
BASE = [
    ["000000", "全国", "", "全国", "地方", "", "", "否"],
    ["110000", "北京市", "000000", "省级", "地方", "张三", "010-1", "是"],
    ["120000", "天津市", "000000", "省级", "地方", "李四", "022-1", ""],
    ["130000", "河北省", "000000", "省级", "地方", "王五", "0311-1", "是"],
]


def csv_text(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in [HEADER, *rows]) + "\n"


def write_csv(path, rows, *, encoding: str = "utf-8"):
    path.write_bytes(csv_text(rows).encode(encoding))
    return path


def write_xlsx(path, rows, *, title_rows: int = 0):
    book = Workbook()
    sheet = book.active
    sheet.title = "组织机构名册"
    for _ in range(title_rows):
        sheet.append(["组织机构名册（2015年）"])
    for row in [HEADER, *rows]:
        sheet.append(row)
    book.save(path)
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def home(tmp_path):
    return init_home(tmp_path / "h")


# --- 是否报送 and rows named ---------------------------------------------------------


@pytest.mark.parametrize("value", ["Y", "1", "不报送", "否 "])
def test_must_report_only_yes_no_or_blank(home, tmp_path, value):
    rows = [*BASE[:3], [*BASE[3][:7], value]]
    path = write_csv(tmp_path / "r.csv", rows)
    if value.strip() == "否":  # surrounding spaces are tolerated, as in returns
        assert not load_registry(path).filter(code="130000")["must_report"][0]
        return
    with pytest.raises(RegistryError) as info:
        home.import_registry(path)
    # the CSV line (header is line 1) and the value are named
    assert info.value.problems == [f"第5行（单位代码130000）：“是否报送”为“{value}”，只能填“是”或“否”（空白视为“是”）"]
    assert home.registry_versions() == []  # an import with any error changes nothing


def test_blank_must_report_means_yes(tmp_path):
    frame = load_registry(write_csv(tmp_path / "r.csv", BASE))
    assert dict(frame.select("code", "must_report").iter_rows()) == {
        "000000": False, "110000": True, "120000": True, "130000": True,
    }  # fmt: skip


def test_every_fault_names_its_excel_row(home, tmp_path):
    rows = [
        *BASE,
        ["110000", "重复", "000000", "省级", "地方", "", "", "是"],
        ["210000", "", "000000", "省级", "地方", "", "", "是"],
        ["310000", "上海市", "000000", "直辖级", "地方", "", "", "是"],
        ["320000", "江苏省", "999999", "省级", "地方", "", "", "Y"],
        ["A", "甲", "B", "市级", "地方", "", "", "是"],
        ["B", "乙", "A", "市级", "地方", "", "", "是"],
    ]
    path = write_xlsx(tmp_path / "r.xlsx", rows, title_rows=2)  # header on Excel row 3, data from row 4
    with pytest.raises(RegistryError) as info:
        home.import_registry(path)
    problems = info.value.problems
    assert "第11行（单位代码320000）：“是否报送”为“Y”，只能填“是”或“否”（空白视为“是”）" in problems
    assert "第9行（单位代码210000）：缺少“单位名称”" in problems
    assert "单位代码“110000”重复：第5行、第8行" in problems
    assert any(p.startswith("第10行（单位代码310000）：层级“直辖级”") for p in problems)
    assert "第11行（单位代码320000）：上级单位“999999”不在名册中" in problems
    assert any("成环" in p and "第12行（单位代码A）" in p and "第13行（单位代码B）" in p for p in problems)
    assert home.registry_versions() == []


def test_cli_names_row_and_value_and_changes_nothing(home, tmp_path):
    path = write_csv(tmp_path / "r.csv", [*BASE[:3], [*BASE[3][:7], "1"]])
    result = invoke("registry", "import", path, "--home", home.root)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "第5行（单位代码130000）" in result.output and "“1”" in result.output
    assert not (home.root / "registry" / "index.json").exists()


# --- encodings ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_saved_by_excel_in_gbk_is_read(home, tmp_path, encoding):
    path = write_csv(tmp_path / "r.csv", BASE, encoding=encoding)
    if encoding == "gbk":
        assert path.read_bytes() != csv_text(BASE).encode("utf-8")  # really GBK bytes
    entry = home.import_registry(path)
    frame = home.registry_frame(entry["version"])
    assert frame.filter(code="130000")["name"][0] == "河北省"
    assert frame.columns[0] == "code"  # a BOM does not stick to the first header


def test_undecodable_csv_names_the_encoding(home, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(csv_text(BASE).encode("gbk") + b"\xff\xfe\xff,\x80\n")
    with pytest.raises(RegistryError, match="编码无法识别") as info:
        home.import_registry(path)
    assert "GBK" in str(info.value) and "UTF-8" in str(info.value)
    result = invoke("registry", "import", path, "--home", home.root)
    assert result.exit_code == 1 and "编码无法识别" in result.output and "Traceback" not in result.output
    assert home.registry_versions() == []


# --- identical content ----------------------------------------------------------------


def test_identical_content_is_said_and_records_nothing(home, tmp_path):
    first = invoke("registry", "import", write_csv(tmp_path / "r.csv", BASE), "--home", home.root)
    assert first.exit_code == 0 and "适用于所有报送期" in first.output, first.output
    # other bytes, other file type, other row order, GBK: the same units after reading
    same = write_xlsx(tmp_path / "名册副本.xlsx", [BASE[2], BASE[0], BASE[3], BASE[1]])
    result = invoke("registry", "import", same, "--home", home.root)
    assert result.exit_code == 0, result.output
    assert "与现行第1版" in result.output and "相同，未导入新版" in result.output
    gbk = write_csv(tmp_path / "gbk.csv", BASE, encoding="gbk")
    assert invoke("registry", "import", gbk, "--home", home.root, "--from-period", "2015-03").exit_code == 0
    assert len(home.registry_versions()) == 1
    # one changed value is a new version
    changed = write_csv(tmp_path / "r2.csv", [*BASE[:3], [*BASE[3][:6], "0311-2", "是"]])
    result = invoke("registry", "import", changed, "--home", home.root, "--from-period", "2015-03")
    assert result.exit_code == 0 and "名册第2版已导入" in result.output and "自2015-03起生效" in result.output


# --- effective dates ------------------------------------------------------------------


def test_first_import_covers_every_period(home, tmp_path):
    entry = home.import_registry(write_csv(tmp_path / "r.csv", BASE))
    assert entry["covers_all"] and entry["from_period"] is None
    assert home.registry_version("1999-01")["version"] == 1
    assert home.registry_version("2015-02")["version"] == 1
    v2 = home.import_registry(write_csv(tmp_path / "r2.csv", BASE[:3]), from_period="2015-03")
    assert (home.registry_version("2015-02")["version"], home.registry_version("2015-03")["version"]) == (1, v2["version"])
    assert "130000" in home.registry("2014-01")["code"].to_list()
    assert "130000" not in home.registry("2015-04")["code"].to_list()


def test_later_import_must_name_from_period(home, tmp_path):
    home.import_registry(write_csv(tmp_path / "r.csv", BASE))
    changed = write_csv(tmp_path / "r2.csv", BASE[:3])
    with pytest.raises(RegistryPeriodRequired, match="--from-period"):
        home.import_registry(changed)
    result = invoke("registry", "import", changed, "--home", home.root)
    assert result.exit_code == 2 and "--from-period" in result.output and "须用" in result.output
    assert "Traceback" not in result.output
    assert len(home.registry_versions()) == 1


def test_period_before_the_earliest_version_is_an_error(home, tmp_path):
    home.import_registry(write_csv(tmp_path / "r.csv", BASE), from_period="2015-02")
    with pytest.raises(HomeError, match="2015-01没有适用的组织机构名册"):
        home.registry("2015-01")
    result = invoke("status", "--period", "2015-01", "--home", home.root)
    assert result.exit_code == 1 and "没有适用的组织机构名册" in result.output and "Traceback" not in result.output
    assert home.registry_version("2015-02")["version"] == 1


def test_an_old_home_keeps_working(home, tmp_path):
    """An index.json written before effective dates were strict: its first version covers every period."""
    home.import_registry(write_csv(tmp_path / "r.csv", BASE), from_period="2015-02")
    home.import_registry(write_csv(tmp_path / "r2.csv", BASE[:3]), from_period="2015-05")
    index = home.root / "registry" / "index.json"
    old = [{k: v for k, v in e.items() if k not in {"covers_all", "expected"}} for e in json.loads(index.read_text())]
    index.write_text(json.dumps(old, ensure_ascii=False), encoding="utf-8")
    again = type(home)(home.root)
    assert again.registry_version("2014-06")["version"] == 1
    assert again.registry_version("2015-06")["version"] == 2
    result = invoke("registry", "history", "--home", home.root)
    assert "第1版  自2015-02起生效，也适用于此前各期" in result.output, result.output


# --- every output names the registry version it used -----------------------------------


def test_every_output_names_the_registry_version(home, tmp_path):
    from openpyxl import load_workbook

    home.import_registry(write_csv(tmp_path / "r1.csv", BASE))
    changed = [*BASE[:3], [*BASE[3][:6], "0311-2", "是"]]
    home.import_registry(write_csv(tmp_path / "r2.csv", changed), from_period="2015-02")
    root = str(home.root)
    for period, version in (("2015-01", 1), ("2015-02", 2)):
        status = invoke("status", "--period", period, "--home", root)
        assert status.exit_code == 0 and f"应报单位依据：组织机构名册第{version}版" in status.output, status.output
        status_json = json.loads(invoke("status", "--period", period, "--home", root, "--json").stdout)
        assert status_json["registry_version"] == version
        summary = invoke("summarize", "--period", period, "--home", root, "--json")
        assert json.loads(summary.stdout)["registry_version"] == version
        assert json.loads(invoke("summarize", "--period", period, "--home", root, "--json", "--unit", "110000").stdout)[
            "registry_version"] == version  # fmt: skip
    text = invoke("summarize", "--period", "2015-02", "--home", root)
    assert "组织机构名册第2版" in text.output
    run = invoke("run", "--period", "2015-02", "--home", root, "--out", tmp_path / "out")
    assert run.exit_code == 0 and "应报单位依据：组织机构名册第2版" in run.output, run.output
    html = next((tmp_path / "out").glob("*.html")).read_text(encoding="utf-8")
    assert "应报单位依据：组织机构名册第2版" in html
    book = load_workbook(next((tmp_path / "out").glob("*.xlsx")))
    notes = [c for row in book["说明"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("组织机构名册第2版" in c for c in notes)
