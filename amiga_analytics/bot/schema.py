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
* :data:`STEPS` holds one step per bot version, each a function registered with ``@_step(N)``. Like the bot's
  migrations, every step is idempotent. Steps use sqlite-utils (``table.create``, ``add_column`` guarded by
  ``columns_dict``, ``create_index`` with ``DescIndex``). The bot's tables that sqlite-utils cannot declare
  (a ``BOOLEAN`` type, ``AUTOINCREMENT``, a column ``UNIQUE``, a nullable column with a default) are created with
  the bot's own DDL, kept below as UPPER_CASE constants.
* sqlite-utils' ``Migrations`` is deliberately not used here. It records steps by name in its own
  ``_sqlite_migrations`` table, which would put a foreign table into the bot's file, and it could not recognise a
  database the bot migrated itself. The bot's version lives in ``schema_version``, so that table is what we read
  and write. (The analytics database, which we own, does use ``Migrations``: see ``analytics_schema.py``.)
* Each step runs in its own transaction together with a ``schema_version`` row for its version. The same
  transaction deletes the row that the previous step of the same run wrote. An interrupted run therefore leaves the
  file at the last version it completed, and both we and the bot resume from there. A finished run leaves exactly
  one new row, the one the bot writes.
* The unversioned ``messages`` table is not part of the bot's migrations: the bot's ``AnalyticsDB`` creates it
  when the monitoring server starts. A *new* v14 database gets it, as ``v14.sql`` and real bot databases have it.
  :func:`migrate` never adds it to an existing database, and neither does the bot (see
  ``v1-upgraded-to-v14.sql``), so readers must treat ``messages`` as optional.
* Checking never writes. :func:`check_bot_database` and :func:`detect_version` open the file read-only (SQLite
  may still create the usual empty ``-wal``/``-shm`` companions of a WAL database, as any reader does).
  ``migrate(dry_run=True)`` replays the pending steps on an in-memory copy of the schema and reports their SQL.
  A real run first makes a backup with the SQLite backup API, which copies a WAL database consistently.
"""

from __future__ import annotations

import os
import sqlite3
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.db import DescIndex, Table

from ..sqlitefile import read_only_connection
from ..errors import InputError, NotABotDatabase

BOT_SCHEMA_VERSION = 14
# Tables without which a file is not a bot database at all (the sync step reads these two).
REQUIRED_TABLES = ("tasks", "tool_usage")
SQLITE_HEADER = b"SQLite format 3\x00"
# Statements worth showing in a plan (the rest are sqlite-utils' own PRAGMA/SELECT look-ups).
WRITE_KEYWORDS = ("CREATE", "ALTER", "INSERT", "DELETE", "UPDATE", "DROP")

CREATE_TOOL_USAGE = """
CREATE TABLE IF NOT EXISTS tool_usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    task_id TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    duration_ms REAL,
    success BOOLEAN,
    error TEXT,
    parameters TEXT  -- JSON blob
)"""

CREATE_AGENT_STATUS = """
CREATE TABLE IF NOT EXISTS agent_status (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    metadata TEXT  -- JSON blob
)"""

CREATE_GAMES = """
CREATE TABLE IF NOT EXISTS games (
    game_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    game_type TEXT NOT NULL,
    status TEXT NOT NULL,
    score INTEGER DEFAULT 0,
    level INTEGER DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state_data TEXT  -- JSON blob with game state
)"""

CREATE_USERS = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    username TEXT UNIQUE NOT NULL,
    email TEXT UNIQUE NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT 0
)"""

CREATE_DOCUMENTS = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    task_id TEXT,
    notes TEXT,
    FOREIGN KEY (task_id) REFERENCES tasks(task_id)
)"""

CREATE_MESSAGES = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tokens_input INTEGER,
    tokens_output INTEGER,
    cache_creation_tokens INTEGER,
    cache_read_tokens INTEGER,
    conversation_id TEXT,
    input_method TEXT,
    has_image BOOLEAN DEFAULT 0,
    model TEXT
)"""

# sqlite-utils' add_column can give a default only together with NOT NULL; the bot's column is nullable.
ADD_TASKS_PHASE_NUMBER = "ALTER TABLE tasks ADD COLUMN phase_number INTEGER DEFAULT 0"

MAX_VERSION_SQL = "SELECT MAX(version) FROM schema_version"
RECORD_VERSION_SQL = "INSERT INTO schema_version (version, applied_at) VALUES (:version, :applied_at)"
FORGET_VERSION_SQL = "DELETE FROM schema_version WHERE version = :version"
TABLE_NAMES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"
COLUMN_NAMES_SQL = "SELECT name FROM pragma_table_info(:table)"
# Everything but SQLite's internal objects, tables first, so that it can be replayed into an empty database.
SCHEMA_SQL = (
    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
    "ORDER BY type != 'table', rowid"
)


# --------------------------------------------------------------------------------------------------------------
# The steps


@dataclass(frozen=True)
class Step:
    """One bot schema version (``version`` None: the unversioned ``messages`` table)."""

    version: int | None
    name: str
    fn: Callable[[Database], None]

    @property
    def description(self) -> str:
        """First line of the step function's docstring."""
        return (self.fn.__doc__ or self.name).strip().splitlines()[0]


STEPS: list[Step] = []


def _step(version: int) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
    def register(fn: Callable[[Database], None]) -> Callable[[Database], None]:
        STEPS.append(Step(version, fn.__name__, fn))
        return fn

    return register


def _add_columns(db: Database, table: str, columns: dict[str, type]) -> None:
    """Add the columns the table lacks, at the end (like the bot, which checks ``PRAGMA table_info`` first)."""
    existing = db.table(table).columns_dict
    for name, col_type in columns.items():
        if name not in existing:
            db.table(table).add_column(name, col_type)


def _index(table: Table, name: str, columns: list[str]) -> None:
    table.create_index(columns, index_name=name, if_not_exists=True)


@_step(1)
def m001_create_core_tables(db: Database) -> None:
    """Create tasks, tool_usage and agent_status, and their indexes."""
    tasks = db.table("tasks")
    if not tasks.exists():
        tasks.create(
            {
                "task_id": str, "user_id": int, "description": str, "status": str, "created_at": str,
                "updated_at": str, "model": str, "workspace": str, "agent_type": str, "result": str, "error": str,
                "pid": int, "activity_log": str, "session_uuid": str,
            },
            pk="task_id",
            not_null={"user_id", "description", "status", "created_at", "updated_at", "model", "workspace",
                      "agent_type"},
            defaults={"agent_type": "code_agent"},
        )
    db.execute(CREATE_TOOL_USAGE)
    db.execute(CREATE_AGENT_STATUS)
    _index(tasks, "idx_tasks_user_status", ["user_id", "status", DescIndex("created_at")])
    _index(tasks, "idx_tasks_created", [DescIndex("created_at")])
    _index(tasks, "idx_tasks_status", ["status"])
    tool_usage = db.table("tool_usage")
    _index(tool_usage, "idx_tool_timestamp", [DescIndex("timestamp")])
    _index(tool_usage, "idx_tool_task", ["task_id"])
    _index(tool_usage, "idx_tool_name", ["tool_name"])
    agent_status = db.table("agent_status")
    _index(agent_status, "idx_status_timestamp", [DescIndex("timestamp")])
    _index(agent_status, "idx_status_task", ["task_id"])


@_step(2)
def m002_create_games(db: Database) -> None:
    """Create games (never written in production)."""
    db.execute(CREATE_GAMES)
    games = db.table("games")
    _index(games, "idx_games_user_status", ["user_id", "status", DescIndex("updated_at")])
    _index(games, "idx_games_user_type", ["user_id", "game_type"])


@_step(3)
def m003_add_tasks_workflow(db: Database) -> None:
    """Add tasks.workflow."""
    _add_columns(db, "tasks", {"workflow": str})


@_step(4)
def m004_add_tasks_context(db: Database) -> None:
    """Add tasks.context."""
    _add_columns(db, "tasks", {"context": str})


@_step(5)
def m005_add_tool_usage_error_category(db: Database) -> None:
    """Add tool_usage.error_category."""
    _add_columns(db, "tool_usage", {"error_category": str})


@_step(6)
def m006_add_tool_usage_screenshot_path(db: Database) -> None:
    """Add tool_usage.screenshot_path."""
    _add_columns(db, "tool_usage", {"screenshot_path": str})


@_step(7)
def m007_create_files(db: Database) -> None:
    """Create files (never written in production)."""
    files = db.table("files")
    if not files.exists():
        files.create(
            {
                "file_path": str, "first_seen": str, "last_accessed": str, "access_count": int, "task_ids": str,
                "operations": str, "file_size": int, "file_hash": str,
            },
            pk="file_path",
            not_null={"first_seen", "last_accessed", "access_count"},
            defaults={"access_count": 0},
        )
    _index(files, "idx_files_last_accessed", [DescIndex("last_accessed")])
    _index(files, "idx_files_access_count", [DescIndex("access_count")])


@_step(8)
def m008_create_users(db: Database) -> None:
    """Create users (web-chat accounts)."""
    db.execute(CREATE_USERS)
    users = db.table("users")
    _index(users, "idx_users_username", ["username"])
    _index(users, "idx_users_email", ["email"])


@_step(9)
def m009_add_tasks_session_uuid(db: Database) -> None:
    """Add tasks.session_uuid (already there unless the database predates the repository)."""
    _add_columns(db, "tasks", {"session_uuid": str})


@_step(10)
def m010_add_tool_usage_tokens(db: Database) -> None:
    """Add the four token columns to tool_usage."""
    _add_columns(db, "tool_usage", {"input_tokens": int, "output_tokens": int, "cache_creation_tokens": int,
                                    "cache_read_tokens": int})


@_step(11)
def m011_add_tasks_phase(db: Database) -> None:
    """Add tasks.current_phase and tasks.phase_number."""
    _add_columns(db, "tasks", {"current_phase": str})
    if "phase_number" not in db.table("tasks").columns_dict:
        db.execute(ADD_TASKS_PHASE_NUMBER)


@_step(13)
def m013_create_documents(db: Database) -> None:
    """Create documents (the schema's only foreign key, to tasks)."""
    db.execute(CREATE_DOCUMENTS)
    documents = db.table("documents")
    _index(documents, "idx_documents_status", ["status"])
    _index(documents, "idx_documents_path", ["path"])
    _index(documents, "idx_documents_task_id", ["task_id"])


@_step(14)
def m014_add_tasks_last_agent_type(db: Database) -> None:
    """Add tasks.last_agent_type."""
    _add_columns(db, "tasks", {"last_agent_type": str})


def create_messages(db: Database) -> None:
    """Create messages (unversioned; the bot's AnalyticsDB makes it when the monitoring server starts)."""
    db.execute(CREATE_MESSAGES)
    messages = db.table("messages")
    _index(messages, "idx_messages_user_timestamp", ["user_id", DescIndex("timestamp")])
    _index(messages, "idx_messages_timestamp", [DescIndex("timestamp")])
    _index(messages, "idx_messages_conversation", ["conversation_id", "timestamp"])


MESSAGES_STEP = Step(None, "create_messages", create_messages)
VERSIONS = tuple(step.version for step in STEPS)  # (1, 2, ..., 11, 13, 14): no v12, ever

# What each version added, for databases that have bot tables but no schema_version rows to say so.
VERSION_MARKERS: list[tuple[int, str, str | None]] = [
    (1, "tasks", None), (1, "tool_usage", None), (1, "agent_status", None),
    (2, "games", None),
    (3, "tasks", "workflow"),
    (4, "tasks", "context"),
    (5, "tool_usage", "error_category"),
    (6, "tool_usage", "screenshot_path"),
    (7, "files", None),
    (8, "users", None),
    (9, "tasks", "session_uuid"),
    (10, "tool_usage", "input_tokens"),
    (11, "tasks", "current_phase"),
    (13, "documents", None),
    (14, "tasks", "last_agent_type"),
]


# --------------------------------------------------------------------------------------------------------------
# Plans


@dataclass
class PlannedStep:
    """A step as planned or run: its version, name, one-line description and the SQL it writes with."""

    version: int | None
    name: str
    description: str
    sql: list[str] = field(default_factory=list)


@dataclass
class MigrationPlan:
    """What :func:`migrate` did, or would do with ``dry_run=True``."""

    path: Path
    from_version: int
    to_version: int
    steps: list[PlannedStep] = field(default_factory=list)
    backup_path: Path | None = None
    dry_run: bool = False
    created: bool = False

    def describe(self) -> str:
        """Human-readable summary: versions, steps (with their SQL on a dry run), backup or "nothing written"."""
        if not self.steps:
            return f"{self.path}: already at v{self.to_version}, nothing to do"
        start = "new database" if self.created else f"v{self.from_version}"
        lines = [f"{self.path}: {start} -> v{self.to_version}, {len(self.steps)} steps"]
        for step in self.steps:
            label = f"v{step.version}" if step.version is not None else "--"
            lines.append(f"  {label:<4} {step.name}: {step.description}")
            if self.dry_run:
                lines.extend(textwrap.indent(sql, " " * 7) for sql in step.sql)
        if self.dry_run:
            lines.append("dry run: nothing written")
        elif self.created:
            lines.append(f"created {self.path}")
        else:
            lines.append(f"backup: {self.backup_path}")
        return "\n".join(lines)


def _render(sql: str, parameters: object) -> str:
    text = textwrap.dedent(sql).strip()
    if isinstance(parameters, dict) and parameters:
        text += "  -- " + ", ".join(f"{key}={value!r}" for key, value in parameters.items())
    return text


def _apply(db: Database, steps: list[Step], *, applied_at: str | None = None) -> list[PlannedStep]:
    """Run ``steps`` in order, each in its own transaction with its ``schema_version`` row; return what ran."""
    done: list[PlannedStep] = []
    previous: int | None = None
    written: list[str] = []

    def trace(statement: str, parameters: object) -> None:
        if statement.lstrip().upper().startswith(WRITE_KEYWORDS):
            written.append(_render(statement, parameters))

    for step in steps:
        written = []
        with db.tracer(trace), db.atomic():
            schema_version = db.table("schema_version")
            if not schema_version.exists():
                schema_version.create({"version": int, "applied_at": str}, pk="version", not_null={"applied_at"})
            step.fn(db)
            if step.version is not None:
                db.execute(RECORD_VERSION_SQL, {"version": step.version,
                                                "applied_at": applied_at or datetime.now().isoformat()})
                if previous is not None:
                    db.execute(FORGET_VERSION_SQL, {"version": previous})
                previous = step.version
        done.append(PlannedStep(step.version, step.name, step.description, written))
    return done


def _steps_between(from_version: int, to_version: int) -> list[Step]:
    return [step for step in STEPS if step.version is not None and from_version < step.version <= to_version]


# --------------------------------------------------------------------------------------------------------------
# Reading without writing


def _open_checked(path: str | os.PathLike) -> sqlite3.Connection:
    """A read-only connection to ``path``, or :class:`NotABotDatabase` saying why the file cannot be one."""
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
        return read_only_connection(path)
    except sqlite3.DatabaseError as exc:
        raise NotABotDatabase(f"{path} cannot be read as SQLite ({exc}) - is it damaged? "
                              "Restore it from a backup") from exc


def _table_names(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute(TABLE_NAMES_SQL)}


def _version(conn: sqlite3.Connection) -> int:
    tables = _table_names(conn)
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
        return _version(db_or_path.conn)
    if isinstance(db_or_path, sqlite3.Connection):
        return _version(db_or_path)
    conn = _open_checked(db_or_path)
    try:
        return _version(conn)
    finally:
        conn.close()


def check_bot_database(path: str | os.PathLike) -> int:
    """Check that ``path`` is a bot database this package can read, without writing anything; return its version.

    Raises :class:`~amiga_analytics.errors.NotABotDatabase` (one line: what is wrong and what to do) for a missing
    path, a directory, an empty or non-SQLite or damaged file, a database without the bot's ``tasks`` and
    ``tool_usage`` tables, and a database newer than :data:`BOT_SCHEMA_VERSION`.
    """
    conn = _open_checked(path)
    try:
        tables = _table_names(conn)
        version = _version(conn)
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


# --------------------------------------------------------------------------------------------------------------
# Writing


def _build(db: Database, *, version: int, messages: bool, applied_at: str | None) -> list[PlannedStep]:
    if db.table_names():
        raise InputError("a new bot database must start empty; this one already has tables")
    db.enable_wal()
    steps = _steps_between(0, version) + ([MESSAGES_STEP] if messages else [])
    return _apply(db, steps, applied_at=applied_at)


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
        return _apply(db, steps)
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
        conn = _open_checked(path)
        try:
            schema = [sql for (sql,) in conn.execute(SCHEMA_SQL)]
        finally:
            conn.close()
        return MigrationPlan(path, current, target, _dry_run(schema, pending), dry_run=True)

    backup = _backup(path)
    try:
        db = Database(path, execute_plugins=False)
        try:
            planned = _apply(db, pending)
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        raise InputError(f"{path}: migration stopped at v{detect_version(path)} ({exc}); the backup is {backup} - "
                         "stop whatever holds the database (the bot?) and run `amiga-analytics migrate` again") from exc
    return MigrationPlan(path, current, target, planned, backup_path=backup)
