"""Call rows built in a worker process (load/row_workers.py) give exactly the analytics database one process
writes (with and without transcripts), and a worker's failure or death fails the sync cleanly."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from amiga_analytics.load import loader, row_workers
from amiga_analytics.load.rows import RowBuilder
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


def isolated(scenario: str, *args):
    """``scenario(*args)`` run in a fresh interpreter (spawned), with the worker's thresholds lowered: its fork then
    copies no thread an earlier test left behind (a pool's, a server's), as in a real sync, where the guard
    ``threading.active_count() == 1`` holds for real. Returns the scenario's result, and for each sync whether it had
    a worker and the worker's pid and the spawned process's pid."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_run, scenario, args).result(timeout=600)


def _run(scenario: str, args: tuple):
    row_workers.cpus = lambda: 2  # whatever the machine running the tests has
    row_workers.MIN_ROWS, row_workers.BATCH = 0, 7  # many batches in flight, the last one partial
    loader.CallRows = Recorded
    result = globals()[scenario](*args)
    return result, Recorded.used, Recorded.pids, os.getpid()


def _bot(tmp_path: Path, name: str, label: str) -> Path:
    bot = tmp_path / f"{label}-{name}"
    shutil.copyfile(FIXTURES / ("sample.db" if name == "bad-tokens" else name), bot)
    if name == "bad-tokens":  # token counts the builder drops and counts as invalid values
        with sqlite3.connect(bot) as conn:
            conn.execute("UPDATE tool_usage SET input_tokens = -5 WHERE id % 3 = 0 AND success IS NOT NULL")
        conn.close()
    return bot


def _full(tmp_path: Path, name: str, zone: str, transcripts: str | None, label: str, workers: bool):
    os.environ["AMIGA_ANALYTICS_WORKERS"] = "1" if workers else "0"
    out = tmp_path / f"{label}-{name}.analytics.db"
    dirs = [FIXTURES / transcripts] if transcripts else None
    result = sync(_bot(tmp_path, name, label), out, source_tz=zone, full=True, transcripts=dirs)
    return out, result.masked, result.quality, result.calls


@pytest.mark.parametrize("name, zone, transcripts", SOURCES)
def test_rows_built_by_a_worker_equal_one_process(tmp_path, name, zone, transcripts):
    (alone, alone_masked, alone_quality, _), used, _, _ = isolated("_full", tmp_path, name, zone, transcripts,
                                                                      "alone", False)
    assert used == [False]
    (worker, masked, quality, calls), used, pids, pid = isolated(
        "_full", tmp_path, name, zone, transcripts, "worker", True)
    assert used == [True] and pids[0] not in (None, pid)
    _assert_same_analytics(alone, worker)
    sql = "SELECT check_name, value, detail FROM data_quality ORDER BY 1"
    assert q(worker, sql) == q(alone, sql)
    assert masked == alone_masked and quality == alone_quality
    assert calls >= 600 and sum(masked.values()) > 0  # the worker's own counts
    if name == "bad-tokens":
        assert quality["invalid_values"] > 100


def _failing(tmp_path: Path, how: str):
    build, main = RowBuilder.call_row, os.getpid()

    def fail_in_the_worker(self, facts):
        if os.getpid() != main and facts.call_id >= 300:
            if how == "dies":
                os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
            raise RuntimeError("worker failed on call 300")
        return build(self, facts)

    RowBuilder.call_row = fail_in_the_worker  # before the fork: the worker has it too
    bot = tmp_path / "agentlab.db"
    shutil.copyfile(FIXTURES / "sample.db", bot)
    sync(bot, tmp_path / "analytics.db", source_tz="Europe/Madrid", full=True)


def test_a_failing_worker_fails_the_sync_and_leaves_no_database(tmp_path):
    with pytest.raises(RuntimeError, match="call 300"):
        isolated("_failing", tmp_path, "raises")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentlab.db"]


def test_a_worker_that_dies_fails_the_sync_instead_of_hanging_it(tmp_path):
    with pytest.raises(BrokenProcessPool):
        isolated("_failing", tmp_path, "dies")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentlab.db"]


def test_small_syncs_and_other_threads_get_no_worker(monkeypatch):
    assert not row_workers.worker_wanted(row_workers.MIN_ROWS - 1)
    monkeypatch.setattr(row_workers.threading, "active_count", lambda: 2)  # e.g. serve --follow's sync thread
    assert not row_workers.worker_wanted(10 * row_workers.MIN_ROWS)
    monkeypatch.setattr(row_workers.threading, "active_count", lambda: 1)
    monkeypatch.setenv("AMIGA_ANALYTICS_WORKERS", "0")
    assert not row_workers.worker_wanted(10 * row_workers.MIN_ROWS)


def _incremental(tmp_path: Path, label: str, workers: bool):
    from test_sync import _state_at

    os.environ["AMIGA_ANALYTICS_WORKERS"] = "1" if workers else "0"
    bot, out = tmp_path / f"{label}.db", tmp_path / f"{label}.analytics.db"
    _state_at(FIXTURES / "sample.db", bot, 700)
    sync(bot, out, source_tz="Europe/Madrid", full=True)
    shutil.copyfile(FIXTURES / "sample.db", bot)
    result = sync(bot, out, source_tz="Europe/Madrid")
    return out, result.mode, result.calls_written


def test_an_incremental_sync_with_a_worker_equals_one_without(tmp_path):
    """Half the sample, then all of it: the worker builds the re-derived open calls' rows and the new ones, and
    the rows it hands back are compared with the stored ones as the main process's own would be."""
    (alone, mode, written), used, _, _ = isolated("_incremental", tmp_path, "alone", False)
    assert used == [False, False] and mode == "incremental" and written > 100
    (worker, mode, written), used, _, _ = isolated("_incremental", tmp_path, "worker", True)
    assert used == [True, True] and mode == "incremental" and written > 100
    _assert_same_analytics(alone, worker)
