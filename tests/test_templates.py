"""Error templates and the Bash program: hand-written expectations, hand-built bot rows, the demo's truth,
incremental = full, and the backfill of a database synced before the columns existed."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import amiga_analytics as aa
from amiga_analytics import bot_schema
from amiga_analytics.load.templates import command_program, error_template
from amiga_analytics.sync import sync
from conftest import SAMPLE_DB

# (masked error text, the template a reader expects), written by hand.
TEMPLATES = [
    ("ls: cannot access '/Users/ana/Workspace/web/src': No such file or directory",
     "ls: cannot access '~/<path>': No such file or directory"),
    ("ls: cannot access '/home/bob/work/api/src': No such file or directory",
     "ls: cannot access '~/<path>': No such file or directory"),
    ("Path does not exist: /Users/ana/Workspace/amiga/src/legacy", "Path does not exist: ~/<path>"),
    ("EACCES: permission denied, open '/srv/app/config.json'", "EACCES: permission denied, open '<path>'"),
    ("File content (87321 tokens) exceeds maximum allowed tokens (25000).",
     "File content (<n> tokens) exceeds maximum allowed tokens (<n>)."),
    ("fatal: 'task/ec2de1' is already checked out at '/tmp/agentlab-worktrees/ec2de1'",
     "fatal: '<path>' is already checked out at '<path>'"),
    ("Agent type 'qa-agent' not found. Available agents: general-purpose, code_agent",
     "Agent type '<*>' not found. Available agents: general-purpose, code_agent"),
    ("Error: Ref e31 not found in the current page snapshot.", "Error: Ref <id> not found in the current page snapshot."),
    ("FAILED tests/test_routes.py::test_create_expense - AssertionError: assert 500 == 201",
     "FAILED <path>::<test> - AssertionError: assert <n> == <n>"),
    ("Traceback (most recent call last):\n  File \"/Users/ana/w/train.py\", line 12, in <module>\n    import requests\n"
     "ModuleNotFoundError: No module named 'requests'", "<traceback> ModuleNotFoundError: No module named '<*>'"),
    ("fatal: unable to access 'https://oauth2:<masked>@gitlab.com/acme/infra.git/': The requested URL returned "
     "error: 403", "fatal: unable to access '<url>': The requested URL returned error: <n>"),
    ("getaddrinfo ENOTFOUND docs.internal.acme.dev", "getaddrinfo ENOTFOUND <host>"),
    ("Command timed out after 2m 0.0s", "Command timed out after <n>m <n>s"),
    ("CONFLICT (content): Merge conflict in main.py\nAutomatic merge failed",
     "CONFLICT (content): Merge conflict in <file> Automatic merge failed"),
    ('API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
     'API Error: <n> {"type":"<*>","error":{"type":"overloaded_error","message":"<*>"}}'),
    ("session 3f2b9c1e-8a4d-4e6f-9b0a-1c2d3e4f5a6b expired", "session <id> expired"),
    ("bad commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "bad commit <id>"),
    ("KeyError: 'user_id'", "KeyError: '<*>'"),
    ("It didn't work", "It didn't work"),
    ("String to replace not found in file.", "String to replace not found in file."),
]


@pytest.mark.parametrize("text, want", TEMPLATES, ids=[t[1][:40] for t in TEMPLATES])
def test_templates_replace_what_varies(text, want):
    assert error_template(text) == want


def test_template_is_one_line_and_bounded():
    assert error_template(None) is None
    long = "x " * 400 + "end"
    got = error_template(long)
    assert "\n" not in got and len(got) <= 201 and got.endswith("…")


PROGRAMS = [
    ("git status", "git"),
    ("cd /Users/ana/ws && npm run build", "npm"),
    ("FOO=1 BAR=2 pytest -q tests/", "pytest"),
    ("python -m pytest -x", "pytest"),
    ("python3 manage.py migrate", "python3"),
    ("sudo /usr/bin/docker ps", "docker"),
    ("uv run ruff check .", "ruff"),
    ("npx vite build", "vite"),
    ("export OPENAI_API_KEY=<masked> && curl https://x", "curl"),
    ("timeout 30 make test", "make"),
    ("<masked> --flag", None),
]


@pytest.mark.parametrize("command, want", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_program_of_a_bash_command(command, want):
    assert command_program("Bash", json.dumps({"command": command})) == want


def test_program_only_for_bash_with_a_command():
    assert command_program("Read", '{"file_path": "/a.py"}') is None
    assert command_program("Bash", "not json") is None
    assert command_program("Bash", '{"description": "x"}') is None


# --- through a sync ----------------------------------------------------------------------------------------------


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _bot_with_failures(tmp_path: Path) -> Path:
    """Six failed Bash calls, server down (one row each): three 'cannot access' in three home directories,
    two 'File content' with other numbers (Read), one with a secret in the error."""
    path = tmp_path / "bot.db"
    bot_schema.create_bot_database(path).close()
    rows = [
        (1, "2025-10-01T10:00:00.000100", "abc123", "Bash", "ls: cannot access '/Users/ana/w/a/src': No such file or directory",
         '{"command": "ls /Users/ana/w/a/src"}', "file_not_found"),
        (2, "2025-10-01T10:01:00.000100", "abc123", "Bash", "ls: cannot access '/home/bob/w/b/src': No such file or directory",
         '{"command": "cd /home/bob && ls w/b/src"}', "file_not_found"),
        (3, "2025-10-01T10:02:00.000100", "abc123", "Bash", "ls: cannot access '/Users/cy/x/src': No such file or directory",
         '{"command": "ls /Users/cy/x/src"}', "file_not_found"),
        (4, "2025-10-01T10:03:00.000100", "abc123", "Read", "File content (30001 tokens) exceeds maximum allowed tokens (25000).",
         '{"file_path": "/ws/big.json"}', "unknown_error"),
        (5, "2025-10-01T10:04:00.000100", "abc123", "Read", "File content (71234 tokens) exceeds maximum allowed tokens (25000).",
         '{"file_path": "/ws/huge.json"}', "unknown_error"),
        (6, "2025-10-01T10:05:00.000100", "abc123", "Bash",
         "fatal: could not read Password for 'https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com': terminal "
         "prompts disabled", '{"command": "git push"}', "unknown_error"),
    ]
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            """INSERT INTO tool_usage (id, timestamp, task_id, tool_name, success, error, parameters, error_category)
               VALUES (?, ?, ?, ?, 0, ?, ?, ?)""", rows)
    conn.close()
    return path


def test_sync_stores_templates_and_top_errors_group_by_them(tmp_path):
    out = tmp_path / "a.db"
    sync(_bot_with_failures(tmp_path), out, source_tz="UTC")
    assert _rows(out, "SELECT program FROM tool_calls WHERE tool_name = 'Bash' ORDER BY call_id") == [
        ("ls",), ("ls",), ("ls",), ("git",)]
    top = aa.top_errors(out)
    got = [(r.tool_name, r.error_template, r.error_category, r.count, round(r.share, 4)) for r in top.itertuples()]
    assert got == [
        ("Bash", "ls: cannot access '~/<path>': No such file or directory", "file_not_found", 3, 0.5),
        ("Read", "File content (<n> tokens) exceeds maximum allowed tokens (<n>).", "unknown_error", 2, 0.3333),
        ("Bash", "fatal: could not read Password for '<url>': terminal prompts disabled", "unknown_error", 1, 0.1667),
    ]
    # The sample is the latest masked text; no user name and no secret in any template.
    assert top["example_error"].iloc[0] == "ls: cannot access '/Users/cy/x/src': No such file or directory"
    templates = " ".join(top["error_template"])
    for leak in ("ana", "bob", "/Users/", "/home/", "ghp_"):
        assert leak not in templates
    assert "ghp_16C7e42F" not in top["example_error"].iloc[2]


def test_the_bots_unknown_error_is_split_into_meaningful_groups(demo_pair):
    _, truth, out = demo_pair
    unknown = sum(1 for c in truth["calls"] if c["outcome"] == "failure" and c["error_category"] == "unknown_error")
    failures = sum(1 for c in truth["calls"] if c["outcome"] == "failure")
    assert unknown / failures > 0.5  # the truth: most failures carry the bot's catch-all category
    top = aa.top_errors(out, limit=None)
    groups = top[top["error_category"] == "unknown_error"]
    assert int(groups["count"].sum()) == unknown
    assert int(top["count"].sum()) == failures
    assert len(groups) >= 20
    assert groups["count"].max() / unknown < 0.15  # no catch-all group left
    templates = set(groups["error_template"])
    # Texts of the demo's vocabulary (demo/data/tool_errors.json), each with a varying part.
    assert "File content (<n> tokens) exceeds maximum allowed tokens (<n>). Please use offset and limit parameters " \
           "to read specific portions of the file, or use the GrepTool to search for specific content." in templates
    assert "<traceback> ModuleNotFoundError: No module named '<*>'" in templates
    assert "fatal: '<path>' is already checked out at '<path>'" in templates
    assert not any("matifuentes" in t for t in top["error_template"].dropna())


def _strip_templates(path: Path) -> None:
    """Make ``path`` look like a database synced before m005: no template, no program, no rules version."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE tool_calls SET error_template = NULL, program = NULL")
        conn.execute("DELETE FROM sync_state WHERE key = 'template_rules'")
    conn.close()


def test_incremental_sync_fills_templates_of_rows_loaded_before(tmp_path):
    bot = tmp_path / "bot.db"
    shutil.copyfile(SAMPLE_DB, bot)
    out, full = tmp_path / "inc.db", tmp_path / "full.db"
    sync(bot, out, source_tz="UTC")
    sync(bot, full, source_tz="UTC", full=True)
    keys = _rows(out, "SELECT key FROM sync_state")
    assert ("template_rules",) in keys
    _strip_templates(out)
    assert _rows(out, "SELECT COUNT(*) FROM tool_calls WHERE error_template IS NOT NULL") == [(0,)]
    assert sync(bot, out, source_tz="UTC").mode == "incremental"
    sql = "SELECT call_id, error_template, program FROM tool_calls ORDER BY call_id"
    assert _rows(out, sql) == _rows(full, sql)
    assert _rows(full, "SELECT COUNT(*) FROM tool_calls WHERE outcome = 'failure' AND error_template IS NULL "
                       "AND error IS NOT NULL") == [(0,)]


def test_templates_of_incremental_syncs_equal_a_full_sync(tmp_path):
    """The bot's file grown in three steps (rows appended by id): the templates equal one full sync's."""
    bot = tmp_path / "bot.db"
    out, full = tmp_path / "inc.db", tmp_path / "full.db"
    n = _rows(SAMPLE_DB, "SELECT MAX(id) FROM tool_usage")[0][0]
    for cut in (n // 3, 2 * n // 3, n):
        shutil.copyfile(SAMPLE_DB, bot)
        conn = sqlite3.connect(bot)
        with conn:
            conn.execute("DELETE FROM tool_usage WHERE id > ?", (cut,))
        conn.close()
        sync(bot, out, source_tz="UTC")
    sync(bot, full, source_tz="UTC", full=True)
    sql = "SELECT error_template, program, COUNT(*) FROM tool_calls GROUP BY 1, 2 ORDER BY 1, 2"
    assert _rows(out, sql) == _rows(full, sql)
    assert len(_rows(full, "SELECT DISTINCT error_template FROM tool_calls WHERE error_template IS NOT NULL")) > 3
