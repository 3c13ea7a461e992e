"""Cost of transcript requests, hand-computed here from prices typed into this file (Anthropic's list prices,
USD per million tokens: input, output, 5-minute cache write, 1-hour cache write, cache read)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from amiga_analytics.load.pricing import PriceBook
from amiga_analytics.load.transcripts import Rates, RequestCopy, read_transcripts, request_cost, request_rows

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_DIR = FIXTURES / "sample_par.claude"
TRUTH = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())

PRICES = {  # typed from https://platform.claude.com/docs/en/about-claude/pricing
    "claude-sonnet-4-5-20250929": (3.00, 15.00, 3.75, 6.00, 0.30),
    "claude-opus-4-20250514": (15.00, 75.00, 18.75, 30.00, 1.50),
    "claude-opus-4-1-20250805": (15.00, 75.00, 18.75, 30.00, 1.50),
    "claude-haiku-4-5-20251001": (1.00, 5.00, 1.25, 2.00, 0.10),
}
# Long context (same page): a Sonnet 4.5 request whose whole input (input + cache writes + cache reads) exceeds
# 200,000 tokens pays these rates on all its tokens.
LONG_CONTEXT = {"claude-sonnet-4-5-20250929": (200_000, (6.00, 22.50, 7.50, 12.00, 0.60))}
FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


def hand_cost(model: str, tokens: dict) -> float:
    prices = PRICES[model]
    if model in LONG_CONTEXT:
        threshold, tier = LONG_CONTEXT[model]
        if tokens["input"] + tokens["cache_write_5m"] + tokens["cache_write_1h"] + tokens["cache_read"] > threshold:
            prices = tier
    return sum(tokens[f] * p for f, p in zip(FIELDS, prices)) / 1_000_000


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return request_rows(read_transcripts(CLAUDE_DIR), book=PriceBook.load())


def test_every_request_costs_its_own_models_price(rows):
    by_key = {(r["message_id"], r["request_id"]): r for r in rows}
    for t in TRUTH["requests"]:
        r = by_key[(t["message_id"], t["request_id"] or "")]
        assert r["cost_usd"] == pytest.approx(hand_cost(t["model"], t), rel=1e-12, abs=1e-15)
        assert r["unpriced_tokens"] == 0


def test_one_request_by_hand(rows):
    # truth request 0: sonnet 4.5, 5 input, 874 output, 2,404 1-hour writes, 18,025 cache reads
    r = next(r for r in rows if r["message_id"] == "msg_01RoIdg8vXNTjowy9XAG6zao")
    assert r["cost_usd"] == pytest.approx((5 * 3 + 874 * 15 + 2404 * 6 + 18025 * 0.30) / 1e6, rel=1e-12)


def test_cost_per_model_and_utc_day_from_the_truths_sums(rows):
    mine: dict = defaultdict(float)
    for r in rows:
        mine[(r["day"], r["model_id"])] += r["cost_usd"]
    # The long-context tier is per request, so the expected cost is summed per request of the truth; without
    # tiers it equals the day's token sums at the base prices.
    expected: dict = defaultdict(float)
    for t in TRUTH["requests"]:
        expected[(t["timestamp"][:10], t["model"])] += hand_cost(t["model"], t)
    for day, models in TRUTH["daily_utc"].items():
        for model, sums in models.items():
            assert mine[(day, model)] == pytest.approx(expected[(day, model)], rel=1e-9)
            if model not in LONG_CONTEXT:
                assert mine[(day, model)] == pytest.approx(hand_cost(model, sums), rel=1e-9)


def _request(**kw) -> RequestCopy:
    base = dict(message_id="m", request_id="r", session_id="s", agent="main", model_id="x", timestamp=None,
                input=1000, output=2000, cache_write_5m=3000, cache_write_1h=4000, cache_read=5000, fast=False,
                file="f", order=(0, 0), wrapped=False)
    base.update(kw)
    return RequestCopy(**base)


BASE = Rates(3.0, 15.0, 3.75, 6.0, 0.30)
LONG = Rates(6.0, 22.5, 7.5, 12.0, 0.60)


def test_one_hour_writes_at_their_own_rate():
    cost, unpriced = request_cost(BASE, _request())
    assert unpriced == 0
    assert cost == pytest.approx((1000 * 3 + 2000 * 15 + 3000 * 3.75 + 4000 * 6 + 5000 * 0.30) / 1e6)


def test_long_context_tier_prices_the_whole_request():
    tiered = replace(BASE, long_context_threshold=200_000, long_context=LONG)
    small = _request(cache_read=190_000)  # whole input 198,000: base rates
    large = _request(cache_read=250_000)  # whole input 258,000: every token at the tier's rates
    assert request_cost(tiered, small)[0] == pytest.approx(
        (1000 * 3 + 2000 * 15 + 3000 * 3.75 + 4000 * 6 + 190_000 * 0.30) / 1e6)
    assert request_cost(tiered, large)[0] == pytest.approx(
        (1000 * 6 + 2000 * 22.5 + 3000 * 7.5 + 4000 * 12 + 250_000 * 0.60) / 1e6)
    assert request_cost(BASE, large)[0] == pytest.approx(  # no tier in the table: base rates
        (1000 * 3 + 2000 * 15 + 3000 * 3.75 + 4000 * 6 + 250_000 * 0.30) / 1e6)


def test_fast_mode_uses_the_fast_price_or_is_unpriced():
    fast = _request(fast=True)
    assert request_cost(replace(BASE, fast_multiplier=6.0), fast)[0] == pytest.approx(
        6 * (1000 * 3 + 2000 * 15 + 3000 * 3.75 + 4000 * 6 + 5000 * 0.30) / 1e6)
    assert request_cost(BASE, fast) == (None, 15000)


def test_unknown_model_is_unpriced_never_zero(tmp_path):
    assert request_cost(None, _request()) == (None, 15000)
    session = "11111111-2222-4333-8444-555555555555"
    path = tmp_path / "projects" / "-w" / f"{session}.jsonl"
    path.parent.mkdir(parents=True)
    line = {"type": "assistant", "sessionId": session, "timestamp": "2025-10-21T10:00:00.000Z", "requestId": "req_u",
            "message": {"id": "msg_u", "model": "claude-unknown-9", "content": [],
                        "usage": {"input_tokens": 3, "output_tokens": 10, "cache_read_input_tokens": 1000,
                                  "cache_creation_input_tokens": 100,
                                  "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                                     "ephemeral_1h_input_tokens": 100}}}}
    path.write_text(json.dumps(line) + "\n")
    (row,) = request_rows(read_transcripts(tmp_path))
    assert row["cost_usd"] is None and row["unpriced_tokens"] == 3 + 10 + 100 + 1000
