"""What the roll-up counts, loaded from ``schemas/summary-return.schema.yaml``.

The roll-up never spells an enum value: count definitions name the return
schema's columns and values, and are checked against it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from jobs.core.schema import SCHEMA_DIR, Schema, SchemaError, load_schema

SUMMARY_SCHEMA = SCHEMA_DIR / "summary-return.schema.yaml"


Kind = Literal["count", "rate"]


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator as the schema defines it: Chinese label, unit of measure, definition.

    ``kind`` is ``count`` (an integer) or ``rate`` (a fraction).
    """

    key: str
    label: str
    unit: str
    kind: Kind
    definition: str


@dataclass(frozen=True, slots=True)
class Count:
    """One ledger count: rows of ``sheet`` where ``column`` is in ``values`` (all rows if None)."""

    key: str
    label: str
    column: str | None = None
    values: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Breakdown:
    prefix: str
    sheet: str
    column: str
    label: str
    values: tuple[str, ...]

    def key(self, value: str) -> str:
        return f"{self.prefix}.{value}"


@dataclass(frozen=True, slots=True)
class Rate:
    key: str
    label: str
    num: str
    den: str


@dataclass(frozen=True)
class Vocab:
    """Every counted key of a node, in output order, with its Chinese label."""

    coverage: tuple[Count, ...]
    ledger: tuple[Count, ...]
    done_column: str
    # history warnings: Count(key, label, "code", (code,)) or Count(key, label, "explained", ("true"|"false",))
    history: tuple[Count, ...]
    history_codes: tuple[str, ...]
    done_value: str
    breakdowns: tuple[Breakdown, ...]
    tasks_sheet: str
    task_number: str
    task_sums: dict[str, str]  # json field -> integer column key
    task_numbers: tuple[int, ...]
    members: Count
    institutions: Count
    accountability_prefix: str
    accountability: tuple[tuple[str, str], ...]  # (column key, Chinese row name)
    rates: tuple[Rate, ...]
    main_rates: tuple[str, ...]
    sheet_name: str
    key_header: str
    label_header: str
    total_header: str
    labels: dict[str, str]
    # every scalar count and rate with its label, unit and definition, in JSON order
    indicators: dict[str, Indicator]
    # the columns of the 21 tasks table (found, fixed, rate, cases)
    task_columns: tuple[Indicator, ...]
    # a 汇总 return's sign-off items (reviewer, signed_on, status -> 基本信息 item name) and 发布状态 values
    sign_off: dict[str, str]
    draft_label: str
    published_label: str  # str.format with {revision} and {date}
    # the JSON ``attention`` object's keys: the graded steps, mildest first (jobs.rollup.attention.STEPS)
    attention_steps: tuple[str, ...] = ()
    # the JSON keys of the 督办 tracking (jobs.rollup.supervised.JSON_KEYS)
    supervision_keys: tuple[str, ...] = ()

    @property
    def count_keys(self) -> tuple[str, ...]:
        """All count columns of a node, in output order."""
        return tuple(self.labels)

    def task_key(self, number: int, field: str) -> str:
        return f"tasks.{number}.{field}"

    def accountability_key(self, name: str) -> str:
        return f"{self.accountability_prefix}.{name}"


def _values(schema: Schema, sheet: str, column: str, when: dict[str, Any]) -> tuple[str, ...]:
    col = next((c for c in schema.sheet(sheet).columns if c.key == column), None)
    if col is None:
        msg = f"summary schema: no column {sheet}.{column} in the return schema"
        raise SchemaError(msg)
    wanted = (when["equals"],) if "equals" in when else tuple(when["in"])
    unknown = [v for v in wanted if v not in (col.values or ())]
    if unknown:
        msg = f"summary schema: {sheet}.{column} has no value(s) {unknown}"
        raise SchemaError(msg)
    return tuple(str(v) for v in wanted)


def parse_vocab(data: dict[str, Any], schema: Schema) -> Vocab:
    """Build a :class:`Vocab` from the parsed YAML, checked against ``schema``."""
    try:
        labels: dict[str, str] = {}
        coverage = tuple(Count(c["key"], c["label"]) for c in data["coverage"])
        ledger = []
        for c in data["ledger"]:
            when = c.get("when")
            if when:
                ledger.append(Count(c["key"], c["label"], when["column"], _values(schema, "ledger", when["column"], when)))
            else:
                ledger.append(Count(c["key"], c["label"]))
        history_codes = tuple(data.get("history_codes", ()))
        history = []
        for c in data.get("history", ()):
            if "code" in c:
                if c["code"] not in schema.findings or c["code"] not in history_codes:
                    msg = f"summary schema: history count {c['key']} names an unknown code {c['code']!r}"
                    raise SchemaError(msg)
                history.append(Count(c["key"], c["label"], "code", (c["code"],)))
            else:
                history.append(Count(c["key"], c["label"], "explained", ("true" if c["explained"] else "false",)))
        done = data["done"]
        done_value = _values(schema, "ledger", done["column"], done)[0]
        breakdowns = []
        for b in data["breakdowns"]:
            col = next(c for c in schema.sheet(b["sheet"]).columns if c.key == b["column"])
            breakdowns.append(Breakdown(b["prefix"], b["sheet"], b["column"], b["label"], tuple(col.values or ())))
        tasks = data["tasks"]
        members = data["members_total"]
        inst = data["institutions_total"]
        acc = data["accountability"]
        acc_cols = tuple((c.key, c.name) for c in schema.sheet(acc["sheet"]).columns if c.type == "integer")
        summary = data["summary_return"]
        indicators = _indicators(data)
        task_columns = tuple(
            Indicator(c["key"], c["label"], c["unit"], "rate" if c["unit"] == "%" else "count", c["definition"])
            for c in tasks["columns"]
        )
        vocab = Vocab(
            coverage=coverage,
            ledger=tuple(ledger),
            history=tuple(history),
            history_codes=history_codes,
            done_column=done["column"],
            done_value=done_value,
            breakdowns=tuple(breakdowns),
            tasks_sheet=tasks["sheet"],
            task_number=tasks["number"],
            task_sums=dict(tasks["sums"]),
            task_numbers=tuple(sorted(schema.tasks)),
            members=Count(members["key"], members["label"]),
            institutions=Count(inst["key"], inst["label"]),
            accountability_prefix=acc["prefix"],
            accountability=acc_cols,
            rates=tuple(Rate(r["key"], r["label"], r["num"], r["den"]) for r in data["rates"]),
            main_rates=tuple(data["main_rates"]),
            sheet_name=summary["sheet"],
            key_header=summary["key_header"],
            label_header=summary["label_header"],
            total_header=summary["total_header"],
            labels=labels,
            indicators=indicators,
            task_columns=task_columns,
            sign_off=dict(summary["sign_off"]),
            draft_label=summary["draft"],
            published_label=summary["published"],
            attention_steps=tuple(data["attention"]["steps"]),
            supervision_keys=tuple(k["key"] for k in data["supervision"]),
        )
    except (KeyError, TypeError, StopIteration) as exc:
        msg = f"malformed summary schema: {exc!r}"
        raise SchemaError(msg) from exc
    task_cols = {c.key: c.name for c in schema.sheet(vocab.tasks_sheet).columns}
    for c in (*coverage, *ledger, *history):
        labels[c.key] = c.label
    for b in breakdowns:
        for v in b.values:
            labels[b.key(v)] = f"{b.label}：{v}"
    for n in vocab.task_numbers:
        for field, column in vocab.task_sums.items():
            labels[vocab.task_key(n, field)] = f"专项整治第{n}项：{task_cols.get(column, column)}"
    labels[vocab.members.key] = vocab.members.label
    labels[vocab.institutions.key] = vocab.institutions.label
    for _key, name in acc_cols:
        labels[vocab.accountability_key(name)] = f"责任追究：{name}"
    for r in vocab.rates:
        if r.num not in labels or r.den not in labels:
            msg = f"summary schema: rate {r.key} refers to an unknown count"
            raise SchemaError(msg)
    return vocab


def _indicators(data: dict[str, Any]) -> dict[str, Indicator]:
    """Scalar indicators in the ``summarize --json`` order: coverage, its rates, ledger, the other rates, members."""

    def count(c: dict[str, Any]) -> Indicator:
        return Indicator(c["key"], c["label"], c["unit"], "count", c["definition"])

    def rate(r: dict[str, Any]) -> Indicator:
        return Indicator(r["key"], r["label"], "%", "rate", r["definition"])

    coverage = {c["key"] for c in data["coverage"]}
    rates = data["rates"]
    on_coverage = [r for r in rates if r["den"] in coverage]
    rows = [
        *map(count, data["coverage"]), *map(rate, on_coverage), *map(count, data["ledger"]),
        *map(count, data.get("history", ())),
        *(rate(r) for r in rates if r not in on_coverage), count(data["members_total"]),
    ]  # fmt: skip
    return {i.key: i for i in rows}


def load_vocab(path: str | Path | None = None, *, schema: Schema | None = None) -> Vocab:
    """Load the roll-up vocabulary (default ``schemas/summary-return.schema.yaml``)."""
    source = Path(path) if path is not None else SUMMARY_SCHEMA
    if schema is None:
        return _load_default(str(source))
    with source.open(encoding="utf-8") as fh:
        return parse_vocab(yaml.safe_load(fh), schema)


@lru_cache(maxsize=4)
def _load_default(source: str) -> Vocab:
    with open(source, encoding="utf-8") as fh:
        return parse_vocab(yaml.safe_load(fh), load_schema())
