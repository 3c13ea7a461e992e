"""One export: a consistent snapshot of the analytics database → the partitions that changed → the manifest.

The incremental rule compares contents, not times: every partition's rows are read from the database (one read
transaction, so one state of it, whatever a sync does meanwhile) and digested; a partition whose digest, columns
and file match the manifest's is left alone, any other is written again (new days, calls completed since, a
repricing, a re-sync in another timezone), and a file whose partition is no longer in the database is removed.
So after every export the directory equals the database, and a second export of an unchanged database writes
nothing.

Interruption is safe: each file is written under a temporary name and renamed into place (readers see the old
file or the new one), the manifest is written last, and the next export redoes whatever the manifest does not
vouch for. A new directory gets an empty manifest before any data file, so an interrupted first export is still
recognised as an export.
"""

from __future__ import annotations

import hashlib
import itertools
import pickle
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InputError
from ..store.connect import open_analytics
from ..store.state_values import state_value
from ..timeutil import UTC, format_utc, zone
from .arrow import require_pyarrow, to_arrow, write_parquet
from .layout import ExportTable, export_tables
from .manifest import MANIFEST, empty_manifest, locked, read_manifest, write_manifest
from .result import ExportResult, TableResult
from .sweep import remove_strays

FORMATS = ("parquet",)
ProgressCallback = Callable[[str, int, int], None]
#: tables with fewer rows do not report progress
MIN_PROGRESS_ROWS = 50_000
FETCH = 5_000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LAYOUT = ("DIR/<table>/<partition column>=<YYYY-MM-DD>/part-0.parquet (NULL: __HIVE_DEFAULT_PARTITION__); "
          "tables without a day: DIR/<table>/part-0.parquet; a store of several bots: DIR/<table>/bot=<name>/...")


def export(analytics_db: str | Path, directory: str | Path, *, fmt: str = "parquet",
           progress: ProgressCallback | None = None) -> ExportResult:
    """Export every table of ``analytics_db`` that the Datasette view shows into ``directory`` as Parquet,
    partitioned by day (hive style), writing only what changed since the export already there.

    Raises ``InputError`` (and changes no file) for an unknown ``fmt``, a missing pyarrow, a file that is not an
    analytics database, or a ``directory`` that exists and is not an export (a file, a non-empty directory
    without ``manifest.json``, another tool's manifest). See :mod:`amiga_analytics.export` for the layout.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: choose one of: {', '.join(FORMATS)}")
    pyarrow = require_pyarrow()
    directory = Path(directory)
    started = time.perf_counter()
    conn = open_analytics(analytics_db)
    try:
        read_manifest(directory, fmt)  # refuse a directory that is not an export before creating anything
        directory.mkdir(parents=True, exist_ok=True)
        with locked(directory):
            old = read_manifest(directory, fmt)
            if old is None:
                old = empty_manifest(fmt)
                write_manifest(directory, old)
            conn.execute("BEGIN")  # one read transaction: one state of the database for every table
            written_by = f"amiga-analytics {__version__}, pyarrow {pyarrow.__version__}"
            result, manifest = _export_all(conn, directory, old, Path(analytics_db).name, written_by, progress)
            result.seconds = time.perf_counter() - started
            write_manifest(directory, manifest)
    finally:
        conn.close()
    return result


def export_parquet(analytics_db: str | Path, directory: str | Path, *,
                   progress: ProgressCallback | None = None) -> ExportResult:
    """:func:`export` with ``fmt="parquet"`` (``aa.export_parquet``)."""
    return export(analytics_db, directory, fmt="parquet", progress=progress)


def _source(conn: sqlite3.Connection) -> dict[str, Any]:
    sync_id, finished = conn.execute(
        "SELECT sync_id, finished_at FROM syncs ORDER BY sync_id DESC LIMIT 1").fetchone() or (None, None)
    return {"sync_id": sync_id, "synced_at": finished, "report_tz": state_value(conn, "report_tz") or "UTC"}


def _export_all(conn: sqlite3.Connection, directory: Path, old: dict[str, Any], database: str, written_by: str,
                progress: ProgressCallback | None) -> tuple[ExportResult, dict[str, Any]]:
    source = _source(conn)
    manifest = empty_manifest(old["file_format"], written_by=written_by, exported_at=format_utc(datetime.now(UTC)),
                              source={"database": database, **source}, layout=LAYOUT)
    result = ExportResult(directory=directory, database=database, sync_id=source["sync_id"])
    day_of = _day_function(source["report_tz"])
    tables = export_tables(conn)
    for table in tables:
        entry, outcome = _export_table(conn, table, directory, old["tables"].get(table.name), source["sync_id"],
                                       day_of, progress)
        manifest["tables"][table.name] = entry
        result.tables.append(outcome)
    keep = {p["path"] for entry in manifest["tables"].values() for p in entry["partitions"]}
    removed = remove_strays(directory, keep, {t.name for t in tables} | set(old["tables"]))
    for outcome in result.tables:
        outcome.removed = removed.get(outcome.name, 0)
    return result, manifest


def _export_table(conn: sqlite3.Connection, table: ExportTable, directory: Path, old: dict[str, Any] | None,
                  sync_id: int | None, day_of: Callable[[str | None], str | None],
                  progress: ProgressCallback | None) -> tuple[dict[str, Any], TableResult]:
    spec = table.schema_spec()
    same = old is not None and old.get("columns") == spec and old.get("partition_by") == table.partition
    before = {p["path"]: p for p in old["partitions"]} if same and old is not None else {}
    outcome = TableResult(table.name, table.partition)
    total = conn.execute(f'SELECT COUNT(*) FROM "{table.name}"').fetchone()[0]
    report = progress if progress is not None and total >= MIN_PROGRESS_ROWS else None
    label = f"export {table.name}"
    if report:
        report(label, 0, total)
    partitions = []
    for (bot, value), rows in _partitions(conn, table, day_of):
        path = table.relative_path(value, bot)
        digest = hashlib.sha256(pickle.dumps(rows, protocol=5)).hexdigest()
        kept = before.get(path)
        target = directory / path
        if kept is None or kept["digest"] != digest or not _intact(target, kept):
            size, sha256 = write_parquet(to_arrow(table, rows, table.skip), target)
            kept = {"path": path, "value": value, **({"bot": bot} if table.by_bot else {}), "rows": len(rows), "bytes": size, "sha256": sha256,
                    "digest": digest, "sync_id": sync_id}
            outcome.written += 1
        else:
            outcome.unchanged += 1
        partitions.append(kept)
        outcome.partitions += 1
        outcome.rows += len(rows)
        outcome.bytes += kept["bytes"]
        if report:
            report(label, outcome.rows, total)
    entry = {"partition_by": table.partition, "rows": outcome.rows, "columns": spec, "partitions": partitions}
    if table.derived_from:
        entry["partition_from"] = table.derived_from
    return entry, outcome


def _intact(path: Path, entry: dict[str, Any]) -> bool:
    """The file the manifest names is there, with the size it recorded."""
    try:
        return path.stat().st_size == entry["bytes"]
    except OSError:
        return False


def _partitions(conn: sqlite3.Connection, table: ExportTable, day_of: Callable[[str | None], str | None]
                ) -> Iterator[tuple[tuple[str | None, str | None], list[tuple]]]:
    """((bot, partition value), its rows) in partition order (the bot None unless the table is partitioned by
    bot); one empty NULL partition for an empty table."""
    columns = ", ".join(f'"{c}"' for c in table.select_columns)
    cursor = conn.execute(f'SELECT {columns} FROM "{table.name}" ORDER BY {table.order_sql()}')
    rows = itertools.chain.from_iterable(iter(lambda: cursor.fetchmany(FETCH), []))
    day_at = table.by_bot  # the day's place in the row read (after the bot)
    if table.partition is None:
        def day(row: tuple) -> str | None:
            return None
    elif table.derived_from:
        index = table.select_columns.index(table.derived_from)

        def day(row: tuple) -> str | None:
            return day_of(row[index])
    else:
        def day(row: tuple) -> str | None:
            return row[day_at]

    def key(row: tuple) -> tuple[str | None, str | None]:
        return (row[0] if table.by_bot else None), day(row)

    seen: set[tuple[str | None, str | None]] = set()
    for both, group in itertools.groupby(rows, key=key):
        value = both[1]
        if both in seen or (value is not None and not (isinstance(value, str) and _DAY.match(value))):
            # a repeated day: the time column's texts do not sort in time order (not all UTC ISO 8601)
            raise InputError(f"{table.name}: {value!r} is not a day in order; the analytics database looks "
                             f"damaged: rebuild it with `amiga-analytics sync BOT_DB ANALYTICS_DB --full`")
        seen.add(both)
        yield both, list(group)
    if not seen:
        yield (None, None), []


def _day_function(report_tz: str) -> Callable[[str | None], str | None]:
    """UTC ISO 8601 text → its calendar day in ``report_tz`` (None stays None)."""
    tz = zone(report_tz)

    def day_of(text: str | None) -> str | None:
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise ValueError("no UTC offset")
            return moment.astimezone(tz).date().isoformat()
        except (TypeError, ValueError):
            raise InputError(f"{text!r} is not a UTC ISO 8601 time; the analytics database looks damaged: rebuild "
                             f"it with `amiga-analytics sync BOT_DB ANALYTICS_DB --full`") from None

    return day_of


__all__ = ["FORMATS", "MANIFEST", "export", "export_parquet"]
