"""Great Expectations: the only module of the project that imports it.

Checks (suites.py) become one GX expectation suite per check frame, built once
per process and cached; each frame of the whole batch is validated in ONE
run with ``result_format=COMPLETE`` on the default RangeIndex, so
``unexpected_index_list`` holds row positions we join back to Polars.
``import great_expectations`` costs ~5 s: it happens on first use only.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from jobs.validate.suites import Check, Cond

_LOCK = threading.RLock()
_STATE: dict[str, Any] = {}
TIMINGS: dict[str, float] = {"import": 0.0, "run": 0.0, "to_pandas": 0.0}


class GXFailure(RuntimeError):
    """GX could not evaluate a declared check (a bug in a check or a GX regression)."""


def _gx() -> tuple[Any, Any]:
    """The ``great_expectations`` module and an ephemeral context with progress bars off."""
    with _LOCK:
        if "ctx" not in _STATE:
            started = time.perf_counter()
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
            _STATE.update(gx=gx, ctx=ctx, source=ctx.data_sources.add_pandas("rectify"), defs={})
            TIMINGS["import"] += time.perf_counter() - started
        return _STATE["gx"], _STATE["ctx"]


def _condition(cond: Cond | None) -> Any:
    if cond is None:
        return None
    from great_expectations.expectations.row_conditions import Column

    col = Column(cond.column)
    if cond.op == "eq":
        return col == cond.value
    if cond.op == "in":
        return col.is_in(list(cond.value))
    return col.is_not_null()


def expectation(check: Check) -> Any:
    """The GX expectation for one check; ``meta.check`` carries the check id back."""
    gx, _ctx = _gx()
    E = gx.expectations  # noqa: N806 - GX's own namespace
    kw: dict[str, Any] = {"meta": {"check": check.id}}
    cond = _condition(check.when)
    if cond is not None:
        kw["row_condition"] = cond
    if check.kind == "not_null":
        return E.ExpectColumnValuesToNotBeNull(column=check.column, **kw)
    if check.kind == "null":
        return E.ExpectColumnValuesToBeNull(column=check.column, **kw)
    if check.kind == "in_set":
        return E.ExpectColumnValuesToBeInSet(column=check.column, value_set=list(check.value_set), **kw)
    if check.kind == "not_in_set":
        return E.ExpectColumnValuesToNotBeInSet(column=check.column, value_set=list(check.value_set), **kw)
    if check.kind == "between":
        return E.ExpectColumnValuesToBeBetween(column=check.column, min_value=check.min_value, **kw)
    if check.kind == "pair_ge":
        return E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=check.column, column_B=check.other, or_equal=True, ignore_row_if="either_value_is_missing", **kw
        )
    if check.kind == "pair_eq":
        return E.ExpectColumnPairValuesToBeEqual(
            column_A=check.column, column_B=check.other, ignore_row_if="either_value_is_missing", **kw
        )
    msg = f"unknown check kind {check.kind!r}"
    raise ValueError(msg)


def _definition(name: str, checks: Sequence[Check]) -> Any:
    """A validation definition for ``checks`` on frame ``name``, cached by the checks' content."""
    gx, ctx = _gx()
    digest = hashlib.sha1(repr((name, tuple(checks))).encode()).hexdigest()[:12]
    with _LOCK:
        defs = _STATE["defs"]
        if digest not in defs:
            asset = _STATE["source"].add_dataframe_asset(f"{name}-{digest}")
            batch = asset.add_batch_definition_whole_dataframe("whole")
            suite = gx.ExpectationSuite(name=f"{name}-{digest}")
            for check in checks:
                suite.add_expectation(expectation(check))
            suite = ctx.suites.add(suite)
            defs[digest] = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=f"{name}-{digest}", data=batch, suite=suite)
            )
        return defs[digest]


def _pandas(frame: pl.DataFrame, checks: Sequence[Check]) -> Any:
    needed: list[str] = []
    for check in checks:
        for col in (check.column, check.other, check.when.column if check.when else None):
            if col is not None and col not in needed:
                needed.append(col)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        msg = f"check frame lacks columns {missing}"
        raise GXFailure(msg)
    return frame.select(needed).to_pandas()


def failing_positions(frames: Mapping[str, pl.DataFrame], checks: Mapping[str, Sequence[Check]]) -> dict[str, list[int]]:
    """Validate every frame once; return, per check id, the row positions that fail it.

    Parameters
    ----------
    frames
        Check frames by name (sheet key or facts frame).
    checks
        Declared checks by the same names.
    """
    out: dict[str, list[int]] = {}
    for name, frame_checks in checks.items():
        frame = frames.get(name)
        if frame is None or frame.height == 0 or not frame_checks:
            continue
        started = time.perf_counter()
        df = _pandas(frame, frame_checks)
        TIMINGS["to_pandas"] += time.perf_counter() - started
        definition = _definition(name, frame_checks)
        started = time.perf_counter()
        result = definition.run(batch_parameters={"dataframe": df}, result_format={"result_format": "COMPLETE"})
        TIMINGS["run"] += time.perf_counter() - started
        for res in result.results:
            check_id = res.expectation_config.meta["check"]
            info = res.exception_info or {}
            if info.get("raised_exception"):
                msg = f"GX could not evaluate check {check_id}: {info.get('exception_message')}"
                raise GXFailure(msg)
            if not res.success:
                out[check_id] = [int(i) for i in res.result.get("unexpected_index_list") or []]
    return out
