"""Bad input, as a corpus: every case either completes (and data_quality counts what it skipped or repaired) or
exits 2 with a one-line message. No traceback reaches the user, and the bot's file is never changed."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from amiga_analytics import bot_schema
from amiga_analytics.cli import cli
from conftest import SAMPLE_DB

TASK = ("INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model, workspace) "
        "VALUES (?, ?, 'a task', ?, ?, ?, ?, '/ws')")
CALL = ("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, error, parameters, input_tokens, output_tokens) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _fresh(path: Path, rows: list[tuple[str, tuple]] = ()) -> Path:
    bot_schema.create_bot_database(path).close()
    conn = sqlite3.connect(path)
    with conn:
        for sql, params in rows:
            conn.execute(sql, params)
    conn.close()
    return path


def _truncated(path: Path) -> Path:
    data = SAMPLE_DB.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _header_garbage(path: Path) -> Path:
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    return path


def _zero(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _missing(path: Path) -> Path:
    return path


def _wrong_types(path: Path) -> Path:
    return _fresh(path, [
        (TASK, ("abc123", "not-a-number", "completed", "2025-10-01T09:00:00", "2025-10-01T09:30:00", "sonnet")),
        (CALL, ("2025-10-01T09:01:00", "abc123", "Read", "yes please", None, '{"file_path": "/a"}', "12", "x")),
        (CALL, ("2025-10-01T09:02:00", "abc123", "Task", "1", None, '{"subagent_type": 5}', 1.5, -3)),
        (CALL, ("2025-10-01T09:03:00", "abc123", "Bash", 0, 12345, "[1, 2, 3]", None, None)),
    ])


def _nulls_where_the_bot_writes_none(path: Path) -> Path:
    # The bot's schema forbids these NULLs; a hand-made database with the same tables may not.
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE tasks (task_id TEXT, user_id INTEGER, description TEXT, status TEXT, created_at TEXT,
                            updated_at TEXT, model TEXT, workspace TEXT, agent_type TEXT);
        CREATE TABLE tool_usage (id INTEGER PRIMARY KEY, timestamp TEXT, task_id TEXT, tool_name TEXT,
                                 duration_ms REAL, success BOOLEAN, error TEXT, parameters TEXT);
        INSERT INTO tasks VALUES (NULL, NULL, NULL, 'completed', NULL, NULL, NULL, NULL, NULL);
        INSERT INTO tasks VALUES ('abc123', NULL, NULL, NULL, '2025-10-01T09:00:00', NULL, NULL, NULL, NULL);
        INSERT INTO tool_usage VALUES (1, NULL, NULL, NULL, NULL, 1, NULL, NULL);
        INSERT INTO tool_usage VALUES (2, '2025-10-01T09:00:00', 'abc123', NULL, NULL, NULL, NULL, NULL);
    """)
    conn.close()
    return path


def _odd_timestamps(path: Path) -> Path:
    stamps = ["2025-10-01 09:00:00", "2025-10-01T09:00:00Z", "2025-10-01T09:00:00+02:00", "2025-10-01",
              "yesterday", "", "2025-13-45T99:99:99", "2025-03-30T02:30:00"]
    return _fresh(path, [(CALL, (ts, "abc123", "Read", 1, None, f'{{"file_path": "/{i}"}}', None, None))
                         for i, ts in enumerate(stamps)])


def _bad_parameters(path: Path) -> Path:
    return _fresh(path, [
        (CALL, ("2025-10-01T09:00:00", "abc123", "Read", 1, None, "{not json", None, None)),
        (CALL, ("2025-10-01T09:01:00", "abc123", "Write", 1, None,
                '{"file_path": "/big", "command": "mysql --password=hunter2", "content": "' + "x" * 4_000_000 + '"}',
                None, None)),
    ])


def _invalid_utf8(path: Path) -> Path:
    _fresh(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success, error, parameters) "
                     "VALUES ('2025-10-01T09:00:00', 'abc123', 'Bash', 0, CAST(X'80FF6F6B' AS TEXT), CAST(X'7B22FF7D' AS TEXT))")
        conn.execute("INSERT INTO agent_status (timestamp, task_id, status, message) "
                     "VALUES ('2025-10-01T09:00:01', 'abc123', 'failed', CAST(X'C3' AS TEXT))")
    conn.close()
    return path


def _absurd_tokens_and_future(path: Path) -> Path:
    return _fresh(path, [
        (TASK, ("abc123", 1, "completed", "2099-01-01T09:00:00", "2099-01-01T10:00:00", "sonnet")),
        (CALL, ("2099-01-01T09:01:00", "abc123", "Task", 1, None, '{"subagent_type": "x"}', -500, 10**15)),
        (CALL, ("2025-10-01T09:01:00", "abc123", "Task", 1, None, '{"subagent_type": "y"}', 10, 20)),
    ])


def _missing_task_and_unknown_alias(path: Path) -> Path:
    return _fresh(path, [
        (TASK, ("abc123", 1, "completed", "2025-10-01T09:00:00", "2025-10-01T10:00:00", "gpt-5-turbo")),
        (CALL, ("2025-10-01T09:01:00", "abc123", "Task", 1, None, '{"subagent_type": "x"}', 100, 10)),
        (CALL, ("2025-10-01T09:02:00", "ffffff", "Task", 1, None, '{"subagent_type": "x"}', 100, 10)),
    ])


# name: (make the bot file, allowed exit codes, logical tool calls a completed sync loads). The calls are counted by
# hand from the rows above: no two rows of one case share task, tool and parameters, so each row is its own call.
CORPUS = {
    "truncated database": (_truncated, {2}, None),
    "SQLite header and garbage pages": (_header_garbage, {2}, None),
    "zero-byte file": (_zero, {2}, None),
    "a directory": (_directory, {2}, None),
    "missing path": (_missing, {2}, None),
    "wrong value types": (_wrong_types, {0}, 3),
    "NULLs where the bot never writes one": (_nulls_where_the_bot_writes_none, {0}, 2),
    "timestamps in other formats": (_odd_timestamps, {0}, 8),
    "parameters that are not JSON or several MB": (_bad_parameters, {0}, 2),
    "text that is not valid UTF-8": (_invalid_utf8, {0}, 1),
    "negative, absurd and future values": (_absurd_tokens_and_future, {0}, 2),
    "a missing task and an unknown model alias": (_missing_task_and_unknown_alias, {0}, 2),
}


def _digest(path: Path) -> str | None:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return None


def _quality(path: Path) -> dict:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(conn.execute(
            "SELECT check_name, value FROM data_quality WHERE sync_id = (SELECT MAX(sync_id) FROM syncs)"))
    finally:
        conn.close()


@pytest.mark.parametrize("name", list(CORPUS))
def test_sync_completes_or_says_why_in_one_line(tmp_path, name):
    make, allowed, calls = CORPUS[name]
    bot = make(tmp_path / "agentlab.db")
    before = _digest(bot)
    out = tmp_path / "analytics.db"
    result = CliRunner().invoke(cli, ["sync", str(bot), str(out), "--source-tz", "Europe/Madrid"])
    assert result.exit_code in allowed, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert not out.exists()
    else:
        assert "Traceback" not in result.stderr
        quality = _quality(out)
        assert (quality["bot_rows_read"], quality["calls"]) == (calls, calls)
    assert _digest(bot) == before


def test_the_corpus_is_repaired_and_counted(tmp_path):
    """What the completing cases skipped or repaired shows in data_quality."""
    from amiga_analytics import sync

    def run(make):
        bot = make(tmp_path / f"{make.__name__}.db")
        out = tmp_path / f"{make.__name__}-analytics.db"
        sync(bot, out, source_tz="Europe/Madrid")
        return _quality(out), out

    quality, _ = run(_odd_timestamps)
    assert quality["unparseable_timestamps"] == 3  # "yesterday", "", and month 13
    assert quality["dst_ambiguous_timestamps"] == 1  # 02:30 on 2025-03-30 does not exist in Madrid
    quality, _ = run(_wrong_types)
    assert quality["invalid_values"] >= 3  # "yes please", "x", 1.5 (and -3)
    quality, out = run(_absurd_tokens_and_future)
    assert quality["invalid_values"] == 2
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT SUM(input_tokens), SUM(output_tokens) FROM tool_calls").fetchone() == (10, 20)
    conn.close()
    quality, _ = run(_missing_task_and_unknown_alias)
    assert quality["calls_with_missing_task"] == 1
    assert quality["unknown_models"] == 1
    assert quality["unpriced_tokens"] == 220
    quality, out = run(_bad_parameters)
    assert quality["secrets_masked"] >= 1
    assert b"hunter2" not in out.read_bytes()


def _as_user_without_privileges(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI as an ordinary user: as root, directory permissions would not apply."""
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []
    env = dict(os.environ, AMIGA_ANALYTICS_SALT="a salt for the test")  # the user cannot read root's config
    return subprocess.run(prefix + [sys.executable, "-m", "amiga_analytics", *args], capture_output=True, text=True,
                          cwd="/", env=env, **kwargs)


@pytest.fixture
def open_dir():
    """A temporary directory every user can enter (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="amiga-perm-"))
    os.chmod(path, 0o755)
    yield path
    for p in path.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


def test_read_only_output_directory(open_dir, reachable_by_other_users):
    bot = open_dir / "agentlab.db"
    shutil.copyfile(SAMPLE_DB, bot)
    os.chmod(bot, 0o644)
    target = open_dir / "ro"
    target.mkdir()
    os.chmod(target, 0o555)
    result = _as_user_without_privileges(["sync", str(bot), str(target / "a.db"), "--source-tz", "UTC"])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write in"), result.stderr
    assert not (target / "a.db").exists()


def test_debug_shows_the_traceback(tmp_path):
    bot = _header_garbage(tmp_path / "agentlab.db")
    result = CliRunner().invoke(cli, ["--debug", "sync", str(bot), str(tmp_path / "a.db")])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr


def test_every_command_refuses_a_file_that_is_not_an_analytics_database(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_text("not a database")
    before = bogus.read_bytes()
    for args in (["query", str(bogus), "tool_cost"], ["report", str(bogus), "--out", str(tmp_path / "r")],
                 ["serve", str(bogus)], ["query", str(tmp_path / "missing.db"), "tool_cost"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.stderr)
    assert bogus.read_bytes() == before
    assert not (tmp_path / "r").exists()


def test_sample_copy_in_read_only_directory_is_read(open_dir, reachable_by_other_users):
    """A WAL bot database in a directory we cannot write is still read (as immutable), never written."""
    folder = open_dir / "shared"
    folder.mkdir()
    bot = folder / "agentlab.db"
    shutil.copyfile(SAMPLE_DB, bot)
    os.chmod(bot, 0o444)
    os.chmod(folder, 0o555)
    out = open_dir / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    result = _as_user_without_privileges(["sync", str(bot), str(out / "a.db"), "--source-tz", "UTC"])
    assert result.returncode == 0, result.stderr
    assert "638 logical tool calls" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["agentlab.db"]
    assert bot.read_bytes() == SAMPLE_DB.read_bytes()
