"""The report shows the graded list by step with reasons, and the year's units not eligible for awards."""

from __future__ import annotations

import datetime as dt

import docx
import openpyxl
import pytest

from jobs.report.context import assemble_context
from jobs.report.docx import write_docx
from jobs.report.html import render_html
from jobs.report.xlsx import write_xlsx
from tests.test_report import EVIL_NAME, _node

ATTENTION = [
    {"code": "110000", "name": "北京市", "step": "约谈提醒", "reasons": ["整改完成率20.0%，低于40%"]},
    {"code": "120000", "name": EVIL_NAME, "step": "追责问责", "reasons": ["有1项已销号问题反弹回潮（序号5）"]},
    {"code": "130000", "name": "河北省", "step": "诫勉批评", "reasons": ["报表数字千篇一律且未作说明1处，疑似弄虚作假"]},
    {"code": "140000", "name": "山西省", "step": "约谈提醒", "reasons": ["群众满意率25.0%，低于50%"]},
]
INELIGIBLE = [{"code": "120000", "name": EVIL_NAME, "periods": ["2015-01", "2015-02"]},
              {"code": "150000", "name": "内蒙古自治区", "periods": ["2015-01"]}]  # fmt: skip


@pytest.fixture(scope="module")
def ctx():
    return assemble_context(
        _node(3), period="2015-02", deadline=dt.datetime(2015, 2, 28, 23, 59, 59), scope_code="000000",
        scope_name="全国", scope_level="全国", charts=False, attention=ATTENTION, ineligible=INELIGIBLE,
    )  # fmt: skip


def test_context_groups_the_list_by_step_most_serious_first(ctx):
    steps = [(s, [a.code for a in rows]) for s, rows in ctx.attention_steps]
    assert steps == [("追责问责", ["120000"]), ("诫勉批评", ["130000"]), ("约谈提醒", ["110000", "140000"])]


def test_html_shows_three_tables_with_reasons_and_the_ineligible(ctx):
    page = render_html(ctx)
    section = page[page.index('<section id="attention">'):page.index('<section id="changes">')]
    assert [section.index(f'data-step="{s}"') for s in ("追责问责", "诫勉批评", "约谈提醒")] == sorted(
        section.index(f'data-step="{s}"') for s in ("追责问责", "诫勉批评", "约谈提醒"))
    assert 'data-key="attention.约谈提醒">2<' in section and 'data-key="attention.追责问责">1<' in section
    assert "有1项已销号问题反弹回潮（序号5）" in section
    assert 'data-key="ineligible.count">2<' in section
    assert "内蒙古自治区（2015年1月）" in section
    assert "<script>" not in section  # the unit's name stays text


def test_xlsx_lists_step_and_the_ineligible_sheet(ctx, tmp_path):
    wb = openpyxl.load_workbook(write_xlsx(ctx, tmp_path / "r.xlsx"))
    rows = [r for r in wb["重点关注"].iter_rows(min_row=4, values_only=True)]
    assert [(r[0], r[1]) for r in rows] == [("追责问责", "120000"), ("诫勉批评", "130000"),
                                             ("约谈提醒", "110000"), ("约谈提醒", "140000")]  # fmt: skip
    ineligible = [r for r in wb["不能评先选优"].iter_rows(min_row=4, values_only=True)]
    assert ineligible == [("120000", EVIL_NAME, "2015年1月、2015年2月"), ("150000", "内蒙古自治区", "2015年1月")]
    assert wb.sheetnames[-1] == "说明"


def test_docx_shows_steps_and_the_ineligible(ctx, tmp_path):
    doc = docx.Document(str(write_docx(ctx, tmp_path / "r.docx")))
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "问责措施")
    assert [(r.cells[0].text, r.cells[1].text) for r in table.rows[1:]] == [
        ("追责问责", "120000"), ("诫勉批评", "130000"), ("约谈提醒", "110000"), ("约谈提醒", "140000")]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert f"当年不能列入评先选优对象的单位：{EVIL_NAME}、内蒙古自治区。" in text
