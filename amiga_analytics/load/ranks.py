"""The sync's step for :mod:`..store.duration_ranks` and :mod:`..store.duration_buckets`: the ranks (per tool;
per tool, model id and agent type) and the buckets of the days whose rollups were rebuilt, and the whole history's
latency per tool (``latency_totals``)."""

from __future__ import annotations

import sqlite3

from ..store import duration_buckets as buckets
from ..store import duration_ranks as ranks
from ..store import view_figures


def rebuild_duration_ranks(conn: sqlite3.Connection, days: str | None) -> None:
    """Re-rank and re-bucket the calls of ``days`` (a JSON list of days), or of every day when ``days`` is None
    (a full sync)."""
    steps = [(ranks.DELETE_ALL_SQL, ranks.FILL_ALL_SQL, ranks.DELETE_DAYS_SQL, ranks.FILL_DAYS_SQL),
             (ranks.BY_AGENT_DELETE_ALL_SQL, ranks.BY_AGENT_FILL_ALL_SQL, ranks.BY_AGENT_DELETE_DAYS_SQL,
              ranks.BY_AGENT_FILL_DAYS_SQL),
             (buckets.DELETE_ALL_SQL, buckets.FILL_ALL_SQL, buckets.DELETE_DAYS_SQL, buckets.FILL_DAYS_SQL)]
    for delete_all, fill_all, delete_days, fill_days in steps:
        if days is None:
            conn.execute(delete_all)
            conn.execute(fill_all)
        else:
            conn.execute(delete_days, {"days": days})
            conn.execute(fill_days, {"days": days})
    conn.execute(view_figures.LATENCY_TOTALS_DELETE_SQL)  # the whole history, from the buckets just rebuilt
    conn.execute(view_figures.LATENCY_TOTALS_FILL_SQL)
