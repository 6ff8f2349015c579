"""Great Expectations: the only module of the project that imports it.

Checks (suites.py) become one GX expectation suite, built once per process
and cached; every check frame of the whole batch is validated in ONE run
with ``result_format=COMPLETE`` on the default RangeIndex, so
``unexpected_index_list`` holds row positions we join back to Polars (see
``_Group`` for how checks of many frames share one expectation).
``import great_expectations`` costs ~3 s: it happens on first use only, with the
modules GX imports but our checks never use deferred (``jobs.validate.deferred``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl

from jobs.validate.deferred import deferred
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
            with deferred():  # scipy.stats and altair: imported by GX, never used by our checks
                import great_expectations as gx
                from great_expectations.data_context.types.base import (
                    ProgressBarsConfig,
                )

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
    E = gx.expectations
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


_SEP = "\x1f"  # member index / value
_ANY = "\x1e"  # member index: condition "is not null" holds
_ALWAYS = "\x1d"  # member index: unconditional member of a conditional group
_LONG = "\x1c"  # repeated: stands for every set-check value longer than the set's values


@dataclass(frozen=True)
class _Group:
    """Same-kind checks of every frame, validated as ONE expectation.

    GX's cost is per run and per expectation, and grows with rows, so:

    - the members' columns are stacked into one column ``v<name>`` (pairs:
      ``v``/``o``); set checks prefix each value with the member's index so
      every member keeps its own allowed set;
    - each member's condition becomes membership: its rows hold
      ``<index><SEP><value>`` in ``w<name>`` and the row condition is one
      ``is_in`` over every member's allowed values;
    - only distinct stacked rows reach GX: a row check's outcome depends on
      the row's values alone, so failures join back to every row carrying them.
      Nullness checks see a marker instead of the text (the outcome is the same,
      and long texts would otherwise never repeat). Likewise a set check's
      stacked text longer than every allowed value cannot be in the set, so
      GX sees one stand-in of that length (``_LONG * width``) for all of them:
      the placeholder check reads every 见物/见思想, and free text never repeats.
    """

    name: str
    frames: tuple[str, ...]  # member i's check frame
    members: tuple[Check, ...]

    @property
    def head(self) -> Check:
        return self.members[0]

    @property
    def pair(self) -> bool:
        return self.head.other is not None

    @property
    def conditional(self) -> bool:
        return any(c.when is not None for c in self.members)

    @cached_property
    def width(self) -> int:
        """One character more than the longest stacked allowed value: a longer value is not in the set."""
        return 1 + max((len(v) for v in self.expectation_check().value_set), default=0)

    @property
    def keys(self) -> list[str]:
        """The stacked columns a row's outcome depends on."""
        return [f"v{self.name}", *([f"o{self.name}"] if self.pair else []), *([f"w{self.name}"] if self.conditional else [])]

    def allowed_conditions(self) -> tuple[str, ...]:
        out: list[str] = []
        for i, check in enumerate(self.members):
            cond = check.when
            if cond is None:
                out.append(f"{i}{_ALWAYS}")
            elif cond.op == "eq":
                out.append(f"{i}{_SEP}{_text(cond.value)}")
            elif cond.op == "in":
                out += [f"{i}{_SEP}{_text(v)}" for v in cond.value]
            else:
                out.append(f"{i}{_ANY}")
        return tuple(out)

    def expectation_check(self) -> Check:
        """The group as one check on its stacked columns."""
        head = self.head
        when = Cond(f"w{self.name}", "in", self.allowed_conditions()) if self.conditional else None
        value_set: tuple[Any, ...] = ()
        if head.kind in ("in_set", "not_in_set"):
            value_set = tuple(f"{i}{_SEP}{_text(v)}" for i, c in enumerate(self.members) for v in c.value_set)
        return Check(id=f"group:{self.name}", frame="*", code=head.code, kind=head.kind, column=f"v{self.name}",
                     other=f"o{self.name}" if self.pair else None, sheet=None, header=None, value_set=value_set,
                     min_value=0 if head.kind == "between" else head.min_value, when=when)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plan(checks: Mapping[str, Sequence[Check]]) -> list[_Group]:
    """Group every frame's checks by kind (pair or not); conditions and lower bounds may differ within a group.

    A ``between`` member's values are stacked minus its own lower bound, so one
    expectation ``>= 0`` checks every bound.
    """
    keyed: dict[tuple[Any, ...], list[tuple[str, Check]]] = {}
    for frame, frame_checks in checks.items():
        for check in frame_checks:
            keyed.setdefault((check.kind, check.other is not None), []).append((frame, check))
    return [
        _Group(f"g{j}", tuple(f for f, _ in members), tuple(c for _, c in members))
        for j, members in enumerate(keyed.values())
    ]


def _comparable(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Pair operands in one representation across members: numbers and dates as Float64, else text."""
    if dtype.is_numeric() or dtype.is_temporal():
        return expr.to_physical().cast(pl.Float64)
    return expr.cast(pl.Utf8)


def _member_exprs(group: _Group, i: int, frame: pl.DataFrame) -> list[pl.Expr]:
    """Member ``i``'s stacked columns (``group.keys``) computed on its frame."""
    check, name = group.members[i], group.name
    col = pl.col(check.column)
    kind = check.kind
    if kind in ("in_set", "not_in_set"):
        # head(): a text of `width` characters or more is the stand-in whatever follows, so
        # long texts are not copied into the prefixed value only to be replaced
        text = pl.format(f"{i}{_SEP}{{}}", col.cast(pl.Utf8).str.head(group.width))
        long = pl.lit(_LONG * group.width, pl.Utf8)
        value = pl.when(col.is_not_null()).then(pl.when(text.str.len_chars() < group.width).then(text).otherwise(long))
    elif kind in ("not_null", "null"):
        value = pl.when(col.is_not_null()).then(pl.lit("x"))
    elif kind == "between":
        # exact: the values are counts and lengths, and x - m >= 0 iff x >= m in floating point
        value = col.cast(pl.Float64) - float(check.min_value or 0)
    else:
        value = _comparable(col, frame.schema[check.column])
    exprs = [value.alias(f"v{name}")]
    if group.pair:
        exprs.append(_comparable(pl.col(check.other), frame.schema[check.other]).alias(f"o{name}"))
    if group.conditional:
        cond = check.when
        if cond is None:
            when = pl.lit(f"{i}{_ALWAYS}")
        elif cond.op in ("eq", "in"):
            c = pl.col(cond.column)
            when = pl.when(c.is_not_null()).then(pl.format(f"{i}{_SEP}{{}}", c.cast(pl.Utf8)))
        else:
            when = pl.when(pl.col(cond.column).is_not_null()).then(pl.lit(f"{i}{_ANY}"))
        exprs.append(when.cast(pl.Utf8).alias(f"w{name}"))
    return exprs


def _sources(group: _Group, i: int) -> list[pl.Expr]:
    """The columns member ``i`` reads, each cut down to what its stacked value depends on.

    Distinct rows of these are few, so the stacked columns are computed on a
    handful of rows rather than on every frame row (100k 专项整治 rows hold a
    few dozen distinct counts): a nullness check needs only null or not, a set
    check on text only the first ``width`` characters (see ``_member_exprs``).
    """
    check = group.members[i]
    cut: dict[str, pl.Expr] = {}

    def add(name: str, expr: pl.Expr) -> None:
        # a column read twice, in two ways, is kept whole
        cut[name] = expr if cut.get(name, expr).meta.eq(expr) else pl.col(name)

    col = pl.col(check.column)
    if check.kind in ("not_null", "null"):
        add(check.column, pl.when(col.is_not_null()).then(pl.lit(True)).alias(check.column))
    elif check.kind in ("in_set", "not_in_set"):
        add(check.column, pl.when(col.is_not_null()).then(col.cast(pl.Utf8).str.head(group.width)).alias(check.column))
    else:
        add(check.column, col)
    if check.other is not None:
        add(check.other, pl.col(check.other))
    cond = check.when
    if cond is not None:
        c = pl.col(cond.column)
        add(cond.column, c if cond.op in ("eq", "in") else pl.when(c.is_not_null()).then(pl.lit(True)).alias(cond.column))
    return list(cut.values())


def _distinct(group: _Group, frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame | None:
    """The group's distinct stacked rows per member (``keys`` plus ``_m``); None when no member has rows."""
    parts = []
    for i, f in enumerate(group.frames):
        frame = frames.get(f)
        if frame is None or not frame.height:
            continue
        few = frame.select(_sources(group, i)).unique()
        parts.append(few.select(*_member_exprs(group, i, few)).unique().with_columns(pl.lit(i, pl.Int32).alias("_m")))
    return pl.concat(parts, how="vertical_relaxed") if parts else None


def _positions(group: _Group, frames: Mapping[str, pl.DataFrame], per_member: pl.DataFrame,
               failing: pl.DataFrame) -> dict[str, list[int]]:  # fmt: skip
    """Frame rows of every member carrying a failing distinct row (only members that have one are stacked)."""
    out: dict[str, list[int]] = {}
    hit = per_member.join(failing, on=group.keys, how="semi", nulls_equal=True).get_column("_m").unique().sort()
    for i in hit.to_list():
        frame = frames[group.frames[i]]
        rows = frame.select(*_member_exprs(group, i, frame), pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos"))
        positions = rows.join(failing, on=group.keys, how="semi", nulls_equal=True).get_column("_pos")
        out[group.members[i].id] = sorted(positions.to_list())
    return out


def _gx_frame(distinct: Mapping[str, pl.DataFrame], groups: Mapping[str, _Group]) -> Any:
    """One pandas frame: every group's distinct rows, padded with passing values to a common length."""
    length = max(d.height for d in distinct.values())
    series: list[pl.Series] = []
    for name, d in distinct.items():
        for col in d.get_columns():
            pad = length - d.height
            filler = "x" if col.name == f"v{name}" and groups[name].head.kind == "not_null" else None
            series.append(col.append(pl.Series([filler] * pad, dtype=col.dtype)) if pad else col)
    return pl.DataFrame(series).to_pandas()


def _definition(name: str, checks: Sequence[Check]) -> Any:
    """A validation definition for ``checks``, cached by the checks' content."""
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


def _check_columns(frames: Mapping[str, pl.DataFrame], checks: Mapping[str, Sequence[Check]]) -> None:
    for name, frame_checks in checks.items():
        frame = frames.get(name)
        if frame is None or frame.height == 0:
            continue
        needed = {c.column for c in frame_checks} | {c.other for c in frame_checks if c.other}
        needed |= {c.when.column for c in frame_checks if c.when}
        missing = sorted(needed - set(frame.columns))
        if missing:
            msg = f"check frame {name!r} lacks columns {missing}"
            raise GXFailure(msg)


def failing_positions(frames: Mapping[str, pl.DataFrame], checks: Mapping[str, Sequence[Check]]) -> dict[str, list[int]]:
    """Validate every frame in one GX run; return, per check id, the row positions that fail it.

    Parameters
    ----------
    frames
        Check frames by name (sheet key or facts frame).
    checks
        Declared checks by the same names.
    """
    _check_columns(frames, checks)
    started = time.perf_counter()
    groups = plan(checks)
    per_member: dict[str, pl.DataFrame] = {}
    distinct: dict[str, pl.DataFrame] = {}
    for group in groups:
        rows = _distinct(group, frames)
        if rows is not None:
            per_member[group.name] = rows
            distinct[group.name] = rows.select(group.keys).unique(maintain_order=True)
    if not distinct:
        return {}
    by_name = {g.name: g for g in groups}
    df = _gx_frame(distinct, by_name)
    TIMINGS["to_pandas"] += time.perf_counter() - started
    definition = _definition("checks", [g.expectation_check() for g in groups])
    started = time.perf_counter()
    # ValidationDefinition.run would also serialise the result into the context's
    # store (nobody reads it back): the validator it wraps is all we need.
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(batch_definition=definition.batch_definition, batch_parameters={"dataframe": df},
                          result_format={"result_format": "COMPLETE"})
    result = validator.validate_expectation_suite(definition.suite)
    TIMINGS["run"] += time.perf_counter() - started
    out: dict[str, list[int]] = {}
    for res in result.results:
        check_id = res.expectation_config.meta["check"]
        info = res.exception_info or {}
        if info.get("raised_exception"):
            msg = f"GX could not evaluate check {check_id}: {info.get('exception_message')}"
            raise GXFailure(msg)
        group = by_name.get(check_id.removeprefix("group:"))
        if res.success or group is None or group.name not in distinct:
            continue
        d = distinct[group.name]
        rows = sorted({int(i) for i in res.result.get("unexpected_index_list") or [] if int(i) < d.height})
        if rows:
            out.update(_positions(group, frames, per_member[group.name], d[rows]))
    return out


def warm_up(checks: Mapping[str, Sequence[Check]]) -> None:
    """Import GX and build every frame's suite now (long-lived processes: ``rectify watch``)."""
    _definition("checks", [g.expectation_check() for g in plan(checks)])
