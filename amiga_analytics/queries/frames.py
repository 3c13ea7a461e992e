"""DataFrames of the query functions: running SQL, casting columns to the documented dtypes, spreading per-day
sums over periods, ordering groups.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd
from pandas.tseries.offsets import BaseOffset
from sqlite_utils import Database

from ..store.connect import store_bots
from .columns import FLOAT, INT, STR, TIME
from .periods import _assign_periods, _localize, _period_edges, _Window

_NULL_KEY = "\x00null"  # stands in for a NULL group while reindexing


def _query(database: Database, sql: str, params: dict) -> tuple[list[str], list[tuple]]:
    cursor = database.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return columns, cursor.fetchall()


def with_bot(database: Database, spec: dict[str, str]) -> dict[str, str]:
    """``spec`` with ``bot`` (the row's bot) after its first column in a store of several bots, so that a row of
    tasks, gaps or checks says which bot it is from; a one-bot store's frames keep their columns."""
    if len(store_bots(database)) < 2:
        return spec
    first, *rest = spec.items()
    return dict([first, ("bot", STR), *rest])


def _cast(df: pd.DataFrame, spec: dict[str, str], tz: str) -> pd.DataFrame:
    """Columns of ``spec`` in its order, with the documented dtypes."""
    out = {}
    for col, kind in spec.items():
        values = df[col] if col in df else pd.Series([None] * len(df), index=df.index, dtype=object)
        if kind == INT:
            out[col] = pd.to_numeric(values, errors="coerce").fillna(0).astype("int64")
        elif kind == FLOAT:
            out[col] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif kind == STR:
            out[col] = values.astype(object).where(values.notna(), None).astype("str")
        elif kind == TIME:
            if isinstance(values.dtype, pd.DatetimeTZDtype):
                out[col] = values.dt.tz_convert(tz).astype(f"datetime64[us, {tz}]")
            else:
                out[col] = pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_convert(tz).astype(
                    f"datetime64[us, {tz}]")
        else:  # pragma: no cover - a programming error
            raise AssertionError(kind)
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def _frame(columns: list[str], rows: list[tuple], spec: dict[str, str], tz: str) -> pd.DataFrame:
    return _cast(pd.DataFrame.from_records(rows, columns=columns), spec, tz)


def _sort(df: pd.DataFrame, keys: list[tuple[str, bool]]) -> pd.DataFrame:
    """Stable sort on (column, ascending) pairs, NaN last."""
    keys = [(c, a) for c, a in keys if c in df.columns]
    if not keys or df.empty:
        return df.reset_index(drop=True)
    return df.sort_values(
        [c for c, _ in keys], ascending=[a for _, a in keys], kind="stable", na_position="last"
    ).reset_index(drop=True)


def _spread(per_day: pd.DataFrame, key: str | None, measures: list[str], window: _Window, off: BaseOffset
            ) -> pd.DataFrame:
    """Per-day sums → per-period sums over every period of the window (and every group seen in it)."""
    edges = _period_edges(window, per_day["day"].tolist(), off)
    df = per_day.copy()
    df["period"] = _assign_periods(df["day"], edges) if len(df) else pd.Series([], dtype="datetime64[us]")
    df = df[df["period"].notna()]
    if key is None:
        summed = df.groupby("period")[measures].sum()
        summed = summed.reindex(edges, fill_value=0)
        summed.index.name = "period"
        out = summed.reset_index()
    else:
        df[key] = df[key].astype(object).where(df[key].notna(), _NULL_KEY)
        summed = df.groupby(["period", key])[measures].sum()
        groups = list(dict.fromkeys(df[key].tolist()))
        full = pd.MultiIndex.from_product([edges, groups], names=["period", key])
        out = summed.reindex(full, fill_value=0).reset_index()
        out[key] = out[key].where(out[key] != _NULL_KEY, None)
    out["period_start"] = _localize(pd.DatetimeIndex(out["period"]), window.tz)
    return out.drop(columns=["period"])


def _ordered(df: pd.DataFrame, key: str | None, measures_spec: dict, sort_keys: list[tuple[str, bool]],
             add_derived: Callable[[pd.DataFrame], pd.DataFrame], tz: str, with_period: bool) -> pd.DataFrame:
    """Derived columns, documented order and dtypes; groups ordered by their totals (in every period alike)."""
    df = unpriced_as_missing(add_derived(df))
    spec = ({"period_start": TIME} if with_period else {}) | ({key: STR} if key else {}) | measures_spec
    df = _cast(df, spec, tz)
    if key is None:
        return _sort(df, [("period_start", True)]) if with_period else df
    if not with_period:
        return _sort(df, sort_keys + [(key, True)])
    totals = df.drop(columns=["period_start"]).groupby(key, dropna=False, sort=False).sum(numeric_only=True)
    totals = add_derived(totals.reset_index())
    order = _sort(totals, sort_keys + [(key, True)])[key].tolist()
    rank = {(k if isinstance(k, str) else _NULL_KEY): i for i, k in enumerate(order)}
    df["_rank"] = df[key].map(lambda k: rank[k if isinstance(k, str) else _NULL_KEY])
    return _sort(df, [("period_start", True), ("_rank", True)]).drop(columns=["_rank"])


NOT_TOKEN_SUMS = ("unpriced_tokens", "calls_with_tokens", "total_tokens")


def unpriced_as_missing(df: pd.DataFrame) -> pd.DataFrame:
    """``cost_usd`` NaN (not $0) in the rows none of whose tokens is priced. Prices are positive, so that is
    exactly a total of 0 (the rule of :mod:`amiga_analytics.store.measures`, re-applied after the period sums,
    which fill empty periods with 0). Frames without ``cost_usd`` pass."""
    if "cost_usd" not in df.columns:
        return df
    cost = pd.to_numeric(df["cost_usd"]).astype("float64")
    df = df.copy()
    df["cost_usd"] = cost.where(cost.fillna(0.0) != 0.0)
    return df


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    num = pd.to_numeric(numerator).astype("float64")
    den = pd.to_numeric(denominator).astype("float64")
    return (num / den.where(den > 0)).astype("float64")
