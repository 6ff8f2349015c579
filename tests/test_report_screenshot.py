"""Evidence that the report renders: headless Chromium prints it to PDF and screenshots it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from jobs.report.context import assemble_context
from jobs.report.html import write_html
from jobs.report.screenshot import print_pdf, screenshot
from tests.test_report import EVIL_NAME, _node

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="headless Chromium not installed (make setup)"),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    node = _node(3)
    ctx = assemble_context(
        node, period="2015-02", deadline=dt.datetime(2015, 2, 28, 23, 59, 59), scope_code="000000",
        scope_name="全国", scope_level="全国",
        children=[{"code": f"{i}0000", "name": n, **_node(i)} for i, n in enumerate(["北京市", EVIL_NAME, "河北省"], 1)],
        previous=_node(1), previous_period="2015-01", history=[("2015-01", _node(1))],
        missing=[{"code": "150000", "name": "内蒙古自治区", "parent": "全国", "level": "省级", "contact": "张三", "phone": "0471-1"}],
    )
    folder = tmp_path_factory.mktemp("render")
    html = write_html(ctx, folder / "report.html")
    return {
        "html": html,
        "pdf": print_pdf(html, folder / "report.pdf"),
        "png": screenshot(html, folder / "report.png", max_width=800),
    }


def test_pdf_has_pages_and_chinese_text(rendered):
    pdf = rendered["pdf"]
    assert pdf.stat().st_size > 10_000
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert 3 <= pages <= 20  # A4, page breaks before the big tables
    assert "(A4)" in info
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        for phrase in ("整改落实情况", "回头看", "汇总报告", "报送率", "专项整治", "未报送单位名单", "内蒙古自治区"):
            assert phrase in text, phrase
        assert "<script>" in text  # the hostile name is printed as text, not run
        assert re.search(rf"—\s*{pages}\s*—", text), "page numbers in the footer (@page margin box)"


def test_png_screenshot_is_a_rendered_page(rendered):
    from PIL import Image

    with Image.open(rendered["png"]) as img:
        assert img.width == 800 and img.height > 800
        colors = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colors is not None and len(colors) > 8  # not blank: text, red title, rules
    assert rendered["png"].stat().st_size < 300_000
