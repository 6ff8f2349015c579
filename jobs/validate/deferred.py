"""Make ``import great_expectations`` cheaper: defer what it never uses, copy less.

``import great_expectations`` imports every core expectation, and one of them
(``expect_column_kl_divergence_to_be_less_than``) pulls in ``scipy.stats`` and
``altair`` at module level: about a third of the import (~1 s of ~3.2 s,
measured with ``python -X importtime``). None of the checks we declare uses
either, so while GX is imported those modules are stand-ins that import the
real module on first attribute access. Afterwards the stand-ins leave
``sys.modules``: anyone importing the module later gets the real one.

:func:`lean_field_copies` handles the other large share: pydantic v1 builds
each model class with a deep copy of every base class's fields, and GX
declares hundreds of models (~460k ``deepcopy`` calls, about 0.4 s).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# Modules GX imports but our checks never touch (see the module docstring).
GX_UNUSED: tuple[str, ...] = ("scipy.stats", "altair")


class DeferredModule(types.ModuleType):
    """Stands in for a module; imports the real one when an attribute is first read."""

    def __getattr__(self, attr: str) -> Any:
        real = self.__dict__.get("_deferred_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_deferred_real"] = real
        return getattr(real, attr)


@contextmanager
def deferred(names: Sequence[str] = GX_UNUSED) -> Iterator[list[str]]:
    """Within the block, importing one of ``names`` (not yet imported) yields a :class:`DeferredModule`.

    Yields the names actually deferred. A name whose parent package cannot be
    found is left alone (the import then fails or succeeds as it would have).
    """
    stand_ins: dict[str, DeferredModule] = {}
    for name in names:
        if name in sys.modules:
            continue
        parent = name.rpartition(".")[0]
        try:
            if parent:
                importlib.import_module(parent)
            if importlib.util.find_spec(name) is None:
                continue
        except ImportError:
            continue
        stand_ins[name] = sys.modules[name] = DeferredModule(name)
    try:
        yield list(stand_ins)
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


@contextmanager
def lean_field_copies() -> Iterator[bool]:
    """Within the block, pydantic v1 copies inherited fields structurally instead of deep-copying them.

    A new model class gets copies of its bases' ``ModelField``s, which it then
    adjusts: it rebinds their attributes, updates ``class_validators`` and
    ``field_info`` (and its ``extra``) in place, and may re-prepare sub-fields.
    :func:`copy_fields` copies exactly those parts and deep-copies defaults;
    the type annotations and validator functions, which pydantic never
    mutates, are shared instead of rebuilt. Yields whether the hook was
    installed (pydantic v1 present and as expected).
    """
    try:
        from pydantic.v1 import main
        from pydantic.v1.fields import ModelField
    except ImportError:
        yield False
        return
    original = getattr(main, "smart_deepcopy", None)
    if original is None or not hasattr(ModelField, "__slots__"):
        yield False
        return

    def smart_deepcopy(obj: Any) -> Any:
        if type(obj) is dict and obj and all(type(f) is ModelField for f in obj.values()):
            return copy_fields(obj)
        return original(obj)

    main.smart_deepcopy = smart_deepcopy
    try:
        yield True
    finally:
        main.smart_deepcopy = original


def copy_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Copies of pydantic v1 ``ModelField``s, independent wherever a subclass may change them."""
    done: dict[int, Any] = {}
    memo: dict[int, Any] = {}  # defaults: one deep copy per object, as deepcopy would share it
    return {name: _copy_field(f, done, memo) for name, f in fields.items()}


def _copy_field(field: Any, done: dict[int, Any], memo: dict[int, Any]) -> Any:
    hit = done.get(id(field))
    if hit is not None:
        return hit
    cls = type(field)
    new = done[id(field)] = cls.__new__(cls)
    for slot in cls.__slots__:
        if hasattr(field, slot):
            setattr(new, slot, getattr(field, slot))
    new.default = copy.deepcopy(field.default, memo)
    info = field.field_info
    if info is not None:
        new.field_info = copy.copy(info)
        new.field_info.extra = dict(info.extra)
        new.field_info.default = copy.deepcopy(info.default, memo)
    if field.class_validators is not None:  # an empty dict too: the subclass may add to it
        new.class_validators = dict(field.class_validators)
    if field.sub_fields:
        new.sub_fields = [_copy_field(f, done, memo) for f in field.sub_fields]
    if field.key_field is not None:
        new.key_field = _copy_field(field.key_field, done, memo)
    if field.sub_fields_mapping:
        new.sub_fields_mapping = {k: _copy_field(f, done, memo) for k, f in field.sub_fields_mapping.items()}
    return new
