"""`amiga-analytics migrate`: in-process with CliRunner and as a real subprocess of the installed script."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from amiga_analytics.bot_schema import create_bot_database, detect_version
from amiga_analytics.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
SCRIPT = Path(sys.executable).with_name("amiga-analytics")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def backups(directory: Path) -> list[Path]:
    """Backup files (NAME.bak-YYYYmmddTHHMMSS), not the -wal/-shm files a read-only open leaves beside them."""
    return sorted(p for p in directory.iterdir() if re.search(r"\.bak-\d{8}T\d{6}(-\d+)?$", p.name))


def v9_database(path: Path) -> Path:
    with create_bot_database(path, version=9, applied_at="2025-10-01T09:15:00.123456") as db:
        db["tasks"].insert({"task_id": "a1b2c3", "user_id": 42, "description": "fix it", "status": "completed",
                            "created_at": "2025-10-01T10:00:00", "updated_at": "2025-10-01T10:05:00",
                            "model": "sonnet", "workspace": "/repo"})
    return path


def run(*args: str):
    return CliRunner().invoke(cli, ["migrate", *args])


def make_bad(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / "agentlab.db"
    if kind == "directory":
        path.mkdir()
    elif kind == "zero bytes":
        path.touch()
    elif kind == "text":
        path.write_text("not a database, just notes\n")
    elif kind == "header + garbage":
        path.write_bytes(b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 2000)
    elif kind == "no bot tables":
        with Database(path) as db:
            db["notes"].insert({"text": "hello"})
    elif kind == "v15":
        with create_bot_database(path) as db:
            db.execute("INSERT INTO schema_version VALUES (15, '2026-01-01T00:00:00')")
    return path


BAD = [
    "directory", "zero bytes", "text", "header + garbage", "no bot tables", "v15",
]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    path = v9_database(tmp_path / "agentlab.db")
    digest = sha256(path)
    result = run(str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{path}: v9 -> v14, 4 steps"
    assert "m013_create_documents" in result.stdout and "ALTER TABLE" in result.stdout
    assert result.stdout.rstrip().endswith("dry run: nothing written")
    assert sha256(path) == digest and detect_version(path) == 9
    assert backups(tmp_path) == []


def test_real_run_backs_up_then_upgrades(tmp_path):
    path = v9_database(tmp_path / "agentlab.db")
    digest = sha256(path)
    result = run(str(path))
    assert result.exit_code == 0, result.output
    [backup] = backups(tmp_path)
    assert result.stdout.rstrip().endswith(f"backup: {backup}")
    assert detect_version(path) == 14 and detect_version(backup) == 9
    assert sha256(path) != digest
    again = run(str(path))
    assert again.exit_code == 0 and again.stdout.strip() == f"{path}: already at v14, nothing to do"
    assert backups(tmp_path) == [backup]


def test_sample_db_needs_nothing(tmp_path):
    path = tmp_path / "sample.db"
    shutil.copyfile(FIXTURES / "sample.db", path)
    digest = sha256(path)
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert "already at v14, nothing to do" in result.stdout
    assert sha256(path) == digest and backups(tmp_path) == []


def test_missing_path_is_created(tmp_path):
    path = tmp_path / "agentlab.db"
    assert run(str(path), "--dry-run").exit_code == 0 and not path.exists()
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith(f"created {path}")
    assert detect_version(path) == 14


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_one_line_exit_2_and_untouched(kind, dry_run, tmp_path):
    path = make_bad(kind, tmp_path)
    digest = sha256(path) if path.is_file() else None
    result = run(str(path), *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    if digest:
        assert sha256(path) == digest
    assert backups(tmp_path) == []


# --- the installed script, in a real process -------------------------------------------------------------------

def script(*args: str) -> subprocess.CompletedProcess:
    if not SCRIPT.exists():
        pytest.skip(f"{SCRIPT} is not installed (pip install -e .)")
    return subprocess.run([str(SCRIPT), "migrate", *args], capture_output=True, text=True, timeout=120)


def test_script_dry_run_then_real_run(tmp_path):
    path = v9_database(tmp_path / "agentlab.db")
    digest = sha256(path)

    dry = script(str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing written" in dry.stdout
    assert sha256(path) == digest and backups(tmp_path) == []

    real = script(str(path))
    assert real.returncode == 0, real.stderr
    [backup] = backups(tmp_path)
    assert f"backup: {backup}" in real.stdout
    assert detect_version(path) == 14


@pytest.mark.parametrize("kind", ["text", "v15"])
def test_script_refuses_bad_input(kind, tmp_path):
    path = make_bad(kind, tmp_path)
    digest = sha256(path)
    result = script(str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    if kind == "v15":
        assert "v15" in lines[0] and "v14" in lines[0]
    assert sha256(path) == digest and backups(tmp_path) == []
