"""File names and receipt names never lose or block a return (issue #16, items 1 and 2).

A received name is bytes the office did not choose: a GBK name from a
Windows zip unpacked on Linux is not UTF-8, a name may be 250 bytes, a
单位代码 200 characters. Such a name is stored losslessly, shown readably,
and affects no other file; a receipt that cannot be written never stops the
others or the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from jobs.core.excel_safe import MAX_NAME_BYTES, joined_filename, safe_filename
from jobs.core.names import display_name, name_bytes
from jobs.intake.batch import _receipt_in
from jobs.intake.parallel import ingest_paths
from jobs.store import Store
from tests.conftest import home_with_registry
from tests.test_intake import PERIOD, FakeValidator, put
from tests.test_intake import REGISTRY as TWO_UNITS

REGISTRY = TWO_UNITS + "130000,河北省,000000,省级,地方,王五,0311-1,是\n"

GBK_NAME = "北京市整改台账.xlsx".encode("gbk")  # not UTF-8: what unzip leaves of a Windows zip


@pytest.fixture
def home(tmp_path):
    return home_with_registry(tmp_path, REGISTRY)


def put_bytes(folder: Path, name: bytes, unit: str, problems: list[str]) -> Path:
    """A FakeValidator return under a name given as bytes (any bytes but ``/`` and NUL)."""
    path = put(folder, "placeholder.xlsx", unit, problems)
    target = os.fsencode(folder) + b"/" + name
    os.rename(os.fsencode(path), target)
    return Path(os.fsdecode(target))


def ledger_rows(home) -> list[tuple]:
    with sqlite3.connect(home.store.ledger_path) as conn:
        return conn.execute("SELECT * FROM submissions ORDER BY submission_id").fetchall()


def outbox(home) -> list[str]:
    folder = home.outbox(PERIOD)
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


# -- the two views of a name ---------------------------------------------------


def test_display_name_is_readable_text_and_name_bytes_are_exact():
    gbk = os.fsdecode(GBK_NAME)
    assert display_name(gbk) == "北京市整改台账.xlsx"  # decoded as GB18030 when that works
    assert name_bytes(gbk) == GBK_NAME
    odd = os.fsdecode(b"r\xff\xfe.xlsx")  # neither UTF-8 nor GB18030
    assert display_name(odd) == "r\\xff\\xfe.xlsx" and name_bytes(odd) == b"r\xff\xfe.xlsx"
    assert display_name("a\nb\x1b.xlsx") == "a\\x0ab\\x1b.xlsx"  # one line, no terminal escapes
    assert display_name("北京市.xlsx") == "北京市.xlsx"
    assert display_name("\ud800.xlsx") == "\\xed\\xa0\\x80.xlsx"  # a surrogate no file system made
    for name in (gbk, odd, "北京市.xlsx"):
        display_name(name).encode("utf-8")  # never raises


def test_made_names_are_bounded_in_bytes_and_keep_their_tail():
    assert len(safe_filename("很" * 120).encode()) <= MAX_NAME_BYTES  # 120 ideographs are 360 bytes
    assert safe_filename("北京市") == "北京市"
    name = joined_filename("单" * 200, "长" * 80, tail="_0123abcd.xlsx")
    assert name.endswith("_0123abcd.xlsx") and len(name.encode()) <= MAX_NAME_BYTES
    unit, stem = name.removesuffix("_0123abcd.xlsx").split("_")
    assert unit.startswith("单") and stem.startswith("长") and abs(len(unit) - len(stem)) <= 1  # fair shares
    short = joined_filename("110000", "长" * 80, tail="_0123abcd.xlsx")
    assert short.startswith("110000_长") and len(short.encode()) <= MAX_NAME_BYTES  # the short part kept whole
    assert joined_filename("110000", "北京市", tail="_ab.xlsx") == "110000_北京市_ab.xlsx"  # as before when it fits


# -- item 1: a non-UTF-8 name ---------------------------------------------------


def test_a_gbk_named_file_is_recorded_with_its_batch_and_gets_a_receipt(home, tmp_path):
    inbox = tmp_path / "inbox"
    put(inbox, "bj.xlsx", "110000", ["甲"])
    put(inbox, "tj.xlsx", "120000", ["乙"])
    odd = put_bytes(inbox, GBK_NAME, "130000", ["丙", "丁"])
    result = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())

    assert [f.status for f in result.files] == ["stored"] * 3
    assert all(f.receipt is not None and f.receipt.is_file() for f in result.files)
    subs = home.store.submissions(PERIOD)
    assert sorted(subs["file_name"]) == ["bj.xlsx", "tj.xlsx", "北京市整改台账.xlsx"]
    (sid,) = subs.filter(subs["file_name"] == "北京市整改台账.xlsx")["submission_id"]
    assert home.store.received_names([sid]) == [GBK_NAME]  # lossless
    assert home.store.received_names(subs["submission_id"].to_list()).count(b"bj.xlsx") == 1
    assert home.store.load_tables(PERIOD)["ledger"].height == 4
    (receipt,) = [f.receipt for f in result.files if f.path == odd]
    assert receipt.name.startswith("130000_北京市整改台账_")

    before, receipts = ledger_rows(home), outbox(home)
    again = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    assert [f.status for f in again.files] == ["duplicate"] * 3
    assert ledger_rows(home) == before and outbox(home) == receipts


def test_cli_ingest_shows_an_odd_name_readably(home, tmp_path, monkeypatch):
    import jobs.intake.batch
    from jobs.cli import main

    monkeypatch.setattr(jobs.intake.batch, "default_validator", lambda: FakeValidator())

    inbox = tmp_path / "inbox"
    put_bytes(inbox, GBK_NAME, "110000", ["甲"])
    put_bytes(inbox, b"r\xff\xfe.xlsx", "120000", ["乙"])
    runner = CliRunner()
    out = runner.invoke(main, ["ingest", str(inbox), "--period", PERIOD, "--home", str(home.root),
                               "--workers", "1", "--quiet"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "✓ 北京市整改台账.xlsx：110000" in out.output and "✓ r\\xff\\xfe.xlsx：120000" in out.output
    assert "新入库2个" in out.output


def test_a_long_or_undecodable_extension_is_archived_as_bin(home, tmp_path):
    inbox = tmp_path / "inbox"
    put(inbox, "bj.xlsx", "110000", ["甲"])
    put_bytes(inbox, b"tj." + "台账".encode("gbk"), "120000", ["乙"])
    put(inbox, "hb." + "x" * 240, "110000", ["丙"])
    result = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    assert [f.status for f in result.files] == ["stored"] * 3
    paths = sorted(home.store.submissions(PERIOD)["archive_path"])
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["bin", "bin", "xlsx"]
    assert all((home.store.root / p).is_file() for p in paths)


def test_an_older_ledger_gets_the_raw_name_column_with_its_first_batch(tmp_path):
    from jobs.store.types import LEDGER_DDL

    root = tmp_path / "store"
    root.mkdir()
    old_ddl = LEDGER_DDL.replace("    batch_id TEXT NOT NULL,\n    file_name_raw BLOB\n", "    batch_id TEXT NOT NULL\n")
    assert old_ddl != LEDGER_DDL
    with sqlite3.connect(root / "ledger.sqlite") as conn:
        conn.executescript(old_ddl)
        conn.execute(
            "INSERT INTO submissions VALUES ('2015-02-old', '110000', ?, 'old.xlsx', 'aa', '2015-02-01T00:00:00', "
            "'2015-02-01T00:00:00', 1, 0, 0, 1, NULL, '本级', 'archive/aa/aa.xlsx', 'b0')",
            (PERIOD,),
        )
        conn.execute("INSERT INTO batches VALUES ('b0', ?, '2015-02-01T00:00:00', 1)", (PERIOD,))
    store = Store(root)
    assert store.received_names(["2015-02-old"]) == [b"old.xlsx"]  # readable before any write

    from tests.test_store import make_arrival

    arrival = make_arrival(store, tmp_path, os.fsdecode(GBK_NAME), b"new content", unit="120000")
    (outcome,) = store.write_batch(PERIOD, [arrival], ingested_at=datetime(2015, 2, 2))
    assert outcome.status == "stored"
    subs = store.submissions(PERIOD)
    assert subs.height == 2 and sorted(subs["file_name"]) == ["old.xlsx", "北京市整改台账.xlsx"]
    assert store.received_names(["2015-02-old", outcome.submission_id]) == [b"old.xlsx", GBK_NAME]


def test_watch_records_a_gbk_named_file_and_sends_its_receipt(home, tmp_path):
    from jobs.intake.watch import InboxWatcher
    from tests.test_watch import fake_validator, wait_for

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    results, errors = [], []
    with InboxWatcher(home, inbox, period=PERIOD, validator=fake_validator, settle=0.2,
                      on_result=results.append, on_error=errors.append):  # fmt: skip
        (inbox / "bj.xlsx").write_text(json.dumps({"unit": "110000"}), encoding="utf-8")
        with open(os.fsencode(inbox) + b"/" + GBK_NAME, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"unit": "120000"}))
        assert wait_for(lambda: sum(len(r.files) for r in results) >= 2), errors
    assert errors == []
    assert sorted(home.store.submissions(PERIOD)["file_name"]) == ["bj.xlsx", "北京市整改台账.xlsx"]
    assert len(outbox(home)) == 2 and any(n.startswith("120000_北京市整改台账_") for n in outbox(home))


# -- item 2: long names, failing receipts -----------------------------------------


def test_long_names_and_unit_codes_give_bounded_unique_receipts(home, tmp_path):
    inbox = tmp_path / "inbox"
    long_ascii = "a" * 240  # + "-1.xlsx": 247 bytes
    long_cjk = "很长的文件名" * 13  # 234 bytes + 7
    unit = "单" * 200
    names = [f"{long_ascii}-1.xlsx", f"{long_ascii}-2.xlsx", f"{long_cjk}-1.xlsx", f"{long_cjk}-2.xlsx"]
    for n, name in enumerate(names):
        put(inbox, name, "110000" if n % 2 else unit, [f"问题{n}"])
    put(inbox, "bj.xlsx", "110000", ["甲"])
    result = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), batch_size=2)

    assert [f.status for f in result.files] == ["stored"] * 5
    assert not [f.receipt_error for f in result.files if f.receipt_error]
    receipts = [f.receipt for f in result.files]
    assert all(r is not None and r.is_file() for r in receipts)
    assert len({r.name for r in receipts}) == 5  # unique
    assert all(len(r.name.encode()) <= MAX_NAME_BYTES for r in receipts)  # bounded
    assert sorted(r.name for r in receipts) == outbox(home)
    assert any(r.name.startswith("单单") for r in receipts)
    assert home.store.submissions(PERIOD).height == 5

    before = ledger_rows(home)
    again = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), batch_size=2)
    assert [f.status for f in again.files] == ["duplicate"] * 5
    assert [f.receipt for f in again.files] == receipts and ledger_rows(home) == before


def _blocked_receipt(home, path: Path, unit: str) -> Path:
    """Put a folder where ``path``'s receipt goes: writing that one receipt fails (even as root)."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    target = _receipt_in(home.outbox(PERIOD), unit=unit, file_name=path.name, sha256=sha, ext="xlsx")
    (target / "occupied").mkdir(parents=True)
    return target


def test_a_receipt_that_cannot_be_written_blocks_neither_the_others_nor_the_ledger(home, tmp_path):
    inbox = tmp_path / "inbox"
    first = put(inbox, "a.xlsx", "110000", ["甲"])
    for n in range(4):
        put(inbox, f"b{n}.xlsx", "120000" if n % 2 else "110000", [f"问题{n}"])
    blocked = _blocked_receipt(home, first, "110000")
    # one file per batch, one process: a failure used to stop the ledger at the first batch
    result = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), batch_size=1)

    assert [f.status for f in result.files] == ["stored"] * 5
    assert home.store.submissions(PERIOD).height == 5
    current = sorted(home.store.current(PERIOD)["submission_id"])
    assert len(current) == 2 and sorted(home.store.load_tables(PERIOD)["ledger"]["submission_id"]) == current
    (failed,) = [f for f in result.files if f.receipt is None]
    assert failed.path == first and "回执未能写入" in failed.receipt_error
    assert sum(1 for f in result.files if f.receipt is not None and f.receipt.is_file()) == 4

    shutil.rmtree(blocked)  # the cause removed: the next run writes the missing receipt, records nothing new
    before = ledger_rows(home)
    again = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), batch_size=1)
    assert [f.status for f in again.files] == ["duplicate"] * 5
    assert all(f.receipt is not None and f.receipt.is_file() and not f.receipt_error for f in again.files)
    assert ledger_rows(home) == before and len(outbox(home)) == 5


def test_a_receipt_writer_error_is_reported_per_file(home, tmp_path, monkeypatch):
    import jobs.intake.receipts

    inbox = tmp_path / "inbox"
    put(inbox, "bj.xlsx", "110000", ["甲"])
    put(inbox, "tj.xlsx", "120000", ["乙"])
    real = jobs.intake.receipts.write_receipt

    def full_disk_for_tj(report, path, **kwargs):
        if report.unit == "120000":
            raise OSError(28, "No space left on device")
        return real(report, path, **kwargs)

    monkeypatch.setattr(jobs.intake.receipts, "write_receipt", full_disk_for_tj)
    result = ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator())
    assert [f.status for f in result.files] == ["stored", "stored"]
    assert result.files[0].receipt.is_file() and result.files[1].receipt is None
    assert "No space left on device" in result.files[1].receipt_error
    assert not [p for p in home.outbox(PERIOD).iterdir() if p.name.endswith(".tmp")]


def test_cli_ingest_says_which_receipt_is_missing_and_exits_1(home, tmp_path, monkeypatch):
    import jobs.intake.batch
    from jobs.cli import main

    monkeypatch.setattr(jobs.intake.batch, "default_validator", lambda: FakeValidator())

    inbox = tmp_path / "inbox"
    first = put(inbox, "bj.xlsx", "110000", ["甲"])
    put(inbox, "tj.xlsx", "120000", ["乙"])
    _blocked_receipt(home, first, "110000")
    out = CliRunner().invoke(main, ["ingest", str(inbox), "--period", PERIOD, "--home", str(home.root),
                                    "--workers", "1", "--quiet"])  # fmt: skip
    assert out.exit_code == 1
    assert "回执未能写入" in out.output and "有1份回执未能写入" in out.output and "新入库2个" in out.output
    assert home.store.submissions(PERIOD).height == 2


def test_cli_validate_shows_odd_names_readably_and_bounds_receipt_names(tmp_path):
    from jobs.cli import main
    from jobs.office.template import write_template

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    blank = write_template(tmp_path / "blank.xlsx")
    for name in (GBK_NAME, ("很长的文件名" * 13 + ".xlsx").encode(), b"r\xff.xlsx"):
        shutil.copyfile(blank, os.fsencode(inbox) + b"/" + name)
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(main, ["validate", str(inbox), "--period", PERIOD, "--registry", str(tmp_path / "registry.csv"),
                               "--json", "--receipts", str(tmp_path / "receipts")])  # fmt: skip
    assert out.exit_code == 1, out.output  # a blank return is rejected
    files = sorted(Path(json.loads(line)["file"]).name for line in out.stdout.splitlines())
    assert files == sorted(["北京市整改台账.xlsx", "很长的文件名" * 13 + ".xlsx", "r\\xff.xlsx"])
    receipts = sorted(p.name for p in (tmp_path / "receipts").iterdir())
    assert len(receipts) == 3 and all(len(r.encode()) <= MAX_NAME_BYTES for r in receipts)
    assert any(r.startswith("未识别_北京市整改台账_回执") for r in receipts)

    text = runner.invoke(main, ["validate", str(inbox), "--period", PERIOD, "--registry",
                                str(tmp_path / "registry.csv")])  # fmt: skip
    assert "✗ 北京市整改台账.xlsx（" in text.output


def test_recorded_tables_do_not_depend_on_odd_names(tmp_path):
    """The same returns under plain and odd names record the same rows."""
    homes = []
    for n, names in enumerate(([b"bj.xlsx", b"tj.xlsx"], [GBK_NAME, b"t" * 240 + b".xlsx"])):
        home = home_with_registry(tmp_path / f"h{n}", REGISTRY)
        inbox = tmp_path / f"in{n}"
        put_bytes(inbox, names[0], "110000", ["甲", "乙"])
        put_bytes(inbox, names[1], "120000", ["丙"])
        ingest_paths(home, [inbox], period=PERIOD, validator=FakeValidator(), received_at=datetime(2015, 2, 20))
        homes.append(home)
    plain, odd = (h.store.load_tables(PERIOD)["ledger"] for h in homes)
    assert_frame_equal(plain.sort("submission_id", "row"), odd.sort("submission_id", "row"))


@pytest.mark.slow
def test_real_returns_in_a_pool_odd_names_and_a_failing_receipt_lose_nothing(generated_samples, tmp_path):
    """The issue's case with the real validator and worker processes writing the receipts."""
    from jobs.intake.executors import LocalExecutor
    from jobs.office.home import init_home

    manifest = json.loads((generated_samples / "manifest.json").read_text(encoding="utf-8"))
    files = sorted(f["path"] for f in manifest["files"] if f["period"] == PERIOD)[:8]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = [GBK_NAME, ("很长的文件名" * 13 + ".xlsx").encode()] + [Path(f).name.encode() for f in files[2:]]
    for source, name in zip(files, names, strict=True):
        shutil.copyfile(generated_samples / source, os.fsencode(inbox) + b"/" + name)
    home = init_home(tmp_path / "home")
    home.import_registry(generated_samples / "registry.xlsx", from_period=PERIOD)
    blocked_source = inbox / Path(files[-1]).name
    unit = next(f["unit"] for f in manifest["files"] if f["path"] == files[-1])
    _blocked_receipt(home, blocked_source, unit)

    with LocalExecutor(workers=2, preload=()) as pool:
        result = ingest_paths(home, [inbox], period=PERIOD, batch_size=3, executor=pool)
    assert [f.status for f in result.files].count("stored") == 8
    subs = home.store.submissions(PERIOD)
    assert subs.height == 8 and "北京市整改台账.xlsx" in subs["file_name"].to_list()
    assert sorted(home.store.received_names(subs["submission_id"].to_list())) == sorted(names)
    (failed,) = [f for f in result.files if f.receipt is None]
    assert failed.path == blocked_source and failed.receipt_error
    written = [f.receipt for f in result.files if f.receipt is not None]
    assert len(written) == 7 and all(r.is_file() and len(r.name.encode()) <= MAX_NAME_BYTES for r in written)

    before = ledger_rows(home)
    again = ingest_paths(home, [inbox], period=PERIOD, batch_size=3)
    assert {f.status for f in again.files} == {"duplicate"} and ledger_rows(home) == before


def test_a_summary_return_with_an_odd_name_is_named_readably(home, tmp_path):
    from jobs.rollup.period import SummaryReturnRejected, include_summaries

    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + GBK_NAME))
    path.write_bytes(b"not a workbook")
    with pytest.raises(SummaryReturnRejected) as caught:
        include_summaries([path], registry=home.registry(PERIOD), period=PERIOD)
    assert "- 北京市整改台账.xlsx：" in str(caught.value)
    str(caught.value).encode("utf-8")  # printable on any terminal
