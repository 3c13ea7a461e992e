"""The bot schema steps against the bot's own schema dumps (tests/fixtures/bot-schema/vN.sql), adoption of
databases the bot made, idempotency, refusal of what is not a bot database, and rollback of a failed step."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlite_utils import Database

from amiga_analytics import bot_schema
from amiga_analytics.bot_schema import (
    BOT_SCHEMA_VERSION,
    check_bot_database,
    create_bot_database,
    detect_version,
    migrate,
)
from amiga_analytics.errors import InputError, NotABotDatabase

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA_DIR = FIXTURES / "bot-schema"
DUMPED_VERSIONS = [1, 5, 9, 10, 11, 13, 14]
BOT_APPLIED_AT = "2025-10-01T09:15:00.123456"


# --- helpers ----------------------------------------------------------------------------------------------------

def shape(conn: sqlite3.Connection) -> dict[str, dict]:
    """Per table: PRAGMA table_info rows, indexes (name, unique, origin, partial, key columns with DESC flag) and
    foreign keys; everything the bot's readers can observe about the schema, none of the SQL text."""
    tables = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    result = {}
    for table in tables:
        indexes = []
        for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list([{table}])"):
            keys = [(row[2], row[3]) for row in conn.execute(f"PRAGMA index_xinfo([{name}])") if row[5]]
            indexes.append((name, unique, origin, partial, keys))
        result[table] = {
            "columns": conn.execute(f"PRAGMA table_info([{table}])").fetchall(),
            "indexes": sorted(indexes),
            "foreign_keys": conn.execute(f"PRAGMA foreign_key_list([{table}])").fetchall(),
        }
    return result


def dump_shape(name: str) -> dict[str, dict]:
    conn = sqlite3.connect(":memory:")
    conn.executescript((SCHEMA_DIR / name).read_text())
    return shape(conn)


def path_shape(path: Path) -> dict[str, dict]:
    conn = sqlite3.connect(path)
    try:
        return shape(conn)
    finally:
        conn.close()


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bot_made_db(path: Path, dump: str, *, schema_rows=((9, BOT_APPLIED_AT),), sql_edit=None) -> Path:
    """A database as the bot leaves it: the dumped schema, its schema_version rows and a little data."""
    script = (SCHEMA_DIR / dump).read_text()
    if sql_edit:
        script = sql_edit(script)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(script)
    conn.executemany("INSERT INTO schema_version VALUES (?, ?)", schema_rows)
    conn.execute("INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model, "
                 "workspace) VALUES ('a1b2c3', 42, 'fix it', 'completed', '2025-10-01T10:00:00', "
                 "'2025-10-01T10:05:00', 'sonnet', '/repo')")
    conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, success) "
                 "VALUES ('2025-10-01T10:01:00.5', 'a1b2c3', 'Read', 1)")
    conn.commit()
    conn.close()
    return path


def backups(directory: Path) -> list[Path]:
    """Backup files (NAME.bak-YYYYmmddTHHMMSS), not the -wal/-shm files a read-only open leaves beside them."""
    return sorted(p for p in directory.iterdir() if re.search(r"\.bak-\d{8}T\d{6}(-\d+)?$", p.name))


# --- the steps reproduce the bot's schema ----------------------------------------------------------------------

def test_versions_have_no_v12():
    assert bot_schema.VERSIONS == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14)
    assert bot_schema.VERSIONS[-1] == BOT_SCHEMA_VERSION


@pytest.mark.parametrize("version", DUMPED_VERSIONS)
def test_fresh_database_matches_bot_dump(version):
    with create_bot_database(Database(memory=True), version=version) as db:
        assert shape(db.conn) == dump_shape(f"v{version}.sql")
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(version,)]


def test_fresh_file_is_wal_with_one_schema_version_row(tmp_path):
    with create_bot_database(tmp_path / "bot.db", applied_at="2025-09-28T00:00:00.023763") as db:
        assert db.journal_mode == "wal"
        assert db.execute("SELECT * FROM schema_version").fetchall() == [(14, "2025-09-28T00:00:00.023763")]
        assert "sqlite_sequence" in db.table_names()  # AUTOINCREMENT, as the bot declares it


def test_create_refuses_v12_and_non_empty_targets(tmp_path):
    with pytest.raises(InputError, match="no bot schema v12"):
        create_bot_database(Database(memory=True), version=12)
    existing = tmp_path / "bot.db"
    create_bot_database(existing).close()
    with pytest.raises(InputError, match="already exists"):
        create_bot_database(existing)


def test_migrate_creates_a_missing_path(tmp_path):
    path = tmp_path / "agentlab.db"
    plan = migrate(path)
    assert plan.created and plan.from_version == 0 and plan.to_version == 14 and plan.backup_path is None
    assert [s.version for s in plan.steps] == [*bot_schema.VERSIONS, None]
    assert path_shape(path) == dump_shape("v14.sql")
    assert [v for (v, _) in rows(path, "SELECT * FROM schema_version")] == [14]
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentlab.db"]  # no temp file left behind


# --- versions -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", DUMPED_VERSIONS)
def test_detect_version_infers_from_columns_without_schema_version_rows(version):
    conn = sqlite3.connect(":memory:")
    conn.executescript((SCHEMA_DIR / f"v{version}.sql").read_text())
    assert detect_version(conn) == version


def test_detect_version_takes_the_highest_upgrade_row(tmp_path):
    # Pre-repo code wrote a UTC row per version; later upgrades add one row each.
    history = [(1, "2025-09-01T08:00:00"), (2, "2025-09-01T08:00:00"), (5, "2025-09-10T08:00:00"),
               (13, "2025-10-20T10:00:00.5")]
    path = bot_made_db(tmp_path / "bot.db", "v13.sql", schema_rows=history)
    assert detect_version(path) == 13
    assert check_bot_database(path) == 13


# --- adoption -------------------------------------------------------------------------------------------------

def test_adopts_a_v9_database_the_bot_made(tmp_path):
    path = bot_made_db(tmp_path / "agentlab.db", "v9.sql")
    before = path_shape(path)

    plan = migrate(path)

    assert (plan.from_version, plan.to_version) == (9, 14)
    assert [s.version for s in plan.steps] == [10, 11, 13, 14]
    assert path_shape(path) == dump_shape("v1-upgraded-to-v14.sql")  # no messages table: that is AnalyticsDB's
    schema_rows = rows(path, "SELECT version, applied_at FROM schema_version ORDER BY version")
    assert schema_rows[0] == (9, BOT_APPLIED_AT)
    assert [v for v, _ in schema_rows] == [9, 14]  # one new row, as the bot writes after an upgrade
    assert "T" in schema_rows[1][1] and "+" not in schema_rows[1][1]  # naive local isoformat
    assert rows(path, "SELECT task_id, description, phase_number, last_agent_type FROM tasks") == [
        ("a1b2c3", "fix it", 0, None)]
    assert rows(path, "SELECT tool_name, success, input_tokens FROM tool_usage") == [("Read", 1, None)]
    # The backup is the database as it was.
    assert plan.backup_path in backups(tmp_path) and plan.backup_path.name.startswith("agentlab.db.bak-")
    assert path_shape(plan.backup_path) == before
    assert detect_version(plan.backup_path) == 9
    assert f"backup: {plan.backup_path}" in plan.describe()


def test_adopts_a_pre_repo_database_whose_tasks_lacked_session_uuid(tmp_path):
    def drop_session_uuid(script):
        return script.replace(
            "activity_log TEXT,  -- JSON array\n                session_uuid TEXT", "activity_log TEXT")

    old_rows = [(v, f"2025-09-0{v}T07:00:00") for v in range(1, 6)]  # pre-repo: a UTC row per version
    path = bot_made_db(tmp_path / "old.db", "v5.sql", schema_rows=old_rows, sql_edit=drop_session_uuid)
    assert "session_uuid" not in [r[1] for r in rows(path, "PRAGMA table_info(tasks)")]

    migrate(path)

    columns = rows(path, "PRAGMA table_info(tasks)")
    # ALTER appends: session_uuid now comes after the v3/v4 columns; otherwise every column is the bot's.
    assert [c[1] for c in columns][-6:] == ["workflow", "context", "session_uuid", "current_phase",
                                            "phase_number", "last_agent_type"]
    expected = dump_shape("v1-upgraded-to-v14.sql")["tasks"]["columns"]
    assert sorted(c[1:] for c in columns) == sorted(c[1:] for c in expected)
    assert detect_version(path) == 14
    assert [v for (v,) in rows(path, "SELECT version FROM schema_version")] == [1, 2, 3, 4, 5, 14]


def test_adopts_a_database_without_schema_version(tmp_path):
    path = tmp_path / "bare.db"
    conn = sqlite3.connect(path)
    conn.executescript((SCHEMA_DIR / "v10.sql").read_text().replace("CREATE TABLE schema_version", "CREATE TABLE x"))
    conn.close()
    plan = migrate(path)
    assert plan.from_version == 10
    shapes = path_shape(path)
    del shapes["x"]
    assert shapes == dump_shape("v1-upgraded-to-v14.sql")


def test_sample_db_is_already_current_and_left_alone(tmp_path):
    path = tmp_path / "sample.db"
    shutil.copyfile(FIXTURES / "sample.db", path)
    digest = sha256(path)
    assert check_bot_database(path) == 14
    plan = migrate(path)
    assert plan.steps == [] and plan.backup_path is None
    assert plan.describe() == f"{path}: already at v14, nothing to do"
    assert sha256(path) == digest
    assert backups(tmp_path) == []


def test_migrate_twice_is_a_no_op(tmp_path):
    path = bot_made_db(tmp_path / "bot.db", "v9.sql")
    migrate(path)
    digest, shape_after = sha256(path), path_shape(path)
    plan = migrate(path)
    assert plan.steps == [] and "nothing to do" in plan.describe()
    assert sha256(path) == digest and path_shape(path) == shape_after
    assert len(backups(tmp_path)) == 1


def test_every_step_is_idempotent_like_the_bots():
    with create_bot_database(Database(memory=True)) as db:
        before = shape(db.conn)
        for step in [*bot_schema.STEPS, bot_schema.MESSAGES_STEP]:
            step.fn(db)
        assert shape(db.conn) == before


# --- dry run --------------------------------------------------------------------------------------------------

def test_dry_run_lists_steps_and_sql_and_writes_nothing(tmp_path):
    path = bot_made_db(tmp_path / "bot.db", "v9.sql")
    digest = sha256(path)
    plan = migrate(path, dry_run=True)
    assert plan.dry_run and plan.backup_path is None
    assert [s.name for s in plan.steps] == ["m010_add_tool_usage_tokens", "m011_add_tasks_phase",
                                            "m013_create_documents", "m014_add_tasks_last_agent_type"]
    sql = "\n".join(plan.steps[0].sql)
    assert 'ALTER TABLE "tool_usage" ADD COLUMN "input_tokens" INTEGER' in sql
    assert any("CREATE TABLE IF NOT EXISTS documents" in s for s in plan.steps[2].sql)
    text = plan.describe()
    assert text.splitlines()[0] == f"{path}: v9 -> v14, 4 steps"
    assert text.endswith("dry run: nothing written")
    assert sha256(path) == digest and detect_version(path) == 9
    assert backups(tmp_path) == []


def test_dry_run_on_a_missing_path_creates_nothing(tmp_path):
    path = tmp_path / "new.db"
    plan = migrate(path, dry_run=True)
    assert plan.created and len(plan.steps) == len(bot_schema.VERSIONS) + 1
    assert any("CREATE TABLE IF NOT EXISTS messages" in s for s in plan.steps[-1].sql)
    assert list(tmp_path.iterdir()) == []


# --- refusals -------------------------------------------------------------------------------------------------

def make_bad(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    if kind == "missing":
        return path
    if kind == "directory":
        path.mkdir()
    elif kind == "zero bytes":
        path.touch()
    elif kind == "text":
        path.write_text("task_id,status\na1b2c3,completed\n")
    elif kind == "header + garbage":
        path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    elif kind == "no bot tables":
        with Database(path) as db:
            db["notes"].insert({"text": "hello"})
    elif kind == "v15":
        with create_bot_database(path) as db:
            db.execute("INSERT INTO schema_version VALUES (15, '2026-01-01T00:00:00')")
    return path


BAD_KINDS = ["missing", "directory", "zero bytes", "text", "header + garbage", "no bot tables", "v15"]
BAD_MESSAGES = {
    "missing": "no such file", "directory": "is a directory", "zero bytes": "empty (0 bytes)",
    "text": "not a SQLite database", "header + garbage": "cannot be read as SQLite",
    "no bot tables": "no table 'tasks'", "v15": "bot schema v15 is newer than v14",
}


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_check_refuses_what_is_not_a_bot_database(kind, tmp_path):
    path = make_bad(kind, tmp_path)
    before = sorted(os.listdir(tmp_path))
    digest = sha256(path) if path.is_file() else None
    with pytest.raises(NotABotDatabase) as excinfo:
        check_bot_database(path)
    message = str(excinfo.value)
    assert BAD_MESSAGES[kind] in message
    assert "\n" not in message and str(path) in message
    assert isinstance(excinfo.value, ValueError)
    if digest:
        assert sha256(path) == digest
    if kind != "v15":  # a WAL database read-only still gets its -wal/-shm companions
        assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("kind", [k for k in BAD_KINDS if k != "missing"])
def test_migrate_refuses_and_leaves_the_file_alone(kind, tmp_path):
    path = make_bad(kind, tmp_path)
    digest = sha256(path) if path.is_file() else None
    with pytest.raises(NotABotDatabase, match=re.escape(BAD_MESSAGES[kind])):
        migrate(path)
    with pytest.raises(NotABotDatabase):
        migrate(path, dry_run=True)
    if digest:
        assert sha256(path) == digest
    assert backups(tmp_path) == []


def test_no_table_message_says_what_to_do(tmp_path):
    path = tmp_path / "other.db"
    with Database(path) as db:
        db["tasks"].insert({"task_id": "x"})
    with pytest.raises(NotABotDatabase) as excinfo:
        check_bot_database(path)
    assert "no table 'tool_usage'" in str(excinfo.value)
    assert "data/agentlab.db" in str(excinfo.value) and "amiga-analytics migrate" in str(excinfo.value)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root to run the check as an unprivileged user")
def test_check_reads_a_wal_database_in_a_read_only_directory(reachable_by_other_users):
    """mode=ro cannot open a WAL database without its -shm in a directory it may not write to; immutable can."""
    directory = Path(tempfile.mkdtemp(prefix="bot-ro-"))
    try:
        path = directory / "agentlab.db"
        create_bot_database(path, version=13).close()
        assert sorted(os.listdir(directory)) == ["agentlab.db"]
        directory.chmod(0o755)
        path.chmod(0o644)
        directory.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        code = "import sys; from amiga_analytics.bot_schema import check_bot_database as c; print(c(sys.argv[1]))"
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code, str(path)],
            capture_output=True, text=True, cwd="/", env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "13"
        assert sorted(os.listdir(directory)) == ["agentlab.db"]
    finally:
        directory.chmod(0o755)
        shutil.rmtree(directory)


# --- rollback -------------------------------------------------------------------------------------------------

def test_a_failing_step_rolls_back_to_the_previous_version(tmp_path, monkeypatch):
    path = bot_made_db(tmp_path / "bot.db", "v9.sql")
    index = bot_schema.VERSIONS.index(11)
    real = bot_schema.STEPS[index]

    def half_then_fail(db):
        db.table("tasks").add_column("current_phase", str)
        raise RuntimeError("power cut")

    failing = list(bot_schema.STEPS)
    failing[index] = dataclasses.replace(real, fn=half_then_fail)
    monkeypatch.setattr(bot_schema, "STEPS", failing)
    with pytest.raises(RuntimeError, match="power cut"):
        migrate(path)

    # v10 committed, v11 rolled back entirely: the file is a consistent v10 database.
    assert detect_version(path) == 10
    assert [v for (v,) in rows(path, "SELECT version FROM schema_version ORDER BY version")] == [9, 10]
    task_columns = [c[1] for c in rows(path, "PRAGMA table_info(tasks)")]
    assert "current_phase" not in task_columns
    assert "input_tokens" in [c[1] for c in rows(path, "PRAGMA table_info(tool_usage)")]
    assert rows(path, "SELECT task_id FROM tasks") == [("a1b2c3",)]

    monkeypatch.undo()
    plan = migrate(path)  # resumes where it stopped
    assert plan.from_version == 10 and [s.version for s in plan.steps] == [11, 13, 14]
    assert path_shape(path) == dump_shape("v1-upgraded-to-v14.sql")
