"""The package's shape: stages as packages, no import cycles, a thin CLI over jobs.api."""

from __future__ import annotations

import ast
from pathlib import Path

JOBS = Path(__file__).resolve().parent.parent / "jobs"

# The pipeline's stages and the foundations they share (issue #14's layout).
STAGES = {"core", "office", "intake", "validate", "store", "rollup", "report", "cli", "tooling"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(JOBS.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules it imports, function-level imports included."""
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target != "jobs":
                    found.add(target)
        edges[name] = found
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in JOBS.rglob("*.py")}


def test_no_import_cycles_among_the_packages_modules():
    assert _cycles(_imports(_modules())) == []


def test_the_cycle_check_finds_a_cycle():
    edges = {"jobs.a": {"jobs.b"}, "jobs.b": {"jobs.c"}, "jobs.c": {"jobs.a"}, "jobs.d": {"jobs.a"}}
    assert _cycles(edges) == [["jobs.a", "jobs.b", "jobs.c"]]


def test_function_level_imports_count(tmp_path):
    pkg = tmp_path / "jobs"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from jobs.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from jobs.a import y\n")
    modules = {"jobs": pkg / "__init__.py", "jobs.a": pkg / "a.py", "jobs.b": pkg / "b.py"}
    assert _cycles(_imports(modules)) == [["jobs.a", "jobs.b"]]


def test_the_package_is_grouped_by_stage():
    top = {p.name for p in JOBS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top == STAGES
    loose = {p.stem for p in JOBS.glob("*.py")} - {"__init__", "__main__", "api", "process"}
    assert loose == set(), "modules belong in a stage package"


def test_pipeline_stages_do_not_import_the_cli_or_the_tooling():
    edges = _imports(_modules())
    for name, targets in edges.items():
        if name.startswith(("jobs.cli", "jobs.tooling")) or name in ("jobs.__main__",):
            continue
        wrong = {t for t in targets if t.startswith(("jobs.cli", "jobs.tooling"))}
        assert wrong == set(), f"{name} imports {wrong}"


def test_cli_commands_call_the_api_not_the_stages_entry_points():
    entry_points = {"ingest_paths", "make_report", "month_end", "summarize_home", "validate_files"}
    for path in (JOBS / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module != "jobs.api":
                names = {a.name for a in node.names} & entry_points
                assert names == set(), f"{path.name} imports {names} from {node.module}: use jobs.api"
