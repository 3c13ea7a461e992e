"""The analytics tables of the Claude Code transcripts: their migration and their descriptions.

:mod:`amiga_analytics.store.schema` registers the migration in its set and merges the descriptions into ``TABLES``.
"""

from __future__ import annotations

from sqlite_utils import Database

TRANSCRIPT_TABLES: dict[str, dict] = {
    "api_requests": {
        "description": (
            "One row per API request Claude Code made, from its session transcripts, deduplicated on "
            "(message id, request id): the copy with the largest token total wins."
        ),
        "columns": {
            "message_id": "The response's message.id (msg_…); 'line:<uuid>' for a line without one.",
            "request_id": "The requestId (req_…), '' when the line has none.",
            "session_id": "Claude Code session id (the transcript's file name; sub-agents: their parent's).",
            "task_id": "The bot task the session belongs to; NULL for interactive CLI sessions.",
            "agent": "'main', or the sub-agent id (agentId) for requests a sub-agent made.",
            "parent_tool_use_id": "For sub-agent requests: the Task tool_use that spawned the sub-agent, when a file says so.",
            "model_id": "Exact model id that served the request (message.model).",
            "requested_at": "Timestamp of the winning line, UTC ISO 8601.",
            "day": "Calendar day of requested_at in the report timezone (YYYY-MM-DD).",
            "input_tokens": "Uncached input tokens, tokens.",
            "output_tokens": "Output tokens, tokens.",
            "cache_write_5m_tokens": "5-minute cache writes (all writes when the line has no TTL split), tokens.",
            "cache_write_1h_tokens": "1-hour cache writes, tokens.",
            "cache_read_tokens": "Cache reads, tokens.",
            "context_tokens": "The request's whole input: input + cache writes + cache reads, tokens (long-context tiers).",
            "fast": "1 if the request ran in fast mode (usage.speed = 'fast'), else 0.",
            "cost_usd": "Cost at the model's price on the request's UTC date, USD; NULL if unpriced.",
            "unpriced_tokens": "Tokens of the request no price covers, tokens.",
            "file": "Transcript file of the winning line, relative to the projects/ folder.",
        },
    },
}


def m004_api_requests(db: Database) -> None:
    """The ``api_requests`` table (transcripts' API requests) and its indexes."""
    db.table("api_requests").create(
        {
            "message_id": str, "request_id": str, "session_id": str, "task_id": str, "agent": str,
            "parent_tool_use_id": str, "model_id": str, "requested_at": str, "day": str, "input_tokens": int,
            "output_tokens": int, "cache_write_5m_tokens": int, "cache_write_1h_tokens": int,
            "cache_read_tokens": int, "context_tokens": int, "fast": int, "cost_usd": float,
            "unpriced_tokens": int, "file": str,
        },
        pk=("message_id", "request_id"),
        not_null={"message_id", "request_id", "agent"},
        if_not_exists=True,
    )
    db.table("api_requests").create_index(["day"], if_not_exists=True)
    db.table("api_requests").create_index(["requested_at"], if_not_exists=True)
    db.table("api_requests").create_index(["session_id", "agent"], if_not_exists=True)
    db.table("api_requests").create_index(["task_id"], if_not_exists=True)
    db.table("api_requests").create_index(["model_id", "day"], if_not_exists=True)


# -- m005: the transcripts as the second witness of the tool calls ---------------------------------------------

TRANSCRIPT_TABLES["tool_uses"] = {
    "description": (
        "One row per tool_use in the Claude Code transcripts, with its result: what the join matches against the "
        "bot's calls. Nothing of the conversation is kept: the input only as the bot would store it, masked."
    ),
    "columns": {
        "tool_use_id": "The tool_use's id (toolu_…).",
        "session_id": "Claude Code session id (sub-agents: their parent's).",
        "task_id": "The bot task the session belongs to; NULL for interactive CLI sessions.",
        "agent": "'main', or the sub-agent id for calls a sub-agent made.",
        "tool_name": "Tool name.",
        "parameters": "The input as the bot stores it (top-level secret keys redacted, strings cut at 500), then masked.",
        "secrets_masked": "Secrets masked in parameters.",
        "use_at": "Timestamp of the line holding the tool_use, UTC ISO 8601.",
        "result_at": "Timestamp of its tool_result, UTC ISO 8601; NULL when there is none.",
        "result": "success, failure (is_error), interrupted (Claude Code's interruption text) or none (no result).",
        "agent_id": "For Task calls: the sub-agent they spawned, when a file says so.",
        "message_id": "The API request that issued the call: its message id.",
        "request_id": "… and its request id ('' when none).",
        "model_id": "Exact model id of that request.",
    },
}
TRANSCRIPT_COLUMNS = {
    "tool_calls": {
        "ended_at": "When the call completed: the transcript's tool_result time where the transcript has the call, else the bot's completion row or agent_status tool_call row, UTC ISO 8601; NULL if unknown.",
        "duration_ms": "ended_at - started_at in milliseconds (hook latency included): from the transcript's tool_result where it has the call, else from the bot's rows; NULL when neither allows it.",
        "outcome": "success, failure or unknown: from the transcript's tool_result (is_error) where it has the call, else the bot's post-hook (failure: it found an error); unknown when no completion or result was written, or the call was interrupted.",
        "cost_usd": "Cost of the tokens the bot recorded for the call at that model's price on that date, USD; NULL if no tokens or no price (the call's transcript cost is transcript_cost_usd).",
        "witness": "Who saw the call: bot (its rows only), transcript (a tool_use with no bot row) or both.",
        "tool_use_id": "The transcript's tool_use id matched to the call; NULL when the transcripts do not have it.",
        "interrupted": "1 if the transcript's result says Claude Code interrupted the call (outcome stays unknown).",
        "bot_outcome": "The bot's own outcome (post-hook heuristic) where the transcript's replaced it, else NULL.",
        "bot_ended_at": "The bot's ended_at where the transcript's replaced it, else NULL.",
        "bot_duration_ms": "The bot's duration_ms where the transcript's replaced it, else NULL.",
        "bot_error_category": "The bot's error_category where the transcript's outcome replaced it, else NULL.",
        "cost_witness": "Where the call's cost comes from: transcript (its session's transcript was read) or bot.",
        "transcript_cost_usd": (
            "The call's share of the cost of the API request that issued it: the request's cost split equally "
            "among its tool_uses, USD; NULL when not from the transcript or unpriced."
        ),
        "transcript_unpriced_tokens": "Unpriced tokens of that request, counted on its first tool_use only, tokens.",
    },
    "tool_daily": {
        "cost_usd": "Cost, USD: cost_transcript_usd + cost_bot_usd (the transcripts' where their session was read, else the bot's recorded tokens).",
        "unpriced_tokens": "Tokens no price covers (transcript requests, or the bot's tokens where no transcript), tokens.",
        "cost_transcript_usd": "The part of cost_usd that comes from the transcripts' API requests, USD.",
        "cost_bot_usd": "The part of cost_usd that comes from the bot's recorded tokens (calls with no transcript), USD.",
        "calls_both": "Calls seen by both witnesses (bot rows and a transcript tool_use).",
        "calls_transcript_only": "Calls seen only in the transcripts (no bot row).",
        "calls_cost_transcript": "Calls whose cost comes from the transcripts (their session's transcript was read).",
    },
    "tasks": {
        "cost_usd": "The task's cost, USD: from its transcripts when one was read (cost_transcript_usd), else the priced tokens the bot recorded on its calls (cost_bot_usd).",
        "unpriced_tokens": "Tokens of the task that no price covers (its transcripts' requests, else its calls' recorded tokens), tokens.",
        "cost_transcript_usd": "The task's cost from its transcripts (every API request of its sessions and sub-agents), USD.",
        "cost_bot_usd": "The task's cost from the bot's recorded tokens, where no transcript of it was read, USD.",
    },
}


def m005_transcript_witness(db: Database) -> None:
    """The ``tool_uses`` table and the columns of the join (tool_calls), the cost split (tool_daily, tasks)."""
    db.table("tool_uses").create(
        {
            "tool_use_id": str, "session_id": str, "task_id": str, "agent": str, "tool_name": str,
            "parameters": str, "secrets_masked": int, "use_at": str, "result_at": str, "result": str,
            "agent_id": str, "message_id": str, "request_id": str, "model_id": str,
        },
        pk="tool_use_id",
        if_not_exists=True,
    )
    db.table("tool_uses").create_index(["task_id"], if_not_exists=True)
    db.table("tool_uses").create_index(["session_id"], if_not_exists=True)
    db.table("tool_uses").create_index(["message_id", "request_id"], if_not_exists=True)
    calls = db.table("tool_calls")
    for name, kind, default in (
        ("witness", str, "bot"), ("tool_use_id", str, None), ("interrupted", int, 0), ("bot_outcome", str, None),
        ("bot_ended_at", str, None), ("bot_duration_ms", float, None), ("bot_error_category", str, None),
        ("cost_witness", str, "bot"), ("transcript_cost_usd", float, None), ("transcript_unpriced_tokens", int, None),
    ):
        if name not in calls.columns_dict:
            calls.add_column(name, kind, not_null_default=default)
    daily = db.table("tool_daily")
    for name, kind in (("cost_transcript_usd", float), ("cost_bot_usd", float), ("calls_both", int),
                       ("calls_transcript_only", int), ("calls_cost_transcript", int)):
        if name not in daily.columns_dict:
            daily.add_column(name, kind, not_null_default=0)
    for name in ("cost_transcript_usd", "cost_bot_usd"):
        if name not in db.table("tasks").columns_dict:
            db.table("tasks").add_column(name, float, not_null_default=0.0)
