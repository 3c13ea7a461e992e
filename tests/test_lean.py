"""The command line's processes import sqlite-utils without pandas and numpy (amiga_analytics/_lean.py); a library
user's process keeps them. Each case runs a real interpreter: what a process imports is only seen from outside."""

from __future__ import annotations

import collections
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from amiga_analytics._lean import is_command_line

COMMAND = Path(sys.executable).with_name("amiga-analytics")  # the console script `make install` put beside python


@pytest.mark.parametrize("argv, want", [
    (["python", "-m", "amiga_analytics", "sync", "a", "b"], True),
    (["python", "-X", "importtime", "-m", "amiga_analytics"], True),
    (["python", "-mamiga_analytics", "--help"], True),
    (["/venv/bin/python", "/venv/bin/amiga-analytics", "report", "a.db"], True),
    (["python", "C:\\venv\\Scripts\\amiga-analytics-script.py"], True),
    (["python", "-m", "pytest", "tests"], False),
    (["python", "-m", "ipykernel_launcher", "-f", "k.json"], False),
    (["python", "-c", "import amiga_analytics"], False),
    (["python", "notebook_job.py", "amiga-analytics"], False),
    (["python"], False),
    (["python", "-Im", "amiga_analytics", "sync"], True),
    (["python", "-I", "-Ximporttime", "-m", "amiga_analytics"], True),
    (["python", "--check-hash-based-pycs", "never", "-m", "amiga_analytics"], True),
    (["python", "-Wignore", "/venv/bin/amiga-analytics"], True),
    (["python", "-Bc", "import amiga_analytics"], False),
    (["python", "-u", "-", "amiga-analytics"], False),
    (["python", "-X", "dev", "-m", "amiga_analytics.pipeline"], False),
])
def test_the_command_line_is_told_from_its_arguments(argv, want, monkeypatch):
    monkeypatch.delenv("AMIGA_ANALYTICS_LEAN", raising=False)
    assert is_command_line(argv) is want


def _imported(stderr: str) -> set[str]:
    """The top-level modules ``python -X importtime`` reports."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("how", ["module", "script"])
def test_a_command_line_sync_imports_neither_pandas_nor_numpy(how, sample_db, truth, tmp_path):
    out = tmp_path / "a.db"
    head = [sys.executable, "-X", "importtime"] + (["-m", "amiga_analytics"] if how == "module" else [COMMAND])
    done = _run(*head, "sync", sample_db, out, "--source-tz", "UTC")
    assert done.returncode == 0, done.stderr[-2000:]
    modules = _imported(done.stderr)
    assert "sqlite_utils.db" in modules and not modules & {"pandas", "numpy"}
    with sqlite3.connect(out) as conn:
        got = collections.Counter(conn.execute("SELECT tool_name, outcome FROM tool_calls WHERE call_id > 0"))
    assert got == collections.Counter((c["tool"], c["outcome"]) for c in truth["calls"])
    # A command that needs pandas still gets it, after sqlite-utils was imported without it.
    query = _run(*head, "query", out, "tool_cost", "--csv")
    assert query.returncode == 0, query.stderr[-2000:]
    assert "pandas" in _imported(query.stderr)
    rows = query.stdout.splitlines()
    calls = dict((r.split(",")[0], int(r.split(",")[1])) for r in rows[1:] if r and not r.startswith("TOTAL"))
    assert calls == dict(collections.Counter(c["tool"] for c in truth["calls"]))


def test_a_library_process_keeps_sqlite_utils_pandas_types():
    code = "import amiga_analytics, sqlite_utils.db as d; print(d.pd is not None, d.np is not None)"
    done = _run(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
