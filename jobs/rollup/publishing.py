"""``rectify publish``: summarize a period as the ledger shows it now and record that as its publication.

Under the home's lock: the period is loaded ``live`` (every return recorded
so far, withdrawals and restores included), summarized, the summary saved
(:func:`jobs.rollup.run.save_summary`: its folder switches in one rename) and
the publication recorded in one ledger transaction
(:mod:`jobs.store.publication`). A kill at any step before that commit leaves
the previous publication in force; the saved summary is a cache keyed by its
fingerprint, so whichever version a kill leaves there is recomputed when it
is not the published one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.rollup.period import load_period
from jobs.rollup.run import month_end, output_dir, save_summary
from jobs.store.publication import check_revision
from jobs.store.types import FaultHook, fault

if TYPE_CHECKING:
    from jobs.office.home import Home
    from jobs.store.publication import Publication


def publish_period(
    home: Home,
    *,
    period: str,
    by: str,
    note: str = "",
    revise: bool = False,
    reason: str | None = None,
    fault_hook: FaultHook | None = None,
) -> Publication:
    """Publish ``period`` (revision 1), or publish it again (``revise``, with ``reason``).

    Raises
    ------
    jobs.store.publication.PublicationError
        Already published (without ``revise``), not yet published (with
        ``revise``), or a revision without a reason.
    """
    with home.lock(holder="rectify publish"):
        found = home.store.publications(period)  # refused before summarizing; checked again in the transaction
        check_revision(period, found[-1].revision if found else None, revise=revise, reason=reason)
        view = load_period(home, period, live=True)
        month = month_end(view, holding_lock=True)
        fault("publish-summarized", fault_hook)
        save_summary(month.summary, output_dir(home, period), closed=month.closed, fingerprint=month.fingerprint)
        national = {**month.summary.national, "warnings": month.summary.warnings}
        return home.store.publish(
            period=period, revise=revise, note=note.strip(), reason=reason, by=by, at=home.now(),
            registry_version=view.registry_version, deadline=view.deadline, fingerprint=month.fingerprint,
            summary=national, fault_hook=fault_hook,
        )  # fmt: skip
