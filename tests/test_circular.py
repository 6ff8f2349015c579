"""The 通报: 红头 layout read back with python-docx, every missing and late unit named once, inert unit text."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zipfile

import docx
import pytest

from jobs.office.config import Letterhead
from jobs.report.circular import LateUnit, circular_context, late_units, write_circular
from jobs.report.context import assemble_context
from tests.test_report import EVIL_NAME, FORMULA_NAME, _node

FIELD_NAME = '<w:fldSimple w:instr="PAGE"/>{{ 7*7 }}{ PAGE }某局'
DEADLINE = dt.datetime(2015, 2, 28, 23, 59, 59)
MISSING = [
    {"code": "150000", "name": FORMULA_NAME, "parent": "全国", "level": "省级", "state": "未报送"},
    {"code": "160000", "name": "辽宁省", "parent": "全国", "level": "省级", "state": "退回待改"},
    {"code": "170000", "name": "辽宁省直属", "parent": "全国", "level": "省级", "state": "未报送"},
    {"code": "180000", "name": "某汇总省", "parent": "全国", "level": "省级", "units": 3, "covering": True,
     "state": "所报汇总报表含未报单位3个，由其催报"},
]  # fmt: skip
LATE = (LateUnit("120000", EVIL_NAME, dt.datetime(2015, 3, 2, 9, 0), 2),
        LateUnit("130000", FIELD_NAME, dt.datetime(2015, 3, 1, 8, 0), 1))  # fmt: skip
ATTENTION = [{"code": "130000", "name": FIELD_NAME, "step": "诫勉批评", "reasons": ["=1+1", "<b>粗</b>"]},
             {"code": "110000", "name": "北京市", "step": "约谈提醒", "reasons": ["整改完成率20.0%，低于40%"]}]  # fmt: skip


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    ctx = assemble_context(
        _node(3), period="2015-02", deadline=DEADLINE, scope_code="000000", scope_name="全国", scope_level="全国",
        charts=False, attention=ATTENTION, missing=MISSING,
        ineligible=[{"code": "130000", "name": FIELD_NAME, "periods": ["2015-02"]}],
    )  # fmt: skip
    circ = circular_context(ctx, letterhead=Letterhead(), late=LATE, issued_on=dt.date(2015, 3, 5), number=7)
    files = write_circular(ctx, circ, tmp_path_factory.mktemp("circular"))
    return {"files": files, "doc": docx.Document(str(files["docx"])), "circ": circ}


def _text(doc) -> str:
    return "\n".join(p.text for p in doc.paragraphs)


def _named(text: str, label: str, *, sep: str = "、") -> list[str]:
    """The names listed after ``label（N个）：`` up to the closing 。, split on ``sep``."""
    found = re.search(re.escape(label) + r"（(\d+)个）：(.*?)。", text)
    assert found, label
    names = re.sub(r"（[^（）]*(?:（[^（）]*）[^（）]*)*）", "", found.group(2)).split(sep)  # drop the （…） figures
    assert len(names) == int(found.group(1))
    return names


def test_red_letterhead_number_title_addressee_signature_and_imprint(written):
    doc, text = written["doc"], _text(written["doc"])
    head = doc.paragraphs[0]
    assert head.text == "党的群众路线教育实践活动领导小组办公室文件"
    assert all(str(r.font.color.rgb) == "FF0000" for r in head.runs if r.text)
    assert "方正小标宋简体" in head.runs[0]._element.xml  # eastAsia font
    number = next(p for p in doc.paragraphs if p.text == "群教办〔2015〕7号")
    assert 'w:color="FF0000"' in number._p.xml and "<w:bottom" in number._p.xml  # the red separator line
    assert "关于2015年2月整改落实情况“回头看”报送和分级问责情况的通报" in text
    assert "各省、自治区、直辖市" in text and text.index("通报\n") < text.index("教育实践活动领导小组办公室：")
    assert "党的群众路线教育实践活动领导小组办公室\n2015年3月5日" in text
    assert "抄送：中央党的群众路线教育实践活动领导小组成员。" in text and "2015年3月5日印发" in text
    assert "仿宋_GB2312" in doc.paragraphs[-1].runs[0]._element.xml


def test_page_numbers_are_page_fields_on_odd_and_even_pages(written):
    section = written["doc"].sections[0]
    for footer in (section.footer, section.even_page_footer):
        xml = footer._element.xml
        assert "PAGE" in xml and 'w:fldCharType="begin"' in xml and footer.paragraphs[0].text == "—  —"
    assert written["doc"].settings.odd_and_even_pages_header_footer


def test_fonts_fall_back_when_absent(written):
    with zipfile.ZipFile(written["files"]["docx"]) as z:
        table = z.read("word/fontTable.xml").decode()
    assert re.search(r'w:name="仿宋_GB2312"><w:altName w:val="仿宋"', table)
    assert re.search(r'w:name="方正小标宋简体"><w:altName w:val="宋体"', table)


def test_every_missing_and_late_unit_is_named_exactly_once(written):
    text = _text(written["doc"])
    assert _named(text, "未报送的单位") == [FORMULA_NAME, "辽宁省", "辽宁省直属"]
    assert _named(text, "逾期报送的单位") == [EVIL_NAME, FIELD_NAME]
    assert "辽宁省（退回待改）" in text and f"{EVIL_NAME}（2015年3月2日报送，逾期2天）" in text
    assert "另有3个单位由下级办公室的汇总报表报告未报" in text and "某汇总省" not in text
    assert f"诫勉批评（1个）：{FIELD_NAME}（=1+1；<b>粗</b>）。" in text
    assert f"当年不能列入评先选优对象的单位（1个）：{FIELD_NAME}。" in text


def test_unit_text_is_inert_in_word_and_html(written):
    with zipfile.ZipFile(written["files"]["docx"]) as z:
        body = z.read("word/document.xml").decode()
    assert "<w:fldSimple" not in body and "<w:instrText" not in body and "<w:fldChar" not in body  # no field here
    assert "&lt;w:fldSimple" in body
    assert "{{ 7*7 }}" in _text(written["doc"])  # a tag in a name is text, not rendered again
    page = written["files"]["html"].read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;w:fldSimple" in page
    assert page.count("<b>") == 0


def test_late_units_count_started_days_and_sort_by_code():
    import polars as pl

    units = pl.DataFrame({"code": ["B", "A", "C"], "name": ["乙", "甲", "丙"], "state": ["late", "late", "on_time"],
                          "first_accepted_at": [DEADLINE + dt.timedelta(seconds=1), DEADLINE + dt.timedelta(days=2, hours=1),
                                                DEADLINE]})  # fmt: skip
    assert [(u.code, u.days_late) for u in late_units(units, deadline=DEADLINE)] == [("A", 3), ("B", 1)]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed here")
def test_libreoffice_converts_the_circular_to_pdf(written, tmp_path):
    done = subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                           str(written["files"]["docx"])], capture_output=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "通报_2015-02.pdf").stat().st_size > 1000


def test_letterhead_comes_from_config_and_is_checked_at_load():
    from jobs.office.config import Config, ConfigError

    config = Config.from_dict({"letterhead": {"issuer": "某省教育实践活动领导小组办公室", "number_prefix": "某教办"}})
    assert config.letterhead.issuer == "某省教育实践活动领导小组办公室"
    from jobs.report.circular import document_number

    assert document_number(config.letterhead, year=2015, number=12) == "某教办〔2015〕12号"
    with pytest.raises(ConfigError, match=r"\[letterhead\] issuer"):
        Config.from_dict({"letterhead": {"issuer": "  "}})
