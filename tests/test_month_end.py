"""Month-end reads earlier periods from their saved summaries: its work does not grow with the months of history."""

from __future__ import annotations

from datetime import date, datetime

import pytest

import jobs.rollup.run as run_module
from jobs.core.findings import Report
from jobs.office.home import init_home
from jobs.report.pipeline import make_report
from jobs.rollup.period import load_period
from jobs.rollup.run import month_end
from jobs.rollup.summary import summarize
from jobs.store import Arrival, Store
from tests.test_rollup import _return
from tests.test_rollup_frames import concat, item

PERIODS = [f"2015-{m:02d}" for m in range(1, 10)]
HEADER = "单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送\n"
REGISTRY = ["000000,全国,,全国,地方,,,否", "110000,北京市,000000,省级,地方,甲,1,是",
            "120000,天津市,000000,省级,地方,乙,2,是", "130000,河北省,000000,省级,地方,丙,3,是"]  # fmt: skip


def _ledger(unit: str, period: str) -> list[dict]:
    month = int(period[5:])
    # 北京's item 1 is closed in February and May only: open again in September, a rebound closed in May
    closed = unit == "110000" and month in (2, 5)
    first = item(1, "已完成" if closed else "推进中", "是" if closed else "否", "满意", "查摆问题", "形式主义",
                 date(2015, 12, 31))  # fmt: skip
    rest = [item(i, "已完成", "否", "满意", "群众反映", "其他", date(2015, 12, 31)) for i in range(2, 2 + month % 3)]
    return [first, *rest]


def _add(home, period: str, unit: str, *, day: int = 20) -> None:
    sid = f"{period}-{unit}"
    src = home.root / f"{sid}.xlsx"
    src.write_bytes(sid.encode())
    at = datetime(int(period[:4]), int(period[5:]), day, 9)
    report = Report(file=src.name, unit=unit, period=period)
    arrival = Arrival(home.store.archive(src), src.name, at, report, _return(sid, unit, _ledger(unit, period), period=period),
                      report_type="本级")  # fmt: skip
    with home.lock():
        home.store.write_batch(period, [arrival], ingested_at=at)


@pytest.fixture
def home(tmp_path):
    h = init_home(tmp_path / "home")
    (tmp_path / "r.csv").write_text(HEADER + "\n".join(REGISTRY) + "\n", encoding="utf-8")
    h.import_registry(tmp_path / "r.csv", from_period=PERIODS[0])
    for period in PERIODS:
        for unit in ("110000", "120000"):
            _add(h, period, unit)
    return h


@pytest.fixture
def calls(monkeypatch):
    """Periods summarized and periods whose stored tables were loaded."""
    seen: dict[str, list[str]] = {"summarize": [], "load_tables": []}

    def counting_summarize(*args, **kwargs):
        seen["summarize"].append(kwargs["period"])
        return summarize(*args, **kwargs)

    load_tables = Store.load_tables

    def counting_load(self, period):
        seen["load_tables"].append(period)
        return load_tables(self, period)

    monkeypatch.setattr(run_module, "summarize", counting_summarize)
    monkeypatch.setattr(Store, "load_tables", counting_load)
    return seen


def test_ninth_month_summarizes_earlier_periods_once_then_reads_them(home, calls, tmp_path):
    first = make_report(home, period=PERIODS[-1], out_dir=tmp_path / "a", formats=("xlsx",))
    # the first month-end of this home saves each earlier period once (none was saved)
    assert calls["summarize"] == PERIODS
    assert [p for p, _ in first.context.trend] == PERIODS
    calls["summarize"].clear(), calls["load_tables"].clear()
    again = make_report(home, period=PERIODS[-1], out_dir=tmp_path / "b", formats=("xlsx",))
    # from now on: the month itself only; no earlier period's tables are read again
    assert calls["summarize"] == [PERIODS[-1]]
    assert calls["load_tables"] == [PERIODS[-1]]
    assert again.context.trend == first.context.trend
    assert again.context.changes == first.context.changes and again.context.previous_period == PERIODS[-2]


def test_next_month_summarizes_only_itself(home, calls):
    month_end(load_period(home, PERIODS[-1])).save()
    _add(home, "2015-10", "110000")
    calls["summarize"].clear(), calls["load_tables"].clear()
    month_end(load_period(home, "2015-10"))
    assert calls["summarize"] == ["2015-10"] and calls["load_tables"] == ["2015-10"]


def test_results_equal_summarizing_every_period_from_the_store(home):
    """Rebound and month-over-month from the saved chain equal the roll-up over every earlier ledger."""
    store = home.store
    subs = store.submissions()

    def pure(period: str, previous=None):
        earlier = [store.load_tables(p)["ledger"] for p in PERIODS if p < period]
        history = {"ledger": concat([{"ledger": f} for f in earlier])["ledger"]} if earlier else None
        return summarize(store.load_tables(period), subs, home.registry(period), period=period,
                         deadline=home.deadline(period), previous=previous, history_tables=history,
                         thresholds=home.config.thresholds,
                         registry_version=home.registry_version(period)["version"])  # fmt: skip

    expected = pure(PERIODS[-1], previous=pure(PERIODS[-2]))
    got = month_end(load_period(home, PERIODS[-1])).summary
    assert got.national == expected.national
    assert got.national["items_rebound"] == 1
    assert got.rebound.select("unit", "seq", "closed_in").rows() == [("110000", 1, "2015-05")]
    assert got.national["mom"] and got.national["mom"] == expected.national["mom"]


def test_a_late_return_for_an_earlier_month_makes_its_saved_summary_stale(home, calls):
    month_end(load_period(home, PERIODS[-1])).save()
    _add(home, "2015-03", "130000", day=25)
    calls["summarize"].clear()
    month = month_end(load_period(home, PERIODS[-1]))
    # March changed: March and every month after it (they read March's chain) are summarized again, once
    assert calls["summarize"] == PERIODS[2:]
    march = next(s for s in month.earlier if s.period == "2015-03")
    assert march.node_json(None)["units_reported"] == 3
    calls["summarize"].clear()
    month_end(load_period(home, PERIODS[-1]))
    assert calls["summarize"] == [PERIODS[-1]]
