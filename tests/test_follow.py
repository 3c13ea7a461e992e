"""The live view: `amiga-analytics serve ANALYTICS --follow BOT --every 1` in a subprocess while a bot-like writer
(tests/botwriter.py, another process) adds calls; the new calls appear on the pages without a restart, and every
request made meanwhile is answered."""

from __future__ import annotations

import contextlib
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
    with serving(analytics, [bot], tmp_path / "serve.log") as base:
        yield base, bot, analytics, tmp_path / "serve.log"


@contextlib.contextmanager
def serving(analytics: Path, bots: list[Path], log: Path):
    """`serve ANALYTICS --follow BOT … --every 1` in a subprocess; yields its base URL once it answers."""
    port = free_port()
    follows = [arg for bot in bots for arg in ("--follow", str(bot))]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "amiga_analytics", "serve", str(analytics), "--port", str(port), *follows,
             "--every", "1"],
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
        yield base
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0, log.read_text()


def written_calls(base: str, bot: str | None = None) -> int:
    of_bot = f"&bot={bot}" if bot else ""
    status, body = get_json(base + f"/analytics/tool_calls.json?source_id={TASK}&_size=1{of_bot}")
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


def test_follow_syncs_with_the_price_tables_of_the_last_sync(tmp_path):
    """A store priced with --prices is followed with the same file (without it every round would reprice it to
    the shipped tables, or refuse a bot of a store of several); once the file is gone, serve refuses to start."""
    from click.testing import CliRunner

    from amiga_analytics.cli import cli
    from amiga_analytics.sync import sync
    from amiga_analytics.web.follow import sync_command

    bot, analytics, prices = tmp_path / "agentlab.db", tmp_path / "analytics.db", tmp_path / "prices.csv"
    shutil.copyfile(SAMPLE_DB, bot)
    prices.write_text("model_id,effective_from,input_usd_per_mtok,output_usd_per_mtok,cache_write_5m_usd_per_mtok,"
                      "cache_write_1h_usd_per_mtok,cache_read_usd_per_mtok,source\n"
                      "claude-sonnet-4-5-20250929,2025-10-06,30,150,37.5,60,3,test: ten times the list price\n")
    sync(bot, analytics, source_tz="UTC", prices=prices)
    command = sync_command(bot, analytics)
    assert command[command.index("--prices") + 1] == str(prices.resolve()) and "--aliases" not in command
    assert subprocess.run(command, capture_output=True).returncode == 0  # an incremental sync, nothing repriced
    assert not sync(bot, analytics, source_tz="UTC", prices=prices).repriced  # the follow's sync kept the prices
    prices.unlink()
    result = CliRunner().invoke(cli, ["serve", str(analytics), "--follow", str(bot)])
    assert result.exit_code == 2 and "--prices" in result.output and "gone" in result.output, result.output


def test_follow_every_bot_of_a_store_of_several(tmp_path):
    """Two bots in one store, both followed: the writer's calls appear as the bot it writes to (found by the bot
    database's identity), the other bot's rows stay as they were, and every shadow store syncs incrementally."""
    from amiga_analytics.sqlitefile import read_only_connection
    from amiga_analytics.sync import sync

    fixtures = Path(__file__).parent / "fixtures"
    bots = {"alpha": tmp_path / "alpha.db", "beta": tmp_path / "beta.db"}
    shutil.copyfile(fixtures / "sample.db", bots["alpha"])
    shutil.copyfile(fixtures / "sample_par.db", bots["beta"])
    analytics = tmp_path / "analytics.db"
    sync(bots["alpha"], analytics, source_tz="UTC", report_tz="UTC", bot="alpha")
    sync(bots["beta"], analytics, source_tz="Europe/Berlin", report_tz="UTC", bot="beta")
    log = tmp_path / "serve.log"
    with serving(analytics, [bots["beta"], bots["alpha"]], log) as base:
        assert written_calls(base) == 0
        writer = subprocess.run([sys.executable, str(WRITER), str(bots["beta"]), "3", TASK], capture_output=True,
                                text=True, check=True)
        written = int(writer.stdout.strip())
        deadline = time.monotonic() + 60
        while written_calls(base, "beta") != written and time.monotonic() < deadline:
            time.sleep(0.3)
        assert written > 5 and written_calls(base, "beta") == written, log.read_text()
        assert written_calls(base, "alpha") == 0
        per_bot = {name: get_json(base + f"/analytics/tool_calls.json?bot={name}&_size=1")[1]
                   ["filtered_table_rows_count"] for name in bots}
        assert per_bot == {"alpha": 638, "beta": 1301 + written}  # the samples' calls (tests/test_multibot.py)
        status, follow = get_json(base + "/-/amiga-follow.json")
        assert status == 200 and follow["swaps"] >= 1 and follow["last_error"] is None, (follow, log.read_text())
        # one bot's database gone: its sync fails and says so, the other bot's rounds still swap in
        bots["alpha"].rename(tmp_path / "alpha.moved")
        deadline = time.monotonic() + 60
        while "bot alpha: " not in str(follow["last_error"]) and time.monotonic() < deadline:
            time.sleep(0.3)
            follow = get_json(base + "/-/amiga-follow.json")[1]
        swaps = follow["swaps"]
        while follow["swaps"] == swaps and time.monotonic() < deadline:
            time.sleep(0.3)
            follow = get_json(base + "/-/amiga-follow.json")[1]
        assert "bot alpha: " in str(follow["last_error"]) and follow["swaps"] > swaps, (follow, log.read_text())
        assert str(tmp_path) not in follow["last_error"]  # no local path on the public status page
    bots["alpha"] = (tmp_path / "alpha.moved").rename(bots["alpha"])
    for name in bots:
        conn = read_only_connection(analytics.with_name("analytics.db.bots") / f"{name}.db")
        modes = [m for (m,) in conn.execute("SELECT mode FROM syncs ORDER BY sync_id")]
        conn.close()
        assert modes[0] == "full" and len(modes) >= 2 and set(modes[1:]) == {"incremental"}, (name, modes)


@pytest.mark.parametrize("case", ["not a bot of the store", "two bots into a one-bot store"])
def test_follow_refuses_what_the_store_does_not_hold(tmp_path, case):
    from click.testing import CliRunner

    from amiga_analytics.cli import cli
    from amiga_analytics.sync import sync

    fixtures = Path(__file__).parent / "fixtures"
    alpha, beta = tmp_path / "alpha.db", tmp_path / "beta.db"
    shutil.copyfile(fixtures / "sample.db", alpha)
    shutil.copyfile(fixtures / "sample_par.db", beta)
    analytics = tmp_path / "analytics.db"
    if case == "not a bot of the store":
        sync(alpha, analytics, source_tz="UTC", report_tz="UTC", bot="alpha")
        args, expect = ["--follow", str(beta)], "not a bot of"
    else:
        sync(alpha, analytics, source_tz="UTC", report_tz="UTC")
        args, expect = ["--follow", str(alpha), "--follow", str(beta)], "holds one bot"
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = CliRunner().invoke(cli, ["serve", str(analytics), *args])
    assert result.exit_code == 2 and expect in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
