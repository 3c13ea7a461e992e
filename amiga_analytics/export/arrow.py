"""Rows read from SQLite → an Arrow table of the export's types → one Parquet file, written safely.

pyarrow is the reference implementation of Parquet (the Apache Arrow project maintains both), the writer DuckDB,
Spark and pandas are tested against; it is an optional dependency (``pip install 'amiga-analytics[parquet]'``),
imported only here and only when an export runs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from .layout import ExportTable

COMPRESSION = "zstd"
#: kind → what a value of it is, for messages
WHAT = {"int": "an integer", "float": "a number", "bool": "a 0/1 flag", "text": "text",
        "timestamp": "a UTC ISO 8601 time", "date": "a YYYY-MM-DD date"}
MISSING = ("Parquet export needs pyarrow, which is not installed: pip install 'amiga-analytics[parquet]' "
           "(or pip install pyarrow)")


def require_pyarrow() -> Any:
    """The ``pyarrow`` module, or an InputError saying how to install it."""
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise InputError(MISSING) from None
    return pyarrow


def arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "text": pa.string(),
            "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32()}[kind]


def schema(table: ExportTable) -> Any:
    """The Arrow schema of ``table``'s files (the partition column is in the path, not the file)."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, arrow_type(c.kind)) for c in table.columns])


def _array(values: list, kind: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "int":
        return pa.array(values, pa.int64())
    if kind == "float":
        return pa.array(values, pa.float64())
    if kind == "bool":
        ints = pa.array(values, pa.int64())
        if len(ints) - ints.null_count and not pc.all(pc.is_in(ints.drop_null(), pa.array([0, 1]))).as_py():
            raise ValueError("a flag other than 0 or 1")
        return pc.cast(ints, pa.bool_())
    text = pa.array(values, pa.string())
    return text if kind == "text" else pc.cast(text, arrow_type(kind))


def to_arrow(table: ExportTable, rows: list[tuple], skip: int) -> Any:
    """An Arrow table of ``rows`` (tuples in :attr:`ExportTable.select_columns` order), leaving out the first
    ``skip`` values of each row (the partition column)."""
    import pyarrow as pa

    columns = list(zip(*rows)) if rows else [()] * (skip + len(table.columns))
    arrays = []
    for index, column in enumerate(table.columns):
        values = list(columns[skip + index])
        try:
            arrays.append(_array(values, column.kind))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
            why = str(exc).split(". ")[0]
            raise InputError(
                f"{table.name}.{column.name} holds a value that is not {WHAT[column.kind]} ({why}); the analytics "
                f"database looks damaged: rebuild it with `amiga-analytics sync BOT_DB ANALYTICS_DB --full`"
            ) from None
    return pa.Table.from_arrays(arrays, schema=schema(table))


def temp_name(final: Path) -> Path:
    """The name a file is written under before it is renamed to ``final``: hidden (Spark and Hive skip names that
    start with ``.``) and not ending in ``.parquet`` (a ``*.parquet`` glob never matches it)."""
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet(data: Any, final: Path) -> tuple[int, str]:
    """Write ``data`` to ``final`` atomically (a temporary name, flushed to disk, then renamed over ``final``):
    a reader sees the old file or the new one, never part of one. Returns (bytes, sha256 of the file)."""
    import pyarrow.parquet as pq

    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_name(final)
    try:
        pq.write_table(data, temp, compression=COMPRESSION)
        digest = hashlib.sha256()
        with open(temp, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
            os.fsync(f.fileno())
        size = temp.stat().st_size
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    return size, digest.hexdigest()
