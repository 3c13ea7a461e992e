"""A sync killed while it reads a private copy of the bot database does not leave that copy behind for good.

A bot database at rest (no ``-wal``/``-shm``) is read from a copy in a scratch directory under the temporary
directory. Real processes are killed with SIGKILL while they hold one; the next snapshot must remove their
directories and keep those whose sync still runs. Each process here gets its own temporary directory
(``TMPDIR``), so the tests see only their own scratch directories.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from amiga_analytics.bot import scratch, snapshot
from conftest import stopped_wal_bot

ROOT = Path(__file__).resolve().parents[1]
HOLD = """import sys, time
from amiga_analytics.bot.snapshot import open_snapshot
with open_snapshot(sys.argv[1]) as snap:
    print(snap.max_id("tool_usage"), flush=True)
    time.sleep(600)
"""

pytestmark = pytest.mark.skipif(scratch.fcntl is None, reason="the sweep needs fcntl (POSIX)")


@pytest.fixture
def at_rest(tmp_path, monkeypatch) -> Path:
    """A stopped bot's WAL database with one call, and a private temporary directory for this test."""
    (tmp_path / "bot").mkdir()
    bot = stopped_wal_bot(tmp_path / "bot" / "agentlab.db")
    assert sorted(os.listdir(bot.parent)) == ["agentlab.db"]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return bot


def _holder(bot: Path) -> subprocess.Popen:
    """Another process holding a snapshot of ``bot`` (so reading from a private copy) until it is killed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": tempfile.gettempdir()}
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(bot)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "1"  # its snapshot is open
    return proc


def _scratch_dirs() -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob("amiga-bot-snapshot-*"))


def _age(directory: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(directory, (then, then))


def test_a_killed_syncs_copy_is_swept_and_a_running_ones_kept(at_rest):
    killed, running = _holder(at_rest), _holder(at_rest)
    try:
        dirs = _scratch_dirs()
        assert len(dirs) == 2 and all((d / "agentlab.db").stat().st_size > 0 for d in dirs)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert len(_scratch_dirs()) == 2  # SIGKILL: nothing could clean up
        for d in dirs:
            _age(d, 2 * scratch.GRACE_SECONDS)
        with snapshot.open_snapshot(at_rest) as snap:
            assert snap.max_id("tool_usage") == 1
            assert len(_scratch_dirs()) == 2  # the running holder's and this snapshot's own
        left = _scratch_dirs()
        assert len(left) == 1 and left[0] in dirs  # the killed one's is gone, the running one's kept
        assert (left[0] / "agentlab.db").exists()
    finally:
        running.kill()
        running.wait(timeout=30)
        killed.kill()
    assert scratch.sweep() == left and _scratch_dirs() == []  # its holder killed too: swept


def test_a_young_directory_is_never_swept(at_rest):
    """A sync that has made its directory and not yet locked it: left alone within the grace time."""
    young = Path(tempfile.gettempdir()) / "amiga-bot-snapshot-young"
    young.mkdir()
    (young / "agentlab.db").write_bytes(b"partial copy")
    assert scratch.sweep() == []
    _age(young, 2 * scratch.GRACE_SECONDS)  # now old, with no lock file: an older version's, kept for a day
    assert scratch.sweep() == []
    _age(young, scratch.UNLOCKED_SECONDS + 1)
    assert scratch.sweep() == [young]


def test_other_directories_in_the_temporary_directory_are_untouched(at_rest):
    tmp = Path(tempfile.gettempdir())
    other = tmp / "amiga-botdir-something"
    other.mkdir()
    lookalike = tmp / "amiga-bot-snapshot-file"
    lookalike.write_text("not a directory")
    for p in (other, lookalike):
        _age(p, scratch.UNLOCKED_SECONDS + 1)
    with snapshot.open_snapshot(at_rest):
        pass
    assert sorted(p.name for p in tmp.iterdir()) == ["amiga-bot-snapshot-file", "amiga-botdir-something"]


def test_a_snapshot_of_a_live_bot_makes_no_scratch_directory(at_rest):
    conn = sqlite3.connect(at_rest)  # the bot running: -wal and -shm exist, read in place
    conn.execute("SELECT 1 FROM tool_usage").fetchall()
    try:
        with snapshot.open_snapshot(at_rest) as snap:
            assert snap.max_id("tool_usage") == 1
            assert _scratch_dirs() == []
    finally:
        conn.close()
