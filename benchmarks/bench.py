"""The benchmark: speed and memory as ratios against baselines measured in the same run (`make bench`).

Builds (once, cached under build/bench/) a demo bot database of at least 1,000,000 tool_usage rows, with the
demo's concurrency patterns (parallel tasks, tools and sub-agents, crossed rows, gate-blocked commits) and its
sessions' Claude Code transcripts (``--no-transcripts``: without them), then measures, each heavy step in a fresh
subprocess so its peak memory is its own (the syncs read the transcripts, ``sync --transcripts``, and their line
says how long the transcripts' step took: reading, storing and joining them):

* full sync ÷ SQLite copying the raw table (``CREATE TABLE t AS SELECT * FROM src.tool_usage``)   target ≤ 4
* incremental sync after 1 % new rows ÷ full sync                                               target ≤ 0.05
* each headline query over the whole history vs one raw GROUP BY over the bot's tool_usage       target ≥ 10×
  and vs pandas.read_sql of the table followed by a groupby                                     target ≥ 100×
* the whole weekly report                                                                       target ≤ 5 s
* peak memory of sync and report                                                                target ≤ 300 MB
* every Datasette page and canned query                                                         target ≤ 300 ms
* preparing each canned query on a fresh connection (SQLite's planner; EXPLAIN)                  target ≤ 50 ms

Usage: python benchmarks/bench.py [--calls N] [--days D] [--json PATH] [--sync-only] [--no-transcripts] [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
TZ = "Europe/Madrid"


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_step(*args: str) -> dict:
    """Run one measured step in a fresh interpreter; it prints a JSON line with seconds and peak RSS. A sync runs
    as the command line runs it: sqlite-utils imported without pandas and numpy (``AMIGA_ANALYTICS_LEAN``, see
    ``amiga_analytics/_lean.py``)."""
    env = dict(os.environ, AMIGA_ANALYTICS_LEAN="1") if args[0] == "sync" else None
    out = subprocess.run([sys.executable, __file__, "--step", *args], check=True, capture_output=True, text=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def step(args: list[str]) -> None:
    name = args[0]
    start = time.perf_counter()
    extra: dict = {}
    if name == "sync":
        from amiga_analytics import sync

        timed = time_transcript_step()
        result = sync(args[1], args[2], source_tz=TZ, full=args[3] == "full", transcripts=args[4:] or None)
        extra = {"mode": result.mode, "reason": result.reason, "transcripts_s": timed["seconds"]}
    elif name == "report":
        from amiga_analytics.report import write_report

        write_report(args[1], out_dir=Path(args[2]))
    elif name == "demo":
        from amiga_analytics.demo import write_demo

        write_demo(Path(args[1]), calls=int(args[2]), days=int(args[3]), seed=7, tz=TZ, truth=False,
                   concurrency=True, transcripts=args[4] == "transcripts")
    else:
        raise SystemExit(f"unknown step {name}")
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb(), **extra}))


def time_transcript_step() -> dict:
    """Wrap the sync's two transcript steps (read and store, then join) with a timer; returns the running total."""
    from amiga_analytics.load.loader import Loader

    timed = {"seconds": 0.0}
    for name in ("read_transcripts", "join_transcripts"):
        def timer(self, *a, _inner=getattr(Loader, name), **k):
            start = time.perf_counter()
            try:
                return _inner(self, *a, **k)
            finally:
                timed["seconds"] += time.perf_counter() - start
        setattr(Loader, name, timer)
    return timed


def peak_rss_mb() -> float:
    """This process's own peak RSS. (ru_maxrss would also count the parent's pages at fork time.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_source(calls: int, days: int, transcripts: bool) -> tuple[Path, list[str]]:
    """The demo bot database (and, with ``transcripts``, its Claude config directory, as ``sync --transcripts``
    arguments)."""
    from amiga_analytics.demo.transcript_output import transcripts_dir

    BUILD.mkdir(parents=True, exist_ok=True)
    path = BUILD / f"bot-{calls}-{days}-conc{'-tx' if transcripts else ''}.db"  # -conc: write_demo(concurrency=True)
    if not path.exists():
        with_tx = " and its transcripts" if transcripts else ""
        print(f"building the demo bot database{with_tx} ({calls:,} logical calls over {days} days)…", flush=True)
        info = run_step("demo", str(path), str(calls), str(days), "transcripts" if transcripts else "none")
        print(f"  demo written in {info['seconds']:.1f} s", flush=True)
    return path, [str(transcripts_dir(path))] if transcripts else []


def transcripts_size(dirs: list[str]) -> str:
    files = [p for d in dirs for p in Path(d).rglob("*.jsonl")]
    return f"; transcripts: {len(files):,} files, {sum(p.stat().st_size for p in files) / 1e6:,.0f} MB" if dirs else ""


def step_seconds(info: dict, transcripts: list[str]) -> str:
    """A sync's transcript step, when it read transcripts (without them the step only finds none to read)."""
    tx = info.get("transcripts_s") or 0.0
    return f" (transcripts' step {tx:.2f} s, {tx / info['seconds']:.0%} of it)" if transcripts else ""


def raw_copy_seconds(bot: Path) -> float:
    def copy():
        with tempfile.TemporaryDirectory(dir=BUILD) as tmp:
            conn = sqlite3.connect(Path(tmp) / "copy.db")
            conn.execute("ATTACH DATABASE ? AS src", (f"file:{bot}?mode=ro",))
            conn.execute("CREATE TABLE t AS SELECT * FROM src.tool_usage")
            conn.commit()
            conn.close()

    return best_of(2, copy)


def append_one_percent(bot: Path, target: Path) -> int:
    """A copy of the bot database with 1 % more tool_usage rows (the newest 1 %, a week later)."""
    shutil.copyfile(bot, target)
    conn = sqlite3.connect(target)
    total, top = conn.execute("SELECT COUNT(*), MAX(id) FROM tool_usage").fetchone()
    n = total // 100
    with conn:
        conn.execute(
            """INSERT INTO tool_usage (timestamp, task_id, tool_name, duration_ms, success, error, parameters,
                   error_category, screenshot_path, input_tokens, output_tokens, cache_creation_tokens,
                   cache_read_tokens)
               SELECT strftime('%Y-%m-%dT%H:%M:%f', timestamp, '+7 days'), task_id, tool_name, duration_ms,
                   success, error, parameters, error_category, screenshot_path, input_tokens, output_tokens,
                   cache_creation_tokens, cache_read_tokens
               FROM tool_usage WHERE id > ? ORDER BY id""",
            (top - n,),
        )
    conn.close()
    return n


def query_ratios(bot: Path, analytics: Path) -> list[dict]:
    import pandas as pd

    import amiga_analytics as aa
    from amiga_analytics import queries

    raw = sqlite3.connect(f"file:{bot}?mode=ro", uri=True)
    raw_sql = """SELECT tool_name, COUNT(*), SUM(success = 0), SUM(success = 1), SUM(input_tokens), SUM(output_tokens)
                 FROM tool_usage GROUP BY tool_name"""
    raw_seconds = best_of(3, lambda: raw.execute(raw_sql).fetchall())

    def pandas_way():
        df = pd.read_sql("SELECT * FROM tool_usage", raw)
        df.groupby("tool_name").agg({"id": "count", "success": "sum", "input_tokens": "sum"})

    pandas_seconds = best_of(1, pandas_way)
    raw.close()
    db = aa.connect(analytics)
    results = []
    for name, fn in (("tool_cost", lambda: queries.tool_cost(db)), ("error_rates", lambda: queries.error_rates(db)),
                     ("task_throughput", lambda: queries.task_throughput(db))):
        fn()
        seconds = best_of(5, fn)
        results.append({"query": name, "seconds": seconds, "vs_raw_group_by": raw_seconds / seconds,
                        "vs_pandas": pandas_seconds / seconds})
    return [{"raw_group_by_s": raw_seconds, "pandas_read_sql_groupby_s": pandas_seconds}] + results


def datasette_timings(analytics: Path) -> dict[str, list[tuple[str, float]]]:
    """Every page and canned query (with and without a period, the dashboard's chart JSON, and the queries that take
    the dashboard's filters under the most used model, agent type and both), timed on its
    second request, served both ways: ``amiga-analytics serve`` (snapshot, ANALYZE, inspect data, immutable)
    and the plain ``datasette -i analytics.db -m metadata.yml`` of the README (the file itself). Wall time on
    a machine shared with other work is noisy: the CPU time of this process (its threads run the SQL) is printed
    beside it."""
    import asyncio

    import yaml
    from datasette.app import Datasette

    from amiga_analytics.serve import build_datasette, default_window, page_paths
    from amiga_analytics.web.metadata import DASHBOARD

    plain_dir = Path(tempfile.mkdtemp(prefix="bench-plain-"))
    plain_db = plain_dir / "analytics.db"  # metadata.yml is written for a file called analytics.db
    shutil.copyfile(analytics, plain_db)
    ways = {
        "serve": build_datasette(analytics),
        # the README's `datasette -i analytics.db -m metadata.yml --setting suggest_facets off`
        "plain datasette": Datasette(immutables=[str(plain_db)], settings={"suggest_facets": False},
                                     metadata=yaml.safe_load((ROOT / "metadata.yml").read_text())),
    }

    async def measure(ds):
        window = default_window(ds)
        period = f"since={window['since']}&until={window['until']}"
        name = next(n for n in ds.databases if not n.startswith("_"))
        paths = page_paths(ds)
        meta = ds.metadata(database=name) or {}
        top = "SELECT {0} FROM tool_daily WHERE {0} <> '' GROUP BY 1 ORDER BY SUM(calls) DESC LIMIT 1"
        model, agent = [(await ds.execute(name, top.format(column))).first()[0] for column in ("model_id", "agent_type")]
        bot = (await ds.execute(name, "SELECT bot FROM tool_daily GROUP BY 1 ORDER BY SUM(calls) DESC LIMIT 1")).first()[0]
        for query, spec in (meta.get("queries") or {}).items():  # what the dashboard's charts fetch
            if spec.get("params"):
                paths += [f"/{name}/{query}.json?_shape=objects", f"/{name}/{query}.json?{period}&_shape=objects"]
                paths += [f"/{name}/{query}.json?{timed}&_shape=objects" for timed in timed_periods(window)]
            if "model" in (spec.get("params") or []):  # the dashboard's filters, whole history
                paths += [f"/{name}/{query}.json?model={model}&_shape=objects",
                          f"/{name}/{query}.json?agent_type={agent}&_shape=objects",
                          f"/{name}/{query}.json?model={model}&agent_type={agent}&_shape=objects"]
            if "bot" in (spec.get("params") or []):  # the bot filter: whole history, and a year from 08:00
                paths += [f"/{name}/{query}.json?bot={bot}&_shape=objects",
                          f"/{name}/{query}.json?bot={bot}&{timed_periods(window)[0]}&_shape=objects"]
        paths += [f"/-/dashboards/{DASHBOARD}?{timed}" for timed in timed_periods(window)[:2]]
        timings = []
        for path in paths:
            await ds.client.get(path)
            start, cpu = time.perf_counter(), time.process_time()
            response = await ds.client.get(path)
            seconds = time.perf_counter() - start
            label = path if response.status_code == 200 else f"{path} [HTTP {response.status_code}]"
            timings.append((f"{label} (cpu {(time.process_time() - cpu) * 1000:.0f} ms)", seconds))
        return timings

    try:
        return {PREPARE: prepare_timings(plain_db)} | {way: asyncio.run(measure(ds)) for way, ds in ways.items()}
    finally:
        shutil.rmtree(plain_dir, ignore_errors=True)


PREPARE = "prepare on a fresh connection"


def prepare_timings(db: Path) -> list[tuple[str, float]]:
    """How long SQLite takes to prepare each canned query of metadata.yml (``EXPLAIN``, every parameter empty) on
    a connection that has not seen it: what every new connection of Datasette (each SQL thread, every swap of
    ``serve --follow``) pays once per query, inside Datasette's SQL time limit. Best of three fresh connections."""
    import yaml

    meta = yaml.safe_load((ROOT / "metadata.yml").read_text())
    timings = []
    for name, spec in meta["databases"]["analytics"]["queries"].items():
        params = dict.fromkeys(spec.get("params") or [], "")

        best = float("inf")
        for _ in range(3):
            conn = sqlite3.connect(db)
            start = time.perf_counter()
            conn.execute("EXPLAIN " + spec["sql"], params).fetchall()
            best = min(best, time.perf_counter() - start)
            conn.close()
        timings.append((name, best))
    return timings


def timed_periods(window: dict[str, str]) -> list[str]:
    """Periods with a time of day, ending at the last day with data (``window['until']``, exclusive): a year from
    08:00, a year from 08:00 to 17:30 the day before the end, a week from 08:00 to 08:00, and 7d / 4w."""
    from datetime import date, timedelta

    end = date.fromisoformat(window["until"])
    year, week = (end - timedelta(days=365)).isoformat(), (end - timedelta(days=7)).isoformat()
    return [f"since={year}T08:00", f"since={year}T08:00&until={end - timedelta(days=1)}T17:30",
            f"since={week}T08:00&until={end}T08:00", "since=7d", "since=4w"]


def print_datasette(pages: dict[str, list[tuple[str, float]]]) -> None:
    for way, timings in pages.items():
        slowest = max(timings, key=lambda x: x[1])
        what, target, shown = ("canned queries", 50, len(timings)) if way == PREPARE else ("pages", 300, 15)
        print(f"datasette ({way}): {len(timings)} {what}, slowest {slowest[1] * 1000:.0f} ms ({slowest[0]}) "
              f"(target ≤ {target} ms)")
        for p, s in sorted(timings, key=lambda x: -x[1])[:shown]:
            print(f"  {s * 1000:7.1f} ms  {p}")


def sync_ratios(bot: Path, transcripts: list[str]) -> tuple[dict, Path]:
    """The raw copy, a full sync and an incremental one after 1 % new rows, in this run; returns the figures and
    the full sync's analytics database. Each sync's line is printed as soon as it is measured, and says so when
    the incremental sync did not run incrementally (it fell back to a full sync)."""
    raw = raw_copy_seconds(bot)
    print(f"raw copy (CREATE TABLE AS SELECT * FROM tool_usage): {raw:.2f} s", flush=True)
    work = BUILD / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    analytics = work / "analytics.db"
    full = run_step("sync", str(bot), str(analytics), "full", *transcripts)
    print(f"full sync: {full['seconds']:.2f} s = {full['seconds'] / raw:.2f} × raw copy (target ≤ 4), "
          f"peak {full['peak_mb']:.0f} MB (target ≤ 300){step_seconds(full, transcripts)}", flush=True)
    grown = work / "bot-grown.db"
    added = append_one_percent(bot, grown)
    base = work / "analytics-incremental.db"
    shutil.copyfile(analytics, base)
    incremental = run_step("sync", str(grown), str(base), "incremental", *transcripts)
    mode = "" if incremental.get("mode") == "incremental" else \
        f" — NOT incremental: it ran as a {incremental.get('mode')} sync ({incremental.get('reason')})"
    print(f"incremental sync after {added:,} new rows (1 %): {incremental['seconds']:.2f} s = "
          f"{incremental['seconds'] / full['seconds']:.3f} × full (target ≤ 0.05), "
          f"peak {incremental['peak_mb']:.0f} MB (target ≤ 300){step_seconds(incremental, transcripts)}{mode}", flush=True)
    figures = {
        "raw_copy_s": raw, "full_s": full["seconds"], "full_peak_mb": full["peak_mb"],
        "full_over_raw_copy": full["seconds"] / raw, "rows_added": added,
        "incremental_s": incremental["seconds"], "incremental_peak_mb": incremental["peak_mb"],
        "incremental_over_full": incremental["seconds"] / full["seconds"], "incremental_mode": incremental.get("mode"),
        "transcripts": bool(transcripts), "full_transcripts_s": full.get("transcripts_s"),
        "incremental_transcripts_s": incremental.get("transcripts_s"),
    }
    return figures, analytics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=450_000, help="logical calls in the demo (≈2.3 rows each)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--json", type=Path, default=BUILD / "results.json")
    parser.add_argument("--step", nargs=argparse.REMAINDER)
    parser.add_argument("--sync-only", action="store_true",
                        help="only the sync figures: raw copy, full sync, incremental sync after 1 %% new rows")
    parser.add_argument("--no-transcripts", action="store_true",
                        help="a demo without Claude Code transcripts, synced without --transcripts")
    parser.add_argument("--small", action="store_true",
                        help="allow fewer than 1,000,000 tool_usage rows (for trying the benchmark out; not its figures)")
    parser.add_argument("--datasette-only", type=Path, default=None, metavar="ANALYTICS_DB",
                        help="only time the Datasette pages of an existing analytics database")
    args = parser.parse_args()
    if args.step:
        step(args.step)
        return
    if args.datasette_only:
        print_datasette(datasette_timings(args.datasette_only))
        return

    bot, transcripts = build_source(args.calls, args.days, not args.no_transcripts)
    conn = sqlite3.connect(f"file:{bot}?mode=ro", uri=True)
    rows = conn.execute("SELECT COUNT(*) FROM tool_usage").fetchone()[0]
    conn.close()
    print(f"source: {bot.name}: {rows:,} tool_usage rows, {bot.stat().st_size / 1e6:.0f} MB"
          f"{transcripts_size(transcripts)}", flush=True)
    if rows < 1_000_000 and not args.small:
        raise SystemExit("the benchmark needs at least 1,000,000 tool_usage rows: raise --calls")
    results: dict = {"tool_usage_rows": rows}

    results["sync"], analytics = sync_ratios(bot, transcripts)
    if args.sync_only:
        write_results(args.json, results)
        return

    try:
        q = query_ratios(bot, analytics)
    except ImportError as exc:
        print(f"queries: not measured ({exc})")
    else:
        results["queries"] = q
        print(f"queries: raw GROUP BY {q[0]['raw_group_by_s'] * 1000:.0f} ms, pandas read_sql+groupby "
              f"{q[0]['pandas_read_sql_groupby_s']:.2f} s")
        for r in q[1:]:
            print(f"  {r['query']:<16} {r['seconds'] * 1000:7.1f} ms  {r['vs_raw_group_by']:6.0f}× faster than raw "
                  f"GROUP BY (target ≥ 10), {r['vs_pandas']:7.0f}× faster than pandas (target ≥ 100)")

    try:
        rep = run_step("report", str(analytics), str(analytics.parent / "reports"))
    except subprocess.CalledProcessError as exc:
        print(f"report: not measured ({exc.stderr.strip().splitlines()[-1] if exc.stderr else exc})")
    else:
        results["report"] = rep
        print(f"report: {rep['seconds']:.2f} s (target ≤ 5), peak {rep['peak_mb']:.0f} MB (target ≤ 300)")

    try:
        pages = datasette_timings(analytics)
    except ImportError as exc:
        print(f"datasette: not measured ({exc})")
    else:
        results["datasette"] = {way: [{"path": p, "ms": s * 1000} for p, s in timings]
                                for way, timings in pages.items()}
        print_datasette(pages)

    write_results(args.json, results)


def write_results(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    main()
