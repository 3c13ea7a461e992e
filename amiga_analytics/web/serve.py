"""The read-only Datasette view of an analytics database (CLI ``serve``).

Publishing follows snapshot → index → inspect → serve immutable:

1. :func:`snapshot` validates the file (``db.open_analytics``) and copies it with SQLite's backup API into a private
   temporary directory: one consistent state, untouched by later syncs, and never the file a sync writes;
2. the copy gets the migrations an older analytics database lacks, the few extra indexes that keep facets and canned queries fast on million-call databases
   (:data:`SERVE_INDEXES`) and ``ANALYZE`` statistics;
3. :func:`inspect` precomputes what ``datasette inspect`` would (row counts, size, hash), so no page counts a
   big table;
4. :func:`build_datasette` serves the copy *immutable* with the generated metadata
   (:func:`amiga_analytics.metadata.build_metadata`, for whatever the file is called) and :data:`SETTINGS`:
   arbitrary SQL refused, no database download, only GET / HEAD / OPTIONS requests.

:func:`serve` runs it with uvicorn on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from . import guard
from . import metadata as metadata_mod
from ..sqlitefile import read_only_connection
from ..store.connect import open_analytics
from ..store.schema import VIEW_INDEXES, migrate
from .render import render_cell

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

# The view's indexes are created by the analytics migrations (m007, store.schema.VIEW_INDEXES), so the plain
# `datasette` command has them too; the snapshot adds any that an analytics database written by an older version
# lacks (the same names: IF NOT EXISTS makes this a no-op on a migrated database).
SERVE_INDEXES = VIEW_INDEXES

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
            # a database an older version wrote (not synced since) gets, in the copy, the rollups and indexes that
            # the canned queries read; a no-op on a migrated one
            migrate(Database(dest))
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

            def wrap(app):
                async def checked(scope, receive, send):
                    if scope["type"] == "http":
                        refused = unknown_parameters(datasette, scope)
                        if refused:
                            await _bad_request(datasette, scope, receive, send, refused)
                            return
                    await app(scope, receive, send)

                # the guard (read-only methods, the /-/ pages, hidden free text, facet limits) stands in front
                return guard.guard(checked)

            return wrap

        @hookimpl
        def render_cell(self, value, column, table, database, datasette):
            if not getattr(datasette, "amiga_read_only", False):
                return None
            return render_cell(column, value)

        @hookimpl
        def register_routes(self):
            return [(r"^/-/amiga-follow\.json$", _follow_status)]

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


def unknown_parameters(datasette, scope) -> str | None:
    """A message if a canned query's request carries a parameter that query does not take (a typo such as
    ``sinse=`` would otherwise silently give the whole history), else None."""
    from urllib.parse import parse_qsl

    from datasette.utils import tilde_decode

    parts = scope.get("path", "").strip("/").split("/")
    if len(parts) != 2:
        return None
    query = parts[1].rsplit(".", 1)[0] if parts[1].endswith((".json", ".csv")) else parts[1]
    takes = getattr(datasette, "amiga_query_params", {}).get((tilde_decode(parts[0]), query))
    if takes is None:
        return None
    given = [k for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if v.strip()]
    unknown = [k for k in dict.fromkeys(given) if not k.startswith("_") and k != "sql" and k not in takes]
    if not unknown:
        return None
    return (f"{query} does not take {', '.join(unknown)}: its parameters are "
            f"{', '.join(takes) if takes else 'none'}")


async def _bad_request(datasette, scope, receive, send, message: str) -> None:
    from datasette.utils.asgi import Response

    if scope["path"].endswith(".json"):
        response = Response.json({"ok": False, "error": message, "status": 400, "title": "Bad parameter"},
                                 status=400)
    else:
        html = await datasette.render_template(
            "error.html", {"ok": False, "error": message, "status": 400, "title": "Bad parameter"})
        response = Response.html(html, status=400)
    await response.asgi_send(send)


async def _follow_status(datasette):
    from datasette.utils.asgi import Response

    follower = getattr(datasette, "amiga_follower", None)
    return Response.json(follower.status if follower else {"following": False})


@functools.lru_cache(maxsize=1)
def _snapshot_database_class() -> type:
    from datasette.database import Database

    class SnapshotDatabase(Database):
        """An immutable snapshot whose per-thread connections belong to this snapshot (``generation``).

        Datasette keys a thread's connection by database name; a swapped-in snapshot has the same name, so it
        keys them by name and generation, and a thread closes its connections two generations old."""

        def __init__(self, ds, *, generation: int = 0, **kwargs):
            super().__init__(ds, **kwargs)
            self.generation = generation

        async def execute_fn(self, fn):
            if self.ds.executor is None:
                return await super().execute_fn(fn)
            import asyncio

            def in_thread():
                mine = _THREAD.__dict__.setdefault("connections", {})
                conn = mine.get((self.name, self.generation))
                if conn is None:
                    for key in [k for k in mine if k[0] == self.name and k[1] < self.generation - 1]:
                        mine.pop(key).close()
                    conn = self.connect()
                    self.ds._prepare_connection(conn, self.name)
                    mine[(self.name, self.generation)] = conn
                return fn(conn)

            return await asyncio.get_event_loop().run_in_executor(self.ds.executor, in_thread)

    return SnapshotDatabase


_THREAD = threading.local()


def snapshot_database(ds: Any, path: Path, generation: int) -> Any:
    """A ``SnapshotDatabase`` (immutable) of the snapshot at ``path`` for ``ds`` (Datasette is imported lazily)."""
    return _snapshot_database_class()(ds, path=str(path), is_mutable=False, generation=generation)


def build_datasette(analytics_db, *, settings: dict[str, Any] | None = None):
    """A read-only ``Datasette`` serving a private snapshot of ``analytics_db`` with the generated metadata.

    The database is named after the file's stem and the metadata is built for that name, so any file name
    works. Raises ``NotAnAnalyticsDatabase`` (an ``InputError``) for a file ``amiga-analytics sync`` did not
    write. The snapshot lives in a temporary directory that is removed when the returned object is
    garbage-collected, or at exit; :func:`.follow.swap` replaces it with a newer one.
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
        path = snapshot(source, Path(workdir.name) / f"{name}.0.db")
        inspect_data = inspect(path, name)
    except BaseException:
        workdir.cleanup()
        raise
    _register_read_only_plugin()
    meta = _refuse_undescribed_tables(metadata_mod.build_metadata(name), name, path)
    ds = ReadOnlyDatasette(metadata=meta, settings={**SETTINGS, **(settings or {})}, inspect_data=inspect_data)
    db = snapshot_database(ds, path, 0)
    ds.add_database(db, name=name)
    ds.amiga_snapshot_dir = workdir  # keeps the temporary directory alive as long as the instance
    ds.amiga_database = name
    ds.amiga_generation = 0
    ds.amiga_query_params = {(name, query): spec.get("params") or []
                             for query, spec in meta["databases"][name]["queries"].items()}
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


def serve(analytics_db, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, follow=None,
          every: float = 60.0) -> None:
    """Serve ``analytics_db`` read-only on http://host:port/ until interrupted (Ctrl-C or SIGTERM).

    With ``follow`` (the bot database, or a list of them: the bots of a store of several), sync it into
    ``analytics_db`` every ``every`` seconds in the background and serve each new snapshot (:mod:`.follow`). Raises ``NotAnAnalyticsDatabase`` before listening if the file is
    not an analytics database. The snapshots are removed on the way out.
    """
    import signal

    import uvicorn

    from ..errors import InputError
    from .follow import Follower, follow_targets

    follower = None
    follows = [Path(follow)] if isinstance(follow, (str, Path)) else [Path(f) for f in follow or []]
    follow = follows or None
    for path in follows:
        if not path.is_file():
            raise InputError(f"--follow {path}: no such bot database file: give the bot's agentlab.db")
    if follow is not None and every < 1:
        raise InputError(f"--every {every}: give the seconds between syncs, 1 or more")
    targets = follow_targets(Path(analytics_db), follows) if follows else []
    ds = build_datasette(analytics_db, settings={"default_cache_ttl": 0} if follow is not None else None)
    if follow is not None:
        follower = Follower(ds, Path(analytics_db), targets, every)
        ds.amiga_follower = follower
        follower.start()

    def stop(signum, frame):  # uvicorn re-raises the signal it caught once it has shut down: end quietly
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        live = f", syncing {', '.join(map(str, follows))} every {every:g} s" if follows else ""
        print(f"Serving a read-only snapshot of {analytics_db} at http://{host}:{port}/{live} (Ctrl-C to stop)",
              flush=True)
        uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if follower is not None:
            follower.stop()
            follower.join(timeout=120)
        ds.amiga_snapshot_dir.cleanup()
