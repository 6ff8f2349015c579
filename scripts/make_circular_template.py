"""Regenerate ``templates/circular.docx``, the Word template of the 通报 (红头 layout after GB/T 9704-2012).

Layout: A4, 版心 156 × 225 mm (top 37 mm, left 28 mm); the 发文机关标志 in red
方正小标宋, the 发文字号 in 仿宋_GB2312 三号 centred above a red separator line
across the 版心; the title in 方正小标宋 二号; 主送机关, body (三号, first line
indented two characters, headings in 黑体), the signature block with the date;
the 版记 (抄送, 印发机关 and 印发日期 between black lines); page numbers as
``— N —`` in 四号 Arabic figures (a PAGE field), right on odd pages and left on even ones.
Fonts absent on a machine fall back through the font table's ``altName``
(仿宋_GB2312 → 仿宋, 方正小标宋简体 → 宋体, 黑体 → SimHei).

The tags are Jinja2 (docxtpl) over ``ctx`` (the report's context), ``f`` (its
figures) and ``c`` (:class:`jobs.report.circular.CircularContext`); paragraphs
repeat with ``{%p ... %}`` paragraphs. The office may edit the result in Word.

Run: ``.venv/bin/python scripts/make_circular_template.py`` (writes the file in place).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

TARGET = Path(__file__).resolve().parent.parent / "templates" / "circular.docx"
BODY, TITLE, HEAD = "仿宋_GB2312", "方正小标宋简体", "黑体"
RED = RGBColor(0xFF, 0x00, 0x00)
BODY_SIZE = 16  # 三号
# a font absent on the machine: Word takes its altName (LibreOffice its own CJK substitute)
FALLBACKS = {BODY: ("仿宋", "modern"), TITLE: ("宋体", "roman"), HEAD: ("SimHei", "modern")}


def _font(run, name: str, size: float, *, color: RGBColor | None = None, bold: bool = False) -> None:
    run.font.name = "Times New Roman" if name == BODY else name  # Latin figures in the body
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if color is not None:
        run.font.color.rgb = color


def para(doc, text: str, *, size: float = BODY_SIZE, name: str = BODY, align=None, indent: bool = True,
         color: RGBColor | None = None, before: float = 0, right_chars: float = 0):
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    if align is not None:
        p.alignment = align
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if right_chars:
        fmt.right_indent = Pt(size * right_chars)
    fmt.space_before, fmt.space_after = Pt(before), Pt(0)
    fmt.line_spacing = Pt(28)  # 22 lines of 28 pt fill the 225 mm 版心
    if text:
        _font(p.add_run(text), name, size, color=color)
    return p


def tag(doc, text: str) -> None:
    """A docxtpl paragraph tag (``{%p ... %}``): the whole paragraph is replaced."""
    doc.add_paragraph(text)


def _border(p, edge: str, *, color: str, size_eighths: int) -> None:
    p_pr = p._p.get_or_add_pPr()
    borders = p_pr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        p_pr.append(borders)
    line = OxmlElement(f"w:{edge}")
    for key, value in (("w:val", "single"), ("w:sz", str(size_eighths)), ("w:space", "1"), ("w:color", color)):
        line.set(qn(key), value)
    borders.append(line)


def _page_number(paragraph, *, align) -> None:
    """``— N —`` with N a PAGE field, in 四号 (14 pt) 宋体 figures."""
    paragraph.alignment = align
    _font(paragraph.add_run("— "), "宋体", 14)
    begin, code, end = (OxmlElement("w:fldChar"), OxmlElement("w:instrText"), OxmlElement("w:fldChar"))
    begin.set(qn("w:fldCharType"), "begin")
    code.set(qn("xml:space"), "preserve")
    code.text = " PAGE "
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, code, end):
        run = paragraph.add_run()
        _font(run, "宋体", 14)
        run._r.append(element)
    _font(paragraph.add_run(" —"), "宋体", 14)


def build() -> Document:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(28)
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer.paragraphs[0], align=WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number(section.even_page_footer.paragraphs[0], align=WD_ALIGN_PARAGRAPH.LEFT)

    center = WD_ALIGN_PARAGRAPH.CENTER
    para(doc, "{{ c.letterhead.issuer }}文件", size=30, name=TITLE, align=center, indent=False, color=RED, before=20)
    para(doc, "", indent=False)
    number = para(doc, "{{ c.number }}", align=center, indent=False)
    _border(number, "bottom", color="FF0000", size_eighths=18)  # the red separator line, 版心 wide
    para(doc, "", indent=False)
    para(doc, "{{ c.title }}", size=22, name=TITLE, align=center, indent=False)
    para(doc, "", indent=False)
    para(doc, "{{ c.letterhead.addressee }}：", indent=False)
    para(doc, "现将{{ ctx.period|zh_period }}各地区各部门整改落实情况“回头看”报表的报送情况和分级问责情况通报如下。")

    para(doc, "一、报送情况", name=HEAD)
    para(doc, "本期应报单位{{ f.units_expected.value|zh_number }}个，已报{{ f.units_reported.value|zh_number }}个，"
              "报送率{{ f.reporting_rate.value|zh_percent }}；按时报送{{ f.units_on_time.value|zh_number }}个，"
              "及时率{{ f.timeliness_rate.value|zh_percent }}。")
    para(doc, "{% if c.missing %}未报送的单位（{{ c.missing|length }}个）：{% for m in c.missing %}{{ m.name }}"
              "{% if m.state != '未报送' %}（{{ m.state }}）{% endif %}{% if not loop.last %}、{% endif %}{% endfor %}。"
              "{% else %}应报单位均已报送。{% endif %}{% if c.delegated %}另有{{ c.delegated_units|zh_number }}个单位"
              "由下级办公室的汇总报表报告未报，由其催报。{% endif %}")
    para(doc, "{% if c.late %}逾期报送的单位（{{ c.late|length }}个）：{% for u in c.late %}{{ u.name }}"
              "（{{ u.received_at.date()|zh_date }}报送，逾期{{ u.days_late }}天）{% if not loop.last %}、{% endif %}"
              "{% endfor %}。{% else %}没有逾期报送的单位。{% endif %}")

    para(doc, "二、分级问责情况", name=HEAD)
    para(doc, "{% if ctx.attention %}按照约谈提醒、诫勉批评、追责问责的要求，本期共{{ ctx.attention|length }}个单位列入分级问责名单。"
              "{% else %}本期没有列入分级问责名单的单位。{% endif %}")
    tag(doc, "{%p for step, rows in ctx.attention_steps %}")
    tag(doc, "{%p if rows %}")
    para(doc, "{{ step }}（{{ rows|length }}个）：{% for a in rows %}{{ a.name }}（{{ a.reasons|join('；') }}）"
              "{% if not loop.last %}；{% endif %}{% endfor %}。")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endfor %}")
    para(doc, "{% if ctx.ineligible %}整改不力、当年不能列入评先选优对象的单位（{{ ctx.ineligible|length }}个）："
              "{% for i in ctx.ineligible %}{{ i.name }}{% if not loop.last %}、{% endif %}{% endfor %}。{% endif %}")

    para(doc, "三、有关要求", name=HEAD)
    para(doc, "请未报送和逾期报送的单位查明原因，尽快补报。请列入分级问责名单的单位主要负责同志认真对照通报的问题，"
              "举一反三、立行立改，按照约谈提醒、诫勉批评、追责问责的要求落实责任，整改情况在下期报表中如实反映。"
              "对整改不力、敷衍塞责的，将严肃追究责任。")

    right = WD_ALIGN_PARAGRAPH.RIGHT
    para(doc, "", indent=False)
    para(doc, "", indent=False)
    para(doc, "{{ c.letterhead.signer }}", align=right, indent=False, right_chars=2)
    para(doc, "{{ c.issued_on|zh_date }}", align=right, indent=False, right_chars=4)

    para(doc, "", indent=False)
    copy = para(doc, "抄送：{{ c.letterhead.copy_to }}。", size=14, indent=False)
    copy.paragraph_format.left_indent = Pt(14)
    _border(copy, "top", color="000000", size_eighths=8)
    _border(copy, "bottom", color="000000", size_eighths=4)
    printed = para(doc, "{{ c.letterhead.printed_by }}　　　　{{ c.issued_on|zh_date }}印发", size=14, indent=False)
    printed.paragraph_format.left_indent = Pt(14)
    _border(printed, "bottom", color="000000", size_eighths=8)
    return doc


def add_fallbacks(path: Path) -> None:
    """Declare the fonts' fallbacks (``w:altName``) in the package's font table."""
    fonts = "".join(
        f'<w:font w:name="{name}"><w:altName w:val="{alt}"/><w:charset w:val="86"/>'
        f'<w:family w:val="{family}"/><w:pitch w:val="variable"/></w:font>'
        for name, (alt, family) in FALLBACKS.items()
    )
    with zipfile.ZipFile(path) as source:
        parts = {info: source.read(info.filename) for info in source.infolist()}
    fresh = path.with_suffix(".tmp")
    with zipfile.ZipFile(fresh, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts.items():
            if info.filename == "word/fontTable.xml":
                text = data.decode("utf-8")
                text = re.sub(r"</w:fonts>\s*$", fonts + "</w:fonts>", text)
                data = text.encode("utf-8")
            out.writestr(info, data)
    fresh.replace(path)


def main() -> None:
    build().save(str(TARGET))
    add_fallbacks(TARGET)
    print(f"written {TARGET}")


if __name__ == "__main__":
    main()
