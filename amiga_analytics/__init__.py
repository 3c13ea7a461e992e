"""amiga-analytics: analytics for the AMIGA bot's SQLite database.

>>> import amiga_analytics as aa
>>> aa.__version__ == __import__("importlib.metadata").metadata.version("amiga-analytics")
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("amiga-analytics")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
