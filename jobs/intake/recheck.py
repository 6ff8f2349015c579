"""``rectify recheck``: judge a recorded version's archived original again, on purpose, by the one pipeline.

For the office's own mistakes: a return rejected because the registry lacked
the unit (``unknown-unit``), or a threshold or the catalogue was wrong, is
judged again once that is fixed. The file is the archived original (the
archive is the source of truth: nothing needs to be at hand), copied under its
received name into a temporary folder and handed to
:func:`jobs.intake.parallel.ingest_paths` with ``again``: read, validated
against the registry and config in force now, recorded as a new version of
the unit, its receipt written. The arrival time stays the original one, so
whether it was on time does not change. The ledger's side (ids, the reason,
the migration) is :mod:`jobs.store.rechecks`; which version counts is
:mod:`jobs.store.history`'s one rule. A kill leaves the store as it was or
with the new version whole (the intake's crash safety); at most the
temporary copy stays behind in the system's temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from jobs.core.errors import StoreDamaged
from jobs.intake.batch import FileOutcome, IngestResult, Validator
from jobs.intake.parallel import ingest_paths
from jobs.office.home import Home
from jobs.store import FaultHook
from jobs.store.history import HistoryError, Version, find_version
from jobs.store.rechecks import Recheck, original


class RecheckError(HistoryError):
    """A re-judgement that cannot be done (Chinese message saying why)."""


@dataclass(frozen=True)
class RecheckResult:
    """What a re-judgement did: the version re-judged, the intake's outcome, the version counting now."""

    period: str
    unit: str
    of: Version
    outcome: FileOutcome
    intake: IngestResult
    counting: int | None  # for the re-judged version's report type

    @property
    def message(self) -> str:
        """Chinese summary for the clerk."""
        head = f"已重新审核单位{self.unit} {self.period} 第{self.of.version}版的原件“{self.of.file_name}”"
        o = self.outcome
        if o.status != "stored":
            return f"{head}，但未能入库：{o.message}"
        verdict = "接收" if o.accepted else "退回"
        text = f"{head}，记为第{o.version}版：{verdict}（错误{o.n_errors}项，提示{o.n_warnings}项）。"
        if self.counting is None:
            return text + "该单位本期仍无计入汇总的报表。"
        return text + f"现计入汇总的是第{self.counting}版。"


def recheck_version(
    home: Home,
    *,
    period: str,
    unit: str,
    version: int,
    reason: str,
    by: str,
    validator: Validator | None = None,
    receipts: bool = True,
    fault_hook: FaultHook | None = None,
) -> RecheckResult:
    """Judge ``unit``'s version ``version`` of ``period`` again from its archived original; record a new version.

    Raises
    ------
    RecheckError
        No reason, or no such version.
    jobs.core.errors.StoreDamaged
        The archived original is missing or its content changed.
    """
    reason = reason.strip()
    if not reason:
        msg = "请用 --reason 写明重新审核的原因（例如：名册已补录该单位）。"
        raise RecheckError(msg)
    found = home.store.versions(period, unit)
    target = find_version(found, period=period, unit=unit, version=version, error=RecheckError)
    store = home.store
    with closing(store.connect()) as conn:
        sha, archive_path, received_at = original(conn, target.submission_id)
    (name,) = store.received_names([target.submission_id])
    archived = store.root / archive_path
    try:
        data = archived.read_bytes()
    except OSError:
        data = b""
    if hashlib.sha256(data).hexdigest() != sha:
        msg = (f"无法重新审核：归档的原件“{archived}”不见了或内容已变。"
               "请从备份恢复归档文件夹（rectify store check 可查看归档是否完好）。")  # fmt: skip
        raise StoreDamaged(msg)
    again = Recheck(of=target.submission_id, of_version=version, sha256=sha, reason=reason, by=by, at=home.now())
    with tempfile.TemporaryDirectory(prefix="rectify-recheck-") as tmp:
        # under its received name (exact bytes), so the ledger, the receipt and the checks see that name
        copy = Path(tmp) / os.fsdecode(name)
        copy.write_bytes(data)
        intake = ingest_paths(home, [copy], period=period, received_at=received_at, validator=validator,
                              receipts=receipts, holder="rectify recheck", fault_hook=fault_hook, again=again)  # fmt: skip
    (outcome,) = intake.files
    after = store.versions(period, unit)
    counting = next((v.version for v in after if v.state == "counting" and v.report_type == target.report_type), None)
    return RecheckResult(period=period, unit=unit, of=target, outcome=outcome, intake=intake, counting=counting)
