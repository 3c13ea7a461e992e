"""The SQL of a sync: what the loader writes into the analytics database and the daily rollup it rebuilds.

Structural slots (``{where}``, ``{and_days}``, ``{source}``, ``{and_tasks}``) take only SQL written here (such as
:data:`IN_JSON`); values always go in as named ``:params``.
"""

from __future__ import annotations

from ..store.figures import CALL_MEASURES_SQL

TOOL_CALL_COLUMNS = (
    "call_id", "source_id", "task_id", "tool_name", "subagent_type", "file_path", "started_at", "ended_at",
    "duration_ms", "day", "outcome", "error", "error_category", "input_tokens", "output_tokens",
    "cache_write_tokens", "cache_read_tokens", "has_tokens", "model_alias", "model_id", "cost_usd",
    "unpriced_tokens", "agent_type", "parameters", "secrets_masked", "time_issue", "source_rows", "last_row_id",
    "error_template", "program",  # m005 (load/templates.py)
)
INSERT_TOOL_CALL_SQL = "INSERT OR REPLACE INTO tool_calls ({}) VALUES ({})".format(
    ", ".join(TOOL_CALL_COLUMNS), ", ".join("?" * len(TOOL_CALL_COLUMNS))
)
INSERT_OPEN_ROW_SQL = "INSERT OR REPLACE INTO open_call_rows (row_id, call_id) VALUES (?, ?)"
INSERT_EVENT_SQL = """INSERT OR REPLACE INTO agent_events
    (event_id, source_id, task_id, at, day, status, message, tool_name, tool_success)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_MESSAGE_SQL = """INSERT OR REPLACE INTO router_messages
    (message_id, user_ref, at, day, role, input_method, created_task, model, model_id, input_tokens,
     output_tokens, cost_usd, unpriced_tokens, content)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
UPSERT_TASK_SQL = """INSERT INTO tasks
    (task_id, status, created_at, finished_at, cycle_s, created_day, finished_day, model_alias, model_id,
     agent_type, workflow, last_subagent, user_ref, description, error, error_kind, bot_updated_at, secrets_masked,
     calls, calls_success, calls_failure, calls_unknown, input_tokens, output_tokens, cache_write_tokens,
     cache_read_tokens, cost_usd, unpriced_tokens)
    VALUES (:task_id, :status, :created_at, :finished_at, :cycle_s, :created_day, :finished_day, :model_alias,
     :model_id, :agent_type, :workflow, :last_subagent, :user_ref, :description, :error, :error_kind,
     :bot_updated_at, :secrets_masked, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0)
    ON CONFLICT(task_id, bot) DO UPDATE SET status = excluded.status, created_at = excluded.created_at,
     finished_at = excluded.finished_at, cycle_s = excluded.cycle_s, created_day = excluded.created_day,
     finished_day = excluded.finished_day, model_alias = excluded.model_alias, model_id = excluded.model_id,
     agent_type = excluded.agent_type, workflow = excluded.workflow, last_subagent = excluded.last_subagent,
     user_ref = excluded.user_ref, description = excluded.description, error = excluded.error,
     error_kind = excluded.error_kind, bot_updated_at = excluded.bot_updated_at,
     secrets_masked = excluded.secrets_masked"""
# A task's cost: from its transcripts (every API request of its sessions, sub-agents and turns without tools
# included) when one was read, else the priced tokens the bot recorded on its calls.
_TASK_REQUESTS = "FROM api_requests r WHERE r.task_id = tasks.task_id"
_COVERED = f"EXISTS (SELECT 1 {_TASK_REQUESTS})"
TASK_TOTALS_SQL = f"""UPDATE tasks SET
    (calls, calls_success, calls_failure, calls_unknown, input_tokens, output_tokens, cache_write_tokens,
     cache_read_tokens, cost_usd, unpriced_tokens, cost_bot_usd, cost_transcript_usd) = (
        SELECT COUNT(*), COALESCE(SUM(outcome = 'success'), 0), COALESCE(SUM(outcome = 'failure'), 0),
               COALESCE(SUM(outcome = 'unknown'), 0), COALESCE(SUM(input_tokens), 0),
               COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_write_tokens), 0),
               COALESCE(SUM(cache_read_tokens), 0),
               CASE WHEN {_COVERED} THEN (SELECT TOTAL(r.cost_usd) {_TASK_REQUESTS}) ELSE TOTAL(cost_usd) END,
               CASE WHEN {_COVERED} THEN (SELECT COALESCE(SUM(r.unpriced_tokens), 0) {_TASK_REQUESTS})
                    ELSE COALESCE(SUM(unpriced_tokens), 0) END,
               CASE WHEN {_COVERED} THEN 0.0 ELSE TOTAL(cost_usd) END,
               (SELECT TOTAL(r.cost_usd) {_TASK_REQUESTS})
        FROM tool_calls c WHERE c.task_id = tasks.task_id)
    WHERE {{where}}"""
TASK_FINISH_EVENTS_SQL = """SELECT task_id, status, MAX(at) FROM agent_events
    WHERE status IN ('completed', 'failed', 'stopped') AND task_id IS NOT NULL {and_tasks} GROUP BY task_id, status"""
# The calls still waiting for an end time are a few dozen of a million: read them through the partial index of m002
# (left to itself the planner walks the started_at index over every call: 0.2-0.4 s an incremental sync).
CALLS_NEEDING_END_SQL = """SELECT call_id, day FROM tool_calls INDEXED BY idx_tool_calls_awaiting_end
    WHERE ended_at IS NULL AND outcome IN ('success', 'failure') AND started_at IS NOT NULL"""
FILL_END_FROM_EVENTS_SQL = """UPDATE tool_calls INDEXED BY idx_tool_calls_awaiting_end SET ended_at = (
        SELECT MIN(e.at) FROM agent_events e
        WHERE e.source_id = tool_calls.source_id AND e.status = 'tool_call' AND e.tool_name = tool_calls.tool_name
          AND e.at >= tool_calls.started_at AND e.tool_success = (tool_calls.outcome = 'success'))
    WHERE ended_at IS NULL AND outcome IN ('success', 'failure') AND started_at IS NOT NULL"""
FILL_DURATION_SQL = """UPDATE tool_calls
    SET duration_ms = (julianday(ended_at) - julianday(started_at)) * 86400000.0
    WHERE call_id IN (SELECT value FROM json_each(:ids)) AND ended_at IS NOT NULL AND ended_at >= started_at"""
QUALITY_FROM_ROLLUP_SQL = """SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(source_rows), 0),
       COALESCE(SUM(CASE WHEN outcome = 'unknown' THEN calls END), 0), COALESCE(SUM(calls_with_tokens), 0),
       COALESCE(SUM(CASE WHEN agent_type = 'cli_session' THEN calls END), 0), COALESCE(SUM(missing_task), 0),
       COALESCE(SUM(dst_issues), 0), COALESCE(SUM(unpriced_tokens), 0), COALESCE(SUM(secrets_masked), 0)
    FROM {source}"""
UNDATED_CALLS_SQL = """(SELECT outcome, agent_type, """ + CALL_MEASURES_SQL + """
    FROM tool_calls WHERE day IS NULL GROUP BY outcome, agent_type)"""
UNKNOWN_MODELS_SQL = """SELECT model_alias FROM tasks WHERE model_alias IS NOT NULL AND model_id IS NULL
    UNION SELECT model FROM router_messages WHERE model IS NOT NULL AND model_id IS NULL
    UNION SELECT :default_model WHERE :default_model_unknown ORDER BY 1"""
DEFERRABLE_INDEXES_SQL = """SELECT name, sql, tbl_name FROM sqlite_master
    WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('tool_calls', 'agent_events')"""
#: The deferred indexes of ``tool_calls`` a full sync builds before the end-time fill and the transcripts' join,
#: which find calls by them (``INDEXED BY`` the first; task and source id per group), with those of
#: ``agent_events`` (the fill's subquery; the join does not write that table). The others of ``tool_calls`` are
#: built after the join, so that its UPDATEs of outcomes and durations do not maintain them.
LOOKUP_INDEXES = frozenset({"idx_tool_calls_awaiting_end", "idx_tool_calls_task_id",
                            "idx_tool_calls_source_id_tool_name_started_at"})
IN_JSON = "IN (SELECT value FROM json_each(:{name}))"

KNOWN_TASK_IDS_SQL = "SELECT task_id FROM tasks"
TASKS_SEEN_SQL = "SELECT task_id, bot_updated_at FROM tasks"
UNLINKED_SQL = "SELECT COUNT(*) FROM {table} WHERE task_id IS NULL AND source_id " + IN_JSON.format(name="ids")
OPEN_ROW_IDS_SQL = "SELECT row_id FROM open_call_rows ORDER BY row_id"
OPEN_CALLS_SQL = ("SELECT " + ", ".join(TOOL_CALL_COLUMNS) + " FROM tool_calls "
                  "WHERE call_id IN (SELECT call_id FROM open_call_rows)")
DELETE_OPEN_ROWS_SQL = "DELETE FROM open_call_rows"
DELETE_CALL_SQL = "DELETE FROM tool_calls WHERE call_id = :id"
DELETE_ROLLUP_DAYS_SQL = "DELETE FROM tool_daily WHERE day " + IN_JSON.format(name="days")
DELETE_ROLLUPS_SQL = "DELETE FROM tool_daily"
