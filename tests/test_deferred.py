"""Deferred imports around ``import great_expectations`` (jobs.validate.deferred)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from jobs.validate.deferred import DeferredModule, deferred


def test_stand_in_imports_the_real_module_on_first_attribute_and_leaves_sys_modules() -> None:
    sys.modules.pop("json.tool", None)
    with deferred(("json.tool",)) as names:
        from json import tool

        assert names == ["json.tool"]
        assert isinstance(tool, DeferredModule)
    assert "json.tool" not in sys.modules  # later importers get the real module
    assert callable(tool.main)  # first attribute: the real module is imported
    assert not isinstance(sys.modules["json.tool"], DeferredModule)


def test_names_already_imported_or_absent_are_left_alone() -> None:
    import json

    with deferred(("json", "no_such_package_xyz.sub", "json.no_such_module")) as names:
        assert names == []
        assert sys.modules["json"] is json


def test_gx_import_leaves_scipy_stats_and_altair_unimported_until_asked_for() -> None:
    code = textwrap.dedent(
        """
        import sys
        import polars as pl
        from jobs.validate import gx
        gx._gx()
        print("scipy.stats" in sys.modules, "altair" in sys.modules)
        import scipy.stats
        print(type(scipy.stats).__name__, hasattr(scipy.stats, "entropy"))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "module", "True"]
