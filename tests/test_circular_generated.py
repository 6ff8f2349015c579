"""The 通报 of a generated month: every unit missing or late by the period's coverage is named exactly once."""

from __future__ import annotations

import shutil
from datetime import datetime

import docx
import polars as pl
import pytest

from tests.test_circular import _named

pytestmark = pytest.mark.slow
PERIOD = "2015-02"


def test_every_missing_and_late_unit_of_a_generated_month_is_named_once(generated_samples, tmp_path):
    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import init_home
    from jobs.report.circular import make_circular
    from jobs.rollup.coverage import CHASED
    from jobs.rollup.period import load_period

    home = init_home(tmp_path / "home")
    home.import_registry(generated_samples / "registry.xlsx", from_period="2015-01")
    files = sorted((generated_samples / "returns" / PERIOD).iterdir())
    early, late = tmp_path / "early", tmp_path / "late"
    for folder, part in ((early, files[::2]), (late, files[1::2])):
        folder.mkdir()
        for f in part:
            shutil.copyfile(f, folder / f.name)
    ingest_paths(home, [early], period=PERIOD, received_at=datetime(2015, 2, 27, 16, 30), receipts=False)
    ingest_paths(home, [late], period=PERIOD, received_at=datetime(2015, 3, 3, 9, 0), receipts=False)
    written = make_circular(home, period=PERIOD, out_dir=tmp_path / "out")
    text = "\n".join(p.text for p in docx.Document(str(written.docx)).paragraphs)
    units = load_period(home, PERIOD).coverage.units
    missing = units.filter(pl.col("state").is_in(CHASED))["name"].to_list()
    tardy = units.filter(pl.col("state") == "late")["name"].to_list()
    assert missing and tardy
    assert sorted(_named(text, "未报送的单位")) == sorted(missing)
    assert sorted(_named(text, "逾期报送的单位")) == sorted(tardy)
    assert "（2015年3月3日报送，逾期3天）" in text
