"""Prices and aliases: 2026 models priced from Anthropic's published prices, the `prices` command, user
overrides, repricing in place when the tables change, and the guard against a release with no alias row.

Every expected price below is typed by hand from Anthropic's published prices (shared/pricing.md and the model
pages it cites), USD per million tokens, never read from the package's tables.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from amiga_analytics.bot import schema as bot_schema
from amiga_analytics.cli import cli
from amiga_analytics.load import genai_source
from amiga_analytics.load.pricing import FAMILY_ALIASES, PriceBook, project_price_rows
from amiga_analytics.load.sync import sync
from dbquery import q

# (input, output, cache write 5 min, cache read), USD per million tokens.
SONNET_45 = SONNET_46 = (3.0, 15.0, 3.75, 0.30)
SONNET_5 = (2.0, 10.0, 2.50, 0.20)
SONNET_55_AT_LAUNCH = (2.0, 10.0, 2.50, 0.20)
SONNET_55_FROM_OCT_7 = (2.0, 10.0, 2.50, 0.10)
OPUS_46 = OPUS_5 = (5.0, 25.0, 6.25, 0.50)
OPUS_55 = (4.0, 20.0, 5.0, 0.20)
HAIKU_55 = (0.10, 0.50, 0.125, 0.01)
TOKENS = (120_000, 30_000, 40_000, 500_000)  # input, output, cache write, cache read of each task's Task call

# task id, created (bot host's naive local time, UTC here), alias, the model it meant, its cost in USD by hand
TASKS = [
    ("a25100", "2025-10-01T10:00:00", "sonnet", "claude-sonnet-4-5-20250929", 1.11),  # .36 + .45 + .15 + .15
    ("a26030", "2026-03-01T10:00:00", "sonnet", "claude-sonnet-4-6", 1.11),
    ("b26030", "2026-03-01T11:00:00", "opus", "claude-opus-4-6", 1.85),  # .60 + .75 + .25 + .25 (base: no sizes)
    ("a26080", "2026-08-01T10:00:00", "sonnet", "claude-sonnet-5", 0.74),  # .24 + .30 + .10 + .10
    ("b26080", "2026-08-01T11:00:00", "opus", "claude-opus-5", 1.85),
    ("a26100", "2026-10-01T10:00:00", "sonnet", "claude-sonnet-5-5", 0.74),  # cache read still 0.20
    ("a26111", "2026-11-15T10:00:00", "sonnet", "claude-sonnet-5-5", 0.69),  # .24 + .30 + .10 + .05
    ("b26111", "2026-11-15T11:00:00", "opus", "claude-opus-5-5", 1.38),  # .48 + .60 + .20 + .10
    ("c26111", "2026-11-15T12:00:00", "haiku", "claude-haiku-5-5", 0.037),  # .012 + .015 + .005 + .005
]
PRICES_BY_MODEL = {
    "claude-sonnet-4-5-20250929": SONNET_45, "claude-sonnet-4-6": SONNET_46, "claude-opus-4-6": OPUS_46,
    "claude-sonnet-5": SONNET_5, "claude-opus-5": OPUS_5, "claude-opus-5-5": OPUS_55, "claude-haiku-5-5": HAIKU_55,
}
# Router: claude-haiku-4-5 (Haiku 4.5, $1 / $5) on 2026-11-15, 20,000 in and 2,000 out: 0.02 + 0.01.
ROUTER_COST = 0.03



def _bot_2026(tmp_path: Path) -> Path:
    """A bot database written the way the bot writes it: tasks, and one completed Task call each (the server-down
    pattern: one row updated in place) carrying the sub-agent's tokens."""
    path = tmp_path / "bot.db"
    bot_schema.create_bot_database(path).close()
    conn = sqlite3.connect(path)
    with conn:
        for i, (task_id, created, alias, _, _) in enumerate(TASKS, start=1):
            conn.execute("""INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model,
                            workspace) VALUES (?, 7, 'a task', 'completed', ?, ?, ?, '/ws')""",
                         (task_id, created, created[:11] + "10:30:00", alias))
            conn.execute("""INSERT INTO tool_usage (id, timestamp, task_id, tool_name, success, parameters,
                            input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens)
                            VALUES (?, ?, ?, 'Task', 1, '{"subagent_type": "code-agent"}', ?, ?, ?, ?)""",
                         (i, created[:11] + "10:05:00.000100", task_id, *TOKENS))
        conn.execute("""INSERT INTO messages (user_id, timestamp, role, content, tokens_input, tokens_output,
                        input_method, model) VALUES (7, '2026-11-15T09:00:00', 'assistant', 'hi', 20000, 2000, 'text',
                        'claude-haiku-4-5')""")
    conn.close()
    return path


def _hand_cost(model_id: str, day: str) -> float:
    prices = PRICES_BY_MODEL.get(model_id)
    if model_id == "claude-sonnet-5-5":
        prices = SONNET_55_AT_LAUNCH if day < "2026-10-07" else SONNET_55_FROM_OCT_7
    return sum(n * p for n, p in zip(TOKENS, prices)) / 1e6


# --- the done-when: three periods of 2026, to the cent ----------------------------------------------------------


def test_2026_tasks_get_the_model_their_alias_meant_and_its_price_on_that_date(tmp_path):
    bot = _bot_2026(tmp_path)
    out = tmp_path / "a.db"
    sync(bot, out, source_tz="UTC")
    tasks = {r[0]: r[1:] for r in q(out, "SELECT task_id, model_id, cost_usd, unpriced_tokens FROM tasks")}
    calls = {r[0]: r[1:] for r in q(out, "SELECT task_id, model_id, cost_usd FROM tool_calls")}
    for task_id, created, _, model_id, cents in TASKS:
        got_model, got_cost, unpriced = tasks[task_id]
        assert got_model == model_id, task_id
        assert calls[task_id][0] == model_id
        assert round(got_cost, 2) == round(cents, 2), task_id  # to the cent
        assert got_cost == pytest.approx(cents, rel=1e-12)  # and exactly what the hand sums say
        assert got_cost == pytest.approx(_hand_cost(model_id, created[:10]), rel=1e-12)
        assert unpriced == 0
    (router_model, router_cost), = q(out, "SELECT model_id, cost_usd FROM router_messages")
    assert router_model == "claude-haiku-4-5-20251001" and router_cost == pytest.approx(ROUTER_COST, rel=1e-12)
    daily = dict(q(out, "SELECT model_id, TOTAL(cost_usd) FROM tool_daily GROUP BY model_id"))
    assert daily["claude-sonnet-5-5"] == pytest.approx(0.74 + 0.69, rel=1e-12)


def test_2025_prices_did_not_change():
    """The first table of shared/pricing.md, typed in: genai-prices and the project's rows agree with it."""
    book = PriceBook.load()
    want = {  # model, a day it was in use: input, cache write 5m, cache write 1h, cache read, output
        ("claude-3-haiku-20240307", "2025-01-01"): (0.25, 0.30, 0.50, 0.03, 1.25),
        ("claude-3-opus-20240229", "2025-01-01"): (15, 18.75, 30, 1.50, 75),
        ("claude-3-5-haiku-20241022", "2025-01-01"): (0.80, 1.00, 1.60, 0.08, 4),
        ("claude-3-7-sonnet-20250219", "2025-03-01"): (3, 3.75, 6, 0.30, 15),
        ("claude-sonnet-4-20250514", "2025-06-01"): (3, 3.75, 6, 0.30, 15),
        ("claude-opus-4-20250514", "2025-06-01"): (15, 18.75, 30, 1.50, 75),
        ("claude-opus-4-1-20250805", "2025-09-01"): (15, 18.75, 30, 1.50, 75),
        ("claude-sonnet-4-5-20250929", "2025-10-01"): (3, 3.75, 6, 0.30, 15),
        ("claude-haiku-4-5-20251001", "2025-10-20"): (1, 1.25, 2, 0.10, 5),
        ("claude-opus-4-5-20251101", "2025-12-01"): (5, 6.25, 10, 0.50, 25),
    }
    for (model_id, day), (i, w5, w1, r, o) in want.items():
        p = book.price(model_id, day)
        assert (p.input, p.cache_write_5m, p.cache_write_1h, p.cache_read, p.output) == (i, w5, w1, r, o), model_id


def test_long_context_tiers_apply_only_when_the_request_size_is_known():
    book = PriceBook.load()
    # Opus 4.6 on 2026-03-01: above 200k input tokens, $10 / $37.50; the tier ended on 2026-03-13.
    assert book.cost("claude-opus-4-6", "2026-03-01", 250_000, 10_000, 0, 0) == pytest.approx(1.25 + 0.25)
    assert book.cost("claude-opus-4-6", "2026-03-01", 250_000, 10_000, 0, 0,
                     request_input_tokens=250_000) == pytest.approx(2.50 + 0.375)
    assert book.cost("claude-opus-4-6", "2026-03-20", 250_000, 10_000, 0, 0,
                     request_input_tokens=250_000) == pytest.approx(1.25 + 0.25)
    # Sonnet 4 (the project's row: genai-prices lacks its tier): $6 / $22.50 above 200k.
    assert book.cost("claude-sonnet-4-20250514", "2025-06-01", 100_000, 10_000, 0, 150_000,
                     request_input_tokens=250_000) == pytest.approx(0.60 + 0.225 + 0.09)
    assert book.has_tier("claude-opus-4-6", "2026-03-01") and not book.has_tier("claude-opus-4-6", "2026-03-13")
    # Haiku 5.5: above 100k-token prompts every token costs 5x; 1-hour cache writes at 2x input.
    assert book.cost("claude-haiku-5-5", "2026-11-15", 50_000, 1_000, 0, 60_000,
                     request_input_tokens=110_000) == pytest.approx(0.025 + 0.0025 + 0.003)
    assert book.cost("claude-haiku-5-5", "2026-11-15", 0, 0, 0, 0, cache_write_1h_tokens=1_000_000) == pytest.approx(0.20)


# --- where rows come from -----------------------------------------------------------------------------------


def _family_version(model_id: str) -> tuple[str, tuple[int, ...]] | None:
    """``claude-sonnet-5-5`` → ("sonnet", (5, 5)); ``claude-3-5-haiku-latest`` → ("haiku", (3, 5))."""
    new = re.fullmatch(r"claude-(sonnet|opus|haiku)-(\d+)(?:-(\d))?", model_id)
    old = re.fullmatch(r"claude-(\d)(?:-(\d))?-(sonnet|opus|haiku)(?:-latest)?", model_id)
    if new:
        return new.group(1), tuple(int(x) for x in new.groups()[1:] if x is not None)
    if old:
        return old.group(3), tuple(int(x) for x in old.groups()[:2] if x is not None)
    return None


def test_the_newest_release_of_each_family_in_the_price_data_has_an_alias_row():
    """Fails when genai-prices ships a newer Sonnet, Opus or Haiku than the alias table names: add the row
    (alias, release day, model id, source) to load/data/model_aliases.csv."""
    models = genai_source.anthropic_models()
    newest: dict[str, tuple[tuple[int, ...], str]] = {}
    for model in models:
        parsed = _family_version(model.id)
        assert parsed is not None or not any(f in model.id for f in FAMILY_ALIASES), f"cannot read {model.id}"
        if parsed is not None:
            family, version = parsed
            newest[family] = max(newest.get(family, ((), "")), (version, model.id))
    assert set(newest) == set(FAMILY_ALIASES)
    book = PriceBook.load()
    for family, (_, genai_id) in newest.items():
        rows = sorted((r["effective_from"], r["model_id"]) for r in book.alias_rows if r["alias"] == family)
        latest_target = rows[-1][1]
        matched = genai_source.match(models, latest_target)
        assert matched is not None and matched.id == genai_id, (
            f"`{family}` ends at {latest_target}, but the price data's newest {family} is {genai_id}")


def test_every_alias_row_has_a_source_and_a_price_from_its_first_day():
    book = PriceBook.load()
    for r in book.alias_rows:
        assert r["source"], r
        assert book.price(r["model_id"], r["effective_from"]) is not None, r
    moves = {(r["alias"], r["effective_from"]): r["model_id"] for r in book.alias_rows}
    assert moves[("sonnet", "2026-06-30")] == "claude-sonnet-5"
    assert moves[("opus", "2026-07-24")] == "claude-opus-5"
    assert moves[("sonnet", "2026-09-28")] == "claude-sonnet-5-5"


def test_the_project_rows_each_fix_something_the_source_lacks_or_gets_wrong():
    """When genai-prices catches up, this fails: delete the project's row that it made redundant."""
    book_rows = {(r["model_id"], r["effective_from"]): r for r in genai_source.price_rows(
        {r["model_id"]: r["effective_from"] for r in PriceBook.load().alias_rows if r["alias"] in FAMILY_ALIASES})}
    numbers = [c for c in project_price_rows()[0] if c.endswith("_mtok") or c == "tier_above_input_tokens"]
    for row in project_price_rows():
        assert row["source"] and row["reason"], row
        theirs = book_rows.get((row["model_id"], row["effective_from"]))
        if theirs is not None:
            assert any(float(row[c] or 0) != float(theirs[c] or 0) for c in numbers), row["model_id"]


def test_sonnet_55_cache_read_follows_the_project_choice_with_both_sources():
    book = PriceBook.load()
    assert book.price("claude-sonnet-5-5", "2026-10-06").cache_read == 0.20
    assert book.price("claude-sonnet-5-5", "2026-10-07").cache_read == 0.10
    sources = " ".join(r["source"] for r in book.price_rows if r["model_id"] == "claude-sonnet-5-5")
    assert "Anthropic" in sources and "genai-prices" in sources


# --- the prices command -------------------------------------------------------------------------------------


def test_prices_command_in_all_three_formats():
    run = CliRunner().invoke
    csv_out = run(cli, ["prices", "--at", "2026-08-01", "--model", "sonnet", "--format", "csv"])
    assert csv_out.exit_code == 0, csv_out.output
    header, row = csv_out.output.strip().splitlines()
    got = dict(zip(header.split(","), row.split(",")))
    assert (got["model_id"], got["input_usd_per_mtok"], got["output_usd_per_mtok"], got["cache_read_usd_per_mtok"]) \
        == ("claude-sonnet-5", "2", "10", "0.2")
    assert "sonnet" in got["aliases"].split() and got["source"].startswith("genai-prices")
    js = run(cli, ["prices", "--at", "2026-11-15", "--format", "json"])
    assert js.exit_code == 0
    data = json.loads(js.output)
    assert data["at"] == "2026-11-15"
    assert {k: data["aliases"][k] for k in FAMILY_ALIASES} == {
        "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5", "haiku": "claude-haiku-5-5"}
    by_model = {r["model_id"]: r for r in data["prices"]}
    assert by_model["claude-sonnet-5-5"]["cache_read_usd_per_mtok"] == 0.10
    assert by_model["claude-sonnet-5-5"]["tier_above_input_tokens"] is None
    assert by_model["claude-haiku-5-5"]["tier_above_input_tokens"] == 100_000
    assert "claude-sonnet-5-5" in by_model and "claude-opus-5-5" in by_model
    table = run(cli, ["prices", "--at", "2026-03-01", "--model", "opus"])
    assert table.exit_code == 0
    assert "2026-03-01" in table.output and "claude-opus-4-6" in table.output and "37.5" in table.output
    assert sum(line.startswith("claude-") for line in table.output.splitlines()) == 1  # the one model
    assert "tier_*" in table.output  # and what its tier columns mean
    bad = run(cli, ["prices", "--at", "next week"])
    assert bad.exit_code == 2 and "--at" in bad.output


def test_a_user_price_file_overrides_both_layers(tmp_path):
    prices = tmp_path / "my-prices.csv"
    prices.write_text(
        "model_id,effective_from,input_usd_per_mtok,output_usd_per_mtok,cache_write_5m_usd_per_mtok,"
        "cache_write_1h_usd_per_mtok,cache_read_usd_per_mtok,source\n"
        "claude-sonnet-5,2026-06-30,4,20,5,8,0.4,our contract\n"
        "claude-sonnet-5-5,2026-10-07,1,5,1.25,2,0.05,\n")
    book = PriceBook.load(prices)
    assert book.price("claude-sonnet-5", "2026-08-01").input == 4
    assert book.price("claude-sonnet-5-5", "2026-11-15").cache_read == 0.05
    assert book.price("claude-sonnet-5-5", "2026-10-01").cache_read == 0.20  # the project's row still stands
    out = CliRunner().invoke(cli, ["prices", "--at", "2026-11-15", "--model", "sonnet", "--format", "csv",
                                   "--prices", str(prices)])
    assert out.exit_code == 0 and "user file my-prices.csv" in out.output
    bot = _bot_2026(tmp_path)
    db = tmp_path / "a.db"
    sync(bot, db, source_tz="UTC", prices=prices)
    cost = dict(q(db, "SELECT task_id, cost_usd FROM tasks"))
    assert cost["a26080"] == pytest.approx(0.48 + 0.60 + 0.20 + 0.20)  # 4 / 20 / 5 / 0.4
    assert cost["a26111"] == pytest.approx(0.12 + 0.15 + 0.05 + 0.025)  # 1 / 5 / 1.25 / 0.05


# --- repricing without re-reading the bot -------------------------------------------------------------------

COMPARED = {
    "tool_calls": ("call_id", "*"),
    "tasks": ("task_id", "task_id, model_id, calls, input_tokens, cost_usd, unpriced_tokens, created_day"),
    "router_messages": ("message_id", "message_id, model, model_id, cost_usd, unpriced_tokens"),
    "tool_daily": ("day, tool_name, model_id, agent_type, outcome, error_category", "*"),
    "model_prices": ("model_id, effective_from", "*"),
    "model_aliases": ("alias, effective_from", "*"),
}


def _same(a: Path, b: Path) -> None:
    for table, (order, columns) in COMPARED.items():
        sql = f"SELECT {columns} FROM {table} ORDER BY {order}"
        assert q(a, sql) == q(b, sql), table


def test_changed_tables_reprice_in_place_and_unchanged_ones_stay_incremental(tmp_path):
    bot = _bot_2026(tmp_path)
    db = tmp_path / "a.db"
    first = sync(bot, db, source_tz="UTC")
    assert first.mode == "full" and "prices changed" not in first.summary()
    again = sync(bot, db)
    assert again.mode == "incremental" and again.calls_written == 0 and "prices changed" not in again.summary()

    prices = tmp_path / "p.csv"
    prices.write_text("model_id,effective_from,input_usd_per_mtok,output_usd_per_mtok,cache_write_5m_usd_per_mtok,"
                      "cache_write_1h_usd_per_mtok,cache_read_usd_per_mtok,source\n"
                      "claude-sonnet-5-5,2026-10-07,1,5,1.25,2,0.05,test\n")
    aliases = tmp_path / "a.csv"
    aliases.write_text("alias,effective_from,model_id,source\nopus,2026-09-23,claude-opus-5,test: no Opus 5.5\n")
    repriced = sync(bot, db, prices=prices, aliases=aliases)
    # Not re-read: only the rows of calls still open, as in any incremental sync; nothing rewritten from the bot.
    assert repriced.mode == "incremental" and repriced.calls_written == 0
    assert repriced.bot_rows_read == again.bot_rows_read
    assert "prices changed" in repriced.summary() and "repriced in place" in repriced.summary()
    assert "2 call costs" in repriced.summary() and "1 task models" in repriced.summary()
    tasks = {r[0]: r[1:] for r in q(db, "SELECT task_id, model_id, cost_usd FROM tasks")}
    assert tasks["a26111"][0] == "claude-sonnet-5-5"
    assert tasks["a26111"][1] == pytest.approx(0.12 + 0.15 + 0.05 + 0.025)
    assert tasks["b26111"] == ("claude-opus-5", pytest.approx(1.85))
    assert tasks["a26100"][1] == pytest.approx(0.74)  # before the user's row: unchanged
    fresh = tmp_path / "fresh.db"
    sync(bot, fresh, source_tz="UTC", prices=prices, aliases=aliases)
    _same(db, fresh)

    still = sync(bot, db, prices=prices, aliases=aliases)
    assert still.mode == "incremental" and "prices changed" not in still.summary()
    back = sync(bot, db)
    assert back.mode == "incremental" and "prices changed" in back.summary()
    original = tmp_path / "original.db"
    sync(bot, original, source_tz="UTC")
    _same(db, original)
