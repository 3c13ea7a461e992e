"""The sync's step for :mod:`..store.duration_ranks` and :mod:`..store.duration_buckets`: the ranks and the
buckets of the days whose rollups were rebuilt."""

from __future__ import annotations

import sqlite3

from ..store import duration_buckets as buckets
from ..store import duration_ranks as ranks


def rebuild_duration_ranks(conn: sqlite3.Connection, days: str | None) -> None:
    """Re-rank and re-bucket the calls of ``days`` (a JSON list of days), or of every day when ``days`` is None
    (a full sync)."""
    for table in (ranks, buckets):
        if days is None:
            conn.execute(table.DELETE_ALL_SQL)
            conn.execute(table.FILL_ALL_SQL)
        else:
            conn.execute(table.DELETE_DAYS_SQL, {"days": days})
            conn.execute(table.FILL_DAYS_SQL, {"days": days})
