"""Opening SQLite files without writing them: the read-only helpers every stage shares."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


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


def recover_interrupted_write(path: Path) -> None:
    """A sync killed mid-transaction leaves a hot ``-journal``; one read-write open rolls it back."""
    if Path(f"{path}-journal").exists() and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
