"""The AMIGA bot's own schema history, v1 to v14, replayed as sqlite-utils steps.

The bot (github.com/mjfuentes/amiga, ``core/database.py``) migrates its SQLite file itself. Every time it starts it
reads ``MAX(version)`` from ``schema_version``, runs its migrations ``v1`` ... ``v11``, ``v13`` and ``v14`` (there
never was a v12), and then inserts a *single* row ``(14, datetime.now().isoformat())``. This module replays that
history so that we can

* create a bot database at any of those versions, for tests and the demo generator (:func:`create_bot_database`);
* bring an existing bot database up to v14 so the sync step can read it (:func:`migrate`, CLI ``migrate``);
* tell what a file is before reading it (:func:`check_bot_database`, :func:`detect_version`).

The bot cannot tell our work from its own: tables get the same columns, indexes and foreign key
(``tests/test_bot_schema.py`` compares them with the bot's own ``vN.sql`` dumps), and ``schema_version`` gets the
row the bot would have written. So when the bot next opens the file it finds nothing left to migrate.

Design
------
* :data:`STEPS` holds one step per bot version, each a function registered with ``@_step(N)`` in ``steps.py``.
  Like the bot's migrations, every step is idempotent. Steps use sqlite-utils (``table.create``, ``add_column``
  guarded by ``columns_dict``, ``create_index`` with ``DescIndex``). The bot's tables that sqlite-utils cannot
  declare (a ``BOOLEAN`` type, ``AUTOINCREMENT``, a column ``UNIQUE``, a nullable column with a default) are
  created with the bot's own DDL, kept as package data in ``ddl/*.sql``.
* sqlite-utils' ``Migrations`` is deliberately not used here. It records steps by name in its own
  ``_sqlite_migrations`` table, which would put a foreign table into the bot's file, and it could not recognise a
  database the bot migrated itself. The bot's version lives in ``schema_version``, so that table is what we read
  and write. (The analytics database, which we own, does use ``Migrations``: see ``store/schema.py``.)
* Each step runs in its own transaction together with a ``schema_version`` row for its version. The same
  transaction deletes the row that the previous step of the same run wrote. An interrupted run therefore leaves the
  file at the last version it completed, and both we and the bot resume from there. A finished run leaves exactly
  one new row, the one the bot writes.
* The unversioned ``messages`` table is not part of the bot's migrations: the bot's ``AnalyticsDB`` creates it
  when the monitoring server starts. A *new* v14 database gets it, as ``v14.sql`` and real bot databases have it.
  :func:`migrate` never adds it to an existing database, and neither does the bot (see
  ``v1-upgraded-to-v14.sql``), so readers must treat ``messages`` as optional.
* Checking never writes (``check.py``). :func:`check_bot_database` and :func:`detect_version` open the file
  read-only (SQLite
  may still create the usual empty ``-wal``/``-shm`` companions of a WAL database, as any reader does).
  ``migrate(dry_run=True)`` replays the pending steps on an in-memory copy of the schema and reports their SQL.
  A real run first makes a backup with the SQLite backup API, which copies a WAL database consistently.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from ..errors import InputError
from ..sqlitefile import read_only_connection
from .check import REQUIRED_TABLES, SQLITE_HEADER, check_bot_database, detect_version, open_checked
from .plan import MigrationPlan, PlannedStep, apply_steps
from .steps import BOT_SCHEMA_VERSION, MESSAGES_STEP, STEPS, VERSION_MARKERS, VERSIONS, Step

__all__ = [
    "BOT_SCHEMA_VERSION", "MESSAGES_STEP", "REQUIRED_TABLES", "SQLITE_HEADER", "STEPS", "VERSIONS",
    "VERSION_MARKERS", "MigrationPlan", "PlannedStep", "Step", "check_bot_database", "create_bot_database",
    "detect_version", "migrate",
]

# Everything but SQLite's internal objects, tables first, so that it can be replayed into an empty database.
SCHEMA_SQL = (
    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
    "ORDER BY type != 'table', rowid"
)


def _steps_between(from_version: int, to_version: int) -> list[Step]:
    """The steps after ``from_version`` up to ``to_version``, from :data:`STEPS` (as this module sees it)."""
    return [step for step in STEPS if step.version is not None and from_version < step.version <= to_version]


def _build(db: Database, *, version: int, messages: bool, applied_at: str | None) -> list[PlannedStep]:
    if db.table_names():
        raise InputError("a new bot database must start empty; this one already has tables")
    db.enable_wal()
    steps = _steps_between(0, version) + ([MESSAGES_STEP] if messages else [])
    return apply_steps(db, steps, applied_at=applied_at)


def create_bot_database(path_or_db: Database | str | os.PathLike, *, version: int = BOT_SCHEMA_VERSION,
                        messages: bool | None = None, applied_at: datetime | str | None = None) -> Database:
    """Create a fresh bot database at ``version``, exactly as the bot would, and return it open.

    ``path_or_db`` is a path that does not exist yet (or is an empty file), or an empty sqlite-utils
    ``Database``. The journal mode is set to WAL, as the bot does, and ``schema_version`` gets the single row
    ``(version, applied_at)`` that the bot writes. ``applied_at`` defaults to now, as naive local ISO 8601; pass it
    for reproducible output. ``messages`` creates the unversioned ``messages`` table; by default it is created at
    v14 only, matching the bot's ``vN.sql`` dumps. The caller closes the returned database
    (``with create_bot_database(p) as db: ...``).
    """
    if version not in VERSIONS:
        raise InputError(f"there is no bot schema v{version} - the bot's versions are 1-11, 13 and 14")
    if isinstance(applied_at, datetime):
        applied_at = applied_at.isoformat()
    if messages is None:
        messages = version == BOT_SCHEMA_VERSION
    if isinstance(path_or_db, Database):
        _build(path_or_db, version=version, messages=messages, applied_at=applied_at)
        return path_or_db
    path = Path(path_or_db)
    if path.exists() and (path.is_dir() or path.stat().st_size):
        raise InputError(f"{path} already exists - choose a new path for the bot database")
    db = Database(path, execute_plugins=False)
    try:
        _build(db, version=version, messages=messages, applied_at=applied_at)
    except BaseException:
        db.close()
        raise
    return db


def _backup(path: Path) -> Path:
    """Copy ``path`` beside itself as ``NAME.bak-YYYYmmddTHHMMSS`` with the SQLite backup API."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        n += 1
    try:
        source = read_only_connection(path)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()
    except (OSError, sqlite3.Error) as exc:
        target.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the backup {target.name} beside it ({exc}) - nothing was changed; "
                         "make the directory writable and run again") from exc
    return target


def _create_file(path: Path) -> list[PlannedStep]:
    """Build a new v14 database in a temporary file beside ``path``, then move it into place."""
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    try:
        db = Database(tmp, execute_plugins=False)
        try:
            planned = _build(db, version=BOT_SCHEMA_VERSION, messages=True, applied_at=None)
        finally:
            db.close()  # the last connection to close checkpoints the WAL and removes -wal and -shm
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
    return planned


def _dry_run(schema: list[str], steps: list[Step]) -> list[PlannedStep]:
    """Run ``steps`` against an in-memory database holding ``schema``; return them with the SQL they ran."""
    db = Database(memory=True, execute_plugins=False)
    try:
        for sql in schema:
            db.execute(sql)
        return apply_steps(db, steps)
    finally:
        db.close()


def migrate(path: str | os.PathLike, *, dry_run: bool = False) -> MigrationPlan:
    """Create a bot database at ``path`` (if nothing is there yet) or upgrade it to :data:`BOT_SCHEMA_VERSION`.

    An existing file must pass :func:`check_bot_database`; an empty (0-byte) file is refused, not filled. Only
    the steps after the database's own version run, each in its own transaction, so an interrupted run leaves a
    consistent, lower version. ``schema_version`` ends with the one row the bot itself writes, so the bot does not
    migrate again. Before changing anything the file is copied to ``PATH.bak-YYYYmmddTHHMMSS``. A database already
    at v14 is left untouched, with no backup. ``dry_run=True`` writes nothing: the returned plan lists the
    pending steps with the SQL they would run, replayed on an in-memory copy of the schema.
    """
    path = Path(path)
    target = BOT_SCHEMA_VERSION
    if not path.exists() and not path.is_symlink():
        if not path.parent.is_dir():
            raise InputError(f"{path.parent}: no such directory - create it first")
        if dry_run:
            planned = _dry_run([], [*_steps_between(0, target), MESSAGES_STEP])
        else:
            planned = _create_file(path)
        return MigrationPlan(path, 0, target, planned, dry_run=dry_run, created=True)

    current = check_bot_database(path)
    pending = _steps_between(current, target)
    if not pending:
        return MigrationPlan(path, current, current)
    if dry_run:
        conn = open_checked(path)
        try:
            schema = [sql for (sql,) in conn.execute(SCHEMA_SQL)]
        finally:
            conn.close()
        return MigrationPlan(path, current, target, _dry_run(schema, pending), dry_run=True)

    backup = _backup(path)
    try:
        db = Database(path, execute_plugins=False)
        try:
            planned = apply_steps(db, pending)
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        raise InputError(f"{path}: migration stopped at v{detect_version(path)} ({exc}); the backup is {backup} - "
                         "stop whatever holds the database (the bot?) and run `amiga-analytics migrate` again") from exc
    return MigrationPlan(path, current, target, planned, backup_path=backup)
