"""Stage 5, beside report/ and web/: the analytics database as Parquet files that other engines read (DuckDB,
Spark, pandas, Polars, …), partitioned by day, hive style, and kept equal to the database incrementally.

``amiga-analytics export ANALYTICS_DB DIR --format parquet`` (:func:`export`; ``aa.export_parquet``) writes::

    DIR/manifest.json                                  what was written, from which sync, rows and checksums
    DIR/tool_calls/day=2025-10-01/part-0.parquet       one file per table and day
    DIR/tasks/created_day=2025-10-01/part-0.parquet
    DIR/model_prices/part-0.parquet                    tables without a day: one file

Which tables, columns, partitions and types: :mod:`.layout`; the Parquet writing (pyarrow, an optional
dependency): :mod:`.arrow`; the incremental rule and its safety when interrupted: :mod:`.run`; the manifest:
:mod:`.manifest`.

A later ``bot=NAME`` level (several bots in one analytics database) goes in front of the day,
``DIR/<table>/bot=NAME/day=…/part-0.parquet``: readers that glob ``DIR/<table>/**/*.parquet`` with hive
partitioning (DuckDB) or read the table folder (Spark) then gain a ``bot`` column and need no other change. The
manifest's ``version`` would change with it, so the first export after the change rewrites the directory whole
(Spark refuses a folder that mixes the two depths).
"""

from __future__ import annotations

from .result import ExportResult, TableResult
from .run import FORMATS, export, export_parquet

__all__ = ["FORMATS", "ExportResult", "TableResult", "export", "export_parquet"]
