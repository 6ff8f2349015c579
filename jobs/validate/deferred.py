"""Make ``import great_expectations`` cheaper: defer what it never uses.

``import great_expectations`` imports every core expectation, and one of them
(``expect_column_kl_divergence_to_be_less_than``) pulls in ``scipy.stats`` and
``altair`` at module level: about a third of the import (~1 s of ~3.2 s,
measured with ``python -X importtime``). None of the checks we declare uses
either, so while GX is imported those modules are stand-ins that import the
real module on first attribute access. Afterwards the stand-ins leave
``sys.modules``: anyone importing the module later gets the real one.

Only public mechanisms are used: an entry in the module cache
(``sys.modules``, which the import system documents as consulted first) and a
module type's ``__getattr__``. Nothing of GX, pydantic or the import system is
replaced. (Pydantic v1's deep copy of inherited fields, ~0.3 s of the import,
is accepted: avoiding it meant replacing a private pydantic function.)
"""

from __future__ import annotations

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
