"""Memory bounded by limits (#16 item 11): rows per sheet, findings per return, bytes per batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.findings import MORE_FINDINGS, Report, cap_findings, make_finding
from jobs.intake.executors import batched
from jobs.intake.parallel import ingest_paths
from jobs.office.home import Home
from tests import hostile as H
from tests.conftest import home_with_registry
from tests.test_config import set_config
from tests.test_watch import fake_validator

PERIOD = "2015-02"
REGISTRY = """单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送
000000,全国,,全国,地方,,,否
110000,北京市,000000,省级,地方,张三,010-1,是
120000,天津市,000000,省级,地方,李四,022-1,是
"""


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def _findings(pattern: str) -> list:
    """Findings in place order, ``e`` an error (bad-enum) and ``w`` a warning (too-thin), one row each."""
    out = []
    for row, kind in enumerate(pattern, start=3):
        code = "bad-enum" if kind == "e" else "too-thin"
        out.append(make_finding(code, sheet="整改台账", row=row, col_index=7, column="整改状态", value="x"))
    return out


def test_cap_keeps_the_first_findings_and_counts_the_rest():
    report = Report(file="a.xlsx", findings=_findings("ewweewewwe" * 3))
    before = report.findings[:]
    cap_findings(report, limit=30)
    assert report.findings == before  # at or under the cap nothing changes
    cap_findings(report, limit=8)
    assert report.findings[:8] == before[:8] and len(report.findings) == 9
    note = report.findings[-1]
    assert note.code == MORE_FINDINGS and note.severity == "warning"
    assert (report.n_errors, report.n_warnings) == (15, 15)  # the true totals
    assert (report.more_errors, report.more_warnings) == (11, 11)
    assert "仅列出8项" in note.message and "另有22项" in note.message and "错误11项、提示11项" in note.message
    assert not report.accepted


def test_cap_never_turns_a_rejection_into_an_acceptance():
    report = Report(file="a.xlsx", findings=_findings("w" * 250 + "e"))
    cap_findings(report, limit=200)
    assert not report.accepted
    listed = report.findings[:-1]
    assert len(listed) == 200 and listed[-1].code == "bad-enum" and listed[:199] == _findings("w" * 199)
    assert (report.n_errors, report.n_warnings) == (1, 250)


def _bad_return(path: Path, *, rows: int) -> Path:
    """A return whose every ledger row has a bad 整改状态: one error a row."""
    wb = H.build_return(ledger_rows=rows)
    ws = wb["整改台账"]
    status = [c.value for c in ws[1]].index("整改状态") + 1
    for r in range(2, rows + 2):
        ws.cell(row=r, column=status, value="差不多了")
    wb.save(path)
    return path


def test_ingest_keeps_the_first_findings_with_true_counts_and_caps_rows(home, tmp_path):
    set_config(home, "limits", "max_findings_per_return", "5")
    set_config(home, "limits", "max_rows_per_sheet", "30")  # 专项整治 holds 22 rows
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _bad_return(inbox / "北京市.xlsx", rows=12)
    H.write_return(inbox / "天津市.xlsx", unit="120000", name="天津市", ledger_rows=35)  # valid, but over the cap
    result = CliRunner().invoke(main, ["ingest", str(inbox), "--period", PERIOD, "--home", str(home.root), "--json"])
    assert result.exit_code in (0, 1), result.output
    verdicts = {Path(v["file"]).name: v for v in map(json.loads, result.output.strip().splitlines()[-2:])}
    bj = verdicts["北京市.xlsx"]
    assert [f["code"] for f in bj["findings"]] == ["bad-enum"] * 5 + [MORE_FINDINGS]
    assert [f["row"] for f in bj["findings"][:5]] == [2, 3, 4, 5, 6]  # the first ones, in place order
    assert bj["stats"]["n_errors"] == 12 and not bj["accepted"]
    subs = home.store.submissions(PERIOD)
    counts = dict(zip(subs["file_name"], subs["n_errors"], strict=True))
    assert counts["北京市.xlsx"] == 12  # the ledger keeps the true total
    tj = verdicts["天津市.xlsx"]
    (finding,) = tj["findings"]
    assert finding["code"] == "unreadable-file"  # read back from the ledger, which keeps no sub-code
    assert "工作表“整改台账”数据到第36行" in finding["message"] and "最多30行" in finding["message"]
    # the unit's receipt says so too
    from jobs.intake.receipts import receipt_context

    report = home.store.report(subs.filter(subs["file_name"] == "北京市.xlsx")["submission_id"][0])
    ctx = receipt_context(report)
    assert (ctx.n_errors, ctx.n_warnings) == (12, 0) and len(ctx.rows) == 6 and "另有7项" in ctx.rows[-1].message
    # rectify validate gives the same capped verdict
    from jobs.validate import validate_files

    (validated,) = validate_files([inbox / "北京市.xlsx"], registry=home.registry(PERIOD), period=PERIOD,
                                  limits=Home(home.root).config.limits)  # fmt: skip
    assert [f.code for f in validated.report.findings] == ["bad-enum"] * 5 + [MORE_FINDINGS]
    assert validated.report.n_errors == 12


def test_batches_end_at_batch_mb_as_well_as_at_batch_size(home, tmp_path):
    set_config(home, "limits", "batch_mb", "0.1")  # ~105 KB
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(5):
        (inbox / f"{n}.xlsx").write_text(json.dumps({"unit": "110000", "pad": "x" * 40_000, "n": n}), encoding="utf-8")
    seen: list[int] = []

    def spy(paths, **kw):
        seen.append(len(paths))
        return fake_validator(paths, **kw)

    result = ingest_paths(Home(home.root), [inbox], period=PERIOD, validator=spy)
    assert seen == [2, 2, 1]  # 40 KB files, 105 KB a batch
    assert result.count("stored") == 5
    assert list(batched([5, 1, 200, 3, 3], 10, weight=int, max_weight=6)) == [[5, 1], [200], [3, 3]]
    assert list(batched(range(5), 2, weight=int, max_weight=100)) == [[0, 1], [2, 3], [4]]
