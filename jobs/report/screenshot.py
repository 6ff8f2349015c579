"""Render the report page in headless Chromium to PNG and PDF (evidence that it renders).

Chromium is Debian's ``chromium`` package (``scripts/ensure-chromium.sh``). As
root it needs ``--no-sandbox``; a fresh ``--user-data-dir`` keeps runs independent.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from jobs.core.errors import RectifyError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
A4_WINDOW = (1000, 1414)  # CSS pixels, A4 proportions
TIMEOUT_S = 120


class ChromiumMissing(RectifyError):
    """Headless Chromium is not installed."""


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _run(args: list[str], *, chromium: str | None) -> None:
    exe = chromium or find_chromium()
    if exe is None:
        msg = "未找到 Chromium 浏览器，无法生成 PDF/截图（可运行 make setup 安装）。"
        raise ChromiumMissing(msg)
    with tempfile.TemporaryDirectory(prefix="rectify-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)  # noqa: S603
        except subprocess.TimeoutExpired:
            msg = f"Chromium 渲染超过{TIMEOUT_S}秒未完成，已放弃生成 PDF/截图。"
            raise RectifyError(msg) from None
    if done.returncode != 0:
        msg = f"Chromium 渲染失败（退出码 {done.returncode}）：{done.stderr.strip()[-300:]}"
        raise RectifyError(msg)


def print_pdf(html: str | Path, pdf: str | Path, *, chromium: str | None = None) -> Path:
    """Print the page to an A4 PDF (the page's own ``@page`` rules apply)."""
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri()], chromium=chromium)
    return pdf


def screenshot(
    html: str | Path,
    png: str | Path,
    *,
    window: tuple[int, int] = A4_WINDOW,
    max_width: int | None = None,
    chromium: str | None = None,
) -> Path:
    """Screenshot the top of the page; optionally shrink it to ``max_width`` pixels (Pillow)."""
    html, png = Path(html).resolve(), Path(png).resolve()
    _run([f"--window-size={window[0]},{window[1]}", f"--screenshot={png}", html.as_uri()], chromium=chromium)
    if max_width is not None:
        from PIL import Image

        with Image.open(png) as img:
            if img.width > max_width:
                ratio = max_width / img.width
                small = img.convert("RGB").resize((max_width, round(img.height * ratio)), Image.LANCZOS)
                small = small.quantize(colors=128)
                small.save(png, optimize=True)
    return png
