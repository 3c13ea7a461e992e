"""Small helpers the tests share for reading a SQLite file and a truth file (imported as ``from dbquery import q``)."""

from __future__ import annotations

import collections
import sqlite3
from pathlib import Path

TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")

#: the analytics database's token sums per tool, in the order of TOKEN_KEYS
TOKENS_BY_TOOL_SQL = """SELECT tool_name, SUM(input_tokens), SUM(output_tokens), SUM(cache_write_tokens),
       SUM(cache_read_tokens) FROM tool_calls WHERE has_tokens GROUP BY 1"""


def q(path: Path, sql: str, params=()) -> list[tuple]:
    """The rows of ``sql`` on the SQLite file ``path``, opened read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def truth_tokens_by_tool(truth: dict) -> dict[str, list[int]]:
    """Token sums per tool of a truth file's calls (NULL counts as 0), in the order of TOKEN_KEYS."""
    want: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0])
    for call in truth["calls"]:
        if call["tokens"]:
            for i, key in enumerate(TOKEN_KEYS):
                want[call["tool"]][i] += call["tokens"][key] or 0
    return dict(want)
