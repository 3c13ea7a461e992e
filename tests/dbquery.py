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


def linked_groups(merged: list, truth_calls: list[dict], own_rows) -> tuple[dict[int, int], list]:
    """Truth calls and merged calls linked by the bot rows they share (union-find): ``(call_of_row, groups)``, where
    ``call_of_row`` maps each bot row id to its merged call's index and each group is ``(truth indexes, merged
    indexes)``. ``own_rows(truth_call)`` gives the rows a truth call wrote itself. Fails if a row is in two calls."""
    call_of_row: dict[int, int] = {}
    for i, c in enumerate(merged):
        for r in c.rows:
            assert r[0] not in call_of_row, "a row in two calls"
            call_of_row[r[0]] = i
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for i, c in enumerate(truth_calls):
        for r in own_rows(c):
            parent[find(("t", i))] = find(("m", call_of_row[r]))
    groups: dict = collections.defaultdict(lambda: ([], []))
    for i in range(len(truth_calls)):
        groups[find(("t", i))][0].append(i)
    for i in range(len(merged)):
        groups[find(("m", i))][1].append(i)
    return call_of_row, list(groups.values())
