"""The writer's copy-only re-check gives exactly what validating again in full gives (issue #7)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.editing import edit_return

PERIOD = "2015-02"
RECEIVED = datetime(2015, 2, 27, 16, 30)
SHARED_FACTS = "对照检查中发现的会风文风问题已逐项整改，压缩会议四成，精简文件三成，节约经费八万元。"
SHARED_MINDSET = "通过整改深刻认识到四风问题的根源在于宗旨意识淡薄，必须从思想上正本清源、固本培元。"


@pytest.fixture(scope="module")
def inbox(generated_samples, tmp_path_factory) -> tuple[Path, Path]:
    """The period's generated returns (defects, messiness, .xls) plus returns sharing texts across batches.

    Whole returns copied under other units (their defects travel with them, so
    copy findings sit between other findings of the same columns), texts
    shared by several units, a text repeated within a return, and a return
    naming another period that carries shared texts. Returns (inbox, registry).
    """
    manifest = json.loads((generated_samples / "manifest.json").read_text(encoding="utf-8"))
    files = [f for f in manifest["files"] if f["period"] == PERIOD]
    missing = manifest["periods"][PERIOD]["missing_units"]
    out = tmp_path_factory.mktemp("recheck_inbox")
    for f in files:
        shutil.copyfile(generated_samples / f["path"], out / f"m-{Path(f['path']).name}")
    xlsx = [f for f in files if f["format"] == "xlsx" and not any(d["code"] == "unreadable-file" for d in f["defects"])]
    # accepted returns (warnings at most): only their texts are stored for later batches
    warned = [f for f in xlsx if f["defects"] and all(d["severity"] == "warning" for d in f["defects"])]
    clean = [f for f in xlsx if not f["defects"] and not f["messiness"]]
    src = [generated_samples / f["path"] for f in (*warned[:2], *clean[:4])]
    extra = iter(missing + [f["unit"] for f in files])
    # sorted names: "a-" before the originals ("m-"), "z-" after them
    edit_return(src[0], out / "a-copy-0.xlsx", unit=next(extra))
    edit_return(src[1], out / "z-copy-1.xlsx", unit=next(extra))
    edit_return(src[2], out / "z-copy-2.xlsx", unit=next(extra), facts={2: SHARED_FACTS})
    edit_return(src[3], out / "a-share-3.xlsx", unit=next(extra), facts={1: SHARED_FACTS}, mindset={1: SHARED_MINDSET})
    edit_return(src[4], out / "m-share-4.xlsx", facts={3: SHARED_FACTS, 1: SHARED_MINDSET})
    edit_return(src[5], out / "z-share-5.xlsx", unit=next(extra), mindset={2: SHARED_MINDSET, 4: SHARED_MINDSET})
    edit_return(src[5], out / "z-period-6.xlsx", unit=next(extra), period="2015-01", facts={1: SHARED_FACTS})
    return out, generated_samples / "registry.xlsx"


def _ingest(tmp: Path, inbox: Path, registry: Path, *, full: bool, monkeypatch) -> tuple[list, pl.DataFrame]:
    from jobs.intake.batch import ingest_paths
    from jobs.office.home import init_home
    from jobs.validate import recheck

    calls: list[list[int] | None] = []
    original = recheck.recheck_copies

    def spy(*args, **kwargs):
        if full:
            calls.append(None)
            return None  # the writer then validates again in full, as before issue #7
        changed = original(*args, **kwargs)
        calls.append(changed)
        return changed

    monkeypatch.setattr(recheck, "recheck_copies", spy)
    home = init_home(tmp)
    home.import_registry(registry, from_period=PERIOD)
    result = ingest_paths(home, [inbox], period=PERIOD, received_at=RECEIVED, receipts=False, batch_size=4)
    ids = [o.submission_id for o in result.files]
    reports = [r.to_dict() for r in home.store.reports(ids)]
    ledger = home.store.submissions(PERIOD).drop("ingested_at", "batch_id", strict=False).sort("submission_id")
    monkeypatch.setattr(recheck, "recheck_copies", original)
    return [reports, calls, result], ledger


@pytest.mark.slow
def test_copy_only_recheck_equals_full_revalidation(inbox, tmp_path, monkeypatch):
    """Ingest in batches of 4 (copies cross batches): every report, finding order and message, and the
    ledger are the same whether the writer redoes copy detection alone or validates again in full."""
    folder, registry = inbox
    (quick, calls, result), quick_ledger = _ingest(tmp_path / "quick", folder, registry, full=False,
                                                   monkeypatch=monkeypatch)  # fmt: skip
    (full, full_calls, _), full_ledger = _ingest(tmp_path / "full", folder, registry, full=True,
                                                 monkeypatch=monkeypatch)  # fmt: skip
    assert full_calls and all(c is None for c in full_calls)
    changed = [c for c in calls if c]
    assert calls and all(c is not None for c in calls)  # never fell back to validating in full
    assert len(changed) >= 2  # stored texts changed reports in several batches
    assert quick == full
    assert_frame_equal(quick_ledger, full_ledger)
    copied = [r for r in quick if any(f["code"] == "copied-text" for f in r["findings"])]
    assert len(copied) >= 4
    # a finding of another check between copy findings of one return: the order is the validator's
    codes = [[f["code"] for f in r["findings"]] for r in copied]
    assert any("copied-text" in c[: c.index(x)] and "copied-text" in c[c.index(x):]
               for c in codes for x in c if x != "copied-text")  # fmt: skip
    assert result.count("stored") == len(quick)


@pytest.mark.slow
def test_recheck_of_one_batch_equals_validating_it_with_the_stored_texts(inbox, tmp_path):
    """One batch validated without stored texts, then re-checked copy-only, equals the batch validated
    with every stored text of the period (reports and their order; other periods never compared)."""
    import jobs.intake.parallel as parallel
    from jobs.core.schema import load_schema
    from jobs.intake.batch import ingest_paths
    from jobs.office.home import init_home
    from jobs.validate.recheck import recheck_copies

    folder, registry = inbox
    names = sorted(p.name for p in folder.iterdir())
    home = init_home(tmp_path / "home")
    home.import_registry(registry, from_period=PERIOD)
    first = [folder / n for n in names if n.startswith(("a-", "m-"))]
    ingest_paths(home, first, period=PERIOD, received_at=RECEIVED, receipts=False, batch_size=50)
    batch = tmp_path / "batch"
    batch.mkdir()
    for n in names:
        if n.startswith("z-"):
            shutil.copyfile(folder / n, batch / n)
    context = parallel.BatchContext(registry=home.registry(PERIOD), period=PERIOD, other_units_texts=None,
                                    limits=home.config.limits)  # fmt: skip
    with home.lock():
        prep = parallel._prepare(home, sorted(batch.iterdir()), period=PERIOD, received_at=RECEIVED, fault_hook=None)
    validated = parallel.validate_job(context, prep.job)
    assert validated.copies is not None
    stored = home.store.texts(PERIOD)
    before = [r.report.to_dict() for r in validated.results]
    changed = recheck_copies(validated.results, validated.copies, stored=stored, period=PERIOD, schema=load_schema())
    whole = parallel.validate_job(replace(context, other_units_texts=stored), prep.job)
    after = [r.report.to_dict() for r in validated.results]
    assert after == [r.report.to_dict() for r in whole.results]
    assert changed == [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) >= 3
    period_b = [r for r in after if r["period"] == "2015-01"]
    assert period_b and not any("copied-text" == f["code"] for r in period_b for f in r["findings"])


def _capture(units: list[tuple[int, str | None]], texts: list[tuple[int, int, int, str]]):
    from jobs.validate.copies import CopyCapture

    return CopyCapture(
        texts=pl.DataFrame(texts, schema={"_rid": pl.Int32, "check": pl.Int16, "_row": pl.Int32, "hash": pl.Utf8},
                           orient="row").with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_pos")),
        units=pl.DataFrame([(r, u, PERIOD) for r, u in units],
                           schema={"_rid": pl.Int32, "unit": pl.Utf8, "period": pl.Utf8}, orient="row"),
        places=pl.DataFrame(schema={"_rid": pl.Int32, "check": pl.Int16, "col": pl.Int32}),
        marks=pl.DataFrame(schema={"_rid": pl.Int32, "check": pl.Int16, "_row": pl.Int32, "other": pl.Utf8,
                                   "inner": pl.Boolean}),
    )  # fmt: skip


def test_copy_state_is_refused_unless_it_provably_matches_the_batch(schema):
    """The writer trusts a copy record only when its returns and texts match the batch's results exactly;
    otherwise (two validation calls, a shifted return, a text hashed differently) it validates in full."""
    from types import SimpleNamespace

    from jobs.validate.copies import checked_columns
    from jobs.validate.recheck import batch_copy_state

    sheet, _key, header, _min = checked_columns(schema)[0]
    name = schema.sheet(sheet).name

    def result(unit):
        return SimpleNamespace(report=SimpleNamespace(unit=unit), report_type=schema.default_report_type)

    # result 1 is unreadable: the validator numbered only results 0 and 2
    results = [result("110000"), SimpleNamespace(report=SimpleNamespace(unit=None), report_type=None),
               result("120000")]  # fmt: skip
    readable = [True, False, True]
    texts = pl.DataFrame(
        [(0, "110000", name, 3, header, "aa"), (2, "120000", name, 4, header, "bb")],
        schema={"_i": pl.Int32, "unit": pl.Utf8, "sheet": pl.Utf8, "row": pl.Int64, "column": pl.Utf8, "hash": pl.Utf8},
        orient="row",
    )
    good = _capture([(0, "110000"), (1, "120000")], [(0, 0, 3, "aa"), (1, 0, 4, "bb")])
    state = batch_copy_state([good], results=results, readable=readable, texts=texts, schema=schema)
    assert state is not None
    assert state.units["_rid"].to_list() == [0, 2] and sorted(state.texts["_rid"].to_list()) == [0, 2]
    args = {"results": results, "readable": readable, "texts": texts, "schema": schema}
    assert batch_copy_state([good, good], **args) is None  # validated one by one after a failure
    assert batch_copy_state([_capture([(0, "120000"), (1, "110000")], [(0, 0, 4, "bb"), (1, 0, 3, "aa")])],
                            **args) is None  # fmt: skip
    assert batch_copy_state([_capture([(0, "110000"), (1, "120000")], [(0, 0, 3, "aa"), (1, 0, 4, "cc")])],
                            **args) is None  # fmt: skip
    assert batch_copy_state([_capture([(0, "110000"), (2, "120000")], [])], **args) is None  # no third return


def test_finding_order_is_internal():
    from jobs.core.findings import make_finding

    a = make_finding("copied-text", sheet="整改台账", row=3, column="见物", col_index=10, other="本表整改台账!K2", order=7)
    b = make_finding("copied-text", sheet="整改台账", row=3, column="见物", col_index=10, other="本表整改台账!K2")
    assert a.order == 7 and b.order is None
    assert a == b and hash(a) == hash(b) and a.to_dict() == b.to_dict() and "order" not in a.to_dict()
    assert "order" not in repr(a)


@pytest.mark.slow
def test_batch_texts_from_the_copy_record_equal_hashing_the_tables(inbox, monkeypatch):
    """Workers take the batch's texts from the validator's copy record (proved against the tables): the same
    rows, in the same order, as hashing the stacked tables; a record that disagrees with a table is refused."""
    from dataclasses import replace as dc_replace

    import jobs.intake.parallel as parallel
    from jobs.core.schema import load_schema
    from jobs.intake.batch import (
        read_validate_batch,
        stack_results,
        stacked_text_hashes,
    )
    from jobs.office.registry import load_registry
    from jobs.validate.copies import collect_copies
    from jobs.validate.recheck import batch_copy_texts

    folder, registry = inbox
    files = sorted(folder.iterdir())
    context = parallel.BatchContext(registry=load_registry(registry), period=PERIOD, other_units_texts=None)
    hashed: list[int] = []
    monkeypatch.setattr(parallel, "stacked_text_hashes",
                        lambda *a, **k: hashed.append(1) or stacked_text_hashes(*a, **k))  # fmt: skip
    batch = parallel.validate_job(context, (files, dict.fromkeys(files, RECEIVED)))
    assert hashed == [] and batch.copies is not None  # the record was proved: no text folded again
    want = stacked_text_hashes(batch.tables, units=[r.report.unit for r in batch.results])
    assert want.height > 100
    assert_frame_equal(batch.texts, want)

    with collect_copies() as calls:
        results = read_validate_batch(files, registry=context.registry, period=PERIOD,
                                      received_at=dict.fromkeys(files, RECEIVED), other_units_texts=None)  # fmt: skip
    stacked = stack_results(results, hash_texts=False)
    args = {"results": stacked.results, "readable": stacked.readable, "tables": stacked.tables, "schema": load_schema()}
    (capture,) = calls
    assert batch_copy_texts([capture], **args) is not None
    cells = capture.cells.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("改动过的文字")).otherwise(pl.col("text")).alias("text")
    )
    assert batch_copy_texts([dc_replace(capture, cells=cells)], **args) is None
