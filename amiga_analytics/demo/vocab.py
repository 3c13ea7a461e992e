"""The demo's vocabularies (file names, commands, texts, error messages, names), loaded once from ``data/``.

Lists in the JSON files become tuples, as they were when these lived in Python; names here are what the
generator's modules import.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def _tuples(value: Any) -> Any:
    """JSON lists as tuples, recursively (dicts keep their order)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def load(name: str) -> Any:
    """The package data file ``data/<name>`` (JSON), lists as tuples."""
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    return _tuples(json.loads(text))


_workspaces = load("workspaces.json")
_parameters = load("parameters.json")
_people = load("people.json")

PY_FILES: tuple[str, ...] = _workspaces["files"]["python"]
WORKSPACES: dict[str, tuple[str, ...]] = {  # name -> files (the same tuple objects: code tests `is PY_FILES`)
    name: _workspaces["files"][kind] for name, kind in _workspaces["workspaces"].items()}
DOCS: tuple[str, ...] = _workspaces["docs"]

SYMBOLS: tuple[str, ...] = _parameters["symbols"]
GREP_PATTERNS: tuple[str, ...] = _parameters["grep_patterns"]
GLOB_PATTERNS: tuple[str, ...] = _parameters["glob_patterns"]
EDIT_PAIRS: tuple[tuple[str, str], ...] = _parameters["edit_pairs"]
TODOS: tuple[tuple[str, str], ...] = _parameters["todos"]
URLS: tuple[str, ...] = _parameters["urls"]
QUERIES: tuple[str, ...] = _parameters["queries"]
SUBAGENT_PROMPT: str = _parameters["subagent_prompt"]
SQLITE_COMMANDS: tuple[tuple[str, str], ...] = _parameters["sqlite_commands"]  # (command, description)
CODE: str = resources.files(__package__).joinpath("data", "code.txt").read_text(encoding="utf-8") * 4

USERNAMES: tuple[str, ...] = _people["usernames"]
DOMAINS: tuple[str, ...] = _people["domains"]
REQUESTS: tuple[tuple[str, str, str], ...] = _people["requests"]  # (user message, task description, agent hint)
CHAT: tuple[tuple[str, str], ...] = _people["chat"]  # (user message, answer template)
RESULTS: tuple[str, ...] = _people["results"]
EXCEPTIONS: tuple[str, ...] = _people["exceptions"]

BASH_ERRORS: dict[str, tuple[str, ...]] = load("bash_errors.json")  # command kind -> error texts
TOOL_ERRORS: dict[str, Any] = load("tool_errors.json")  # error texts per tool family; {placeholders} filled in
