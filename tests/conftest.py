"""Shared fixtures. Nothing here reads outside the repository: fixtures come from tests/fixtures/."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_DB = FIXTURES / "sample.db"
SAMPLE_TRUTH = FIXTURES / "sample.truth.json"
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def truth() -> dict:
    return json.loads(SAMPLE_TRUTH.read_text())


@pytest.fixture
def sample_db(tmp_path) -> Path:
    """A private, writable copy of the real bot's sample database."""
    target = tmp_path / "agentlab.db"
    shutil.copyfile(SAMPLE_DB, target)
    return target


@pytest.fixture(scope="session")
def sample_analytics(tmp_path_factory) -> Path:
    """The sample synced once (UTC host, as the sample's truth says). Read-only for tests."""
    from amiga_analytics.sync import sync

    base = tmp_path_factory.mktemp("sample-analytics")
    bot = base / "agentlab.db"
    shutil.copyfile(SAMPLE_DB, bot)
    out = base / "analytics.db"
    sync(bot, out, source_tz="UTC")
    return out


@pytest.fixture(scope="session")
def demo_pair(tmp_path_factory):
    """A small demo bot database (Europe/Madrid host), its truth, and its analytics database."""
    from amiga_analytics.demo import write_demo
    from amiga_analytics.sync import sync

    base = tmp_path_factory.mktemp("demo")
    bot = base / "demo-bot.db"
    write_demo(bot, days=21, seed=11, tz="Europe/Madrid", calls=6000)
    out = base / "analytics.db"
    sync(bot, out, source_tz="Europe/Madrid")
    truth = json.loads(Path(str(bot) + ".truth.json").read_text())
    return bot, truth, out


def stopped_wal_bot(path: Path) -> Path:
    """A bot database at ``path`` in WAL mode with one Read call, closed: a stopped bot (no -wal, no -shm)."""
    from amiga_analytics.bot_schema import create_bot_database

    conn = create_bot_database(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, parameters) "
                 "VALUES ('2025-10-01T10:00:00.000100', 'abc123', 'Read', 1, '{}')")
    conn.commit()
    conn.close()
    return path


def table_rows(path: Path, table: str, order: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    finally:
        conn.close()


def file_bytes(path: Path) -> bytes:
    """The database file and any journal beside it, as bytes, for searching secrets."""
    data = Path(path).read_bytes()
    for suffix in ("-wal", "-journal", "-shm"):
        extra = Path(str(path) + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def reachable_by_other_users():
    """Let an unprivileged user run this checkout's interpreter and package, as tests that drop root need.

    A clone in a private directory (``mktemp -d`` makes it 0700) cannot be entered by ``nobody``. For the test's
    duration every ancestor of the checkout and of the virtualenv gets the "others may enter" bit; the bits are
    restored afterwards. Nothing is made readable that was not already readable inside.
    """
    import stat
    import sys

    roots = [Path(__file__).resolve().parent.parent, Path(sys.prefix).resolve(),
             Path(os.path.realpath(sys.executable)).parent]
    changed: dict[Path, int] = {}
    for root in roots:
        for directory in [root, *root.parents]:
            mode = directory.stat().st_mode
            if not mode & stat.S_IXOTH and directory not in changed:
                changed[directory] = stat.S_IMODE(mode)
                directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for directory, mode in changed.items():
            directory.chmod(mode)
