"""Package layout only (metadata is in pyproject.toml).

``schemas/`` and ``templates/`` stay top-level sources, edited by the office's
engineers; they ship inside the package as ``jobs.schemas`` and
``jobs.templates`` and are loaded with :mod:`importlib.resources`
(:mod:`jobs.core.resources`), so a wheel works on any machine.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["jobs", "jobs.*"]), "jobs.schemas", "jobs.templates"],
    package_dir={"jobs.schemas": "schemas", "jobs.templates": "templates"},
)
