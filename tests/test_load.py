"""Load: a bot-like writer adds rows for a minute while syncs run in a loop and Datasette serves concurrent
clients on loopback. The writer never fails, every sync succeeds, every page answers, and the final analytics
database equals a full sync of the final bot database. The figures go to ``tests/artifacts/load.json``.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from amiga_analytics.serve import build_datasette, page_paths
from amiga_analytics.sync import sync
from conftest import artifacts_dir
from dbquery import q
from test_sync import _assert_same_analytics

PY = sys.executable
SCRIPT = Path(sys.executable).with_name("amiga-analytics")
WRITER = Path(__file__).parent / "botwriter.py"
SOURCE_TZ = "Europe/Madrid"
WRITER_SECONDS = 60
CLIENTS = 4
REQUEST_TIMEOUT = 10.0
CLIENT_PAUSE = 0.1  # seconds between one client's requests: steady load, not a benchmark
SYNC_PAUSE = 0.5  # seconds between syncs
TASK_ID = "load01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, float, int]:
    """(status, seconds, body bytes) of one GET; HTTP errors give their status, network errors raise."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
            body = response.read()
            return response.status, time.monotonic() - started, len(body)
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started, 0


def wait_until_serving(base: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            if get(base + "/-/versions.json")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"Datasette did not answer on {base} within {timeout} s")


class Clients:
    """``CLIENTS`` threads, each walking the page list (from its own offset) until told to stop."""

    def __init__(self, base: str, paths: list[str], max_requests: int):
        self.base = base
        self.paths = paths
        self.max_requests = max_requests
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.answered: dict[str, int] = {}
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(CLIENTS)]

    def run(self, index: int) -> None:
        n = 0
        while not self.stop.is_set() and n < self.max_requests:
            path = self.paths[(index * 7 + n) % len(self.paths)]
            try:
                status, seconds, size = get(self.base + path)
                problem = None if status == 200 and size > 0 else f"{path}: HTTP {status}, {size} bytes"
            except OSError as exc:  # a timeout or a refused connection
                status, seconds, problem = None, REQUEST_TIMEOUT, f"{path}: {type(exc).__name__}: {exc}"
            with self.lock:
                self.latencies.append(seconds)
                if problem:
                    self.failures.append(problem)
                else:
                    self.answered[path] = self.answered.get(path, 0) + 1
            n += 1
            self.stop.wait(CLIENT_PAUSE)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=2 * REQUEST_TIMEOUT)



@pytest.mark.slow
def test_writer_syncs_and_datasette_under_load(tmp_path):
    from amiga_analytics.demo import write_demo

    bot = tmp_path / "agentlab.db"
    write_demo(bot, days=14, seed=5, tz=SOURCE_TZ, calls=5000)
    out = tmp_path / "analytics.db"
    sync(bot, out, source_tz=SOURCE_TZ)
    ds = build_datasette(out)
    paths = page_paths(ds)
    del ds
    rows_before = q(bot, "SELECT COUNT(*) FROM tool_usage")[0][0]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(SCRIPT), "serve", str(out), "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    syncs: list[dict] = []
    try:
        wait_until_serving(base, server)
        writer = subprocess.Popen([PY, str(WRITER), str(bot), str(WRITER_SECONDS), TASK_ID], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        max_requests = int(WRITER_SECONDS / CLIENT_PAUSE) + 50
        with Clients(base, paths, max_requests) as clients:
            try:
                while writer.poll() is None:
                    result = sync(bot, out, source_tz=SOURCE_TZ)
                    # What one sync loaded is one consistent snapshot: every row up to its watermark, merged.
                    loaded = q(out, "SELECT COALESCE(SUM(source_rows), 0), COUNT(*) FROM tool_calls")[0]
                    assert loaded == (result.quality["bot_rows_merged"] + result.quality["calls"],
                                      result.quality["calls"]), (loaded, result.quality)
                    syncs.append({"mode": result.mode, "reason": result.reason, "seconds": result.seconds,
                                  "rows_read": result.bot_rows_read})
                    time.sleep(SYNC_PAUSE)
            finally:
                written, writer_err = writer.communicate(timeout=WRITER_SECONDS + 60)
        elapsed = time.monotonic() - started
        assert server.poll() is None, "the Datasette server died under load"
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()

    assert writer.returncode == 0, writer_err
    calls_written = int(written)
    rows_written = q(bot, "SELECT COUNT(*) FROM tool_usage")[0][0] - rows_before
    assert rows_written == 3 * calls_written  # A, B and C per call (botwriter.py)
    final = sync(bot, out, source_tz=SOURCE_TZ)
    full = tmp_path / "full.db"
    sync(bot, full, source_tz=SOURCE_TZ, full=True)
    _assert_same_analytics(out, full)
    assert q(out, "SELECT COUNT(*), SUM(outcome = 'success') FROM tool_calls WHERE source_id = ?", (TASK_ID,)) == [
        (calls_written, calls_written)]

    latencies = sorted(clients.latencies)
    figures = {
        "writer_seconds": WRITER_SECONDS,
        "calls_written": calls_written,
        "rows_written": rows_written,
        "agent_status_rows_written": calls_written,
        "syncs": len(syncs) + 1,
        "incremental_syncs": sum(s["mode"] == "incremental" for s in syncs) + (final.mode == "incremental"),
        "sync_seconds_max": round(max(s["seconds"] for s in syncs), 3),
        "sync_seconds_median": round(statistics.median(s["seconds"] for s in syncs), 3),
        "clients": CLIENTS,
        "pages": len(paths),
        "requests": len(latencies),
        "requests_ok": sum(clients.answered.values()),
        "request_failures": len(clients.failures),
        "request_seconds_median": round(statistics.median(latencies), 3) if latencies else None,
        "request_seconds_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 3) if latencies else None,
        "request_seconds_max": round(latencies[-1], 3) if latencies else None,
        "elapsed_seconds": round(elapsed, 1),
    }
    (artifacts_dir() / "load.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"load: {json.dumps(figures)}")

    assert not clients.failures, clients.failures[:10]
    assert set(clients.answered) == set(paths), sorted(set(paths) - set(clients.answered))
    assert figures["requests"] >= 10 * len(paths)
    assert figures["syncs"] >= 20, syncs
    # Rows only ever appear at the end, so every sync after the first is incremental.
    assert all(s["mode"] == "incremental" for s in syncs), [s for s in syncs if s["mode"] != "incremental"]
    assert calls_written > 1000
