"""Module paths of 0.1 that moved into the pipeline's stage packages, kept importable.

``import amiga_analytics.sync`` (or ``from amiga_analytics.db import connect``) still works: the old name is an
alias of the module's new home, the same module object, so monkeypatching either name patches both. Modules the
package imports anyway are aliased at once; the heavy ones (the report, Datasette, the demo generator) are
aliased by a finder only when something asks for them, so ``import amiga_analytics`` stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

PACKAGE = "amiga_analytics"

#: old module name (under ``amiga_analytics.``) → its home now
MOVED = {
    "analytics_schema": "store.schema",
    "bot_schema": "bot.schema",
    "charts": "report.charts",
    "db": "store.connect",
    "embedded": "demo.embedded",
    "merge": "load.merge",
    "pricing": "load.pricing",
    "redact": "load.redact",
    "serve": "web.serve",
    "sources": "bot.snapshot",
    "sync": "load.sync",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target
        self.target_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self.target_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The target ran when it was imported; only its ``__spec__``, which the import system has just set to
        the alias's, is put back."""
        module.__spec__ = self.target_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"{PACKAGE}.{MOVED[name]}"))


def install(loaded: dict[str, ModuleType]) -> None:
    """Alias the already imported modules now (so that importing them later cannot rebind a package attribute
    such as ``amiga_analytics.sync``, the function), and the rest on demand."""
    for old, new in MOVED.items():
        module = loaded.get(f"{PACKAGE}.{new}")
        if module is not None:
            loaded.setdefault(f"{PACKAGE}.{old}", module)
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
