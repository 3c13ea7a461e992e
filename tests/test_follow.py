"""The live view: `amiga-analytics serve ANALYTICS --follow BOT --every 1` in a subprocess while a bot-like writer
(tests/botwriter.py, another process) adds calls; the new calls appear on the pages without a restart, and every
request made meanwhile is answered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from conftest import SAMPLE_DB
from test_datasette_browser import free_port

WRITER = Path(__file__).parent / "botwriter.py"
TASK = "feed01"


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as exc:
        return exc.code, {}


@pytest.fixture()
def followed(tmp_path):
    from amiga_analytics.sync import sync

    bot = tmp_path / "agentlab.db"
    shutil.copyfile(SAMPLE_DB, bot)
    analytics = tmp_path / "analytics.db"
    sync(bot, analytics, source_tz="UTC", default_model="claude-sonnet-4-5-20250929")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "amiga_analytics", "serve", str(analytics), "--port", str(port),
             "--follow", str(bot), "--every", "1"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if get_json(base + "/-/versions.json")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    try:
        yield base, bot, analytics, log
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0, log.read_text()


def written_calls(base: str) -> int:
    status, body = get_json(base + f"/analytics/tool_calls.json?source_id={TASK}&_size=1")
    assert status == 200, body
    return body["filtered_table_rows_count"]


def test_new_calls_appear_without_a_restart_and_every_request_is_answered(followed):
    base, bot, analytics, log = followed
    assert written_calls(base) == 0
    writer = subprocess.Popen([sys.executable, str(WRITER), str(bot), "6", TASK], stdout=subprocess.PIPE, text=True)
    seen, statuses = [], []
    pages = ["/analytics/dashboard.json", "/analytics/daily_calls.json", "/analytics/tool_calls.json?_size=5",
             "/analytics/dashboard", "/analytics/tool_calls"]
    while writer.poll() is None:
        seen.append(written_calls(base))
        for page in pages:
            with urlopen(base + page, timeout=10) as response:
                statuses.append(response.status)
        time.sleep(0.1)
    written = int(writer.communicate()[0].strip())
    assert writer.returncode == 0 and written > 10
    deadline = time.monotonic() + 60
    while seen[-1] != written and time.monotonic() < deadline:
        time.sleep(0.3)
        seen.append(written_calls(base))
    assert seen[-1] == written, (seen[-5:], written, log.read_text())
    assert set(statuses) == {200} and len(statuses) >= 10
    assert seen == sorted(seen), "a page went back to an older snapshot"
    assert len(set(seen)) >= 3, f"calls appeared only at the end, not while the writer ran: {sorted(set(seen))}"
    status, follow = get_json(base + "/-/amiga-follow.json")
    assert status == 200 and follow["swaps"] >= 2 and follow["last_error"] is None, follow
    # the same options as the last sync: following never fell back to a full rebuild
    from amiga_analytics.sqlitefile import read_only_connection

    conn = read_only_connection(analytics)
    modes = [m for (m,) in conn.execute("SELECT mode FROM syncs ORDER BY sync_id")]
    conn.close()
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}, modes
    # the dashboard's key figures follow too: the period's calls include the writer's
    status, body = get_json(base + "/analytics/dashboard.json?_shape=array")
    from datetime import datetime, timedelta, timezone

    an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert status == 200 and body[0]["data_through"] >= an_hour_ago  # the writer's rows are stamped now


def test_follow_refuses_a_missing_bot_database(tmp_path, sample_analytics):
    from click.testing import CliRunner

    from amiga_analytics.cli import cli

    result = CliRunner().invoke(cli, ["serve", str(sample_analytics), "--follow", str(tmp_path / "nope.db")])
    assert result.exit_code == 2 and "--follow" in result.output, result.output
