"""Sync: snapshot the bot database, normalise it, and load the analytics database — fully or incrementally.

A *full* sync builds a new analytics database in a temporary file beside the target and renames it into place,
so a failed or killed first sync leaves no analytics database at all and a failed rebuild leaves the old one.
An *incremental* sync runs in one write transaction on the existing file: it reads only bot rows added since the
last sync, plus the rows of the calls that were still waiting for a completion (the bot completes rows in
place), and rebuilds the daily rollups of the days it touched. If the bot's history changed under it (rows
deleted, a completed call's row rewritten, a task removed) or the settings changed, it falls back to a full
sync and says why. Either way the result equals a full sync of the same source.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import secrets as _random
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click
from sqlite_utils import Database

from ..store import schema as analytics_schema
from ..store.connect import open_analytics
from ..errors import InputError
from .merge import CATEGORY, ERROR, PARAMS, SOURCE, TCR, TCW, TIN, TOOL, TOUT, TS, Call, CallMerger, outcome_of
from .pricing import PriceBook
from .redact import mask
from ..bot.snapshot import Snapshot, is_undecodable_text, open_snapshot
from ..timeutil import TimeConverter, local_zone_name, zone

FINAL_STATUSES = ("completed", "failed", "stopped")
FILE_TOOLS = {"Read", "Write", "Edit", "MultiEdit", "NotebookEdit"}
MAX_TOKENS = 100_000_000  # per call; larger or negative counts are not believable and are dropped
BATCH = 5_000

TOOL_CALL_COLUMNS = (
    "call_id", "source_id", "task_id", "tool_name", "subagent_type", "file_path", "started_at", "ended_at",
    "duration_ms", "day", "outcome", "error", "error_category", "input_tokens", "output_tokens",
    "cache_write_tokens", "cache_read_tokens", "has_tokens", "model_alias", "model_id", "cost_usd",
    "unpriced_tokens", "agent_type", "parameters", "secrets_masked", "time_issue", "source_rows", "last_row_id",
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
    ON CONFLICT(task_id) DO UPDATE SET status = excluded.status, created_at = excluded.created_at,
     finished_at = excluded.finished_at, cycle_s = excluded.cycle_s, created_day = excluded.created_day,
     finished_day = excluded.finished_day, model_alias = excluded.model_alias, model_id = excluded.model_id,
     agent_type = excluded.agent_type, workflow = excluded.workflow, last_subagent = excluded.last_subagent,
     user_ref = excluded.user_ref, description = excluded.description, error = excluded.error,
     error_kind = excluded.error_kind, bot_updated_at = excluded.bot_updated_at,
     secrets_masked = excluded.secrets_masked"""
TASK_TOTALS_SQL = """UPDATE tasks SET
    (calls, calls_success, calls_failure, calls_unknown, input_tokens, output_tokens, cache_write_tokens,
     cache_read_tokens, cost_usd, unpriced_tokens) = (
        SELECT COUNT(*), COALESCE(SUM(outcome = 'success'), 0), COALESCE(SUM(outcome = 'failure'), 0),
               COALESCE(SUM(outcome = 'unknown'), 0), COALESCE(SUM(input_tokens), 0),
               COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_write_tokens), 0),
               COALESCE(SUM(cache_read_tokens), 0), TOTAL(cost_usd), COALESCE(SUM(unpriced_tokens), 0)
        FROM tool_calls c WHERE c.task_id = tasks.task_id)
    WHERE {where}"""
TASK_FINISH_EVENTS_SQL = """SELECT task_id, status, MAX(at) FROM agent_events
    WHERE status IN ('completed', 'failed', 'stopped') AND task_id IS NOT NULL {and_tasks} GROUP BY task_id, status"""
CALLS_NEEDING_END_SQL = """SELECT call_id, day FROM tool_calls
    WHERE ended_at IS NULL AND outcome IN ('success', 'failure') AND started_at IS NOT NULL"""
FILL_END_FROM_EVENTS_SQL = """UPDATE tool_calls SET ended_at = (
        SELECT MIN(e.at) FROM agent_events e
        WHERE e.source_id = tool_calls.source_id AND e.status = 'tool_call' AND e.tool_name = tool_calls.tool_name
          AND e.at >= tool_calls.started_at AND e.tool_success = (tool_calls.outcome = 'success'))
    WHERE ended_at IS NULL AND outcome IN ('success', 'failure') AND started_at IS NOT NULL"""
FILL_DURATION_SQL = """UPDATE tool_calls
    SET duration_ms = (julianday(ended_at) - julianday(started_at)) * 86400000.0
    WHERE call_id IN (SELECT value FROM json_each(:ids)) AND ended_at IS NOT NULL AND ended_at >= started_at"""
# The per-call measures that the daily rollup sums, and that data quality reads back (for the calls with a day
# from the rollup, for the few without one from tool_calls).
CALL_MEASURES_SQL = """COUNT(*) AS calls, SUM(has_tokens) AS calls_with_tokens,
           COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens,
           COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens,
           COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens, TOTAL(cost_usd) AS cost_usd,
           COALESCE(SUM(unpriced_tokens), 0) AS unpriced_tokens, COUNT(duration_ms) AS duration_count,
           TOTAL(duration_ms) AS duration_sum_ms, SUM(source_rows) AS source_rows,
           SUM(secrets_masked) AS secrets_masked,
           SUM(COALESCE(time_issue IN ('dst_gap', 'dst_fold'), 0)) AS dst_issues,
           SUM(task_id IS NULL AND length(source_id) <> 36) AS missing_task"""
ROLLUP_SQL = """INSERT INTO tool_daily
    (day, tool_name, model_id, agent_type, outcome, error_category, calls, calls_with_tokens, input_tokens,
     output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, unpriced_tokens, duration_count,
     duration_sum_ms, source_rows, secrets_masked, dst_issues, missing_task)
    SELECT day, tool_name, COALESCE(model_id, ''), COALESCE(agent_type, ''), outcome,
           COALESCE(error_category, ''), """ + CALL_MEASURES_SQL + """
    FROM tool_calls WHERE day IS NOT NULL {and_days}
    GROUP BY 1, 2, 3, 4, 5, 6"""
QUALITY_FROM_ROLLUP_SQL = """SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(source_rows), 0),
       COALESCE(SUM(CASE WHEN outcome = 'unknown' THEN calls END), 0), COALESCE(SUM(calls_with_tokens), 0),
       COALESCE(SUM(CASE WHEN agent_type = 'cli_session' THEN calls END), 0), COALESCE(SUM(missing_task), 0),
       COALESCE(SUM(dst_issues), 0), COALESCE(SUM(unpriced_tokens), 0), COALESCE(SUM(secrets_masked), 0)
    FROM {source}"""
UNDATED_CALLS_SQL = """(SELECT outcome, agent_type, """ + CALL_MEASURES_SQL + """
    FROM tool_calls WHERE day IS NULL GROUP BY outcome, agent_type)"""
UNKNOWN_MODELS_SQL = """SELECT COUNT(*) FROM (
    SELECT model_alias FROM tasks WHERE model_alias IS NOT NULL AND model_id IS NULL
    UNION SELECT model FROM router_messages WHERE model IS NOT NULL AND model_id IS NULL
    UNION SELECT :default_model WHERE :default_model_unknown)"""
DEFERRABLE_INDEXES_SQL = """SELECT name, sql FROM sqlite_master
    WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('tool_calls', 'agent_events')"""
IN_JSON = "IN (SELECT value FROM json_each(:{name}))"

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


class _NeedsFull(Exception):
    """Raised inside an incremental sync when only a full rebuild gives the right answer."""


@dataclass
class SyncResult:
    """What a sync did. ``summary()`` is the text the CLI prints."""

    analytics_db: Path
    mode: str
    reason: str
    bot_rows_read: int = 0
    calls_written: int = 0
    calls: int = 0
    rows_merged: int = 0
    unknown_calls: int = 0
    calls_with_tokens: int = 0
    unpriced_tokens: int = 0
    secrets_masked: int = 0
    tasks: int = 0
    events_read: int = 0
    messages_read: int = 0
    seconds: float = 0.0
    quality: dict = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.mode} sync ({self.reason}) in {self.seconds:.1f} s → {self.analytics_db}\n"
            f"  read {self.bot_rows_read:,} tool_usage rows, {self.events_read:,} agent_status rows, "
            f"{self.messages_read:,} messages; {self.tasks:,} tasks\n"
            f"  {self.calls:,} logical tool calls ({self.calls_written:,} written this run, "
            f"{self.rows_merged:,} duplicate bot rows merged), {self.unknown_calls:,} with unknown outcome, "
            f"{self.calls_with_tokens:,} with tokens\n"
            f"  {self.unpriced_tokens:,} unpriced tokens, {self.secrets_masked:,} secrets masked"
        )


# --------------------------------------------------------------------------------------------------------------
# Public entry point


def sync(
    bot_db,
    analytics_db,
    *,
    source_tz: str | None = None,
    full: bool = False,
    progress: bool = False,
    report_tz: str | None = None,
    prices=None,
    aliases=None,
    default_model: str | None = None,
    keep_message_content: bool = False,
) -> SyncResult:
    """Load ``bot_db`` (the bot's ``agentlab.db``) into ``analytics_db``; incremental unless ``full``.

    ``source_tz`` is the zone of the bot host's clock (default: the zone recorded by the previous sync, else this
    machine's); ``report_tz`` the zone of days and weeks (default: the one given to a previous sync, else the
    source zone). ``prices`` and ``aliases`` are
    CSV files that override or extend the shipped tables. Raises ``InputError`` for bad input; the bot's file is
    only ever read.
    """
    started = time.perf_counter()
    bot_db, analytics_db = Path(bot_db), Path(analytics_db)
    _check_target(bot_db, analytics_db)
    previous = _read_state(analytics_db)
    book = PriceBook.load(prices, aliases)
    source_tz = source_tz or previous.get("source_tz") or local_zone_name()
    zone(source_tz)
    previous_settings = previous.get("settings") or {}
    report_tz_explicit = bool(report_tz) or bool(previous_settings.get("report_tz_explicit"))
    report_tz = report_tz or (previous.get("report_tz") if report_tz_explicit else None) or source_tz
    zone(report_tz)
    settings = {
        "source_tz": source_tz,
        "report_tz": report_tz,
        "report_tz_explicit": report_tz_explicit,
        "prices": _tables_digest(book),
        "default_model": default_model or "",
        "keep_message_content": bool(keep_message_content),
    }
    options = _Options(settings, book, default_model, keep_message_content, progress)
    try:
        result = _sync_snapshot(bot_db, analytics_db, full, previous, options, lenient_text=False)
    except sqlite3.OperationalError as exc:
        if not is_undecodable_text(exc):
            raise
        # Text that is not valid UTF-8: read it again, decoding leniently (slower, so only when needed).
        result = _sync_snapshot(bot_db, analytics_db, full, previous, options, lenient_text=True)
    result.seconds = time.perf_counter() - started
    _record_seconds(analytics_db, result.seconds)
    return result


def _sync_snapshot(bot_db: Path, analytics_db: Path, full: bool, previous: dict, options: "_Options", *,
                   lenient_text: bool) -> SyncResult:
    with open_snapshot(bot_db, lenient_text=lenient_text) as snap:
        mode, reason = _choose_mode(full, analytics_db, previous, options.settings, snap)
        if mode == "incremental":
            try:
                return _run_incremental(snap, analytics_db, previous, options)
            except _NeedsFull as why:
                reason = str(why)
        return _run_full(snap, analytics_db, previous, options, reason)


@dataclass
class _Options:
    settings: dict
    book: PriceBook
    default_model: str | None
    keep_message_content: bool
    progress: bool


def _check_target(bot_db: Path, analytics_db: Path) -> None:
    if analytics_db.exists() and bot_db.exists() and analytics_db.resolve() == bot_db.resolve():
        raise InputError(f"{analytics_db} is the bot database itself: give a separate path for the analytics database")
    if analytics_db.is_dir():
        raise InputError(f"{analytics_db} is a directory: give a file path for the analytics database, e.g. {analytics_db}/analytics.db")
    parent = analytics_db.parent if str(analytics_db.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"directory {parent} does not exist: create it first or choose another path for the analytics database")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in {parent}: choose a writable directory for the analytics database")
    if analytics_db.exists():
        if not os.access(analytics_db, os.W_OK):
            raise InputError(f"{analytics_db} is read-only: make it writable or choose another path")
    # Whether an existing file is an analytics database is checked once, by _read_state, which opens it next.


def _read_state(analytics_db: Path) -> dict:
    if not analytics_db.exists():
        return {}
    conn = open_analytics(analytics_db)
    try:
        rows = dict(conn.execute("SELECT key, value FROM sync_state").fetchall())
    finally:
        conn.close()
    state = {k: json.loads(v) for k, v in rows.items()}
    return state


def _tables_digest(book: PriceBook) -> str:
    text = json.dumps([book.alias_rows, book.price_rows], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _choose_mode(full: bool, analytics_db: Path, previous: dict, settings: dict, snap: Snapshot) -> tuple[str, str]:
    if full:
        return "full", "--full"
    if not analytics_db.exists():
        return "full", "first sync"
    if previous.get("settings") != settings:
        changed = sorted(k for k in settings if (previous.get("settings") or {}).get(k) != settings[k])
        return "full", "settings changed: " + ", ".join(changed)
    if previous.get("source") != _source_identity(snap):
        return "full", "different bot database"
    return "incremental", "new rows only"


def config_dir() -> Path:
    """``$AMIGA_ANALYTICS_CONFIG``, else ``$XDG_CONFIG_HOME/amiga-analytics``, else ``~/.config/amiga-analytics``."""
    named = os.environ.get("AMIGA_ANALYTICS_CONFIG")
    if named:
        return Path(named)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "amiga-analytics"


def user_ref_salt() -> str:
    """The secret that makes ``user_ref`` non-reversible. It never goes into the analytics database (which may
    be published): ``$AMIGA_ANALYTICS_SALT``, else a random salt kept in ``config_dir()/user-ref.salt``
    (created on first use, readable by its owner only), so references stay stable across syncs."""
    named = os.environ.get("AMIGA_ANALYTICS_SALT")
    if named:
        return named
    path = config_dir() / "user-ref.salt"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(_random.token_hex(16))
        return path.read_text().strip()
    except FileExistsError:
        return path.read_text().strip()
    except OSError as exc:
        raise InputError(f"cannot keep the user-reference salt in {path} ({exc.strerror}): set AMIGA_ANALYTICS_SALT "
                         f"or AMIGA_ANALYTICS_CONFIG to a writable directory") from None


def _source_identity(snap: Snapshot) -> str:
    """What identifies one bot database across copies and moves: when its schema was first created."""
    if not snap.has_table("schema_version"):
        return ""
    return str(snap.conn.execute("SELECT MIN(applied_at) FROM schema_version").fetchone()[0])


def _record_seconds(analytics_db: Path, seconds: float) -> None:
    conn = sqlite3.connect(analytics_db)
    try:
        with conn:
            conn.execute(
                "UPDATE syncs SET seconds = :seconds WHERE sync_id = (SELECT MAX(sync_id) FROM syncs)",
                {"seconds": round(seconds, 3)},
            )
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------------------------
# Full and incremental runs


def _temp_path(analytics_db: Path) -> Path:
    return analytics_db.with_name(f".{analytics_db.name}.sync-{os.getpid()}.tmp")


def _remove_stale_temps(analytics_db: Path) -> None:
    for name in glob.glob(str(analytics_db.with_name(f".{analytics_db.name}.sync-*.tmp*"))):
        match = re.search(r"\.sync-(\d+)\.tmp", name)
        pid = int(match.group(1)) if match else 0
        try:
            os.kill(pid, 0)
            alive = pid != os.getpid()
        except PermissionError:  # another user's process: alive
            alive = True
        except (ProcessLookupError, OverflowError):
            alive = False
        if not alive:
            try:
                os.remove(name)
            except OSError:
                pass


def _run_full(snap: Snapshot, analytics_db: Path, previous: dict, options: _Options, reason: str) -> SyncResult:
    _remove_stale_temps(analytics_db)
    temp = _temp_path(analytics_db)
    conn = sqlite3.connect(temp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("BEGIN")
        analytics_schema.migrate(Database(conn))
        # Indexes are cheaper built once over the loaded tables than maintained row by row.
        deferred = conn.execute(DEFERRABLE_INDEXES_SQL).fetchall()
        for name, _ in deferred:
            conn.execute(f"DROP INDEX [{name}]")
        loader = _Loader(conn, snap, options, state={}, mode="full", target=analytics_db)
        result = loader.run(reason, before_rollups=lambda: [conn.execute(sql) for _, sql in deferred])
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("ANALYZE")
        conn.close()
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temp, analytics_db)
    except BaseException:
        conn.close()
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
    return result


def _run_incremental(snap: Snapshot, analytics_db: Path, previous: dict, options: _Options) -> SyncResult:
    conn = sqlite3.connect(analytics_db, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("BEGIN IMMEDIATE")
        try:
            analytics_schema.migrate(Database(conn))
            loader = _Loader(conn, snap, options, state=dict(previous), mode="incremental", target=analytics_db)
            result = loader.run("new rows only")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return result


# --------------------------------------------------------------------------------------------------------------
# The work itself


class _Loader:
    def __init__(self, conn: sqlite3.Connection, snap: Snapshot, options: _Options, *, state: dict, mode: str,
                 target: Path):
        self.conn = conn
        self.target = target
        self.snap = snap
        self.options = options
        self.book = options.book
        self.state = state
        self.mode = mode
        self.incremental = mode == "incremental"
        settings = options.settings
        self.conv = TimeConverter(settings["source_tz"], settings["report_tz"])
        self.salt = user_ref_salt()
        self.affected_days: set[str] = set()
        self.affected_tasks: set[str] = set()
        self.counts = {"bot_rows_read": 0, "invalid_values": 0, "secrets_streams": 0, "ambiguous": 0,
                       "calls_written": 0, "events_read": 0, "messages_read": 0}
        self.links: dict[str, tuple[str, str, str]] = {}
        self.previous_calls: dict[int, tuple] = {}  # incremental: the stored rows of the calls being re-derived
        self.finished_tasks: set[str] = set()  # tasks with a new completed/failed/stopped event

    # -- helpers ---------------------------------------------------------------------------------------------

    def user_ref(self, user_id) -> str | None:
        if user_id is None:
            return None
        digest = hashlib.sha256(f"{self.salt}:{user_id}".encode()).hexdigest()
        return "u_" + digest[:12]

    def masked(self, text, limit: int | None = None):
        """``text`` with secrets masked (then cut to ``limit`` characters); counts what it masked."""
        value, n = mask(_text(text))
        self.counts["secrets_streams"] += n
        return _cut(value, limit)

    def tokens(self, value) -> int | None:
        if value is None:
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.counts["invalid_values"] += 1
            return None
        if isinstance(value, float) and value != number or not (0 <= number <= MAX_TOKENS):
            self.counts["invalid_values"] += 1
            return None
        return number

    # -- steps -----------------------------------------------------------------------------------------------

    def run(self, reason: str, before_rollups=None) -> SyncResult:
        self.write_reference_tables()
        tasks = self.load_task_links()
        self.load_agent_events()
        self.load_tool_calls()
        if before_rollups is not None:
            before_rollups()
        self.fill_end_times()
        self.load_tasks(tasks)
        self.load_messages()
        self.rebuild_rollups()
        return self.finish(reason, len(tasks))

    def write_reference_tables(self) -> None:
        self.conn.execute("DELETE FROM model_aliases")
        self.conn.execute("DELETE FROM model_prices")
        self.conn.executemany(
            "INSERT INTO model_aliases VALUES (:alias, :effective_from, :model_id, :source)", self.book.alias_rows
        )
        self.conn.executemany(
            """INSERT INTO model_prices VALUES (:model_id, :effective_from, :input_usd_per_mtok,
               :output_usd_per_mtok, :cache_write_5m_usd_per_mtok, :cache_write_1h_usd_per_mtok,
               :cache_read_usd_per_mtok, :source)""",
            self.book.price_rows,
        )

    def load_task_links(self) -> list[tuple]:
        tasks = self.snap.rows("tasks").fetchall()
        for row in tasks:
            task_id, model, agent_type, session_uuid = row[0], row[5], row[6], row[10]
            if task_id is None:
                continue
            link = (str(task_id), model, agent_type or "code_agent")
            self.links[str(task_id)] = link
            if session_uuid:
                self.links.setdefault(str(session_uuid), link)
        if self.incremental:
            known = {r[0] for r in self.conn.execute("SELECT task_id FROM tasks")}
            if known - {str(r[0]) for r in tasks}:
                raise _NeedsFull("tasks were deleted from the bot database")
            ids = {"ids": json.dumps(list(self.links))}
            unlinked = sum(self.conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE task_id IS NULL AND source_id " + IN_JSON.format(name="ids"), ids
            ).fetchone()[0] for table in ("tool_calls", "agent_events"))
            if unlinked:
                raise _NeedsFull("a new task claims calls that were loaded as CLI sessions")
        return tasks

    def load_agent_events(self) -> None:
        watermark = self.state.get("agent_status_id", 0) if self.incremental else 0
        cursor = self.snap.rows("agent_status", "id > :wm", {"wm": watermark}, order="id")
        max_id = watermark
        batch = []
        events = 0
        for event_id, ts, source_id, status, message, metadata in cursor:
            max_id = max(max_id, event_id)
            at, day, _ = self.conv.convert(ts)
            tool_name = tool_success = None
            if status == "tool_call" and metadata:
                try:
                    meta = json.loads(metadata)
                    if isinstance(meta, dict):
                        tool_name = meta.get("tool")
                        success = meta.get("success")
                        tool_success = None if success is None else int(bool(success))
                except (ValueError, TypeError):
                    self.counts["invalid_values"] += 1
            link = self.links.get(str(source_id)) if source_id is not None else None
            if link is not None and status in FINAL_STATUSES:
                self.finished_tasks.add(link[0])
            events += 1
            batch.append((event_id, source_id, link[0] if link else None, at, day, status,
                          self.masked(message, 2000), tool_name, tool_success))
            if len(batch) >= BATCH:
                self.conn.executemany(INSERT_EVENT_SQL, batch)
                batch.clear()
        self.conn.executemany(INSERT_EVENT_SQL, batch)
        self.counts["events_read"] = events
        self.state["agent_status_id"] = max_id

    def touch(self, call_row: tuple) -> None:
        """Remember the day and task of a written or removed call: their rollups and totals are rebuilt."""
        self.affected_days.add(call_row[9])
        self.affected_tasks.add(call_row[2])

    def load_tool_calls(self) -> None:
        watermark = self.state.get("tool_usage_id", 0) if self.incremental else 0
        merger = CallMerger(window_missed=self.conv.bot_window_missed,
                            state=self.state.get("merger") if self.incremental else None)
        ambiguous_closed = self.state.get("ambiguous_closed", 0) if self.incremental else 0
        reopened: list[tuple] = []
        rows_upto, nulls_upto = 0, 0
        if self.incremental:
            reopened, rows_upto, nulls_upto = self.reopen_calls(watermark)
        new_max = max(self.snap.max_id("tool_usage"), watermark)
        total = new_max - watermark + len(reopened)
        calls_batch: list[tuple] = []
        progress = click.progressbar(length=total, label="tool_usage rows", file=sys.stderr) if (
            self.options.progress and total > 50_000) else None

        def emit(calls: list[Call]) -> None:
            nonlocal ambiguous_closed
            for call in calls:
                ambiguous_closed += call.ambiguous and not call.open
                row = self.call_row(call)
                old = self.previous_calls.pop(call.call_id, None)
                if old != row:
                    self.touch(row)
                    if old is not None:
                        self.touch(old)
                    calls_batch.append(row)
            if len(calls_batch) >= BATCH:
                self.conn.executemany(INSERT_TOOL_CALL_SQL, calls_batch)
                self.counts["calls_written"] += len(calls_batch)
                calls_batch.clear()

        for row in reopened:
            emit(merger.feed(row))
        new_rows = 0
        for row in self.snap.rows("tool_usage", "id > :wm", {"wm": watermark}, order="id"):
            emit(merger.feed(row))
            new_rows += 1
            nulls_upto += row[5] is None
            if progress is not None and new_rows % 20_000 == 0:
                progress.update(20_000)
        remaining = merger.finish()
        emit(remaining)
        self.conn.executemany(INSERT_TOOL_CALL_SQL, calls_batch)
        self.counts["calls_written"] += len(calls_batch)
        if progress is not None:
            progress.update(total - (new_rows // 20_000) * 20_000)
            progress.render_finish()
        # Calls of the last sync that are gone: their rows now belong to other calls.
        for call_id, old in self.previous_calls.items():
            self.conn.execute("DELETE FROM tool_calls WHERE call_id = :id", {"id": call_id})
            self.touch(old)
        open_calls = [c for c in remaining if c.open]
        self.state["merger"] = merger.export_state()
        self.state["ambiguous_closed"] = ambiguous_closed
        self.counts["ambiguous"] = ambiguous_closed + sum(c.ambiguous for c in open_calls)
        self.conn.executemany(INSERT_OPEN_ROW_SQL, ((r[0], c.call_id) for c in open_calls for r in c.rows))
        self.counts["bot_rows_read"] = new_rows + len(reopened)
        self.counts["invalid_values"] += merger.invalid_success
        # What the next incremental sync checks to notice rewritten history.
        open_nulls = sum(1 for c in open_calls for r in c.rows if r[5] is None)
        self.state["tool_usage_id"] = new_max
        self.state["tool_usage_rows"] = rows_upto + new_rows
        self.state["closed_null_rows"] = nulls_upto - open_nulls

    def reopen_calls(self, watermark: int) -> tuple[list[tuple], int, int]:
        """Rows of the calls still open after the last sync, as they are now, and the (rows, NULL rows) counts up
        to the watermark; raises ``_NeedsFull`` if the bot's history changed in a way only a rebuild can follow."""
        row_ids = [r[0] for r in self.conn.execute("SELECT row_id FROM open_call_rows ORDER BY row_id")]
        rows = self.snap.rows("tool_usage", "id " + IN_JSON.format(name="ids"), {"ids": json.dumps(row_ids)},
                              order="id").fetchall()
        rows_upto, nulls_upto = self.snap.tool_usage_counts(watermark)
        if len(rows) != len(row_ids) or rows_upto != self.state.get("tool_usage_rows"):
            raise _NeedsFull("rows were deleted from the bot's tool_usage")
        open_nulls = sum(1 for r in rows if r[5] is None)
        if nulls_upto - open_nulls != self.state.get("closed_null_rows"):
            raise _NeedsFull("the bot rewrote rows of calls that were already complete")
        self.previous_calls = {
            row[0]: tuple(row) for row in self.conn.execute(
                f"SELECT {', '.join(TOOL_CALL_COLUMNS)} FROM tool_calls "
                "WHERE call_id IN (SELECT call_id FROM open_call_rows)")
        }
        self.conn.execute("DELETE FROM open_call_rows")
        return rows, rows_upto, nulls_upto

    def call_row(self, call: Call) -> tuple:
        """The ``tool_calls`` row of one merged call (columns in :data:`TOOL_CALL_COLUMNS` order)."""
        first = call.rows[0]
        result = call.result_row()
        outcome = outcome_of(result)
        source_id = _text(first[SOURCE])
        link = self.links.get(source_id) if source_id is not None else None
        started_at, day, time_issue = self.conv.convert(first[TS])
        end_text = call.completion_time()
        ended_at = self.conv.convert(end_text)[0] if end_text is not None else None
        duration_ms = None
        if started_at and ended_at:
            if ended_at >= started_at:
                delta = datetime.fromisoformat(ended_at) - datetime.fromisoformat(started_at)
                duration_ms = delta.total_seconds() * 1000
            else:
                ended_at = None
        tool = _text(first[TOOL]) or "unknown"
        error = category = None
        if outcome == "failure":
            error, category = _text(result[ERROR]), _text(result[CATEGORY])
        tokens = (None,) * 4 if result is None else tuple(self.tokens(result[i]) for i in (TIN, TOUT, TCW, TCR))
        if link is not None:
            task_id, model_alias, agent_type = link
        else:
            task_id, model_alias, agent_type = None, self.options.default_model, "cli_session"
        # Aliases and prices are looked up on the call's day in the report timezone, as the queries do.
        model_id = self.book.resolve(model_alias, day)
        cost, unpriced = self.book.priced(model_id, day, *tokens)
        params, n_params = mask(_text(first[PARAMS]))
        error, n_error = mask(error)
        subagent = file_path = None
        if params and (tool == "Task" or tool in FILE_TOOLS):
            try:
                parsed = json.loads(params)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                if tool == "Task":
                    subagent = parsed.get("subagent_type")
                else:
                    file_path = parsed.get("file_path") or parsed.get("notebook_path")
                subagent = subagent if isinstance(subagent, str) else None
                file_path = file_path if isinstance(file_path, str) else None
        return (
            call.call_id, source_id, task_id, tool, subagent, file_path, started_at, ended_at, duration_ms, day,
            outcome, error, category, *tokens, int(any(t is not None for t in tokens)), model_alias, model_id,
            cost, unpriced, agent_type, params, n_params + n_error, time_issue, call.source_rows, call.rows[-1][0],
        )

    def fill_end_times(self) -> None:
        """End times the rows could not give: the agent_status tool_call row the post-hook wrote after the start."""
        waiting = dict(self.conn.execute(CALLS_NEEDING_END_SQL).fetchall())
        self.conn.execute(FILL_END_FROM_EVENTS_SQL)
        still_waiting = {r[0] for r in self.conn.execute(CALLS_NEEDING_END_SQL)}
        filled = [call_id for call_id in waiting if call_id not in still_waiting]
        self.affected_days.update(waiting[call_id] for call_id in filled)
        self.conn.execute(FILL_DURATION_SQL, {"ids": json.dumps(filled)})

    def load_tasks(self, tasks: list[tuple]) -> None:
        """Upsert the tasks (in an incremental sync only those the bot changed or that just finished), then
        their call totals."""
        sql = TASK_FINISH_EVENTS_SQL.format(and_tasks="")
        params: dict = {}
        if self.incremental:
            seen = dict(self.conn.execute("SELECT task_id, bot_updated_at FROM tasks"))
            tasks = [t for t in tasks if t[0] is not None and (
                str(t[0]) not in seen or seen[str(t[0])] != _text(t[4]) or str(t[0]) in self.finished_tasks)]
            sql = TASK_FINISH_EVENTS_SQL.format(and_tasks="AND task_id " + IN_JSON.format(name="ids"))
            params = {"ids": json.dumps([str(t[0]) for t in tasks])}
        finish_events = {(t, s): at for t, s, at in self.conn.execute(sql, params)}
        records = []
        for (task_id, user_id, status, created_at, updated_at, model, agent_type, workflow, last_agent_type,
             current_phase, _session_uuid, description, error) in tasks:
            if task_id is None:
                continue
            task_id = str(task_id)
            created, created_day, _ = self.conv.convert(created_at)
            finished = finished_day = cycle = None
            if status in FINAL_STATUSES:
                finished = finish_events.get((task_id, status)) or self.conv.convert(updated_at)[0]
                if finished is not None:
                    finished_day = self.conv.report_day(finished)
                    if created is not None:
                        cycle = (datetime.fromisoformat(finished) - datetime.fromisoformat(created)).total_seconds()
            masked_description, n_description = mask(_text(description))
            masked_error, n_error = mask(_text(error))
            records.append({
                "task_id": task_id, "status": status, "created_at": created, "finished_at": finished,
                "cycle_s": cycle, "created_day": created_day, "finished_day": finished_day,
                "model_alias": model, "model_id": self.book.resolve(model, created_day),
                "agent_type": agent_type or "code_agent", "workflow": workflow,
                "last_subagent": last_agent_type or current_phase, "user_ref": self.user_ref(user_id),
                "description": _cut(masked_description, 200), "error": _cut(masked_error, 2000),
                "error_kind": error_kind(error), "bot_updated_at": _text(updated_at),
                "secrets_masked": n_description + n_error,
            })
        self.conn.executemany(UPSERT_TASK_SQL, records)
        if self.incremental:
            ids = [t for t in self.affected_tasks if t is not None]
            self.conn.execute(TASK_TOTALS_SQL.format(where="task_id " + IN_JSON.format(name="ids")),
                              {"ids": json.dumps(ids)})
        else:
            self.conn.execute(TASK_TOTALS_SQL.format(where="1"))

    def load_messages(self) -> None:
        watermark = self.state.get("messages_id", 0) if self.incremental else 0
        max_id = watermark
        batch = []
        for (message_id, user_id, ts, role, content, tokens_in, tokens_out, input_method,
             model) in self.snap.rows("messages", "id > :wm", {"wm": watermark}, order="id"):
            max_id = max(max_id, message_id)
            self.counts["messages_read"] += 1
            at, day, _ = self.conv.convert(ts)
            tin, tout = self.tokens(tokens_in), self.tokens(tokens_out)
            model_id = self.book.resolve(model, day)
            cost, unpriced = self.book.priced(model_id, day, tin, tout)
            text = content if isinstance(content, str) else None
            created_task = int(role == "assistant" and bool(text) and text.startswith("BACKGROUND_TASK"))
            kept = self.masked(text) if self.options.keep_message_content else None
            batch.append((message_id, self.user_ref(user_id), at, day, role, input_method, created_task, model,
                          model_id, tin, tout, cost, unpriced, kept))
        self.conn.executemany(INSERT_MESSAGE_SQL, batch)
        self.state["messages_id"] = max_id

    def rebuild_rollups(self) -> None:
        if self.incremental:
            days = json.dumps(sorted(d for d in self.affected_days if d is not None))
            self.conn.execute("DELETE FROM tool_daily WHERE day " + IN_JSON.format(name="days"), {"days": days})
            self.conn.execute(ROLLUP_SQL.format(and_days="AND day " + IN_JSON.format(name="days")), {"days": days})
        else:
            self.conn.execute("DELETE FROM tool_daily")
            self.conn.execute(ROLLUP_SQL.format(and_days=""))

    def finish(self, reason: str, n_tasks: int) -> SyncResult:
        totals = [0] * 9
        for source in ("tool_daily", UNDATED_CALLS_SQL):
            for i, value in enumerate(self.conn.execute(QUALITY_FROM_ROLLUP_SQL.format(source=source)).fetchone()):
                totals[i] += value
        calls, source_rows, unknown, with_tokens, no_task, missing_task, dst, unpriced_calls, secrets_calls = totals
        merged = source_rows - calls
        bad_time = self.conn.execute("SELECT COUNT(*) FROM tool_calls WHERE day IS NULL").fetchone()[0]
        unpriced_msgs = self.conn.execute("SELECT COALESCE(SUM(unpriced_tokens), 0) FROM router_messages").fetchone()[0]
        bad_task_times, task_secrets = self.conn.execute(
            "SELECT COALESCE(SUM(created_at IS NULL), 0), COALESCE(SUM(secrets_masked), 0) FROM tasks").fetchone()
        default_model = self.options.default_model
        unknown_models = self.conn.execute(UNKNOWN_MODELS_SQL, {
            "default_model": default_model,
            "default_model_unknown": bool(default_model) and self.book.resolve(default_model, None) is None,
        }).fetchone()[0]
        # Secrets in append-only streams (events, messages) accumulate over incremental syncs.
        stream_secrets = (self.state.get("secrets_streams", 0) if self.incremental else 0) + self.counts["secrets_streams"]
        self.state["secrets_streams"] = stream_secrets
        values = {
            "bot_rows_read": self.counts["bot_rows_read"],
            "bot_rows_merged": merged,
            "calls": calls,
            "calls_unknown_outcome": unknown,
            "calls_ambiguous_outcome": self.counts["ambiguous"],
            "calls_with_tokens": with_tokens,
            "calls_without_task": no_task,
            "calls_with_missing_task": missing_task,
            "unparseable_timestamps": bad_time + bad_task_times,
            "dst_ambiguous_timestamps": dst,
            "unpriced_tokens": unpriced_calls + unpriced_msgs,
            "unknown_models": unknown_models,
            "secrets_masked": secrets_calls + task_secrets + stream_secrets,
            "invalid_values": self.counts["invalid_values"],
        }
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        sync_id = (self.conn.execute("SELECT COALESCE(MAX(sync_id), 0) FROM syncs").fetchone()[0] or 0) + 1
        settings = self.options.settings
        self.conn.execute(
            """INSERT INTO syncs (sync_id, mode, started_at, finished_at, seconds, bot_schema_version, source_tz,
               report_tz, bot_rows_read, calls_written) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)""",
            (sync_id, self.mode, now, now, self.snap.version, settings["source_tz"], settings["report_tz"],
             self.counts["bot_rows_read"], self.counts["calls_written"]),
        )
        self.conn.executemany(
            "INSERT INTO data_quality (sync_id, check_name, value, detail) VALUES (?, ?, ?, ?)",
            [(sync_id, name, int(values[name]), QUALITY_CHECKS[name]) for name in QUALITY_CHECKS],
        )
        self.state.update({
            "settings": settings, "source_tz": settings["source_tz"], "report_tz": settings["report_tz"],
            "source": _source_identity(self.snap),
            "bot_schema_version": self.snap.version,
        })
        self.conn.execute("DELETE FROM sync_state")
        self.conn.executemany("INSERT INTO sync_state (key, value) VALUES (?, ?)",
                              [(k, json.dumps(v)) for k, v in sorted(self.state.items())])
        return SyncResult(
            analytics_db=self.target,
            mode=self.mode, reason=reason, bot_rows_read=self.counts["bot_rows_read"],
            calls_written=self.counts["calls_written"], calls=calls, rows_merged=merged, unknown_calls=unknown,
            calls_with_tokens=with_tokens, unpriced_tokens=values["unpriced_tokens"],
            secrets_masked=values["secrets_masked"], tasks=n_tasks, events_read=self.counts["events_read"],
            messages_read=self.counts["messages_read"], quality=values,
        )


def _text(value) -> str | None:
    """A bot value as text: bytes decoded leniently, numbers formatted, None kept."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _cut(text: str | None, limit: int | None) -> str | None:
    if text is None or limit is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


_ERROR_KINDS = (
    (re.compile(r"^\[(\w+)\]"), None),
    (re.compile(r"^Claude produced no output", re.I), "no_output"),
    (re.compile(r"^Claude produced minimal output", re.I), "minimal_output"),
    (re.compile(r"^Task execution error", re.I), "execution_error"),
    (re.compile(r"^Failed to start", re.I), "start_failed"),
    (re.compile(r"^Task was pending for more than", re.I), "stale_pending"),
    (re.compile(r"bot restart|bot shutdown", re.I), "bot_restart"),
    (re.compile(r"by user|user request", re.I), "user_stopped"),
    (re.compile(r"^Error:", re.I), "error"),
)


def error_kind(error) -> str | None:
    """A short class of a task's error text (bot-data.md §2.3): timeout, dead_process, no_output, …

    >>> error_kind("[timeout] No updates for 31.0min (timeout: 30min)")
    'timeout'
    >>> error_kind("Task stopped by user")
    'user_stopped'
    """
    if not error or not isinstance(error, str):
        return None
    for pattern, kind in _ERROR_KINDS:
        match = pattern.search(error)
        if match:
            return kind or match.group(1)
    return "other"
