"""The ``--bot`` step's copy into the shared store writes only what changed (issue #18): after the bot database
grows (a bot-like writer) and is synced again, the shared store holds exactly what a full replacement of that
bot's rows from its shadow store gives, table by table; the rows that did not change were not rewritten (their
rowids stay); the other bot's rows are untouched.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from amiga_analytics.store.bots_schema import BOT_KEYS
from test_multibot import SAMPLES, _copy, _sync

WRITER = Path(__file__).parent / "botwriter.py"


def _columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def contents(path: Path) -> dict[str, list[tuple]]:
    """Every per-bot table's rows, sorted (the order rows were written in is not content)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in BOT_KEYS}
    finally:
        conn.close()


def full_copy(shared: Path, name: str) -> None:
    """The reference: bot ``name``'s rows of every per-bot table deleted, then all its shadow's rows inserted."""
    conn = sqlite3.connect(shared, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS shadow", (str(shared.with_name(shared.name + ".bots") / f"{name}.db"),))
    conn.execute("BEGIN")
    for table in BOT_KEYS:
        columns = ", ".join(c for c in _columns(conn, table) if c != "bot" and c in _columns(conn, table, "shadow"))
        conn.execute(f"DELETE FROM {table} WHERE bot = ?", (name,))
        conn.execute(f"INSERT INTO {table} (bot, {columns}) SELECT ?, {columns} FROM shadow.{table}", (name,))
    conn.execute("COMMIT")
    conn.close()


def rowids(path: Path, table: str, bot: str) -> dict[tuple, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        columns = [c for c in _columns(conn, table)]
        return {tuple(r[1:]): r[0] for r in conn.execute(f"SELECT rowid, {', '.join(columns)} FROM {table} "
                                                          "WHERE bot = ?", (bot,))}
    finally:
        conn.close()


@pytest.fixture()
def two(tmp_path) -> dict:
    shared = tmp_path / "analytics.db"
    bots = {name: _copy(tmp_path, name) for name in SAMPLES}
    for name, path in bots.items():
        _sync(path, shared, name, SAMPLES[name][2])
    return {"shared": shared, "bots": bots, "tmp": tmp_path}


@pytest.mark.parametrize("grown", [True, False], ids=["new calls", "nothing new"])
def test_an_incremental_copy_equals_a_full_copy(two, grown):
    shared, tmp = two["shared"], two["tmp"]
    if grown:
        written = subprocess.run([sys.executable, str(WRITER), str(two["bots"]["beta"]), "2", "feed02"],
                                 capture_output=True, text=True, check=True)
        assert int(written.stdout) > 5
    before = {t: rowids(shared, t, "beta") for t in ("tool_calls", "tasks", "router_messages", "agent_events")}
    alpha = {t: rowids(shared, t, "alpha") for t in BOT_KEYS if t not in ("duration_ranks", "duration_buckets",
                                                                           "duration_ranks_by_agent")}
    result = _sync(two["bots"]["beta"], shared, "beta", SAMPLES["beta"][2])
    assert result.mode == "incremental"
    reference = tmp / "reference.db"
    shutil.copyfile(shared, reference)
    shutil.copytree(tmp / "analytics.db.bots", tmp / "reference.db.bots")
    full_copy(reference, "beta")
    got, want = contents(shared), contents(reference)
    for table in BOT_KEYS:
        assert got[table] == want[table], table
    assert len(got["tool_calls"]) == 638 + 1301 + (int(written.stdout) if grown else 0)
    # the rows that did not change were not written again: same rowid, same content
    for table, old in before.items():
        new = rowids(shared, table, "beta")
        kept = {row for row in old if row in new}
        assert kept and all(new[row] == old[row] for row in kept), table
        if not grown:
            assert new == old, table
    for table, old in alpha.items():
        assert rowids(shared, table, "alpha") == old, table
