"""Regenerate ``templates/report.docx``, the Word template of the summary report.

The office may edit the template in Word (fonts, letterhead, wording); the
tags are Jinja2 (docxtpl) over the same context as the HTML page: ``ctx``
(:class:`jobs.report.context.ReportContext`), ``f`` (``ctx.figures``) and the
project's filters (``zh_number``, ``zh_percent``, ``zh_date``, ``zh_period``,
``zh_signed``, ``zh_points``). Table rows repeat with ``{%tr for ... %}`` rows.

Run: ``.venv/bin/python scripts/make_docx_template.py`` (writes the file in place).
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT  # noqa: F401 - kept for office edits
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

TARGET = Path(__file__).resolve().parent.parent / "templates" / "report.docx"
BODY_FONT, HEAD_FONT = "仿宋", "黑体"


def _font(run, name: str, size: float, *, bold: bool = False, color: RGBColor | None = None) -> None:  # noqa: ANN001
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if color is not None:
        run.font.color.rgb = color


def para(doc, text: str, *, size: float = 14, name: str = BODY_FONT, bold: bool = False,
         align=None, indent: bool = True, color: RGBColor | None = None):  # noqa: ANN001, ANN201
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    p.paragraph_format.space_after = Pt(4)
    _font(p.add_run(text), name, size, bold=bold, color=color)
    return p


def heading(doc, text: str) -> None:  # noqa: ANN001
    para(doc, text, size=15, name=HEAD_FONT, indent=False)


def table(doc, headers: list[str], loop: str, cells: list[str], *, widths: list[float] | None = None) -> None:  # noqa: ANN001
    """A header row, then one repeated row per item of ``loop`` (docxtpl ``{%tr %}`` rows)."""
    t = doc.add_table(rows=4, cols=len(headers))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for i, h in enumerate(headers):
        cell = t.rows[0].cells[i]
        cell.text = ""
        _font(cell.paragraphs[0].add_run(h), HEAD_FONT, 10.5)
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    t.rows[1].cells[0].text = f"{{%tr for row in {loop} %}}"
    for i, c in enumerate(cells):
        cell = t.rows[2].cells[i]
        cell.text = ""
        _font(cell.paragraphs[0].add_run(c), BODY_FONT, 10.5)
    t.rows[3].cells[0].text = "{%tr endfor %}"
    if widths:
        for row in t.rows:
            for cell, w in zip(row.cells, widths, strict=True):
                cell.width = Mm(w)
    doc.add_paragraph()


def build() -> Document:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    para(doc, "{{ ctx.title }}", size=22, name=HEAD_FONT, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False,
         color=RGBColor(0xB2, 0x22, 0x22))
    para(doc, "报送期：{{ ctx.period|zh_period }}　截止时间：{{ ctx.deadline|zh_date }}　汇总范围：{{ ctx.scope_name }}",
         size=12, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    para(doc, "{{ ctx.registry_note }}{% if ctx.publication_note %}　{{ ctx.publication_note }}{% endif %}", size=12,
         align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)

    heading(doc, "一、报送情况")
    para(doc, "本期应报送单位{{ f.units_expected.value|zh_number }}个。截至{{ ctx.deadline|zh_date }}，已报送并通过校验"
              "{{ f.units_reported.value|zh_number }}个，报送率{{ f.reporting_rate.value|zh_percent }}；其中按时报送"
              "{{ f.units_on_time.value|zh_number }}个，及时率{{ f.timeliness_rate.value|zh_percent }}，逾期报送"
              "{{ f.units_late.value|zh_number }}个，尚有{{ f.units_missing.value|zh_number }}个单位未报送（名单见附件）。")

    heading(doc, "二、整改落实总体情况")
    para(doc, "各单位整改台账共列问题{{ f.items_total.value|zh_number }}项，已完成{{ f.items_done.value|zh_number }}项，"
              "完成率{{ f.completion_rate.value|zh_percent }}；已销号{{ f.items_closed.value|zh_number }}项，销号率"
              "{{ f.closure_rate.value|zh_percent }}。群众已评价{{ f.items_evaluated.value|zh_number }}项，其中满意和基本满意"
              "{{ f.items_satisfied.value|zh_number }}项，群众满意率{{ f.satisfaction_rate.value|zh_percent }}。逾期未完成"
              "{{ f.items_overdue.value|zh_number }}项，反弹回潮{{ f.items_rebound.value|zh_number }}项；“回头看”新发现问题"
              "{{ f.items_new.value|zh_number }}项。")

    heading(doc, "三、21项专项整治任务")
    table(doc, ["序号", "任务名称", "排查问题数（个）", "已整改数（个）", "整改率", "立案查处数（件）"], "ctx.tasks",
          ["{{ row.no }}", "{{ row.name }}", "{{ row.found|zh_number }}", "{{ row.fixed|zh_number }}",
           "{{ row.rate|zh_percent }}", "{{ row.cases|zh_number }}"], widths=[12, 62, 22, 22, 18, 22])

    heading(doc, "四、制度建设")
    table(doc, ["状态", "制度数（项）"], "ctx.institutions", ["{{ row.label }}", "{{ row.value|zh_number }}"])
    heading(doc, "五、责任追究")
    table(doc, ["事项", "数量"], "ctx.accountability", ["{{ row.label }}", "{{ row.value|zh_number }}"])
    heading(doc, "六、领导班子成员个人整改")
    para(doc, "个人整改表共列领导班子成员{{ f.members_total.value|zh_number }}人。")
    table(doc, ["落实情况", "人数（人）"], "ctx.members", ["{{ row.label }}", "{{ row.value|zh_number }}"])

    heading(doc, "七、{{ ctx.breakdown_title }}")
    table(doc, ["单位", "应报（个）", "已报（个）", "报送率", "问题（项）", "完成率", "销号率", "群众满意率"], "ctx.breakdown",
          ["{{ row.name }}", "{{ row['values'].units_expected|zh_number }}", "{{ row['values'].units_reported|zh_number }}",
           "{{ row['values'].reporting_rate|zh_percent }}", "{{ row['values'].items_total|zh_number }}",
           "{{ row['values'].completion_rate|zh_percent }}", "{{ row['values'].closure_rate|zh_percent }}",
           "{{ row['values'].satisfaction_rate|zh_percent }}"])
    para(doc, "分类别情况：", indent=False)
    table(doc, ["类别", "应报（个）", "已报（个）", "报送率", "问题（项）", "完成率", "销号率", "群众满意率"], "ctx.by_category",
          ["{{ row.name }}", "{{ row['values'].units_expected|zh_number }}", "{{ row['values'].units_reported|zh_number }}",
           "{{ row['values'].reporting_rate|zh_percent }}", "{{ row['values'].items_total|zh_number }}",
           "{{ row['values'].completion_rate|zh_percent }}", "{{ row['values'].closure_rate|zh_percent }}",
           "{{ row['values'].satisfaction_rate|zh_percent }}"])

    heading(doc, "八、需要重点关注的单位（分级问责）")
    table(doc, ["问责措施", "单位代码", "单位名称", "原因"], "ctx.attention_rows_by_step",
          ["{{ row.step }}", "{{ row.code }}", "{{ row.name }}", "{{ row.reasons|join('；') }}"], widths=[22, 22, 36, 80])
    para(doc, "整改不力、当年不能列入评先选优对象的单位：{% for i in ctx.ineligible %}{{ i.name }}"
              "{% if not loop.last %}、{% endif %}{% else %}无{% endfor %}。")

    heading(doc, "九、拖延和反弹情况")
    para(doc, "各单位报表与其上一次报表比对：问题未销号即不再列出{{ f.items_vanished.value|zh_number }}项，整改时限推迟"
              "{{ f.items_postponed.value|zh_number }}项，整改状态倒退{{ f.items_regressed.value|zh_number }}项，长期未启动"
              "{{ f.items_stalled.value|zh_number }}项；累计数减少{{ f.figures_decreased.value|zh_number }}个，数字异常"
              "{{ f.outliers.value|zh_number }}个。以上提示中，报表已写明原因的{{ f.warnings_explained.value|zh_number }}条，"
              "未作说明的{{ f.warnings_unexplained.value|zh_number }}条。")
    table(doc, ["单位代码", "单位名称", "未说明提示（条）", "已说明提示（条）", "本年各月提示数"], "ctx.backsliding_shown",
          ["{{ row.code }}", "{{ row.name }}", "{{ row['values'].warnings_unexplained|zh_number }}",
           "{{ row['values'].warnings_explained|zh_number }}",
           "{% for p, n in row.trend %}{{ p[5:]|int }}月{{ n }}{% if not loop.last %}，{% endif %}{% endfor %}"],
          widths=[22, 40, 26, 26, 46])

    heading(doc, "十、与上月比较")
    table(doc, ["指标", "本期", "上期", "增减"], "ctx.changes",
          ["{{ row.label }}（{{ row.unit }}）",
           "{% if row.kind == 'rate' %}{{ row.current|zh_percent }}{% else %}{{ row.current|zh_number }}{% endif %}",
           "{% if row.kind == 'rate' %}{{ row.previous|zh_percent }}{% else %}{{ row.previous|zh_number }}{% endif %}",
           "{% if row.kind == 'rate' %}{{ row.change|zh_points }}{% else %}{{ row.change|zh_signed }}{% endif %}"])

    doc.add_page_break()
    heading(doc, "附件：未报送单位名单")
    table(doc, ["单位代码", "单位名称", "上级单位", "联系人", "联系电话", "情况"], "ctx.missing",
          ["{{ row.code }}", "{{ row.name }}", "{{ row.parent }}", "{{ row.contact }}", "{{ row.phone }}", "{{ row.state }}"])
    return doc


if __name__ == "__main__":
    build().save(TARGET)
    print(f"written {TARGET}")
