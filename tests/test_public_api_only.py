"""rectify patches no dependency and no interpreter internals (issue #14, item 3).

A static check over the package's source: no private name of another
package is read, imported or called (``atexit._run_exitfuncs``), and no
attribute of an imported module is assigned (``pydantic.v1.main.smart_deepcopy
= ...``). Our own modules (``jobs.*``) are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _foreign_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module (or module member) of another package it is bound to."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return {name: target for name, target in bound.items() if target.split(".")[0] != "jobs"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def violations(source: str, *, filename: str = "<source>") -> list[str]:
    """Reads of another package's private names and writes to another package's module attributes."""
    tree = ast.parse(source, filename=filename)
    foreign = _foreign_modules(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and not node.module.startswith("jobs"):
            found += [f"{filename}:{node.lineno} imports {node.module}.{a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in foreign:
            target = f"{foreign[node.value.id]}.{node.attr}"
            if isinstance(node.ctx, ast.Store | ast.Del):
                found.append(f"{filename}:{node.lineno} replaces {target}")
            elif _private(node.attr) and target != "os._exit":  # os._exit is documented API
                found.append(f"{filename}:{node.lineno} uses {target}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"setattr", "delattr"}
              and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in foreign):
            found.append(f"{filename}:{node.lineno} {node.func.id} on {foreign[node.args[0].id]}")
    return sorted(found, key=lambda v: int(v.split(":")[-1].split()[0]))  # ast.walk is breadth-first


def test_the_package_uses_only_public_interfaces_of_other_packages():
    files = sorted((ROOT / "jobs").rglob("*.py"))
    assert len(files) > 50
    found = [v for path in files for v in violations(path.read_text(encoding="utf-8"), filename=str(path))]
    assert found == []


def test_the_check_sees_private_calls_and_replaced_functions():
    source = (
        "import atexit\nfrom pydantic.v1 import main\nfrom jobs.cli import _common\nimport os\n"
        "from importlib._bootstrap import _find_spec\n"
        "atexit._run_exitfuncs()\nmain.smart_deepcopy = len\nsetattr(main, 'x', 1)\n_common.anything\n"
        "os._exit(0)\n"
    )
    assert violations(source) == [
        "<source>:5 imports importlib._bootstrap._find_spec",
        "<source>:6 uses atexit._run_exitfuncs",
        "<source>:7 replaces pydantic.v1.main.smart_deepcopy",
        "<source>:8 setattr on pydantic.v1.main",
    ]
