"""The return format as typed objects, loaded from ``schemas/*.schema.yaml``.

Every other module reads the format through :func:`load_schema`; nothing else
parses the YAML. Adding a column or an allowed value is one edit in the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from jobs.core.resources import SCHEMA_DIR  # noqa: E402 - re-exported

DEFAULT_SCHEMA = SCHEMA_DIR / "return-format.schema.yaml"

ColumnType = Literal["text", "integer", "date", "enum", "period"]
Severity = Literal["error", "warning"]
Substance = Literal["people", "facts", "mindset"]
Layout = Literal["table", "keyvalue"]


class SchemaError(ValueError):
    """The schema file is malformed."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table sheet, or one item of a key/value sheet."""

    name: str
    key: str
    type: ColumnType
    required: bool = False
    values: tuple[str, ...] | None = None
    unique: bool = False
    substance: Substance | None = None
    width: int = 12
    description: str = ""


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet of the return workbook.

    ``layout == "keyvalue"`` sheets hold one row per column spec: the item name
    under ``key_header`` and its value under ``value_header``.
    """

    key: str
    name: str
    layout: Layout
    columns: tuple[Column, ...]
    description: str = ""
    key_header: str | None = None
    value_header: str | None = None
    min_rows: int = 0

    @property
    def headers(self) -> tuple[str, ...]:
        """Header cells of the sheet as they appear in the workbook."""
        if self.layout == "keyvalue":
            return (self.key_header or "", self.value_header or "")
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column named ``name`` (Chinese header)."""
        for col in self.columns:
            if col.name == name:
                return col
        msg = f"sheet {self.name!r} has no column {name!r}"
        raise KeyError(msg)


@dataclass(frozen=True, slots=True)
class Rule:
    """A conditional rule between columns of one row (see the YAML)."""

    id: str
    sheet: str
    code: str
    then: dict[str, Any]
    when: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class FindingCode:
    """A stable finding code with its severity and Chinese message template."""

    code: str
    severity: Severity
    title: str
    message: str


@dataclass(frozen=True, slots=True)
class RegistryColumn:
    name: str
    key: str
    required: bool = False
    values: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SubstanceRules:
    placeholders: frozenset[str]
    min_length: dict[str, int]
    missing_code: dict[str, str]
    label: dict[str, str]
    copy_checked: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    """The whole return format."""

    version: int
    title: str
    levels: tuple[str, ...]
    categories: tuple[str, ...]
    report_types: tuple[str, ...]
    default_report_type: str
    sheets: tuple[Sheet, ...]
    rules: tuple[Rule, ...]
    substance: SubstanceRules
    tasks: dict[int, str]
    findings: dict[str, FindingCode]
    registry_sheet: str
    registry_columns: tuple[RegistryColumn, ...]
    # unreadable-file's sub-codes -> Chinese reason templates (jobs.core.findings.unreadable_reason)
    unreadable: dict[str, str] = field(default_factory=dict)
    _by_key: dict[str, Sheet] = field(default_factory=dict, repr=False)

    def sheet(self, key_or_name: str) -> Sheet:
        """Return a sheet by its English key (``ledger``) or Chinese name."""
        sheet = self._by_key.get(key_or_name)
        if sheet is None:
            msg = f"no sheet {key_or_name!r} in schema"
            raise KeyError(msg)
        return sheet

    @property
    def accountability_rows(self) -> tuple[str, ...]:
        """The fixed 责任追究 rows, in template order."""
        return tuple(c.name for c in self.sheet("accountability").columns)

    def finding(self, code: str) -> FindingCode:
        """Return the finding code ``code``; unknown codes are a bug."""
        try:
            return self.findings[code]
        except KeyError:
            msg = f"unknown finding code {code!r}"
            raise KeyError(msg) from None


def _column(raw: dict[str, Any]) -> Column:
    values = raw.get("values")
    return Column(
        name=str(raw["name"]),
        key=str(raw["key"]),
        type=raw.get("type", "text"),
        required=bool(raw.get("required", False)),
        values=tuple(str(v) for v in values) if values is not None else None,
        unique=bool(raw.get("unique", False)),
        substance=raw.get("substance"),
        width=int(raw.get("width", 12)),
        description=str(raw.get("description", "")),
    )


def _check(schema: Schema) -> None:
    known_types = {"text", "integer", "date", "enum", "period"}
    for sheet in schema.sheets:
        for col in sheet.columns:
            if col.type not in known_types:
                msg = f"{sheet.name}.{col.name}: unknown type {col.type!r}"
                raise SchemaError(msg)
            if col.type == "enum" and not col.values:
                msg = f"{sheet.name}.{col.name}: enum without values"
                raise SchemaError(msg)
    names = {s.name for s in schema.sheets}
    for rule in schema.rules:
        if rule.sheet not in schema._by_key:
            msg = f"rule {rule.id}: unknown sheet {rule.sheet!r}"
            raise SchemaError(msg)
        if rule.code not in schema.findings:
            msg = f"rule {rule.id}: unknown finding code {rule.code!r}"
            raise SchemaError(msg)
    for code in schema.substance.missing_code.values():
        if code not in schema.findings:
            msg = f"substance: unknown finding code {code!r}"
            raise SchemaError(msg)
    if sorted(schema.tasks) != list(range(1, len(schema.tasks) + 1)):
        msg = "tasks must be numbered 1..N without gaps"
        raise SchemaError(msg)
    assert names  # noqa: S101 - a schema always has sheets


def parse_schema(data: dict[str, Any]) -> Schema:
    """Build a :class:`Schema` from the YAML's parsed mapping."""
    try:
        sheets = tuple(
            Sheet(
                key=str(s["key"]),
                name=str(s["name"]),
                layout=s.get("layout", "table"),
                columns=tuple(_column(c) for c in s["columns"]),
                description=str(s.get("description", "")),
                key_header=s.get("key_header"),
                value_header=s.get("value_header"),
                min_rows=int(s.get("min_rows", 0)),
            )
            for s in data["sheets"]
        )
        sub = data["substance"]
        schema = Schema(
            version=int(data["version"]),
            title=str(data["title"]),
            levels=tuple(data["levels"]),
            categories=tuple(data["categories"]),
            report_types=tuple(data["report_types"]),
            default_report_type=str(data["default_report_type"]),
            sheets=sheets,
            rules=tuple(
                Rule(id=r["id"], sheet=r["sheet"], code=r["code"], then=r["then"], when=r.get("when"))
                for r in data.get("rules", [])
            ),
            substance=SubstanceRules(
                placeholders=frozenset(str(p) for p in sub["placeholders"]),
                min_length={k: int(v) for k, v in sub["min_length"].items()},
                missing_code=dict(sub["missing_code"]),
                label=dict(sub["label"]),
                copy_checked=tuple(sub["copy_checked"]),
            ),
            tasks={int(k): str(v) for k, v in data["tasks"].items()},
            findings={
                f["code"]: FindingCode(
                    code=f["code"], severity=f["severity"], title=f["title"], message=f["message"]
                )
                for f in data["findings"]
            },
            registry_sheet=str(data["registry"]["sheet"]),
            registry_columns=tuple(
                RegistryColumn(
                    name=c["name"],
                    key=c["key"],
                    required=bool(c.get("required", False)),
                    values=tuple(c["values"]) if c.get("values") else None,
                )
                for c in data["registry"]["columns"]
            ),
            unreadable={str(k): str(v) for k, v in (data.get("unreadable") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"malformed schema: {exc!r}"
        raise SchemaError(msg) from exc
    for sheet in sheets:
        schema._by_key[sheet.key] = sheet
        schema._by_key[sheet.name] = sheet
    _check(schema)
    return schema


def load_schema(path: str | Path | None = None) -> Schema:
    """Load and check the return format (parsed once per file per process).

    Parameters
    ----------
    path
        A ``*.schema.yaml`` file; default ``schemas/return-format.schema.yaml``.
    """
    source = Path(path).resolve() if path is not None else DEFAULT_SCHEMA
    return _load_schema(source)


@lru_cache(maxsize=4)
def _load_schema(source: Path) -> Schema:
    with source.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader (libyaml's when built with it)
    return parse_schema(data)


# libyaml's safe loader when PyYAML was built with it: the same documents, ~5x faster
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
