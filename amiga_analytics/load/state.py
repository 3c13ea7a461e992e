"""What a sync remembers between runs (the ``sync_state`` and ``syncs`` tables) and what one run reports.

``sync_state`` holds JSON values under short keys: the settings of the last sync (a change forces a full sync),
the bot database's identity, and the watermarks and row counts that let the next incremental sync read only new
rows and notice a rewritten history.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ..bot.snapshot import Snapshot
from ..store.connect import open_analytics
from .pricing import PriceBook
from .progress import ProgressCallback
from .redact import describe_masked

READ_STATE_SQL = "SELECT key, value FROM sync_state"
DELETE_STATE_SQL = "DELETE FROM sync_state"
INSERT_STATE_SQL = "INSERT INTO sync_state (key, value) VALUES (:key, :value)"
INSERT_ZEROS_SQL = "INSERT INTO sync_state (key, value) VALUES (:key, zeroblob(:size))"
SCHEMA_CREATED_SQL = "SELECT MIN(applied_at) FROM schema_version"
NEXT_SYNC_ID_SQL = "SELECT COALESCE(MAX(sync_id), 0) + 1 FROM syncs"
INSERT_SYNC_SQL = """INSERT INTO syncs (sync_id, mode, started_at, finished_at, seconds, bot_schema_version, source_tz,
               report_tz, bot_rows_read, calls_written)
    VALUES (:sync_id, :mode, :now, :now, NULL, :bot_schema_version, :source_tz, :report_tz, :bot_rows_read,
            :calls_written)"""
RECORD_SECONDS_SQL = "UPDATE syncs SET seconds = :seconds WHERE sync_id = (SELECT MAX(sync_id) FROM syncs)"
UNKNOWN_MODELS_KEY = "unknown_models"  # sync_state: the names check unknown_models counts (the registry keeps them)
GENAI_ROWS_KEY = "genai_price_rows"  # sync_state: the genai-prices price rows and their key (pricing.PriceBook.load)


class NeedsFull(Exception):
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
    repriced: str = ""
    masked: dict = field(default_factory=dict)
    source_tz: str = ""
    source_tz_origin: str = ""  # "--source-tz", "the previous sync", "this machine"
    report_tz: str = ""
    report_tz_origin: str = ""  # "--report-tz", "the previous sync's --report-tz", "the source zone"
    bot: str = ""  # with --bot: the bot's name, and its calls now in the shared store
    bot_calls: int = 0

    @property
    def zone_warning(self) -> str:
        """A warning when the source zone was taken from this machine (empty otherwise)."""
        if self.source_tz_origin != "this machine":
            return ""
        return (f"Warning: the bot host's zone was not given, so this machine's ({self.source_tz}) was used; if the "
                f"bot wrote another zone's local time every time is off: set it with --source-tz ZONE "
                f"(e.g. --source-tz Europe/Madrid)")

    def summary(self) -> str:
        zones = (f"\n  zones: source {self.source_tz} (from {self.source_tz_origin}), report {self.report_tz} "
                 f"(from {self.report_tz_origin})") if self.source_tz else ""
        return (
            f"{self.mode} sync ({self.reason}) in {self.seconds:.1f} s → {self.analytics_db}\n"
            f"  read {self.bot_rows_read:,} tool_usage rows, {self.events_read:,} agent_status rows, "
            f"{self.messages_read:,} messages; {self.tasks:,} tasks\n"
            f"  {self.calls:,} logical tool calls ({self.calls_written:,} written this run, "
            f"{self.rows_merged:,} duplicate bot rows merged), {self.unknown_calls:,} with unknown outcome, "
            f"{self.calls_with_tokens:,} with tokens\n"
            f"  {self.unpriced_tokens:,} unpriced tokens; {describe_masked(self.masked)}"
        ) + zones + (f"\n  {self.repriced}" if self.repriced else "") + self._transcripts() + self._bot()

    def _bot(self) -> str:
        if not self.bot:
            return ""
        return (f"\n  bot {self.bot}: its {self.bot_calls:,} calls replaced in {self.analytics_db} (its own store: "
                f"{self.analytics_db}.bots/{self.bot}.db); the other bots' rows untouched")

    def _transcripts(self) -> str:
        q = self.quality
        if "transcript_requests" not in q:
            return ""
        return (f"\n  transcripts: {q['transcript_requests']:,} API requests; {q['calls_seen_by_both']:,} calls seen by "
                f"both witnesses, {q['calls_bot_only']:,} by the bot only, {q['calls_transcript_only']:,} by the "
                f"transcripts only; {q['tasks_missing_transcript']:,} tasks without transcript")


@dataclass
class Options:
    """The settings of one sync (compared with the last sync's), the price tables and the progress callback."""

    settings: dict
    book: PriceBook
    default_model: str | None
    keep_message_content: bool
    progress: ProgressCallback | None
    transcripts: list[str] = field(default_factory=list)  # transcript dirs given to this sync
    bot_db: str = ""  # the bot database's file name, kept in sync_state for the report's footer
    price_files: dict = field(default_factory=dict)  # --prices / --aliases as absolute paths (serve --follow)


def read_state(analytics_db: Path, keys: Iterable[str] | None = None, raw: Iterable[str] = ()) -> dict[str, Any]:
    """The ``sync_state`` of an existing analytics database (checking that it is one), else ``{}``; with
    ``keys``, only those (a store that reads transcripts carries tens of MB of JSON under another key). The
    values of the keys in ``raw`` stay their JSON text (:class:`RawJSON`), for their reader to decode."""
    if not analytics_db.exists():
        return {}
    conn = open_analytics(analytics_db)
    try:
        if keys is None:
            rows = dict(conn.execute(READ_STATE_SQL).fetchall())
        else:
            wanted = list(dict.fromkeys(keys))
            marks = ", ".join("?" * len(wanted))
            rows = dict(conn.execute(f"{READ_STATE_SQL} WHERE key IN ({marks})", wanted).fetchall())
    finally:
        conn.close()
    keep = set(raw)
    return {k: _raw(v) if k in keep else json.loads(v) for k, v in rows.items()}


def _raw(value: str | bytes) -> "RawJSON":
    return RawJSON(value.decode("utf-8") if isinstance(value, bytes) else value)


class RawJSON(str):
    """A state value already encoded as JSON text (a large one is kept as its text, not as the objects)."""


class JSONParts(tuple):
    """A large state value already encoded as JSON, in pieces of text whose concatenation is the JSON text.
    :func:`write_state` streams it into the database (a BLOB of that UTF-8 text, which every reader of
    ``sync_state`` decodes as it does the TEXT values): neither the whole text nor SQLite's copy of a bound value
    is ever in memory (28 MB each for the benchmark's transcripts)."""


PART_CHUNK = 1 << 20  # characters encoded and written at a time


def write_state(conn: sqlite3.Connection, state: dict[str, Any]) -> None:
    conn.execute(DELETE_STATE_SQL)
    conn.executemany(INSERT_STATE_SQL, [{"key": k, "value": v if isinstance(v, RawJSON) else json.dumps(v)}
                                        for k, v in sorted(state.items()) if not isinstance(v, JSONParts)])
    for key, value in sorted(state.items()):
        if isinstance(value, JSONParts):
            _stream(conn, key, value)


def _stream(conn: sqlite3.Connection, key: str, parts: JSONParts) -> None:
    size = sum(len(p) if p.isascii() else len(p.encode("utf-8")) for p in parts)  # json.dumps' is ASCII
    rowid = conn.execute(INSERT_ZEROS_SQL, {"key": key, "size": size}).lastrowid
    assert rowid is not None
    with conn.blobopen("sync_state", "value", rowid) as blob:
        for part in parts:
            for start in range(0, len(part), PART_CHUNK):
                blob.write(part[start:start + PART_CHUNK].encode("utf-8"))


def source_identity(snap: Snapshot) -> str:
    """What identifies one bot database across copies and moves: when its schema was first created."""
    if not snap.has_table("schema_version"):
        return ""
    return str(snap.conn.execute(SCHEMA_CREATED_SQL).fetchone()[0])


def record_sync(conn: sqlite3.Connection, *, mode: str, bot_schema_version: int, settings: dict,
                bot_rows_read: int, calls_written: int) -> int:
    """Add this sync's row to ``syncs`` (its seconds come later, from :func:`record_seconds`); return its id."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    sync_id = conn.execute(NEXT_SYNC_ID_SQL).fetchone()[0]
    conn.execute(INSERT_SYNC_SQL, {
        "sync_id": sync_id, "mode": mode, "now": now, "bot_schema_version": bot_schema_version,
        "source_tz": settings["source_tz"], "report_tz": settings["report_tz"], "bot_rows_read": bot_rows_read,
        "calls_written": calls_written,
    })
    return int(sync_id)


def record_seconds(analytics_db: Path, seconds: float) -> None:
    conn = sqlite3.connect(analytics_db)
    try:
        with conn:
            conn.execute(RECORD_SECONDS_SQL, {"seconds": round(seconds, 3)})
    finally:
        conn.close()
