"""督办通知单: exactly each listed unit's items, recorded once with a new deadline, tracked through resubmission and withdrawal."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime

import docx
import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.findings import Finding, Report
from jobs.office.home import init_home
from jobs.report.supervise import make_supervision
from jobs.rollup.period import load_period
from jobs.rollup.run import month_end
from jobs.rollup.supervised import JSON_KEYS
from jobs.rollup.vocab import load_vocab
from jobs.store import Arrival
from tests.test_month_end import HEADER, REGISTRY
from tests.test_rollup import _return
from tests.test_rollup_frames import item

PAST, LATER = date(2015, 1, 31), date(2016, 12, 31)
EVIL = '<w:fldSimple w:instr="PAGE"/>{{ 1+1 }}问题'


def _items(open_: tuple[int, ...] = (1, 2, 3, 4)) -> list[dict]:
    return [item(i, "推进中" if i in open_ else "已完成", "否", "满意", "查摆问题", "形式主义", PAST,
                 problem=EVIL if i == 1 else f"问题{i}", done_on=None if i in open_ else PAST) for i in (1, 2, 3, 4)]  # fmt: skip


def _mixed() -> list[dict]:
    return [item(1, "已完成", "否", "满意", "查摆问题", "形式主义", LATER, done_on=PAST),
            item(2, "已完成", "否", "满意", "查摆问题", "形式主义", LATER, done_on=PAST),
            item(3, "效果不理想", "否", "满意", "查摆问题", "形式主义", LATER),
            item(4, "推进中", "否", "满意", "查摆问题", "形式主义", PAST)]  # fmt: skip


def _add(home, period: str, unit: str, ledger, findings=(), *, version: int = 1, day: int = 20) -> None:
    sid = f"{period}-{unit}-{version}"
    src = home.root / f"{sid}.xlsx"
    src.write_bytes(sid.encode())
    at = datetime(int(period[:4]), int(period[5:]), day, 9)
    report = Report(file=src.name, unit=unit, period=period, findings=list(findings))
    arrival = Arrival(home.store.archive(src), src.name, at, report, _return(sid, unit, ledger, period=period),
                      report_type="本级")  # fmt: skip
    with home.lock():
        home.store.write_batch(period, [arrival], ingested_at=at)


def _json(home, period: str) -> dict:
    return month_end(load_period(home, period)).summary.national


@pytest.fixture
def home(tmp_path):
    h = init_home(tmp_path / "home")
    (tmp_path / "r.csv").write_text(HEADER + "\n".join(REGISTRY) + "\n", encoding="utf-8")
    h.import_registry(tmp_path / "r.csv", from_period="2015-01")
    _add(h, "2015-02", "110000", _items())  # 4 overdue items: 约谈提醒
    stalled = Finding("stalled-item", "warning", "长期未启动", sheet="整改台账", row=4)  # item 3
    _add(h, "2015-02", "120000", _mixed(), [stalled])  # 约谈提醒 for the stalled item
    _add(h, "2015-02", "130000", _items(open_=()))  # all done: not listed
    return h


@pytest.fixture
def notices(home, tmp_path):
    return make_supervision(home, period="2015-02", out_dir=tmp_path / "out", issued_on=date(2015, 3, 5))


def _table(path):
    doc = docx.Document(str(path))
    table = doc.tables[0]
    return doc, [[c.text for c in row.cells] for row in table.rows[1:]]


def test_each_notice_lists_exactly_its_units_items(notices):
    by_unit = {n.code: (n, path) for n, path in notices.notices}
    assert sorted(by_unit) == ["110000", "120000"]
    doc, rows = _table(by_unit["110000"][1])
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0][1] == EVIL  # the unit's text, as written (no field, no tag rendered)
    assert all(r[2] == "超过整改时限未完成" and r[5] == "2015年4月4日" for r in rows)
    _, rows = _table(by_unit["120000"][1])
    assert [(r[0], r[2]) for r in rows] == [("3", "整改效果不理想、长期未启动"), ("4", "超过整改时限未完成")]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "北京市：" in text and "你单位列入约谈提醒名单" in text and "请于2015年4月4日前整改到位" in text
    assert doc.paragraphs[0].runs[0].font.color.rgb is not None and str(doc.paragraphs[0].runs[0].font.color.rgb) == "FF0000"
    assert "PAGE" in doc.sections[0].footer._element.xml
    body = docx.Document(str(by_unit["110000"][1])).element.xml
    assert "<w:fldSimple" not in body


def test_notice_numbers_carry_the_year_of_issue_like_the_circular(home, tmp_path):
    later = make_supervision(home, period="2015-02", out_dir=tmp_path / "later", issued_on=date(2016, 1, 4))
    numbers = sorted(n.number for n, _ in later.notices)
    assert numbers == ["群教办督〔2016〕2-1号", "群教办督〔2016〕2-2号"]


def test_items_are_recorded_once_with_the_new_deadline(home, notices, tmp_path):
    ledger = home.store.supervised()
    assert notices.recorded == ledger.height == 6
    assert set(ledger["due"].to_list()) == {date(2015, 4, 4)} and set(ledger["period"].to_list()) == {"2015-02"}
    again = make_supervision(home, period="2015-02", out_dir=tmp_path / "again", issued_on=date(2015, 3, 20))
    assert again.recorded == 0 and home.store.supervised()["due"].to_list() == ledger["due"].to_list()
    n = next(n for n, _ in again.notices if n.code == "110000")
    assert all(i.earlier and i.due == date(2015, 4, 4) for i in n.items)  # the first deadline stands


def test_tracking_follows_resubmission_and_withdrawal_and_escalates(home, notices):
    assert {k: _json(home, "2015-03")[k] for k in JSON_KEYS} == {
        "supervised_items": 6, "supervised_resolved": 0, "supervised_overdue": 0}  # due 4 April: not yet
    _add(home, "2015-04", "110000", _items())
    april = _json(home, "2015-04")
    assert [april[k] for k in JSON_KEYS] == [6, 0, 6]  # 120000 sent nothing: its items stay open
    assert april["attention"]["诫勉批评"] == ["110000", "120000"]  # not reporting does not close a 督办 item
    reason = month_end(load_period(home, "2015-04")).summary.attention["reason"][0]
    assert "有4项督办问题超过督办时限仍未整改到位（序号1、2、3、4）" in reason
    _add(home, "2015-04", "110000", _items(open_=(3, 4)), version=2, day=21)  # resubmission: items 1, 2 done
    assert [_json(home, "2015-04")[k] for k in JSON_KEYS] == [6, 2, 4]
    with home.lock():
        home.store.change(action="withdraw", period="2015-04", unit="110000", version=2, reason="报错",
                          by="test", at=dt.datetime(2015, 4, 22))  # fmt: skip
    assert [_json(home, "2015-04")[k] for k in JSON_KEYS] == [6, 0, 6]


def test_json_keys_are_declared_in_the_summary_schema():
    assert load_vocab().supervision_keys == JSON_KEYS


def test_cli_writes_the_notices(home, tmp_path):
    result = CliRunner().invoke(main, ["supervise", "--period", "2015-02", "--home", str(home.root),
                                       "--out", str(tmp_path / "cli")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "已生成督办通知单2份，列入督办问题6项（新登记6项）" in result.output
    assert len(list((tmp_path / "cli" / "督办通知单").glob("*.docx"))) == 2


def test_an_overdue_supervised_item_is_named_in_the_next_circular(home, notices, tmp_path):
    from jobs.report.circular import make_circular

    _add(home, "2015-04", "110000", _items())
    files = make_circular(home, period="2015-04", out_dir=tmp_path / "c", issued_on=date(2015, 5, 5))
    text = "\n".join(p.text for p in docx.Document(str(files.docx)).paragraphs)
    assert "诫勉批评（2个）：北京市（有4项督办问题超过督办时限仍未整改到位（序号1、2、3、4）" in text


def test_reading_the_ledger_creates_nothing_before_the_first_notice(home):
    import sqlite3

    assert home.store.supervised().height == 0 and _json(home, "2015-03")["supervised_items"] == 0
    with sqlite3.connect(home.store.ledger_path) as conn:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'supervision'").fetchone() is None


def test_a_notice_without_items_has_no_item_table(tmp_path):
    from jobs.office.config import Config
    from jobs.report.docx import render_docx
    from jobs.report.supervise import DEFAULT_TEMPLATE, Notice

    notice = Notice("520000", "贵州省", "约谈提醒", ("群众满意率33.3%，低于50%",), "群教办督〔2015〕2-8号", (),
                    date(2015, 4, 4))  # fmt: skip
    values = {"n": notice, "letterhead": Config().letterhead, "issued_on": date(2015, 3, 5), "period": "2015-02"}
    doc = docx.Document(str(render_docx(DEFAULT_TEMPLATE, values, tmp_path / "n.docx")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert doc.tables == [] and "原因：群众满意率33.3%，低于50%。" in text and "{%" not in text
