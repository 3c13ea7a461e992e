"""amiga-analytics: analytics for the AMIGA bot's SQLite database.

>>> import amiga_analytics as aa
>>> sorted(set(aa.__all__) >= {"sync", "connect"} and ["ok"])
['ok']
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .db import connect
from .errors import InputError, NoDataError, NotABotDatabase, NotAnAnalyticsDatabase
from .sync import SyncResult, sync

try:
    __version__ = version("amiga-analytics")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "InputError",
    "NoDataError",
    "NotABotDatabase",
    "NotAnAnalyticsDatabase",
    "SyncResult",
    "__version__",
    "connect",
    "sync",
]
