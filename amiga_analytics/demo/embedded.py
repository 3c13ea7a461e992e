"""The embedded demo: a demo bot database, its sessions' Claude Code transcripts and its analytics database
(synced with them), created on first use.

:func:`demo_analytics` is the default for notebooks and examples. The files live in a cache directory
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
    """The demo bot database (written once, then reused): 4 weeks of a busy bot on a Europe/Madrid host; its
    transcripts are written with it (:func:`demo_transcripts`)."""
    from . import write_demo

    directory = Path(directory) if directory is not None else cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-bot.db"
    if not path.exists():
        write_demo(path, days=DEMO_DAYS, seed=DEMO_SEED, tz=DEMO_TZ)
    return path


def demo_transcripts(directory: Path | None = None) -> Path:
    """The Claude config directory of the demo's transcripts (``demo-bot.claude/``, beside the bot database).
    A demo written before the demo had transcripts is written again: its bot database comes out byte-identical.

    >>> demo_transcripts().name
    'demo-bot.claude'
    """
    from . import write_demo
    from .transcript_output import transcripts_dir

    bot = demo_bot_database(directory)
    folder = transcripts_dir(bot)
    if not folder.is_dir():
        write_demo(bot, days=DEMO_DAYS, seed=DEMO_SEED, tz=DEMO_TZ, overwrite=True)
    return folder


def demo_analytics(directory: Path | None = None) -> Path:
    """The analytics database of the demo, synced with its transcripts on first use (and again, adding them, if
    it was synced before the demo had transcripts).

    >>> import amiga_analytics as aa
    >>> path = aa.demo_analytics()
    >>> path.name
    'demo-analytics.db'
    """
    from ..load.state import read_state
    from ..load.sync import sync
    from ..load.transcripts.persist import DIRS_KEY

    bot = demo_bot_database(directory)
    transcripts = demo_transcripts(directory)
    path = bot.with_name("demo-analytics.db")
    if not path.exists() or not read_state(path, [DIRS_KEY]).get(DIRS_KEY):
        sync(bot, path, source_tz=DEMO_TZ, transcripts=[transcripts])
    return path


def database_from_env() -> Path:
    """The analytics database named by ``$AMIGA_DB``, else the embedded demo (created on first use)."""
    named = os.environ.get("AMIGA_DB")
    if named and Path(named).exists():
        return Path(named)
    return demo_analytics()
