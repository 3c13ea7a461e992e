"""The weekly report of a store of several bots (issue #18): ``--bot NAME`` is that bot's report; without it the
figures are all bots together and a table per bot says which bot to look at; a one-bot store's report is as
before. Expected figures are counted from the fixtures' truth files (per bot and their sum), never by the code
under test.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from pandas.testing import assert_frame_equal

import amiga_analytics as aa
from amiga_analytics.cli import cli
from test_multibot import SAMPLES, _copy, _sync, _twin

FIXTURES = Path(__file__).parent / "fixtures"
W41 = date(2025, 10, 6)  # alpha's last complete week (alpha: 29 Sep to 11 Oct 2025)
W43 = date(2025, 10, 20)  # beta's only week (20 to 26 Oct 2025)


def _truth(name: str) -> dict:
    return json.loads((FIXTURES / SAMPLES[name][1]).read_text())


def _day(stamp: str, zone: str) -> date:
    """The UTC day (the stores' report zone) of a truth time written in the bot host's zone."""
    return datetime.fromisoformat(stamp).replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC")).date()


def week_truth(name: str, monday: date) -> dict:
    """Bot ``name``'s figures of the week from ``monday``, counted from its truth file."""
    truth, zone = _truth(name), SAMPLES[name][2]

    def in_week(stamp: str | None) -> bool:
        return stamp is not None and monday <= _day(stamp, zone) < monday + timedelta(days=7)

    calls = [c for c in truth["calls"] if in_week(c["start"])]
    finished = [t for t in truth["tasks"] if t["final"] in ("completed", "failed", "stopped") and in_week(t["finished"])]
    return {"calls": len(calls), "failed": sum(c["outcome"] == "failure" for c in calls),
            "completed": sum(c["outcome"] in ("success", "failure") for c in calls), "tasks_finished": len(finished)}


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict:
    """alpha and beta in one store (their weeks apart), alpha and a twin of it in another (the same weeks), and
    alpha alone in a store synced without --bot."""
    work = tmp_path_factory.mktemp("multibot_report")
    bots = {name: _copy(work, name) for name in SAMPLES}
    apart, together, plain = work / "apart.db", work / "together.db", work / "plain.db"
    for name, path in bots.items():
        _sync(path, apart, name, SAMPLES[name][2])
    _sync(bots["alpha"], together, "alpha", "UTC")
    (work / "twin").mkdir()
    _sync(_twin(work / "twin"), together, "twin", "UTC")  # (_twin renames a copy of alpha it makes)
    _sync(bots["alpha"], plain, None, "UTC")
    return {"apart": apart, "together": together, "plain": plain, "work": work}


def _check_headline(report, want: dict) -> None:
    assert report.value("calls") == want["calls"] > 0
    assert report.value("error_rate") == pytest.approx(want["failed"] / want["completed"], rel=1e-12)
    assert report.value("tasks_finished") == want["tasks_finished"]


@pytest.mark.parametrize("name,monday", [("alpha", W41), ("beta", W43)])
def test_bot_option_gives_that_bots_report(stores, name, monday):
    report = aa.weekly_report(stores["apart"], week=monday, bot=name)
    assert report.bot == name and len(report.bots) == 0 and "bots" not in report.tables
    _check_headline(report, week_truth(name, monday))
    assert f", bot {name}" in report.to_markdown().splitlines()[0]
    urls = list(report.actions["datasette_url"])
    assert urls and all(u.endswith(f"bot={name}") for u in urls)


def test_bot_option_equals_the_bots_own_store(stores):
    """alpha's report out of the shared store is the report of alpha synced alone (every table; the links to rows
    also filter by bot)."""
    shared = aa.weekly_report(stores["apart"], week=W41, bot="alpha")
    alone = aa.weekly_report(stores["plain"], week=W41)
    assert set(shared.tables) == set(alone.tables)
    for table, df in alone.tables.items():
        got = shared.tables[table]
        if table == "actions":
            got = got.assign(datasette_url=got["datasette_url"].str.replace(r"[?&]bot=alpha$", "", regex=True))
        assert_frame_equal(got, df, obj=table)


def test_all_bots_add_up_and_each_has_its_row(stores):
    """alpha and its twin share their weeks: the headline is their sum and each bot's row its own truth."""
    report = aa.weekly_report(stores["together"], week=W41)
    alpha = week_truth("alpha", W41)
    _check_headline(report, {k: 2 * v for k, v in alpha.items()})
    rows = report.bots.set_index("bot")
    assert list(rows.index) == ["alpha", "twin"]
    for bot in rows.index:
        assert [rows.loc[bot, k] for k in ("calls", "failed", "tasks_finished")] == [
            alpha["calls"], alpha["failed"], alpha["tasks_finished"]]
        assert rows.loc[bot, "error_rate"] == pytest.approx(alpha["failed"] / alpha["completed"], rel=1e-12)
    assert rows["cost_usd"].sum() == pytest.approx(report.value("cost_usd"), rel=1e-12)
    assert rows.loc["alpha", "cost_usd"] == pytest.approx(rows.loc["twin", "cost_usd"], rel=1e-12)
    md = report.to_markdown()
    assert md.splitlines()[0] == "# AMIGA weekly report 2025-W41, bots alpha, twin"
    assert f"| alpha | {alpha['calls']:,} | {alpha['failed']:,} |" in md
    calls_checked = report.data_quality.set_index(["scope", "check_name"]).loc[("database", "calls"), "value"]
    assert calls_checked == 2 * len(_truth("alpha")["calls"])  # the whole-database checks of both bots, added


def test_a_bot_without_calls_in_the_week_shows_zero(stores):
    """The default week of alpha and beta is beta's (the last complete one with data): alpha's row is zero."""
    report = aa.weekly_report(stores["apart"])
    assert report.week == "2025-W43"
    beta = week_truth("beta", W43)
    assert beta["calls"] == len(_truth("beta")["calls"])  # every beta call falls in the week
    _check_headline(report, beta)
    rows = report.bots.set_index("bot")
    assert [rows.loc["alpha", k] for k in ("calls", "failed", "tasks_finished")] == [0, 0, 0]
    assert [rows.loc["beta", k] for k in ("calls", "failed", "tasks_finished")] == [
        beta["calls"], beta["failed"], beta["tasks_finished"]]


def test_a_bot_not_synced_for_a_while_does_not_hold_the_default_week_back(stores, tmp_path):
    """alpha last synced on 13 Oct 2025 (its data ends on the 11th), beta now: the default week is still the last
    complete one with data (beta's W43), and a note says that alpha's figures stop at its last sync."""
    import shutil
    import sqlite3

    store = tmp_path / "stale.db"
    shutil.copyfile(stores["apart"], store)
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE syncs SET started_at = '2025-10-13T12:00:00+00:00' WHERE bot = 'alpha'")
    conn.close()
    report = aa.weekly_report(store)
    assert report.week == "2025-W43"
    _check_headline(report, week_truth("beta", W43))
    assert [n for n in report.notes if "alpha" in n] == [
        "Bot alpha was last synced on Mon 2025-10-13: its figures stop there (sync it with `amiga-analytics sync "
        "BOT_DB ANALYTICS_DB --bot alpha`, or read it with --bot)."]
    assert not [n for n in report.notes if "beta" in n]


def test_a_one_bot_store_report_has_no_bot_table(stores):
    report = aa.weekly_report(stores["plain"], week=W41)
    assert report.bot is None and len(report.bots) == 0 and "bots" not in report.tables
    assert report.to_markdown().splitlines()[0] == "# AMIGA weekly report 2025-W41"
    _check_headline(report, week_truth("alpha", W41))


def _files(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_report_command_takes_bot(stores, tmp_path):
    out = tmp_path / "reports"
    done = CliRunner().invoke(cli, ["report", str(stores["together"]), "--week", "2025-W41", "--out", str(out),
                                    "--format", "csv", "--quiet"])
    assert done.exit_code == 0, done.output
    lines = (out / "2025-W41" / "bots.csv").read_text().splitlines()
    alpha = week_truth("alpha", W41)
    assert lines[0] == "bot,calls,failed,error_rate,cost_usd,tasks_finished"
    assert [line.split(",")[:3] for line in lines[1:]] == [
        [bot, str(alpha["calls"]), str(alpha["failed"])] for bot in ("alpha", "twin")]
    one = tmp_path / "one"
    done = CliRunner().invoke(cli, ["report", str(stores["together"]), "--week", "2025-W41", "--out", str(one),
                                    "--format", "csv", "--bot", "twin", "--quiet"])
    assert done.exit_code == 0, done.output
    assert not (one / "2025-W41" / "bots.csv").exists()
    assert (one / "2025-W41" / "headline.csv").read_text().count(f",{alpha['calls']}.0,") == 1


@pytest.mark.parametrize("command", ["report", "check"])
def test_an_unknown_bot_exits_2_and_writes_nothing(stores, tmp_path, command):
    before = _files(stores["work"])
    args = [command, str(stores["apart"]), "--bot", "gamma"] + (["--out", str(tmp_path / "r")] if command == "report"
                                                                else [])
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 2 and len(done.output.strip().splitlines()) == 1, done.output
    assert "holds alpha, beta" in done.output
    assert _files(stores["work"]) == before and not (tmp_path / "r").exists()


def test_a_model_name_two_bots_cannot_resolve_counts_once(tmp_path):
    """unknown_models counts distinct names: two bots run with the same unpriced default model have one unknown
    model between them, where adding their checks up said two."""
    store = tmp_path / "analytics.db"
    (tmp_path / "twin").mkdir()
    for name, path in (("alpha", _copy(tmp_path, "alpha")), ("twin", _twin(tmp_path / "twin"))):
        aa.sync(path, store, source_tz="UTC", report_tz="UTC", bot=name, default_model="claude-nonesuch-9")

    def unknown(report) -> int:
        return int(report.data_quality.set_index(["scope", "check_name"]).loc[("database", "unknown_models"),
                                                                                "value"])
    one = unknown(aa.weekly_report(store, week=W41, bot="alpha"))
    assert one >= 1  # the default model at least: no alias or price row names it
    assert unknown(aa.weekly_report(store, week=W41, bot="twin")) == one
    assert unknown(aa.weekly_report(store, week=W41)) == one  # the same names: counted once, not twice
