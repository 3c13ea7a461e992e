"""Per-row work done once per distinct value: secret masking per distinct text, time conversion per local minute.

A year of bot rows repeats itself: the same Read of the same file, the same ``git status``, thousands of rows in
the same minute. Both results depend on the value alone, so caching them changes nothing:

* :class:`MaskMemo`: :func:`.redact.mask` is a pure function of its text (the counts stay per row: the caller
  tallies the cached count each time). Texts longer than :data:`MEMO_TEXT` characters are not kept; the cache
  is emptied when its texts reach :data:`MEMO_CHARS` characters (recent texts repeat, old ones do not).
* :class:`MinuteConverter`: a naive local ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` time converts to UTC by subtracting
  the zone's offset, which is the same through a local minute unless the zone changes inside it. Each minute is
  converted once at its first and its last microsecond by :class:`~..timeutil.TimeConverter` itself; when the two
  agree (same issue, same report day, the end exactly 59.999999 s after the start) and the offset is a whole
  number of minutes (so the seconds carry over unchanged and the UTC minute, which decides the report day, is
  the same for the whole minute), the minute's UTC prefix is reused with the row's own seconds. Zones whose
  offset has seconds (local mean time before ~1900-1970 in many zones), minutes in which the zone changes, and
  every other text shape go through the exact conversion.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ..timeutil import TimeConverter
from .redact import mask

MEMO_TEXT = 4_000
MEMO_CHARS = 8_000_000  # characters of texts kept (a few tens of MB at most)
MEMO_MINUTES = 20_000
_MINUTE_END = timedelta(seconds=59, microseconds=999_999)


class MaskMemo:
    """:func:`.redact.mask`, remembered per distinct text."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str | None, int]] = {}
        self._chars = 0

    def __call__(self, text: str | None) -> tuple[str | None, int]:
        if not text or len(text) > MEMO_TEXT:
            return mask(text)
        hit = self._seen.get(text)
        if hit is None:
            if self._chars >= MEMO_CHARS:
                self._seen.clear()
                self._chars = 0
            self._chars += len(text)
            hit = self._seen[text] = mask(text)
        return hit


class MinuteConverter(TimeConverter):
    """A :class:`~..timeutil.TimeConverter` whose :meth:`convert` works once per local minute."""

    def __init__(self, source_tz: str, report_tz: str):
        super().__init__(source_tz, report_tz)
        self._minutes: dict[str, tuple[str, str | None, str | None] | None] = {}

    def convert(self, text: object) -> tuple[str | None, str | None, str | None]:
        if not isinstance(text, str) or not _PLAIN_LOCAL.fullmatch(text):
            return super().convert(text)
        minute = text[:16]
        try:
            hit = self._minutes[minute]
        except KeyError:
            if len(self._minutes) >= MEMO_MINUTES:
                self._minutes.clear()
            hit = self._minutes[minute] = self._minute(minute)
        if hit is None:
            return super().convert(text)
        prefix, day, issue = hit
        fraction = text[19:] if len(text) == 26 else ".000000"
        return prefix + text[17:19] + fraction + "+00:00", day, issue

    def _minute(self, minute: str) -> tuple[str, str | None, str | None] | None:
        """(UTC text up to the minute's colon, report day, issue) shared by every time of a local minute, or
        None when they may differ."""
        start, start_day, start_issue = super().convert(minute + ":00.000000")
        end, end_day, end_issue = super().convert(minute + ":59.999999")
        if start is None or end is None or (start_day, start_issue) != (end_day, end_issue):
            return None
        if not start.endswith(":00.000000+00:00"):
            return None  # an offset with seconds: the seconds do not carry over
        if datetime.fromisoformat(end) - datetime.fromisoformat(start) != _MINUTE_END:
            return None  # the offset changes inside the minute
        return start[:17], start_day, start_issue


# ``YYYY-MM-DDTHH:MM:SS`` or ``YYYY-MM-DDTHH:MM:SS.ffffff``, naive, with a valid seconds field (the minute part is
# checked by converting the minute itself).
_PLAIN_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](?:\.[0-9]{6})?")
