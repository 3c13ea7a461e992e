"""The read-only Datasette view of an analytics database (CLI ``serve``).

Publishing follows snapshot → index → inspect → serve immutable:

1. :func:`snapshot` validates the file (``db.open_analytics``) and copies it with SQLite's backup API into a private
   temporary directory: one consistent state, untouched by later syncs, and never the file a sync writes;
2. the copy gets the few extra indexes that keep facets and canned queries fast on million-call databases
   (:data:`SERVE_INDEXES`) and ``ANALYZE`` statistics;
3. :func:`inspect` precomputes what ``datasette inspect`` would (row counts, size, hash), so no page counts a
   big table;
4. :func:`build_datasette` serves the copy *immutable* with the generated metadata
   (:func:`amiga_analytics.metadata.build_metadata`, for whatever the file is called) and :data:`SETTINGS`:
   arbitrary SQL refused, no database download, only GET / HEAD / OPTIONS requests.

:func:`serve` runs it with uvicorn on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from . import guard
from . import metadata as metadata_mod
from ..sqlitefile import read_only_connection
from ..store.connect import open_analytics

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001

SETTINGS: dict[str, Any] = {
    "default_allow_sql": False,  # belt and braces beside `allow_sql: false` in the metadata
    "allow_download": False,
    "allow_csv_stream": True,  # CSV of a filtered table; the same rows the pages show
    "default_page_size": 50,
    "max_returned_rows": 1000,
    # A page's query, count or facet over a million calls takes well under these limits on the served copy
    # (its indexes); bounded, so that a few requests cannot hold every SQL thread for long (the guard also allows
    # at most guard.MAX_FACETS requested facets per page).
    "sql_time_limit_ms": 1_000,
    "facet_time_limit_ms": 500,
    # Suggested facets try every column of the table on every page view: off (facets are configured per table,
    # and any column can still be faceted from its column menu).
    "suggest_facets": False,
    "num_sql_threads": 3,
    "truncate_cells_html": 400,
    "default_cache_ttl": 60,  # immutable snapshot: pages can be cached
}

# Indexes added to the served copy only (the analytics database itself stays as sync wrote it). Each configured
# facet becomes a scan of one small covering index instead of the whole table; the default sorts of big tables
# read the newest rows from an index; latency_by_tool ranks durations in index order and top_errors reads a
# partial index of the failures.
SERVE_INDEXES = {
    "serve_tool_calls_tool_duration": "tool_calls (tool_name, duration_ms, day)",
    "serve_tool_calls_outcome": "tool_calls (outcome)",
    "serve_tool_calls_error_category": "tool_calls (error_category)",
    "serve_tool_calls_model_id": "tool_calls (model_id)",
    "serve_tool_calls_program": "tool_calls (program)",
    "serve_tool_calls_failures": (
        "tool_calls (day, tool_name, error_template, error_category, started_at, task_id, error) "
        "WHERE outcome = 'failure'"
    ),
    "serve_agent_events_at": "agent_events (at)",
    "serve_router_messages_at": "router_messages (at)",
    "serve_tasks_created_at": "tasks (created_at)",
    "serve_tasks_status": "tasks (status)",
    "serve_tasks_agent_type": "tasks (agent_type)",
    "serve_tasks_model_id": "tasks (model_id)",
}

PLUGIN_NAME = "amiga-analytics-read-only"


def snapshot(analytics_db, target: Path) -> Path:
    """Validate ``analytics_db`` and copy one consistent state of it to ``target`` (SQLite backup API).

    The copy gets :data:`SERVE_INDEXES` and ``ANALYZE`` statistics and is left in rollback-journal mode, ready
    to be opened immutable. Raises ``NotAnAnalyticsDatabase`` for anything ``amiga-analytics sync`` did not write.
    """
    source = open_analytics(analytics_db)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode = DELETE")
            tables = {r[0] for r in dest.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for name, on in SERVE_INDEXES.items():
                if on.split(" ", 1)[0] in tables:
                    dest.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
            dest.execute("PRAGMA analysis_limit = 1000")
            dest.execute("ANALYZE")
            dest.commit()
        finally:
            dest.close()
    finally:
        source.close()
    return target


def inspect(path: Path, name: str) -> dict[str, Any]:
    """What ``datasette inspect`` writes, for one database file: hash, size and the row count of every table."""
    from datasette.inspect import inspect_hash

    conn = read_only_connection(path)
    try:
        tables = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            count = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            tables[table] = {"count": count}
    finally:
        conn.close()
    return {name: {"hash": inspect_hash(path), "size": path.stat().st_size, "file": path.name, "tables": tables}}


def _register_read_only_plugin() -> None:
    """An in-process plugin: on the instances :func:`build_datasette` makes, every request passes the guard
    (:mod:`.guard`: GET only, no ``/-/databases`` or ``/-/threads``, bounded facets, free text on purpose).
    Other Datasette instances in the same process are left alone."""
    from datasette import hookimpl
    from datasette.plugins import pm

    if pm.get_plugin(PLUGIN_NAME) is not None:
        return

    class ReadOnly:
        __name__ = PLUGIN_NAME

        @hookimpl
        def asgi_wrapper(self, datasette):
            if not getattr(datasette, "amiga_read_only", False):
                return None
            return guard.guard

    pm.register(ReadOnly(), name=PLUGIN_NAME)


def _refuse_undescribed_tables(meta: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    """Every table of the served file that the metadata does not describe (``sqlite_stat1`` of the ANALYZE,
    any other) is hidden and refused like the internal tables."""
    tables = meta["databases"][name]["tables"]
    conn = read_only_connection(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    finally:
        conn.close()
    for table in names:
        tables.setdefault(table, dict(metadata_mod.INTERNAL_OPTIONS))
    return meta


def build_datasette(analytics_db, *, settings: dict[str, Any] | None = None):
    """A read-only ``Datasette`` serving a private snapshot of ``analytics_db`` with the generated metadata.

    The database is named after the file's stem and the metadata is built for that name, so any file name
    works. Raises ``NotAnAnalyticsDatabase`` (an ``InputError``) for a file ``amiga-analytics sync`` did not
    write. The snapshot lives in a temporary directory that is removed when the returned object is
    garbage-collected, or at exit.
    """
    from datasette.app import Datasette

    class ReadOnlyDatasette(Datasette):
        amiga_read_only = True

    source = Path(analytics_db)
    open_analytics(source).close()  # validate before creating anything
    name = source.stem
    if not name or name.startswith("_"):  # Datasette keeps names starting with "_" (_internal, _memory)
        name = "analytics" + name
    workdir = tempfile.TemporaryDirectory(prefix="amiga-serve-")
    try:
        path = snapshot(source, Path(workdir.name) / f"{name}.db")
        inspect_data = inspect(path, name)
    except BaseException:
        workdir.cleanup()
        raise
    _register_read_only_plugin()
    ds = ReadOnlyDatasette(
        immutables=[str(path)],
        metadata=_refuse_undescribed_tables(metadata_mod.build_metadata(name), name, path),
        settings={**SETTINGS, **(settings or {})},
        inspect_data=inspect_data,
    )
    ds.amiga_snapshot_dir = workdir  # keeps the temporary directory alive as long as the instance
    ds.amiga_database = name
    return ds


def _database_name(ds) -> str:
    return getattr(ds, "amiga_database", None) or next(n for n in ds.databases if not n.startswith("_"))


def default_window(ds) -> dict[str, str]:
    """A period for example links and timings: the last 28 days that have data (``since``, ``until``)."""
    from datetime import date, timedelta

    path = ds.databases[_database_name(ds)].path
    conn = read_only_connection(path)
    try:
        last = conn.execute("SELECT MAX(day) FROM tool_daily").fetchone()[0]
    finally:
        conn.close()
    end = date.fromisoformat(last) + timedelta(days=1) if last else date.today()
    return {"since": (end - timedelta(days=28)).isoformat(), "until": end.isoformat()}


def page_paths(ds) -> list[str]:
    """Every page a reader opens first: the index, the database, the first page of each visible table, each
    canned query without and with a period (:func:`default_window`), and the charts list. Used by the tests
    and the benchmark."""
    name = _database_name(ds)
    meta = ds.metadata(database=name) or {}
    window = default_window(ds)
    period = f"?since={window['since']}&until={window['until']}"
    paths = [ds.urls.instance(), ds.urls.database(name)]
    for table, spec in (meta.get("tables") or {}).items():
        if not spec.get("hidden"):
            paths.append(ds.urls.table(name, table))
    for query, spec in (meta.get("queries") or {}).items():
        paths.append(ds.urls.query(name, query))
        if spec.get("params"):
            paths.append(ds.urls.query(name, query) + period)
    paths.append(ds.urls.path(f"-/dashboards/{metadata_mod.DASHBOARD}"))
    return [str(p) for p in paths]


def serve(analytics_db, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve ``analytics_db`` read-only on http://host:port/ until interrupted (Ctrl-C or SIGTERM).

    Raises ``NotAnAnalyticsDatabase`` before listening if the file is not an analytics database. The snapshot is
    removed on the way out.
    """
    import signal

    import uvicorn

    ds = build_datasette(analytics_db)

    def stop(signum, frame):  # uvicorn re-raises the signal it caught once it has shut down: end quietly
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        print(f"Serving a read-only snapshot of {analytics_db} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
        uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        ds.amiga_snapshot_dir.cleanup()
