"""The genai-prices rows a sync built are kept in ``sync_state`` and reused by the next sync while their key
(genai-prices' version, the code that builds them, the alias targets) matches: no import of the package, the
same price book and the same costs."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from amiga_analytics.load import genai_source
from amiga_analytics.load.pricing import PriceBook
from amiga_analytics.sync import sync
from conftest import SAMPLE_DB


def _refuse(*_a, **_k):
    raise AssertionError("genai-prices rows were built again")


def test_a_matching_cache_gives_the_same_book_without_building_rows(monkeypatch):
    first = PriceBook.load()
    assert first.genai_cache["key"][0] == genai_source.version() and first.genai_cache["rows"]
    monkeypatch.setattr(genai_source, "price_rows", _refuse)
    cached = json.loads(json.dumps(first.genai_cache))  # as sync_state gives it back
    again = PriceBook.load(cached=cached)
    assert again.price_rows == first.price_rows and again.alias_rows == first.alias_rows
    assert again.digest() == first.digest()


@pytest.mark.parametrize("stale", ["version", "code", "known ids", "not a cache"])
def test_a_stale_cache_is_not_used(monkeypatch, stale):
    first = PriceBook.load()
    cached = json.loads(json.dumps(first.genai_cache))
    cached["rows"] = [dict(r, input_usd_per_mtok="999") for r in cached["rows"]]  # wrong figures if used
    if stale == "version":
        cached["key"][0] = "0.0.0"
    elif stale == "code":
        cached["key"][1] = "0" * 16
    elif stale == "known ids":
        cached["key"][2] = cached["key"][2][1:]
    else:
        cached = ["key", "rows"]
    again = PriceBook.load(cached=cached)
    assert again.price_rows == first.price_rows and again.digest() == first.digest()


def _state(path: Path) -> dict:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM sync_state")}
    finally:
        conn.close()


def _costs(path: Path) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT call_id, cost_usd FROM tool_calls ORDER BY call_id").fetchall()
    finally:
        conn.close()


def test_the_next_sync_reuses_the_rows_and_costs_the_same(tmp_path, monkeypatch):
    bot = tmp_path / "agentlab.db"
    shutil.copyfile(SAMPLE_DB, bot)
    out, reference = tmp_path / "analytics.db", tmp_path / "reference.db"
    sync(bot, out, source_tz="UTC")
    sync(bot, reference, source_tz="UTC")
    assert _state(out)["genai_price_rows"] == PriceBook.load().genai_cache
    monkeypatch.setattr(genai_source, "price_rows", _refuse)
    assert sync(bot, out, source_tz="UTC").mode == "incremental"
    assert sync(bot, out, source_tz="UTC", full=True).mode == "full"  # a rebuild reuses them too
    assert _costs(out) == _costs(reference) and any(cost for _, cost in _costs(out))
    assert _state(out)["genai_price_rows"] == _state(reference)["genai_price_rows"]
