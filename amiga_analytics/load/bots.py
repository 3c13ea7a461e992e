"""Several bots in one analytics database (docs/architecture.md, "Several bots in one store"): the bot names.

A bot's name becomes the value of the ``bot`` column, the file name of its shadow store and an export partition,
so it is short, lower case and plain. A store synced without ``--bot`` holds one bot, :data:`DEFAULT_BOT`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from .reprice import STATE_KEY as PRICES_KEY

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


# -- the registry and the checks (before any file is written) --------------------------------------------------

REGISTRY_KEY = "bots"
#: The ``sync_state`` keys :func:`registry` reads.
REGISTRY_KEYS = (REGISTRY_KEY, "settings", "source", "report_tz", PRICES_KEY)


def registry(state: dict[str, Any]) -> dict[str, dict]:
    """The bots of a store (``sync_state`` key ``bots``): name → ``{"source", "report_tz", "prices_digest",
    "unknown_models"}`` (the last: the model names its sync could not resolve; absent for a bot synced before it was
    kept). A
    store synced without ``--bot`` that has rows holds one bot, :data:`DEFAULT_BOT`, registered or not."""
    bots = dict(state.get(REGISTRY_KEY) or {})
    if not bots and state.get("settings"):
        bots[DEFAULT_BOT] = {"source": state.get("source", ""), "report_tz": state.get("report_tz"),
                             "prices_digest": state.get(PRICES_KEY)}
    return bots


def check_plain_sync(state: dict[str, Any], analytics_db: Path) -> None:
    """A sync without ``--bot`` rebuilds the whole store: refused when it holds a bot other than ``main``."""
    others = sorted(name for name in state.get(REGISTRY_KEY) or {} if name != DEFAULT_BOT)
    if others:
        raise InputError(f"{analytics_db} holds several bots ({', '.join(others)}): a sync without --bot would "
                         f"drop them; give the bot's name, e.g. --bot {others[0]}")


def check_new_bot(bots: dict[str, dict], name: str, entry: dict, bot_db: Path, analytics_db: Path) -> None:
    """``InputError`` if ``bot_db`` is registered under another name, or if this bot's days or prices would not
    mean what the other bots' mean (another report zone, other price tables)."""
    for other, known in sorted(bots.items()):
        if other == name:
            continue
        if entry["source"] and known.get("source") == entry["source"]:
            raise InputError(f"{bot_db} is already in {analytics_db} as bot {other!r}: sync it with --bot {other}, "
                             f"or give a different bot database")
        if known.get("report_tz") != entry["report_tz"]:
            raise InputError(f"bot {name!r} would have report zone {entry['report_tz']} but bot {other!r} in "
                             f"{analytics_db} has {known.get('report_tz')}: give --report-tz "
                             f"{known.get('report_tz')} so that their days add up")
        if known.get("prices_digest") != entry["prices_digest"]:
            raise InputError(f"bot {name!r} would be priced with other price tables than bot {other!r} in "
                             f"{analytics_db}: give the same --prices and --aliases files (or none) to every bot")
