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


# Every pydantic v1 model GX defines, field by field, as text (object addresses removed).
_FINGERPRINT = """
import re, sys
from pydantic.v1 import BaseModel

def describe(f, depth=0):
    info = f.field_info
    parts = [f.name, f.alias, repr(f.outer_type_), repr(f.type_), f.required, repr(f.default), f.shape,
             f.allow_none, f.validate_always, sorted(f.class_validators or {}),
             [getattr(v, "__qualname__", repr(v)) for v in (f.validators or [])],
             [getattr(v, "__qualname__", repr(v)) for v in (f.pre_validators or [])],
             [getattr(v, "__qualname__", repr(v)) for v in (f.post_validators or [])],
             repr(info), sorted(info.extra.items(), key=repr) if info else None,
             [describe(s, depth + 1) for s in (f.sub_fields or [])],
             describe(f.key_field, depth + 1) if f.key_field is not None else None,
             sorted((repr(k), describe(v, depth + 1)) for k, v in (f.sub_fields_mapping or {}).items())]
    return re.sub(r" at 0x[0-9a-f]+", "", repr(parts))

def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)

IMPORT
seen = {}
for m in models(BaseModel):
    if m.__module__.startswith("great_expectations"):
        seen[f"{m.__module__}.{m.__qualname__}"] = [describe(f) for f in m.__fields__.values()]
shared = sum(1 for m in models(BaseModel) for base in m.__mro__[1:] if hasattr(base, "__fields__")
             for f in m.__fields__.values() for g in base.__fields__.values() if f is g or f.field_info is g.field_info)
print(len(seen), shared)
for name in sorted(seen):
    print(name, seen[name])
"""


def test_lean_field_copies_build_the_same_gx_models_as_pydantic_deep_copies() -> None:
    plain = _FINGERPRINT.replace("IMPORT", "import great_expectations")
    lean = _FINGERPRINT.replace(
        "IMPORT",
        "from jobs.validate.deferred import lean_field_copies\n"
        "with lean_field_copies() as on:\n    assert on\n    import great_expectations",
    )
    outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
               for code in (plain, lean)]
    count, _shared = map(int, outputs[0].splitlines()[0].split())
    assert count > 300  # GX's models were all seen
    assert outputs[1] == outputs[0]  # the same fields, and as many shared with a base


def test_copy_fields_are_independent_where_a_subclass_changes_them() -> None:
    from pydantic.v1 import BaseModel, validator

    from jobs.validate.deferred import copy_fields

    class Base(BaseModel):
        items: list[int] = [1]
        pairs: dict[str, list[int]] = {}

    copies = copy_fields(Base.__fields__)
    for name, field in Base.__fields__.items():
        new = copies[name]
        assert new is not field and new.field_info is not field.field_info
        assert new.field_info.extra is not field.field_info.extra
        assert new.class_validators is not field.class_validators
        assert all(a is not b for a, b in zip(new.sub_fields or [], field.sub_fields or [], strict=True))
    assert copies["items"].default == [1] and copies["items"].default is not Base.__fields__["items"].default
    assert copies["pairs"].key_field is not Base.__fields__["pairs"].key_field

    from jobs.validate.deferred import lean_field_copies

    with lean_field_copies():
        class Child(Base):
            @validator("items")
            def positive(cls, v: list[int]) -> list[int]:
                return v

    assert "positive" in Child.__fields__["items"].class_validators
    assert "positive" not in Base.__fields__["items"].class_validators  # the base's field is untouched
    assert Child(items=[2]).items == [2] and Base().items == [1]
