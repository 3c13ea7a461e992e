"""Numbers and names for people: the report's formatting helpers (all rounding of the report happens here)."""

from __future__ import annotations

import math
import re
from datetime import date

import pandas as pd

__all__ = ["change_text", "clip", "day_text", "fmt_count", "fmt_duration", "fmt_kind", "fmt_pct", "fmt_tokens",
           "fmt_usd", "name_or", "short_day"]


def fmt_usd(value: float | None) -> str:
    """$ with 2 decimals, 4 for amounts under a cent; 'n/a' when unknown.

    >>> fmt_usd(1234.5), fmt_usd(0.00123), fmt_usd(float("nan"))
    ('$1,234.50', '$0.0012', 'n/a')
    """
    if value is None or pd.isna(value):
        return "n/a"
    value = float(value)
    if value != 0 and abs(value) < 0.01:
        return f"${value:,.4f}"
    return f"${value:,.2f}"


def fmt_pct(value: float | None, *, digits: int = 1) -> str:
    """A fraction as a percentage with 1 decimal: 0.0523 → '5.2%'."""
    if value is None or pd.isna(value):
        return "n/a"
    return f"{float(value) * 100:.{digits}f}%"


def fmt_count(value: float | None) -> str:
    """A count with thousands separators: 12345.0 → '12,345'."""
    if value is None or pd.isna(value):
        return "n/a"
    return f"{int(round(float(value))):,}"


def fmt_duration(seconds: float | None) -> str:
    """Seconds for people: '45 s', '7.5 min', '2.3 h'."""
    if seconds is None or pd.isna(seconds):
        return "n/a"
    s = float(seconds)
    if abs(s) < 120:
        return f"{s:.0f} s"
    if abs(s) < 2 * 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def fmt_tokens(value: float | None) -> str:
    """Token counts, short: '950', '12 k', '4.8 M'."""
    if value is None or pd.isna(value):
        return "n/a"
    v = float(value)
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f} M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f} k"
    return f"{v:,.0f}"


def fmt_kind(kind: str, value: float | None) -> str:
    """A value shown the way its kind says: usd, count, pct or duration."""
    return {"usd": fmt_usd, "count": fmt_count, "pct": fmt_pct, "duration": fmt_duration}[kind](value)


def change_text(kind: str, row: pd.Series) -> str:
    """A headline row's change for people: "+$1.20 (+12.0%) vs $10.00", "+1.5 pp vs 4.0%"."""
    change, before = row["change"], row["previous_week"]
    if pd.isna(before):
        return "no figure for the week before"
    if pd.isna(change):
        return f"week before: {fmt_kind(kind, before)}"
    if kind == "pct":
        delta = f"{change * 100:+.1f} pp"
    elif kind == "usd":
        delta = ("+" if change >= 0 else "−") + fmt_usd(abs(change))
    elif kind == "duration":
        delta = ("+" if change >= 0 else "−") + fmt_duration(abs(change))
    else:
        delta = f"{change:+,.0f}".replace("-", "−")
    if kind != "pct" and not pd.isna(row["change_pct"]):
        delta += f" ({row['change_pct'] * 100:+.1f}%)".replace("-", "−")
    return f"{delta.replace('-', '−')} vs {fmt_kind(kind, before)}"


def day_text(day: date) -> str:
    """'Mon 2025-10-13'."""
    return f"{day:%a} {day:%Y-%m-%d}"


def short_day(day: date) -> str:
    """'Mon 13 Oct'."""
    return f"{day:%a} {day.day} {day:%b}"


_HOME = re.compile(r"(?:/Users|/home)/[^/\s'\"]+|/root(?=/|\b)|[A-Za-z]:\\Users\\[^\\\s'\"]+")


def tilde(text: str) -> str:
    """Home directories shown as ``~`` (``/Users/<name>``, ``/home/<name>``, ``/root``, ``C:\\Users\\<name>``).

    >>> tilde("cat: /Users/ana/notes.txt and /home/bob/x: No such file")
    'cat: ~/notes.txt and ~/x: No such file'
    """
    return _HOME.sub("~", text)


def clip(text: object, width: int) -> str:
    """Text on one line, home directories as ``~``, cut to ``width`` characters with an ellipsis; '' when
    missing."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    text = tilde(" ".join(str(text).split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def name_or(value: object, missing: str) -> str:
    """A name, or ``missing`` when it is None, NaN or empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return missing
    return str(value)
