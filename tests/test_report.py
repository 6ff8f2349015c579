"""The summary report on hand-built indicators: every figure parsed back, escaping, charts, xlsx."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from html.parser import HTMLParser

import openpyxl
import pytest

from jobs.core.jinja import zh_numeral, zh_points, zh_signed
from jobs.report.context import assemble_context
from jobs.report.html import render_html
from jobs.report.indicators import BREAKDOWN_KEYS, INDICATORS, TASK_COLUMNS
from jobs.report.xlsx import COUNT_FORMAT, RATE_FORMAT, write_xlsx

EVIL_NAME = '<script>alert("x")</script>测试省'
FORMULA_NAME = '=HYPERLINK("http://evil","点我")'
EVIL_REASON = "<img src=x onerror=alert(1)>完成率低于60%"


def _node(seed: int) -> dict:
    """A consistent indicator dict (the spec's summarize JSON) derived from ``seed``."""
    done, prog, nots, ineff = 100 + 7 * seed, 40 + seed, 9 + seed % 5, 3 + seed % 3
    total = done + prog + nots + ineff
    expected, reported, on_time = 40 + seed, 30 + seed, 25 + seed
    closed, evaluated, satisfied = done - 5, total - 20, total - 31 - seed
    return {
        "units_expected": expected,
        "units_reported": reported,
        "units_on_time": on_time,
        "units_late": reported - on_time,
        "units_missing": expected - reported,
        "reporting_rate": reported / expected,
        "timeliness_rate": on_time / expected,
        "items_total": total,
        "items_done": done,
        "items_in_progress": prog,
        "items_not_started": nots,
        "items_ineffective": ineff,
        "items_overdue": 11 + seed,
        "items_closed": closed,
        "items_evaluated": evaluated,
        "items_satisfied": satisfied,
        "items_new": 4 + seed,
        "items_rebound": seed % 4,
        # history warnings (issue 17)
        "items_vanished": seed % 3, "items_postponed": 2 + seed, "items_regressed": seed % 2, "items_stalled": 1,
        "figures_decreased": seed % 5, "outliers": 3, "warnings_explained": 2, "warnings_unexplained": 4 + seed,
        "completion_rate": done / total,
        "closure_rate": closed / total,
        "satisfaction_rate": satisfied / evaluated,
        "items_by_category": {"形式主义": total - 60, "官僚主义": 30, "享乐主义": 20, "奢靡之风": 6, "其他": 4},
        "items_by_source": {"查摆问题": total - 4 - seed, "回头看新发现": 4 + seed},
        "tasks": {
            str(n): {"found": 3 * n + seed, "fixed": 2 * n + seed % 3, "cases": n % 4} for n in range(1, 22)
        }
        | {"7": {"found": 0, "fixed": 0, "cases": 0}},
        "institutions_by_status": {"已出台": 12 + seed, "起草中": 5, "计划中": 2},
        "accountability": {
            "约谈提醒（人次）": 31 + seed,
            "诫勉批评（人次）": 7,
            "追究当事人责任（人）": 3,
            "追究领导责任（人）": 1,
            "通报曝光典型案例（件）": 2,
            "责令回炉补课（个）": 0,
        },
        "members_total": 60 + seed,
        "members_by_status": {"已落实": 40 + seed, "落实中": 18, "未落实": 2},
    }


@pytest.fixture(scope="module")
def data():
    node = _node(3)
    children = [
        {"code": "110000", "name": "北京市", **_node(1)},
        {"code": "120000", "name": EVIL_NAME, **_node(2)},
        {"code": "130000", "name": FORMULA_NAME, **_node(5)},
        {"code": "140000", "name": "山西省", **_node(0), "items_total": 0, "completion_rate": None},
    ]
    by_category = [
        {"code": "地方", "name": "地方", **_node(4)},
        {"code": "中管企业", "name": "中管企业", **_node(6)},
    ]
    attention = [
        {"code": "120000", "name": EVIL_NAME, "reasons": [EVIL_REASON, "反弹回潮2项"]},
        {"code": "130000", "name": FORMULA_NAME, "reasons": "=1+1"},
    ]
    missing = [
        {"code": "150000", "name": FORMULA_NAME, "parent": "全国", "level": "省级", "contact": "-张三", "phone": "+8610"},
        {"code": "160000", "name": "辽宁省", "parent": "全国", "level": "省级", "contact": "李四", "phone": "024-1"},
    ]
    previous = _node(1)
    ctx = assemble_context(
        node,
        period="2015-02",
        deadline=dt.datetime(2015, 2, 28, 23, 59, 59),
        scope_code="000000",
        scope_name="全国",
        scope_level="全国",
        children=children,
        by_category=by_category,
        attention=attention,
        missing=missing,
        previous=previous,
        previous_period="2015-01",
        history=[("2015-01", previous)],
        generated_at=dt.datetime(2015, 3, 1, 9, 0),
    )
    return {"node": node, "children": children, "by_category": by_category, "previous": previous, "ctx": ctx}


class _Figures(HTMLParser):
    """Collect (data-key, text) of every tagged figure."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._stack: list[str | None] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        key = dict(attrs).get("data-key")
        self._stack.append(key)
        if key:
            self._text = []

    def handle_endtag(self, tag):  # noqa: ANN001
        key = self._stack.pop() if self._stack else None
        if key:
            self.found.append((key, "".join(self._text).strip()))

    def handle_data(self, data):  # noqa: ANN001
        self._text.append(data)


def _parse(text: str) -> float | None:
    if text == "—":
        return None
    if text == "持平":
        return 0.0
    if text.endswith("个百分点"):
        return float(text.removesuffix("个百分点")) / 100
    if text.endswith("%"):
        return float(text[:-1]) / 100
    return float(text.replace(",", ""))


def _expected(key: str, data: dict) -> float | None:  # noqa: C901, PLR0911 - one branch per figure family
    node = data["node"]
    parts = key.split(".")
    head = parts[0]
    if head in INDICATORS:
        return node[head]
    if head in ("card", "status"):
        return node[parts[1]]
    if head == "tasks":
        return sum(t[parts[1]] for t in node["tasks"].values())
    if head == "task":
        t = node["tasks"][parts[1]]
        if parts[2] == "rate":
            return t["fixed"] / t["found"] if t["found"] else None
        return t[parts[2]]
    if head == "institutions":
        by = node["institutions_by_status"]
        return sum(by.values()) if parts[1] == "total" else by.get(parts[1], 0)
    if head == "members":
        return node["members_by_status"].get(parts[1], 0)
    if head in ("items_by_category", "items_by_source"):
        return node[head].get(parts[1], 0)
    if head == "accountability":
        from jobs.core.schema import load_schema

        name = next(c.name for c in load_schema().sheet("accountability").columns if c.key == parts[1])
        return node["accountability"][name]
    if head in ("unit", "category"):
        rows = data["children"] if head == "unit" else data["by_category"]
        row = next(r for r in rows if r["code"] == parts[1])
        return row.get(parts[2])
    if head == "change":
        now, before = node.get(parts[1]), data["previous"].get(parts[1])
        return {"current": now, "previous": before, "change": now - before}[parts[2]]
    if head == "attention":
        return len(data["ctx"].attention)
    if head == "annex":
        return data["ctx"].missing_total
    raise AssertionError(f"unexpected figure key {key}")


def test_every_html_figure_equals_its_source(data):
    parser = _Figures()
    parser.feed(render_html(data["ctx"]))
    assert len(parser.found) > 200
    for key, text in parser.found:
        expected = _expected(key, data)
        shown = _parse(text)
        if expected is None:
            assert shown is None, key
        elif isinstance(expected, float) and not float(expected).is_integer() or key.endswith("rate"):
            assert shown == pytest.approx(expected, abs=0.0005 + 1e-9), (key, text)
        else:
            assert shown == expected, (key, text)
    keys = {k for k, _ in parser.found}
    # every indicator, every task cell, every breakdown cell is on the page
    assert set(INDICATORS) - {"items_in_progress", "items_not_started", "items_ineffective"} <= keys
    assert {f"task.{n}.{c.key}" for n in range(1, 22) for c in TASK_COLUMNS} <= keys
    assert {f"unit.{r['code']}.{k}" for r in data["children"] for k in BREAKDOWN_KEYS} <= keys
    assert {f"category.{r['code']}.{k}" for r in data["by_category"] for k in BREAKDOWN_KEYS} <= keys


def test_html_reads_like_the_office_report(data):
    page = render_html(data["ctx"])
    assert "关于2015年2月整改落实情况“回头看”的汇总报告" in page
    for heading in ("报送情况", "21项专项整治任务", "制度建设", "责任追究", "个人整改", "分类别情况",
                    "需要重点关注的单位", "与上月比较", "附件：未报送单位名单"):
        assert heading in page, heading
    assert "2015年2月28日 23:59" in page
    assert "李四" in page and "024-1" in page  # annex contacts
    assert page.count("<svg") == 3  # by unit, tasks, trend
    assert 'class="break-before"' in page and "@page" in page
    assert "<link" not in page and "src=\"http" not in page  # self-contained


def test_html_escapes_return_text(data):
    page = render_html(data["ctx"])
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;测试省" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Content-Security-Policy" in page


def test_unit_level_context_titles_the_unit(data):
    ctx = assemble_context(
        data["children"][0], period="2015-02", deadline=dt.datetime(2015, 2, 28, 23, 59, 59),
        scope_code="110000", scope_name="北京市", scope_level="省级", charts=False,
    )
    page = render_html(ctx)
    assert "关于北京市2015年2月整改落实情况“回头看”的汇总报告" in page
    assert "分下级单位情况" not in page  # no lower units given: no breakdown section
    headings = re.findall(r"<h2>([一二三四五六七八九十]+)、", page)
    assert headings == ["一", "二", "三", "四", "五", "六", "七", "八", "九"]  # numbering follows the sections present
    assert "没有上月的汇总数据" in page


def test_charts_have_chinese_glyphs_and_no_missing_glyphs(data):
    from jobs.report.charts import bar_rates, cjk_font

    assert cjk_font() is not None, "fonts-noto-cjk is installed by make setup"
    assert data["ctx"].charts.font_note is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would raise here
        svg = bar_rates(["北京市", "中管企业"], [0.5, None], title="整改完成率", xlabel="完成率（%）")
    assert "<title>整改完成率</title>" in svg and "北京市" in svg
    assert re.search(r'<path id="NotoSans[^"]*CJK[^"]*"', svg), "glyphs come from the CJK font"
    assert "<!--" not in svg and "<?xml" not in svg
    assert len(svg) < 150_000


def test_filters_for_changes():
    assert zh_points(0.0123) == "+1.2个百分点"
    assert zh_points(-0.05) == "-5.0个百分点"
    assert zh_points(0.00001) == "持平"
    assert zh_signed(12) == "+12" and zh_signed(-3) == "-3" and zh_signed(0) == "0"
    assert zh_points(None) == "—"
    assert [zh_numeral(n) for n in (1, 9, 10, 12, 20, 21)] == ["一", "九", "十", "十二", "二十", "二十一"]


@pytest.fixture(scope="module")
def workbook(data, tmp_path_factory):
    path = write_xlsx(data["ctx"], tmp_path_factory.mktemp("xlsx") / "summary.xlsx")
    return openpyxl.load_workbook(path)


def test_xlsx_main_sheet_figures(data, workbook):
    ws = workbook["主要指标"]
    assert ws["A1"].value == "2015年2月整改落实情况“回头看”主要指标"
    assert "A1:F1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws.freeze_panes == "C4"
    by_label = {ws.cell(r, 2).value: r for r in range(4, ws.max_row + 1)}
    for key, ind in INDICATORS.items():
        row = by_label[ind.label]
        cell = ws.cell(row, 4)
        assert cell.value == pytest.approx(data["node"][key]), key
        assert cell.number_format == (RATE_FORMAT if ind.kind == "rate" else COUNT_FORMAT), key
        assert ws.cell(row, 5).value == pytest.approx(data["previous"][key]), key
        assert ws.cell(row, 6).value == pytest.approx(data["node"][key] - data["previous"][key]), key


def test_xlsx_tasks_and_breakdown(data, workbook):
    ws = workbook["专项整治"]
    for row in range(4, 25):
        no = ws.cell(row, 1).value
        t = data["node"]["tasks"][str(no)]
        assert [ws.cell(row, c).value for c in (3, 4, 6)] == [t["found"], t["fixed"], t["cases"]]
    assert ws.cell(25, 2).value == "合计"
    assert ws.cell(25, 3).value == sum(t["found"] for t in data["node"]["tasks"].values())
    ws = workbook["分地区"]
    assert ws.freeze_panes == "C5"
    heads = [ws.cell(4, c).value for c in range(3, ws.max_column + 1)]
    assert heads[0] == "应报单位（个）"
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "C3:F3" in merged  # 报送情况 over its four columns
    rows = {ws.cell(r, 1).value: r for r in range(5, ws.max_row + 1)}
    for child in data["children"]:
        row = rows[child["code"]]
        for j, key in enumerate(BREAKDOWN_KEYS, start=3):
            expected = child.get(key)
            got = ws.cell(row, j).value
            assert got == (pytest.approx(expected) if expected is not None else None), (child["code"], key)


def test_xlsx_values_are_inert(workbook):
    texts = []
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    assert "'" + FORMULA_NAME in texts
    assert "'-张三" in texts and "'+8610" in texts
    assert not any(t.startswith(("=", "+", "@")) for t in texts)


def test_xlsx_notes_sheet_defines_every_indicator(workbook):
    ws = workbook["说明"]
    labels = {ws.cell(r, 1).value for r in range(1, ws.max_row + 1)}
    assert {i.label for i in INDICATORS.values()} <= labels
    assert workbook.sheetnames[-1] == "说明"


def test_empty_period_renders_dashes_not_errors(tmp_path):
    """No return counted yet: rates are undefined (—), counts 0, every section still renders."""
    ctx = assemble_context(
        {"units_expected": 40, "units_missing": 40, "units_reported": 0, "reporting_rate": 0.0, "items_total": 0},
        period="2015-02", deadline=dt.datetime(2015, 2, 28, 23, 59, 59),
        scope_code="000000", scope_name="全国", scope_level="全国",
    )
    assert ctx.charts.tasks is None and ctx.charts.by_unit is None and ctx.charts.trend is not None
    page = render_html(ctx)
    assert 'data-key="completion_rate">—<' in page
    assert 'data-key="items_total">0<' in page
    wb = openpyxl.load_workbook(write_xlsx(ctx, tmp_path / "empty.xlsx"))
    assert wb["未报送单位"].max_row == 3  # headers only


def test_long_lists_are_capped_on_the_page_but_complete_in_excel(tmp_path):
    from jobs.report.context import PAGE_LIST_LIMIT

    n = PAGE_LIST_LIMIT + 50
    attention = [{"code": f"U{i:04d}", "name": f"单位{i}", "reasons": ["完成率低"] * (1 + (i == n - 1))} for i in range(n)]
    missing = [{"code": f"M{i:04d}", "name": f"未报{i}", "parent": "全国", "level": "村级"} for i in range(n)]
    ctx = assemble_context(
        _node(1), period="2015-02", deadline=dt.datetime(2015, 2, 28), scope_code="0", scope_name="全国",
        scope_level="全国", attention=attention, missing=missing, charts=False,
    )
    page = render_html(ctx)
    talks = dict(ctx.attention_steps)["约谈提醒"]  # rows without a step are talks
    assert talks[0].code == f"U{n - 1:04d}"  # the unit with most reasons first
    assert page.count("<td>U0") == PAGE_LIST_LIMIT and page.count("<td>M0") == PAGE_LIST_LIMIT
    assert f"完整名单（{n}个）" in page
    assert f'data-key="attention.count">{n}<' in page
    wb = openpyxl.load_workbook(write_xlsx(ctx, tmp_path / "long.xlsx"))
    assert wb["重点关注"].max_row == 3 + n and wb["未报送单位"].max_row == 3 + n


def test_labels_and_definitions_are_the_summary_schemas():
    """One place for an indicator's label, unit and definition: schemas/summary-return.schema.yaml."""
    import yaml

    from jobs.rollup.vocab import SUMMARY_SCHEMA

    data = yaml.safe_load(SUMMARY_SCHEMA.read_text(encoding="utf-8"))
    entries = [*data["coverage"], *data["ledger"], *data["history"], *data["rates"], data["members_total"]]
    assert {e["key"]: (e["label"], e.get("unit", "%"), e["definition"]) for e in entries} == {
        k: (i.label, i.unit, i.definition) for k, i in INDICATORS.items()
    }
    assert [(c["key"], c["label"], c["definition"]) for c in data["tasks"]["columns"]] == [
        (c.key, c.label, c.definition) for c in TASK_COLUMNS
    ]
