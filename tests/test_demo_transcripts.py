"""The demo's Claude Code transcripts: shaped like Claude Code's (claude-transcripts.md, the sample in
tests/fixtures/sample_par.claude), consistent with the bot rows the demo writes, and read back by the sync exactly
as their truth says.

Expected figures come from the demo's own truth files (``<db>.truth.json``, ``<db>.transcripts.truth.json``) and from
the files themselves, read here with ``json`` alone; never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics.cli import cli
from amiga_analytics.demo import write_demo

TZ = "Europe/Madrid"
TOKENS = {"input": "input_tokens", "output": "output_tokens", "cache_write_5m": "cache_write_5m_tokens",
          "cache_write_1h": "cache_write_1h_tokens", "cache_read": "cache_read_tokens", "requests": "requests"}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MAIN = re.compile(rf"^projects/(-[A-Za-z0-9-]+)/({UUID})\.jsonl$")
FLAT = re.compile(r"^projects/(-[A-Za-z0-9-]+)/agent-([0-9a-f]{8})\.jsonl$")
NESTED = re.compile(rf"^projects/(-[A-Za-z0-9-]+)/({UUID})/subagents/agent-(a[0-9a-f]{{16}})\.(jsonl|meta\.json)$")
UTC_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CCUSAGE_NULLS = ("id", "cwd", "model", "speed", "costUSD", "version", "sessionId", "requestId", "isApiErrorMessage",
                 "cache_read_input_tokens", "cache_creation_input_tokens")  # a line with "<f>":null is dropped


def query(path: Path, sql: str, params: dict | None = None) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params or {}).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """14 days on a Madrid host (the last one the end of summer time), with a few calls the bot records as
    'unknown' (seed 7)."""
    path = tmp_path_factory.mktemp("demo-tx") / "demo-bot.db"
    result = write_demo(path, days=14, seed=7, tz=TZ, calls=4000)
    truth = json.loads(Path(f"{path}.truth.json").read_text())
    ttruth = json.loads(Path(f"{path}.transcripts.truth.json").read_text())
    return path, result, truth, ttruth


@pytest.fixture(scope="module")
def lines(demo) -> dict[str, list[dict]]:
    """Every file of the Claude config directory, read with json alone: relative path → its lines (a .meta.json
    file as one object)."""
    root = demo[1].transcripts_path
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            out[rel] = [json.loads(text)] if rel.endswith(".meta.json") else [json.loads(x) for x in text.splitlines()]
    return out


@pytest.fixture(scope="module")
def synced(demo, tmp_path_factory) -> Path:
    path, result, _, _ = demo
    db = tmp_path_factory.mktemp("demo-tx-sync") / "analytics.db"
    aa.sync(path, db, source_tz=TZ, report_tz="UTC", transcripts=[result.transcripts_path])
    return db


def assistant_lines(lines: dict) -> list[tuple[str, dict]]:
    return [(rel, x) for rel, xs in lines.items() if rel.endswith(".jsonl") for x in xs if x["type"] == "assistant"]


# -- the files look like Claude Code's -----------------------------------------------------------------------------

def test_layout_names_and_envelopes(demo, lines):
    _, result, _, ttruth = demo
    assert result.transcripts_path.name == "demo-bot.claude" and result.transcripts_truth_path.exists()
    kinds = Counter()
    for rel, xs in lines.items():
        main, flat, nested = MAIN.match(rel), FLAT.match(rel), NESTED.match(rel)
        assert main or flat or nested, rel
        kinds["main" if main else "flat" if flat else "nested"] += 1
        if rel.endswith(".meta.json"):
            continue
        stamps = [x["timestamp"] for x in xs if "timestamp" in x]
        assert stamps == sorted(stamps) and all(UTC_MS.match(s) for s in stamps), rel
        for x in xs:
            if x["type"] in ("user", "assistant", "system"):
                assert re.sub(r"[^A-Za-z0-9]", "-", x["cwd"]) == rel.split("/")[1]  # the folder is the cwd, encoded
                assert x["userType"] == "external" and re.match(r"^2\.[01]\.\d+$", x["version"])
                if main or nested:
                    assert x["sessionId"] == (main or nested).group(2)
                else:
                    assert x["isSidechain"] is True and x["agentId"] == flat.group(2)
                    assert f"projects/{flat.group(1)}/{x['sessionId']}.jsonl" in lines  # the parent's session
        if flat or (nested and rel.endswith(".jsonl")):
            first = xs[0]
            assert first["type"] == "user" and first["parentUuid"] is None and isinstance(first["message"]["content"], str)
    assert kinds["main"] == len(ttruth["sessions"]) and kinds["flat"] > 0 and kinds["nested"] > 0
    assert {s["version"][:3] for s in ttruth["sessions"]} == {"2.0", "2.1"}


def test_one_response_is_several_lines_with_one_usage(lines):
    by_message: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for rel, x in assistant_lines(lines):
        if x["message"]["model"] != "<synthetic>":
            by_message[x["message"]["id"]].append((rel, x))
    split = 0
    for message_id, copies in by_message.items():
        assert message_id.startswith("msg_01") and len({x["requestId"] for _, x in copies}) == 1
        assert len({(rel, x["message"]["model"]) for rel, x in copies}) == 1  # one file, one model
        usages = [x["message"]["usage"] for _, x in copies]
        for u in usages:
            assert u["cache_creation_input_tokens"] == sum(u["cache_creation"].values())
        if len(copies) > 1:
            split += 1
            if copies[0][1]["version"].startswith("2.1"):
                assert all(u == usages[0] for u in usages)  # every line of the response carries the same usage
            else:  # 2.0: output_tokens grow to the final count, the rest stays
                outputs = [u["output_tokens"] for u in usages]
                assert outputs == sorted(outputs)
                assert all({k: v for k, v in u.items() if k != "output_tokens"} ==
                           {k: v for k, v in usages[-1].items() if k != "output_tokens"} for u in usages)
    assert split > len(by_message) / 3


def test_tool_uses_results_errors_and_the_rest(lines, demo):
    _, _, _, ttruth = demo
    uses, results, errors, interrupted, blocks = {}, [], 0, 0, Counter()
    for rel, xs in lines.items():
        for x in xs:
            content = x.get("message", {}).get("content") if isinstance(x.get("message"), dict) else None
            for b in content if isinstance(content, list) else []:
                blocks[b["type"]] += 1
                if b["type"] == "tool_use":
                    assert b["id"] not in uses and b["id"].startswith("toolu_01")
                    uses[b["id"]] = x["sessionId"]
                elif b["type"] == "tool_result":
                    results.append((b["tool_use_id"], x["sessionId"]))
                    errors += b.get("is_error") is True
                    interrupted += b["content"] == "[Request interrupted by user for tool use]"
    assert all(uses.get(use_id) == session for use_id, session in results)  # every result answers a tool_use
    assert len(uses) == len(ttruth["tool_calls"]) > len(results) > 0.95 * len(uses)
    assert errors > 0 and interrupted > 0 and blocks["thinking"] > 0 and blocks["text"] > 0
    text = [b for _, x in assistant_lines(lines) for b in x["message"]["content"] if b["type"] in ("text", "thinking")]
    assert all(b.get("text") or b.get("thinking") for b in text)  # placeholder text, never empty
    flat = [x for rel, xs in lines.items() if rel.endswith(".jsonl") for x in xs]
    assert sum(x.get("isApiErrorMessage") is True and x["message"]["model"] == "<synthetic>" for x in flat) > 0
    assert sum(x["type"] == "system" and x.get("subtype") == "api_error" for x in flat) > 0
    progress = [x for x in flat if x["type"] == "progress"]
    assert progress and all(x["data"]["type"] == "agent_progress" and x["parentToolUseID"] in uses for x in progress)
    raw = "\n".join(json.dumps(x, separators=(",", ":")) for x in flat)
    assert not any(f'"{field}":null' in raw for field in CCUSAGE_NULLS)


def test_models_cache_writes_and_sub_agents(lines, demo):
    _, _, _, ttruth = demo
    models = Counter(x["message"]["model"] for _, x in assistant_lines(lines))
    assert {"claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"} <= set(models)
    writes = Counter()
    for r in ttruth["requests"]:
        writes["5m"] += r["cache_write_5m"]
        writes["1h"] += r["cache_write_1h"]
    assert 0.6 < writes["1h"] / (writes["1h"] + writes["5m"]) < 0.95  # mostly 1-hour writes, as Claude Code does
    task_uses = {b["id"] for _, x in assistant_lines(lines) for b in x["message"]["content"]
                 if b["type"] == "tool_use" and b["name"] == "Task"}
    metas = [xs[0] for rel, xs in lines.items() if rel.endswith(".meta.json")]
    assert metas and all(m["toolUseId"] in task_uses and m["agentType"] for m in metas)


def test_sessions_are_the_ones_the_bot_stored(demo, lines):
    path, _, _, _ = demo
    tasks = dict(query(path, "SELECT session_uuid, workspace FROM tasks WHERE session_uuid IS NOT NULL"))
    cli = {t for (t,) in query(path, "SELECT DISTINCT task_id FROM tool_usage WHERE task_id NOT IN "
                                     "(SELECT task_id FROM tasks)")}
    mains = {MAIN.match(rel).group(2): xs for rel, xs in lines.items() if MAIN.match(rel)}
    assert set(mains) == set(tasks) | cli
    for session, workspace in tasks.items():
        assert {x["cwd"] for x in mains[session] if "cwd" in x} == {workspace}


def test_every_logical_call_is_one_tool_use_at_its_start(demo):
    _, _, truth, ttruth = demo
    zone = ZoneInfo(TZ)
    indices = [u["truth_index"] for u in ttruth["tool_calls"]]
    assert sorted(indices) == list(range(len(truth["calls"])))  # each logical call once
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    for use in ttruth["tool_calls"]:
        call = truth["calls"][use["truth_index"]]
        assert (use["db_task_id"], use["tool"]) == (call["task_id"], call["tool"])
        wall = utc(use["use_ts"]).astimezone(zone).replace(tzinfo=None)  # the host's clock, as the bot wrote it
        assert 0 <= (datetime.fromisoformat(call["start"]) - wall).total_seconds() < 0.001  # the ms it started in
        if use["duration_ms"] is not None:
            assert call["end"] is not None or use["hook_failed"] or use["denied"]  # what the bot did not see
            assert use["duration_ms"] == pytest.approx(
                (utc(use["result_ts"]) - utc(use["use_ts"])).total_seconds() * 1000, abs=1.0)


def test_sub_agents_add_up_to_the_tokens_the_bot_recorded(demo):
    _, _, truth, ttruth = demo
    sums: dict = defaultdict(Counter)
    for r in ttruth["requests"]:
        for f in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"):
            sums[(r["session_id"], r["agent"])][f] += r[f]
    checked = 0
    for use in ttruth["tool_calls"]:
        tokens = truth["calls"][use["truth_index"]]["tokens"]
        if use["tool"] == "Task" and tokens:
            got = sums[(use["session_id"], use["agent_id"])]
            assert (got["input"], got["output"]) == (tokens["input_tokens"], tokens["output_tokens"])
            if tokens["cache_read_tokens"] is not None:
                assert got["cache_read"] == tokens["cache_read_tokens"]
                assert got["cache_write_5m"] + got["cache_write_1h"] == tokens["cache_creation_tokens"]
            checked += 1
    assert checked > 50


# -- the sync reads them as their truth says ----------------------------------------------------------------------

def test_usage_per_utc_day_and_model_equals_the_truth(demo, synced):
    _, _, _, ttruth = demo
    df = aa.usage(synced, by="model_id", freq="D")
    got = {(p.strftime("%Y-%m-%d"), m): r for p, m, r in zip(df["period_start"], df["model_id"], df.to_dict("records"))
           if r["requests"]}
    want = {(d, m): s for d, models in ttruth["daily_utc"].items() for m, s in models.items()}
    assert got.keys() == want.keys()
    for key, s in want.items():
        assert {k: got[key][v] for k, v in TOKENS.items()} == {k: s[k] for k in TOKENS}, key
    total = aa.usage(synced, by=None)
    assert int(total["requests"].iloc[0]) == len(ttruth["requests"]) and int(total["unpriced_tokens"].iloc[0]) == 0


def test_usage_per_task_and_cli_session_equals_the_truth(demo, synced):
    _, _, _, ttruth = demo
    by_task = aa.usage(synced, by="task_id").set_index("task_id")
    for task_id, s in ttruth["tasks"].items():
        assert {k: int(by_task.loc[task_id, v]) for k, v in TOKENS.items()} == {k: s[k] for k in TOKENS}, task_id
    by_session = aa.usage(synced, by="session_id").set_index("session_id")
    for session, s in ttruth["cli_sessions"].items():
        assert {k: int(by_session.loc[session, v]) for k, v in TOKENS.items()} == {k: s[k] for k in TOKENS}
    assert len(ttruth["tasks"]) > 50 and len(ttruth["cli_sessions"]) > 20


def test_in_the_report_zone_too(demo, tmp_path):
    path, result, _, ttruth = demo
    db = tmp_path / "local.db"
    aa.sync(path, db, source_tz=TZ, transcripts=[result.transcripts_path])
    got = {(d, m): (n, i, o, w5, w1, r) for d, m, n, i, o, w5, w1, r in query(db, """
        SELECT day, model_id, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cache_write_5m_tokens),
               SUM(cache_write_1h_tokens), SUM(cache_read_tokens) FROM api_requests GROUP BY 1, 2""")}
    assert got == {(d, m): (s["requests"], s["input"], s["output"], s["cache_write_5m"], s["cache_write_1h"],
                            s["cache_read"]) for d, models in ttruth["daily_local"].items() for m, s in models.items()}


def test_every_tool_use_is_matched_to_its_logical_call(demo, synced):
    _, _, truth, ttruth = demo
    zone = ZoneInfo(TZ)
    cols = "tool_use_id, witness, outcome, interrupted, tool_name, source_id, started_at, duration_ms"
    joined = {r[0]: r for r in query(synced, f"SELECT {cols} FROM tool_calls WHERE tool_use_id IS NOT NULL")}
    assert len(joined) == len(ttruth["tool_calls"])
    unknown = 0
    for use in ttruth["tool_calls"]:
        _, witness, outcome, interrupted, tool, source, started, duration = joined[use["tool_use_id"]]
        assert (outcome, interrupted) == (use["outcome"], int(use["result"] == "interrupted")), use["tool_use_id"]
        if use["tool"] == "unknown":  # the bot has no name for it: the two witnesses cannot be paired
            assert (witness, tool) == ("transcript", use["transcript_tool"])
            unknown += 1
            continue
        call = truth["calls"][use["truth_index"]]
        local = datetime.fromisoformat(started).astimezone(zone).replace(tzinfo=None)
        assert (witness, tool, source) == ("both", call["tool"], call["task_id"])
        assert local == datetime.fromisoformat(call["start"])  # the very call: same group, tool and start
        if use["duration_ms"] is None:
            assert duration is None
        else:
            assert duration == pytest.approx(use["duration_ms"], abs=1.0)
    gaps = aa.transcript_gaps(synced)
    assert unknown > 0 and set(gaps.loc[gaps["kind"] == "tool_use_without_bot_call", "tool_use_id"]) == {
        u["tool_use_id"] for u in ttruth["tool_calls"] if u["tool"] == "unknown"}
    bot_only = query(synced, "SELECT tool_name, COUNT(*) FROM tool_calls WHERE witness = 'bot' GROUP BY 1")
    assert bot_only == [("unknown", unknown)]


def test_outcomes_the_bot_missed_come_from_the_transcripts(demo, synced):
    _, _, _, ttruth = demo
    missed = [u for u in ttruth["tool_calls"] if u["bot_outcome"] == "unknown" and u["result"] != "none"]
    assert {u["result"] for u in missed} == {"success", "failure", "interrupted"}
    got = Counter(dict(query(synced, "SELECT outcome, COUNT(*) FROM tool_calls GROUP BY 1")))
    # every tool_use's call has the transcript's outcome; the calls the bot named 'unknown' keep a call of their own
    want = Counter(u["outcome"] for u in ttruth["tool_calls"]) + Counter(
        u["bot_outcome"] for u in ttruth["tool_calls"] if u["tool"] == "unknown")
    assert got == want


def test_nothing_of_the_conversation_is_stored(demo, synced, lines):
    data = Path(synced).read_bytes()
    for text in ("The user doesn't want to proceed", "[Request interrupted by user", "File created successfully",
                 "I should read the relevant file", "Todos have been modified successfully", "Done: summary of changes", "Conversation compacted"):
        assert text.encode() not in data, text
    raw_secrets = {b["input"][k] for _, x in assistant_lines(lines) for b in x["message"]["content"]
                   if b["type"] == "tool_use" and isinstance(b["input"], dict) for k in b["input"]
                   if "token" in k and isinstance(b["input"][k], str)}
    assert raw_secrets and not any(s.encode() in data for s in raw_secrets)
    for secret in demo[2]["secrets"]:
        assert secret.encode() not in data


def test_the_report_gives_the_bill_not_a_floor(synced):
    text = aa.weekly_report(synced).to_markdown()
    assert "this is the bill, not a floor" in text and "(floor)" not in text
    assert "Claude Code's transcripts cover 7 of the 7 days with calls" in text


# -- options, repeatability, the command line ----------------------------------------------------------------------

def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files_and_the_bot_database_does_not_depend_on_them(tmp_path):
    a, b, c = tmp_path / "a" / "bot.db", tmp_path / "b" / "bot.db", tmp_path / "c" / "bot.db"
    for p in (a, b, c):
        p.parent.mkdir()
    write_demo(a, days=3, seed=5, calls=400)
    write_demo(b, days=3, seed=5, calls=400)
    write_demo(c, days=3, seed=5, calls=400, transcripts=False)
    assert tree_digest(a.with_name("bot.claude")) == tree_digest(b.with_name("bot.claude"))
    assert Path(f"{a}.transcripts.truth.json").read_bytes() == Path(f"{b}.transcripts.truth.json").read_bytes()
    assert a.read_bytes() == c.read_bytes() and Path(f"{a}.truth.json").read_bytes() == Path(f"{c}.truth.json").read_bytes()
    assert sorted(p.name for p in c.parent.iterdir()) == ["bot.db", "bot.db.truth.json"]


def test_an_existing_transcripts_folder_is_never_overwritten_unless_asked(tmp_path):
    path = tmp_path / "bot.db"
    (tmp_path / "bot.claude").mkdir()
    (tmp_path / "bot.claude" / "keep.txt").write_text("mine")
    with pytest.raises(aa.InputError, match="bot.claude already exists"):
        write_demo(path, days=1, calls=50)
    assert not path.exists() and (tmp_path / "bot.claude" / "keep.txt").read_text() == "mine"
    write_demo(path, days=1, calls=50, overwrite=True)
    assert not (tmp_path / "bot.claude" / "keep.txt").exists() and (tmp_path / "bot.claude" / "projects").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bot.claude", "bot.db", "bot.db.transcripts.truth.json",
                                                          "bot.db.truth.json"]  # nothing temporary left


def test_cli_writes_transcripts_by_default_and_not_when_told(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["demo", str(tmp_path / "a.db"), "--days", "2", "--calls", "200"])
    assert out.exit_code == 0, out.output
    assert f"Claude Code transcripts in {tmp_path / 'a.claude'} (" in out.output
    assert (tmp_path / "a.claude" / "projects").is_dir()
    out = runner.invoke(cli, ["demo", str(tmp_path / "b.db"), "--days", "2", "--calls", "200", "--no-transcripts"])
    assert out.exit_code == 0 and "Claude Code transcripts" not in out.output
    assert not (tmp_path / "b.claude").exists() and not (tmp_path / "b.db.transcripts.truth.json").exists()
