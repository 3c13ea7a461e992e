"""The sync's per-value caches (load/memo.py) give what the uncached functions give: time conversion per local
minute against TimeConverter on every minute around every clock change of zones with whole-hour, half-hour,
45-minute and off-the-hour changes, and on random times; masking per distinct text against redact.mask on the
secrets corpus, repeated."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from amiga_analytics.load import memo
from amiga_analytics.load.redact import mask
from amiga_analytics.timeutil import TimeConverter
from conftest import FIXTURES

UTC = timezone.utc
# Whole-hour DST (Madrid, Los Angeles), a 30-minute DST change at 02:00 (Lord Howe), changes at 02:45 (Chatham),
# +5:45 (Kathmandu), +3:30 with DST until 2022 (Tehran), Casablanca's Ramadan changes, and no change (Tokyo).
ZONES = ("Europe/Madrid", "America/Los_Angeles", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu",
         "Asia/Tehran", "Africa/Casablanca", "Asia/Tokyo", "UTC")


def _changes(key: str, start: int, end: int) -> list[datetime]:
    """Local wall times (naive) just before each change of ``key``'s offset, found hour by hour."""
    tz = ZoneInfo(key)
    t, stop = datetime(start, 1, 1, tzinfo=UTC), datetime(end, 1, 1, tzinfo=UTC)
    found, before = [], t.astimezone(tz).utcoffset()
    while t < stop:
        after = (t + timedelta(hours=1)).astimezone(tz).utcoffset()
        if after != before:
            found.append(t.astimezone(tz).replace(tzinfo=None))
            before = after
        t += timedelta(hours=1)
    return found


def test_every_minute_around_every_clock_change_converts_as_timeconverter():
    checked = 0
    for key in ZONES:
        for report in (key, "UTC", "Asia/Kathmandu"):
            exact, cached = TimeConverter(key, report), memo.MinuteConverter(key, report)
            for change in _changes(key, 2021, 2025):
                base = change.replace(second=0, microsecond=0) - timedelta(minutes=90)
                for minute in range(240):
                    for second in (0, 17.25, 59.999999):
                        text = (base + timedelta(minutes=minute, seconds=second)).isoformat()
                        assert cached.convert(text) == exact.convert(text), (key, report, text)
                        checked += 1
    assert checked > 90_000


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(ZONES),
       st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2210, 1, 1)),
       st.sampled_from(["iso", "seconds", "space", "offset", "junk"]))
def test_any_text_converts_as_timeconverter(key, report, when, style):
    text = {"iso": when.isoformat(timespec="microseconds"), "seconds": when.isoformat(timespec="seconds"),
            "space": when.isoformat(sep=" "), "offset": when.isoformat() + "+02:00",
            "junk": when.isoformat(timespec="seconds")[:17] + "6x"}[style]
    cached = memo.MinuteConverter(key, report)
    exact = TimeConverter(key, report)
    assert cached.convert(text) == exact.convert(text)
    assert cached.convert(text) == exact.convert(text)  # from the cache the second time


def test_a_minute_is_converted_once():
    cached = memo.MinuteConverter("Europe/Madrid", "Europe/Madrid")
    cached.convert("2025-10-27T18:34:48.123456")
    assert cached.convert("2025-10-27T18:34:01") == ("2025-10-27T17:34:01.000000+00:00", "2025-10-27", None)
    assert list(cached._minutes) == ["2025-10-27T18:34"]
    assert cached._minutes["2025-10-27T18:34"] == ("2025-10-27T17:34:", "2025-10-27", None)


def test_masking_per_distinct_text_equals_mask_every_time(monkeypatch):
    corpus = json.loads((FIXTURES / "secrets_corpus.json").read_text())
    texts = [t for t in _strings(corpus)]
    assert len(texts) > 100
    monkeypatch.setattr(memo, "MEMO_CHARS", 5_000)  # the cache empties itself many times on the way
    memoised = memo.MaskMemo()
    for _ in range(2):
        for text in texts:
            assert memoised(text) == mask(text)
    assert sum(memoised(t)[1] for t in texts) > 0


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
