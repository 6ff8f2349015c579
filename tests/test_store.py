"""The store: idempotent, versioned, crash-safe."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from jobs.core.findings import Report, make_finding
from jobs.core.tables import table_schema
from jobs.store import Arrival, Store

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


def _history(store: Store) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    subs = store.submissions(PERIOD).drop("ingested_at").sort("submission_id")
    found = store.findings(subs["submission_id"].to_list()).sort("submission_id", "seq")
    return subs, found, store.load_tables(PERIOD)


def _mixed_batch(store: Store, tmp_path) -> list[Arrival]:
    """Several versions of one unit (accepted, rejected, accepted), a 汇总 return, an unknown sender."""
    return [
        make_arrival(store, tmp_path, "b1.xlsx", b"B1", unit="110000", rows=["一", "二"]),
        make_arrival(store, tmp_path, "b2.xlsx", b"B2", unit="110000", accepted=False,
                     received_at=datetime(2015, 2, 21)),
        make_arrival(store, tmp_path, "b3.xlsx", b"B3", unit="110000", rows=["三"], received_at=datetime(2015, 2, 22)),
        make_arrival(store, tmp_path, "s1.xlsx", b"S1", unit="110000", report_type="汇总",
                     received_at=datetime(2015, 2, 21, 12)),
        make_arrival(store, tmp_path, "t1.xlsx", b"T1", unit="120000", rows=["四"], received_at=datetime(2015, 2, 19)),
        make_arrival(store, tmp_path, "n1.xlsx", b"N1", unit=None, rows=["五"]),
        make_arrival(store, tmp_path, "n2.xlsx", b"N2", unit=None, rows=["六"], received_at=datetime(2015, 2, 23)),
    ]  # fmt: skip


def test_one_batch_records_what_one_file_at_a_time_records(tmp_path):
    """Versions, supersession and rows of a batch written at once equal those of the files written one by one."""
    together, alone = Store(tmp_path / "together"), Store(tmp_path / "alone")
    first = make_arrival(together, tmp_path, "b0.xlsx", b"B0", unit="110000", rows=["旧"], received_at=datetime(2015, 2, 1))
    together.write_batch(PERIOD, [first], ingested_at=T0)
    outcomes = together.write_batch(PERIOD, _mixed_batch(together, tmp_path), ingested_at=T0)
    alone.write_batch(PERIOD, [make_arrival(alone, tmp_path, "b0.xlsx", b"B0", unit="110000", rows=["旧"],
                                            received_at=datetime(2015, 2, 1))], ingested_at=T0)  # fmt: skip
    for arrival in sorted(_mixed_batch(alone, tmp_path), key=lambda a: (a.received_at, a.file_name)):
        alone.write_batch(PERIOD, [arrival], ingested_at=T0)
    got, want = _history(together), _history(alone)
    assert_frame_equal(got[0], want[0])
    assert_frame_equal(got[1], want[1])
    for key, frame in want[2].items():
        assert_frame_equal(got[2][key].sort(frame.columns), frame.sort(frame.columns))
    subs = got[0].sort("received_at")
    assert subs.filter(pl.col("unit") == "110000")["version"].to_list() == [1, 2, 3, 4, 5]
    current = together.current(PERIOD)
    assert sorted(current["file_name"].to_list()) == ["b3.xlsx", "n1.xlsx", "n2.xlsx", "s1.xlsx", "t1.xlsx"]
    assert sorted(o.version for o in outcomes if o.submission_id in set(subs.filter(pl.col("unit").is_null())["submission_id"])) == [1, 2]


def test_stacked_tables_equal_per_arrival_tables(tmp_path):
    """``write_batch(stacked=...)`` (one frame per sheet with ``_i``) stores exactly each arrival's own rows."""
    from jobs.store import STACK_INDEX
    from jobs.store.writer import stack_frames

    per_file, stacked = Store(tmp_path / "per_file"), Store(tmp_path / "stacked")
    per_file.write_batch(PERIOD, _mixed_batch(per_file, tmp_path), ingested_at=T0)
    arrivals = _mixed_batch(stacked, tmp_path)
    frames = {"ledger": stack_frames({i: a.tables["ledger"] for i, a in enumerate(arrivals)}, table_schema("ledger"))}
    assert frames["ledger"][STACK_INDEX].to_list() == [0, 0, 1, 2, 3, 4, 5, 6]
    for a in arrivals:
        a.tables = None
    stacked.write_batch(PERIOD, arrivals, ingested_at=T0, stacked=frames)
    got, want = _history(stacked), _history(per_file)
    assert_frame_equal(got[0], want[0])
    for key, frame in want[2].items():
        assert_frame_equal(got[2][key], frame)
    assert sorted(got[2]["ledger"]["problem"].to_list()) == ["三", "五", "六", "四", "问题甲"]


def test_stack_frames_conforms_frames_of_other_shapes():
    from jobs.store.writer import stack_frames

    layout = table_schema("ledger")
    full = ledger("110000", ["甲"])
    partial = pl.DataFrame({"problem": ["乙", "丙"], "row": [4, 5]})  # Int64 row, columns missing
    out = stack_frames({3: full, 7: None, 8: partial, 9: full.head(0)}, layout)
    assert out.columns == [*layout, "_i"]
    assert out["_i"].to_list() == [3, 8, 8] and out["problem"].to_list() == ["甲", "乙", "丙"]
    assert out.drop("_i").schema == pl.Schema(layout)
    assert stack_frames({1: None}, layout) is None


def test_archive_many_writes_each_file_once_and_reports_unreadable_ones(store, tmp_path):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.XLS"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    same = tmp_path / "same-as-a.xlsx"
    same.write_bytes(b"A")
    first = store.archive_many([a, tmp_path / "missing.xlsx", b])
    assert isinstance(first[1], OSError)
    assert [x.archive_path.rsplit(".", 1)[1] for x in (first[0], first[2])] == ["xlsx", "xls"]
    stored = store.root / first[0].archive_path
    before = stored.stat().st_mtime_ns
    again = store.archive_many([same])
    assert again[0].sha256 == first[0].sha256 and stored.stat().st_mtime_ns == before  # not rewritten
    assert store.archive(a) == first[0]
    assert not list(store.root.rglob("*.tmp"))


def test_cleanup_reads_the_batch_journal_not_the_tables(store, tmp_path):
    committed = make_arrival(store, tmp_path, "a.xlsx", b"A1", unit="110000")
    store.write_batch(PERIOD, [committed], ingested_at=T0)
    parquet = sorted((store.root / "tables").rglob("*.parquet"))
    assert parquet and not list((store.root / "pending").iterdir())
    # a crash between the commit and the journal's removal leaves an entry for a committed batch
    batch_id = parquet[0].stem
    (store.root / "pending" / batch_id).write_text(str(parquet[0].relative_to(store.root)) + "\n", encoding="utf-8")
    # a Parquet file no journal names is left alone (readers never see uncommitted batches anyway)
    stray = parquet[0].with_name("0000000000000000.parquet")
    stray.write_bytes(parquet[0].read_bytes())
    assert store.cleanup() == []
    assert all(p.exists() for p in parquet) and stray.exists()
    assert not list((store.root / "pending").iterdir())
    assert store.load_tables(PERIOD)["ledger"].height == 1


def test_reports_of_a_batch_equal_each_report(store, tmp_path):
    """Receipts read a batch's verdicts at once: same reports, same order, findings in their order."""
    arrivals = _mixed_batch(store, tmp_path)
    for arrival in arrivals[:3]:
        arrival.report.findings.append(make_finding("bad-date", sheet="整改台账", row=4, col_index=7, value="x"))
    outcomes = store.write_batch(PERIOD, arrivals, ingested_at=T0)
    ids = [o.submission_id for o in outcomes][::-1]
    together = store.reports(ids)
    assert [r.to_dict() for r in together] == [store.report(i).to_dict() for i in ids]
    by_file = {r.file: r.codes() for r in together}
    assert set(by_file) == {a.file_name for a in arrivals}
    assert by_file["b2.xlsx"] == ["empty-ledger", "bad-date"]
    assert by_file["b1.xlsx"] == by_file["b3.xlsx"] == ["bad-date"] and by_file["t1.xlsx"] == []
    with pytest.raises(KeyError):
        store.reports([ids[0], "nope"])


def test_an_older_ledger_gets_the_explained_column_with_its_first_batch(tmp_path):
    """Findings recorded before issue 17 read as unexplained; the first write adds the column."""
    import sqlite3
    from dataclasses import replace

    from jobs.store.types import LEDGER_DDL

    root = tmp_path / "store"
    root.mkdir()
    old_ddl = LEDGER_DDL.replace("    explained INTEGER NOT NULL DEFAULT 0,\n", "")
    assert old_ddl != LEDGER_DDL
    with sqlite3.connect(root / "ledger.sqlite") as conn:
        conn.executescript(old_ddl)
        conn.execute(
            "INSERT INTO submissions VALUES ('2015-02-old', '110000', ?, 'old.xlsx', 'aa', '2015-02-01T00:00:00', "
            "'2015-02-01T00:00:00', 1, 0, 1, 1, NULL, '本级', 'archive/aa/aa.xlsx', 'b0', NULL)",
            (PERIOD,),
        )
        conn.execute("INSERT INTO findings VALUES ('2015-02-old', 0, 'too-thin', 'warning', '整改台账', 3, '见人', "
                     "'整改台账!J3', '太短')")  # fmt: skip
        conn.execute("INSERT INTO batches VALUES ('b0', ?, '2015-02-01T00:00:00', 1)", (PERIOD,))
    store = Store(root)
    assert [f.explained for f in store.report("2015-02-old").findings] == [False]  # readable before any write
    assert store.findings(["2015-02-old"])["explained"].to_list() == [False]
    arrival = make_arrival(store, tmp_path, "new.xlsx", b"new content", unit="120000")
    note = replace(make_finding("deadline-postponed", sheet="整改台账", row=4, column="整改时限", col_index=6,
                                seq=2, earlier="2015-01-31", value="2015-03-31", count=1), explained=True)  # fmt: skip
    arrival.report.findings.append(note)
    (outcome,) = store.write_batch(PERIOD, [arrival], ingested_at=datetime(2015, 2, 2))
    assert [f.explained for f in store.report(outcome.submission_id).findings] == [True]
    assert store.report(outcome.submission_id).findings == [replace(note, title="")]  # the ledger keeps no title
    found = store.findings(["2015-02-old", outcome.submission_id])
    assert dict(found.select("submission_id", "explained").iter_rows()) == {"2015-02-old": False, outcome.submission_id: True}
