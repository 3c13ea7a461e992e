"""The demo generator: repeatable, shaped like the real bot's sample, and its truth matches its rows.

The real bot's sample (tests/fixtures/sample.db) had the monitoring server down in its first week and up in its
second; the demo's numbers per server state are compared with those weeks.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import re
import sqlite3
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from amiga_analytics.cli import cli
from amiga_analytics.demo import DEFAULT_END, categorize_error, sanitize_parameters, write_demo
from amiga_analytics.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_SPLIT = "2025-10-06"  # first day of the sample's second week (server up)
ISO_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$")
TASK_ID = re.compile(r"^[0-9a-f]{6}$")
SESSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BCRYPT = re.compile(r"^\$2b\$12\$[./A-Za-z0-9]{53}$")
CATEGORIES = {"permission_error", "file_not_found", "timeout", "syntax_error", "network_error", "git_error",
              "validation_error", "resource_error", "command_not_found", "unknown_error"}
TASK_ERRORS = re.compile(
    r"^(Claude produced no output\. .+|Claude produced minimal output \(\d+ chars\): .*|Error: .+"
    r"|Failed to start Claude session|\[timeout\] No updates for \d+\.\dmin \(timeout: 30min\)"
    r"|\[dead_process\] Process \d+ no longer running \(dead/killed\)"
    r"|Task was pending for more than 1h without being picked up by worker"
    r"|Task stopped due to bot restart|Task stopped during bot shutdown|Task stopped by user"
    r"|Stopped by user request|Cleaned up by user request|)$", re.S)
EMPTY_PARAMETER_TOOLS = {"mcp__playwright__browser_snapshot", "unknown"}


def query(path: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def load_truth(path: Path) -> dict:
    return json.loads(Path(f"{path}.truth.json").read_text())


def dump(path: Path) -> dict[str, list[tuple]]:
    tables = [name for (name,) in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: query(path, f"SELECT * FROM {t} ORDER BY rowid") for t in tables}


@pytest.fixture(scope="module")
def madrid(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-madrid") / "bot.db"
    result = write_demo(path, days=14, seed=3, tz="Europe/Madrid", calls=4000)
    return path, load_truth(path), result


@pytest.fixture(scope="module")
def los_angeles(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-la") / "bot.db"
    write_demo(path, days=7, seed=5, tz="America/Los_Angeles", calls=3000)
    return path, load_truth(path)


@pytest.fixture(scope="module")
def sample():
    """Per server state (week 1 down, week 2 up) of the real bot's sample: rows per call and NULL share."""
    truth = json.loads((FIXTURES / "sample.truth.json").read_text())
    stats = {}
    for up, op in ((False, "<"), (True, ">=")):
        calls = sum((c["start"] >= SAMPLE_SPLIT) == up for c in truth["calls"])
        rows, nulls = query(FIXTURES / "sample.db",
                            f"SELECT COUNT(*), SUM(success IS NULL) FROM tool_usage WHERE timestamp {op} ?",
                            SAMPLE_SPLIT)[0]
        stats[up] = {"rows_per_call": rows / calls, "null_share": nulls / rows}
    return stats


# -- repeatability -----------------------------------------------------------------------------------------------

def test_same_seed_same_rows_other_seed_other_rows(tmp_path):
    a, b, c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    write_demo(a, days=5, seed=7, calls=800)
    write_demo(b, days=5, seed=7, calls=800)
    write_demo(c, days=5, seed=8, calls=800)
    assert dump(a) == dump(b)
    assert Path(f"{a}.truth.json").read_bytes() == Path(f"{b}.truth.json").read_bytes()
    assert dump(a)["tool_usage"] != dump(c)["tool_usage"]


# Digests of what the generator wrote before it was split into a package (issue 11): sha256 (first 16 hex digits)
# of each table's rows (json of SELECT * ORDER BY rowid) and of the truth file's bytes. The split had to move code
# without changing a single random draw; a deliberate change to the demo updates these figures.
GOLDEN = {
    "madrid": {"schema_version": "69f59d66c413389f", "tasks": "7d806c5846e9ae1b", "tool_usage": "7614dae04b5b5908",
               "sqlite_sequence": "dd5977bb48616fcf", "agent_status": "f5540c2a6e1a750b",
               "games": "4f53cda18c2baa0c", "files": "4f53cda18c2baa0c", "users": "43a0e1aaa0513802",
               "documents": "d70e06609e705569", "messages": "b67a06f2fb847f1e", "truth": "b78509bee12c31e2"},
    "los_angeles": {"schema_version": "08521c182a892931", "tasks": "682d1142e8eae5eb",
                    "tool_usage": "521581bab974abb9", "sqlite_sequence": "8ef54bbfc567c717",
                    "agent_status": "3cc40b5eb7c7719b", "games": "4f53cda18c2baa0c", "files": "4f53cda18c2baa0c",
                    "users": "bb43326bf6a45d28", "documents": "4f0a102bcff41db2", "messages": "3871cb4226bc2536",
                    "truth": "6724b91f4bff3f01"},
}


def digests(path: Path) -> dict[str, str]:
    def short(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()[:16]
    out = {table: short(json.dumps(rows).encode()) for table, rows in dump(path).items()}
    out["truth"] = short(Path(f"{path}.truth.json").read_bytes())
    return out


@pytest.mark.parametrize("name", ["madrid", "los_angeles"])
def test_rows_and_truth_are_those_of_the_unsplit_generator(name, request):
    path = request.getfixturevalue(name)[0]
    assert digests(path) == GOLDEN[name]


def test_vocabularies_ship_as_package_data():
    from importlib import resources

    from amiga_analytics.demo import vocab

    data = resources.files("amiga_analytics.demo").joinpath("data")
    names = sorted(p.name for p in data.iterdir())
    assert names == ["bash_errors.json", "code.txt", "parameters.json", "people.json", "tool_errors.json",
                     "weights.json", "workspaces.json"]
    assert vocab.CODE.count("class TaskStore:") == 4  # the snippet, repeated as before
    assert vocab.WORKSPACES["agentlab"] is vocab.PY_FILES  # Bash's sqlite commands test identity
    assert isinstance(vocab.REQUESTS[0], tuple) and len(vocab.REQUESTS) == 14
    assert vocab.BASH_ERRORS["lint"] == (
        "error: Failed to parse pyproject.toml: TOML parse error at line 12, column 1",)


def test_default_period_ends_on_a_fixed_day(tmp_path):
    path = tmp_path / "bot.db"
    result = write_demo(path, days=2, calls=120)
    truth = load_truth(path)
    assert truth["generator"] == {"seed": 42, "days": 2, "tz": "Europe/Madrid", "calls": 120, "end": DEFAULT_END}
    assert str(result.first_day) == "2025-10-25" and str(result.last_day) == DEFAULT_END
    assert all("2025-10-25" <= c["start"][:10] <= DEFAULT_END for c in truth["calls"])


# -- truth consistency -------------------------------------------------------------------------------------------

def test_exact_number_of_calls_and_rows_add_up(madrid):
    path, truth, result = madrid
    (rows,), = query(path, "SELECT COUNT(*) FROM tool_usage")
    assert len(truth["calls"]) == result.calls == 4000
    assert sum(c["rows"] for c in truth["calls"]) == rows == result.tool_usage_rows
    assert len(truth["tasks"]) == result.tasks == query(path, "SELECT COUNT(*) FROM tasks")[0][0]
    assert truth["scenario"] == "demo" and truth["timezone"] == "Europe/Madrid"
    summary = result.summary()
    assert "4,000 logical tool calls" in summary and f"{rows:,} tool_usage rows" in summary and "14 days" in summary


def test_truth_outcomes_match_the_rows(madrid):
    path, truth, _ = madrid
    (completed,), = query(path, "SELECT COUNT(*) FROM agent_status WHERE status = 'tool_call'")
    assert completed == sum(c["outcome"] != "unknown" for c in truth["calls"])
    failures = collections.Counter(c["error_category"] for c in truth["calls"] if c["outcome"] == "failure")
    assert set(failures) <= CATEGORIES and sum(failures.values()) > 50
    assert {c["outcome"] for c in truth["calls"]} == {"success", "failure", "unknown"}
    task_ids = {t["task_id"] for t in truth["tasks"]}
    for c in truth["calls"]:
        assert (c["model"] is None) == (c["task_id"] not in task_ids)


# -- the shape of the real bot's data (bot-data.md §3.1) ----------------------------------------------------------

def test_rows_per_call_per_server_state_match_the_sample(madrid, sample):
    _, truth, _ = madrid
    for up in (False, True):
        calls = [c for c in truth["calls"] if c["server_up"] == up]
        assert len(calls) > 300
        assert sum(c["rows"] for c in calls) / len(calls) == pytest.approx(sample[up]["rows_per_call"], abs=0.08)
        # Down: 1 row; up: A, B, C (2 when the call never completes). A call that spans a midnight when the
        # server's state changes may have 2 rows either way.
        assert {c["rows"] for c in calls} <= ({1, 2} if not up else {2, 3})
    assert not any(c["window_miss"] for c in truth["calls"])  # Madrid is ahead of UTC: the window never misses


def test_null_share_per_server_state_matches_the_sample(madrid, sample):
    path, truth, _ = madrid
    down_days = set()
    for start, end in truth["server_down"]:
        day = start[:10]
        while day < end[:10]:
            down_days.add(day)
            day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    counts = {False: [0, 0], True: [0, 0]}
    for day, rows, nulls in query(path, "SELECT substr(timestamp, 1, 10), COUNT(*), SUM(success IS NULL) "
                                        "FROM tool_usage GROUP BY 1"):
        counts[day not in down_days][0] += rows
        counts[day not in down_days][1] += nulls
    for up in (False, True):
        assert counts[up][1] / counts[up][0] == pytest.approx(sample[up]["null_share"], abs=0.03)


def test_window_misses_on_los_angeles_evenings(los_angeles):
    path, truth = los_angeles
    evening = [c for c in truth["calls"] if c["end"] and c["tool"] not in EMPTY_PARAMETER_TOOLS
               and "17:00:10" <= c["start"][11:19] and c["start"][:10] == c["end"][:10]]
    morning = [c for c in truth["calls"] if c["end"] and "08" <= c["start"][11:13] < "16"]
    assert len(evening) > 100 and len(morning) > 100
    assert all(c["window_miss"] for c in evening)
    assert not any(c["window_miss"] for c in morning)
    assert {c["rows"] for c in evening if c["server_up"]} == {4}
    assert {c["rows"] for c in evening if not c["server_up"]} == {2}
    # In the database: A and B stay NULL, the hook's fallback row D and the server's row C are completed.
    checked = 0
    for c in [c for c in evening if c["server_up"]][:40]:
        until = (dt.datetime.fromisoformat(c["end"]) + dt.timedelta(seconds=1)).isoformat()
        rows = query(path, "SELECT success, input_tokens FROM tool_usage WHERE task_id = ? AND tool_name = ? "
                           "AND timestamp >= ? AND timestamp <= ? ORDER BY id",
                     c["task_id"], c["tool"], c["start"], until)
        if len(rows) == 4:  # the same tool with the same task may also run just after; skip such pairs
            assert [r[0] is None for r in rows] == [True, True, False, False]
            assert rows[3][1] is None  # C never carries tokens
            checked += 1
    assert checked >= 20


def test_tokens_sit_on_task_calls_and_are_not_doubled(madrid):
    path, truth, _ = madrid
    by_tool = dict(query(path, "SELECT tool_name, COUNT(*) FROM tool_usage WHERE input_tokens IS NOT NULL GROUP BY 1"))
    assert by_tool.get("Task", 0) / sum(by_tool.values()) >= 0.95
    (with_tokens, cache_null, not_success), = query(
        path, "SELECT COUNT(*), SUM(cache_read_tokens IS NULL AND cache_creation_tokens IS NULL), "
              "SUM(success IS NOT 1) FROM tool_usage WHERE input_tokens IS NOT NULL")
    assert cache_null / with_tokens >= 0.75 and cache_null < with_tokens and not_success == 0
    task_successes = [c for c in truth["calls"] if c["tool"] == "Task" and c["outcome"] == "success"]
    assert sum(bool(c["tokens"]) for c in task_successes) / len(task_successes) >= 0.9
    db_sums = query(path, "SELECT SUM(input_tokens), SUM(output_tokens), TOTAL(cache_creation_tokens), "
                          "TOTAL(cache_read_tokens) FROM tool_usage")[0]
    keys = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")
    truth_sums = [sum(c["tokens"][k] or 0 for c in truth["calls"] if c["tokens"]) for k in keys]
    assert list(db_sums) == truth_sums


def test_timestamps_are_the_bots_naive_isoformat(madrid):
    path, _, _ = madrid
    columns = {"tool_usage": ["timestamp"], "agent_status": ["timestamp"], "tasks": ["created_at", "updated_at"],
               "messages": ["timestamp"], "users": ["created_at"], "schema_version": ["applied_at"],
               "documents": ["created_at", "updated_at", "archived_at"]}
    seen = 0
    for table, names in columns.items():
        for name in names:
            for (value,) in query(path, f"SELECT {name} FROM {table} WHERE {name} IS NOT NULL"):
                assert ISO_LOCAL.match(value) and not value.endswith(".000000"), (table, name, value)
                seen += 1
    for (log,) in query(path, "SELECT activity_log FROM tasks"):
        for entry in json.loads(log):
            assert ISO_LOCAL.match(entry["timestamp"]) and set(entry) <= {"timestamp", "message", "output_lines"}
    assert seen > 10000
    # ids grow with time, like the bot's (before the local clock falls back on 2025-10-26)
    stamps = [t for (t,) in query(path, "SELECT timestamp FROM tool_usage WHERE timestamp < '2025-10-26' ORDER BY id")]
    assert stamps == sorted(stamps)


def test_ids_keep_real_time_order_when_the_clock_falls_back(tmp_path):
    path = tmp_path / "bot.db"
    write_demo(path, days=1, seed=2, calls=20000)  # 2025-10-26: Madrid repeats 02:00-03:00
    stamps = [t for (t,) in query(path, "SELECT timestamp FROM tool_usage ORDER BY id")]
    assert any(b < a and a[11:13] == "02" and b[11:13] == "02" for a, b in zip(stamps, stamps[1:]))


# -- vocabularies (bot-data.md §1.2, §2.3-§2.9) ---------------------------------------------------------------

def test_tasks_use_the_bots_values(madrid):
    path, truth, _ = madrid
    tasks = query(path, "SELECT task_id, user_id, typeof(user_id), status, model, agent_type, error, pid, "
                        "session_uuid, workflow, current_phase, phase_number, last_agent_type, activity_log FROM tasks")
    assert len(tasks) > 50
    uuid5 = 0
    for (task_id, user_id, user_type, status, model, agent_type, error, pid, session, workflow, phase,
         phase_number, last_agent, log) in tasks:
        assert TASK_ID.match(task_id)
        assert status in {"pending", "running", "completed", "failed", "stopped"}
        assert model in {"sonnet", "haiku", "opus"}
        assert agent_type in {"code_agent", "orchestrator", "frontend_agent", "research_agent"}
        assert error is None or TASK_ERRORS.match(error), error
        assert (error is not None) == (status in ("failed", "stopped") or error == "")
        if user_id == 0:
            assert (model, agent_type) == ("opus", "orchestrator")
        assert user_type in ("integer", "text")
        assert workflow in (None, "orchestrator") and (workflow is None) == (pid is None) == (session is None)
        if session:
            uuid5 += session == str(uuid.uuid5(uuid.NAMESPACE_DNS, f"agentlab.task.{task_id}"))
        assert phase == last_agent and (phase_number > 0) == (phase is not None)
        assert isinstance(json.loads(log), list)
    started = sum(t[7] is not None for t in tasks)
    assert uuid5 >= 0.9 * started
    finals = collections.Counter(t["final"] for t in truth["tasks"])
    assert finals["completed"] > finals["failed"] > 0 and finals["running"] >= 1
    sources = {t["source"] for t in truth["tasks"]}
    assert sources == {"telegram", "web", "dashboard", "self"}


def test_tool_rows_follow_the_hooks_rules(madrid):
    path, _, _ = madrid
    rows = query(path, "SELECT task_id, tool_name, success, error, error_category, parameters FROM tool_usage")
    task_ids = {t for (t,) in query(path, "SELECT task_id FROM tasks")}
    cli_sessions = set()
    for task_id, tool, success, error, category, parameters in rows:
        assert task_id in task_ids or SESSION_ID.match(task_id)
        if task_id not in task_ids:
            cli_sessions.add(task_id)
        assert success in (None, 0, 1)
        if success == 0:
            assert category == categorize_error(error) and category in CATEGORIES
        else:
            assert error is None and category is None
        if parameters is None:
            assert tool in EMPTY_PARAMETER_TOOLS
            continue
        params = json.loads(parameters)
        assert params and sanitize_parameters(params) == {
            k: v[:500] + "..." if isinstance(v, str) and len(v) > 503 else v for k, v in params.items()}
        for key, value in params.items():
            if any(word in key.lower() for word in ("token", "password", "secret", "api_key", "auth", "credential")):
                assert value == "<redacted>"
            elif isinstance(value, str):
                assert len(value) <= 500 or (len(value) == 503 and value.endswith("..."))
    assert cli_sessions
    assert {"Task", "Read", "Edit", "Bash", "TodoWrite"} <= {r[1] for r in rows}
    assert ("unknown_error",) in query(path, "SELECT DISTINCT error_category FROM tool_usage "
                                             "WHERE error = 'String to replace not found in file.'")


def test_phase_number_counts_task_rows_at_post_time(madrid):
    path, _, _ = madrid
    for task_id, phase_number, phase in query(path, "SELECT task_id, phase_number, current_phase FROM tasks "
                                                    "WHERE phase_number > 0"):
        task_rows = query(path, "SELECT id, success, parameters FROM tool_usage WHERE task_id = ? "
                                "AND tool_name = 'Task' ORDER BY id", task_id)
        assert phase_number <= len(task_rows)
        # The post-hook of the last successful Task call counted the rows up to its own (B, A or D) row.
        counted = task_rows[phase_number - 1]
        assert counted[1] == 1 and json.loads(counted[2]).get("subagent_type", "unknown") == phase


def test_agent_status_rows(madrid):
    path, _, _ = madrid
    statuses = collections.Counter(s for (s,) in query(path, "SELECT status FROM agent_status"))
    assert set(statuses) <= {"started", "tool_call", "completed", "failed", "stopped"}
    for message, metadata in query(path, "SELECT message, metadata FROM agent_status WHERE status = 'tool_call'"):
        meta = json.loads(metadata)
        assert set(meta) == {"tool", "success"} and isinstance(meta["success"], bool)
        assert message == f"{meta['tool']} completed"
    for task_id, pid in query(path, "SELECT task_id, pid FROM tasks WHERE pid IS NOT NULL"):
        started = query(path, "SELECT message, metadata FROM agent_status WHERE task_id = ? AND status = 'started' "
                              "ORDER BY id", task_id)
        assert [m for m, _ in started] == ["Starting Claude interactive session", f"Session started with PID {pid}"]
        assert started[0][1] is None
        assert set(json.loads(started[1][1])) == {"pid", "workspace", "session_uuid", "requested_uuid", "actual_uuid"}


def test_router_messages(madrid):
    path, truth, _ = madrid
    rows = query(path, "SELECT role, content, tokens_input, tokens_output, model, input_method, has_image, "
                       "cache_creation_tokens, conversation_id FROM messages ORDER BY id")
    assert rows
    for role, content, tin, tout, model, method, image, cache, conversation in rows:
        assert (method, image, cache, conversation) == ("text", 0, None, None)
        if role == "assistant":
            assert model == "claude-haiku-4-5" and tin > 0 and tout > 0
        else:
            assert role == "user" and (model, tin, tout) == (None, None, None)
    assert collections.Counter(r[0] for r in rows)["user"] == len(rows) / 2 == len(truth["messages"])
    background = [r[1] for r in rows if r[1].startswith("BACKGROUND_TASK|")]
    assert len(background) == sum(t["source"] == "web" for t in truth["tasks"])
    assert all(len(b.split("|")) == 4 for b in background)
    assert [(m["tokens_input"], m["tokens_output"]) for m in truth["messages"]] == [
        (r[2], r[3]) for r in rows if r[0] == "assistant"]


def test_users_secrets_and_emails_are_planted(madrid):
    path, truth, _ = madrid
    users = query(path, "SELECT username, email, password_hash, is_admin FROM users")
    assert sorted(u[0] for u in users) == sorted(truth["users"])
    assert all(BCRYPT.match(u[2]) for u in users) and {u[2] for u in users} == set(truth["password_hashes"])
    assert {u[1] for u in users} <= set(truth["emails"])
    data = b"".join(Path(f"{path}{suffix}").read_bytes() for suffix in ("", "-wal")
                    if Path(f"{path}{suffix}").exists())
    assert truth["secrets"] and truth["emails"]
    for value in truth["secrets"] + truth["emails"] + truth["password_hashes"]:
        assert value.encode() in data, value
    commands = [json.loads(p)["command"] for (p,) in query(path, "SELECT parameters FROM tool_usage "
                                                                 "WHERE tool_name = 'Bash'")]
    leaked = [c for c in commands if any(s in c for s in truth["secrets"])]
    assert any(c.startswith("export OPENAI_API_KEY=sk-proj-") for c in leaked)
    assert sum(c["secret_in_params"] for c in truth["calls"]) > 10
    (documents,), = query(path, "SELECT COUNT(*) FROM documents WHERE task_id IS NULL")
    assert documents >= 1


def test_helpers_follow_the_bots_rules():
    assert categorize_error("String to replace not found in file.") == "unknown_error"
    assert categorize_error("Permission denied (publickey) while connecting") == "permission_error"
    assert categorize_error("Command timed out after 2m 0.0s") == "timeout"
    assert categorize_error("fatal: not a git repository") == "git_error"
    assert categorize_error("HTTP Error 429: Too Many Requests") == "resource_error"
    assert categorize_error("/bin/bash: pnpm: command not found") == "command_not_found"
    assert categorize_error("None") == "unknown_error" and categorize_error("") == "unknown_error"
    clean = sanitize_parameters({"author": "x", "API_KEY": "y", "command": "z" * 600, "todos": [{"token": 1}]})
    assert clean == {"author": "<redacted>", "API_KEY": "<redacted>", "command": "z" * 500 + "...",
                     "todos": [{"token": 1}]}
    assert sanitize_parameters({}) == {}


# -- inputs and the CLI --------------------------------------------------------------------------------------------

def test_bad_inputs_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="Mars/Olympus"):
        write_demo(tmp_path / "a.db", tz="Mars/Olympus")
    with pytest.raises(InputError, match="end"):
        write_demo(tmp_path / "a.db", end="26/10/2025")
    with pytest.raises(InputError, match="days"):
        write_demo(tmp_path / "a.db", days=0)
    existing = tmp_path / "b.db"
    existing.write_text("keep me")
    with pytest.raises(InputError, match="already exists"):
        write_demo(existing, calls=10, days=1)
    assert existing.read_text() == "keep me"
    result = write_demo(existing, calls=10, days=1, overwrite=True, truth=False)
    assert result.truth_path is None and not Path(f"{existing}.truth.json").exists()
    assert result.transcripts_truth_path is None  # the transcripts (b.claude/) come without their truth too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.claude", "b.db"]  # no temporary files left behind
    assert query(existing, "PRAGMA journal_mode") == [("wal",)]
    assert query(existing, "SELECT version FROM schema_version") == [(14,)]


def test_cli_demo_prints_the_summary_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "demo-bot.db"
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", str(path), "--days", "3", "--calls", "300", "--seed", "1"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"wrote {path}: 3 days") and "300 logical tool calls" in first.output
    assert Path(f"{path}.truth.json").exists() and (tmp_path / "demo-bot.claude" / "projects").is_dir()
    again = runner.invoke(cli, ["demo", str(path), "--calls", "300"])
    assert again.exit_code == 2
    assert "already exists" in again.stderr
