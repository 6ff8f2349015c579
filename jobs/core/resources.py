"""Where the shipped data lives: the schemas and templates, as package data.

``schemas/`` and ``templates/`` are top-level folders in the source tree and
ship inside the installed package as ``jobs.schemas`` and ``jobs.templates``
(see setup.py). Loading them through :mod:`importlib.resources` makes a wheel
installed anywhere (a Ray node included) find them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_dir(package: str) -> Path:
    # Installed as files (wheel or editable): the traversable is a real directory.
    return Path(str(files(package)))


SCHEMA_DIR = _package_dir("jobs.schemas")
TEMPLATE_DIR = _package_dir("jobs.templates")
