"""A stopped bot's database (WAL, no -wal, no -shm) is read in place, immutable, instead of copied; if the bot
opens or writes it during the sync, the sync commits nothing from that read and is redone from a fresh snapshot.

Expected figures are counted by hand: the stopped bot holds one Read call; each write below adds one call.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from amiga_analytics.bot import snapshot
from amiga_analytics.load import loader as loader_module
from amiga_analytics.sync import sync
from conftest import stopped_wal_bot

ROOT = Path(__file__).resolve().parents[1]
# The bot killed after a commit: its -wal (holding the commit, never checkpointed) and -shm stay behind.
CRASH = """import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, parameters) "
          "VALUES ('2025-10-01T12:00:00.000100', 'abc123', 'Grep', 1, '{}')")
c.commit()
os._exit(0)
"""


@pytest.fixture
def stopped(tmp_path, monkeypatch) -> Path:
    """A stopped bot's WAL database with one call, and a private temporary directory for this test."""
    (tmp_path / "bot").mkdir()
    bot = stopped_wal_bot(tmp_path / "bot" / "agentlab.db")
    assert sorted(os.listdir(bot.parent)) == ["agentlab.db"]
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return bot


@pytest.fixture
def copies(monkeypatch) -> list[str]:
    """The sources of every private copy the snapshot takes."""
    taken: list[str] = []
    real_copy = shutil.copyfile

    def counting_copy(src, dst, *a, **k):
        taken.append(str(src))
        return real_copy(src, dst, *a, **k)

    monkeypatch.setattr(snapshot.shutil, "copyfile", counting_copy)
    return taken


def bot_write(bot: Path, minute: int) -> None:
    """The bot starting, adding one call and stopping (its last connection checkpoints into the main file)."""
    conn = sqlite3.connect(bot)
    conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, parameters) "
                 f"VALUES ('2025-10-01T13:{minute:02d}:00.000100', 'abc123', 'Read', 1, '{{}}')")
    conn.commit()
    conn.close()


def calls(analytics: Path) -> int:
    conn = sqlite3.connect(f"file:{analytics}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM tool_calls").fetchone()[0]
    finally:
        conn.close()


def test_a_stopped_bot_is_read_in_place_without_a_copy(stopped, copies, tmp_path):
    before = stopped.read_bytes()
    with snapshot.open_snapshot(stopped, in_place=True) as snap:
        assert snap.in_place and snap.max_id("tool_usage") == 1
        assert sorted(os.listdir(stopped.parent)) == ["agentlab.db"]
        assert list((tmp_path / "tmp").iterdir()) == []  # no scratch directory either
        snap.verify()
    assert copies == []
    assert sorted(os.listdir(stopped.parent)) == ["agentlab.db"] and stopped.read_bytes() == before
    bot_write(stopped, 0)  # and the bot can write afterwards
    assert sorted(os.listdir(stopped.parent)) == ["agentlab.db"]


def test_without_in_place_a_stopped_bot_is_still_copied(stopped, copies):
    with snapshot.open_snapshot(stopped) as snap:
        assert not snap.in_place and snap.max_id("tool_usage") == 1
    assert copies == [str(stopped)]


def test_a_crashed_bots_leftover_wal_is_never_read_in_place(stopped, copies):
    done = subprocess.run([sys.executable, "-c", CRASH, str(stopped)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    Path(f"{stopped}-shm").unlink()  # at rest, but the -wal holds a commit the main file lacks
    with snapshot.open_snapshot(stopped, in_place=True) as snap:
        assert not snap.in_place
        assert snap.max_id("tool_usage") == 2  # the call committed only in the -wal is there
    assert copies == [str(stopped), f"{stopped}-wal"]


def test_verify_sees_the_bot_open_or_write_the_database(stopped):
    with snapshot.open_snapshot(stopped, in_place=True) as snap:
        snap.verify()
        bot = sqlite3.connect(stopped)
        bot.execute("SELECT COUNT(*) FROM tool_usage").fetchone()  # the bot started: -wal and -shm appear
        try:
            with pytest.raises(snapshot.SnapshotChanged):
                snap.verify()
        finally:
            bot.close()
    with snapshot.open_snapshot(stopped, in_place=True) as snap:
        bot_write(stopped, 1)  # started, wrote, stopped: only the main file's time (and maybe size) tell
        assert sorted(os.listdir(stopped.parent)) == ["agentlab.db"]
        with pytest.raises(snapshot.SnapshotChanged):
            snap.verify()


def test_a_read_error_after_the_bot_wrote_means_redo_not_damage(stopped):
    with pytest.raises(snapshot.SnapshotChanged):
        with snapshot.open_snapshot(stopped, in_place=True):
            bot_write(stopped, 2)
            raise sqlite3.DatabaseError("database disk image is malformed")  # a page torn by the checkpoint
    with pytest.raises(sqlite3.DatabaseError):  # the file did not change: a real error stays one
        with snapshot.open_snapshot(stopped, in_place=True):
            raise sqlite3.DatabaseError("database disk image is malformed")


@pytest.mark.parametrize("first", ["full", "incremental"])
def test_the_bot_writing_during_a_sync_makes_it_redo(stopped, copies, tmp_path, monkeypatch, first):
    """The bot writes (and checkpoints) after the sync has read everything and before it commits: the sync
    redoes from a fresh snapshot (a private copy: the bot is at rest again) and holds every call."""
    analytics = tmp_path / "analytics.db"
    expected = 1  # the stopped bot's call
    if first == "incremental":
        sync(stopped, analytics, source_tz="UTC")
        assert calls(analytics) == 1 and copies == []  # read in place
        bot_write(stopped, 3)
        expected = 2  # and the call written between the syncs
    real_run = loader_module.Loader.run
    runs: list[str] = []

    def run_then_the_bot_writes(self, *a, **k):
        result = real_run(self, *a, **k)
        runs.append(self.mode)
        if len(runs) == 1:
            bot_write(stopped, 4)
        return result

    monkeypatch.setattr(loader_module.Loader, "run", run_then_the_bot_writes)
    result = sync(stopped, analytics, source_tz="UTC")
    assert runs == [first, first]  # read in place, changed before the commit, redone
    assert copies == [str(stopped)]  # the redo read a private copy
    assert result.calls == expected + 1 and calls(analytics) == expected + 1
    assert sorted(os.listdir(stopped.parent)) == ["agentlab.db"]
    # Nothing of the first read was committed: the sync ids count one completed sync per sync() call.
    conn = sqlite3.connect(f"file:{analytics}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT COUNT(*), MAX(sync_id) FROM syncs").fetchone() == (
            (1, 1) if first == "full" else (2, 2))
    finally:
        conn.close()


def test_a_named_bots_sync_reads_a_stopped_bot_in_place_too(stopped, copies, tmp_path):
    result = sync(stopped, tmp_path / "shared.db", source_tz="UTC", bot="alpha")
    assert result.bot == "alpha" and result.bot_calls == 1
    assert copies == []  # neither the registry's identity read nor the bot's own sync copied the database
    assert sorted(os.listdir(stopped.parent)) == ["agentlab.db"]
