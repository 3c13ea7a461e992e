"""The sync's step for :mod:`..store.duration_ranks`: the ranks of the days whose rollups were rebuilt."""

from __future__ import annotations

import sqlite3

from ..store import duration_ranks as ranks


def rebuild_duration_ranks(conn: sqlite3.Connection, days: str | None) -> None:
    """Re-rank the calls of ``days`` (a JSON list of days), or of every day when ``days`` is None (a full sync)."""
    if days is None:
        conn.execute(ranks.DELETE_ALL_SQL)
        conn.execute(ranks.FILL_ALL_SQL)
    else:
        conn.execute(ranks.DELETE_DAYS_SQL, {"days": days})
        conn.execute(ranks.FILL_DAYS_SQL, {"days": days})
