"""The transcript reader against the truth of sample_par's Claude Code transcripts.

Expected figures come from tests/fixtures/sample_par.transcripts.truth.json (or are typed in here), never from the
code under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from amiga_analytics.load.transcripts import (
    TaskIndex,
    TranscriptSet,
    discover,
    read_transcripts,
    request_rows,
    task_session_uuid,
    tool_use_rows,
)
from amiga_analytics.load.transcripts.discover import FLAT_AGENT, MAIN, NESTED_AGENT
from amiga_analytics.load.transcripts.persist import carry_from_json, carry_to_json

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_DIR = FIXTURES / "sample_par.claude"
TRUTH_FILE = FIXTURES / "sample_par.transcripts.truth.json"


@pytest.fixture(scope="module")
def ttruth() -> dict:
    return json.loads(TRUTH_FILE.read_text())


@pytest.fixture(scope="module")
def found() -> TranscriptSet:
    return read_transcripts(CLAUDE_DIR)


@pytest.fixture(scope="module")
def tasks(ttruth) -> TaskIndex:
    return TaskIndex.from_tasks([(task_id, None, None) for task_id in ttruth["tasks"]])


def ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def rel(path: str) -> str:
    """A truth file path (relative to the config dir) relative to projects/."""
    return path.split("projects/", 1)[1]


# ---------------------------------------------------------------------------------------------------------------
# Discovery


def test_discovery_finds_every_file_in_its_layout(ttruth):
    files = discover(CLAUDE_DIR)
    kinds = Counter(f.kind for f in files)
    assert len(files) == ttruth["notes"]["files"] == 136
    assert kinds[MAIN] == ttruth["notes"]["sessions"] == 51
    assert kinds[FLAT_AGENT] == ttruth["notes"]["subagent_files"]["flat"] == 58
    assert kinds[NESTED_AGENT] == ttruth["notes"]["subagent_files"]["nested"] == 27
    by_rel = {f.rel: f for f in files}
    for session in ttruth["sessions"]:
        assert by_rel[rel(session["file"])].session_id == session["session_id"]
        for sub in session["subagents"]:
            f = by_rel[rel(sub["file"])]
            assert f.agent_id == sub["agent_id"]
            if sub["meta_file"] is not None:
                assert f.meta["toolUseId"] == sub["task_tool_use_id"]


def test_projects_folder_and_config_dir_read_the_same(found):
    via_projects = read_transcripts(CLAUDE_DIR / "projects")
    assert via_projects.requests == found.requests


def test_a_missing_directory_says_what_to_give(tmp_path):
    from amiga_analytics.errors import InputError

    with pytest.raises(InputError, match="Claude config directory"):
        read_transcripts(tmp_path / "nope")


def test_task_session_uuid_is_the_bots(ttruth):
    for session in ttruth["sessions"]:
        if session["kind"] == "task":
            assert task_session_uuid(session["task_id"]) == session["session_id"]


# ---------------------------------------------------------------------------------------------------------------
# Requests and dedup


def test_every_line_read_and_dedup_counts(found, ttruth):
    notes = ttruth["notes"]
    assert found.stats.lines == notes["lines"] == 3445
    assert found.stats.bad_lines == found.stats.truncated_lines == 0
    assert found.counts["request_lines"] == notes["request_lines"] == 1838
    assert found.counts["duplicate_request_lines"] == notes["duplicate_request_lines"] == 962
    assert found.counts["synthetic_lines"] == len(ttruth["synthetic"])
    assert len(found.requests) == notes["requests"] == 876


def test_every_request_equals_the_truth(found, tasks, ttruth):
    rows = {(r["message_id"], r["request_id"]): r for r in request_rows(found, tasks=tasks)}
    expected = {(t["message_id"], t["request_id"] or ""): t for t in ttruth["requests"]}
    assert rows.keys() == expected.keys()
    for key, t in expected.items():
        r = rows[key]
        assert (r["session_id"], r["task_id"], r["agent"], r["model_id"]) == (
            t["session_id"], t["task_id"], t["agent"], t["model"]), key
        assert (r["input_tokens"], r["output_tokens"], r["cache_write_5m_tokens"], r["cache_write_1h_tokens"],
                r["cache_read_tokens"]) == (t["input"], t["output"], t["cache_write_5m"], t["cache_write_1h"],
                                            t["cache_read"]), key
        assert ts(r["requested_at"]) == ts(t["timestamp"]), key
        assert r["file"] == rel(t["file"])
        assert r["context_tokens"] == t["input"] + t["cache_write_5m"] + t["cache_write_1h"] + t["cache_read"]
        assert r["fast"] == 0


def test_subagent_requests_point_at_the_task_call_that_spawned_them(found, ttruth):
    spawner = {(s["session_id"], sub["agent_id"]): sub["task_tool_use_id"]
               for s in ttruth["sessions"] for sub in s["subagents"]}
    rows = request_rows(found)
    sub_rows = [r for r in rows if r["agent"] != "main"]
    assert len(sub_rows) == sum(1 for t in ttruth["requests"] if t["agent"] != "main")
    for r in rows:
        assert r["parent_tool_use_id"] == spawner.get((r["session_id"], r["agent"]))


# ---------------------------------------------------------------------------------------------------------------
# Tool uses


def test_every_tool_use_with_its_result(found, tasks, ttruth):
    rows = {r.tool_use_id: r for r in tool_use_rows(found, tasks=tasks)}
    assert len(rows) == ttruth["notes"]["tool_uses"] == 1303
    assert Counter(r.result for r in rows.values()) == Counter(ttruth["notes"]["results"])
    for t in ttruth["tool_calls"]:
        r = rows[t["tool_use_id"]]
        assert (r.session_id, r.task_id, r.agent, r.tool_name) == (t["session_id"], t["task_id"], t["agent"],
                                                                    t["tool"])
        assert (r.result, r.is_error, r.agent_id) == (t["result"], t["is_error"], t["agent_id"]), t["tool_use_id"]
        assert abs((r.use_ts - ts(t["use_ts"])).total_seconds()) < 0.001
        if t["result_ts"] is None:
            assert r.result_ts is None
        else:
            truth_ms = (ts(t["result_ts"]) - ts(t["use_ts"])).total_seconds() * 1000
            assert abs((r.result_ts - r.use_ts).total_seconds() * 1000 - truth_ms) < 1


def test_interrupted_results_are_errors_of_their_own_kind(found):
    rows = tool_use_rows(found)
    interrupted = [r for r in rows if r.result == "interrupted"]
    assert interrupted and all(r.is_error is True for r in interrupted)
    assert all(r.is_error is None and r.result_ts is None for r in rows if r.result == "none")


# ---------------------------------------------------------------------------------------------------------------
# Line handling: truncated lines, nulls, synthetic, API errors, progress copies (hand-made transcripts)

SESSION = "11111111-2222-4333-8444-555555555555"


def assistant(msg_id, req_id, *, inp=3, out=10, w5=0, w1=100, read=1000, model="claude-sonnet-4-5-20250929",
              at="2025-10-21T10:00:00.000Z", content=None, **extra) -> dict:
    line = {"type": "assistant", "sessionId": SESSION, "cwd": "/w", "timestamp": at, "uuid": f"u-{msg_id}-{out}",
            "requestId": req_id, "isSidechain": False,
            "message": {"id": msg_id, "model": model, "role": "assistant", "content": content or [],
                        "usage": {"input_tokens": inp, "output_tokens": out,
                                  "cache_creation_input_tokens": w5 + w1, "cache_read_input_tokens": read,
                                  "cache_creation": {"ephemeral_5m_input_tokens": w5,
                                                     "ephemeral_1h_input_tokens": w1}}}}
    line.update(extra)
    return line


def write_jsonl(path: Path, lines: list, tail: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + tail)
    return path


def test_truncated_last_line_is_skipped_counted_and_read_once_complete(tmp_path):
    main = tmp_path / "projects" / "-w" / f"{SESSION}.jsonl"
    last = json.dumps(assistant("msg_2", "req_2", out=7))
    write_jsonl(main, [assistant("msg_1", "req_1")], tail=last[:40])
    found = TranscriptSet()
    stats = found.read(tmp_path)
    assert stats.truncated_lines == 1 and stats.bad_lines == 0
    assert list(found.requests) == [("msg_1", "req_1")]
    with main.open("a") as fh:
        fh.write(last[40:] + "\n")
    stats = found.read(tmp_path)
    assert stats.truncated_lines == 0 and stats.lines == 1
    assert set(found.requests) == {("msg_1", "req_1"), ("msg_2", "req_2")}


def test_null_fields_drop_no_line(tmp_path):
    lines = [
        assistant("msg_a", None, cwd=None, version=None),  # requestId null: key (msg_a, "")
        assistant("msg_b", "req_b", costUSD=None, isApiErrorMessage=None),
        assistant("msg_c", "req_c"),
        assistant("msg_d", "req_d"),
    ]
    lines[2]["message"]["usage"].update(speed=None, service_tier=None, cache_read_input_tokens=None)
    lines[3]["message"]["usage"].update(cache_creation=None, cache_creation_input_tokens=40)
    write_jsonl(tmp_path / "projects" / "-w" / f"{SESSION}.jsonl", lines)
    rows = {r["message_id"]: r for r in request_rows(read_transcripts(tmp_path))}
    assert set(rows) == {"msg_a", "msg_b", "msg_c", "msg_d"}
    assert rows["msg_a"]["request_id"] == ""
    assert rows["msg_c"]["cache_read_tokens"] == 0 and rows["msg_c"]["input_tokens"] == 3
    assert (rows["msg_d"]["cache_write_5m_tokens"], rows["msg_d"]["cache_write_1h_tokens"]) == (40, 0)


def test_synthetic_and_api_error_lines_are_not_requests(tmp_path):
    synthetic = assistant("0b6c6a1e-uuid", "req_s", inp=0, out=0, w1=0, read=0, model="<synthetic>",
                          isApiErrorMessage=True)
    api_error = assistant("msg_e", "req_e", isApiErrorMessage=True)
    system = {"type": "system", "subtype": "api_error", "sessionId": SESSION, "timestamp": "2025-10-21T10:00:01Z",
              "error": {"status": 529}, "retryAttempt": 1}
    write_jsonl(tmp_path / "projects" / "-w" / f"{SESSION}.jsonl",
                [synthetic, api_error, system, assistant("msg_ok", "req_ok")])
    found = read_transcripts(tmp_path)
    assert list(found.requests) == [("msg_ok", "req_ok")]
    assert found.counts["synthetic_lines"] == 1 and found.counts["api_error_lines"] == 1


def test_largest_copy_wins_first_in_file_order(tmp_path):
    lines = [
        assistant("msg_g", "req_g", out=1, at="2025-10-21T10:00:00.000Z"),
        assistant("msg_g", "req_g", out=50, at="2025-10-21T10:00:02.000Z"),
        assistant("msg_g", "req_g", out=50, at="2025-10-21T10:00:03.000Z"),
        assistant("msg_g", "req_other", out=5),  # another request id: another request
    ]
    write_jsonl(tmp_path / "projects" / "-w" / f"{SESSION}.jsonl", lines)
    rows = {(r["message_id"], r["request_id"]): r for r in request_rows(read_transcripts(tmp_path))}
    assert len(rows) == 2
    assert rows[("msg_g", "req_g")]["output_tokens"] == 50
    assert rows[("msg_g", "req_g")]["requested_at"] == "2025-10-21T10:00:02.000000+00:00"


def _progress_copy(sub_line: dict, agent_id: str, parent_use: str) -> dict:
    return {"type": "progress", "sessionId": SESSION, "timestamp": sub_line["timestamp"],
            "parentToolUseID": parent_use, "data": {"type": "agent_progress", "agentId": agent_id,
                                                    "message": sub_line}}


def test_progress_copies_of_subagent_lines_are_not_counted_twice(tmp_path):
    agent = "a0123456789abcdef"
    task_call = {"type": "tool_use", "id": "toolu_task", "name": "Task", "input": {"prompt": "go", "description": "d"}}
    sub_line = assistant("msg_sub", "req_sub", model="claude-haiku-4-5-20251001", isSidechain=True, agentId=agent,
                         content=[{"type": "tool_use", "id": "toolu_inner", "name": "Read", "input": {}}])
    project = tmp_path / "projects" / "-w"
    parent = write_jsonl(project / f"{SESSION}.jsonl", [
        assistant("msg_main", "req_main", content=[task_call]), _progress_copy(sub_line, agent, "toolu_task")])
    nested = write_jsonl(project / SESSION / "subagents" / f"agent-{agent}.jsonl", [sub_line])
    rows = request_rows(read_transcripts(tmp_path))
    assert len(rows) == 2
    sub = next(r for r in rows if r["message_id"] == "msg_sub")
    assert (sub["agent"], sub["session_id"], sub["parent_tool_use_id"]) == (agent, SESSION, "toolu_task")
    assert sub["file"] == nested.relative_to(tmp_path / "projects").as_posix()
    nested.unlink()  # only the parent's copy left: still one request, still the sub-agent's
    rows = request_rows(read_transcripts(tmp_path))
    sub = next(r for r in rows if r["message_id"] == "msg_sub")
    assert len(rows) == 2 and sub["agent"] == agent
    assert sub["file"] == parent.relative_to(tmp_path / "projects").as_posix()
    uses = {u.tool_use_id: u for u in tool_use_rows(read_transcripts(tmp_path))}
    assert uses["toolu_inner"].agent == agent and uses["toolu_task"].agent_id == agent


def test_fast_mode_flag(tmp_path):
    line = assistant("msg_f", "req_f")
    line["message"]["usage"]["speed"] = "fast"
    write_jsonl(tmp_path / "projects" / "-w" / f"{SESSION}.jsonl", [line, assistant("msg_s", "req_s")])
    rows = {r["message_id"]: r for r in request_rows(read_transcripts(tmp_path))}
    assert (rows["msg_f"]["fast"], rows["msg_s"]["fast"]) == (1, 0)


def test_workspace_maps_a_session_to_its_task_only_when_unique():
    index = TaskIndex.from_tasks([("aaaaaa", None, "/wt/task-a"), ("bbbbbb", None, "/repo"),
                                  ("cccccc", None, "/repo")])
    assert index.task_for("not-a-task-session", "/wt/task-a") == "aaaaaa"
    assert index.task_for("not-a-task-session", "/wt/task-a/src") == "aaaaaa"
    assert index.task_for("not-a-task-session", "/wt/task-ab") is None
    assert index.task_for("not-a-task-session", "/repo") is None
    assert index.task_for(task_session_uuid("cccccc"), "/wt/task-a") == "cccccc"


def test_a_cli_session_the_bot_named_keeps_no_task_in_a_tasks_folder():
    """A developer's own session in the workspace of a task is not that task's: the bot's rows name it as a CLI
    session (tool_usage.task_id = its id)."""
    cli = "5802931d-fbf9-442b-bba3-3dad933023ef"
    index = TaskIndex.from_tasks([("aaaaaa", None, "/repo")], interactive=[cli, task_session_uuid("aaaaaa")])
    assert index.task_for(cli, "/repo") is None
    assert index.task_for("another-session", "/repo/src") == "aaaaaa"
    assert index.task_for(task_session_uuid("aaaaaa"), "/repo") == "aaaaaa"  # a task's own id stays the task's


# ---------------------------------------------------------------------------------------------------------------
# Incremental reading


def _cut_copy(tmp_path: Path) -> tuple[Path, dict[Path, bytes]]:
    """A copy of the fixture with every file cut in the middle of a line; returns the removed tails."""
    copy = tmp_path / "claude"
    shutil.copytree(CLAUDE_DIR, copy)
    tails = {}
    for path in sorted(copy.rglob("*.jsonl")):
        data = path.read_bytes()
        cut = len(data) * 3 // 5
        path.write_bytes(data[:cut])
        tails[path] = data[cut:]
    return copy, tails


def _append(tails: dict[Path, bytes]) -> None:
    """Write back the tails :func:`_cut_copy` removed."""
    for path, tail in tails.items():
        with path.open("ab") as fh:
            fh.write(tail)


def _snapshot(found: TranscriptSet) -> tuple:
    return (sorted(map(str, (tuple(r.values()) for r in request_rows(found)))),
            sorted(map(str, tool_use_rows(found))))


def test_appended_lines_read_incrementally_equal_a_full_read(tmp_path, found):
    copy, tails = _cut_copy(tmp_path)
    incremental = TranscriptSet()
    first = incremental.read(copy)
    assert 0 < len(incremental.requests) < len(found.requests)
    assert first.truncated_lines > 0
    _append(tails)
    second = incremental.read(copy)
    assert second.files_reset == 0 and second.files_read == len(tails)
    assert first.lines + second.lines == found.stats.lines
    assert _snapshot(incremental) == _snapshot(found)
    again = incremental.read(copy)
    assert again.files_unchanged == len(tails) and again.lines == 0


def test_a_deleted_file_keeps_what_was_loaded_and_a_replaced_one_is_reread(tmp_path, found):
    copy = tmp_path / "claude"
    shutil.copytree(CLAUDE_DIR, copy)
    kept = read_transcripts(copy)
    victim = next(copy.rglob("agent-*.jsonl"))
    victim.unlink()
    kept.read(copy)
    assert _snapshot(kept) == _snapshot(found)
    main = next(p for p in sorted(copy.rglob("*.jsonl")) if not p.name.startswith("agent-"))
    original = main.read_bytes()
    main.write_bytes(b"\n" + original)  # same content, different first bytes, larger: must be re-read from 0
    stats = kept.read(copy)
    assert stats.files_reset == 1 and stats.lines == len([x for x in original.splitlines() if x.strip()])
    assert _snapshot(kept) == _snapshot(found)


def _same_size_rewrite(path: Path) -> None:
    """Rewrite ``path`` with its lines in reverse order (the same length, other first bytes), keeping its
    modification time."""
    stat = path.stat()
    lines = path.read_bytes().splitlines(keepends=True)
    assert lines[0] != lines[-1] and lines[-1].endswith(b"\n")
    path.write_bytes(b"".join(reversed(lines)))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_an_unchanged_file_is_known_by_size_and_mtime_and_a_touched_one_by_its_fingerprint(tmp_path, found):
    copy = tmp_path / "claude"
    shutil.copytree(CLAUDE_DIR, copy)
    kept = read_transcripts(copy)
    main = next(p for p in sorted(copy.rglob("*.jsonl")) if not p.name.startswith("agent-"))
    _same_size_rewrite(main)
    # Same size, same mtime: the quick check (rsync's) does not open the file, so even other bytes go unseen.
    assert kept.read(copy).files_unchanged == len(kept.files)
    # The mtime moved: the file is opened, its first bytes differ, and it is read again from 0.
    os.utime(main)
    stats = kept.read(copy)
    assert stats.files_reset == 1 and stats.files_unchanged == len(kept.files) - 1


def _legacy_files(files: dict) -> tuple[dict, dict]:
    """The ``files`` and ``file_index`` sections as syncs before 2026-12 saved them: ``[rel, size, offset,
    "<n>:<sha256 of the first n bytes>"]`` (n = min(4096, offset)) and every file's index, worked out from the
    files themselves."""
    old, index = {}, {}
    for key, (size, offset, _fingerprint, _mtime, i) in files.items():
        root, rel = key.split("::", 1)
        head = (Path(root) / rel).read_bytes()[:min(4096, offset)]
        old[key] = [rel, size, offset, f"{len(head)}:{hashlib.sha256(head).hexdigest()}"]
        index[key] = i
    return old, index


def test_a_state_saved_without_mtimes_still_reads_only_what_is_new(tmp_path, found):
    copy, tails = _cut_copy(tmp_path)
    first = TranscriptSet()
    before = first.read(copy)
    saved = carry_to_json(first)
    saved["files"], saved["file_index"] = _legacy_files(saved.pop("file_states"))
    del saved["unread_file_index"]
    older = carry_from_json(json.loads(json.dumps(saved)))
    assert all(s.mtime_ns is None for s in older.files.values())
    unchanged = older.read(copy)  # the fingerprint decides, and the mtimes are kept for the next read
    assert unchanged.lines == 0 and unchanged.files_reset == 0
    assert all(s.mtime_ns is not None for s in older.files.values())
    _append(tails)
    after = older.read(copy)
    assert after.files_reset == 0 and after.files_read == len(tails)
    assert before.lines + after.lines == found.stats.lines
