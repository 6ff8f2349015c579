"""The package installs like a package (issue #14, item 4).

A wheel built from the source tree and installed (not editable) into a fresh
virtual environment gives a working ``rectify`` run from a directory outside
the repository: the schemas and templates ship inside it. The fresh
environment borrows this environment's dependencies through a ``.pth`` line
(a plain path entry: the editable install's own ``.pth`` hook is not run), so
nothing is downloaded but the wheel's build backend. The code shipped to Ray
workers carries its data the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import openpyxl
import pytest

from jobs.core.resources import PACKAGE_DIR, package_with_data

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SOURCES = ("jobs", "schemas", "templates", "setup.py", "pyproject.toml", "README.md")


def _sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel --no-deps`` of a copy of the sources (the worktree gets no build/ or egg-info)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    done = _sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work / "dist", src, cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = (work / "dist").glob("rectify-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the wheel installed; its ``bin`` directory."""
    root = tmp_path_factory.mktemp("venv") / "env"
    done = _sh(sys.executable, "-m", "venv", "--without-pip", root, cwd=root.parent)
    assert done.returncode == 0, done.stderr
    python = root / "bin" / "python"
    site = Path(_sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=root).stdout.strip())  # fmt: skip
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    done = _sh(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel,
               cwd=root.parent)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "bin"


@pytest.fixture
def outside(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working directory outside the repository, and an environment that does not point into it."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
    return tmp_path, env


@pytest.mark.slow
def test_the_wheel_holds_the_schemas_and_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in (("schemas", "jobs/schemas"), ("templates", "jobs/templates")):
        sources = {p.name for p in (ROOT / folder).iterdir() if p.is_file() and p.suffix in {".yaml", ".html", ".css", ".docx"}}
        assert sources
        assert {f"{package}/{name}" for name in sources} <= names


@pytest.mark.slow
def test_the_installed_package_is_the_wheel_not_the_source_tree(venv: Path, outside) -> None:
    cwd, env = outside
    done = _sh(venv / "python", "-c", "import jobs, jobs.core.resources as r; print(jobs.__file__); print(r.SCHEMA_DIR)",
               cwd=cwd, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    package, schemas = (Path(line) for line in done.stdout.splitlines())
    assert package.is_relative_to(venv.parent) and schemas.is_relative_to(venv.parent)
    assert (schemas / "return-format.schema.yaml").is_file()


@pytest.mark.slow
def test_installed_rectify_writes_the_template_and_validates_a_return(venv: Path, outside) -> None:
    cwd, env = outside
    done = _sh(venv / "rectify", "template", "--out", "x.xlsx", cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(openpyxl.load_workbook(cwd / "x.xlsx").sheetnames) >= 3

    manifest = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))
    clean = next(f for f in manifest["files"]
                 if f["period"] == "2015-02" and f["format"] == "xlsx" and not f["defects"] and not f["late"])  # fmt: skip
    ret = Path(shutil.copy(SAMPLES / clean["path"], cwd / "return.xlsx"))
    registry = shutil.copy(SAMPLES / "registry.xlsx", cwd / "registry.xlsx")
    done = _sh(venv / "rectify", "validate", ret, "--period", "2015-02", "--registry", registry, "--json",
               cwd=cwd, env=env)  # fmt: skip
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    (line,) = (json.loads(text) for text in done.stdout.splitlines())
    assert line["accepted"] is True
    assert line["unit"] == clean["unit"]


@pytest.mark.slow
def test_an_installed_package_ships_itself_as_is(venv: Path, outside, tmp_path: Path) -> None:
    cwd, env = outside
    code = ("import sys; from pathlib import Path; from jobs.core.resources import PACKAGE_DIR, package_with_data; "
            "print(package_with_data(staging=Path(sys.argv[1])) == PACKAGE_DIR, PACKAGE_DIR)")  # fmt: skip
    done = _sh(venv / "python", "-c", code, tmp_path / "staging", cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    same, where = done.stdout.split()
    assert same == "True" and Path(where).is_relative_to(venv.parent)


def test_the_source_tree_ships_a_staged_copy_with_its_data(tmp_path: Path) -> None:
    """What ``RayExecutor(ship_code=True)`` puts in ``runtime_env.py_modules`` imports and finds its data."""
    shipped = package_with_data(staging=tmp_path)
    assert shipped in {PACKAGE_DIR, tmp_path / "jobs"}  # a wheel's package as is, else a staged copy
    assert shipped.name == "jobs"
    assert (shipped / "intake" / "executors.py").is_file()
    assert (shipped / "schemas" / "return-format.schema.yaml").is_file()
    assert {p.name for p in (ROOT / "templates").iterdir()} <= {p.name for p in (shipped / "templates").iterdir()}
    # a worker with only the shipped directory on its path (as Ray's py_modules gives it)
    code = ("import jobs, jobs.core.resources as r; from jobs.core.schema import load_schema; "
            "print(jobs.__file__); print(r.SCHEMA_DIR); print(len(load_schema().sheets))")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(shipped.parent)}
    done = _sh(sys.executable, "-c", code, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    package, schemas, sheets = done.stdout.split()
    assert Path(package).is_relative_to(shipped) and Path(schemas).is_relative_to(shipped)
    assert int(sheets) >= 3


# A driver outside the repository: Ray puts the driver's sys.path on its local
# workers' paths, which would otherwise hand them the source tree.
_RAY_DRIVER = """
import sys
import ray
from jobs.intake.executors import RayExecutor

def where(_context, _item):
    import jobs
    from jobs.core import resources
    from jobs.core.schema import load_schema
    return [jobs.__file__, str(resources.SCHEMA_DIR), len(load_schema().sheets)]

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
with RayExecutor(num_cpus=1, ship_code=True) as ex:
    print(*ex.submit(where, None).result())
"""


@pytest.mark.slow
def test_ray_workers_import_the_shipped_package_and_find_its_data(outside) -> None:
    pytest.importorskip("ray")
    cwd, env = outside
    env = {k: v for k, v in env.items() if k != "RAY_ADDRESS"}  # a local Ray instance, started by the executor
    done = _sh(sys.executable, "-c", _RAY_DRIVER, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    package, schemas, sheets = done.stdout.split()[-3:]
    assert not Path(package).is_relative_to(ROOT)  # the shipped copy, not the source tree
    assert Path(schemas).parent == Path(package).parent  # jobs/schemas inside the shipped package
    assert int(sheets) >= 3
