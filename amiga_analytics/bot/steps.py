"""The bot's schema history as steps: one function per bot version (v1-v11, v13, v14; there never was a v12).

Each step is idempotent, like the bot's own migrations (``core/database.py``): it creates a table only if it is
missing and adds a column only if the table lacks it. Tables that sqlite-utils cannot declare as the bot does (a
``BOOLEAN`` type, ``AUTOINCREMENT``, a column ``UNIQUE``, a nullable column with a default) are created with the
bot's own DDL, kept as package data in ``ddl/*.sql``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from sqlite_utils import Database
from sqlite_utils.db import DescIndex, Table

BOT_SCHEMA_VERSION = 14


def ddl(name: str) -> str:
    """The text of ``ddl/NAME.sql``, the bot's own statement for one table or column."""
    return resources.files(__package__).joinpath("ddl", f"{name}.sql").read_text(encoding="utf-8").strip()


CREATE_TOOL_USAGE = ddl("tool_usage")
CREATE_AGENT_STATUS = ddl("agent_status")
CREATE_GAMES = ddl("games")
CREATE_USERS = ddl("users")
CREATE_DOCUMENTS = ddl("documents")
CREATE_MESSAGES = ddl("messages")
# sqlite-utils' add_column can give a default only together with NOT NULL; the bot's column is nullable.
ADD_TASKS_PHASE_NUMBER = ddl("tasks_phase_number")


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
