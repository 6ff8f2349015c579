"""Where the shipped data lives: the schemas and templates, as package data.

``schemas/`` and ``templates/`` are top-level folders in the source tree and
ship inside the installed package as ``jobs.schemas`` and ``jobs.templates``
(see setup.py). Loading them through :mod:`importlib.resources` makes a wheel
installed anywhere (a Ray node included) find them.

:func:`package_with_data` gives the ``jobs`` directory with that data inside,
for shipping the code to a Ray cluster (``runtime_env.py_modules``).
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path


def _package_dir(package: str) -> Path:
    # Installed as files (wheel or editable): the traversable is a real directory.
    return Path(str(files(package)))


SCHEMA_DIR = _package_dir("jobs.schemas")
TEMPLATE_DIR = _package_dir("jobs.templates")

PACKAGE_DIR = Path(__file__).resolve().parents[1]
_DATA = {"schemas": SCHEMA_DIR, "templates": TEMPLATE_DIR}


def package_with_data(*, staging: Path) -> Path:
    """The ``jobs`` package directory holding its ``schemas`` and ``templates``, ready to ship.

    An installed wheel already holds them: its directory is returned as is.
    A source tree (editable install) keeps them beside the package, so the
    package and its data are copied into ``staging/jobs`` and that is returned.
    """
    if all(path.resolve() == PACKAGE_DIR / name for name, path in _DATA.items()):
        return PACKAGE_DIR
    staged = staging / "jobs"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PACKAGE_DIR, staged, ignore=skip)
    for name, path in _DATA.items():
        shutil.copytree(path, staged / name, ignore=skip, dirs_exist_ok=True)
    return staged
