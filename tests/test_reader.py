"""Reader: sheets and columns by name, source positions, hostile files."""

from __future__ import annotations

import pytest

from jobs.errors import UnreadableFile
from jobs.reader import read_return


def test_not_a_workbook(tmp_path):
    path = tmp_path / "return.xlsx"
    path.write_text("单位代码,单位名称\n110000,北京\n", encoding="utf-8")
    with pytest.raises(UnreadableFile) as info:
        read_return(path)
    assert "Excel" in info.value.reason
