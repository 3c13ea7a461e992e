"""Opening analytics databases.

>>> import amiga_analytics as aa
>>> aa.connect("no-such.db")
Traceback (most recent call last):
...
amiga_analytics.errors.NotAnAnalyticsDatabase: no-such.db: no such analytics database; create it with `amiga-analytics sync BOT_DB no-such.db`
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from . import analytics_schema
from .errors import NotAnAnalyticsDatabase


def read_only_connection(path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open ``path`` read-only (``mode=ro``): no write, no file created, whatever characters the path holds.

    A WAL database in a directory we cannot write, and with no ``-shm`` file, cannot be opened with ``mode=ro``;
    with no ``-shm`` no connection has it open in WAL mode, so it is opened ``immutable=1`` instead.
    """
    path = Path(path)
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=check_same_thread)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        with path.open("rb") as f:
            is_wal = f.read(20)[18:20] == b"\x02\x02"
        if not is_wal or Path(f"{path}-shm").exists():
            raise
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=check_same_thread)


def _recover_interrupted_write(path: Path) -> None:
    """A sync killed mid-transaction leaves a hot ``-journal``; one read-write open rolls it back."""
    if Path(f"{path}-journal").exists() and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()


def open_analytics(path) -> sqlite3.Connection:
    """Open an existing analytics database read-only (``mode=ro``), or raise ``NotAnAnalyticsDatabase``."""
    path = Path(path)
    if not path.is_file():
        raise NotAnAnalyticsDatabase(
            f"{path}: no such analytics database; create it with `amiga-analytics sync BOT_DB {path}`"
        )
    conn = None
    try:
        _recover_interrupted_write(path)
        conn = read_only_connection(path, check_same_thread=False)
        ok = analytics_schema.is_analytics_database(Database(conn))
    except sqlite3.DatabaseError:
        ok = False
    if not ok:
        if conn is not None:
            conn.close()
        raise NotAnAnalyticsDatabase(
            f"{path} is not an analytics database written by amiga-analytics; "
            f"give the file `amiga-analytics sync` wrote, or a new path to create one"
        )
    return conn


def connect(path) -> Database:
    """A read-only ``sqlite_utils.Database`` on an analytics database.

    Every query function also accepts a path (or an already open ``Database``).
    """
    if isinstance(path, Database):
        return path
    return Database(open_analytics(path))


def sync_state(db: Database) -> dict:
    """The settings and watermarks the last sync recorded (``source_tz``, ``report_tz``, …)."""
    return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM sync_state").fetchall()}


def report_tz(db: Database) -> str:
    """The report timezone the analytics database was built with (days and weeks are in it)."""
    return sync_state(db).get("report_tz") or "UTC"
