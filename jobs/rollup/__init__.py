"""The roll-up: per unit, per subtree, per 类别 and national indicators of a period.

Entry points: :func:`jobs.rollup.summary.summarize` (pure, over frames),
:func:`jobs.rollup.summary.node_json` (the spec's JSON for any node),
:func:`jobs.rollup.run.summarize_home` (from an office home), and the 汇总
return (federated roll-up) in :mod:`jobs.rollup.summary_return`.
"""
