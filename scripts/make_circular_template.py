"""Regenerate ``templates/circular.docx`` (the 通报) and ``templates/supervision.docx`` (the 督办通知单).

Both in the 红头 layout after GB/T 9704-2012.

Layout: A4, 版心 156 × 225 mm (top 37 mm, left 28 mm); the 发文机关标志 in red
方正小标宋, the 发文字号 in 仿宋_GB2312 三号 centred above a red separator line
across the 版心; the title in 方正小标宋 二号; 主送机关, body (三号, first line
indented two characters, headings in 黑体), the signature block with the date;
the 版记 (抄送, 印发机关 and 印发日期 between black lines); page numbers as
``— N —`` in 四号 Arabic figures (a PAGE field), right on odd pages and left on even ones.
Fonts absent on a machine fall back through the font table's ``altName``
(仿宋_GB2312 → 仿宋, 方正小标宋简体 → 宋体, 黑体 → SimHei).

The 通报's tags are Jinja2 (docxtpl) over ``ctx`` (the report's context), ``f``
(its figures) and ``c`` (:class:`jobs.report.circular.CircularContext`); the
督办通知单's over ``n`` (:class:`jobs.report.supervise.Notice`), ``letterhead``,
``issued_on`` and ``period``. Paragraphs repeat with ``{%p ... %}`` paragraphs,
table rows with ``{%tr ... %}`` rows. The office may edit the results in Word.

Run: ``.venv/bin/python scripts/make_circular_template.py`` (writes both files in place).
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

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TARGET, SUPERVISION = TEMPLATES / "circular.docx", TEMPLATES / "supervision.docx"
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


def _document() -> Document:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(28)
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer.paragraphs[0], align=WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number(section.even_page_footer.paragraphs[0], align=WD_ALIGN_PARAGRAPH.LEFT)
    return doc


def _head(doc, *, issuer: str, number: str, title: str, addressee: str) -> None:
    """发文机关标志 (red), 发文字号 over the red line, title, 主送机关."""
    center = WD_ALIGN_PARAGRAPH.CENTER
    para(doc, f"{issuer}文件", size=30, name=TITLE, align=center, indent=False, color=RED, before=20)
    para(doc, "", indent=False)
    line = para(doc, number, align=center, indent=False)
    _border(line, "bottom", color="FF0000", size_eighths=18)  # the red separator line, 版心 wide
    para(doc, "", indent=False)
    para(doc, title, size=22, name=TITLE, align=center, indent=False)
    para(doc, "", indent=False)
    para(doc, f"{addressee}：", indent=False)


def _tail(doc, *, signer: str, date: str, copy_to: str, printed_by: str) -> None:
    """Signature block with the date, then the 版记 (抄送, 印发机关 and 印发日期 between black lines)."""
    right = WD_ALIGN_PARAGRAPH.RIGHT
    para(doc, "", indent=False)
    para(doc, "", indent=False)
    para(doc, signer, align=right, indent=False, right_chars=2)
    para(doc, date, align=right, indent=False, right_chars=4)
    para(doc, "", indent=False)
    copy = para(doc, f"抄送：{copy_to}。", size=14, indent=False)
    copy.paragraph_format.left_indent = Pt(14)
    _border(copy, "top", color="000000", size_eighths=8)
    _border(copy, "bottom", color="000000", size_eighths=4)
    printed = para(doc, f"{printed_by}　　　　{date}印发", size=14, indent=False)
    printed.paragraph_format.left_indent = Pt(14)
    _border(printed, "bottom", color="000000", size_eighths=8)


def build() -> Document:
    """The 通报."""
    doc = _document()
    _head(doc, issuer="{{ c.letterhead.issuer }}", number="{{ c.number }}", title="{{ c.title }}",
          addressee="{{ c.letterhead.addressee }}")
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

    _tail(doc, signer="{{ c.letterhead.signer }}", date="{{ c.issued_on|zh_date }}",
          copy_to="{{ c.letterhead.copy_to }}", printed_by="{{ c.letterhead.printed_by }}")
    return doc


def build_supervision() -> Document:
    """The 督办通知单 of one unit: its step and reasons, its items under supervision in a table."""
    doc = _document()
    _head(doc, issuer="{{ letterhead.issuer }}", number="{{ n.number }}", title="督办通知单", addressee="{{ n.name }}")
    para(doc, "经审核你单位{{ period|zh_period }}整改落实情况“回头看”报表，你单位列入{{ n.step }}名单，"
              "原因：{{ n.reasons|join('；') }}。")
    para(doc, "{% if n.items %}现将下列{{ n.items|length }}项问题列入督办，请于{{ n.due|zh_date }}前整改到位，"
              "并在下期报表中如实反映整改情况；逾期未整改到位的，列入诫勉批评并在通报中点名。"
              "{% else %}请对照上述原因认真整改，并在下期报表中如实反映整改情况。{% endif %}")
    headers = ["序号", "问题描述", "督办原因", "原整改时限", "整改状态", "督办时限"]
    cells = ["{{ i.seq }}", "{{ i.problem }}", "{{ i.reason_text }}", "{{ i.deadline|zh_date }}", "{{ i.status }}",
             "{{ i.due|zh_date }}{% if i.earlier %}（前期已督办）{% endif %}"]
    tag(doc, "{%p if n.items %}")  # a unit listed for its rates alone has no item table
    t = doc.add_table(rows=4, cols=len(headers))
    t.style = "Table Grid"
    for i, h in enumerate(headers):
        t.rows[0].cells[i].text = ""
        _font(t.rows[0].cells[i].paragraphs[0].add_run(h), HEAD, 12)
    t.rows[1].cells[0].text = "{%tr for i in n.items %}"
    for i, c in enumerate(cells):
        t.rows[2].cells[i].text = ""
        _font(t.rows[2].cells[i].paragraphs[0].add_run(c), BODY, 12)
    t.rows[3].cells[0].text = "{%tr endfor %}"
    for row in t.rows:
        for cell, width in zip(row.cells, (12, 52, 28, 24, 18, 22), strict=True):
            cell.width = Mm(width)
    tag(doc, "{%p endif %}")
    _tail(doc, signer="{{ letterhead.signer }}", date="{{ issued_on|zh_date }}",
          copy_to="{{ letterhead.copy_to }}", printed_by="{{ letterhead.printed_by }}")
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
    for target, make in ((TARGET, build), (SUPERVISION, build_supervision)):
        make().save(str(target))
        add_fallbacks(target)
        print(f"written {target}")


if __name__ == "__main__":
    main()
