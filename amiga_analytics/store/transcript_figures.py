"""The SQL of the transcript figures, once: coverage of the two witnesses, the cost split, the gaps.

Definitions (see :mod:`amiga_analytics.load.transcripts.witness`): a call's ``witness`` is ``bot``,
``transcript`` or ``both``; its ``cost_witness`` is ``transcript`` when its session's transcript was read. The
tools' transcript cost is the sum of the calls' shares of their requests; *turns without tools* are the API
requests that issued no tool_use. Tools + turns without tools = the cost of all requests.
"""

from __future__ import annotations

_BOT_GROUP = """EXISTS (SELECT 1 FROM tool_calls b WHERE b.call_id > 0 AND b.bot = c.bot AND (b.task_id = c.task_id
                OR (b.task_id IS NULL AND c.task_id IS NULL AND b.source_id = c.source_id)))"""

TRANSCRIPT_QUALITY_SQL = f"""SELECT
    (SELECT COUNT(*) FROM api_requests),
    (SELECT COUNT(*) FROM tool_calls WHERE witness = 'both'),
    (SELECT COUNT(*) FROM tool_calls WHERE witness = 'bot'),
    (SELECT COUNT(*) FROM tool_calls WHERE witness = 'transcript'),
    (SELECT COUNT(*) FROM tool_calls WHERE cost_witness = 'transcript'),
    (SELECT COUNT(*) FROM tasks t WHERE t.calls > 0
        AND NOT EXISTS (SELECT 1 FROM api_requests r WHERE r.task_id = t.task_id AND r.bot = t.bot)
        AND NOT EXISTS (SELECT 1 FROM tool_uses u WHERE u.task_id = t.task_id AND u.bot = t.bot)),
    (SELECT COUNT(*) FROM tool_calls WHERE witness = 'bot' AND cost_witness = 'transcript'),
    (SELECT COUNT(*) FROM tool_calls c WHERE witness = 'transcript' AND {_BOT_GROUP})"""

#: Requests that issued no tool_use: the turns without tools.
NO_TOOL_REQUEST = """NOT EXISTS (SELECT 1 FROM tool_uses u
                  WHERE u.message_id = r.message_id AND u.request_id = r.request_id AND u.bot = r.bot)"""

#: Per day (report timezone): the calls by witness (from the rollup) and the requests' cost split.
COVERAGE_DAILY_SQL = f"""WITH calls AS (
  SELECT day, COALESCE(SUM(calls), 0) AS calls, COALESCE(SUM(calls_both), 0) AS calls_both,
         COALESCE(SUM(calls_transcript_only), 0) AS calls_transcript_only,
         COALESCE(SUM(calls_cost_transcript), 0) AS calls_cost_transcript,
         TOTAL(cost_transcript_usd) AS tools_transcript_usd, TOTAL(cost_bot_usd) AS cost_bot_usd
  FROM tool_daily WHERE {{where}} GROUP BY day
), requests AS (
  SELECT day, COUNT(*) AS requests, TOTAL(cost_usd) AS requests_usd,
         TOTAL(CASE WHEN {NO_TOOL_REQUEST} THEN cost_usd END) AS turns_without_tools_usd
  FROM api_requests r WHERE day IS NOT NULL AND {{where}} GROUP BY day
), days AS (SELECT day FROM calls UNION SELECT day FROM requests)
SELECT days.day, COALESCE(calls.calls, 0) AS calls, COALESCE(calls.calls_both, 0) AS calls_both,
       COALESCE(calls.calls, 0) - COALESCE(calls.calls_both, 0) - COALESCE(calls.calls_transcript_only, 0)
         AS calls_bot_only,
       COALESCE(calls.calls_transcript_only, 0) AS calls_transcript_only,
       COALESCE(calls.calls_cost_transcript, 0) AS calls_cost_transcript,
       COALESCE(requests.requests, 0) AS requests,
       COALESCE(calls.tools_transcript_usd, 0.0) AS tools_transcript_usd,
       COALESCE(requests.turns_without_tools_usd, 0.0) AS turns_without_tools_usd,
       COALESCE(requests.requests_usd, 0.0) AS requests_usd,
       COALESCE(calls.cost_bot_usd, 0.0) AS cost_bot_usd
FROM days LEFT JOIN calls ON calls.day = days.day LEFT JOIN requests ON requests.day = days.day
ORDER BY days.day"""

#: The gaps between the witnesses: tasks with calls but no transcript; in sessions both saw, bot calls without a
#: tool_use and tool_uses without a bot call. ``{and_bot}``: ``""`` or ``" AND bot = :bot"`` (one bot's gaps).
#: Each transcript session's bot (several, comma-separated, in the unlikely case that two bots hold the session).
SESSION_BOTS_SQL = "SELECT session_id, group_concat(DISTINCT bot) FROM api_requests GROUP BY session_id"

TRANSCRIPT_GAPS_SQL = f"""SELECT 'task_without_transcript' AS kind, t.task_id, NULL AS source_id, NULL AS call_id,
       NULL AS tool_use_id, NULL AS tool_name, t.created_at AS started_at, t.bot
FROM tasks t
WHERE t.calls > 0 AND NOT EXISTS (SELECT 1 FROM api_requests r WHERE r.task_id = t.task_id AND r.bot = t.bot)
  AND NOT EXISTS (SELECT 1 FROM tool_uses u WHERE u.task_id = t.task_id AND u.bot = t.bot){{and_bot}}
UNION ALL
SELECT 'bot_call_without_tool_use', task_id, source_id, call_id, NULL, tool_name, started_at, bot
FROM tool_calls WHERE witness = 'bot' AND cost_witness = 'transcript'{{and_bot}}
UNION ALL
SELECT 'tool_use_without_bot_call', task_id, source_id, call_id, tool_use_id, tool_name, started_at, bot
FROM tool_calls c WHERE witness = 'transcript' AND {_BOT_GROUP}{{and_bot}}
ORDER BY kind, started_at, call_id, bot"""

#: One row: the tools' transcript cost, the turns without tools and the cost of all requests, USD.
TRANSCRIPT_COST_SPLIT_SQL = f"""SELECT
    (SELECT TOTAL(transcript_cost_usd) FROM tool_calls WHERE {{calls_where}}) AS tools_usd,
    (SELECT TOTAL(cost_usd) FROM api_requests r WHERE {NO_TOOL_REQUEST} AND {{where}}) AS turns_without_tools_usd,
    (SELECT TOTAL(cost_usd) FROM api_requests r WHERE {{where}}) AS requests_usd"""
