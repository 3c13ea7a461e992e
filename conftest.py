"""Applies to the tests and to the doctests in the package alike."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_env(tmp_path_factory):
    """No test can reach a real bot database, the user's cache, config or the bot's cost limits through the
    environment. Session-scoped, so that session fixtures (built before any function fixture) see it too."""
    base = tmp_path_factory.getbasetemp()
    saved = dict(os.environ)
    os.environ.pop("AGENTLAB_DB_PATH", None)
    os.environ.pop("DAILY_COST_LIMIT", None)
    os.environ.pop("MONTHLY_COST_LIMIT", None)
    os.environ.pop("AMIGA_ANALYTICS_SALT", None)
    os.environ["AMIGA_DB"] = str(base / "no-such-analytics.db")
    os.environ["AMIGA_ANALYTICS_CACHE"] = str(base / "cache")
    os.environ["AMIGA_ANALYTICS_CONFIG"] = str(base / "config")
    os.environ["MPLBACKEND"] = "Agg"
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _doctest_analytics_db(request, doctest_namespace):
    """Doctests find ``analytics_db``: the embedded demo's analytics database (built once per session, in the
    isolated cache above). Only doctests ask for it, so the tests do not pay for it."""
    if request.node.__class__.__name__ == "DoctestItem":
        from amiga_analytics.demo.embedded import demo_analytics

        doctest_namespace["analytics_db"] = str(demo_analytics())
