"""Column specifications of the query functions' DataFrames (name → kind), in the documented order, and the
``by`` columns each function accepts."""

from __future__ import annotations

DEFAULT_LIMIT = 20

INT, FLOAT, STR, TIME = "int", "float", "str", "time"

TOOL_COST_MEASURES = {
    "calls": INT, "calls_with_tokens": INT, "input_tokens": INT, "output_tokens": INT,
    "cache_write_tokens": INT, "cache_read_tokens": INT, "cost_usd": FLOAT, "unpriced_tokens": INT,
    "cost_transcript_usd": FLOAT, "cost_bot_usd": FLOAT,
}
ERROR_RATE_MEASURES = {"calls": INT, "completed": INT, "failed": INT, "unknown": INT}
THROUGHPUT_COLUMNS = {
    "period_start": TIME, "created": INT, "completed": INT, "failed": INT, "stopped": INT, "finished": INT,
    "success_rate": FLOAT, "median_cycle_s": FLOAT, "p90_cycle_s": FLOAT,
}
LATENCY_MEASURES = {
    "calls": INT, "calls_with_duration": INT, "p50_ms": FLOAT, "p90_ms": FLOAT, "p99_ms": FLOAT, "mean_ms": FLOAT,
}
TASK_COST_COLUMNS = {
    "task_id": STR, "status": STR, "model_id": STR, "agent_type": STR, "created_at": TIME, "cycle_s": FLOAT,
    "calls": INT, "input_tokens": INT, "output_tokens": INT, "cache_write_tokens": INT, "cache_read_tokens": INT,
    "cost_usd": FLOAT, "unpriced_tokens": INT, "cost_transcript_usd": FLOAT, "cost_bot_usd": FLOAT,
}
CACHE_SAVINGS_MEASURES = {
    "cache_read_tokens": INT, "cache_write_tokens": INT, "cost_without_cache_usd": FLOAT,
    "cost_with_cache_usd": FLOAT, "savings_usd": FLOAT,
}
TOP_ERRORS_COLUMNS = {
    "tool_name": STR, "error_template": STR, "error_category": STR, "count": INT, "share": FLOAT,
    "example_error": STR, "first_seen": TIME, "last_seen": TIME,
}
SUBAGENT_COLUMNS = {
    "subagent_type": STR, "calls": INT, "failed": INT, "unknown": INT, "input_tokens": INT, "output_tokens": INT,
    "cost_usd": FLOAT,
}
FILE_ACTIVITY_COLUMNS = {
    "file_path": STR, "reads": INT, "edits": INT, "writes": INT, "calls": INT, "failed": INT,
}
TASKS_PER_USER_COLUMNS = {
    "user_ref": STR, "tasks": INT, "completed": INT, "failed": INT, "stopped": INT, "cost_usd": FLOAT,
    "router_messages": INT, "router_cost_usd": FLOAT,
}
DATA_QUALITY_COLUMNS = {"check_name": STR, "value": INT, "detail": STR}
ROUTER_USAGE_MEASURES = {
    "messages": INT, "assistant_messages": INT, "tasks_created": INT, "input_tokens": INT, "output_tokens": INT,
    "cost_usd": FLOAT, "unpriced_tokens": INT,
}

TOOL_COST_BY = ("tool_name", "model_id", "agent_type", "outcome", "task_id", "bot")
ERROR_RATES_BY = ("tool_name", "model_id", "agent_type", "error_category", "task_id", "bot")
LATENCY_BY = ("tool_name", "model_id", "agent_type", "outcome", "bot")
CACHE_SAVINGS_BY = ("model_id", "tool_name", "agent_type", "bot")
