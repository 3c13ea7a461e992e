"""``python -m amiga_analytics.metadata``, the 0.1 spelling of ``python -m amiga_analytics.web.metadata``."""

from __future__ import annotations

from .web.metadata import *  # noqa: F403 - the old module path keeps its names
from .web.metadata import main

if __name__ == "__main__":
    main()
