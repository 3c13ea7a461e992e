"""The embedded demo: a demo bot database and its analytics database, created on first use.

:func:`demo_analytics` is the default for notebooks and examples. Both files live in a cache directory
(``$AMIGA_ANALYTICS_CACHE``, else ``~/.cache/amiga-analytics``) and are reused afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

DEMO_SEED = 42
DEMO_DAYS = 28
DEMO_TZ = "Europe/Madrid"


def cache_dir() -> Path:
    """Where the embedded demo lives: ``$AMIGA_ANALYTICS_CACHE``, else ``~/.cache/amiga-analytics``."""
    base = os.environ.get("AMIGA_ANALYTICS_CACHE") or Path.home() / ".cache" / "amiga-analytics"
    return Path(base)


def demo_bot_database(directory: Path | None = None) -> Path:
    """The demo bot database (written once, then reused): 4 weeks of a busy bot on a Europe/Madrid host."""
    from . import write_demo

    directory = Path(directory) if directory is not None else cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-bot.db"
    if not path.exists():
        write_demo(path, days=DEMO_DAYS, seed=DEMO_SEED, tz=DEMO_TZ)
    return path


def demo_analytics(directory: Path | None = None) -> Path:
    """The analytics database of the demo, synced on first use.

    >>> import amiga_analytics as aa
    >>> path = aa.demo_analytics()
    >>> path.name
    'demo-analytics.db'
    """
    from ..load.sync import sync

    bot = demo_bot_database(directory)
    path = bot.with_name("demo-analytics.db")
    if not path.exists():
        sync(bot, path, source_tz=DEMO_TZ)
    return path


def database_from_env() -> Path:
    """The analytics database named by ``$AMIGA_DB``, else the embedded demo (created on first use)."""
    named = os.environ.get("AMIGA_DB")
    if named and Path(named).exists():
        return Path(named)
    return demo_analytics()
