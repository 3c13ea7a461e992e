"""The analytics database: its migration set and the one place where every table and column is described.

The structure lives in the append-only migration set ``migrations`` (sqlite-utils ``Migrations``; one
transaction per step). The *descriptions* live in :data:`TABLES`; ``metadata.yml`` for Datasette is generated
from it and a test keeps both in step with what the migrations build.

Conventions: times are UTC ISO 8601 strings with an explicit ``+00:00`` offset and six-digit microseconds, so
they sort as text; ``day`` columns are ``YYYY-MM-DD`` dates in the report timezone recorded in ``sync_state``;
token counts are integers; money is USD as REAL, at full precision.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from . import duration_buckets, duration_ranks, view_figures
from .bots_schema import m011_bots
from .tables import INTERNAL_TABLES, TABLES  # noqa: F401 - importable from here as before
from .transcripts_schema import m004_api_requests, m005_transcript_witness
from .zone_offsets import m014_report_offsets

MIGRATION_SET = "amiga_analytics"
migrations = Migrations(MIGRATION_SET)



@migrations()
def m001_initial(db: Database) -> None:
    db.table("tool_calls").create(
        {
            "call_id": int, "source_id": str, "task_id": str, "tool_name": str, "subagent_type": str,
            "file_path": str, "started_at": str, "ended_at": str, "duration_ms": float, "day": str,
            "outcome": str, "error": str, "error_category": str, "input_tokens": int, "output_tokens": int,
            "cache_write_tokens": int, "cache_read_tokens": int, "has_tokens": int, "model_alias": str,
            "model_id": str, "cost_usd": float, "unpriced_tokens": int, "agent_type": str, "parameters": str,
            "secrets_masked": int, "time_issue": str, "source_rows": int, "last_row_id": int,
        },
        pk="call_id",
    )
    db.table("tool_calls").create_index(["day"])
    db.table("tool_calls").create_index(["started_at"])
    db.table("tool_calls").create_index(["task_id"])
    db.table("tool_calls").create_index(["tool_name", "outcome"])
    db.table("tool_calls").create_index(["source_id", "tool_name", "started_at"])
    db.table("tasks").create(
        {
            "task_id": str, "status": str, "created_at": str, "finished_at": str, "cycle_s": float,
            "created_day": str, "finished_day": str, "model_alias": str, "model_id": str, "agent_type": str,
            "workflow": str, "last_subagent": str, "user_ref": str, "description": str, "error": str,
            "error_kind": str, "calls": int, "calls_success": int, "calls_failure": int, "calls_unknown": int,
            "input_tokens": int, "output_tokens": int, "cache_write_tokens": int, "cache_read_tokens": int,
            "cost_usd": float, "unpriced_tokens": int,
        },
        pk="task_id",
    )
    db.table("tasks").create_index(["created_day"])
    db.table("tasks").create_index(["finished_day"])
    db.table("tasks").create_index(["cost_usd"])
    db.table("agent_events").create(
        {
            "event_id": int, "source_id": str, "task_id": str, "at": str, "day": str, "status": str,
            "message": str, "tool_name": str, "tool_success": int,
        },
        pk="event_id",
    )
    db.table("agent_events").create_index(["source_id", "status", "tool_name", "at"])
    db.table("agent_events").create_index(["task_id", "status"])
    db.table("router_messages").create(
        {
            "message_id": int, "user_ref": str, "at": str, "day": str, "role": str, "input_method": str,
            "created_task": int, "model": str, "model_id": str, "input_tokens": int, "output_tokens": int,
            "cost_usd": float, "unpriced_tokens": int, "content": str,
        },
        pk="message_id",
    )
    db.table("router_messages").create_index(["day"])
    db.table("tool_daily").create(
        {
            "day": str, "tool_name": str, "model_id": str, "agent_type": str, "outcome": str,
            "error_category": str, "calls": int, "calls_with_tokens": int, "input_tokens": int,
            "output_tokens": int, "cache_write_tokens": int, "cache_read_tokens": int, "cost_usd": float,
            "unpriced_tokens": int, "duration_count": int, "duration_sum_ms": float,
        },
        pk=("day", "tool_name", "model_id", "agent_type", "outcome", "error_category"),
    )
    db.table("model_aliases").create(
        {"alias": str, "effective_from": str, "model_id": str, "source": str}, pk=("alias", "effective_from")
    )
    db.table("model_prices").create(
        {
            "model_id": str, "effective_from": str, "input_usd_per_mtok": float, "output_usd_per_mtok": float,
            "cache_write_5m_usd_per_mtok": float, "cache_write_1h_usd_per_mtok": float,
            "cache_read_usd_per_mtok": float, "source": str,
        },
        pk=("model_id", "effective_from"),
    )
    db.table("syncs").create(
        {
            "sync_id": int, "mode": str, "started_at": str, "finished_at": str, "seconds": float,
            "bot_schema_version": int, "source_tz": str, "report_tz": str, "bot_rows_read": int,
            "calls_written": int,
        },
        pk="sync_id",
    )
    db.table("data_quality").create(
        {"sync_id": int, "check_name": str, "value": int, "detail": str}, pk=("sync_id", "check_name")
    )
    db.table("sync_state").create({"key": str, "value": str}, pk="key")
    db.table("open_call_rows").create({"row_id": int, "call_id": int}, pk="row_id")
    db.table("open_call_rows").create_index(["call_id"])


@migrations()
def m002_incremental_helpers(db: Database) -> None:
    """Rollup columns that let a sync report data quality without scanning every call, the bot's own
    ``updated_at`` so an incremental sync re-reads only the tasks the bot changed, and an index of the calls
    still waiting for an end time."""
    daily = db.table("tool_daily")
    for column in ("source_rows", "secrets_masked", "dst_issues", "missing_task"):
        if column not in daily.columns_dict:
            daily.add_column(column, int, not_null_default=0)
    if "bot_updated_at" not in db.table("tasks").columns_dict:
        db.table("tasks").add_column("bot_updated_at", str)
    if "secrets_masked" not in db.table("tasks").columns_dict:
        db.table("tasks").add_column("secrets_masked", int, not_null_default=0)
    db.execute(
        """CREATE INDEX IF NOT EXISTS idx_tool_calls_awaiting_end ON tool_calls (source_id)
           WHERE ended_at IS NULL AND outcome IN ('success', 'failure')"""
    )
    db.table("agent_events").create_index(["status", "task_id", "at"], if_not_exists=True)


@migrations()
def m003_price_tiers(db: Database) -> None:
    """Long-context tiers of the price table (the default prices come from genai-prices, which has them)."""
    prices = db.table("model_prices")
    if "tier_above_input_tokens" not in prices.columns_dict:
        prices.add_column("tier_above_input_tokens", int)
    for column in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"):
        if f"tier_{column}_usd_per_mtok" not in prices.columns_dict:
            prices.add_column(f"tier_{column}_usd_per_mtok", float)


migrations()(m004_api_requests)
migrations()(m005_transcript_witness)


@migrations()
def m006_error_templates(db: Database) -> None:
    """Structured fields derived from the masked free text: the error template (what top errors group by) and
    the Bash command's program. The next sync fills them for the rows loaded before (load/templates.py)."""
    calls = db.table("tool_calls")
    for column in ("error_template", "program"):
        if column not in calls.columns_dict:
            calls.add_column(column, str)



# Top errors read the failures in the order of their groups (tool, template, category as the figure groups it), every
# column they need in the index, so that no period's failures are sorted or looked up in the table (figures.py).
FAILURE_GROUPS_INDEX = "idx_tool_calls_failure_groups"

# The indexes the Datasette view needs on a million-call database, whether it is served by `amiga-analytics
# serve` or by the plain `datasette analytics.db -m metadata.yml`: each configured facet is a scan of one small
# covering index; the default sorts of the big tables read the newest rows from an index; the latency figures
# rank durations in index order (per tool; per tool and day, covering the dashboard filters); top errors read a partial
# index of the failures in group order. Each covers the bot filter too (m016: without the bot in the index, a bot
# filter looked up every ranked call or failure in the table: 400-500 ms on 1,000,197 calls).
VIEW_INDEXES: dict[str, str] = {
    "idx_tool_calls_tool_duration": "tool_calls (tool_name, duration_ms, day, bot)",
    "idx_tool_calls_tool_day_duration": "tool_calls (tool_name, day, duration_ms, model_id, agent_type, bot)",
    "idx_tool_calls_outcome": "tool_calls (outcome)",
    "idx_tool_calls_error_category": "tool_calls (error_category)",
    "idx_tool_calls_model_id": "tool_calls (model_id)",
    "idx_tool_calls_program": "tool_calls (program)",
    FAILURE_GROUPS_INDEX: (
        "tool_calls (tool_name, error_template, NULLIF(error_category, ''), started_at, day, model_id, agent_type, "
        "task_id, error, outcome, error_category, bot) WHERE outcome = 'failure'"
    ),
    "idx_agent_events_at": "agent_events (at)",
    "idx_router_messages_at": "router_messages (at)",
    "idx_tasks_created_at": "tasks (created_at)",
    "idx_tasks_status": "tasks (status)",
    "idx_tasks_agent_type": "tasks (agent_type)",
    "idx_tasks_model_id": "tasks (model_id)",
}
#: The three indexes as m007 / m010 built them, before m011 added the ``bot`` column (m016 rebuilds them with it).
BEFORE_M016: dict[str, str] = {
    "idx_tool_calls_tool_duration": "tool_calls (tool_name, duration_ms, day)",
    "idx_tool_calls_tool_day_duration": "tool_calls (tool_name, day, duration_ms, model_id, agent_type)",
    FAILURE_GROUPS_INDEX: VIEW_INDEXES[FAILURE_GROUPS_INDEX].replace(", bot) WHERE", ") WHERE"),
}


@migrations()
def m007_view_indexes(db: Database) -> None:
    """The Datasette view's indexes (:data:`VIEW_INDEXES`), in the analytics database itself. (Numbered 007:
    005 and 006 are kept for the transcripts' migrations of the same wave.)"""
    for name, on in VIEW_INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {BEFORE_M016.get(name, on)}")


@migrations()
def m008_duration_ranks(db: Database) -> None:
    """``duration_ranks`` (:mod:`.duration_ranks`): each duration's rank within its tool and day, filled from the
    calls already loaded; the sync keeps it up to date."""
    db.execute(duration_ranks.M008_CREATE_SQL)
    db.execute(duration_ranks.DELETE_ALL_SQL)
    db.execute(duration_ranks.M008_FILL_ALL_SQL)


@migrations()
def m009_duration_buckets(db: Database) -> None:
    """``duration_buckets`` (:mod:`.duration_buckets`): the known durations counted per tool, day and duration
    bucket, filled from the calls already loaded; the sync keeps it up to date."""
    db.execute(duration_buckets.M009_CREATE_SQL)
    db.execute(duration_buckets.DELETE_ALL_SQL)
    db.execute(duration_buckets.M009_FILL_ALL_SQL)


@migrations()
def m010_failure_groups(db: Database) -> None:
    """Top errors' partial index in group order (:data:`FAILURE_GROUPS_INDEX`) replaces the one in day order."""
    db.execute("DROP INDEX IF EXISTS idx_tool_calls_failures")
    db.execute(f"CREATE INDEX IF NOT EXISTS {FAILURE_GROUPS_INDEX} ON {BEFORE_M016[FAILURE_GROUPS_INDEX]}")


migrations()(m011_bots)


@migrations()
def m012_duration_ranks_by_agent(db: Database) -> None:
    """``duration_ranks_by_agent`` (:mod:`.duration_ranks`): each duration's rank within its tool, day, model id and
    agent type (and within its tool, day and either of the two), and ``latency_totals`` (:mod:`.view_figures`): the
    whole history's latency per tool; filled from the calls already loaded, kept up to date by the sync."""
    db.execute(duration_ranks.BY_AGENT_CREATE_SQL)
    db.execute(duration_ranks.BY_AGENT_DELETE_ALL_SQL)
    db.execute(duration_ranks.BY_AGENT_FILL_ALL_SQL)
    db.execute(view_figures.LATENCY_TOTALS_CREATE_SQL)
    db.execute(view_figures.LATENCY_TOTALS_DELETE_SQL)
    db.execute(view_figures.LATENCY_TOTALS_FILL_SQL)


migrations()(m014_report_offsets)  # (m013 is the multi-bot helper's)

#: The indexes m016 rebuilt with the ``bot`` column (see :data:`VIEW_INDEXES`).
BOT_COVERED_INDEXES = tuple(BEFORE_M016)


@migrations()
def m016_bot_in_view_indexes(db: Database) -> None:
    """The latency and top-error indexes hold the ``bot`` column (:data:`BOT_COVERED_INDEXES`), so that the view's
    bot filter reads them alone."""
    for name in BOT_COVERED_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute(f"CREATE INDEX {name} ON {VIEW_INDEXES[name]}")


#: The columns of ``tool_uses`` its table page sorts by (``use_at``, newest first) and counts facets of: without
#: them the page sorted and grouped every row (970 ms on the benchmark's 450,000 tool_uses; 80 ms with them).
TOOL_USES_VIEW_INDEXES = ("use_at", "tool_name", "result")


@migrations()
def m017_tool_uses_view_indexes(db: Database) -> None:
    """Indexes for the ``tool_uses`` page of the view (:data:`TOOL_USES_VIEW_INDEXES`)."""
    for column in TOOL_USES_VIEW_INDEXES:
        db.table("tool_uses").create_index([column], if_not_exists=True)


def migrate(db: Database) -> None:
    """Bring an analytics database to the current schema (idempotent)."""
    migrations.apply(db)


def is_analytics_database(db: Database) -> bool:
    """True if ``db`` was built by this package's migrations."""
    if not db.table("_sqlite_migrations").exists():
        return False
    return any(m.name == "m001_initial" for m in migrations.applied(db))
