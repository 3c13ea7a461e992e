"""The documentation stays true: every command has help with an example and is in the README; the README's
notebooks exist; the design's public names exist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_with_an_example_and_is_in_the_readme(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"amiga-analytics {command}" in result.output
    assert f"`{command} " in README or f"amiga-analytics {command}" in README


def test_readme_starts_with_the_two_commands():
    head = README.split("## ", 2)[1]
    assert "make report" in head and "make test" in head


def test_every_notebook_in_the_readme_exists():
    listed = {line.split("`")[1] for line in README.splitlines() if line.startswith("| `notebooks/")}
    on_disk = {f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert listed == on_disk


def test_the_design_contract_names_exist():
    for name in ("sync", "connect", "tool_cost", "error_rates", "task_throughput", "weekly_report"):
        assert callable(getattr(aa, name)), name
    assert set(aa.QUERIES) >= {"tool_cost", "error_rates", "task_throughput"}


def test_changelog_has_this_version():
    assert f"## [{aa.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_the_readmes_help_is_the_real_help():
    """The ``amiga-analytics --help`` pasted in the README is what the command prints in a pipe, and every
    command has a row in the README's command table."""
    pasted = README.split("$ amiga-analytics --help\n", 1)[1].split("```", 1)[0]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    printed = subprocess.run([sys.executable, "-m", "amiga_analytics", "--help"], capture_output=True, text=True,
                             env=env, check=True).stdout
    assert printed == pasted
    rows = {name for line in README.splitlines() if line.startswith("| `")
            for name in line.split("`")[1].split()[0].split("/")}
    assert set(cli.commands) <= rows, set(cli.commands) - rows
