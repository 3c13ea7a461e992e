"""Several bots in one analytics database (docs/architecture.md, "Several bots in one store"): the bot names.

A bot's name becomes the value of the ``bot`` column, the file name of its shadow store and an export partition,
so it is short, lower case and plain. A store synced without ``--bot`` holds one bot, :data:`DEFAULT_BOT`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError

DEFAULT_BOT = "main"
BOT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def check_bot_name(name: str) -> str:
    """``name`` if it is a valid bot name, else ``InputError`` saying what a name may hold."""
    if not isinstance(name, str) or not BOT_NAME.fullmatch(name):
        shown = repr(name) if isinstance(name, str) and name else "an empty name"
        raise InputError(f"bad bot name {shown}: use 1-32 lower-case letters, digits, '-' or '_', starting with "
                         f"a letter or digit, e.g. --bot {DEFAULT_BOT}")
    return name


def shadow_path(analytics_db: Path, name: str) -> Path:
    """Where bot ``name``'s own single-bot store lives beside the shared ``analytics_db``."""
    return analytics_db.with_name(analytics_db.name + ".bots") / f"{check_bot_name(name)}.db"
