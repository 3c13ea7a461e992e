"""What an export holds: which tables and columns, how each is partitioned, and each column's Parquet type.

The tables are the ones a reader of the Datasette view sees: every table :data:`~amiga_analytics.store.tables.TABLES`
describes, less its internal ones (``sync_state`` holds the watermarks, the transcript folders' local paths and the
merger's state; ``open_call_rows`` and ``_sqlite_migrations`` are bookkeeping), and of each table only its
described columns (SQLite's own tables, such as ``sqlite_stat1``, are described nowhere and never exported).

Partitioning, hive style, one file a partition (``DIR/<table>/<key>=<value>/part-0.parquet``):

* a table with a ``day`` column is partitioned by it (``day=YYYY-MM-DD``);
* ``tasks`` by ``created_day``, the day a task belongs to for ever (its ``finished_day`` moves while it runs);
* ``tool_uses`` has no day column: it is partitioned by the report-timezone day of ``use_at`` (the definition of
  ``api_requests.day``), which readers see as a ``day`` column, the one column the database does not have;
* the small reference tables with no day (``model_aliases``, ``model_prices``, ``syncs``, ``data_quality``) are
  written whole, ``DIR/<table>/part-0.parquet``;
* in a store that holds several bots (``sync --bot``), every per-bot table is partitioned by its ``bot`` first:
  ``DIR/<table>/bot=<name>/day=YYYY-MM-DD/part-0.parquet`` (``DIR/syncs/bot=<name>/part-0.parquet``), so that a
  bot's sync changes only its own partitions. A store of one bot keeps the layout above (its ``bot`` column is in
  the files).

The partition column lives in the directory name, not in the file (the hive convention DuckDB and Spark
follow); a NULL key is ``__HIVE_DEFAULT_PARTITION__``, which both read as NULL. A table with no rows is written
as one empty file in that NULL partition, so that readers still find its schema.

Types: counts are int64, money and durations double, the 0/1 flags booleans, ``*_at`` times Parquet timestamps
adjusted to UTC (microseconds), days and effective dates Parquet dates; other text stays text. NULL stays NULL.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..store.state_values import state_value
from ..store.tables import INTERNAL_TABLES, TABLES

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
BOT = "bot"
FILE_NAME = "part-0.parquet"

#: table → its partition column (a column of the table), for the tables not partitioned by ``day``
PARTITION_COLUMNS = {"tasks": "created_day"}
#: table → (partition column the export adds, UTC time column whose report-timezone day it is)
DERIVED_DAYS = {"tool_uses": ("day", "use_at")}

#: table → its UTC ISO 8601 text columns, written as timestamps (``tasks.bot_updated_at`` is the bot's own text)
TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "tool_calls": ("started_at", "ended_at", "bot_ended_at"),
    "tasks": ("created_at", "finished_at"),
    "agent_events": ("at",),
    "router_messages": ("at",),
    "api_requests": ("requested_at",),
    "tool_uses": ("use_at", "result_at"),
    "syncs": ("started_at", "finished_at"),
}
#: table → its YYYY-MM-DD text columns, written as dates
DATES: dict[str, tuple[str, ...]] = {
    "tool_calls": ("day",),
    "tasks": ("created_day", "finished_day"),
    "agent_events": ("day",),
    "router_messages": ("day",),
    "api_requests": ("day",),
    "tool_daily": ("day",),
    "model_aliases": ("effective_from",),
    "model_prices": ("effective_from",),
}
#: table → its 0/1 integer columns, written as booleans
BOOLEANS: dict[str, tuple[str, ...]] = {
    "tool_calls": ("has_tokens", "interrupted"),
    "agent_events": ("tool_success",),
    "router_messages": ("created_task",),
    "api_requests": ("fast",),
}
#: SQLite declared type → kind, for the columns not named above
DECLARED = {"INTEGER": "int", "REAL": "float", "TEXT": "text"}
KINDS = ("int", "float", "bool", "text", "timestamp", "date")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of KINDS


@dataclass(frozen=True)
class ExportTable:
    """One table as exported: its columns in file order, its partition column and the order rows are read in."""

    name: str
    columns: tuple[Column, ...]  # the file's columns (without the partition column)
    partition: str | None  # partition column (None: written whole)
    derived_from: str | None  # for a derived day: the UTC time column it comes from
    order_by: tuple[str, ...]  # the key columns, the order of the rows in a file
    by_bot: bool = False  # partitioned by ``bot`` first (a store of several bots)

    @property
    def select_columns(self) -> tuple[str, ...]:
        """The columns read from SQLite: the partition columns first (the bot, the day when it is the table's),
        then the file's."""
        own = () if self.partition is None or self.derived_from else (self.partition,)
        return (BOT,) * self.by_bot + own + tuple(c.name for c in self.columns)

    @property
    def skip(self) -> int:
        """How many leading values of a row read with :attr:`select_columns` are not in the file."""
        return self.by_bot + (0 if self.partition is None or self.derived_from else 1)

    def order_sql(self) -> str:
        lead = [self.derived_from] if self.derived_from else [self.partition] if self.partition else []
        return ", ".join(f'"{c}"' for c in [BOT] * self.by_bot + lead + list(self.order_by))

    def relative_path(self, value: str | None, bot: str | None = None) -> str:
        """Where the partition with key ``value`` (of ``bot``, when partitioned by bot) lives, relative to the
        export directory (``/`` separated)."""
        head = f"{self.name}/{BOT}={NULL_PARTITION if bot is None else bot}" if self.by_bot else self.name
        if self.partition is None:
            return f"{head}/{FILE_NAME}"
        return f"{head}/{self.partition}={NULL_PARTITION if value is None else value}/{FILE_NAME}"

    def schema_spec(self) -> list[list[str]]:
        """``[[column, kind], …]`` (the partition columns last, as readers see them), for the manifest."""
        spec = [[c.name, c.kind] for c in self.columns] + [[BOT, "text"]] * self.by_bot
        if self.partition is not None:
            spec.append([self.partition, "date"])
        return spec


def kind_of(table: str, column: str, declared: str) -> str:
    """The export kind of one column (see the module's docstring)."""
    if column in TIMESTAMPS.get(table, ()):
        return "timestamp"
    if column in DATES.get(table, ()):
        return "date"
    if column in BOOLEANS.get(table, ()):
        return "bool"
    kind = DECLARED.get(declared.upper())
    if kind is None:
        raise ValueError(f"{table}.{column}: no export type for the declared type {declared!r}")
    return kind


def exported_table_names() -> list[str]:
    return [name for name in TABLES if name not in INTERNAL_TABLES]


def partition_of(table: str, columns: list[str]) -> tuple[str | None, str | None]:
    """(partition column, the time column it is derived from or None) of ``table`` with ``columns``."""
    if table in DERIVED_DAYS:
        return DERIVED_DAYS[table]
    if table in PARTITION_COLUMNS:
        return PARTITION_COLUMNS[table], None
    return ("day", None) if "day" in columns else (None, None)


def several_bots(conn: sqlite3.Connection) -> bool:
    """Whether the store holds more than one bot (the registry of ``sync --bot``, ``sync_state`` key ``bots``)."""
    return len(state_value(conn, "bots") or {}) > 1


def export_tables(conn: sqlite3.Connection) -> list[ExportTable]:
    """The tables an export of the database on ``conn`` holds, in :data:`TABLES` order (absent ones skipped)."""
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    by_bots = several_bots(conn)
    out = []
    for name in exported_table_names():
        if name not in present:
            continue
        described = TABLES[name]["columns"]
        info = [r for r in conn.execute(f'PRAGMA table_info("{name}")') if r[1] in described]
        names = [r[1] for r in info]
        partition, derived = partition_of(name, names)
        by_bot = by_bots and BOT in names
        outside = {partition} | ({BOT} if by_bot else set())  # in the path, not the file
        keys = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])) or tuple(names)
        columns = tuple(Column(r[1], kind_of(name, r[1], r[2])) for r in info if r[1] not in outside)
        out.append(ExportTable(name, columns, partition, derived, tuple(k for k in keys if k not in outside),
                               by_bot))
    return out
