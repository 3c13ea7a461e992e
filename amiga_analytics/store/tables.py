"""The description of every analytics table and column, in one place (:data:`TABLES`): ``metadata.yml`` for
Datasette is generated from it, and a test keeps it in step with what the migrations of :mod:`.schema` build."""

from __future__ import annotations

from .bots_schema import BOT_DESCRIPTION, BOT_KEYS
from .transcripts_schema import TRANSCRIPT_COLUMNS, TRANSCRIPT_TABLES

# Tables a reader of the analytics database never needs to see (hidden in Datasette).
INTERNAL_TABLES = ("_sqlite_migrations", "sync_state", "open_call_rows", "duration_ranks", "duration_ranks_by_agent",
                   "duration_buckets", "latency_totals", "report_offsets")

TABLES: dict[str, dict] = {
    "tool_calls": {
        "description": "One row per logical tool call (the bot writes 1, 2, 3 or 4 rows per call; they are merged here).",
        "columns": {
            "call_id": "Id of the first bot tool_usage row of the call; stable across syncs.",
            "source_id": "What the bot wrote in tool_usage.task_id: a 6-hex task id or a Claude session UUID.",
            "task_id": "The bot task the call belongs to (matched on task id or session_uuid); NULL for interactive CLI sessions.",
            "tool_name": "Claude Code tool name (Bash, Read, Edit, Task, mcp__…).",
            "subagent_type": "For Task calls: the sub-agent it delegated to (subagent_type parameter).",
            "file_path": "For file tools (Read, Write, Edit, MultiEdit, NotebookEdit): the file the call touched.",
            "started_at": "When the call started (the pre-hook row), UTC ISO 8601.",
            "ended_at": "When the call completed (completion row or agent_status tool_call row), UTC ISO 8601; NULL if unknown.",
            "duration_ms": "ended_at - started_at in milliseconds (includes hook latency); NULL when the bot's rows do not allow it.",
            "day": "Calendar day of started_at in the report timezone (YYYY-MM-DD).",
            "outcome": "success, failure (the bot's post-hook found an error) or unknown (no completion was ever written).",
            "error": "Error text the bot extracted, secrets masked.",
            "error_category": "The bot's error category (permission_error, file_not_found, timeout, …) for failures.",
            "input_tokens": "Input tokens the bot recorded for the call (Task calls almost only), tokens.",
            "output_tokens": "Output tokens recorded for the call, tokens.",
            "cache_write_tokens": "Cache-creation tokens recorded (bot column cache_creation_tokens), tokens.",
            "cache_read_tokens": "Cache-read tokens recorded, tokens.",
            "has_tokens": "1 if the bot recorded any token count for the call, else 0.",
            "model_alias": "Model alias of the call's task (sonnet, haiku, opus), or the default model for CLI sessions.",
            "model_id": "Model id the alias meant on the call's date (effective-dated alias table); NULL if unresolved.",
            "cost_usd": "Cost of the recorded tokens at that model's price on that date, USD; NULL if no tokens or no price.",
            "unpriced_tokens": "Tokens recorded for the call that no price covers (unknown model or no price row), tokens.",
            "agent_type": "Agent type of the call's task; 'cli_session' for calls with no task.",
            "parameters": "The tool's parameters as the bot stored them (JSON), secrets masked.",
            "secrets_masked": "How many secrets were masked in this call's parameters and error text.",
            "time_issue": "NULL, or why started_at is uncertain: 'dst_gap', 'dst_fold' or 'unparseable'.",
            "source_rows": "How many bot tool_usage rows were merged into this call.",
            "last_row_id": "Id of the last bot tool_usage row merged into this call.",
            "error_template": "For failures: the error text as a template (paths, URLs, hosts, quoted values, ids, tokens and numbers replaced by placeholders, home directories as ~), what top errors group by.",
            "program": "For Bash calls: the program the command ran (git, pytest, npm, …), from the masked command.",
        },
    },
    "tasks": {
        "description": "One row per bot task, with its outcome, cycle time and the totals of its tool calls.",
        "columns": {
            "task_id": "The bot's 6-hex task id.",
            "status": "Current status: pending, running, completed, failed or stopped.",
            "created_at": "When the task was created, UTC ISO 8601.",
            "finished_at": "When the task reached its final status (completed, failed or stopped), UTC ISO 8601.",
            "cycle_s": "finished_at - created_at in seconds (includes time in the queue).",
            "created_day": "Calendar day of created_at in the report timezone.",
            "finished_day": "Calendar day of finished_at in the report timezone.",
            "model_alias": "Model alias the task ran with (sonnet, haiku, opus).",
            "model_id": "Model id the alias meant when the task was created.",
            "agent_type": "code_agent, orchestrator, frontend_agent or research_agent.",
            "workflow": "Workflow the bot ran (orchestrator at the bot's HEAD); NULL if never started.",
            "last_subagent": "Sub-agent of the task's latest Task call (the bot's last_agent_type/current_phase).",
            "user_ref": "Stable, non-reversible reference to the user who asked (salted hash, not the raw id).",
            "description": "The task prompt, first 200 characters, secrets masked.",
            "error": "The bot's error text for failed or stopped tasks, secrets masked.",
            "error_kind": "Bracketed kind from the task monitor ([timeout], [dead_process]) or a short class of the error text.",
            "calls": "Logical tool calls of the task.",
            "calls_success": "Calls with outcome success.",
            "calls_failure": "Calls with outcome failure.",
            "calls_unknown": "Calls with outcome unknown.",
            "input_tokens": "Sum of input tokens over the task's calls, tokens.",
            "output_tokens": "Sum of output tokens over the task's calls, tokens.",
            "cache_write_tokens": "Sum of cache-write tokens over the task's calls, tokens.",
            "cache_read_tokens": "Sum of cache-read tokens over the task's calls, tokens.",
            "cost_usd": "Sum of the priced cost of the task's calls, USD.",
            "unpriced_tokens": "Tokens of the task's calls that no price covers, tokens.",
            "bot_updated_at": "The bot's own updated_at text for the task, as read (tells a sync what changed).",
            "secrets_masked": "Secrets masked in the task's description and error text.",
        },
    },
    "agent_events": {
        "description": "The bot's agent_status rows: session starts, one tool_call row per post-hook run, final statuses.",
        "columns": {
            "event_id": "The bot's agent_status.id.",
            "source_id": "What the bot wrote in agent_status.task_id (task id or session UUID).",
            "task_id": "The linked bot task, NULL for interactive CLI sessions.",
            "at": "When the event was written, UTC ISO 8601.",
            "day": "Calendar day of at in the report timezone.",
            "status": "started, tool_call, completed, failed or stopped.",
            "message": "The bot's message, secrets masked.",
            "tool_name": "For tool_call events: the tool (metadata.tool).",
            "tool_success": "For tool_call events: the bot's success flag (1/0).",
        },
    },
    "router_messages": {
        "description": "Web-chat router messages (the bot's messages table); content dropped unless kept on purpose.",
        "columns": {
            "message_id": "The bot's messages.id.",
            "user_ref": "Stable, non-reversible reference to the user.",
            "at": "When the bot wrote the row (after the router's API call returned), UTC ISO 8601.",
            "day": "Calendar day of at in the report timezone.",
            "role": "user or assistant.",
            "input_method": "text, voice or image.",
            "created_task": "1 if the assistant answered by creating a background task.",
            "model": "Model name the bot stored (e.g. claude-haiku-4-5).",
            "model_id": "Resolved model id.",
            "input_tokens": "Router input tokens for the turn (summed over its tool loop), tokens.",
            "output_tokens": "Router output tokens for the turn, tokens.",
            "cost_usd": "Cost of the turn at the model's price on that date, USD; NULL if unpriced.",
            "unpriced_tokens": "Tokens with no price, tokens.",
            "content": "Message text, secrets masked; NULL unless sync ran with --keep-message-content.",
        },
    },
    "tool_daily": {
        "description": "Daily rollup of tool_calls by tool, model, agent type, outcome and error category (what the queries read).",
        "columns": {
            "day": "Calendar day in the report timezone.",
            "tool_name": "Tool name.",
            "model_id": "Resolved model id ('' when unresolved).",
            "agent_type": "Agent type of the calls' tasks, or cli_session.",
            "outcome": "success, failure or unknown.",
            "error_category": "Error category ('' when none).",
            "calls": "Logical tool calls.",
            "calls_with_tokens": "Calls that carry token counts.",
            "input_tokens": "Input tokens, tokens.",
            "output_tokens": "Output tokens, tokens.",
            "cache_write_tokens": "Cache-write tokens, tokens.",
            "cache_read_tokens": "Cache-read tokens, tokens.",
            "cost_usd": "Priced cost, USD.",
            "unpriced_tokens": "Tokens no price covers, tokens.",
            "duration_count": "Calls with a known duration.",
            "duration_sum_ms": "Sum of their durations, ms.",
            "source_rows": "Bot tool_usage rows merged into these calls.",
            "secrets_masked": "Secrets masked in these calls' parameters and errors.",
            "dst_issues": "Calls whose local start time fell in a DST gap or repeat.",
            "missing_task": "Calls keyed by a task-like id (not a session UUID) that matches no task.",
        },
    },
    "duration_ranks": {
        "description": "Internal: each known duration's rank within its tool and day (per-day percentiles by look-up).",
        "columns": {
            "tool_name": "Tool name.",
            "day": "Calendar day in the report timezone.",
            "rank": "0 for the day's shortest call of the tool, then 1, 2, … (ties by call_id).",
            "duration_ms": "The call's duration, ms.",
        },
    },
    "duration_ranks_by_agent": {
        "description": "Internal: each known duration's rank within its tool, day, model id and agent type, and within "
        "its tool, day and model id or agent type (the dashboard's filtered per-day percentiles by look-up).",
        "columns": {
            "tool_name": "Tool name.",
            "day": "Calendar day in the report timezone.",
            "model_id": "Resolved model id ('' when unresolved), or '*' for the ranks among every model.",
            "agent_type": "Agent type ('' when unknown), or '*' for the ranks among every agent type.",
            "rank": "0 for the group's shortest call of the tool that day, then 1, 2, … (ties by call_id).",
            "duration_ms": "The call's duration, ms.",
        },
    },
    "duration_buckets": {
        "description": "Internal: the known durations counted per tool, day and duration bucket (percentiles over "
        "any period by look-up).",
        "columns": {
            "tool_name": "Tool name.",
            "bucket": "The durations' whole milliseconds truncated to two leading digits (0, 1, …, 99, 100, 110, …).",
            "day": "Calendar day in the report timezone.",
            "calls": "Calls of the tool that day with a duration in the bucket.",
            "min_ms": "Their shortest duration, ms.",
            "max_ms": "Their longest duration, ms.",
        },
    },
    "latency_totals": {
        "description": "Internal: the whole history's latency per tool, as the canned latency_by_tool computes it, "
        "written by every sync (the page without a period reads it).",
        "columns": {
            "tool_name": "Tool name.",
            "calls": "Calls of the tool.",
            "calls_with_duration": "Calls with a known duration.",
            "p50_ms": "Median duration, ms.",
            "p90_ms": "90th percentile of the duration, ms.",
            "p99_ms": "99th percentile of the duration, ms.",
            "mean_ms": "Mean duration, ms.",
        },
    },
    "report_offsets": {
        "description": "Internal: the report timezone's UTC offsets over time (the view turns a period's local times "
        "into UTC with it, as the Python API does).",
        "columns": {
            "zone": "The report timezone (IANA name).",
            "utc_from": "When this offset starts, UTC (YYYY-MM-DD HH:MM:SS).",
            "local_from": "The first local time read with this offset (a time in a DST gap keeps the offset before, "
            "a repeated one is its first occurrence).",
            "offset_s": "UTC offset, s (local = UTC + offset_s).",
        },
    },
    "model_aliases": {
        "description": "Effective-dated table of what each model alias meant (Claude Code moves an alias to its family's newest model).",
        "columns": {
            "alias": "Alias or undated model name as the bot stores it (sonnet, claude-haiku-4-5, …).",
            "effective_from": "First day (UTC) this mapping holds.",
            "model_id": "The dated model id it resolved to.",
            "source": "Where this row comes from.",
        },
    },
    "model_prices": {
        "description": "Effective-dated list prices, USD per million tokens.",
        "columns": {
            "model_id": "Dated model id.",
            "effective_from": "First day (UTC) this price holds.",
            "input_usd_per_mtok": "Input price, USD per million tokens.",
            "output_usd_per_mtok": "Output price, USD per million tokens.",
            "cache_write_5m_usd_per_mtok": "5-minute cache write price, USD per million tokens (used for the bot's cache_creation_tokens).",
            "cache_write_1h_usd_per_mtok": "1-hour cache write price, USD per million tokens.",
            "cache_read_usd_per_mtok": "Cache read price, USD per million tokens.",
            "tier_above_input_tokens": "Long-context tier: a request whose input (input + cache tokens) exceeds this many tokens pays the tier prices on all its tokens; NULL if none. The bot's rows give no request sizes, so their costs use the base prices.",
            "tier_input_usd_per_mtok": "Tier input price, USD per million tokens.",
            "tier_output_usd_per_mtok": "Tier output price, USD per million tokens.",
            "tier_cache_write_5m_usd_per_mtok": "Tier 5-minute cache write price, USD per million tokens.",
            "tier_cache_write_1h_usd_per_mtok": "Tier 1-hour cache write price, USD per million tokens.",
            "tier_cache_read_usd_per_mtok": "Tier cache read price, USD per million tokens.",
            "source": "Where this row comes from (genai-prices and its version, the project's table and why, or a user file).",
        },
    },
    "data_quality": {
        "description": "How far to trust the figures: one row per check per sync.",
        "columns": {
            "sync_id": "The sync that measured it (see syncs).",
            "check_name": "What was measured.",
            "value": "The count.",
            "detail": "What the check means.",
        },
    },
    "syncs": {
        "description": "One row per sync run.",
        "columns": {
            "sync_id": "Sequence number.",
            "mode": "full or incremental.",
            "started_at": "When the sync started, UTC ISO 8601.",
            "finished_at": "When it finished, UTC ISO 8601.",
            "seconds": "Wall time, s.",
            "bot_schema_version": "Schema version of the bot database it read.",
            "source_tz": "Zone the bot's naive timestamps were read in.",
            "report_tz": "Zone of the day columns.",
            "bot_rows_read": "tool_usage rows read from the bot database.",
            "calls_written": "tool_calls rows inserted or rewritten.",
        },
    },
    "sync_state": {
        "description": "Internal: watermarks and settings of the last sync.",
        "columns": {"key": "Setting name.", "value": "Its value."},
    },
    "_sqlite_migrations": {
        "description": "Internal: the analytics schema migrations applied (sqlite-utils).",
        "columns": {
            "id": "Sequence number.",
            "migration_set": "Migration set name (amiga_analytics).",
            "name": "Migration function name.",
            "applied_at": "When it was applied, UTC.",
        },
    },
    "open_call_rows": {
        "description": "Internal: bot rows of calls that may still change (awaiting completion), re-read by the next sync.",
        "columns": {"row_id": "Bot tool_usage.id.", "call_id": "The call it belongs to."},
    },
}

TABLES.update(TRANSCRIPT_TABLES)
for _table, _columns in TRANSCRIPT_COLUMNS.items():
    TABLES[_table]["columns"].update(_columns)
# m006's columns come after m005's in the table, so their descriptions do too
for _column in ("error_template", "program"):
    TABLES["tool_calls"]["columns"][_column] = TABLES["tool_calls"]["columns"].pop(_column)
# m011's bot column: last in the tables it was added to, first in the two rank tables it rebuilt
for _table in BOT_KEYS:
    if _table not in TABLES:  # internal (INTERNAL_TABLES)
        continue
    if BOT_KEYS[_table][0] == "bot":
        TABLES[_table]["columns"] = {"bot": BOT_DESCRIPTION} | TABLES[_table]["columns"]
    else:
        TABLES[_table]["columns"]["bot"] = BOT_DESCRIPTION
