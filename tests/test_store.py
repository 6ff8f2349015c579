"""The store: idempotent, versioned, crash-safe."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from jobs.findings import Report, make_finding
from jobs.store import Arrival, Store
from jobs.tables import table_schema

PERIOD = "2015-02"
T0 = datetime(2015, 2, 20, 9, 0)


def ledger(unit: str, descriptions: list[str]) -> pl.DataFrame:
    rows = [{"row": i + 3, "seq": i + 1, "problem": d, "status": "已完成"} for i, d in enumerate(descriptions)]
    frame = pl.DataFrame(rows)
    layout = table_schema("ledger")
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c) for c, t in layout.items()
    )


def make_arrival(store: Store, tmp_path, name: str, content: bytes, *, unit: str | None, accepted: bool = True,
                 received_at: datetime = T0, rows: list[str] | None = None,
                 report_type: str = "本级") -> Arrival:  # fmt: skip
    path = tmp_path / name
    path.write_bytes(content)
    report = Report(file=name, unit=unit, period=PERIOD)
    if not accepted:
        report.findings.append(make_finding("empty-ledger", sheet="整改台账"))
    tables = {"ledger": ledger(unit or "?", rows or ["问题甲"])}
    return Arrival(store.archive(path), name, received_at, report, tables, report_type=report_type)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def test_archive_is_by_content_hash_and_leaves_no_temp(store, tmp_path):
    src = tmp_path / "a.XLSX"
    src.write_bytes(b"original bytes")
    first = store.archive(src)
    again = store.archive(src)
    assert first == again
    assert first.archive_path == f"archive/{first.sha256[:2]}/{first.sha256}.xlsx"
    assert (store.root / first.archive_path).read_bytes() == b"original bytes"
    assert not list(store.root.rglob("*.tmp"))


def test_same_batch_twice_changes_nothing(store, tmp_path):
    arrivals = [
        make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000", rows=["甲", "乙"]),
        make_arrival(store, tmp_path, "b.xlsx", b"B1", unit="120000"),
    ]
    first = store.write_batch(PERIOD, arrivals, ingested_at=T0)
    assert [o.status for o in first] == ["stored", "stored"]
    subs, tables = store.submissions(PERIOD), store.load_tables(PERIOD)
    files = sorted(p.name for p in store.root.rglob("*") if p.is_file() and "archive" not in p.parts)

    second = store.write_batch(PERIOD, arrivals, ingested_at=datetime(2015, 2, 21))
    assert [o.status for o in second] == ["duplicate", "duplicate"]
    assert {o.submission_id for o in second} == {o.submission_id for o in first}
    assert_frame_equal(store.submissions(PERIOD), subs)
    for key, frame in store.load_tables(PERIOD).items():
        assert_frame_equal(frame, tables[key])
    assert tables["ledger"].height == 3
    assert sorted(p.name for p in store.root.rglob("*") if p.is_file() and "archive" not in p.parts) == files


def test_resubmission_supersedes_and_keeps_history(store, tmp_path):
    old = make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000", rows=["旧"])
    store.write_batch(PERIOD, [old], ingested_at=T0)
    new = make_arrival(store, tmp_path, "a2.xlsx", b"A2", unit="110000", rows=["新1", "新2"],
                       received_at=datetime(2015, 2, 25))  # fmt: skip
    (outcome,) = store.write_batch(PERIOD, [new], ingested_at=T0)
    assert outcome.version == 2
    subs = store.submissions(PERIOD)
    assert subs.height == 2
    assert subs["superseded_by"].to_list() == [outcome.submission_id, None]
    assert subs["version"].to_list() == [1, 2]
    ledger_rows = store.load_tables(PERIOD)["ledger"]
    assert ledger_rows["problem"].to_list() == ["新1", "新2"]
    assert ledger_rows["submission_id"].unique().to_list() == [outcome.submission_id]
    assert ledger_rows.schema == pl.Schema(table_schema("ledger"))


def test_own_return_and_summary_return_of_one_unit_never_replace_each_other(store, tmp_path):
    own = make_arrival(store, tmp_path, "own.xlsx", b"OWN", unit="110000")
    summary = make_arrival(store, tmp_path, "sum.xlsx", b"SUM", unit="110000", report_type="汇总",
                           received_at=datetime(2015, 2, 21))  # fmt: skip
    own_again = make_arrival(store, tmp_path, "own2.xlsx", b"OWN2", unit="110000",
                             received_at=datetime(2015, 2, 22))  # fmt: skip
    store.write_batch(PERIOD, [own, summary, own_again], ingested_at=T0)
    current = store.current(PERIOD).sort("file_name")
    assert current.select("file_name", "report_type").rows() == [("own2.xlsx", "本级"), ("sum.xlsx", "汇总")]


def test_rejected_resubmission_keeps_accepted_current(store, tmp_path):
    good = make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000")
    bad = make_arrival(store, tmp_path, "a2.xlsx", b"A2", unit="110000", accepted=False,
                       received_at=datetime(2015, 2, 22))  # fmt: skip
    store.write_batch(PERIOD, [good, bad], ingested_at=T0)
    subs = store.submissions(PERIOD)
    assert subs.select("accepted", "version", "superseded_by").rows() == [(True, 1, None), (False, 2, None)]
    assert store.current(PERIOD)["file_name"].to_list() == ["a.xlsx"]
    fixed = make_arrival(store, tmp_path, "a3.xlsx", b"A3", unit="110000", received_at=datetime(2015, 2, 23))
    (o,) = store.write_batch(PERIOD, [fixed], ingested_at=T0)
    subs = store.submissions(PERIOD)
    assert subs["superseded_by"].to_list() == [o.submission_id, o.submission_id, None]
    assert store.current(PERIOD)["file_name"].to_list() == ["a3.xlsx"]


def test_rejected_file_is_archived_and_listed_not_stored_as_data(store, tmp_path):
    bad = make_arrival(store, tmp_path, "bad.xlsx", b"BAD", unit="110000", accepted=False)
    (o,) = store.write_batch(PERIOD, [bad], ingested_at=T0)
    assert (store.root / bad.archived.archive_path).read_bytes() == b"BAD"
    subs = store.submissions(PERIOD)
    assert subs.select("accepted", "n_errors").rows() == [(False, 1)]
    assert store.load_tables(PERIOD)["ledger"].height == 0
    assert not list((store.root / "tables").rglob("*.parquet"))
    found = store.findings([o.submission_id])
    assert found["code"].to_list() == ["empty-ledger"]
    assert store.report(o.submission_id).codes() == ["empty-ledger"]


@pytest.mark.parametrize("step", ["parquet-written", "before-commit"])
def test_fault_between_steps_leaves_store_consistent_and_rerun_completes(store, tmp_path, step):
    before = make_arrival(store, tmp_path, "x.xlsx", b"X", unit="130000")
    store.write_batch(PERIOD, [before], ingested_at=T0)
    subs, tables = store.submissions(PERIOD), store.load_tables(PERIOD)

    class Crash(Exception):
        pass

    def hook(at: str) -> None:
        if at == step:
            raise Crash(at)

    arrivals = [
        make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000"),
        make_arrival(store, tmp_path, "x2.xlsx", b"X2", unit="130000", rows=["改"]),
    ]
    with pytest.raises(Crash):
        store.write_batch(PERIOD, arrivals, ingested_at=T0, fault_hook=hook)
    # the crash left an orphan Parquet that readers do not see
    assert_frame_equal(store.submissions(PERIOD), subs)
    for key, frame in store.load_tables(PERIOD).items():
        assert_frame_equal(frame, tables[key])
    removed = store.cleanup()
    assert any(p.suffix == ".parquet" for p in removed)

    outcomes = store.write_batch(PERIOD, arrivals, ingested_at=T0)
    assert [o.status for o in outcomes] == ["stored", "stored"]
    assert store.current(PERIOD).sort("unit")["file_name"].to_list() == ["a.xlsx", "x2.xlsx"]
    assert sorted(store.load_tables(PERIOD)["ledger"]["problem"].to_list()) == sorted(["问题甲", "改"])
    assert store.cleanup() == []


def test_texts_only_from_current_accepted(store, tmp_path):
    from jobs.store import TEXT_SCHEMA

    a = make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000")
    a.texts = pl.DataFrame([("110000", "整改台账", 3, "见物", "h-old")], schema=TEXT_SCHEMA, orient="row")
    store.write_batch(PERIOD, [a], ingested_at=T0)
    assert store.texts(PERIOD)["hash"].to_list() == ["h-old"]
    b = make_arrival(store, tmp_path, "a2.xlsx", b"A2", unit="110000")
    b.texts = pl.DataFrame([("110000", "整改台账", 3, "见物", "h-new")], schema=TEXT_SCHEMA, orient="row")
    store.write_batch(PERIOD, [b], ingested_at=T0)
    assert store.texts(PERIOD)["hash"].to_list() == ["h-new"]
    assert store.texts(PERIOD, exclude_units=["110000"]).height == 0


def test_texts_looked_up_by_hash(store, tmp_path):
    from jobs.store import TEXT_SCHEMA

    a = make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000")
    a.texts = pl.DataFrame([("110000", "整改台账", 3, "见物", f"h{i}") for i in range(1000)], schema=TEXT_SCHEMA,
                           orient="row")  # fmt: skip
    store.write_batch(PERIOD, [a], ingested_at=T0)
    wanted = [f"h{i}" for i in range(0, 2000, 2)]  # more than one SQLite parameter chunk
    assert sorted(store.texts(PERIOD, hashes=wanted)["hash"].to_list()) == sorted(f"h{i}" for i in range(0, 1000, 2))
    assert store.texts(PERIOD, hashes=[]).height == 0
