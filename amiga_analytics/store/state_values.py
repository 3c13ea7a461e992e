"""Reading one value of ``sync_state``, the JSON values a sync records under short keys (``report_tz``, ``bots``,
``bot_db``, …), for the readers of the store: query functions, the report, the export, migrations."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlite_utils import Database

STATE_VALUE_SQL = "SELECT value FROM sync_state WHERE key = ?"


def state_value(db: Database | sqlite3.Connection, key: str) -> Any:
    """One value the last sync recorded in ``sync_state``, decoded; None if absent (or empty). One key at a time:
    the transcripts' carried state is tens of MB of JSON in a store that reads them (28 MB for 55,715 files), and
    decoding it cost every query function 0.24-0.29 s."""
    row = db.execute(STATE_VALUE_SQL, [key]).fetchone()
    return None if row is None or not row[0] else json.loads(row[0])
