"""``rectify store check`` and ``rectify store repair``: the store checked, its tables rebuilt from the archive.

The archive is the source of truth: a batch's Parquet parts hold the rows
read from its accepted returns' archived originals. Repair re-reads and
re-validates those originals with the intake's own pipeline
(:func:`jobs.intake.batch.read_validate_batch`), keeps the ledger's verdicts
(cross-unit copies and supersessions were decided when the batch was
recorded), labels the rows as intake does, and swaps the new parts in with
one ledger transaction (:func:`jobs.store.integrity.replace_parts`), under
the home's lock: a kill leaves the old parts or the new, never a mix.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from jobs.core.errors import StoreDamaged
from jobs.core.findings import Report
from jobs.core.tables import table_keys, table_schema
from jobs.intake.batch import Validator, read_validate_batch
from jobs.office.home import Home
from jobs.store import Archived, Arrival, FaultHook
from jobs.store.integrity import (
    Problem,
    check_store,
    iter_problem_batches,
    replace_parts,
)
from jobs.store.writer import labelled_tables


@dataclass(frozen=True)
class RepairResult:
    """What a repair did: the batches rebuilt (``(period, batch_id)``) and what is still wrong after it."""

    rebuilt: list[tuple[str, str]]
    remaining: list[Problem] = field(default_factory=list)


def check(home: Home) -> list[Problem]:
    """Every damage of the home's store (see :func:`jobs.store.integrity.check_store`).

    Under the lock: parts of batches recorded before the ledger knew its
    parts are recorded once they read back whole (the backfill).
    """
    store = home.store
    with home.lock(holder="rectify store check"):
        store.cleanup()
        return check_store(store.root, store.ledger_path, store.connect, backfill=True)


def repair(
    home: Home,
    *,
    everything: bool = False,
    validator: Validator | None = None,
    fault_hook: FaultHook | None = None,
) -> RepairResult:
    """Rebuild the damaged batches' parts (``everything``: every batch's) from the archived originals.

    Raises
    ------
    StoreDamaged
        The ledger itself is damaged, or an original a rebuilt batch needs
        is missing or changed in the archive (nothing is changed then).
    """
    store = home.store
    with home.lock(holder="rectify store repair"):
        store.cleanup()
        problems = check_store(store.root, store.ledger_path, store.connect)
        ledger = [p for p in problems if p.kind == "ledger-damaged"]
        if ledger:
            raise StoreDamaged(ledger[0].message)
        with closing(store.connect()) as conn:
            if everything:
                batches = [tuple(r) for r in conn.execute("SELECT period, batch_id FROM batches ORDER BY period, batch_id")]
            else:
                batches = list(iter_problem_batches(problems))
        lost = {p.path for p in problems if p.kind.startswith("archive-")}
        rebuilt = {(period, b): _rebuild(home, period, b, lost=lost, validator=validator) for period, b in batches}
        if rebuilt:
            replace_parts(store.root, store.connect, rebuilt, fault_hook=fault_hook)
        return RepairResult(rebuilt=list(rebuilt), remaining=check_store(store.root, store.ledger_path, store.connect))


def _rebuild(
    home: Home, period: str, batch_id: str, *, lost: set[Path], validator: Validator | None
) -> dict[str, pl.DataFrame]:
    """One batch's parts, from its accepted returns' originals, in the order the batch recorded them."""
    store = home.store
    with closing(store.connect()) as conn:
        rows = conn.execute(
            "SELECT submission_id, unit, file_name, received_at, archive_path, sha256 FROM submissions "
            "WHERE batch_id=? AND period=? AND accepted=1 ORDER BY rowid",  # rowid: the batch's recording order
            (batch_id, period),
        ).fetchall()
    if not rows:
        return {}
    paths = [store.root / r[4] for r in rows]
    gone = [p for p in paths if p in lost or not p.is_file()]
    if gone:
        msg = (f"无法重建：归档的原件“{gone[0]}”不见了或内容已变，它是重建数据表的依据。"
               "请从备份恢复归档文件夹后再运行 rectify store repair。")  # fmt: skip
        raise StoreDamaged(msg)
    times = {p: datetime.fromisoformat(r[3]) for p, r in zip(paths, rows, strict=True)}
    validated = read_validate_batch(paths, registry=home.registry(period), period=period, received_at=times,
                                    validator=validator, limits=home.config.limits)  # fmt: skip
    unread = [p for p, ok in zip(paths, validated.readable, strict=True) if not ok]
    if unread:
        msg = f"无法重建：归档的原件“{unread[0]}”现在读不出数据表，请检查该文件。"
        raise StoreDamaged(msg)
    fresh = [
        (i, Arrival(archived=Archived(source=p, sha256=r[5], archive_path=r[4]), file_name=r[2],
                    received_at=times[p], report=Report(file=r[2], unit=r[1], period=period), tables=None))
        for i, (p, r) in enumerate(zip(paths, rows, strict=True))
    ]  # fmt: skip
    layouts = {key: table_schema(key) for key in table_keys()}
    return labelled_tables(layouts, fresh, [r[0] for r in rows], period=period, stacked=validated.tables)
