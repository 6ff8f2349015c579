"""The history stage in the pipeline (issue 17): ingest and validate --home read returns against the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs import api
from jobs.cli import main
from jobs.intake.batch import verdicts
from jobs.intake.parallel import ingest_paths
from jobs.intake.receipts import receipt_context
from jobs.office.home import init_home
from jobs.office.template import write_template
from jobs.tooling.samples.content import month_start
from jobs.tooling.samples.history import (
    build_history,
    inject,
    periods_from,
    write_return,
)
from jobs.tooling.samples.registry import build_registry, write_registry
from jobs.validate.history import HistoryCache
from jobs.validate.lifecycle import HISTORY_CODES, TIMINGS

PERIODS = periods_from("2015-01", 4)


def _arrival(period: str) -> dt.datetime:
    return dt.datetime.combine(month_start(period) + dt.timedelta(days=22), dt.time(9))


@pytest.fixture(scope="module")
def office(tmp_path_factory, schema):
    """A home whose store holds three clean months of five units; the fourth month's history, unwritten."""
    root = tmp_path_factory.mktemp("history")
    registry = build_registry(units=5, seed=11)
    units = [u for u in registry if u.must_report and u.level != "全国"][:5]
    write_registry(registry, root / "registry.xlsx", sheet=schema.registry_sheet,
                   headers=tuple(c.name for c in schema.registry_columns))  # fmt: skip
    home = init_home(root / "home")
    home.import_registry(root / "registry.xlsx", from_period=PERIODS[0])
    history = build_history(units, periods=PERIODS)
    stored = []
    for period in PERIODS[:-1]:
        paths = [write_return(history[(u.code, period)], root / period / f"{u.code}.xlsx") for u in units]
        result = ingest_paths(home, paths, period=period, received_at=_arrival(period), receipts=False)
        stored += [o for o in result.files if o.status == "stored"]
    return {"root": root, "home": home, "units": units, "history": history, "stored": stored}


def test_clean_months_are_stored_without_history_warnings(office):
    assert len(office["stored"]) == 5 * (len(PERIODS) - 1)
    assert all(o.accepted for o in office["stored"])
    reports = office["home"].store.reports([o.submission_id for o in office["stored"]])
    assert [f.code for r in reports for f in r.findings if f.code in HISTORY_CODES] == []


def test_ingest_flags_the_new_month_names_the_cell_and_keeps_the_note(office, tmp_path):
    history, units, home = office["history"], office["units"], office["home"]
    explained, bare = units[0].code, units[1].code
    inject(history, "deadline-postponed", unit=explained, periods=PERIODS, note="经上级批准延期至年底")
    inject(history, "item-vanished", unit=bare, periods=PERIODS)
    last = PERIODS[-1]
    paths = [write_return(history[(u.code, last)], tmp_path / f"{u.code}.xlsx") for u in units]
    # validate --home sees what ingest will see, before anything is stored
    checked = {r.report.unit: r.report for r in api.validate_files(paths, registry=home.registry(last), period=last,
                                                                    received_at=dict.fromkeys(paths, _arrival(last)),
                                                                    home=home, keep_tables=False)}  # fmt: skip
    result = ingest_paths(home, paths, period=last, received_at=_arrival(last), receipts=False)
    found = {v["unit"]: [f for f in v["findings"] if f["code"] in HISTORY_CODES] for v in verdicts(home, result.files)}
    assert {u: [f["code"] for f in fs] for u, fs in found.items() if fs} == {
        explained: ["deadline-postponed"], bare: ["item-vanished"]
    }
    assert {u: [f.code for f in r.findings if f.code in HISTORY_CODES] for u, r in checked.items()} == {
        u: [f["code"] for f in fs] for u, fs in found.items()
    }
    (postponed,) = found[explained]
    assert postponed["explained"] is True and postponed["cell"].startswith("整改台账!")
    assert postponed["column"] == "整改时限" and postponed["row"] >= 2
    assert found[bare][0]["explained"] is False
    # the ledger keeps the mark, the receipt shows it
    sid = next(o.submission_id for o in result.files if o.unit == explained)
    rows = receipt_context(home.store.report(sid)).rows
    assert any(r.code == "deadline-postponed" and r.message.startswith("（已说明）") for r in rows)
    assert home.store.findings([sid]).filter(code="deadline-postponed")["explained"].to_list() == [True]
    # summarize counts them from the stored findings; only the unexplained one lists its unit
    summary = api.summarize(home, period=last).summary
    national = summary.national
    assert (national["items_postponed"], national["items_vanished"]) == (1, 1)
    assert (national["warnings_explained"], national["warnings_unexplained"]) == (1, 1)
    assert national["items_regressed"] == national["items_stalled"] == national["figures_decreased"] == 0
    reasons = dict(summary.attention.select("code", "reason").iter_rows())
    assert "未作说明" in reasons[bare] and "未作说明" not in reasons.get(explained, "")
    # the report's delay and backsliding section: the unexplained first, each unit's months
    files = api.report(home, period=last, formats=("html",), out_dir=tmp_path / "report")
    rows = files.context.backsliding
    assert [r.code for r in rows] == [bare, explained]
    assert rows[0].values["items_vanished"] == 1 and rows[1].values["warnings_explained"] == 1
    assert [p for p, _ in rows[0].trend] == list(PERIODS) and rows[0].trend[-1] == (last, 1)
    assert [n for _, n in rows[0].trend[:-1]] == [0] * (len(PERIODS) - 1)
    html = files.html.read_text(encoding="utf-8")
    assert "拖延和反弹情况" in html and bare in html.split("拖延和反弹情况", 1)[1]


def test_a_resubmission_changes_which_return_is_previous(office, tmp_path):
    home, units, history = office["home"], office["units"], office["history"]
    who = units[2].code
    middle, last = PERIODS[-2], PERIODS[-1]
    # the unit corrects last month's return: a later deadline for one item (its own warning then)
    corrected = history[(who, middle)]
    seq = next(r["seq"] for r in corrected.tables["ledger"] if r["status"] == "推进中")
    row = next(r for r in corrected.tables["ledger"] if r["seq"] == seq)
    row["deadline"] = row["deadline"] + dt.timedelta(days=90)
    now = history[(who, last)]
    next(r for r in now.tables["ledger"] if r["seq"] == seq)["deadline"] = row["deadline"]
    path = write_return(now, tmp_path / "now.xlsx")

    def codes() -> list[str]:
        (r,) = api.validate_files([path], registry=home.registry(last), period=last,
                                  received_at={path: _arrival(last)}, home=home)  # fmt: skip
        return [f.code for f in r.report.findings if f.code in HISTORY_CODES]

    assert codes() == ["deadline-postponed"]  # against the return stored first
    resent = write_return(corrected, tmp_path / "corrected.xlsx")
    out = ingest_paths(home, [resent], period=middle, received_at=_arrival(middle) + dt.timedelta(days=2),
                       receipts=False)  # fmt: skip
    (outcome,) = out.files
    assert outcome.status == "stored" and outcome.version == 2
    assert [f.code for f in home.store.report(outcome.submission_id).findings if f.code in HISTORY_CODES] == [
        "deadline-postponed"
    ]
    assert codes() == []  # the corrected return is the previous one now


def test_an_older_return_without_notes_stays_valid(office, tmp_path):
    home, units, history = office["home"], office["units"], office["history"]
    who = units[3].code
    path = write_return(history[(who, PERIODS[0])], tmp_path / "old.xlsx", without_notes=True)
    (r,) = api.validate_files([path], registry=home.registry(PERIODS[0]), period=PERIODS[0],
                              received_at={path: _arrival(PERIODS[0])})  # fmt: skip
    assert r.report.accepted and r.report.findings == []
    assert r.tables["ledger"]["note"].null_count() == r.tables["ledger"].height


def test_template_and_guide_carry_the_note_columns(tmp_path):
    import openpyxl

    path = write_template(tmp_path / "template.xlsx")
    book = openpyxl.load_workbook(path)
    for sheet in ("整改台账", "专项整治"):
        headers = [c.value for row in book[sheet].iter_rows(max_row=5) for c in row if c.value]
        assert "说明" in headers, sheet
    guide = " ".join(str(c.value) for row in book["填表说明"].iter_rows() for c in row if c.value)
    assert "说明" in guide and "写明原因" in guide


def test_validate_with_a_home_reads_history_and_prints_no_note(office, tmp_path):
    home, units, history = office["home"], office["units"], office["history"]
    who = units[4].code
    data = history[(who, PERIODS[-1])]
    data.kv["accountability"]["talks"] = 0  # lower than any earlier month
    path = write_return(data, tmp_path / f"{who}.xlsx", received_at=_arrival(PERIODS[-1]))
    args = ["validate", str(path), "--period", PERIODS[-1], "--home", str(Path(home.root)), "--json"]
    result = CliRunner().invoke(main, args)
    assert "没有往期报表可比对" not in result.stderr
    assert '"count-decreased"' in result.stdout


def test_a_watchers_cache_reads_the_history_once_until_another_writer_records(office, tmp_path):
    home, units, history = office["home"], office["units"], office["history"]
    last = PERIODS[-1]

    def resend(n: int) -> Path:
        data = history[(units[3].code, last)]
        data.kv["info"]["phone"] = f"010-5555{n:04d}"  # another file: a resubmission
        return write_return(data, tmp_path / f"again-{n}.xlsx")

    cache = HistoryCache()
    start = TIMINGS["load"]
    ingest_paths(home, [resend(1)], period=last, received_at=_arrival(last), receipts=False, history_cache=cache)
    loaded = TIMINGS["load"]
    assert loaded > start
    ingest_paths(home, [resend(2)], period=last, received_at=_arrival(last), receipts=False, history_cache=cache)
    assert TIMINGS["load"] == loaded  # its own batch changed nothing it holds
    ingest_paths(home, [resend(3)], period=last, received_at=_arrival(last), receipts=False)  # another writer
    mark = TIMINGS["load"]
    ingest_paths(home, [resend(4)], period=last, received_at=_arrival(last), receipts=False, history_cache=cache)
    assert TIMINGS["load"] > mark
