"""The secrets corpus (tests/fixtures/secrets_corpus.json, provenance in tests/fixtures/README.md): public
scanners' true-positive examples placed where a Claude Code session leaves them, and harmless texts.

Done when (issue 15): at least 99 % of the secrets are absent from the analytics database's bytes after a real
sync (any 8-character piece of a secret counts as a leak), and at most 1 % of the harmless texts are altered.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from amiga_analytics.bot.schema import create_bot_database
from amiga_analytics.demo import sanitize_parameters
from amiga_analytics.load.redact import mask
from amiga_analytics.load.sync import sync
from conftest import file_bytes

CORPUS = json.loads((Path(__file__).parent / "fixtures" / "secrets_corpus.json").read_text(encoding="utf-8"))
SECRETS = CORPUS["secrets"]
HARMLESS = CORPUS["harmless"]
START = datetime(2025, 10, 1, 9, 0, 0)


def pieces(secret: str, window: int = 8) -> set[str]:
    """Every run of ``window`` characters of ``secret`` (the secret itself when shorter)."""
    if len(secret) <= window:
        return {secret}
    return {secret[i:i + window] for i in range(len(secret) - window + 1)}


# Pieces that the harmless texts hold too ("contrase" of "Cambiar contraseña") cannot tell a leak.
_HARMLESS_TEXT = "\0".join(t for group in HARMLESS.values() for t in group)


def leaked(secret: str, data: str, stored: str | None = None) -> bool:
    """Whether a piece of ``secret`` is in ``data``; with ``stored``, only pieces the bot stored count (the
    bot's 500-character cut already drops the rest)."""
    wanted = {p for p in pieces(secret) if p not in _HARMLESS_TEXT}
    if stored is not None:
        wanted = {p for p in wanted if p in stored}
    return any(p in data for p in wanted)


def test_corpus_is_as_large_and_varied_as_promised():
    kinds = {s["carrier"]["kind"] for s in SECRETS}
    assert len(SECRETS) >= 250 and len({s["rule"] for s in SECRETS}) >= 150
    assert kinds >= {"bash", "write", "edit", "task_prompt", "tool_error", "agent_message", "task_description",
                     "task_error", "router_message", "webfetch_url", "mcp_nested"}
    assert len(HARMLESS["commands"]) >= 100 and len(HARMLESS["files"]) >= 20 and len(HARMLESS["errors"]) >= 20


def test_mask_finds_the_corpus_secrets():
    missed = [s["rule"] + ": " + s["carrier"]["text"][:80] for s in SECRETS
              if leaked(s["secret"], mask(s["carrier"]["text"])[0])]
    assert len(missed) <= 0.01 * len(SECRETS), missed


@pytest.mark.parametrize("group", ["commands", "files", "errors"])
def test_mask_leaves_harmless_texts_alone(group):
    altered = [(t, mask(t)[0]) for t in HARMLESS[group] if mask(t)[0] != t]
    assert len(altered) <= 0.01 * len(HARMLESS[group]), altered


# -- a real sync of a bot database that carries the corpus everywhere ------------------------------------------

TOOL_OF = {"bash": "Bash", "write": "Write", "edit": "Edit", "task_prompt": "Task", "webfetch_url": "WebFetch",
           "mcp_nested": "mcp__staging__call", "tool_error": "Bash"}


def _params(kind: str, text: str, i: int) -> dict:
    if kind in ("bash", "tool_error"):
        return {"command": text if kind == "bash" else f"./check.sh {i}", "description": "Run it"}
    if kind == "write":
        return {"file_path": f"/ws/app/module_{i}.py", "content": text}
    if kind == "edit":
        return {"file_path": f"/ws/app/module_{i}.py", "old_string": "pass", "new_string": text}
    if kind == "task_prompt":
        return {"subagent_type": "general-purpose", "description": "Call the API", "prompt": text}
    if kind == "webfetch_url":
        return {"url": text, "prompt": "Summarise the response"}
    return json.loads(text)  # mcp_nested: the corpus holds the parameters' JSON


def _bot_database(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Write every corpus text where its carrier puts it, the way the bot does; returns, per secret index, what
    the bot stored."""
    stored: dict[int, str] = {}
    create_bot_database(path).close()
    conn = sqlite3.connect(path)
    at = iter(START + timedelta(seconds=7 * n) for n in range(100_000))
    with conn:
        conn.execute("INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model, "
                     "workspace) VALUES ('corpus', 7, 'corpus task', 'completed', ?, ?, 'sonnet', '/ws')",
                     (START.isoformat(), (START + timedelta(days=1)).isoformat()))
        for i, secret in enumerate(SECRETS):
            kind, text = secret["carrier"]["kind"], secret["carrier"]["text"]
            ts = next(at).isoformat()
            if kind in TOOL_OF:
                params = json.dumps(sanitize_parameters(_params(kind, text, i)))
                error = text if kind == "tool_error" else None
                conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, error, parameters, "
                             "error_category) VALUES (?, 'corpus', ?, ?, ?, ?, ?)",
                             (ts, TOOL_OF[kind], 0 if error else 1, error, params, "unknown_error" if error else None))
                stored[i] = params + (error or "")
            elif kind in ("task_description", "task_error"):
                conn.execute("INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, "
                             "model, workspace, error) VALUES (?, 7, ?, 'failed', ?, ?, 'sonnet', '/ws', ?)",
                             (f"t{i:05d}", text if kind == "task_description" else "Fix the deploy", ts, ts,
                              text if kind == "task_error" else None))
                stored[i] = text
            elif kind == "agent_message":
                conn.execute("INSERT INTO agent_status (timestamp, task_id, status, message, metadata) "
                             "VALUES (?, 'corpus', 'tool_call', ?, ?)",
                             (ts, text, json.dumps({"tool": "Bash", "success": True})))
                stored[i] = text
            elif kind == "router_message":
                conn.execute("INSERT INTO messages (user_id, timestamp, role, content, tokens_input, tokens_output, "
                             "model) VALUES (7, ?, 'user', ?, 12, 0, 'haiku')", (ts, text))
                stored[i] = text
            else:
                raise AssertionError(kind)
        for group, tool in (("commands", "Bash"), ("files", "Write"), ("errors", "Bash")):
            for j, text in enumerate(HARMLESS[group]):
                params = ({"command": text, "description": "Run it"} if group == "commands" else
                          {"file_path": f"/ws/app/harmless_{j}.txt", "content": text} if group == "files" else
                          {"command": f"./harmless_{j}.sh", "description": "Run it"})
                error = text if group == "errors" else None
                conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, error, parameters, "
                             "error_category) VALUES (?, 'corpus', ?, ?, ?, ?, ?)",
                             (next(at).isoformat(), tool, 0 if error else 1, error,
                              json.dumps(sanitize_parameters(params)), "unknown_error" if error else None))
    conn.close()
    return stored


@pytest.fixture(scope="module")
def corpus_sync(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    bot, out = root / "agentlab.db", root / "analytics.db"
    stored = _bot_database(bot)
    result = sync(bot, out, source_tz="Europe/Madrid", keep_message_content=True)
    return out, stored, result


def test_the_bot_database_really_carries_the_secrets(corpus_sync):
    _, stored, _ = corpus_sync
    assert sum(leaked(s["secret"], stored[i]) for i, s in enumerate(SECRETS)) >= 0.99 * len(SECRETS)


def test_no_corpus_secret_reaches_the_analytics_database(corpus_sync):
    out, stored, _ = corpus_sync
    data = file_bytes(out).decode("utf-8", "replace")
    # JSON texts may hold a secret with escapes (\" or \u00f1); look for the decoded form too.
    conn = sqlite3.connect(out)
    decoded = "\n".join(json.dumps(json.loads(p), ensure_ascii=False) for (p,) in
                        conn.execute("SELECT parameters FROM tool_calls WHERE parameters IS NOT NULL"))
    conn.close()
    leaks = [s["rule"] + ": " + s["carrier"]["text"][:80] for i, s in enumerate(SECRETS)
             if leaked(s["secret"], data, stored[i]) or leaked(s["secret"], decoded, stored[i])]
    assert len(leaks) <= 0.01 * len(SECRETS), leaks


def test_harmless_texts_reach_the_analytics_database_unchanged(corpus_sync):
    out, _, _ = corpus_sync
    conn = sqlite3.connect(out)
    params = [json.loads(p) for (p,) in conn.execute(
        "SELECT parameters FROM tool_calls WHERE file_path LIKE '/ws/app/harmless_%' OR parameters LIKE "
        "'%\"Run it\"%' ORDER BY started_at")]
    errors = {e for (e,) in conn.execute("SELECT error FROM tool_calls WHERE error IS NOT NULL")}
    conn.close()
    commands = {p.get("command") for p in params}
    files = {p.get("content") for p in params}
    for group, seen in (("commands", commands), ("files", files), ("errors", errors)):
        missing = [t for t in HARMLESS[group] if t not in seen]
        assert len(missing) <= 0.01 * len(HARMLESS[group]), (group, missing)


def test_the_summary_counts_masks_by_carrier(corpus_sync):
    _, _, result = corpus_sync
    masked = [ln for ln in result.summary().splitlines() if "masked this run:" in ln]
    assert len(masked) == 1, result.summary()
    line = masked[0]
    assert "secrets masked" not in result.summary()  # the old wording is gone everywhere
    for carrier in ("parameters", "tool errors", "task descriptions", "task errors", "agent messages",
                    "router messages"):
        assert result.masked.get(carrier, 0) >= 1, (carrier, result.masked)
        assert f"in {carrier}" in line
    # Each secret placed in a task description is masked there, at least once.
    placed = sum(s["carrier"]["kind"] == "task_description" for s in SECRETS)
    assert result.masked["task descriptions"] >= placed * 0.9
