"""A lean command line: sqlite-utils without pandas and numpy.

sqlite-utils imports pandas and numpy at import time, when they are installed, for one purpose: to add their
scalar types (``numpy.int64``, ``pandas.Timestamp``, …) to the column types ``Table.insert()`` infers. This
package never inserts through sqlite-utils (it creates and migrates the schema with it and writes rows with SQL),
and the command line's sync, migrate and serve never need pandas at all; yet the two libraries are 82 MB of every
process that imports sqlite-utils (107 MB against 25 MB, measured with sqlite-utils 4.2.1). So the
``amiga-analytics`` command (and ``python -m amiga_analytics``) imports sqlite-utils with them hidden, and puts
them back at once: a command that needs pandas (``query``, ``report``) imports it as usual, only sqlite-utils'
``insert()`` does not know its types in that process.

A library user's process (a notebook, a script) is left alone: their own ``sqlite_utils`` inserts keep numpy's
types. A script that only syncs can ask for the same by setting ``AMIGA_ANALYTICS_LEAN=1`` before it imports the
package (the benchmark does, to measure what the command line uses).
"""

from __future__ import annotations

import importlib
import os
import re
import sys

COMMAND = "amiga-analytics"
MODULE = "amiga_analytics"
ENV = "AMIGA_ANALYTICS_LEAN"
HIDDEN = ("pandas", "numpy")
_TAKES_VALUE = {"W", "X"}  # short interpreter options that take a value (the rest of the cluster or the next)


def is_command_line(argv: list[str] | None = None) -> bool:
    """Whether this interpreter runs the ``amiga-analytics`` command or ``python -m amiga_analytics``
    (``argv``: the interpreter's own arguments, default ``sys.orig_argv``), or ``AMIGA_ANALYTICS_LEAN=1``."""
    if os.environ.get(ENV) == "1":
        return True
    args = list(sys.orig_argv if argv is None else argv)[1:]
    while args:
        arg = args.pop(0)
        if arg == "--":  # what follows is the script
            arg = args.pop(0) if args else "-"
        if arg == "-" or not arg.startswith("-"):  # the script (or stdin)
            return re.split(r"[\\/]", arg)[-1].split(".")[0].removesuffix("-script") == COMMAND
        if arg.startswith("--"):  # --check-hash-based-pycs MODE takes a value; other long options none
            if arg == "--check-hash-based-pycs" and args:
                args.pop(0)
            continue
        verdict = _short_options(arg[1:], args)
        if verdict is not None:
            return verdict
    return False


def _short_options(cluster: str, args: list[str]) -> bool | None:
    """One cluster of short interpreter options (``-Im mod``, ``-X importtime``): the verdict when it names what
    runs (``-m``, ``-c``), else None (``args``' first item is taken when an option takes it as its value)."""
    for i, letter in enumerate(cluster):
        rest = cluster[i + 1:]
        if letter == "m":
            return (rest or (args.pop(0) if args else "")) == MODULE
        if letter == "c":
            return False
        if letter in _TAKES_VALUE:
            if not rest and args:
                args.pop(0)
            return None
    return None


def import_sqlite_utils() -> None:
    """Import sqlite-utils with pandas and numpy hidden, if this process is the command line and none of the
    three is imported yet; else do nothing."""
    if not is_command_line() or any(name in sys.modules for name in ("sqlite_utils", *HIDDEN)):
        return
    for name in HIDDEN:
        sys.modules[name] = None  # type: ignore[assignment]  # "import pandas" raises ImportError
    try:
        importlib.import_module("sqlite_utils")
    finally:
        for name in HIDDEN:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
