"""The notebooks in notebooks/: built by notebooks/build.py, committed without outputs, and run top to bottom.

Each notebook runs in a fresh ``python3`` kernel against a small demo analytics database built here and named
by ``AMIGA_DB``; the embedded demo's cache (``AMIGA_ANALYTICS_CACHE``) and the kernel's working directory are
temporary folders, and ``MPLBACKEND=Agg``. A cell that raises fails the test. The kernel is the Python that runs
the tests (jupyter_client starts a ``python`` kernelspec with ``sys.executable``), which
``test_kernel_is_the_test_python`` checks.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import amiga_analytics as aa
from amiga_analytics import charts

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
COMMITTED = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["00_quickstart.ipynb", "01_tool_costs.ipynb", "02_error_rates.ipynb", "03_task_throughput.ipynb",
            "04_weekly_report.ipynb"]
WEEKLY = NOTEBOOK_DIR / "04_weekly_report.ipynb"
DEMO_TZ = "Europe/Madrid"
# The test demo covers 21 days ending on Sunday 2025-10-26: ISO weeks 41 to 43. The report's default is the last
# complete one (W43); the injected week is the one before, so the test sees the injection take effect.
INJECTED_WEEK = "2025-W42"
ALLOWED_IMPORTS = {"amiga_analytics": {"charts"}}  # from amiga_analytics import charts; nothing deeper


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOK_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(nb) -> str:
    """Everything the executed notebook printed or displayed as text."""
    parts = []
    for cell in _code_cells(nb):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def _display_types(nb) -> list[str]:
    return [mime for cell in _code_cells(nb) for out in cell.get("outputs", [])
            if out.output_type in ("execute_result", "display_data") for mime in out.data]


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory) -> dict:
    """A small demo bot database synced into an analytics database, and empty folders for the kernel."""
    from amiga_analytics.demo import write_demo

    base = tmp_path_factory.mktemp("notebooks")
    bot = base / "demo-bot.db"
    write_demo(bot, days=21, calls=3000, seed=2025, tz=DEMO_TZ)
    analytics = base / "analytics.db"
    aa.sync(bot, analytics, source_tz=DEMO_TZ)
    folders = {name: base / name for name in ("cache", "work", "ipython", "runtime")}
    for folder in folders.values():
        folder.mkdir()
    return {"analytics": analytics, **folders}


def _run(nb, notebook_env, monkeypatch):
    """Execute ``nb`` in place in a fresh python3 kernel; raises CellExecutionError if a cell fails."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(notebook_env["runtime"]))  # connection files stay in tmp
    env = dict(os.environ)  # after conftest's isolation: no real AMIGA_DB, no cost limits
    env.update({
        "AMIGA_DB": str(notebook_env["analytics"]),
        "AMIGA_ANALYTICS_CACHE": str(notebook_env["cache"]),
        "MPLBACKEND": "Agg",
        "IPYTHONDIR": str(notebook_env["ipython"]),  # no user profile or startup files
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    client = NotebookClient(nb, kernel_name="python3", timeout=120, startup_timeout=60,
                            resources={"metadata": {"path": str(notebook_env["work"])}})
    client.execute(env=env)
    return nb


# --------------------------------------------------------------------------------------------------------------
# The committed files


def test_the_numbered_notebooks_are_committed():
    assert [p.name for p in COMMITTED] == EXPECTED


def test_build_script_reproduces_the_committed_notebooks():
    build = _load_build()
    assert sorted(build.NOTEBOOKS) == [p.name for p in COMMITTED], "a notebook is missing from notebooks/build.py"
    for path in COMMITTED:
        assert build.render(path.name) == path.read_text(encoding="utf-8"), (
            f"{path.name} differs from what notebooks/build.py builds: edit build.py, then run "
            f"`python notebooks/build.py` and commit both")


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in _code_cells(nb):
        assert cell.outputs == [], f"{path.name}: a cell was committed with outputs"
        assert cell.execution_count is None, f"{path.name}: a cell was committed with an execution count"
        assert "execution" not in cell.metadata
    assert all("attachments" not in c for c in nb.cells)


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_opens_with_a_markdown_question(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    title = first.source.splitlines()[0]
    assert title.startswith("# ") and "?" in title, f"{path.name}: the first cell should say what it answers"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_uses_only_the_public_api_and_the_database_from_env(path):
    nb = nbformat.read(path, as_version=4)
    source = "\n\n".join(c.source for c in _code_cells(nb))
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "amiga_analytics":
                    assert alias.name == "amiga_analytics" and alias.asname == "aa", ast.unparse(node)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "amiga_analytics":
            allowed = ALLOWED_IMPORTS.get(node.module, set())
            assert {a.name for a in node.names} <= allowed, f"{path.name}: {ast.unparse(node)} is not public API"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "aa":
                assert node.attr in aa.__all__, f"{path.name}: aa.{node.attr} is not in amiga_analytics.__all__"
            elif node.value.id == "charts":
                assert node.attr in charts.__all__, f"{path.name}: charts.{node.attr} is not a public chart name"
    assert "aa.database_from_env()" in source
    assert "os.environ" not in source and "getenv" not in source, "find the database with aa.database_from_env()"


def test_weekly_report_has_a_parameters_cell():
    nb = nbformat.read(WEEKLY, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assigned = {t.id: n.value.value for n in ast.parse(tagged[0].source).body if isinstance(n, ast.Assign)
                for t in n.targets}
    assert assigned == {"week": None, "out_dir": None}


# --------------------------------------------------------------------------------------------------------------
# Running them


def test_kernel_is_the_test_python(notebook_env, monkeypatch):
    nb = new_notebook(cells=[new_code_cell(
        "import sys, matplotlib\nprint(sys.executable)\nprint(sys.prefix)\nprint(sys.base_prefix)\n"
        "print(matplotlib.get_backend())")])
    executable, prefix, base_prefix, backend = _text(_run(nb, notebook_env, monkeypatch)).split()
    assert prefix == sys.prefix, f"the python3 kernel runs {executable}, not the test's {sys.executable}"
    assert prefix != base_prefix, "the kernel should run in the project's virtualenv"
    assert backend.lower() == "agg"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, notebook_env, monkeypatch):
    nb = _run(nbformat.read(path, as_version=4), notebook_env, monkeypatch)
    text = _text(nb)
    assert f"analytics database: {notebook_env['analytics']}" in text, "AMIGA_DB was not used"
    assert "Traceback" not in text
    if path == WEEKLY:
        default_week = aa.weekly_report(notebook_env["analytics"]).week
        assert f"Weekly report {default_week}:" in text


def test_weekly_report_runs_for_an_injected_week(notebook_env, monkeypatch, tmp_path):
    assert aa.weekly_report(notebook_env["analytics"]).week != INJECTED_WEEK  # else the injection proves nothing
    nb = nbformat.read(WEEKLY, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    out_dir = tmp_path / "reports"
    injected = new_code_cell(f"# Parameters\nweek = {INJECTED_WEEK!r}\nout_dir = {str(out_dir)!r}\n",
                             metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at + 1, injected)  # where papermill puts it
    text = _text(_run(nb, notebook_env, monkeypatch))
    headers = re.findall(r"Weekly report (\S+):", text)
    assert headers == [INJECTED_WEEK]
    assert "Monday 2025-10-13 to Sunday 2025-10-19" in text
    assert _display_types(nb).count("image/png") >= 3, "the report's charts are not displayed"
    assert (out_dir / INJECTED_WEEK / "report.html").is_file()
    assert str(out_dir / INJECTED_WEEK / "report.html") in text
