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
    db["api_requests"].create(
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
    db["api_requests"].create_index(["day"], if_not_exists=True)
    db["api_requests"].create_index(["requested_at"], if_not_exists=True)
    db["api_requests"].create_index(["session_id", "agent"], if_not_exists=True)
    db["api_requests"].create_index(["task_id"], if_not_exists=True)
    db["api_requests"].create_index(["model_id", "day"], if_not_exists=True)
