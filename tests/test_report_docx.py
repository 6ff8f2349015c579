"""The Word report from the editable template: same context, figures, escaping, clean errors."""

from __future__ import annotations

import datetime as dt
import shutil

import docx
import pytest

from jobs.core.jinja import zh_number, zh_percent
from jobs.report.context import assemble_context
from jobs.report.docx import DEFAULT_TEMPLATE, DocxTemplateError, write_docx
from tests.test_report import EVIL_NAME, FORMULA_NAME, _node


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    node, previous = _node(3), _node(1)
    ctx = assemble_context(
        node, period="2015-02", deadline=dt.datetime(2015, 2, 28, 23, 59, 59), scope_code="000000",
        scope_name="全国", scope_level="全国", charts=False, previous=previous, previous_period="2015-01",
        children=[{"code": "110000", "name": EVIL_NAME, **_node(1)}, {"code": "120000", "name": FORMULA_NAME, **_node(2)}],
        attention=[{"code": "110000", "name": EVIL_NAME, "reasons": ["完成率<60%", "a&b"]}],
        missing=[{"code": "150000", "name": "内蒙古自治区", "parent": "全国", "level": "省级",
                  "contact": "张三", "phone": "0471-1", "state": "未报送"}],
        registry_version=3,
    )  # fmt: skip
    path = write_docx(ctx, tmp_path_factory.mktemp("docx") / "report.docx")
    return {"node": node, "doc": docx.Document(str(path))}


def _tables(doc):
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]


def test_prose_carries_the_figures(rendered):
    node, text = rendered["node"], "\n".join(p.text for p in rendered["doc"].paragraphs)
    assert "关于2015年2月整改落实情况“回头看”的汇总报告" in text
    assert "应报单位依据：组织机构名册第3版" in text
    assert f"本期应报送单位{zh_number(node['units_expected'])}个" in text
    assert f"报送率{zh_percent(node['reporting_rate'])}" in text
    assert f"共列问题{zh_number(node['items_total'])}项" in text
    assert f"完成率{zh_percent(node['completion_rate'])}" in text
    assert f"群众满意率{zh_percent(node['satisfaction_rate'])}" in text
    assert "{{" not in text and "{%" not in text


def test_the_word_report_says_which_publication_it_shows(tmp_path):
    from dataclasses import replace

    from jobs.report.context import assemble_context as assemble

    base = assemble(_node(3), period="2015-02", deadline=dt.datetime(2015, 2, 28, 23, 59, 59), scope_code="000000",
                    scope_name="全国", scope_level="全国", charts=False, registry_version=1)  # fmt: skip
    note = "本报告为2015年2月第2次发布的数字（2015年3月2日发布）"
    doc = docx.Document(str(write_docx(replace(base, publication_note=note), tmp_path / "r.docx")))
    assert note in "\n".join(p.text for p in doc.paragraphs)


def test_the_word_report_has_the_delay_and_backsliding_section(tmp_path):
    rows = [{"code": "110000", "name": "北京市", "items_vanished": 1, "warnings_unexplained": 3, "warnings_explained": 1,
             "trend": [("2015-01", 0), ("2015-02", 4)]},
            {"code": "120000", "name": "天津市", "warnings_unexplained": 0, "warnings_explained": 2, "trend": []}]
    ctx = assemble_context(_node(3), period="2015-02", deadline=dt.datetime(2015, 2, 28, 23, 59, 59),
                           scope_code="000000", scope_name="全国", scope_level="全国", charts=False, backsliding=rows)
    doc = docx.Document(str(write_docx(ctx, tmp_path / "r.docx")))
    assert "九、拖延和反弹情况" in [p.text for p in doc.paragraphs]
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "单位代码" and "未说明提示（条）" in t.rows[0].cells[2].text)
    body = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert body == [["110000", "北京市", "3", "1", "1月0，2月4"], ["120000", "天津市", "0", "2", ""]]


def test_tables_repeat_rows_with_the_figures(rendered):
    node, tables = rendered["node"], _tables(rendered["doc"])
    tasks = tables[0]
    assert len(tasks) == 22  # header + 21 tasks
    for row in tasks[1:]:
        t = node["tasks"][row[0]]
        assert row[2:4] == [zh_number(t["found"]), zh_number(t["fixed"])] and row[5] == zh_number(t["cases"])
    annex = tables[-1]
    assert annex[1] == ["150000", "内蒙古自治区", "全国", "张三", "0471-1", "未报送"]


def test_return_text_is_inert_in_word(rendered):
    cells = [c for t in _tables(rendered["doc"]) for row in t for c in row]
    assert EVIL_NAME in cells and FORMULA_NAME in cells  # shown literally, the XML stayed valid
    assert "完成率<60%；a&b" in cells


def test_broken_office_template_is_a_chinese_error(tmp_path, rendered):
    from docx import Document

    broken = tmp_path / "broken.docx"
    shutil.copy(DEFAULT_TEMPLATE, broken)
    doc = Document(str(broken))
    doc.add_paragraph("{{ ctx.no_such_field }}")
    doc.save(str(broken))
    ctx = assemble_context(
        _node(1), period="2015-02", deadline=dt.datetime(2015, 2, 28), scope_code="0", scope_name="全国",
        scope_level="全国", charts=False,
    )
    with pytest.raises(DocxTemplateError, match="Word模板"):
        write_docx(ctx, tmp_path / "out.docx", template=broken)
    with pytest.raises(DocxTemplateError, match="不存在"):
        write_docx(ctx, tmp_path / "out.docx", template=tmp_path / "missing.docx")
