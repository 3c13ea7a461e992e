"""The truth of the demo's transcripts (``<bot db>.transcripts.truth.json``), in the shape of
``tests/fixtures/sample_par.transcripts.truth.json``: every deduplicated API request as written (the line with the
largest token total, the first such), every tool_use with its result and the logical call it is (``truth_index``
into the demo truth's ``calls``), the sessions, and the sums per UTC day, per report-zone day, per task and per CLI
session.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .constants import COMPACT_TRUTH_ABOVE

if TYPE_CHECKING:
    from .simulation import Demo
    from .transcripts import TranscriptSet

FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
RULES = {
    "request": "one per (message.id, requestId); usage = the line with the largest input+output+cache total, the "
               "first such line in file order; timestamp = that line's",
    "cache_write": "cache_write_5m + cache_write_1h = cache_creation_input_tokens; every line has the split",
    "synthetic": "model '<synthetic>' lines are not requests (zero usage); counted under notes.synthetic",
    "subagents": "sub-agent usage is only in the sub-agent files (2.1 progress lines copy it into the parent's file "
                 "with the same ids); Task results' toolUseResult.usage adds it up and is not a request",
    "tool_uses": "one per logical call of a session that started Claude (truth_index: its index in the demo truth's "
                 "calls); a call the bot recorded as 'unknown' appears under its real name (transcript_tool)",
    "result": "success / failure (is_error) / interrupted / none (no result written); outcome = what the "
              "transcript says: interrupted and none are unknown",
}


def _sums(requests: list[dict], key) -> dict:
    out: dict = defaultdict(lambda: {f: 0 for f in (*FIELDS, "requests")})
    for r in requests:
        s = out[key(r)]
        for f in FIELDS:
            s[f] += r[f]
        s["requests"] += 1
    return out


def _nested(sums: dict) -> dict:
    """{(a, b): sums} → {a: {b: sums}}, sorted."""
    out: dict = {}
    for (a, b), s in sorted(sums.items()):
        out.setdefault(a, {})[b] = s
    return out


def _per_owner(requests: list[dict], owner: str) -> dict:
    """Per task (or CLI session): sums by model and in total."""
    by_model = _sums(requests, lambda r: (r[owner], r["model"]))
    total = _sums(requests, itemgetter(owner))
    return {k: {"session_id": None, "by_model": models, **total[k]} for k, models in _nested(by_model).items()}


def truth_of(found: TranscriptSet, demo: Demo, tz: str, claude_dir: str) -> dict:
    zone = ZoneInfo(tz)
    requests = sorted(found.requests, key=lambda r: (r["timestamp"], r["message_id"]))
    for r in requests:
        r["day_local"] = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).astimezone(zone).date().isoformat()
    index: dict[tuple, list[int]] = defaultdict(list)
    for i, (_, call) in enumerate(sorted(demo.truth_calls, key=itemgetter(0))):
        index[(call["task_id"], call["start"], call["tool"])].append(i)
    uses = sorted(found.tool_uses, key=lambda u: (u["use_ts"], u["tool_use_id"]))
    for use in uses:
        candidates = index.get((use["db_task_id"], use["start"], use["tool"]))
        use["truth_index"] = candidates.pop(0) if candidates else None
    tasks = _per_owner([r for r in requests if r["task_id"] is not None], "task_id")
    cli = _per_owner([r for r in requests if r["task_id"] is None], "session_id")
    session_of = {s["task_id"]: s["session_id"] for s in found.sessions if s["task_id"]}
    for task_id, sums in tasks.items():
        sums["session_id"] = session_of.get(task_id)
    for sums in cli.values():
        del sums["session_id"]
    results = Counter(u["result"] for u in uses)
    notes = dict(found.counts)
    notes.update(requests=len(requests), request_lines=sum(r["lines"] for r in requests), sessions=len(found.sessions),
                 task_sessions=sum(s["kind"] == "task" for s in found.sessions),
                 cli_sessions=sum(s["kind"] == "cli" for s in found.sessions), results=dict(sorted(results.items())),
                 subagent_files={"flat": sum(len(s["subagents"]) for s in found.sessions if s["layout"] == "flat"),
                                 "nested": sum(len(s["subagents"]) for s in found.sessions if s["layout"] == "nested")},
                 truth_calls_without_tool_use=len(demo.truth_calls) - sum(u["truth_index"] is not None for u in uses))
    return {
        "scenario": "demo", "timezone": tz, "claude_dir": claude_dir, "rules": RULES,
        "sessions": found.sessions, "requests": requests, "tool_calls": uses,
        "daily_utc": _nested(_sums(requests, lambda r: (r["timestamp"][:10], r["model"]))),
        "daily_local": _nested(_sums(requests, lambda r: (r["day_local"], r["model"]))),
        "tasks": tasks, "cli_sessions": cli, "notes": notes,
    }


def write_transcript_truth(path: Path, found: TranscriptSet, demo: Demo, tz: str, claude_dir: str) -> None:
    truth = truth_of(found, demo, tz, claude_dir)
    if len(truth["tool_calls"]) > COMPACT_TRUTH_ABOVE:
        text = json.dumps(truth, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(truth, indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
