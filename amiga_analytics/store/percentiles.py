"""Percentiles in SQL, defined once: numpy's default ("linear") method, to the last bit.

For ``n`` sorted values ``v[0..n-1]`` and a quantile ``q`` the position is ``pos = (n - 1) * q``, ``lo`` its
integer part, ``t = pos - lo``, ``hi = min(lo + 1, n - 1)``, and the percentile is numpy's rounding-safe
interpolation: ``v[hi] - (v[hi] - v[lo]) * (1 - t)`` when ``t >= 0.5``, else ``v[lo] + (v[hi] - v[lo]) * t``.
Only the ranked rows that some percentile needs leave the window pass.

:func:`percentiles_cte` gives the CTEs; the query functions (``latency``) and the Datasette canned queries
(``latency_by_tool``, ``task_throughput``) are built from it.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> ctes = percentiles_cte(key="'a'", value="value", source="json_each('[1, 2, 3, 10]')", where="1",
...                        quantiles=(("p50", 0.5), ("p90", 0.9)))
>>> sql = "WITH " + ctes + " SELECT k, name, value FROM percentiles"
>>> sorted(conn.execute(sql).fetchall())
[('a', 'p50', 2.5), ('a', 'p90', 7.900000000000001)]
"""

from __future__ import annotations

#: The latency percentiles: output column, quantile.
LATENCY_QUANTILES = (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99))

PERCENTILES_CTE = """pct_quantiles(name, q) AS (
  VALUES {quantile_rows}
), pct_ranked AS (
  SELECT {key} AS k, {value} AS v,
         ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {value}) - 1 AS i, COUNT(*) OVER (PARTITION BY {key}) AS n
  FROM {source}
  WHERE {value} IS NOT NULL AND {where}
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
), {name} AS (
  SELECT k, name, CASE WHEN t >= 0.5 THEN hi - (hi - lo) * (1 - t) ELSE lo + (hi - lo) * t END AS value
  FROM pct_bounds
)"""


def percentiles_cte(*, key: str, value: str, source: str, where: str,
                    quantiles: tuple[tuple[str, float], ...], name: str = "percentiles") -> str:
    """CTEs ``pct_quantiles``, ``pct_ranked``, ``pct_picked``, ``pct_bounds`` and ``percentiles(k, name, value)``.

    The percentiles of the non-NULL ``value`` of the rows of ``source`` under the condition ``where``, per
    ``key`` (an expression; NULL is a group of its own, ``NULL`` gives one group). ``quantiles`` pairs an output
    name with its quantile in [0, 1]; ``name`` renames the last CTE. Every slot is filled from constants, never from
    user input.
    """
    ranks = []
    for _, q in quantiles:
        lo = f"CAST((n - 1) * {q!r} AS INTEGER)"
        ranks += [lo, f"{lo} + 1"]
    return PERCENTILES_CTE.format(
        quantile_rows=", ".join(f"('{n}', {q!r})" for n, q in quantiles),
        key=key, value=value, source=source, where=where,
        needed_ranks=", ".join(ranks), name=name,
    )


def pivot(quantiles: tuple[tuple[str, float], ...], table: str = "percentiles", indent: int = 7) -> str:
    """One column per quantile from ``percentiles`` rows (for a query grouped by their ``k``)."""
    sep = ",\n" + " " * indent
    return sep.join(f"MAX(CASE WHEN {table}.name = '{name}' THEN {table}.value END) AS {name}" for name, _ in quantiles)
