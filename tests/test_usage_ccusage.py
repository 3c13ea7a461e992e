"""The real peer as referee: ccusage 20.0.24 (npm, offline) reads the same transcripts as ``aa.usage``: the sample's
and the demo generator's.

``scripts/ensure-ccusage`` installs it into ``.tools/`` when missing (``make test`` calls it first).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from sqlite_utils import Database

import amiga_analytics as aa
from amiga_analytics.demo import write_demo
from amiga_analytics.load.transcripts import read_transcripts, request_rows, write_requests
from amiga_analytics.queries.usage import usage
from amiga_analytics.store import schema
from amiga_analytics.store.transcripts_schema import m004_api_requests

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CLAUDE_DIR = FIXTURES / "sample_par.claude"
TRUTH = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())
LONG_CONTEXT = 200_000
# Sonnet 4.5, USD per million tokens: list prices, and LiteLLM's cache-read price above 200k tokens (ccusage's table)
SONNET = "claude-sonnet-4-5-20250929"
SONNET_PRICES = {"input": 3.00, "output": 15.00, "cache_write_5m": 3.75, "cache_write_1h": 6.00, "cache_read": 0.30}
LITELLM_SONNET_CACHE_READ_ABOVE_200K = 0.60


def run_ccusage(config: Path, tz: str) -> dict:
    done = subprocess.run([str(ROOT / "scripts" / "ensure-ccusage")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"scripts/ensure-ccusage failed: {done.stderr.strip()}"
    binary = done.stdout.strip().splitlines()[-1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCUSAGE")}
    env.update(CLAUDE_CONFIG_DIR=str(config), HOME=str(config.parent), NO_COLOR="1")
    out = subprocess.run([binary, "claude", "daily", "--json", "--offline", "-z", tz], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def config_copy(tmp_path_factory) -> Path:
    config = tmp_path_factory.mktemp("ccusage") / "claude"
    shutil.copytree(CLAUDE_DIR, config)
    return config


def usage_by_day(tz: str, base: Path) -> dict:
    db = Database(base / "a.db")
    schema.migrate(db)
    m004_api_requests(db)
    db["sync_state"].insert({"key": "report_tz", "value": json.dumps(tz)}, pk="key", replace=True)
    write_requests(db, request_rows(read_transcripts(CLAUDE_DIR), report_tz=tz))
    df = usage(db, by="model_id", freq="D")
    df = df[df["requests"] > 0]
    return {(p.strftime("%Y-%m-%d"), m): r for p, m, r in zip(df["period_start"], df["model_id"], df.to_dict("records"))}


@pytest.fixture(scope="module")
def ccusage_daily(config_copy) -> dict:
    return run_ccusage(config_copy, "UTC")


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> dict:
    return usage_by_day("UTC", tmp_path_factory.mktemp("usage"))


def test_ccusage_agrees_token_for_token_per_day_and_model(ccusage_daily, ours):
    theirs = {(d["date"], m["modelName"]): m for d in ccusage_daily["daily"] for m in d["modelBreakdowns"]}
    assert theirs.keys() == ours.keys()
    for key, m in theirs.items():
        r = ours[key]
        assert (m["inputTokens"], m["outputTokens"], m["cacheCreationTokens"], m["cacheReadTokens"]) == (
            r["input_tokens"], r["output_tokens"], r["cache_write_5m_tokens"] + r["cache_write_1h_tokens"],
            r["cache_read_tokens"]), key
    total = sum(r[c] for r in ours.values() for c in ("input_tokens", "output_tokens", "cache_write_5m_tokens",
                                                       "cache_write_1h_tokens", "cache_read_tokens"))
    assert total == ccusage_daily["totals"]["totalTokens"] == 36_666_179


def test_in_berlin_days_too(config_copy, tmp_path):
    theirs = run_ccusage(config_copy, "Europe/Berlin")
    mine = usage_by_day("Europe/Berlin", tmp_path)
    got = {(d["date"], m["modelName"]): (m["inputTokens"], m["outputTokens"], m["cacheCreationTokens"],
                                         m["cacheReadTokens"]) for d in theirs["daily"] for m in d["modelBreakdowns"]}
    assert got == {k: (r["input_tokens"], r["output_tokens"], r["cache_write_5m_tokens"] + r["cache_write_1h_tokens"],
                       r["cache_read_tokens"]) for k, r in mine.items()}
    truth = {(day, model): (s["input"], s["output"], s["cache_write_5m"] + s["cache_write_1h"], s["cache_read"])
             for day, models in TRUTH["daily_local"].items() for model, s in models.items()}
    assert got == truth


def _long_context_days() -> set[str]:
    """UTC days with a request whose whole input exceeds 200k tokens (where long-context prices can apply)."""
    return {t["timestamp"][:10] for t in TRUTH["requests"]
            if t["input"] + t["cache_write_5m"] + t["cache_write_1h"] + t["cache_read"] > LONG_CONTEXT}


def test_cost_within_one_percent_where_both_price_tables_agree(ccusage_daily, ours):
    days = {d["date"]: d for d in ccusage_daily["daily"]}
    agreeing = set(days) - _long_context_days()
    assert len(agreeing) >= 4
    for day in agreeing:
        mine = sum(r["cost_usd"] for (d, _), r in ours.items() if d == day)
        assert mine == pytest.approx(days[day]["totalCost"], rel=0.01), day


def test_the_other_days_differ_by_ccusages_per_category_200k_tier(ccusage_daily):
    """ccusage prices the tokens of one category above 200,000 in one request at LiteLLM's ``*_above_200k``
    rate (Sonnet 4.5 has one, Opus 4 has none); hand-computed here from the truth, independent of our code."""
    extra: dict = defaultdict(float)
    base: dict = defaultdict(float)
    for t in TRUTH["requests"]:
        if t["model"] == SONNET:
            base[t["timestamp"][:10]] += sum(t[k] * p for k, p in SONNET_PRICES.items()) / 1e6
            over = max(t["cache_read"] - LONG_CONTEXT, 0)
            extra[t["timestamp"][:10]] += over * (LITELLM_SONNET_CACHE_READ_ABOVE_200K - SONNET_PRICES["cache_read"]) / 1e6
    for d in ccusage_daily["daily"]:
        sonnet = next((m["cost"] for m in d["modelBreakdowns"] if m["modelName"] == SONNET), 0.0)
        assert sonnet == pytest.approx(base[d["date"]] + extra[d["date"]], rel=1e-9), d["date"]
    assert {day for day, e in extra.items() if e > 0} == {"2025-10-20", "2025-10-24"}


def test_a_null_speed_drops_the_line_in_ccusage_not_here(tmp_path):
    """ccusage skips every line with ``"speed":null`` (and ten other null fields); we count it."""
    session = "11111111-2222-4333-8444-555555555555"
    lines = []
    for n, speed in enumerate(("standard", None)):
        lines.append({"type": "assistant", "sessionId": session, "cwd": "/w", "version": "2.1.30",
                      "timestamp": f"2025-10-21T10:00:0{n}.000Z", "requestId": f"req_{n}", "uuid": f"u{n}",
                      "message": {"id": f"msg_{n}", "model": SONNET, "role": "assistant", "content": [],
                                  "usage": {"input_tokens": 10 ** n, "output_tokens": 0,
                                            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                                            "speed": speed}}})
    path = tmp_path / "claude" / "projects" / "-w" / f"{session}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines))  # as Claude Code writes
    theirs = run_ccusage(tmp_path / "claude", "UTC")
    assert theirs["totals"]["inputTokens"] == 1
    assert sum(r["input_tokens"] for r in request_rows(read_transcripts(tmp_path / "claude"))) == 1 + 10


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A demo on a Los Angeles host, synced with its transcripts in UTC days."""
    base = tmp_path_factory.mktemp("ccusage-demo")
    bot = base / "demo-bot.db"
    result = write_demo(bot, days=10, seed=4, tz="America/Los_Angeles", calls=2500)
    db = base / "analytics.db"
    aa.sync(bot, db, source_tz="America/Los_Angeles", report_tz="UTC", transcripts=[result.transcripts_path])
    return result.transcripts_path, db, json.loads(Path(f"{bot}.transcripts.truth.json").read_text())


def test_ccusage_agrees_on_the_demo_token_for_token_per_day(demo):
    claude_dir, db, truth = demo
    theirs = run_ccusage(claude_dir, "UTC")
    got = {(d["date"], m["modelName"]): (m["inputTokens"], m["outputTokens"], m["cacheCreationTokens"],
                                         m["cacheReadTokens"]) for d in theirs["daily"] for m in d["modelBreakdowns"]}
    df = aa.usage(db, by="model_id", freq="D")
    ours = {(p.strftime("%Y-%m-%d"), r["model_id"]): (r["input_tokens"], r["output_tokens"],
                                                       r["cache_write_5m_tokens"] + r["cache_write_1h_tokens"],
                                                       r["cache_read_tokens"])
            for p, r in zip(df["period_start"], df.to_dict("records")) if r["requests"]}
    assert got == ours
    assert ours == {(day, model): (s["input"], s["output"], s["cache_write_5m"] + s["cache_write_1h"], s["cache_read"])
                    for day, models in truth["daily_utc"].items() for model, s in models.items()}
    per_day = {d["date"]: d["totalTokens"] for d in theirs["daily"]}
    assert per_day == {day: sum(sum(s[f] for f in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"))
                                for s in models.values()) for day, models in truth["daily_utc"].items()}
    assert len(per_day) >= 10 and theirs["totals"]["totalTokens"] == sum(per_day.values())
