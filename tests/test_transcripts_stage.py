"""The sync's streamed transcripts (load/transcripts/stage.py) against its peer, the in-memory TranscriptSet.

The stage writes each batch of request copies, tool_uses and results into temporary tables and lets SQLite apply
the dedup rules; the rows it stores must be those the in-memory reader gives (request_rows, tool_use_rows), in the
same order, whatever the batch size. Hand-made transcripts pin the tie rules with figures worked out here.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from amiga_analytics.load.pricing import PriceBook
from amiga_analytics.load.transcripts import TaskIndex, TranscriptSet, read_transcripts, request_rows, tool_use_rows
from amiga_analytics.load.transcripts import stage as stage_module
from amiga_analytics.load.transcripts.join import bot_parameters
from amiga_analytics.load.transcripts.persist import USE_COLUMNS
from amiga_analytics.load.transcripts.rows import REQUEST_COLUMNS
from amiga_analytics.store import schema
from amiga_analytics.timeutil import format_utc

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_DIR = FIXTURES / "sample_par.claude"
TRUTH = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())
TASKS = TaskIndex.from_tasks([(task_id, None, None) for task_id in TRUTH["tasks"]])
TZ = "Europe/Berlin"
SESSION = "11111111-2222-4333-8444-555555555555"


def analytics(path: Path) -> sqlite3.Connection:
    db = Database(path)
    schema.migrate(db)
    db.conn.close()
    return sqlite3.connect(path)


def streamed(path: Path, root: Path, tasks: TaskIndex = TASKS) -> tuple[sqlite3.Connection, TranscriptSet]:
    conn = analytics(path)
    found = TranscriptSet()
    stage = stage_module.Stage(conn, found, PriceBook.load(), TZ)
    stage.read(str(root))
    stage.write(tasks)
    return conn, found


def expected_uses(found: TranscriptSet, tasks: TaskIndex = TASKS) -> list[tuple]:
    """The tool_uses rows the in-memory reader gives, as the sync stored them before it streamed."""
    out = []
    for row in tool_use_rows(found, tasks=tasks):
        params, masked = bot_parameters(row.input)
        copy = found.requests.get((row.message_id or "", row.request_id))
        out.append((row.tool_use_id, row.session_id, row.task_id, row.agent, row.tool_name, params, masked,
                    None if row.use_ts is None else format_utc(row.use_ts),
                    None if row.result_ts is None else format_utc(row.result_ts), row.result, row.agent_id,
                    row.message_id, row.request_id, None if copy is None else copy.model_id))
    return out


def stored(conn: sqlite3.Connection) -> tuple[list[tuple], list[tuple]]:
    requests = conn.execute(f"SELECT {', '.join(REQUEST_COLUMNS)} FROM api_requests ORDER BY rowid").fetchall()
    uses = conn.execute(f"SELECT {', '.join(USE_COLUMNS)} FROM tool_uses ORDER BY rowid").fetchall()
    return requests, uses


@pytest.fixture(scope="module")
def memory() -> TranscriptSet:
    return read_transcripts(CLAUDE_DIR)


@pytest.mark.parametrize("batch", [1, 7, 100_000])
def test_streamed_rows_equal_the_in_memory_rows(tmp_path, monkeypatch, memory, batch):
    monkeypatch.setattr(stage_module, "BATCH", batch)
    conn, found = streamed(tmp_path / "a.db", CLAUDE_DIR)
    requests, uses = stored(conn)
    expected = [tuple(r[c] for c in REQUEST_COLUMNS)
                for r in request_rows(memory, report_tz=TZ, tasks=TASKS, book=PriceBook.load())]
    notes = TRUTH["notes"]
    assert len(requests) == notes["requests"] == 876 and len(uses) == notes["tool_uses"] == 1303
    assert requests == expected
    assert uses == expected_uses(memory)
    assert found.counts["duplicate_request_lines"] == notes["duplicate_request_lines"] == 962
    assert any(u[10] for u in uses)  # Task calls linked to their sub-agents
    assert found.counts == memory.counts
    assert found.spawn_links().keys() <= memory.spawn_links().keys()  # the carried links: part of them
    assert {r[0] for r in conn.execute("SELECT name FROM temp.sqlite_master")} == set()  # stage dropped


def assistant(msg_id, req_id, *, out=10, at="2025-10-21T10:00:00.000Z", content=None, **extra) -> dict:
    line = {"type": "assistant", "sessionId": SESSION, "cwd": "/w", "timestamp": at, "uuid": f"u-{msg_id}-{out}",
            "requestId": req_id, "isSidechain": False,
            "message": {"id": msg_id, "model": "claude-sonnet-4-5-20250929", "role": "assistant",
                        "content": content or [],
                        "usage": {"input_tokens": 3, "output_tokens": out, "cache_read_input_tokens": 1000}}}
    line.update(extra)
    return line


def progress(sub_line: dict, agent: str, parent_use: str) -> dict:
    return {"type": "progress", "sessionId": SESSION, "timestamp": sub_line["timestamp"],
            "parentToolUseID": parent_use, "data": {"type": "agent_progress", "agentId": agent, "message": sub_line}}


def write_jsonl(path: Path, lines: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_ties_go_to_the_own_line_then_the_first_read(tmp_path, monkeypatch):
    """The parent's file is read first and holds a progress copy of the sub-agent's request and tool_use; the
    sub-agent's own line (same tokens) wins both; of two own copies with the same total the first read wins, and a
    larger total wins wherever it is."""
    monkeypatch.setattr(stage_module, "BATCH", 1)
    agent = "a0123456789abcdef"
    task = {"type": "tool_use", "id": "toolu_task", "name": "Task", "input": {"prompt": "go"}}
    inner = {"type": "tool_use", "id": "toolu_inner", "name": "Read", "input": {"file_path": "/w/x"}}
    sub = assistant("msg_sub", "req_sub", isSidechain=True, agentId=agent, content=[inner],
                    at="2025-10-21T10:00:05.000Z")
    project = tmp_path / "projects" / "-w"
    write_jsonl(project / f"{SESSION}.jsonl", [
        assistant("msg_main", "req_main", content=[task]),
        progress(dict(sub, timestamp="2025-10-21T10:00:09.000Z"), agent, "toolu_task"),  # copied 4 s late
        assistant("msg_tie", "req_tie", out=20, at="2025-10-21T10:00:01.000Z"),
        assistant("msg_tie", "req_tie", out=20, at="2025-10-21T10:00:02.000Z"),
        assistant("msg_grow", "req_grow", out=1, at="2025-10-21T10:00:03.000Z")])
    nested = write_jsonl(project / SESSION / "subagents" / f"agent-{agent}.jsonl", [
        sub, assistant("msg_grow", "req_grow", out=30, at="2025-10-21T10:00:04.000Z", isSidechain=True,
                       agentId=agent)])
    conn, _ = streamed(tmp_path / "a.db", tmp_path, TaskIndex({}, {}))
    memory = read_transcripts(tmp_path)
    assert stored(conn) == ([tuple(r[c] for c in REQUEST_COLUMNS) for r in request_rows(memory, report_tz=TZ)],
                            expected_uses(memory, TaskIndex({}, {})))
    rows = {r[0]: r for r in conn.execute("SELECT message_id, file, requested_at, output_tokens, agent, "
                                          "parent_tool_use_id FROM api_requests")}
    own = nested.relative_to(tmp_path / "projects").as_posix()
    assert rows["msg_sub"][1:3] == (own, "2025-10-21T10:00:05.000000+00:00")
    assert rows["msg_sub"][4:] == (agent, "toolu_task")
    assert rows["msg_tie"][2:4] == ("2025-10-21T10:00:01.000000+00:00", 20)
    assert rows["msg_grow"][1:4] == (own, "2025-10-21T10:00:04.000000+00:00", 30)
    uses = {r[0]: r[1:] for r in conn.execute("SELECT tool_use_id, agent, agent_id, model_id, use_at FROM tool_uses")}
    assert uses == {
        "toolu_task": ("main", agent, "claude-sonnet-4-5-20250929", "2025-10-21T10:00:00.000000+00:00"),
        "toolu_inner": (agent, None, "claude-sonnet-4-5-20250929", "2025-10-21T10:00:05.000000+00:00")}


def test_the_carried_state_text_is_the_json_of_the_carried_state(memory):
    from amiga_analytics.load.transcripts.persist import carry_from_json, carry_parts, carry_to_json

    text = "".join(carry_parts(memory))
    assert text == json.dumps(carry_to_json(memory))
    again = carry_from_json(json.loads(text))
    assert again.files == memory.files and again.task_prompts == memory.task_prompts
    assert len(again.files) == TRUTH["notes"]["files"] == 136
