"""Time: UTC microseconds → the host's naive local isoformat, and the monitoring server's up/down schedule."""

from __future__ import annotations

import bisect
import itertools
import random
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from .constants import DAY, EPOCH, EPOCH_UTC, MINUTE, US


class Clock:
    """Converts UTC instants (int µs since the epoch) to what ``datetime.now().isoformat()`` prints on the host."""

    _BUCKET = 15 * MINUTE  # UTC offsets change on (at least) quarter-hour boundaries; checked per bucket anyway

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self._offsets: dict[int, int | None] = {}
        self._prefixes: dict[int, str] = {}

    def _exact_offset(self, t: int) -> int:
        offset = cast(timedelta, datetime.fromtimestamp(t // US, self.tz).utcoffset())  # aware: never None
        return int(offset.total_seconds()) * US

    def offset(self, t: int) -> int:
        bucket = t // self._BUCKET
        try:
            off = self._offsets[bucket]
        except KeyError:
            lo = self._exact_offset(bucket * self._BUCKET)
            hi = self._exact_offset((bucket + 1) * self._BUCKET - 1)
            off = self._offsets[bucket] = lo if lo == hi else None
        return self._exact_offset(t) if off is None else off

    def iso(self, t: int) -> str:
        """``datetime.isoformat()`` of the local wall time, microseconds left out when they are zero."""
        day, rest = divmod(t + self.offset(t), DAY)
        prefix = self._prefixes.get(day)
        if prefix is None:
            prefix = self._prefixes[day] = (EPOCH + timedelta(days=day)).date().isoformat() + "T"
        seconds, micro = divmod(rest, US)
        hour, seconds = divmod(seconds, 3600)
        minute, seconds = divmod(seconds, 60)
        if micro:
            return f"{prefix}{hour:02d}:{minute:02d}:{seconds:02d}.{micro:06d}"
        return f"{prefix}{hour:02d}:{minute:02d}:{seconds:02d}"

    def local_day(self, t: int) -> int:
        return (t + self.offset(t)) // DAY

    def at_local(self, day: date, seconds: float = 0.0, fold: int = 0) -> int:
        """The UTC instant of local wall time ``day`` + ``seconds`` (``fold=1``: the second one, when the clock
        falls back and that wall time happens twice)."""
        wall = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
        return (wall.replace(tzinfo=self.tz, fold=fold) - EPOCH_UTC) // timedelta(microseconds=1)


class Server:
    """Monitoring-server availability: down on whole local days (runs of days), up otherwise."""

    def __init__(self, down: list[tuple[int, int]]):
        self.down = down
        self._starts = [s for s, _ in down]

    def set_down(self, down: list[tuple[int, int]]) -> None:
        """Replace the down spells (sorted, not overlapping)."""
        self.down = down
        self._starts = [s for s, _ in down]

    def up(self, t: int) -> bool:
        i = bisect.bisect_right(self._starts, t) - 1
        return i < 0 or t >= self.down[i][1]


def server_schedule(rng: random.Random, days: list[date], clock: Clock) -> Server:
    states: list[bool] = []
    state = rng.random() < 0.5
    while len(states) < len(days):
        states += [state] * (rng.randint(4, 9) if state else rng.randint(1, 3))
        state = not state
    states = states[:len(days)]
    if len(days) >= 2 and all(states):
        states[rng.randrange(len(days))] = False
    if len(days) >= 2 and not any(states):
        states[rng.randrange(len(days))] = True
    down = []
    for is_up, group in itertools.groupby(enumerate(states), key=lambda item: item[1]):
        run = list(group)
        if not is_up:
            first, last = days[run[0][0]], days[run[-1][0]]
            down.append((clock.at_local(first), clock.at_local(last + timedelta(days=1))))
    return Server(down)

