"""The catalogue of unreadable-file sub-codes (schema ``unreadable``) and the code raising them."""

from __future__ import annotations

import ast
import pickle
import string
from pathlib import Path

import pytest

from jobs.core.errors import UnreadableFile
from jobs.core.findings import make_finding, unreadable_reason
from jobs.core.schema import load_schema

JOBS = Path(__file__).resolve().parent.parent / "jobs"


def _raised() -> dict[str, list[tuple[str, set[str]]]]:
    """Sub-code -> (where, parameter names) of every ``UnreadableFile(...)``,
    ``RefusedFile(...)`` and ``make_finding(..., subcode=...)`` in the package.

    ``UnreadableFile(exc.kind, **exc.params)`` forwards a sub-code raised (and
    checked) elsewhere and is not counted."""
    found: dict[str, list[tuple[str, set[str]]]] = {}
    for path in sorted(JOBS.rglob("*.py")):
        if path == JOBS / "core" / "errors.py":  # the class itself: rebuilds from a sub-code it was given
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            where = f"{path.relative_to(JOBS.parent)}:{node.lineno}"
            params = {k.arg for k in node.keywords if k.arg is not None}
            if name in ("UnreadableFile", "RefusedFile"):
                if node.args and isinstance(node.args[0], ast.Attribute) and node.args[0].attr == "kind":
                    continue
                assert node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str), (
                    f"{where}: the sub-code must be a literal, so this test can check it")
                found.setdefault(node.args[0].value, []).append((where, params))
            elif name == "make_finding":
                sub = next((k.value for k in node.keywords if k.arg == "subcode"), None)
                if sub is None:
                    continue
                assert isinstance(sub, ast.Constant), f"{where}: the sub-code must be a literal"
                found.setdefault(sub.value, []).append((where, params - {"subcode", "schema"}))
    return found


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_sub_code_raised_is_in_the_schema_and_every_one_listed_is_raised():
    catalogue = load_schema().unreadable
    raised = _raised()
    assert set(raised) - set(catalogue) == set(), "raised but not in the schema's unreadable catalogue"
    assert set(catalogue) - set(raised) == set(), "in the schema's unreadable catalogue but never raised"


def test_every_raise_supplies_exactly_its_templates_parameters():
    catalogue = load_schema().unreadable
    for kind, sites in _raised().items():
        for where, params in sites:
            assert params == _fields(catalogue[kind]), (where, kind, params)


def test_one_wording_per_failure():
    catalogue = load_schema().unreadable
    assert len(set(catalogue.values())) == len(catalogue)
    for kind, template in catalogue.items():
        assert kind == kind.lower() and " " not in kind and kind.isascii(), kind
        assert "{" not in unreadable_reason(kind, **dict.fromkeys(_fields(template), "x")), kind


def test_unreadable_file_carries_sub_code_params_and_reason():
    exc = UnreadableFile("too-many-rows", sheet="整改台账", row=100001, limit=100000)
    assert (exc.kind, exc.params) == ("too-many-rows", {"sheet": "整改台账", "row": 100001, "limit": 100000})
    assert exc.reason == str(exc) == unreadable_reason("too-many-rows", sheet="整改台账", row=100001, limit=100000)
    assert "整改台账" in exc.reason and "100001" in exc.reason
    again = pickle.loads(pickle.dumps(exc))  # crosses process pools
    assert (type(again), again.kind, again.params, again.reason) == (UnreadableFile, exc.kind, exc.params, exc.reason)
    finding = exc.finding()
    assert (finding.code, finding.subcode, finding.severity) == ("unreadable-file", "too-many-rows", "error")
    assert finding.message == f"文件无法读取：{exc.reason}"
    assert finding.to_dict() == {"code": "unreadable-file", "severity": "error", "sheet": None, "row": None,
                                 "column": None, "cell": None, "message": finding.message, "explained": False,
                                 "subcode": "too-many-rows"}
    assert "subcode" not in make_finding("empty-ledger").to_dict()  # other findings keep the spec's keys


def test_an_unknown_sub_code_is_a_bug():
    with pytest.raises(KeyError, match="no-such-failure"):
        UnreadableFile("no-such-failure")
