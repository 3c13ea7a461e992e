"""The measures of the tool-call figures, defined once: what the daily rollup stores and how a query adds it up.

Each :class:`Measure` names a column and gives its aggregate twice, over the same definition: over the
``tool_calls`` rows (``calls``) and over the ``tool_daily`` rows that the rollup wrote with that very aggregate
(``daily``). The sync builds ``tool_daily`` from the ``calls`` forms (:data:`ROLLUP_SQL`); the query functions
read the rollup with the ``daily`` forms and fall back to ``tool_calls`` with the ``calls`` forms when a window
does not fall on day bounds; the Datasette canned queries read the rollup with the ``daily`` forms. So a figure
can differ between Python and the browser only if the shared definition is wrong for both.

Group keys: ``tool_daily`` stores ``''`` for a NULL model, agent type or error category (its primary key cannot
hold NULL); :data:`DAILY_KEYS` and :data:`CALLS_KEYS` read them back as NULL, its own group.

>>> COST["cost_bot_usd"].calls, COST["cost_bot_usd"].daily
("TOTAL(CASE WHEN cost_witness = 'bot' THEN cost_usd END)", 'TOTAL(cost_bot_usd)')

Unpriced is never $0: ``cost_usd`` is NULL for a group none of whose tokens is priced (no token recorded, or
every token unpriced: no model, an unknown model). Prices are positive, so a group's priced cost is 0 exactly
when none of its tokens is priced: the rule is ``NULLIF(total, 0)``, on the calls and on the rollup alike.

>>> COST["cost_usd"].daily
'NULLIF(TOTAL(cost_usd), 0)'
>>> OUTCOME["failed"].daily
"COALESCE(SUM(CASE WHEN outcome = 'failure' THEN calls ELSE 0 END), 0)"
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """One measure: its aggregate over ``tool_calls`` rows and over ``tool_daily`` rows."""

    calls: str
    daily: str


def _count(column_expr: str, rollup_column: str) -> Measure:
    """A count or token sum: 0 (not NULL) over no rows."""
    return Measure(f"COALESCE(SUM({column_expr}), 0)", f"COALESCE(SUM({rollup_column}), 0)")


TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")


def _priced_tokens(rows: str) -> str:
    """Tokens some price covers, summed over the rows (``calls`` or ``daily`` sums of the token columns)."""
    return " + ".join(f"COALESCE(SUM({c}), 0)" for c in TOKEN_COLUMNS) + " - COALESCE(SUM(unpriced_tokens), 0)"


def _money(column: str) -> Measure:
    """USD: TOTAL of the priced rows (NULL costs add as 0.0), but NULL when no token of the group is priced."""
    return Measure(f"CASE WHEN {_priced_tokens('calls')} = 0 THEN NULL ELSE TOTAL({column}) END",
                   f"CASE WHEN {_priced_tokens('daily')} = 0 THEN NULL ELSE TOTAL({column}) END")


def _of_outcome(predicate: str) -> Measure:
    """Calls whose outcome matches ``predicate``."""
    return Measure(f"COALESCE(SUM({predicate}), 0)", f"COALESCE(SUM(CASE WHEN {predicate} THEN calls ELSE 0 END), 0)")


CALLS = Measure("COUNT(*)", "COALESCE(SUM(calls), 0)")

#: A call's cost from the bot's recorded tokens: only where no transcript of its session was read.
BOT_COST = "CASE WHEN cost_witness = 'bot' THEN cost_usd END"
BOT_UNPRICED = "CASE WHEN cost_witness = 'bot' THEN unpriced_tokens END"

#: tool_cost: calls, tokens and cost. ``cost_usd`` = ``cost_transcript_usd`` + ``cost_bot_usd``: the transcript's
#: share of the requests that issued the calls where the session's transcript was read, else the bot's tokens.
COST: dict[str, Measure] = {
    "calls": CALLS,
    "calls_with_tokens": _count("has_tokens", "calls_with_tokens"),
    "input_tokens": _count("input_tokens", "input_tokens"),
    "output_tokens": _count("output_tokens", "output_tokens"),
    "cache_write_tokens": _count("cache_write_tokens", "cache_write_tokens"),
    "cache_read_tokens": _count("cache_read_tokens", "cache_read_tokens"),
    "cost_usd": Measure(f"NULLIF(TOTAL({BOT_COST}) + TOTAL(transcript_cost_usd), 0)", "NULLIF(TOTAL(cost_usd), 0)"),
    "unpriced_tokens": Measure(
        f"COALESCE(SUM({BOT_UNPRICED}), 0) + COALESCE(SUM(transcript_unpriced_tokens), 0)",
        "COALESCE(SUM(unpriced_tokens), 0)"),
    "cost_transcript_usd": Measure("TOTAL(transcript_cost_usd)", "TOTAL(cost_transcript_usd)"),
    "cost_bot_usd": Measure(f"TOTAL({BOT_COST})", "TOTAL(cost_bot_usd)"),
}

#: error_rates: outcomes. ``completed`` = success + failure; ``unknown`` never completed.
OUTCOME_PREDICATES = {
    "completed": "outcome IN ('success', 'failure')",
    "failed": "outcome = 'failure'",
    "unknown": "outcome = 'unknown'",
}
OUTCOME: dict[str, Measure] = {"calls": CALLS} | {
    name: _of_outcome(predicate) for name, predicate in OUTCOME_PREDICATES.items()
}

#: latency: counts and the mean (the percentiles come from :mod:`amiga_analytics.store.percentiles`).
DURATION: dict[str, Measure] = {
    "calls": CALLS,
    "calls_with_duration": Measure("COUNT(duration_ms)", "COALESCE(SUM(duration_count), 0)"),
    "mean_ms": Measure("AVG(duration_ms)", "TOTAL(duration_sum_ms) / NULLIF(SUM(duration_count), 0)"),
}

#: What else the rollup keeps per group, for data quality and the latency mean (read back by the sync).
ROLLUP_EXTRA: dict[str, str] = {
    "duration_count": "COUNT(duration_ms)",
    "duration_sum_ms": "TOTAL(duration_ms)",
    "source_rows": "COALESCE(SUM(source_rows), 0)",
    "secrets_masked": "COALESCE(SUM(secrets_masked), 0)",
    "dst_issues": "SUM(COALESCE(time_issue IN ('dst_gap', 'dst_fold'), 0))",
    "missing_task": "SUM(task_id IS NULL AND length(source_id) <> 36)",
    "calls_both": "COALESCE(SUM(witness = 'both'), 0)",
    "calls_transcript_only": "COALESCE(SUM(witness = 'transcript'), 0)",
    "calls_cost_transcript": "COALESCE(SUM(cost_witness = 'transcript'), 0)",
}

#: The rollup's group keys: tool_calls expression → tool_daily column ('' stands for NULL).
ROLLUP_KEYS: dict[str, str] = {
    "day": "day",
    "tool_name": "tool_name",
    "model_id": "COALESCE(model_id, '')",
    "agent_type": "COALESCE(agent_type, '')",
    "outcome": "outcome",
    "error_category": "COALESCE(error_category, '')",
}

#: Group-key expressions over tool_daily (NULL groups back from '').
DAILY_KEYS: dict[str, str] = {
    "day": "day",
    "bot": "bot",
    "tool_name": "tool_name",
    "model_id": "NULLIF(model_id, '')",
    "agent_type": "NULLIF(agent_type, '')",
    "outcome": "outcome",
    "error_category": "NULLIF(error_category, '')",
}
#: Group-key expressions over tool_calls: the rollup's keys and the ones only the calls have.
CALLS_KEYS: dict[str, str] = DAILY_KEYS | {"task_id": "task_id", "subagent_type": "subagent_type"}


def select_list(measures: dict[str, Measure], source: str, indent: int = 7) -> str:
    """``expr AS name`` for each measure, over ``source`` (``"calls"`` or ``"daily"``), one per line."""
    sep = ",\n" + " " * indent
    return sep.join(f"{getattr(m, source)} AS {name}" for name, m in measures.items())


def error_rate(source: str) -> str:
    """``failed / completed`` of the summed outcomes (NULL when nothing completed), over ``source``."""
    failed, completed = getattr(OUTCOME["failed"], source), getattr(OUTCOME["completed"], source)
    return f"CAST({failed} AS REAL) / NULLIF({completed}, 0)"


COST_DAILY_MEASURES = select_list(COST, "daily")
COST_CALLS_MEASURES = select_list(COST, "calls")
OUTCOME_DAILY_MEASURES = select_list(OUTCOME, "daily")
OUTCOME_CALLS_MEASURES = select_list(OUTCOME, "calls")

# The per-call measures that the daily rollup sums, and that data quality reads back (for the calls with a day
# from the rollup, for the few without one from tool_calls).
CALL_MEASURES_SQL = COST_CALLS_MEASURES + ",\n       " + ",\n       ".join(
    f"{expr} AS {name}" for name, expr in ROLLUP_EXTRA.items()
)
ROLLUP_SQL = (
    "INSERT INTO tool_daily\n    ("
    + ", ".join(list(ROLLUP_KEYS) + list(COST) + list(ROLLUP_EXTRA))
    + ")\n    SELECT " + ", ".join(ROLLUP_KEYS.values()) + ",\n       " + CALL_MEASURES_SQL + """
    FROM tool_calls WHERE day IS NOT NULL {and_days}
    GROUP BY 1, 2, 3, 4, 5, 6"""
)

# Grouped sums, from the rollup or from the calls. Structural slots are filled only from the key and measure
# tables above; values always travel as named :params.
GROUPED_SQL = """SELECT {keys}{measures}
FROM {table}
WHERE {where}{group_by}{order_by}"""


def grouped_sql(table: str, keys: dict[str, str], measures: str, where: str, order_by: str = "") -> str:
    """``SELECT keys, measures FROM table WHERE where GROUP BY keys [ORDER BY ...]``.

    ``keys`` maps output names to expressions (from :data:`DAILY_KEYS` / :data:`CALLS_KEYS`); ``where`` is a
    condition (``"1"`` for none); ``order_by`` is the ORDER BY list or ``""`` to leave the order to the caller.
    """
    return GROUPED_SQL.format(
        keys="".join(f"{expr} AS {name},\n       " for name, expr in keys.items()),
        measures=measures,
        table=table,
        where=where,
        group_by=("\nGROUP BY " + ", ".join(keys.values())) if keys else "",
        order_by=f"\nORDER BY {order_by}" if order_by else "",
    )
