"""Releasing the merger's idle groups during a sync (load/idle.py) changes nothing that is written: the same
analytics database with a release after every row as with none, on the real bots' samples (one of them a week of
concurrent tasks across a DST change) and on a three-week demo, full and incremental."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from amiga_analytics.load import idle
from amiga_analytics.load.merge import CallMerger
from amiga_analytics.sync import sync
from conftest import FIXTURES, SAMPLE_DB
from test_sync import _assert_same_analytics, _state_at

SAMPLE_PAR_DB = FIXTURES / "sample_par.db"


@pytest.fixture
def released(monkeypatch) -> list[int]:
    """Release after every row; the list collects how many calls each release gave back."""
    counts: list[int] = []
    original = idle.release

    def counting(merger: CallMerger, quiet_s: float = idle.QUIET_S):
        calls = original(merger, quiet_s)
        counts.append(len(calls))
        return calls

    monkeypatch.setattr(idle, "EVERY_ROWS", 1)
    monkeypatch.setattr(idle, "release", counting)
    return counts


def _never(monkeypatch) -> None:
    monkeypatch.setattr(idle, "EVERY_ROWS", 10**12)


def _sync_both(bot: Path, tmp_path: Path, monkeypatch, released: list[int], tz: str) -> tuple[Path, Path]:
    every = tmp_path / "every-row.db"
    sync(bot, every, source_tz=tz, full=True)
    assert sum(released) > 0  # the release did give calls back early
    _never(monkeypatch)
    never = tmp_path / "never.db"
    sync(bot, never, source_tz=tz, full=True)
    return every, never


@pytest.mark.parametrize("source, tz", [(SAMPLE_DB, "UTC"), (SAMPLE_PAR_DB, "Europe/Berlin")])
def test_release_after_every_row_changes_nothing(tmp_path, monkeypatch, released, source, tz):
    bot = tmp_path / "bot.db"
    shutil.copyfile(source, bot)
    _assert_same_analytics(*_sync_both(bot, tmp_path, monkeypatch, released, tz))


def test_release_changes_nothing_on_a_demo(tmp_path, monkeypatch, released):
    from amiga_analytics.demo import write_demo

    bot = tmp_path / "demo.db"
    write_demo(bot, days=21, seed=5, tz="Europe/Madrid", calls=4000, truth=False)
    _assert_same_analytics(*_sync_both(bot, tmp_path, monkeypatch, released, "Europe/Madrid"))


def test_incremental_syncs_with_release_equal_a_full_sync_without(tmp_path, monkeypatch, released):
    """Cut points mid-history (the calls still open at each cut are re-read by the next sync)."""
    bot = tmp_path / "bot.db"
    out = tmp_path / "incremental.db"
    last_id = sqlite3.connect(SAMPLE_PAR_DB).execute("SELECT MAX(id) FROM tool_usage").fetchone()[0]
    for cut in (last_id // 3, last_id // 2 + 7, 2 * last_id // 3 + 1):
        _state_at(SAMPLE_PAR_DB, bot, cut)
        sync(bot, out, source_tz="Europe/Berlin")
    shutil.copyfile(SAMPLE_PAR_DB, bot)
    assert sync(bot, out, source_tz="Europe/Berlin").mode == "incremental"
    assert sum(released) > 0
    _never(monkeypatch)
    full = tmp_path / "full.db"
    sync(bot, full, source_tz="Europe/Berlin", full=True)
    _assert_same_analytics(out, full)


def test_only_groups_quiet_for_three_days_are_released():
    """A call's group is released once the newest row is 3 days of bot time past its last row, not before; a
    group of calls without parameters (matched by the bot without a time window) never."""
    merger = CallMerger()
    read = (1, "2025-10-06T10:00:00.000000", "abc123", "Read", '{"file_path": "/a"}', None, None, None, None, None,
            None, None)
    bare = (2, "2025-10-06T10:00:01.000000", "abc123", "TodoRead", "", None, None, None, None, None, None, None)
    merger.feed(read)
    merger.feed(bare)
    later = (3, "2025-10-09T09:59:59.500000", "def456", "Read", '{"file_path": "/b"}', None, None, None, None, None,
             None, None)
    merger.feed(later)  # 0.5 s short of 3 days after the first row
    assert idle.release(merger) == []
    merger.feed((4, "2025-10-09T10:00:01.000001", "def456", "Read", '{"file_path": "/c"}', None, None, None, None,
                 None, None, None))
    calls = idle.release(merger)
    assert [(c.call_id, c.open) for c in calls] == [(1, False)]
    assert [c.call_id for c in merger.finish()] == [2, 3, 4]
