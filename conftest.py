"""Applies to the tests and to the doctests in the package alike."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test can reach a real bot database, the user's cache or the bot's cost limits through the environment."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.delenv("AGENTLAB_DB_PATH", raising=False)
    monkeypatch.setenv("AMIGA_DB", str(base / "no-such-analytics.db"))
    monkeypatch.setenv("AMIGA_ANALYTICS_CACHE", str(base / "cache"))
    monkeypatch.delenv("DAILY_COST_LIMIT", raising=False)
    monkeypatch.delenv("MONTHLY_COST_LIMIT", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
