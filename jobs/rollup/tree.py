"""The registry tree as an ancestor (closure) table.

Rolling a subtree up is then one join and one group-by: every node's figures
are added to each of its ancestors. The table has one row per (node, ancestor)
pair, i.e. nodes x depth rows (depth <= 6 levels), so the roll-up stays linear.
"""

from __future__ import annotations

import polars as pl

from jobs.office.registry import RegistryError


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


def depths(tree: pl.DataFrame) -> pl.DataFrame:
    """``code, depth``: each node's distance from the root (0 for the root)."""
    return tree.group_by("descendant").agg(pl.col("depth").max()).rename({"descendant": "code"})


def roll_up(registry: pl.DataFrame, tree: pl.DataFrame, contrib: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Subtree sums of ``keys`` for every registry node (``code`` + keys).

    ``contrib`` may hold several rows per ``code``. Level by level, deepest
    first: a level's subtree sums are its own figures plus the sums of its
    children, so each node is touched twice and the cost is linear in nodes.
    """
    # several rows per code only when 汇总 returns were folded in (one per 类别)
    unique = contrib["code"].n_unique() == contrib.height
    own = contrib.select("code", *keys) if unique else contrib.group_by("code").agg(pl.col(keys).sum())
    frame = (
        registry.select("code", "parent")
        .join(depths(tree), on="code", how="left")
        .join(own, on="code", how="left")
        .with_columns(pl.col(keys).fill_null(0))
    )
    levels = frame.partition_by("depth", as_dict=True)
    out, carry = [], None
    for (_depth,), level in sorted(levels.items(), key=lambda kv: -kv[0][0]):
        if carry is not None:
            level = level.join(carry, left_on="code", right_on="parent", how="left", suffix="\x00").with_columns(
                (pl.col(k) + pl.col(k + "\x00").fill_null(0)).alias(k) for k in keys
            ).select(frame.columns)
        out.append(level)
        carry = level.group_by("parent").agg(pl.col(keys).sum())
    return pl.concat(out).select("code", *keys)


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
