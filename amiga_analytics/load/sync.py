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
import os
import re
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ..bot.snapshot import Snapshot, SnapshotChanged, is_undecodable_text, open_snapshot
from ..errors import InputError
from ..store import schema as analytics_schema
from ..timeutil import local_zone_name, zone
from .bots import check_plain_sync
from .loader import Loader, sorting
from .pricing import PriceBook
from .progress import ProgressCallback, progress_callback
from .quality import QUALITY_CHECKS
from .rows import error_kind
from .salt import config_dir, user_ref_salt
from .sql import DEFERRABLE_INDEXES_SQL, LOOKUP_INDEXES, TOOL_CALL_COLUMNS
from .state import GENAI_ROWS_KEY, NeedsFull, Options, SyncResult, read_state, record_seconds, source_identity
from .transcripts.persist import CARRY_KEY, DIRS_KEY
from .transcripts.step import check_dirs

__all__ = [
    "QUALITY_CHECKS", "TOOL_CALL_COLUMNS", "ProgressCallback", "SyncResult", "config_dir", "error_kind", "sync",
    "user_ref_salt",
]


def sync(
    bot_db: str | os.PathLike,
    analytics_db: str | os.PathLike,
    *,
    source_tz: str | None = None,
    full: bool = False,
    progress: bool | ProgressCallback | None = False,
    report_tz: str | None = None,
    prices: str | os.PathLike | None = None,
    aliases: str | os.PathLike | None = None,
    default_model: str | None = None,
    keep_message_content: bool = False,
    transcripts: Iterable[str | os.PathLike] | None = None,
    bot: str | None = None,
) -> SyncResult:
    """Load ``bot_db`` (the bot's ``agentlab.db``) into ``analytics_db``; incremental unless ``full``.

    ``source_tz`` is the zone of the bot host's clock (default: the zone recorded by the previous sync, else this
    machine's); ``report_tz`` the zone of days and weeks (default: the one given to a previous sync, else the
    source zone). ``prices`` and ``aliases`` are
    CSV files that override or extend the shipped tables. ``progress`` is a callback
    ``progress(label, done, total)`` for the long steps (see :mod:`.progress`), ``True`` for a plain bar on
    stderr, or false for none. ``transcripts``: Claude config directories (or their ``projects/`` folders) whose
    session transcripts are read as the second witness (see :mod:`.transcripts.witness`); they are remembered, so
    later syncs read them again (only what is new) without being told. ``bot``: load it as that bot of a store
    that holds several (:mod:`.bots_sync`); without it the store holds one bot, ``main``. Raises ``InputError`` for
    bad input; the bot's file and the transcripts are only ever read.
    """
    if bot is not None:
        from .bots_sync import sync_bot

        forwarded: dict[str, Any] = dict(source_tz=source_tz, full=full, progress=progress, report_tz=report_tz,
                                         prices=prices, aliases=aliases, default_model=default_model,
                                         keep_message_content=keep_message_content, transcripts=transcripts)
        return sync_bot(bot_db, analytics_db, bot=bot, **forwarded)
    started = time.perf_counter()
    bot_path, analytics_path = Path(bot_db), Path(analytics_db)
    _check_target(bot_path, analytics_path)
    previous = read_state(analytics_path, raw=(CARRY_KEY,))  # decoded by the transcripts' step, when it runs
    check_plain_sync(previous, analytics_path)
    book = PriceBook.load(None if prices is None else Path(prices), None if aliases is None else Path(aliases),
                          cached=previous.get(GENAI_ROWS_KEY))
    settings = _settings(previous, book, source_tz=source_tz, report_tz=report_tz, default_model=default_model,
                         keep_message_content=keep_message_content)
    given = check_dirs(transcripts or [])
    options = Options(settings, book, default_model, keep_message_content, progress_callback(progress), given,
                      bot_db=bot_path.name, price_files={name: str(Path(path).resolve()) for name, path in
                                                         (("prices", prices), ("aliases", aliases)) if path})
    try:
        result = _sync_snapshot(bot_path, analytics_path, full, previous, options, lenient_text=False)
    except sqlite3.OperationalError as exc:
        if not is_undecodable_text(exc):
            raise
        # Text that is not valid UTF-8: read it again, decoding leniently (slower, so only when needed).
        result = _sync_snapshot(bot_path, analytics_path, full, previous, options, lenient_text=True)
    result.seconds = time.perf_counter() - started
    _zone_origins(result, previous, settings, source_tz, report_tz)
    record_seconds(analytics_path, result.seconds)
    return result


#: The ``sync_state`` keys :func:`_settings` reads.
SETTINGS_KEYS = ("source_tz", "settings", "report_tz")


def _settings(previous: dict, book: PriceBook, *, source_tz: str | None, report_tz: str | None,
              default_model: str | None, keep_message_content: bool) -> dict:
    """This sync's settings: a change from the previous sync's forces a full sync. Zones not given are taken
    from the previous sync (``report_tz`` only if it was given explicitly then), else this machine's zone."""
    source_tz = source_tz or previous.get("source_tz") or local_zone_name()
    zone(source_tz)
    previous_settings = previous.get("settings") or {}
    report_tz_explicit = bool(report_tz) or bool(previous_settings.get("report_tz_explicit"))
    report_tz = report_tz or (previous.get("report_tz") if report_tz_explicit else None) or source_tz
    zone(report_tz)
    return {
        "source_tz": source_tz,
        "report_tz": report_tz,
        "report_tz_explicit": report_tz_explicit,
        "default_model": default_model or "",
        "keep_message_content": bool(keep_message_content),
    }


def _zone_origins(result: SyncResult, previous: dict, settings: dict, source_tz: str | None,
                  report_tz: str | None) -> None:
    """Where this sync's zones came from (for the summary, and the CLI's warning about the machine's zone)."""
    result.source_tz, result.report_tz = settings["source_tz"], settings["report_tz"]
    result.source_tz_origin = ("--source-tz" if source_tz else "the previous sync" if previous.get("source_tz")
                               else "this machine")
    result.report_tz_origin = ("--report-tz" if report_tz else "the previous sync's --report-tz"
                               if settings["report_tz_explicit"] else "the source zone")


def _sync_snapshot(bot_db: Path, analytics_db: Path, full: bool, previous: dict, options: Options, *,
                   lenient_text: bool) -> SyncResult:
    """One sync from one snapshot. A stopped bot's database is read in place first (no copy); if the bot opened
    or wrote it meanwhile, nothing was committed and the sync is redone from a fresh snapshot (see
    :mod:`..bot.snapshot`)."""
    try:
        return _sync_once(bot_db, analytics_db, full, previous, options, lenient_text=lenient_text, in_place=True)
    except SnapshotChanged:
        return _sync_once(bot_db, analytics_db, full, previous, options, lenient_text=lenient_text, in_place=False)


def _sync_once(bot_db: Path, analytics_db: Path, full: bool, previous: dict, options: Options, *,
               lenient_text: bool, in_place: bool) -> SyncResult:
    with open_snapshot(bot_db, lenient_text=lenient_text, in_place=in_place) as snap:
        mode, reason = _choose_mode(full, analytics_db, previous, options.settings, snap)
        if mode == "incremental":
            try:
                return _run_incremental(snap, analytics_db, previous, options)
            except NeedsFull as why:
                reason = str(why)
        return _run_full(snap, analytics_db, previous, options, reason)


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
    # Whether an existing file is an analytics database is checked once, by read_state, which opens it next.


def _choose_mode(full: bool, analytics_db: Path, previous: dict, settings: dict, snap: Snapshot) -> tuple[str, str]:
    if full:
        return "full", "--full"
    if not analytics_db.exists():
        return "full", "first sync"
    if previous.get("settings") != settings:
        changed = sorted(k for k in settings if (previous.get("settings") or {}).get(k) != settings[k])
        return "full", "settings changed: " + ", ".join(changed)
    if previous.get("source") != source_identity(snap):
        return "full", "different bot database"
    return "incremental", "new rows only"


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


def _build(conn: sqlite3.Connection, indexes: list[str]) -> None:
    with sorting(conn):
        for sql in indexes:
            conn.execute(sql)


def _run_full(snap: Snapshot, analytics_db: Path, previous: dict, options: Options, reason: str) -> SyncResult:
    _remove_stale_temps(analytics_db)
    temp = _temp_path(analytics_db)
    conn = sqlite3.connect(temp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -32768")  # 32 MB: page cache and sorter memory count in peak RSS
        conn.execute("BEGIN")
        analytics_schema.migrate(Database(conn))
        # Indexes are cheaper built once over the loaded tables than maintained row by row.
        deferred = conn.execute(DEFERRABLE_INDEXES_SQL).fetchall()
        for name, _, _ in deferred:
            conn.execute(f"DROP INDEX [{name}]")
        # What the transcripts' reader carried over: a rebuild keeps what earlier syncs loaded from them.
        kept = {k: previous[k] for k in (DIRS_KEY, CARRY_KEY) if k in previous}
        loader = Loader(conn, snap, options, state=kept, mode="full", target=analytics_db)
        first = {name for name, _, table in deferred if name in LOOKUP_INDEXES or table == "agent_events"}
        lookup = [sql for name, sql, _ in deferred if name in first]
        rest = [sql for name, sql, _ in deferred if name not in first]
        result = loader.run(reason, before_join=lambda: _build(conn, lookup), before_rollups=lambda: _build(conn, rest))
        snap.verify()  # read in place: the bot did not write meanwhile (else SnapshotChanged, and a redo)
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


def _run_incremental(snap: Snapshot, analytics_db: Path, previous: dict, options: Options) -> SyncResult:
    conn = sqlite3.connect(analytics_db, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA cache_size = -32768")  # 32 MB: page cache and sorter memory count in peak RSS
        conn.execute("BEGIN IMMEDIATE")
        try:
            analytics_schema.migrate(Database(conn))
            loader = Loader(conn, snap, options, state=dict(previous), mode="incremental", target=analytics_db)
            result = loader.run("new rows only")
            snap.verify()  # read in place: the bot did not write meanwhile (else SnapshotChanged, and a redo)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return result
