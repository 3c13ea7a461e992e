"""Reading a bot database without writing: is this file one, and which schema version is it?

The file is opened read-only (SQLite may still create the usual empty ``-wal``/``-shm`` companions of a WAL
database, as any reader does). Each failure is one :class:`~amiga_analytics.errors.NotABotDatabase` line saying
what is wrong and what to do.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from ..errors import NotABotDatabase
from ..sqlitefile import read_only_connection
from .steps import BOT_SCHEMA_VERSION, VERSION_MARKERS

# Tables without which a file is not a bot database at all (the sync step reads these two).
REQUIRED_TABLES = ("tasks", "tool_usage")
SQLITE_HEADER = b"SQLite format 3\x00"
MAX_VERSION_SQL = "SELECT MAX(version) FROM schema_version"
TABLE_NAMES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"
COLUMN_NAMES_SQL = "SELECT name FROM pragma_table_info(:table)"


def open_checked(path: str | os.PathLike, *, immutable: bool = False) -> sqlite3.Connection:
    """A read-only connection to ``path`` (``immutable``: opened ``immutable=1``, creating no file), or
    :class:`NotABotDatabase` saying why the file cannot be one."""
    path = Path(path)
    if not path.exists():
        raise NotABotDatabase(f"{path}: no such file - pass the bot's data/agentlab.db, "
                              f"or create a new bot database with `amiga-analytics migrate {path}`")
    if path.is_dir():
        raise NotABotDatabase(f"{path} is a directory - pass the bot's database file, e.g. data/agentlab.db")
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if not header:
        raise NotABotDatabase(f"{path} is empty (0 bytes), not a bot database - pass the bot's data/agentlab.db, "
                              f"or delete the file and run `amiga-analytics migrate {path}` to create one")
    if header != SQLITE_HEADER:
        raise NotABotDatabase(f"{path} is not a SQLite database - pass the bot's data/agentlab.db")
    try:
        if immutable:
            return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
        return read_only_connection(path)
    except sqlite3.DatabaseError as exc:
        raise NotABotDatabase(f"{path} cannot be read as SQLite ({exc}) - is it damaged? "
                              "Restore it from a backup") from exc


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute(TABLE_NAMES_SQL)}


def version_of(conn: sqlite3.Connection) -> int:
    tables = table_names(conn)
    if "schema_version" in tables:
        (version,) = conn.execute(MAX_VERSION_SQL).fetchone()
        if version is not None:
            return int(version)
    for version, table, column in VERSION_MARKERS:
        if table not in tables or (
            column is not None and (column,) not in conn.execute(COLUMN_NAMES_SQL, {"table": table}).fetchall()
        ):
            return max((v for v, _, _ in VERSION_MARKERS if v < version), default=0)
    return VERSION_MARKERS[-1][0]


def detect_version(db_or_path: Database | sqlite3.Connection | str | os.PathLike) -> int:
    """The bot schema version of a database, as the bot itself would see it.

    That is ``MAX(version)`` in ``schema_version`` (a database the bot created has one row, one it upgraded has a
    row per upgrade event; 12 never appears). A database with the bot's tables but no ``schema_version`` rows
    (older than the bot's repository) is dated by the newest version whose columns and tables are all present.
    A database without any bot tables is version 0. A path is opened read-only.
    """
    if isinstance(db_or_path, Database):
        return version_of(db_or_path.conn)
    if isinstance(db_or_path, sqlite3.Connection):
        return version_of(db_or_path)
    conn = open_checked(db_or_path)
    try:
        return version_of(conn)
    finally:
        conn.close()


def check_bot_database(path: str | os.PathLike, *, immutable: bool = False) -> int:
    """Check that ``path`` is a bot database this package can read, without writing anything; return its version.

    Raises :class:`~amiga_analytics.errors.NotABotDatabase` (one line: what is wrong and what to do) for a missing
    path, a directory, an empty or non-SQLite or damaged file, a database without the bot's ``tasks`` and
    ``tool_usage`` tables, and a database newer than :data:`BOT_SCHEMA_VERSION`. ``immutable``: read the file
    with ``immutable=1`` (a WAL database at rest, read in place by :func:`.snapshot.open_snapshot`).
    """
    conn = open_checked(path, immutable=immutable)
    try:
        tables = table_names(conn)
        version = version_of(conn)
    except sqlite3.DatabaseError as exc:
        raise NotABotDatabase(f"{path} cannot be read as SQLite ({exc}) - is it damaged? "
                              "Restore it from a backup") from exc
    finally:
        conn.close()
    for table in REQUIRED_TABLES:
        if table not in tables:
            raise NotABotDatabase(f"{path}: no table '{table}' - is this the bot's data/agentlab.db? To create a new "
                                  "bot database, run `amiga-analytics migrate` on a path that does not exist yet")
    if version > BOT_SCHEMA_VERSION:
        raise NotABotDatabase(f"{path}: bot schema v{version} is newer than v{BOT_SCHEMA_VERSION}, the newest this "
                              "amiga-analytics knows - upgrade amiga-analytics (pip install -U amiga-analytics)")
    return version
