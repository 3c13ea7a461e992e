"""The house's shape: stages import only downwards, modules and functions stay small.

The stages, bottom to top, are listed in ``STAGES`` (docs/architecture.md draws them). A module may import its own
stage and the stages below it, never one above: the data flows one way, bot database → load → store → queries →
report and web. Sizes are habits, not laws; the few places that exceed them are named in ``LONG_FUNCTIONS`` with
the reason, so a new one fails here and has to be argued for.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "amiga_analytics"

#: stage of each top-level module or folder of the package, bottom (0) to top
STAGES = {
    "errors": 0, "timeutil": 0, "sqlitefile": 0, "_version": 0, "_moved": 0, "_lean": 0,
    "bot": 1,
    "store": 2,
    "load": 3,
    "queries": 4,
    "report": 5, "web": 5, "export": 5,
    "demo": 6,
    "cli_output": 7, "cli": 7, "pipeline": 7, "metadata": 7, "__init__": 7, "__main__": 7,
}

#: (module, stage it imports although above it) → why
UPWARD_IMPORTS = {
    ("queries/__init__.py", "cli_output"): "the 0.1 names run_named/format_frame/FORMATS, loaded lazily on first use",
}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

#: (module, function) → why it is longer than MAX_FUNCTION_LINES
LONG_FUNCTIONS = {
    ("store/schema.py", "m001_initial"): "the analytics schema's first migration: table DDL, one statement a table",
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _stage(path: Path) -> tuple[str, int]:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    assert top in STAGES, f"{top}: a new top-level module or folder; give it a stage in STAGES (and in the docs)"
    return top, STAGES[top]


def _imported_tops(path: Path, text: str | None = None) -> set[str]:
    """The package's top-level modules/folders that ``path`` (or ``text`` standing in for it) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text)
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders between the package and this file
    tops = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1
                if up > depth:
                    continue
                base = list(path.relative_to(PACKAGE).parts[: depth - up])
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    tops.add(parts[0].removesuffix(".py"))
                else:  # from .. import name: each name is a module or an attribute of the package
                    tops.update(alias.name for alias in node.names if alias.name in STAGES)
            elif node.module and node.module.split(".")[0] == "amiga_analytics":
                parts = node.module.split(".")[1:]
                if parts:
                    tops.add(parts[0])
                else:
                    tops.update(alias.name for alias in node.names if alias.name in STAGES)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "amiga_analytics" and len(parts) > 1:
                    tops.add(parts[1])
    return tops


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    top, stage = _stage(path)
    name = str(path.relative_to(PACKAGE))
    upward = {t: STAGES[t] for t in _imported_tops(path)
              if t in STAGES and STAGES[t] > stage and t != top and (name, t) not in UPWARD_IMPORTS}
    assert not upward, f"{path.relative_to(PACKAGE)} (stage {stage}) imports stages above it: {upward}"


def test_the_check_catches_an_upward_import():
    """The checker itself: a load module importing queries is caught; queries importing load is allowed."""
    found = _imported_tops(PACKAGE / "load" / "x.py", "from ..queries import tool_cost\nfrom .merge import CallMerger\n")
    assert found == {"queries", "load"}
    assert _imported_tops(PACKAGE / "queries" / "y.py", "import amiga_analytics.load.pricing\n") == {"load"}
    assert _imported_tops(PACKAGE / "cli.py", "from . import demo as d\n") == {"demo"}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_small(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines: split it by job"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_are_short(path):
    name = str(path.relative_to(PACKAGE))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES and (name, node.name) not in LONG_FUNCTIONS:
                long.append(f"{node.name} ({length} lines)")
    assert not long, f"{name}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
