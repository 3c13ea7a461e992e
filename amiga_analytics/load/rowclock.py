"""Bot timestamps (naive local ISO text) as numbers the merger can compare, and shifted (see merge.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from .calls import ID, SOURCE, TS

_EPOCH = datetime(1970, 1, 1)


def epoch_seconds(ts) -> float | None:
    """Seconds since 1970 of the naive reading of ``ts`` (an offset is dropped); None if it is no time."""
    try:
        dt = datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None
    if dt.tzinfo is not None:
        dt = dt.replace(tzinfo=None)
    return (dt - _EPOCH).total_seconds()


def seconds_before(row: tuple, seconds: float) -> tuple | None:
    """``row`` with its timestamp ``seconds`` earlier (the post-hook that ran before a C); None without a time.

    >>> seconds_before((7, "2025-07-08T00:00:01", "abc123"), 3.0)
    (7, '2025-07-07T23:59:58', 'abc123')
    """
    try:
        ts = (datetime.fromisoformat(row[TS]) - timedelta(seconds=seconds)).isoformat()
    except (TypeError, ValueError):
        return None
    return (row[ID], ts) + tuple(row[SOURCE:])
