"""Data quality: what a sync read, merged, repaired or could not use, as the ``data_quality`` rows of one sync.

The call figures are read back from the daily rollup (plus the few calls without a day, from ``tool_calls``), so
they are the figures the queries and the report see.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from ..store.transcript_figures import TRANSCRIPT_QUALITY_SQL
from .pricing import PriceBook
from .sql import QUALITY_FROM_ROLLUP_SQL, UNDATED_CALLS_SQL, UNKNOWN_MODELS_SQL

QUALITY_CHECKS = {
    "bot_rows_read": "tool_usage rows read from the bot database by this sync",
    "bot_rows_merged": "bot rows merged into another row's call (the bot writes 1-4 rows per call)",
    "calls": "logical tool calls in the analytics database",
    "calls_unknown_outcome": "calls with no completion row (in flight, killed, or failed before the post-hook)",
    "calls_ambiguous_outcome": "calls whose outcome came from rows another call in flight could have written "
                               "(same task, tool and parameters): counts are exact, the pairing is a guess",
    "calls_with_tokens": "calls that carry token counts (the bot records tokens almost only for Task calls)",
    "calls_without_task": "calls of interactive CLI sessions (no task row, no model unless --default-model)",
    "calls_with_missing_task": "calls keyed by a task-like id (not a session UUID) that matches no task",
    "unparseable_timestamps": "tool calls and tasks whose bot timestamp could not be read",
    "dst_ambiguous_timestamps": "tool calls whose local time fell in a DST gap or repeat",
    "unpriced_tokens": "tokens no price covers (unknown model or no price), never priced at $0",
    "unknown_models": "distinct model names that no alias or price row resolves",
    "secrets_masked": "credentials, e-mail addresses and hashes masked on the way in (calls, tasks, events, messages)",
    "invalid_values": "bot values of the wrong type or out of range that were dropped (success, tokens) in this sync",
}

#: Recorded only by syncs that read transcripts (so a database without them keeps exactly its old checks).
TRANSCRIPT_CHECKS = {
    "transcript_requests": "API requests loaded from Claude Code transcripts (deduplicated)",
    "calls_seen_by_both": "calls seen by both witnesses: the bot's rows and a transcript tool_use",
    "calls_bot_only": "calls seen only in the bot's rows (no transcript tool_use matched)",
    "calls_transcript_only": "calls seen only in the transcripts (no bot row: invisible to the bot)",
    "calls_cost_from_transcripts": "calls whose cost comes from their session's transcript (else the bot's tokens)",
    "tasks_missing_transcript": "bot tasks with calls whose transcript was never read (their cost is the bot's floor)",
    "bot_calls_without_tool_use": "calls counted from the bot's rows that no tool_use of their read transcript matches (merger check)",
    "tool_uses_without_bot_call": "tool_uses of sessions the bot recorded that match no call from its rows (merger check)",
}

UNDATED_CALL_COUNT_SQL = "SELECT COUNT(*) FROM tool_calls WHERE day IS NULL"
UNPRICED_MESSAGE_TOKENS_SQL = "SELECT COALESCE(SUM(unpriced_tokens), 0) FROM router_messages"
TASK_QUALITY_SQL = "SELECT COALESCE(SUM(created_at IS NULL), 0), COALESCE(SUM(secrets_masked), 0) FROM tasks"
INSERT_QUALITY_SQL = """INSERT INTO data_quality (sync_id, check_name, value, detail)
    VALUES (:sync_id, :check_name, :value, :detail)"""


def measure(conn: sqlite3.Connection, counts: Mapping[str, int], *, stream_secrets: int, unknown_models: list[str],
            transcripts: bool = False) -> dict[str, int]:
    """Every check of :data:`QUALITY_CHECKS` (and of :data:`TRANSCRIPT_CHECKS` when ``transcripts``), from the
    loaded tables and this sync's ``counts`` (``bot_rows_read``, ``invalid_values``); ``stream_secrets`` is what
    all syncs so far masked in the append-only streams, ``unknown_models`` :func:`unknown_model_names`."""
    values = _measure(conn, counts, stream_secrets=stream_secrets, unknown_models=len(unknown_models))
    if transcripts:
        row = conn.execute(TRANSCRIPT_QUALITY_SQL).fetchone()
        values.update({name: int(v or 0) for name, v in zip(TRANSCRIPT_CHECKS, row)})
        # Calls only the transcripts saw have no bot row: they are not rows merged away.
        values["bot_rows_merged"] += values["calls_transcript_only"]
    return values


def _measure(conn: sqlite3.Connection, counts: Mapping[str, int], *, stream_secrets: int,
             unknown_models: int) -> dict[str, int]:
    totals = [0] * 9
    for source in ("tool_daily", UNDATED_CALLS_SQL):
        for i, value in enumerate(conn.execute(QUALITY_FROM_ROLLUP_SQL.format(source=source)).fetchone()):
            totals[i] += value
    calls, source_rows, unknown, with_tokens, no_task, missing_task, dst, unpriced_calls, secrets_calls = totals
    bad_time = conn.execute(UNDATED_CALL_COUNT_SQL).fetchone()[0]
    unpriced_msgs = conn.execute(UNPRICED_MESSAGE_TOKENS_SQL).fetchone()[0]
    bad_task_times, task_secrets = conn.execute(TASK_QUALITY_SQL).fetchone()
    return {
        "bot_rows_read": counts["bot_rows_read"],
        "bot_rows_merged": source_rows - calls,
        "calls": calls,
        "calls_unknown_outcome": unknown,
        "calls_ambiguous_outcome": counts["ambiguous"],
        "calls_with_tokens": with_tokens,
        "calls_without_task": no_task,
        "calls_with_missing_task": missing_task,
        "unparseable_timestamps": bad_time + bad_task_times,
        "dst_ambiguous_timestamps": dst,
        "unpriced_tokens": unpriced_calls + unpriced_msgs,
        "unknown_models": unknown_models,
        "secrets_masked": secrets_calls + task_secrets + stream_secrets,
        "invalid_values": counts["invalid_values"],
    }


def unknown_model_names(conn: sqlite3.Connection, *, book: PriceBook, default_model: str | None) -> list[str]:
    """The model names no alias or price row resolves (check ``unknown_models`` counts them; a sync keeps them
    in ``sync_state``, so that a store of several bots can count each name once)."""
    return [name for (name,) in conn.execute(UNKNOWN_MODELS_SQL, {
        "default_model": default_model,
        "default_model_unknown": bool(default_model) and book.resolve(default_model, None) is None,
    })]


def record(conn: sqlite3.Connection, sync_id: int, values: Mapping[str, int]) -> None:
    """Write one ``data_quality`` row per check for ``sync_id``."""
    conn.executemany(INSERT_QUALITY_SQL, [
        {"sync_id": sync_id, "check_name": name, "value": int(values[name]), "detail": detail}
        for name, detail in (QUALITY_CHECKS | TRANSCRIPT_CHECKS).items() if name in values
    ])
