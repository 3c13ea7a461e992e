"""Call rows built in a worker process (load/row_workers.py) and transcript files parsed in one
(load/transcripts/parallel.py) give exactly the analytics database one process writes, and a worker's failure or
death fails the sync cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from amiga_analytics.load import loader, row_workers
from amiga_analytics.load.rows import RowBuilder
from amiga_analytics.load.transcripts import parallel
from amiga_analytics.sync import sync
from test_sync import _assert_same_analytics, q

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = [("sample_par.db", "Europe/Berlin", "sample_par.claude"), ("sample.db", "Europe/Madrid", None),
           ("bad-tokens", "Europe/Madrid", None)]


class Recorded(row_workers.CallRows):
    """CallRows that remembers whether each sync's step had a worker, and which process it was."""

    used: list[bool] = []
    pids: list[int | None] = []

    def __enter__(self):
        Recorded.used.append(self.parallel)
        Recorded.pids.append(self.worker_pid)
        return super().__enter__()


@pytest.fixture
def recorded(monkeypatch):
    Recorded.used, Recorded.pids = [], []
    monkeypatch.setattr(row_workers, "cpus", lambda: 2)  # whatever the machine running the tests has
    # Earlier tests in the session may leave idle server threads behind (Datasette, the browser's driver); the
    # sync here runs in the main thread all the same.
    monkeypatch.setattr(row_workers.threading, "active_count", lambda: 1)
    monkeypatch.setattr(loader, "CallRows", Recorded)
    return Recorded.used


def _sync(tmp_path: Path, name: str, zone: str, transcripts: str | None, label: str):
    bot = tmp_path / f"{label}-{name}"
    shutil.copyfile(FIXTURES / ("sample.db" if name == "bad-tokens" else name), bot)
    if name == "bad-tokens":  # token counts the builder drops and counts as invalid values
        with sqlite3.connect(bot) as conn:
            conn.execute("UPDATE tool_usage SET input_tokens = -5 WHERE id % 3 = 0 AND success IS NOT NULL")
        conn.close()
    out = tmp_path / f"{label}-{name}.analytics.db"
    dirs = [FIXTURES / transcripts] if transcripts else None
    return out, sync(bot, out, source_tz=zone, full=True, transcripts=dirs)


@pytest.mark.parametrize("name, zone, transcripts", SOURCES)
def test_rows_built_by_a_worker_equal_one_process(tmp_path, monkeypatch, recorded, name, zone, transcripts):
    monkeypatch.setenv("AMIGA_ANALYTICS_WORKERS", "0")
    alone, alone_result = _sync(tmp_path, name, zone, transcripts, "alone")
    monkeypatch.delenv("AMIGA_ANALYTICS_WORKERS")
    monkeypatch.setattr(row_workers, "MIN_ROWS", 0)
    monkeypatch.setattr(row_workers, "BATCH", 7)  # many batches in flight, the last one partial
    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    monkeypatch.setattr(parallel, "CHUNK", 3)
    parsed_apart = []
    ordered = parallel._ordered
    monkeypatch.setattr(parallel, "_ordered", lambda jobs: parsed_apart.append(len(jobs)) or ordered(jobs))
    worker, worker_result = _sync(tmp_path, name, zone, transcripts, "worker")
    assert recorded == [False, True]
    assert Recorded.pids[1] not in (None, os.getpid())
    assert bool(parsed_apart) == bool(transcripts) and all(n > 10 for n in parsed_apart)
    _assert_same_analytics(alone, worker)
    quality = "SELECT check_name, value, detail FROM data_quality ORDER BY 1"
    assert q(worker, quality) == q(alone, quality)
    assert worker_result.masked == alone_result.masked
    assert worker_result.quality == alone_result.quality
    assert worker_result.calls >= 600 and sum(worker_result.masked.values()) > 0  # the worker's own counts
    if name == "bad-tokens":
        assert worker_result.quality["invalid_values"] > 100


def test_a_failing_worker_fails_the_sync_and_leaves_no_database(tmp_path, monkeypatch, recorded):
    build = RowBuilder.call_row

    def fail_on_one_call(self, facts):
        if facts.call_id >= 300:
            raise RuntimeError("worker failed on call 300")
        return build(self, facts)

    monkeypatch.setattr(RowBuilder, "call_row", fail_on_one_call)  # before the fork: the worker has it too
    monkeypatch.setattr(row_workers, "MIN_ROWS", 0)
    bot = tmp_path / "agentlab.db"
    shutil.copyfile(FIXTURES / "sample.db", bot)
    with pytest.raises(RuntimeError, match="call 300"):
        sync(bot, tmp_path / "analytics.db", source_tz="Europe/Madrid", full=True)
    assert recorded == [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentlab.db"]


def test_small_syncs_and_other_threads_get_no_worker(monkeypatch):
    assert not row_workers.worker_wanted(row_workers.MIN_ROWS - 1)
    monkeypatch.setattr(row_workers.threading, "active_count", lambda: 2)  # e.g. serve --follow's sync thread
    assert not row_workers.worker_wanted(10 * row_workers.MIN_ROWS)
    monkeypatch.setattr(row_workers.threading, "active_count", lambda: 1)
    monkeypatch.setenv("AMIGA_ANALYTICS_WORKERS", "0")
    assert not row_workers.worker_wanted(10 * row_workers.MIN_ROWS)


def test_a_worker_that_dies_fails_the_sync_instead_of_hanging_it(tmp_path, monkeypatch, recorded):
    build, main = RowBuilder.call_row, os.getpid()

    def die_in_the_worker(self, facts):
        if os.getpid() != main and facts.call_id >= 300:
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
        return build(self, facts)

    monkeypatch.setattr(RowBuilder, "call_row", die_in_the_worker)
    monkeypatch.setattr(row_workers, "MIN_ROWS", 0)
    bot = tmp_path / "agentlab.db"
    shutil.copyfile(FIXTURES / "sample.db", bot)
    with pytest.raises(BrokenProcessPool):
        sync(bot, tmp_path / "analytics.db", source_tz="Europe/Madrid", full=True)
    assert recorded == [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentlab.db"]



def test_an_incremental_sync_with_a_worker_equals_one_without(tmp_path, monkeypatch, recorded):
    """Half the sample, then all of it: the worker builds the re-derived open calls' rows and the new ones, and
    the rows it hands back are compared with the stored ones as the main process's own would be."""
    from test_sync import _state_at

    outs = {}
    for label, workers in (("alone", "0"), ("worker", "1")):
        monkeypatch.setenv("AMIGA_ANALYTICS_WORKERS", workers)
        monkeypatch.setattr(row_workers, "MIN_ROWS", 0 if workers == "1" else 10**9)
        bot, out = tmp_path / f"{label}.db", tmp_path / f"{label}.analytics.db"
        _state_at(FIXTURES / "sample.db", bot, 700)
        sync(bot, out, source_tz="Europe/Madrid", full=True)
        shutil.copyfile(FIXTURES / "sample.db", bot)
        result = sync(bot, out, source_tz="Europe/Madrid")
        assert result.mode == "incremental" and result.calls_written > 100
        outs[label] = out
    assert recorded == [False, False, True, True]
    _assert_same_analytics(outs["alone"], outs["worker"])
