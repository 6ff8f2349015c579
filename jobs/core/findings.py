"""Findings and reports: the project's own result types.

Validation (GX or not) ends in these types; templates, receipts, the store and
tests read only these. Messages are built from the schema's Chinese templates.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jobs.core.schema import Schema, load_schema

Severity = Literal["error", "warning"]
# The one Chinese word per severity, everywhere a clerk reads it (receipts, validate, watch, reports).
SEVERITY_ZH: dict[str, str] = {"error": "错误", "warning": "提示"}


def column_letter(index: int) -> str:
    """0-based column index to an Excel column letter (0 -> ``A``, 27 -> ``AB``)."""
    if index < 0:
        msg = f"column index must be >= 0, got {index}"
        raise ValueError(msg)
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def a1_cell(sheet: str | None, row: int | None, col_index: int | None) -> str | None:
    """Build ``整改台账!L12`` from a sheet name, 1-based row and 0-based column."""
    if sheet is None or row is None or col_index is None:
        return None
    return f"{sheet}!{column_letter(col_index)}{row}"


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


_FORMATTER = string.Formatter()


def render_message(template: str, params: dict[str, Any]) -> str:
    """Fill a message template; fields a finding does not supply render empty."""
    return _FORMATTER.vformat(template, (), _Blank({k: "" if v is None else v for k, v in params.items()}))


@dataclass(frozen=True, slots=True)
class Finding:
    """One defect in one return, pointing at a cell where it can."""

    code: str
    severity: Severity
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    cell: str | None = None
    title: str = ""
    # unreadable-file's sub-code (``encrypted``, ``zip-bomb-ratio`` ... in the schema's
    # ``unreadable`` catalogue). Not compared and not stored (the store keeps its columns;
    # the message carries the reason); the JSON of a fresh verdict shows it.
    subcode: str | None = field(default=None, compare=False, repr=False)
    # A history warning (issue 17) on a row whose 说明 the unit filled: kept, shown as
    # 已说明, and it does not put the unit on the attention list.
    explained: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The spec's JSON shape of a finding (its keys "at least"), plus ``explained``
        and ``subcode`` for an ``unreadable-file`` finding that has one."""
        out = {
            "code": self.code,
            "severity": self.severity,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "cell": self.cell,
            "message": self.message,
            "explained": self.explained,
        }
        if self.subcode is not None:
            out["subcode"] = self.subcode
        return out


def make_finding(
    code: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: str | None = None,
    col_index: int | None = None,
    cell: str | None = None,
    schema: Schema | None = None,
    subcode: str | None = None,
    **params: Any,
) -> Finding:
    """Build a finding from its code, place and message parameters.

    Parameters
    ----------
    code
        A finding code declared in the schema.
    sheet, row, column
        Sheet name, 1-based Excel row and column header of the place.
    col_index
        0-based column position in the source sheet, used to build ``cell``.
    subcode
        For ``unreadable-file``: the sub-code whose reason fills ``{reason}``
        (rendered from ``params`` unless ``reason`` is given; see :func:`unreadable_reason`).
    **params
        Fields for the message template (``value``, ``allowed``, ``reason`` ...).
    """
    schema = schema or load_schema()
    spec = schema.finding(code)
    cell = cell or a1_cell(sheet, row, col_index)
    if subcode is not None and "reason" not in params:
        params["reason"] = unreadable_reason(subcode, schema=schema, **params)
    text = render_message(
        spec.message,
        {"sheet": sheet, "row": row, "column": column, "cell": cell or sheet or "", **params},
    )
    return Finding(
        code=code,
        severity=spec.severity,
        message=text,
        sheet=sheet,
        row=row,
        column=column,
        cell=cell,
        title=spec.title,
        subcode=subcode,
    )


def unreadable_reason(subcode: str, *, schema: Schema | None = None, **params: Any) -> str:
    """The Chinese reason of an ``unreadable-file`` sub-code, from the schema's catalogue.

    Raises
    ------
    KeyError
        For a sub-code the schema does not list (a bug).
    """
    schema = schema or load_schema()
    try:
        template = schema.unreadable[subcode]
    except KeyError:
        msg = f"unknown unreadable-file sub-code {subcode!r}"
        raise KeyError(msg) from None
    return render_message(template, params)


def _column_index(cell: str | None) -> int:
    """0-based column of an A1 cell such as ``整改台账!L12`` (-1 without one)."""
    if not cell:
        return -1
    letters = cell.rsplit("!", 1)[-1].rstrip("0123456789")
    if not letters.isascii() or not letters.isalpha():
        return -1
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def in_place_order(findings: Sequence[Finding], *, schema: Schema | None = None) -> list[Finding]:
    """Findings in file order: the file's own first, then by sheet (schema order), row and column.

    A finding on a whole sheet or column (no row) comes before that sheet's
    rows; ties keep their order. A finding's place is all that decides, so
    findings added later (cross-unit copies) land where they belong.
    """
    schema = schema or load_schema()
    sheets = {s.name: i for i, s in enumerate(schema.sheets)}

    def place(f: Finding) -> tuple[int, int, int]:
        sheet = -1 if f.sheet is None else sheets.get(f.sheet, len(sheets))
        return sheet, f.row or 0, _column_index(f.cell)

    return sorted(findings, key=place)


MORE_FINDINGS = "more-findings"


@dataclass
class Report:
    """The verdict on one received file.

    Over the office's cap (:func:`cap_findings`) the list keeps the first
    findings and ends with one ``more-findings`` note; ``more_errors`` and
    ``more_warnings`` count what it leaves out, so :attr:`n_errors` and
    :attr:`n_warnings` stay the true totals.
    """

    file: str
    unit: str | None = None
    period: str | None = None
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    more_errors: int = 0
    more_warnings: int = 0

    @property
    def n_errors(self) -> int:
        """Errors in all, listed or beyond the cap."""
        return len(self.errors) + self.more_errors

    @property
    def n_warnings(self) -> int:
        """Warnings in all, listed or beyond the cap (the ``more-findings`` note is none)."""
        listed = sum(1 for f in self.findings if f.severity == "warning" and f.code != MORE_FINDINGS)
        return listed + self.more_warnings

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def accepted(self) -> bool:
        """A return with any error is rejected; warnings only are accepted."""
        return not self.errors

    valid = accepted

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """The spec's JSON Lines object for ``rectify validate --json``."""
        return {
            "file": self.file,
            "unit": self.unit,
            "period": self.period,
            "accepted": self.accepted,
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats,
        }


def cap_findings(report: Report, *, limit: int, schema: Schema | None = None) -> None:
    """Keep the first ``limit`` findings of ``report`` (in their order) and end the list
    with one ``more-findings`` note counting the rest (in place).

    The verdict never changes: a rejected return whose first ``limit`` findings
    are all warnings lists its first error in the last place. The counts of
    what is left out go to ``report.more_errors`` / ``more_warnings``.
    """
    listed = [f for f in report.findings if f.code != MORE_FINDINGS]
    if len(listed) <= limit:
        return
    kept = listed[:limit]
    if not any(f.severity == "error" for f in kept):
        first_error = next((f for f in listed[limit:] if f.severity == "error"), None)
        if first_error is not None:
            kept[-1] = first_error  # it comes after every kept finding: the order holds
    errors = sum(f.severity == "error" for f in listed) - sum(f.severity == "error" for f in kept)
    warnings = len(listed) - len(kept) - errors
    report.more_errors += errors
    report.more_warnings += warnings
    note = make_finding(MORE_FINDINGS, schema=schema, shown=len(kept), count=report.more_errors + report.more_warnings,
                        errors=report.more_errors, warnings=report.more_warnings)  # fmt: skip
    report.findings = [*kept, note]
