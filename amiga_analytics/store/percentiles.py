"""Percentiles in SQL, defined once: numpy's default ("linear") method, to the last bit.

For ``n`` sorted values ``v[0..n-1]`` and a quantile ``q`` the position is ``pos = (n - 1) * q``, ``lo`` its
integer part, ``t = pos - lo``, ``hi = min(lo + 1, n - 1)``, and the percentile is numpy's rounding-safe
interpolation: ``v[hi] - (v[hi] - v[lo]) * (1 - t)`` when ``t >= 0.5``, else ``v[lo] + (v[hi] - v[lo]) * t``.
Only the ranked rows that some percentile needs leave the window pass.

:func:`percentiles_cte` gives the CTEs; the query functions (``latency``) and the Datasette canned queries
(``latency_by_tool``, ``task_throughput``) are built from it.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> sql = "WITH " + percentiles_cte("SELECT 'a' AS k, value AS v FROM json_each('[1, 2, 3, 10]')",
...                                 (("p50", 0.5), ("p90", 0.9))) + " SELECT k, name, value FROM percentiles"
>>> sorted(conn.execute(sql).fetchall())
[('a', 'p50', 2.5), ('a', 'p90', 7.900000000000001)]
"""

from __future__ import annotations

#: The latency percentiles: output column, quantile.
LATENCY_QUANTILES = (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99))

PERCENTILES_CTE = """pct_quantiles(name, q) AS (
  VALUES {quantile_rows}
), pct_ranked AS (
  SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) - 1 AS i, COUNT(*) OVER (PARTITION BY k) AS n
  FROM ({values})
), pct_picked AS (
  SELECT k, n, i, v FROM pct_ranked
  WHERE i IN ({needed_ranks})
), pct_bounds AS (
  SELECT picked.k, quantiles.name, (picked.n - 1) * quantiles.q - CAST((picked.n - 1) * quantiles.q AS INTEGER) AS t,
         MAX(CASE WHEN picked.i = CAST((picked.n - 1) * quantiles.q AS INTEGER) THEN picked.v END) AS lo,
         MAX(CASE WHEN picked.i = MIN(CAST((picked.n - 1) * quantiles.q AS INTEGER) + 1, picked.n - 1)
             THEN picked.v END) AS hi
  FROM pct_picked AS picked CROSS JOIN pct_quantiles AS quantiles
  GROUP BY picked.k, quantiles.name
), percentiles AS (
  SELECT k, name, CASE WHEN t >= 0.5 THEN hi - (hi - lo) * (1 - t) ELSE lo + (hi - lo) * t END AS value
  FROM pct_bounds
)"""


def percentiles_cte(values: str, quantiles: tuple[tuple[str, float], ...]) -> str:
    """CTEs ``pct_quantiles``, ``pct_ranked``, ``pct_picked``, ``pct_bounds`` and ``percentiles(k, name, value)``.

    ``values`` is a SELECT of the columns ``k`` (the group; NULL is a group of its own) and ``v`` (the values,
    none NULL); ``quantiles`` pairs an output name with its quantile in [0, 1] (constants, never user input).
    """
    ranks = []
    for _, q in quantiles:
        lo = f"CAST((n - 1) * {q!r} AS INTEGER)"
        ranks += [lo, f"{lo} + 1"]
    return PERCENTILES_CTE.format(
        quantile_rows=", ".join(f"('{name}', {q!r})" for name, q in quantiles),
        values=values,
        needed_ranks=", ".join(ranks),
    )


def pivot(quantiles: tuple[tuple[str, float], ...], table: str = "percentiles", indent: int = 7) -> str:
    """One column per quantile from ``percentiles`` rows (for a query grouped by their ``k``)."""
    sep = ",\n" + " " * indent
    return sep.join(f"MAX(CASE WHEN {table}.name = '{name}' THEN {table}.value END) AS {name}" for name, _ in quantiles)
