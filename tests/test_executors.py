"""Executors map a pure batch function and return results in submission order."""

from __future__ import annotations

import io
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from jobs.intake.executors import (
    ExecutorError,
    LocalExecutor,
    SerialExecutor,
    batched,
    make_executor,
)
from jobs.intake.progress import Progress, format_duration
from tests.editing import edit_return


def _square_with_context(context, batch):
    # later batches finish first: the executor must still return them in order
    time.sleep(0.05 * (len(batch) % 3) if context.get("jitter") else 0)
    return [(x * x + context["offset"], os.getpid()) for x in batch]


def _fail_on_seven(context, batch):
    if 7 in batch:
        msg = "seven"
        raise ValueError(msg)
    return batch


def _crash(context, batch):
    os._exit(3)


def test_batched_is_independent_of_workers():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="batch size"):
        list(batched([1], 0))


def test_serial_executor_runs_in_process():
    out = list(SerialExecutor().map(_square_with_context, [[1, 2], [3]], context={"offset": 1}))
    assert [[v for v, _ in r] for r in out] == [[2, 5], [10]]
    assert {pid for r in out for _, pid in r} == {os.getpid()}


@pytest.fixture(scope="module")
def pool():
    with LocalExecutor(workers=2, preload=()) as ex:
        yield ex


def test_local_pool_keeps_submission_order_and_uses_workers(pool):
    batches = [list(range(i, i + (i % 3) + 1)) for i in range(0, 40, 4)]
    context = {"offset": 5, "jitter": True}
    expected = list(SerialExecutor().map(_square_with_context, batches, context=context))
    got = list(pool.map(_square_with_context, batches, context=context))
    assert [[v for v, _ in r] for r in got] == [[v for v, _ in r] for r in expected]
    pids = {pid for r in got for _, pid in r}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


def test_local_pool_context_changes_between_maps(pool):
    a = list(pool.map(_square_with_context, [[1], [2]], context={"offset": 0}))
    b = list(pool.map(_square_with_context, [[1], [2]], context={"offset": 100}))
    assert [r[0][0] for r in a] == [1, 4]
    assert [r[0][0] for r in b] == [101, 104]


def test_local_pool_propagates_task_errors(pool):
    with pytest.raises(ValueError, match="seven"):
        list(pool.map(_fail_on_seven, [[1], [7], [9]]))
    # the pool survives a task exception
    assert list(pool.map(_fail_on_seven, [[1]])) == [[1]]


def test_local_pool_bounds_batches_in_flight(pool):
    pulled = []

    def source():
        for i in range(50):
            pulled.append(i)
            yield [i]

    results = pool.map(_fail_on_seven, (b for b in source() if b != [7]))
    first = next(results)
    assert first == [0]
    # only in_flight batches were taken from the source before the first result
    assert len(pulled) <= pool.in_flight + 1
    assert len(list(results)) == 48


def test_worker_crash_is_a_clear_error():
    with LocalExecutor(workers=1, preload=()) as ex:
        with pytest.raises(ExecutorError, match="--workers"):
            list(ex.map(_crash, [[1]]))


def test_make_executor_choices():
    assert isinstance(make_executor("local", workers=1), SerialExecutor)
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("spark")  # type: ignore[arg-type]


def test_ray_executor_matches_local(pool):
    ray = pytest.importorskip("ray")
    from jobs.intake.executors import RayExecutor

    # this test module is not importable on Ray workers: ship its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    batches = [list(range(i, i + 3)) for i in range(0, 30, 3)]
    context = {"offset": 7}
    local = list(pool.map(_square_with_context, batches, context=context))
    with RayExecutor(num_cpus=2, in_flight=3) as ex:
        assert ex.workers == 2
        got = list(ex.map(_square_with_context, batches, context=context))
        with pytest.raises(ValueError, match="seven"):
            list(ex.map(_fail_on_seven, [[1], [7]]))
    assert [[v for v, _ in r] for r in got] == [[v for v, _ in r] for r in local]


def test_progress_line_rate_and_eta():
    now = [0.0]
    out = io.StringIO()
    p = Progress(100, enabled=True, stream=out, interval=0, clock=lambda: now[0])
    now[0] = 10.0
    p.advance(25)
    assert p.line() == "已处理 25/100 个文件（2.5 个/秒，预计剩余 30秒）"
    now[0] = 40.0
    p.advance(75)
    p.close()
    text = out.getvalue()
    assert text.startswith("\r已处理 25/100")
    assert "用时 40秒" in text and text.endswith("\n")


def test_progress_is_silent_when_not_a_tty():
    out = io.StringIO()  # isatty() is False
    with Progress(10, stream=out) as p:
        p.advance(10)
    assert out.getvalue() == ""


def test_format_duration():
    assert format_duration(7) == "7秒"
    assert format_duration(65) == "1分05秒"
    assert format_duration(3725) == "1小时02分05秒"


# ------------------------------------------------ intake: executors agree

PERIOD = "2015-02"
RECEIVED = datetime(2015, 2, 27, 16, 30)


def _ledger(home):
    """The ledger rows and the stored tables, without ingest timestamps."""
    subs = home.store.submissions(PERIOD).drop("ingested_at").sort("submission_id")
    findings = home.store.findings(subs["submission_id"].to_list()).sort("submission_id", "seq")
    tables = {k: v.sort(v.columns) for k, v in home.store.load_tables(PERIOD).items()}
    return subs, findings, tables


def _outcomes(result):
    return [(f.path.name, f.status, f.submission_id, f.unit, f.accepted, f.version, f.n_errors, f.n_warnings,
             f.message) for f in result.files]  # fmt: skip


def _copy_as_other_unit(source, target, unit):
    """``source``'s return re-labelled as ``unit``'s: every 见物/见思想 text copied (照抄照搬)."""
    import openpyxl

    wb = openpyxl.load_workbook(source)
    ws = wb["基本信息"]
    for row in ws.iter_rows():
        if row[0].value == "单位代码":
            row[1].value = unit
    wb.save(target)


@pytest.fixture(scope="module")
def month(generated_samples, tmp_path_factory):
    """Part of the shared sample month ingested one batch at a time: the reference for every executor.

    Plus a file received twice (a duplicate across batches) and, in the last
    batch, a unit that copied another unit's texts from the first batch.
    """
    import json

    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import init_home

    manifest = json.loads((generated_samples / "manifest.json").read_text(encoding="utf-8"))
    files = [f for f in manifest["files"] if f["period"] == PERIOD]
    inbox = tmp_path_factory.mktemp("inbox")
    for f in sorted(files, key=lambda f: f["path"])[:10]:
        shutil.copyfile(generated_samples / f["path"], inbox / Path(f["path"]).name)
    clean = sorted(f["path"] for f in files if not f["defects"] and not f["messiness"] and f["format"] == "xlsx")
    extra = tmp_path_factory.mktemp("extra")
    shutil.copyfile(inbox / sorted(p.name for p in inbox.iterdir())[0], extra / "zz-again.xlsx")
    source = generated_samples / clean[0]
    shutil.copyfile(source, inbox / Path(clean[0]).name)  # the original, in the first batches
    _copy_as_other_unit(source, extra / "zz-copy.xlsx", manifest["periods"][PERIOD]["missing_units"][0])
    home = init_home(tmp_path_factory.mktemp("homes") / "sequential")
    home.import_registry(generated_samples / "registry.xlsx", from_period=PERIOD)
    result = ingest_paths(home, [inbox, extra], period=PERIOD, received_at=RECEIVED, batch_size=BATCH)
    return [inbox, extra], home, result


BATCH = 7


def _ingest_with(kind, paths, root, generated_samples, executor):
    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import init_home

    home = init_home(root / kind)
    home.import_registry(generated_samples / "registry.xlsx", from_period=PERIOD)
    out = io.StringIO()
    progress = Progress(10_000, enabled=True, stream=out, interval=0)
    result = ingest_paths(home, paths, period=PERIOD, received_at=RECEIVED, batch_size=BATCH,
                          executor=executor, progress=progress)  # fmt: skip
    assert progress.done == len(result.files)
    return home, result


def _receipts(home, result):
    """Receipt name -> bytes, checking every recorded file got one."""
    assert all(f.receipt is not None and f.receipt.is_file() for f in result.files if f.submission_id)
    import zipfile

    # the receipts' content (zip member dates and docProps/core.xml say when it was written)
    out = {}
    for p in home.outbox(PERIOD).iterdir():
        with zipfile.ZipFile(p) as zf:
            out[p.name] = {n: zf.read(n) for n in zf.namelist() if n != "docProps/core.xml"}
    return out


@pytest.mark.slow
def test_local_pool_intake_equals_sequential_intake(month, generated_samples, tmp_path, monkeypatch):
    import jobs.intake.parallel as parallel

    paths, reference, expected = month
    assert expected.count("duplicate") >= 1 and expected.rejected >= 1
    # validations in this process would be the writer's re-validations (workers run the original)
    again: list[int] = []
    original = parallel.read_validate_batch
    monkeypatch.setattr(parallel, "read_validate_batch", lambda paths, **kw: again.append(len(paths)) or original(paths, **kw))
    with LocalExecutor(workers=2) as ex:
        home, result = _ingest_with("local", paths, tmp_path, generated_samples, ex)
    assert again == []  # the writer finds copies from the texts: nothing is read or validated in this process
    assert _outcomes(result) == _outcomes(expected)
    assert _receipts(home, result) == _receipts(reference, expected)  # written by the workers
    got, want = _ledger(home), _ledger(reference)
    assert_frame_equal(got[0], want[0])
    assert_frame_equal(got[1], want[1])
    for key, frame in want[2].items():
        assert_frame_equal(got[2][key], frame)
    copied = want[1].filter(pl.col("code") == "copied-text")["submission_id"].unique().to_list()
    by_file = {f.submission_id: f.path.name for f in expected.files}
    assert "zz-copy.xlsx" in {by_file[s] for s in copied}  # copies across batches were compared


@pytest.mark.slow
def test_ray_intake_equals_local_intake(month, generated_samples, tmp_path):
    pytest.importorskip("ray")
    from jobs.intake.executors import RayExecutor

    paths, reference, expected = month
    with RayExecutor(num_cpus=2) as ex:
        # as on a cluster of other machines: file contents travel with the tasks, receipts are written here
        ex.shares_files = False
        home, result = _ingest_with("ray", paths, tmp_path, generated_samples, ex)
    assert _outcomes(result) == _outcomes(expected)
    assert _receipts(home, result) == _receipts(reference, expected)
    got, want = _ledger(home), _ledger(reference)
    assert_frame_equal(got[0], want[0])
    assert_frame_equal(got[1], want[1])
    for key, frame in want[2].items():
        assert_frame_equal(got[2][key], frame)


def _tables_of(unit, ledger_texts, member_texts):
    from jobs.core.tables import empty_table

    def table(key, texts):
        base = empty_table(key)
        rows = [{"row": i + 3, "facts": f, "mindset": m} for i, (f, m) in enumerate(texts)]
        extra = pl.DataFrame(rows, schema={"row": pl.Int32, "facts": pl.Utf8, "mindset": pl.Utf8})
        return pl.concat([base, extra], how="diagonal_relaxed").select(base.columns).cast(base.schema)

    return {"ledger": table("ledger", ledger_texts), "members": table("members", member_texts),
            "info": empty_table("info")}  # fmt: skip


def test_batch_text_hashes_equal_per_return_hashes():
    from types import SimpleNamespace

    from jobs.intake.batch import batch_text_hashes, text_hashes

    long_a = "通过整改压减会议三成，文件精简四成，节约经费十二万元。"
    long_b = "深刻认识到形式主义根源在于政绩观错位，必须从思想上根治。"
    results = [
        SimpleNamespace(report=SimpleNamespace(unit="110000"),
                        tables=_tables_of("110000", [(long_a, long_b), ("无", "太短"), (long_a, None)],
                                          [(long_b, long_a)])),
        SimpleNamespace(report=SimpleNamespace(unit=None), tables=None),
        SimpleNamespace(report=SimpleNamespace(unit="120000"), tables=_tables_of("120000", [("略", "同上")], [])),
        SimpleNamespace(report=SimpleNamespace(unit="130000"),
                        tables=_tables_of("130000", [(long_b + "。", long_a)], [])),
    ]  # fmt: skip
    got = batch_text_hashes(results)
    assert got[1] is None
    for r, frame in zip(results, got, strict=True):
        if r.tables is None:
            continue
        assert_frame_equal(frame, text_hashes(r.tables, unit=r.report.unit))
    assert got[0].height == 5 and got[2].height == 0  # placeholders, short texts and nulls are not hashed


SHARED = "对照检查中发现的会风文风问题已逐项整改，压缩会议四成，精简文件三成，节约经费八万元。"
OLD = "通过整改深刻认识到四风问题的根源在于宗旨意识淡薄，必须从思想上正本清源、固本培元。"
NEW = "整改后重新梳理了制度漏洞，建立了会议审批台账，每月通报一次执行情况，接受群众监督。"
REPEAT = "班子成员逐一谈心谈话，查找思想上的差距，明确整改责任人和完成时限，按月对账销号。"


@pytest.fixture(scope="module")
def copies_inbox(generated_samples, tmp_path_factory):
    """Returns sharing texts in recording order (file names; one arrival time): a copy of an earlier
    return, a rejected return and a later one sharing a text, a resubmission replacing a text that a later
    return carries, and a text repeated within a return."""
    import json

    manifest = json.loads((generated_samples / "manifest.json").read_text(encoding="utf-8"))
    clean = sorted(generated_samples / f["path"] for f in manifest["files"] if f["period"] == PERIOD
                   and not f["defects"] and not f["messiness"] and f["format"] == "xlsx")  # fmt: skip
    used = {f["unit"] for f in manifest["files"] if generated_samples / f["path"] in clean[:5]}
    others = sorted({f["unit"] for f in manifest["files"] if f["period"] == PERIOD} - used)
    units = manifest["periods"][PERIOD]["missing_units"] + others  # registered units sending nothing here
    out = tmp_path_factory.mktemp("copies_inbox")
    from jobs.office.registry import load_registry

    names = dict(load_registry(generated_samples / "registry.xlsx").select("code", "name").iter_rows())
    named = [{"unit": u, "name": names[u]} for u in units[:5]]  # re-labelled with the unit's own name
    edit_return(clean[0], out / "a-original.xlsx", mindset={1: OLD})
    edit_return(clean[0], out / "b-copy.xlsx", **named[0], mindset={1: OLD})  # every text copied
    edit_return(clean[1], out / "c-rejected.xlsx", **named[1], period="2015-01", facts={1: SHARED})
    edit_return(clean[2], out / "d-after-rejected.xlsx", **named[2], facts={1: SHARED})
    edit_return(clean[0], out / "e-resubmitted.xlsx", mindset={1: NEW})  # a-original's unit, OLD replaced
    edit_return(clean[3], out / "f-old-text.xlsx", **named[3], mindset={1: OLD}, facts={2: SHARED})
    edit_return(clean[4], out / "g-repeat.xlsx", **named[4], mindset={2: REPEAT, 3: REPEAT})
    return out, generated_samples / "registry.xlsx"


def _ingest_copies(root, inbox, registry, *, batch_size, executor=None):
    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import init_home

    home = init_home(root)
    home.import_registry(registry, from_period=PERIOD)
    result = ingest_paths(home, [inbox], period=PERIOD, received_at=RECEIVED, batch_size=batch_size,
                          receipts=False, executor=executor)  # fmt: skip
    ids = [f.submission_id for f in result.files]
    reports = {f.path.name: r.to_dict() for f, r in zip(result.files, home.store.reports(ids), strict=True)}
    ledger = home.store.submissions(PERIOD).drop("ingested_at").sort("submission_id")
    texts = home.store.texts(PERIOD).sort(["unit", "sheet", "row", "column"])
    return reports, ledger, texts


def test_copy_findings_do_not_depend_on_batches_workers_or_executor(copies_inbox, tmp_path):
    """One batch in process, and one file per batch on two pool workers: the same ledger, findings (order
    included) and stored texts; each return is compared with what the store holds when it is recorded."""
    inbox, registry = copies_inbox
    whole = _ingest_copies(tmp_path / "whole", inbox, registry, batch_size=1000)
    with LocalExecutor(workers=2) as ex:
        single = _ingest_copies(tmp_path / "single", inbox, registry, batch_size=1, executor=ex)
    assert single[0] == whole[0]
    assert_frame_equal(single[1], whole[1])
    assert_frame_equal(single[2], whole[2])

    def copied(name):
        return [(f["cell"], f["message"]) for f in whole[0][name]["findings"] if f["code"] == "copied-text"]

    unit = whole[0]["a-original.xlsx"]["unit"]
    assert copied("a-original.xlsx") == []  # recorded first: nothing to copy from
    assert len(copied("b-copy.xlsx")) >= 2 and all(unit in m for _c, m in copied("b-copy.xlsx"))
    assert whole[0]["c-rejected.xlsx"]["accepted"] is False
    assert copied("d-after-rejected.xlsx") == []  # a rejected return's texts are not stored
    # OLD is no longer a current text of a-original's unit, but still b-copy's; SHARED is d's
    named = {m.split("单位“")[1].split("”")[0] for _c, m in copied("f-old-text.xlsx")}
    assert named == {whole[0]["b-copy.xlsx"]["unit"], whole[0]["d-after-rejected.xlsx"]["unit"]}
    (repeat,) = copied("g-repeat.xlsx")  # a repeat within the return keeps its finding alone
    assert "本表整改台账" in repeat[1]
    for report in whole[0].values():  # findings in their place in the file
        places = [(f["sheet"] or "", f["row"] or 0) for f in report["findings"] if f["sheet"] == "整改台账"]
        assert places == sorted(places)


def test_ingest_rejects_address_without_ray(tmp_path):
    from click.testing import CliRunner

    from jobs.cli import main

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    result = CliRunner().invoke(main, ["ingest", str(inbox), "--period", "2015-02", "--home", str(tmp_path / "h"),
                                       "--address", "ray://head:10001"])  # fmt: skip
    assert result.exit_code == 2
    assert "--executor ray" in result.output


def test_ray_missing_is_a_clear_error(monkeypatch):
    import builtins

    from jobs.intake.executors import RayExecutor

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorError, match=r"rectify\[cluster\]"):
        RayExecutor()


@pytest.mark.slow
def test_ingest_cli_with_workers(generated_samples, tmp_path):
    from click.testing import CliRunner

    from jobs.cli import main
    from jobs.office.home import init_home

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for src in sorted((generated_samples / "returns" / PERIOD).iterdir())[:4]:
        shutil.copyfile(src, inbox / src.name)
    home = init_home(tmp_path / "home")
    home.import_registry(generated_samples / "registry.xlsx", from_period=PERIOD)
    args = ["ingest", str(inbox), "--period", PERIOD, "--home", str(home.root), "--batch-size", "2",
            "--workers", "2", "--received-at", "2015-02-27T16:30:00"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    assert "共4个文件" in result.output
    assert "已处理" not in result.output  # no progress line when not a terminal
    assert home.store.submissions(PERIOD).height == 4
