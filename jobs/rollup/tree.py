"""The registry tree as an ancestor (closure) table.

Rolling a subtree up is then one join and one group-by: every node's figures
are added to each of its ancestors. The table has one row per (node, ancestor)
pair, i.e. nodes x depth rows (depth <= 6 levels), so the roll-up stays linear.
"""

from __future__ import annotations

import polars as pl

from jobs.registry import RegistryError


def closure(registry: pl.DataFrame) -> pl.DataFrame:
    """Return ``ancestor, descendant, depth`` for every node and each of its ancestors (itself at depth 0).

    Raises
    ------
    RegistryError
        When the parent links do not end at a root (cycle).
    """
    parents = registry.select(
        pl.col("code").alias("descendant_of"), pl.col("parent").alias("next")
    ).filter(pl.col("next").is_not_null())
    step = registry.select(pl.col("code").alias("ancestor"), pl.col("code").alias("descendant"), pl.lit(0, pl.Int32).alias("depth"))
    parts = [step]
    for _ in range(registry.height + 1):
        step = (
            step.join(parents, left_on="ancestor", right_on="descendant_of", how="inner")
            .select(pl.col("next").alias("ancestor"), "descendant", (pl.col("depth") + 1).alias("depth"))
        )
        if step.height == 0:
            return pl.concat(parts)
        parts.append(step)
    msg = "上下级关系成环，无法逐级汇总"
    raise RegistryError([msg])


def subtree_codes(tree: pl.DataFrame, code: str) -> pl.Series:
    """Codes of ``code`` and every unit below it."""
    return tree.filter(pl.col("ancestor") == code)["descendant"]


def root_code(registry: pl.DataFrame) -> str:
    """The registry's root (the node without a parent)."""
    roots = registry.filter(pl.col("parent").is_null())["code"]
    if roots.len() != 1:
        msg = f"名册应有且只有一个根单位，现有{roots.len()}个"
        raise RegistryError([msg])
    return str(roots[0])
