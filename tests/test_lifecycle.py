"""The history stage (issue 17): items and figures read against each unit's earlier accepted returns."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from jobs.core.findings import Report
from jobs.office.config import ConfigError, History
from jobs.tooling.samples.history import (
    build_history,
    inject,
    periods_from,
    stacked_tables,
    typed_tables,
)
from jobs.tooling.samples.registry import build_registry
from jobs.validate import ValidatedReturn
from jobs.validate.figures import increment_stats, own_outliers
from jobs.validate.history import find_history, stack
from jobs.validate.lifecycle import HISTORY_CODES, Earlier
from jobs.validate.peers import Peers

PERIODS = periods_from("2015-01", 7)
ANOMALIES = {
    "item-redefined": "item-redefined", "item-vanished": "item-vanished", "deadline-postponed": "deadline-postponed",
    "status-regressed": "status-regressed", "stalled-item": "stalled-item",
    "persistent-dissatisfaction": "persistent-dissatisfaction", "count-decreased": "count-decreased",
    "outlier": "outlier", "uniform-figures-tasks": "uniform-figures", "uniform-figures-ledger": "uniform-figures",
}  # fmt: skip


@pytest.fixture(scope="module")
def units():
    return [u for u in build_registry(units=24, seed=3) if u.must_report and u.level != "全国"]


def run_stage(history, units, periods, *, rules=None, schema=None):
    """The stage on the last period's returns, against the earlier ones (typed tables, no files)."""
    per_period = {}
    for p in periods[:-1]:
        tabs = [typed_tables(history[(u.code, p)]) for u in units]
        per_period[p] = {k: pl.concat([t[k] for t in tabs]) for k in tabs[0]}
    earlier = Earlier.from_tables(per_period)
    tabs = [typed_tables(history[(u.code, periods[-1])]) for u in units]
    results = [ValidatedReturn(Report(file=u.code, unit=u.code, period=periods[-1]), t, "", "本级")
               for u, t in zip(units, tabs, strict=True)]  # fmt: skip
    stacked = {k: stack(tabs, k) for k in tabs[0]}
    find_history(results, stacked, earlier=earlier, schema=schema, rules=rules or History())
    return {r.report.unit: r.report.findings for r in results}


@pytest.mark.parametrize("n", range(2, len(PERIODS) + 1))
def test_a_clean_history_gives_no_history_warning(units, schema, n):
    periods = PERIODS[:n]
    found = run_stage(build_history(units, periods=periods), units, periods, schema=schema)
    assert {u: [f.code for f in fs] for u, fs in found.items() if fs} == {}


@pytest.mark.parametrize("anomaly", list(ANOMALIES))
def test_each_injected_anomaly_gets_exactly_its_code(units, schema, anomaly):
    history = build_history(units, periods=PERIODS)
    who = units[2].code
    inject(history, anomaly, unit=who, periods=PERIODS)
    found = run_stage(history, units, PERIODS, schema=schema)
    assert {u: [f.code for f in fs] for u, fs in found.items() if fs} == {who: [ANOMALIES[anomaly]]}
    finding = found[who][0]
    assert finding.severity == "warning" and not finding.explained
    assert any("\u4e00" <= ch <= "\u9fff" for ch in finding.message)


def test_messages_name_the_item_and_the_earlier_value(units, schema):
    history = build_history(units, periods=PERIODS)
    who = units[0].code
    seq = inject(history, "deadline-postponed", unit=who, periods=PERIODS)
    before = next(r for r in history[(who, PERIODS[-2])].tables["ledger"] if r["seq"] == seq)["deadline"]
    (finding,) = run_stage(history, units, PERIODS, schema=schema)[who]
    assert f"序号{seq}" in finding.message and str(before) in finding.message and "第1次推迟" in finding.message
    assert (finding.sheet, finding.column) == ("整改台账", "整改时限")


def test_a_repeated_postponement_is_counted(units, schema):
    history = build_history(units, periods=PERIODS)
    who = units[0].code
    seq = inject(history, "deadline-postponed", unit=who, periods=PERIODS[:-1])  # postponed last month already
    shifted = next(r for r in history[(who, PERIODS[-2])].tables["ledger"] if r["seq"] == seq)["deadline"]
    row = next(r for r in history[(who, PERIODS[-1])].tables["ledger"] if r["seq"] == seq)
    row["deadline"] = shifted + dt.timedelta(days=30)
    (finding,) = run_stage(history, units, PERIODS, schema=schema)[who]
    assert finding.code == "deadline-postponed" and "第2次推迟" in finding.message


def test_a_rebound_of_a_closed_item_is_not_a_regression(units, schema):
    history = build_history(units, periods=PERIODS)
    who = units[0].code
    closed = [r for r in history[(who, PERIODS[-2])].tables["ledger"] if r["closed"] == "是"]
    assert closed, "the generator closes items over seven months"
    row = next(r for r in history[(who, PERIODS[-1])].tables["ledger"] if r["seq"] == closed[0]["seq"])
    row.update(status="推进中", closed="否", done_on=None, evaluation="未评价")
    assert run_stage(history, units, PERIODS, schema=schema)[who] == []  # items_rebound counts it


def test_a_filled_note_marks_the_warning_explained(units, schema):
    history = build_history(units, periods=PERIODS)
    a, b = units[0].code, units[1].code
    inject(history, "deadline-postponed", unit=a, periods=PERIODS, note="上级调整了整改要求，经批准延期")
    inject(history, "outlier", unit=b, periods=PERIODS, note="本月开展集中排查")
    found = run_stage(history, units, PERIODS, schema=schema)
    assert [(f.code, f.explained) for f in found[a]] == [("deadline-postponed", True)]
    assert [(f.code, f.explained) for f in found[b]] == [("outlier", True)]
    assert found[a][0].to_dict()["explained"] is True


def test_stalled_periods_come_from_config(units, schema):
    history = build_history(units, periods=PERIODS)
    who = units[0].code
    inject(history, "stalled-item", unit=who, periods=PERIODS)  # three returns 未启动
    assert [f.code for f in run_stage(history, units, PERIODS, schema=schema)[who]] == ["stalled-item"]
    assert run_stage(history, units, PERIODS, schema=schema, rules=History(stalled_periods=4))[who] == []


def test_history_settings_are_checked_at_load():
    from jobs.office.config import Config

    assert Config.from_dict({"history": {"stalled_periods": 5}}).history.stalled_periods == 5
    with pytest.raises(ConfigError, match="stalled_periods"):
        Config.from_dict({"history": {"stalled_periods": 0}})
    with pytest.raises(ConfigError, match="outlier_peers"):
        Config.from_dict({"history": {"outlier_peers": 1}})
    assert Config().to_dict()["history"] == {"stalled_periods": 3, "outlier_z": 3.5, "outlier_history": 4,
                                             "outlier_peers": 8}


def _series(values, now):
    hist = pl.DataFrame({
        "unit": ["u"] * len(values), "period": [f"2015-{k + 1:02d}" for k in range(len(values))],
        "rank": list(range(len(values), 0, -1)), "item": [4] * len(values), "value": values,
    })  # fmt: skip
    cur = pl.DataFrame({"_i": [0], "unit": ["u"], "row": [3], "item": [4], "value": [now]},
                       schema_overrides={"_i": pl.Int32})  # fmt: skip
    return own_outliers(cur, increment_stats(hist, min_history=4), z=3.5, min_history=4).height


def test_outlier_modified_z_score_and_a_flat_history():
    # increments 2, 3, 2, 3 (median 2.5, MAD 0.5 -> floored to 1)
    assert _series([10, 12, 15, 17, 20], 25) == 0  # +5: z = 0.6745 * 2.5 = 1.7
    assert _series([10, 12, 15, 17, 20], 30) == 1  # +10: z = 5.1
    # a flat history (MAD 0): a small change is no outlier, a jump is
    assert _series([4, 4, 4, 4, 4], 6) == 0
    assert _series([4, 4, 4, 4, 4], 12) == 1
    # fewer than four earlier increments: not scored
    assert _series([10, 12, 15, 17], 40) == 0


def test_every_history_code_is_a_warning(schema):
    assert {schema.finding(c).severity for c in HISTORY_CODES} == {"warning"}


@pytest.fixture(scope="module")
def provinces():
    registry = build_registry(units=60, seed=3)
    units = [u for u in registry if u.must_report and u.level != "全国"]
    frame = pl.DataFrame({"code": [u.code for u in registry], "level": [u.level for u in registry],
                          "category": [u.category for u in registry]})  # fmt: skip
    return units, frame


def _peer_run(history, units, registry, period, *, ranks=None, peers=None, schema=None):
    tables = stacked_tables(history, units, period)
    results = [ValidatedReturn(Report(file=u.code, unit=u.code, period=period), None, "", "本级") for u in units]
    find_history(results, tables, earlier=Earlier.empty(), schema=schema, rules=History(), peers=peers or Peers(),
                 registry=registry, ranks=ranks)  # fmt: skip
    return {r.report.unit: [f for f in r.report.findings] for r in results if r.report.findings}


def test_a_rate_far_from_its_peers_is_an_outlier(provinces, schema):
    units, registry = provinces
    periods = PERIODS[:4]
    history = build_history(units, periods=periods)
    assert _peer_run(history, units, registry, periods[-1], schema=schema) == {}  # clean: no outlier
    who = next(u for u in units if u.level == "省级")
    for row in history[(who.code, periods[-1])].tables["tasks"]:
        row["fixed"] = 0  # nothing fixed where every peer fixed most
    found = _peer_run(history, units, registry, periods[-1], schema=schema)
    assert [(u, f.code, f.sheet) for u, fs in found.items() for f in fs] == [(who.code, "outlier", "专项整治")]
    assert "同层级同类别" in found[who.code][0].message and "“整改率”为0%" in found[who.code][0].message
    # recorded first, with nothing stored before it: fewer than eight peers, nothing to compare
    ranks = [0 if u.code == who.code else 1 for u in units]
    assert who.code not in _peer_run(history, units, registry, periods[-1], ranks=ranks, schema=schema)
