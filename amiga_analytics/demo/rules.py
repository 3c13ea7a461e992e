"""The bot's own rules, reimplemented exactly (scripts/record_tool_usage.py): error categories and the hooks'
parameter sanitiser."""

from __future__ import annotations

import json

_ERROR_RULES = (
    ("permission_error", ("permission denied", "access denied", "forbidden", "not permitted")),
    ("file_not_found", ("no such file", "file not found", "cannot find", "does not exist")),
    ("timeout", ("timed out", "timeout", "deadline exceeded")),
    ("syntax_error", ("syntax error", "invalid syntax", "parsing error", "parse error")),
    ("network_error", ("connection", "network", "refused", "unreachable", "dns", "socket", "ssl", "tls")),
    ("git_error", ("git error", "merge conflict", "rebase", "detached head", "not a git")),
    ("validation_error", ("validation", "invalid", "malformed", "bad request")),
    ("resource_error", ("out of memory", "disk full", "quota", "too many", "resource", "limit exceeded")),
    ("command_not_found", ("command not found", "not recognized", "no such command")),
)
_SENSITIVE_KEYS = ("token", "password", "secret", "api_key", "auth", "credential")


def categorize_error(error: str | None) -> str:
    """The post-hook's ``categorize_error`` (bot-data.md §2.7): case-insensitive substrings, first rule wins.

    >>> categorize_error("String to replace not found in file.")
    'unknown_error'
    >>> categorize_error("docker: permission denied while trying to connect to the Docker daemon socket")
    'permission_error'
    >>> categorize_error("Error: Cannot find module 'vite'")
    'file_not_found'
    """
    if not error:
        return "unknown_error"
    low = error.lower()
    for category, needles in _ERROR_RULES:
        if any(needle in low for needle in needles):
            return category
    return "unknown_error"


def sanitize_parameters(params: dict | None) -> dict:
    """The hooks' ``sanitize_parameters`` (§2.6): top-level keys only, long strings cut to 500 chars + "...".

    >>> sanitize_parameters({"author": "ana", "command": "x" * 501, "todos": [{"token": "kept"}]})["author"]
    '<redacted>'
    >>> len(sanitize_parameters({"command": "x" * 501})["command"])
    503
    """
    if not params:
        return {}
    clean = {}
    for key, value in params.items():
        sensitive = _SENSITIVE_CACHE.get(key)
        if sensitive is None:
            low = str(key).lower()
            sensitive = _SENSITIVE_CACHE[key] = any(word in low for word in _SENSITIVE_KEYS)
        if sensitive:
            clean[key] = "<redacted>"
        elif isinstance(value, str) and len(value) > 500:
            clean[key] = value[:500] + "..."
        else:
            clean[key] = value
    return clean


_SENSITIVE_CACHE: dict = {}


# -- which row the post-hook completes (bot-data.md §3.1, §8): for the demo's replay of the hooks (.replay) -------

_FILE_KEY_TOOLS = ("Read", "Write", "Edit")
_PATTERN_KEY_TOOLS = ("Grep", "Glob")


def match_key(tool: str, params: str | None) -> tuple:
    """What the post-hook compares besides task and tool: ``file_path`` for Read/Write/Edit (offset and limit do
    not count), the command for Bash (the bot compares an md5 prefix of it), the first 50 characters of the
    pattern for Grep/Glob (the path does not count), else the whole stored input (``params``, as stored)."""
    if params is None:
        return (tool, None)
    if tool in _FILE_KEY_TOOLS or tool == "Bash" or tool in _PATTERN_KEY_TOOLS:
        value = json.loads(params)
        if tool == "Bash":
            return (tool, "c", str(value.get("command", "")))
        if tool in _FILE_KEY_TOOLS:
            return (tool, "f", str(value.get("file_path", "")))
        return (tool, "p", str(value.get("pattern", ""))[:50])
    return (tool, "j", params)


def gate_blocked(tool: str, command: str) -> bool:
    """The shell pre-hook's ``exit 1`` (§8): ``git commit`` with ``--no-verify``, ``--no-gpg-sign`` or ``-n``
    anywhere in the command text (``user-name`` too), and ``git push`` with ``--force`` or ``-f``. The call still
    runs, with no pre row."""
    if tool != "Bash" or "git " not in command:
        return False
    if "git commit" in command and ("--no-verify" in command or "--no-gpg-sign" in command or "-n" in command):
        return True
    if "git push" not in command:
        return False
    if "--force" in command:
        return True
    at = command.find("-f")
    while at >= 0:
        after = command[at + 2:at + 3]
        if after and not ("a" <= after <= "z") and after != "\n":
            return True
        at = command.find("-f", at + 1)
    return False
