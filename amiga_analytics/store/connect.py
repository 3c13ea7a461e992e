"""Opening analytics databases.

>>> import amiga_analytics as aa
>>> aa.connect("no-such.db")
Traceback (most recent call last):
...
amiga_analytics.errors.NotAnAnalyticsDatabase: no-such.db: no such analytics database; create it with `amiga-analytics sync BOT_DB no-such.db`
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from ..errors import NotAnAnalyticsDatabase
from ..sqlitefile import read_only_connection, recover_interrupted_write
from . import schema as analytics_schema
from .state_values import state_value


def open_analytics(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open an existing analytics database read-only (``mode=ro``), or raise ``NotAnAnalyticsDatabase``."""
    path = Path(path)
    if not path.is_file():
        raise NotAnAnalyticsDatabase(
            f"{path}: no such analytics database; create it with `amiga-analytics sync BOT_DB {path}`"
        )
    conn = None
    try:
        recover_interrupted_write(path)
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
    assert conn is not None  # ok is True only once the connection was opened
    return conn


def connect(path: str | os.PathLike[str] | Database) -> Database:
    """A read-only ``sqlite_utils.Database`` on an analytics database.

    Every query function also accepts a path (or an already open ``Database``).
    """
    if isinstance(path, Database):
        return path
    return Database(open_analytics(path))


def report_tz(db: Database) -> str:
    """The report timezone the analytics database was built with (days and weeks are in it)."""
    return state_value(db, "report_tz") or "UTC"


def store_bots(db: Database) -> list[str]:
    """The bots whose rows the analytics database holds, by name: the registry of ``sync --bot`` (``sync_state``
    key ``bots``), or ``["main"]`` for a store synced without ``--bot``."""
    return sorted(state_value(db, "bots") or {}) or ["main"]
