"""Structured fields derived from masked free text at sync time: the error template and the command's program.

:func:`error_template` turns a (masked) error text into a template that groups errors of one kind: paths,
URLs, host names, quoted values, ids, hex strings, long tokens and numbers are replaced by placeholders
(``<path>``, ``<url>``, ``<host>``, ``'<*>'``, ``<id>``, ``<token>``, ``<n>``); a path in a home directory
(``/Users/<name>/…``, ``/home/<name>/…``, ``/root/…``) becomes ``~/<path>``, so no user name survives.
A Python traceback keeps only its final exception line. Whitespace runs become one space and the template is
cut to :data:`MAX_TEMPLATE` characters.

The rule is a pure function of one text: the same error gives the same template whatever else was loaded, in
a full sync or in any sequence of incremental ones. (A clustering log miner such as drain3 derives a message's
template from the messages seen before it, so a template stored at sync time would depend on the order and
cut of the syncs.) :data:`RULES_VERSION` names the rule set; a sync whose state recorded another version
recomputes every stored template (:func:`refresh`).

:func:`command_program` is the program a Bash call ran: the first word of its (masked) command after
``cd … &&`` steps, ``VAR=value`` assignments and wrappers such as ``sudo`` or ``python -m``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any

RULES_VERSION = "1"
"""Version of the template and program rules; bump it when a rule changes (stored values are recomputed)."""
MAX_TEMPLATE = 200
STATE_KEY = "template_rules"

_WORD = r"[A-Za-z0-9_.@%+~-]"
_HOME = re.compile(r"(?:/Users|/home)/[^/\s'\"]+(?=/|\b)|/root(?=/|\b)")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]*(?:<[a-z-]+>[^\s'\"<>]*)*")
_PATH = re.compile(r"(?<![\w.<>:/~-])(~|\.{1,2})?(/" + _WORD + r"+)+/?|(?<![\w/<>.-])(?:\.{0,2}" + _WORD
                   + r"+/)+" + _WORD + r"*(?<![.:,])")
_EXTENSIONS = ("py|pyi|ipynb|js|mjs|cjs|ts|tsx|jsx|vue|svelte|json|toml|yaml|yml|ini|cfg|conf|md|rst|txt|"
               "html|css|scss|sh|bash|zsh|log|db|sqlite|lock|png|jpe?g|gif|svg|pdf|csv|xml|go|rs|java|kt|"
               "c|h|cc|cpp|hpp|rb|php|sql|env|tf|swift|dart|lua|zip|tar|gz")
_FILE = re.compile(r"(?<![\w<>.-])[\w-]+(?:\.[\w-]+)*\.(?:" + _EXTENSIONS + r")\b(?![\w/-])")
_HOST = re.compile(r"(?<![\w.<>-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|app|ai|co|local|"
                   r"internal|cloud|run|sh)\b(?![\w.-])", re.I)
_QUOTED = re.compile(r"(?<![\w\\])'([^'\n]{0,300})'(?!\w)|(?<![\w\\])\"([^\"\n]{0,300})\"")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_HEX = re.compile(r"(?<![\w<])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}(?![\w>])", re.I)
_TOKEN = re.compile(r"(?<![\w<])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}(?![\w>])")
_SHORT_ID = re.compile(r"(?<![\w<])[a-z]\d+(?![\w>])")
_NUMBER = re.compile(r"(?<![A-Za-z_<])\d+(?:[.,:]\d+)*")
_PYTEST_NODE = re.compile(r"(<path>|<file>)::[\w\[\]<>.:-]+")
_FRAME = re.compile(r'^\s*File "[^"\n]*", line \d+', re.M)
_SPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_ENUM = re.compile(r"^[a-z]+(?:_[a-z]+)+$")
_PLACEHOLDERS_ONLY = re.compile(r"^(?:~/)?(?:<[a-z*]+>|[\s:/~])*$")


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else text


def _path(match: re.Match) -> str:
    text = match.group(0)
    return "~/<path>" if text.startswith("~") and len(text) > 1 else "<path>"


def _quoted(match: re.Match) -> str:
    quote = "'" if match.group(1) is not None else '"'
    inner = match.group(1) if match.group(1) is not None else match.group(2)
    if inner and _PLACEHOLDERS_ONLY.match(inner):
        return quote + inner + quote  # a quoted path or URL keeps its placeholder ('~/<path>')
    if quote == '"':
        after, before = match.string[match.end():].lstrip()[:1], match.string[:match.start()].rstrip()[-1:]
        if after == ":" or (before == ":" and _ENUM.match(inner)):
            return match.group(0)  # a JSON key, or an enum value such as "overloaded_error": the error's kind
    return quote + "<*>" + quote


def error_template(text: str | None) -> str | None:
    """The template of a masked error text (None for no text).

    >>> error_template("ls: cannot access '/Users/ana/Workspace/web/src': No such file or directory")
    "ls: cannot access '~/<path>': No such file or directory"
    >>> error_template("File content (87321 tokens) exceeds maximum allowed tokens (25000).")
    'File content (<n> tokens) exceeds maximum allowed tokens (<n>).'
    >>> error_template("fatal: 'task/ec2de1' is already checked out at '/tmp/agentlab-worktrees/ec2de1'")
    "fatal: '<path>' is already checked out at '<path>'"
    """
    if text is None:
        return None
    return _template(text)


@lru_cache(maxsize=8192)  # error texts repeat a lot; the rules are a pure function of the text
def _template(text: str) -> str:
    if _FRAME.search(text):
        text = "<traceback> " + _last_line(text)
    out = _HOME.sub("~", text)
    if "://" in out:
        out = _URL.sub("<url>", out)
    if "-" in out:
        out = _UUID.sub("<id>", out)
    if "/" in out:
        out = _PATH.sub(_path, out)
        out = _PYTEST_NODE.sub(r"\1::<test>", out)
    if "." in out:
        out = _FILE.sub("<file>", out)
        out = _HOST.sub("<host>", out)
    if "'" in out or '"' in out:
        out = _QUOTED.sub(_quoted, out)
    if _DIGIT.search(out):
        out = _HEX.sub("<id>", out)
        out = _TOKEN.sub("<token>", out)
        out = _SHORT_ID.sub("<id>", out)
        out = _NUMBER.sub("<n>", out)
    out = _SPACE.sub(" ", out).strip()
    if len(out) > MAX_TEMPLATE:
        out = out[:MAX_TEMPLATE].rstrip() + "…"
    return out


# -- the program of a Bash command ------------------------------------------------------------------------------

_SEGMENT = re.compile(r"\s*(?:&&|\|\||;|\n)\s*")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PROGRAM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,39}$")
_WRAPPERS = {"sudo", "env", "time", "nohup", "exec", "command", "nice", "timeout", "xargs", "caffeinate"}
_RUNNERS = {"uv": "run", "poetry": "run", "pipenv": "run", "pdm": "run", "bundle": "exec", "npx": None,
            "pnpx": None, "bunx": None, "uvx": None}
_PYTHONS = re.compile(r"^python(?:\d(?:\.\d+)?)?$")


def _words(segment: str) -> list[str]:
    return segment.split()


def _program_of(words: list[str]) -> str | None:
    i = 0
    while i < len(words):
        word = words[i].strip("'\"(")
        if _ASSIGNMENT.match(word) or word in _WRAPPERS or (word.startswith("-") and i > 0):
            i += 1
            if word == "timeout" and i < len(words) and words[i][:1].isdigit():
                i += 1
            continue
        name = word.rsplit("/", 1)[-1]
        if name in _RUNNERS and i + 1 < len(words):
            sub = _RUNNERS[name]
            i += 2 if sub is not None and words[i + 1] == sub else 1
            continue
        if _PYTHONS.match(name) and i + 2 < len(words) and words[i + 1] == "-m":
            name = words[i + 2]
        return name if _PROGRAM.match(name) else None
    return None


def command_program(tool: str | None, params: str | None) -> str | None:
    """The program a Bash call ran (``git``, ``pytest``, ``npm``, …), from its masked parameters; else None.

    >>> command_program("Bash", '{"command": "cd /ws/web && FOO=1 python -m pytest -q"}')
    'pytest'
    >>> command_program("Bash", '{"command": "sudo /usr/bin/git push"}')
    'git'
    """
    if tool != "Bash" or not params:
        return None
    try:
        parsed: Any = json.loads(params)
    except ValueError:
        return None
    command = parsed.get("command") if isinstance(parsed, dict) else None
    if not isinstance(command, str):
        return None
    for segment in _SEGMENT.split(command):
        words = _words(segment)
        if not words or words[0] in ("cd", "pushd", "popd", "export", "source", ".", "set"):
            continue
        return _program_of(words)
    return None


def derived(tool: str | None, error: str | None, params: str | None) -> tuple[str | None, str | None]:
    """``(error_template, program)`` of one call, from its masked error and parameters."""
    return error_template(error), command_program(tool, params)


# -- recomputing stored values ----------------------------------------------------------------------------------

STORED_SQL = "SELECT call_id, tool_name, error, parameters FROM tool_calls"
UPDATE_SQL = "UPDATE tool_calls SET error_template = :error_template, program = :program WHERE call_id = :call_id"


def refresh(conn: sqlite3.Connection, state: MutableMapping[str, Any], *, incremental: bool) -> int:
    """Recompute the stored templates and programs if they were made by other rules (or none: a database
    migrated from before they existed); returns how many calls were recomputed. A full sync computes them as
    it writes the rows, and only records the rules' version."""
    recompute = incremental and state.get(STATE_KEY) != RULES_VERSION
    state[STATE_KEY] = RULES_VERSION
    if not recompute:
        return 0
    updates = [{"call_id": call_id, "error_template": template, "program": program}
               for call_id, tool, error, params in conn.execute(STORED_SQL)
               for template, program in [derived(tool, error, params)]]
    conn.executemany(UPDATE_SQL, updates)
    return len(updates)
