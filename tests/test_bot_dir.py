"""A sync never leaves a file in the bot's directory that the bot cannot write.

Run for real with two users: the bot's files belong to ``daemon`` (the bot's user here) in a directory every
user may write (a shared data directory), and the sync runs as ``nobody``. Before the fix, the sync of a stopped
bot left ``-wal``/``-shm`` owned by ``nobody`` and the bot's next INSERT failed "attempt to write a readonly
database".
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
from conftest import stopped_wal_bot

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="needs root to run the bot and the sync as two other users")

BOT_USER, SYNC_USER = 1, 65534  # daemon, nobody
ROOT = Path(__file__).resolve().parents[1]

SYNC = """import sys
from amiga_analytics.sync import sync
r = sync(sys.argv[1], sys.argv[2], source_tz="UTC")
print(r.calls)
"""
BOT_WRITE = """import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode = WAL")
c.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, parameters) "
          "VALUES ('2025-10-01T11:00:00.000100', 'abc123', 'Read', 1, '{}')")
c.commit()
c.close()
print("written")
"""
# The bot killed after a commit: its -wal (holding the commit, never checkpointed) and -shm stay behind.
BOT_CRASH = """import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode = WAL")
c.execute("PRAGMA wal_autocheckpoint = 0")
c.executemany("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, parameters) VALUES (?, 'abc123', 'Grep', 1, '{}')",
              [("2025-10-01T12:00:%02d.000100" % i,) for i in range(5)])
c.commit()
os._exit(0)
"""


def _as(uid: int, code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMIGA_ANALYTICS_SALT": "a salt for the test"}
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-c",
                           code, *args], capture_output=True, text=True, cwd="/", env=env)


@pytest.fixture
def shared_dir(reachable_by_other_users):
    """The bot's data directory, writable by every user, holding a stopped bot's WAL database with one call."""
    directory = Path(tempfile.mkdtemp(prefix="amiga-botdir-"))
    out = Path(tempfile.mkdtemp(prefix="amiga-botdir-out-"))
    try:
        bot = stopped_wal_bot(directory / "agentlab.db")
        for p in (directory, out):
            os.chown(p, BOT_USER if p == directory else SYNC_USER, BOT_USER if p == directory else SYNC_USER)
            p.chmod(0o777 if p == directory else 0o755)
        os.chown(bot, BOT_USER, BOT_USER)
        bot.chmod(0o644)
        assert sorted(os.listdir(directory)) == ["agentlab.db"]  # a stopped bot: no -wal, no -shm
        yield bot, out
    finally:
        shutil.rmtree(directory)
        shutil.rmtree(out)


def _foreign_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.stat().st_uid != BOT_USER)


def _calls(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM tool_calls").fetchone()[0]
    finally:
        conn.close()


def test_sync_of_a_stopped_bot_by_another_user_leaves_the_bot_writable(shared_dir):
    bot, out = shared_dir
    result = _as(SYNC_USER, SYNC, str(bot), str(out / "analytics.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "1"
    assert sorted(os.listdir(bot.parent)) == ["agentlab.db"]
    written = _as(BOT_USER, BOT_WRITE, str(bot))
    assert written.returncode == 0, written.stderr
    assert _foreign_files(bot.parent) == []
    # And the next sync (incremental) sees the bot's new row.
    again = _as(SYNC_USER, SYNC, str(bot), str(out / "analytics.db"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.split()[-1] == "2"
    assert _foreign_files(bot.parent) == []


def test_a_crashed_bots_wal_is_read_and_left_to_the_bot(shared_dir):
    """A killed bot leaves -wal (5 committed calls, not checkpointed) and -shm: read in place, created nothing."""
    bot, out = shared_dir
    crashed = _as(BOT_USER, BOT_CRASH, str(bot))
    assert crashed.returncode == 0, crashed.stderr
    assert sorted(os.listdir(bot.parent)) == ["agentlab.db", "agentlab.db-shm", "agentlab.db-wal"]
    result = _as(SYNC_USER, SYNC, str(bot), str(out / "analytics.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "6"
    assert _foreign_files(bot.parent) == []
    written = _as(BOT_USER, BOT_WRITE, str(bot))
    assert written.returncode == 0, written.stderr


def test_a_leftover_wal_without_shm_is_recovered_in_a_private_copy(shared_dir):
    bot, out = shared_dir
    assert _as(BOT_USER, BOT_CRASH, str(bot)).returncode == 0
    Path(f"{bot}-shm").unlink()
    wal_bytes = Path(f"{bot}-wal").read_bytes()
    main_bytes = bot.read_bytes()
    result = _as(SYNC_USER, SYNC, str(bot), str(out / "analytics.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "6"  # the 5 calls committed only in the -wal are there
    assert sorted(os.listdir(bot.parent)) == ["agentlab.db", "agentlab.db-wal"]
    assert Path(f"{bot}-wal").read_bytes() == wal_bytes and bot.read_bytes() == main_bytes
    written = _as(BOT_USER, BOT_WRITE, str(bot))
    assert written.returncode == 0, written.stderr
    assert _foreign_files(bot.parent) == []


def test_a_bot_that_starts_during_the_copy_is_read_in_place(shared_dir, monkeypatch):
    """The copy is checked after it is taken: if the bot opened the database meanwhile (its -wal and -shm
    appeared), the live files are read in place, with a read transaction, as for a running bot."""
    bot, _ = shared_dir
    real_copy = shutil.copyfile
    holder: list[sqlite3.Connection] = []

    def copy_while_the_bot_starts(src, dst, *a, **k):
        if not holder:
            conn = sqlite3.connect(bot)
            conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, parameters) "
                         "VALUES ('2025-10-01T13:00:00.000100', 'abc123', 'Read', 1, '{}')")
            conn.commit()
            holder.append(conn)  # stays open: -wal and -shm exist
        return real_copy(src, dst, *a, **k)

    monkeypatch.setattr(snapshot.shutil, "copyfile", copy_while_the_bot_starts)
    try:
        with snapshot.open_snapshot(bot) as snap:
            assert snap.conn.execute("SELECT COUNT(*) FROM tool_usage").fetchone()[0] == 2
            assert snap.conn.execute("PRAGMA database_list").fetchone()[2] == str(bot)
    finally:
        holder[0].close()


def test_a_database_that_keeps_changing_is_refused_with_advice(shared_dir, monkeypatch):
    bot, _ = shared_dir
    real_copy = shutil.copyfile

    def touching_copy(src, dst, *a, **k):
        result = real_copy(src, dst, *a, **k)
        os.utime(bot, ns=(os.stat(bot).st_atime_ns, os.stat(bot).st_mtime_ns + 1_000_000))
        return result

    monkeypatch.setattr(snapshot.shutil, "copyfile", touching_copy)
    with pytest.raises(snapshot.InputError, match="kept changing .* run the sync again"):
        with snapshot.open_snapshot(bot):
            pass


HOLD_IN_PLACE = """import os, sys
from amiga_analytics.bot.snapshot import open_snapshot
with open_snapshot(sys.argv[1], in_place=True) as snap:
    print(snap.in_place, snap.max_id("tool_usage"), sorted(os.listdir(os.path.dirname(sys.argv[1]))), flush=True)
    sys.stdin.readline()  # the bot writes meanwhile
    print(snap.changed(), flush=True)
"""


def test_another_users_in_place_read_of_a_stopped_bot_lets_the_bot_write(shared_dir):
    """The sync's user reads the stopped bot's file in place (immutable: no lock, no file); the bot starts and
    writes during that read, and the reader sees the change (so a sync would redo, see test_snapshot_in_place)."""
    bot, _ = shared_dir
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    reader = subprocess.Popen(["setpriv", f"--reuid={SYNC_USER}", f"--regid={SYNC_USER}", "--clear-groups",
                               sys.executable, "-c", HOLD_IN_PLACE, str(bot)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env=env)
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert reader.stdout.readline().strip() == "True 1 ['agentlab.db']"
        written = _as(BOT_USER, BOT_WRITE, str(bot))
        assert written.returncode == 0, written.stderr
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "True"
        assert reader.wait(timeout=30) == 0, reader.stderr.read() if reader.stderr else ""
    finally:
        reader.kill()
    assert _foreign_files(bot.parent) == []
    assert sorted(os.listdir(bot.parent)) == ["agentlab.db"]
