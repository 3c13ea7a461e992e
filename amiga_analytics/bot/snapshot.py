"""Read the live bot database: read-only, one consistent snapshot, any schema version 1..14.

The bot keeps writing (WAL) while we read. :func:`open_snapshot` opens the file with ``mode=ro`` (the bot's
file is never written and no write lock is ever taken) and starts one read transaction; in WAL mode that pins
one consistent snapshot of every table without blocking the bot's writers. Columns are always selected by name,
and a column an older schema lacks is read as NULL, so a v1 database reads with v14 meaning.

The sync never creates a file in the bot's directory. A connection to a WAL database needs the ``-wal`` and
``-shm`` files; when the bot is stopped they are gone (its last connection checkpoints and deletes them), and a
``mode=ro`` open in a directory the sync's user may write would create them, owned by that user, so that the
bot's next write fails ("attempt to write a readonly database"). So a WAL database whose ``-shm`` or ``-wal``
is missing is read from a private copy instead (:func:`_private_copy`): while either is missing no connection
has the database open (every WAL connection holds both for its whole life), so the main file and a leftover
``-wal`` (a crashed bot's) are at rest; the copy is taken, then checked: if the bot opened the database
meanwhile (its ``-shm`` appeared, or the files changed size, time or inode), it is taken again, or the live
files are read in place once both exist. SQLite recovers a leftover ``-wal`` in the copy, as the bot would.
The copy's directory is removed when the block ends, and one a killed sync left is swept by the next
(:mod:`.scratch`).

Copying costs seconds on a large database, so a caller that can redo its work asks for ``in_place``: a WAL
database with neither ``-wal`` nor ``-shm`` (a clean shutdown: every commit is in the main file) is then read
in place with ``immutable=1``, which creates no file and takes no lock. SQLite then trusts the file not to
change, so the caller calls :meth:`Snapshot.verify` after its last read and before it commits anything:
:class:`SnapshotChanged` if the bot opened or wrote the database meanwhile (its size, time or inode changed,
or a ``-wal`` or ``-shm`` appeared), and the caller redoes its work from a fresh snapshot without ``in_place``
(a private copy, or the live files read in place). A read that fails while the file changed raises
:class:`SnapshotChanged` too. A leftover ``-wal`` (a crashed bot) is always read from a private copy.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import InputError, NotABotDatabase
from ..sqlitefile import read_only_connection
from .check import check_bot_database
from .scratch import scratch_directory

COPY_ATTEMPTS = 5

# Every column the sync reads, per bot table, in the order the sync expects them.
COLUMNS = {
    "tool_usage": (
        "id", "timestamp", "task_id", "tool_name", "parameters", "success", "error", "error_category",
        "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
    ),
    "tasks": (
        "task_id", "user_id", "status", "created_at", "updated_at", "model", "agent_type", "workflow",
        "last_agent_type", "current_phase", "session_uuid", "description", "error",
    ),
    "agent_status": ("id", "timestamp", "task_id", "status", "message", "metadata"),
    "messages": (
        "id", "user_id", "timestamp", "role", "content", "tokens_input", "tokens_output", "input_method", "model",
    ),
}

TOOL_USAGE_COUNTS_SQL = "SELECT COUNT(*), COALESCE(SUM(success IS NULL), 0) FROM tool_usage WHERE id <= :watermark"
MAX_ID_SQL = "SELECT COALESCE(MAX(id), 0) FROM {table}"


class SnapshotChanged(Exception):
    """The bot database read in place (``immutable=1``) changed while it was read: redo from a fresh snapshot."""


class Snapshot:
    """A read transaction on the bot database, with helpers that select by column name."""

    def __init__(self, conn: sqlite3.Connection, path: Path, version: int, identity: tuple | None = None):
        self.conn = conn
        self.path = path
        self.version = version
        self._columns: dict[str, set[str]] = {}
        self._identity = identity  # what the file was when an in-place (immutable) read began, else None

    @property
    def in_place(self) -> bool:
        """True if this snapshot reads an at-rest database in place (``immutable=1``) and must be verified."""
        return self._identity is not None

    def changed(self) -> bool:
        """True if the database read in place was opened or written since the snapshot began."""
        return self._identity is not None and _identity(self.path) != self._identity

    def verify(self) -> None:
        """Raise :class:`SnapshotChanged` if what was read in place may not be one consistent snapshot: call it
        after the last read and before committing anything read. A no-op for a copy or a live read."""
        if self.changed():
            raise SnapshotChanged(f"{self.path} changed while it was read in place")

    def has_table(self, table: str) -> bool:
        return bool(self.columns(table))

    def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            rows = self.conn.execute(f"PRAGMA table_info([{table}])").fetchall()
            self._columns[table] = {r[1] for r in rows}
        return self._columns[table]

    def select_list(self, table: str) -> str:
        """``a, b, NULL AS c``: the wanted columns of ``table``, NULL for the ones this schema lacks."""
        present = self.columns(table)
        return ", ".join(f"[{c}]" if c in present else f"NULL AS [{c}]" for c in COLUMNS[table])

    def rows(self, table: str, where: str = "", params: dict | None = None, order: str = "") -> sqlite3.Cursor:
        if not self.has_table(table):
            return self.conn.execute("SELECT 1 WHERE 0")
        sql = f"SELECT {self.select_list(table)} FROM [{table}]"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        return self.conn.execute(sql, params or {})

    def max_id(self, table: str) -> int:
        if not self.has_table(table):
            return 0
        return self.conn.execute(MAX_ID_SQL.format(table=table)).fetchone()[0]

    def tool_usage_counts(self, watermark: int) -> tuple[int, int]:
        """(rows, rows with success NULL) among ids up to the watermark: how the sync notices rewritten history."""
        return tuple(self.conn.execute(TOOL_USAGE_COUNTS_SQL, {"watermark": watermark}).fetchone())


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def is_undecodable_text(exc: BaseException) -> bool:
    """True for the error SQLite's default text conversion raises on text that is not valid UTF-8."""
    return isinstance(exc, sqlite3.OperationalError) and "decode" in str(exc)


def _is_wal(path: Path) -> bool:
    """True if ``path`` is a SQLite file in WAL mode (header bytes 18-19 are 2), False otherwise or if unreadable."""
    try:
        with path.open("rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return header[:16] == b"SQLite format 3\x00" and header[18:20] == b"\x02\x02"


def _at_rest(path: Path) -> bool:
    """A WAL database no connection has open: its ``-shm`` or ``-wal`` is missing (a live one has both)."""
    return _is_wal(path) and not (Path(f"{path}-shm").exists() and Path(f"{path}-wal").exists())


def _cleanly_closed(path: Path) -> bool:
    """A WAL database with neither ``-wal`` nor ``-shm``: at rest, with every commit in the main file."""
    return _is_wal(path) and not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()


def _identity(path: Path) -> tuple:
    """What changes when anyone writes the database or opens it in WAL mode: size, time and inode of the main
    file and of the ``-wal``, and whether the ``-shm`` exists."""
    out: list = []
    for name in (str(path), f"{path}-wal"):
        try:
            st = os.stat(name)
            out.append((st.st_size, st.st_mtime_ns, st.st_ino))
        except FileNotFoundError:
            out.append(None)
    out.append(Path(f"{path}-shm").exists())
    return tuple(out)


def _private_copy(path: Path, directory: Path) -> Path | None:
    """A private copy of the at-rest WAL database ``path`` (and its leftover ``-wal``) in ``directory``, or None
    if the bot opened it meanwhile (then its live files are read in place)."""
    target = directory / "agentlab.db"
    for _ in range(COPY_ATTEMPTS):
        if not _at_rest(path):
            return None
        before = _identity(path)
        shutil.copyfile(path, target)
        Path(f"{target}-wal").unlink(missing_ok=True)
        if before[1] is not None:
            shutil.copyfile(f"{path}-wal", f"{target}-wal")
        if _identity(path) == before:
            return target
    raise InputError(f"{path} kept changing while it was copied (the bot starting and stopping?): run the sync again")


def _connect(path: Path, private: bool, immutable: bool) -> sqlite3.Connection:
    if immutable:  # at rest, read in place: creates no file, takes no lock (Snapshot.verify checks it afterwards)
        return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, check_same_thread=False)
    if private:  # our own copy: a normal connection, so that SQLite can recover a leftover -wal in it
        return sqlite3.connect(path, check_same_thread=False)
    return read_only_connection(path, check_same_thread=False)


@contextmanager
def open_snapshot(path: Path | str, *, lenient_text: bool = False, in_place: bool = False) -> Iterator[Snapshot]:
    """Validate ``path`` as a bot database and hold one consistent read snapshot of it while the block runs.

    Nothing is created in the bot's directory (a WAL database at rest is read from a private copy, or with
    ``in_place`` and no ``-wal`` in place, immutable: then the caller must call :meth:`Snapshot.verify` before
    it commits). Text is decoded by SQLite's fast default; ``lenient_text`` decodes invalid UTF-8 (the bot stores
    whatever a tool printed) with replacement characters instead, for the rare database that needs it.
    """
    path = Path(path)
    with ExitStack() as stack:
        readable, identity = path, None
        if in_place and _cleanly_closed(path):
            identity = _identity(path)
        elif _at_rest(path):
            directory = scratch_directory(stack)
            readable = _private_copy(path, directory) or path
        try:
            version = check_bot_database(readable, immutable=identity is not None)
        except NotABotDatabase as exc:
            if identity is not None and _identity(path) != identity:
                raise SnapshotChanged(f"{path} changed while it was checked") from exc
            if readable == path:
                raise
            raise NotABotDatabase(str(exc).replace(str(readable), str(path))) from None
        conn = _connect(readable, readable != path, identity is not None)
        conn.isolation_level = None  # we issue BEGIN ourselves
        if lenient_text:
            conn.text_factory = _lenient_text
        snap = Snapshot(conn, path, version, identity)
        try:
            conn.execute("PRAGMA query_only = 1")
            conn.execute("BEGIN")
            # The first read starts the snapshot; everything read until the end of the block sees the same data.
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            yield snap
        except sqlite3.DatabaseError as exc:
            if snap.changed():  # a page read in place while the bot checkpointed into it: not a damaged file
                raise SnapshotChanged(f"{path} changed while it was read in place ({exc})") from exc
            raise
        finally:
            try:
                conn.rollback()
            finally:
                conn.close()
