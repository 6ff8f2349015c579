"""Great Expectations: the only module of the project that imports it.

Checks (suites.py) become one GX expectation suite per check frame, built once
per process and cached; each frame of the whole batch is validated in ONE
run with ``result_format=COMPLETE`` on the default RangeIndex, so
``unexpected_index_list`` holds row positions we join back to Polars.
``import great_expectations`` costs ~5 s: it happens on first use only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Group:
    """Same-kind single-column checks of one frame, validated as ONE expectation.

    GX's cost is mostly per expectation, not per row, so the checks' columns
    are stacked into one column ``g<j>`` (check ``i`` of the group occupies
    rows ``i*n .. i*n+n-1``). Set checks prefix each value with the check's
    index so every column keeps its own allowed set.
    """

    name: str
    checks: tuple[Check, ...]

    @property
    def head(self) -> Check:
        return self.checks[0]

    def expectation_check(self) -> Check:
        """The group as one check on the stacked column (and ``w<j>`` for its condition)."""
        head = self.head
        when = Cond(f"w{self.name}", head.when.op, head.when.value) if head.when else None
        value_set: tuple[Any, ...] = ()
        if head.kind in ("in_set", "not_in_set"):
            value_set = tuple(f"{i}\x1f{_text(v)}" for i, c in enumerate(self.checks) for v in c.value_set)
        return Check(id=f"group:{self.name}", frame=head.frame, code=head.code, kind=head.kind, column=self.name,
                     sheet=None, header=None, value_set=value_set, min_value=head.min_value, when=when)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plan(checks: Sequence[Check]) -> tuple[list[_Group], list[Check]]:
    """Group single-column checks by (kind, condition, bound); pair checks stay single."""
    keyed: dict[tuple[Any, ...], list[Check]] = {}
    pairs: list[Check] = []
    for check in checks:
        if check.other is not None:
            pairs.append(check)
        else:
            keyed.setdefault((check.kind, check.when, check.min_value), []).append(check)
    groups = [_Group(f"g{j}", tuple(cs)) for j, cs in enumerate(keyed.values())]
    return groups, pairs


def _stacked(frame: pl.DataFrame, group: _Group, length: int) -> list[pl.Series]:
    """The group's stacked value column (and condition column), padded to ``length`` with passing values."""
    n = frame.height
    head = group.head
    parts = []
    for i, check in enumerate(group.checks):
        col = pl.col(check.column)
        if head.kind in ("in_set", "not_in_set"):
            col = pl.when(col.is_not_null()).then(pl.format(f"{i}\x1f{{}}", col.cast(pl.Utf8)))
        elif head.kind == "between":
            col = col.cast(pl.Float64)
        else:
            col = col.cast(pl.Utf8)
        parts.append(frame.select(col.alias(group.name)).to_series())
    values = pl.concat(parts)
    pad = length - values.len()
    if pad:
        # nulls are skipped by every kind except not_null, which an empty string passes
        filler = "" if head.kind == "not_null" else None
        values = values.append(pl.Series(group.name, [filler] * pad, dtype=values.dtype))
    out = [values]
    if head.when is not None:
        cond = pl.concat([frame.get_column(head.when.column)] * len(group.checks))
        cond = cond.append(pl.Series([None] * (length - n * len(group.checks)), dtype=cond.dtype))
        out.append(cond.alias(f"w{group.name}"))
    return out


def _batch(frame: pl.DataFrame, groups: list[_Group], pairs: list[Check]) -> Any:
    """One pandas frame holding every stacked group and the pair checks' own columns."""
    length = max([frame.height * len(g.checks) for g in groups] + [frame.height])
    series: list[pl.Series] = []
    for group in groups:
        series += _stacked(frame, group, length)
    for check in pairs:
        for name in (check.column, check.other, check.when.column if check.when else None):
            if name is None or any(s.name == name for s in series):
                continue
            if name not in frame.columns:
                msg = f"check frame lacks column {name!r}"
                raise GXFailure(msg)
            col = frame.get_column(name)
            series.append(col.append(pl.Series([None] * (length - frame.height), dtype=col.dtype)))
    return pl.DataFrame(series).to_pandas()


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
        missing = sorted({c.column for c in frame_checks if c.column not in frame.columns})
        if missing:
            msg = f"check frame {name!r} lacks columns {missing}"
            raise GXFailure(msg)
        started = time.perf_counter()
        groups, pairs = plan(frame_checks)
        df = _batch(frame, groups, pairs)
        TIMINGS["to_pandas"] += time.perf_counter() - started
        declared = [g.expectation_check() for g in groups] + pairs
        definition = _definition(name, declared)
        by_id = {f"group:{g.name}": g for g in groups}
        n = frame.height
        started = time.perf_counter()
        result = definition.run(batch_parameters={"dataframe": df}, result_format={"result_format": "COMPLETE"})
        TIMINGS["run"] += time.perf_counter() - started
        for res in result.results:
            check_id = res.expectation_config.meta["check"]
            info = res.exception_info or {}
            if info.get("raised_exception"):
                msg = f"GX could not evaluate check {check_id}: {info.get('exception_message')}"
                raise GXFailure(msg)
            if res.success:
                continue
            rows = [int(i) for i in res.result.get("unexpected_index_list") or []]
            group = by_id.get(check_id)
            if group is None:
                out[check_id] = [r for r in rows if r < n]
                continue
            for r in rows:
                i, pos = divmod(r, n)
                if i < len(group.checks):
                    out.setdefault(group.checks[i].id, []).append(pos)
    return out


def warm_up(checks: Mapping[str, Sequence[Check]]) -> None:
    """Import GX and build every frame's suite now (long-lived processes: ``rectify watch``)."""
    for name, frame_checks in checks.items():
        groups, pairs = plan(frame_checks)
        _definition(name, [g.expectation_check() for g in groups] + pairs)
