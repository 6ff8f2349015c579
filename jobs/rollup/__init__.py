"""The roll-up: per unit, per subtree, per 类别 and national indicators of a period.

Entry points: :func:`jobs.rollup.coverage.compute_coverage` (the one per-unit
coverage model), :func:`jobs.rollup.summary.summarize` (pure, over frames),
:func:`jobs.rollup.summary.node_json` (the spec's JSON for any node),
:func:`jobs.rollup.period.load_period` (a period of an office home, loaded
once) and :func:`jobs.rollup.run.month_end` (summarize it against the saved
summaries of earlier periods), :mod:`jobs.rollup.status` (who reported, who
to chase), and the 汇总 return (federated roll-up) in :mod:`jobs.rollup.summary_return`.
"""
