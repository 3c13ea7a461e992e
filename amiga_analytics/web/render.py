"""Readable cells on the HTML pages of ``amiga-analytics serve`` (Datasette's ``render_cell`` hook, registered by
:mod:`.serve`): money to the cent with ``$``, durations in ms / s / min / h, rates and shares as percentages. The
full value stays in the cell's tooltip, and JSON and CSV keep the raw numbers. The plain ``datasette`` command loads
no plugin of this package and shows the raw numbers.

>>> [format_cell(c, v) for c, v in [("cost_usd", 7.868189849999999), ("cost_usd", 0.0004), ("p50_ms", 2501.14),
...                                  ("cycle_s", 101.53), ("error_rate", 0.05989), ("calls", 3), ("cost_usd", None)]]
['$7.87', '<$0.01', '2.50 s', '1.7 min', '6.0%', None, None]
"""

from __future__ import annotations

from markupsafe import Markup, escape

RATE_SUFFIXES = ("_rate",)
RATE_PREFIXES = ("share_",)


def money(value: float) -> str:
    """USD to the cent; a positive amount under half a cent reads ``<$0.01``."""
    if 0 < abs(value) < 0.005:
        return "<$0.01" if value > 0 else "-<$0.01"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def price(value: float) -> str:
    """A price per million tokens: to the cent, more digits only when a price has them."""
    whole, cents = f"{value:,.4f}".split(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


def duration(seconds: float) -> str:
    """A duration: ms under a second, s under a minute, min under two hours, else h."""
    magnitude = abs(seconds)
    if magnitude < 1:
        return f"{seconds * 1000:.0f} ms"
    if magnitude < 60:
        return f"{seconds:.2f} s"
    if magnitude < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_cell(column: str, value: object) -> str | None:
    """The display text of a numeric cell, or None to leave it to Datasette."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if column.endswith("_per_mtok"):
        return price(value)
    if column.endswith("_usd"):
        return money(value)
    if column.endswith("_ms"):
        return duration(value / 1000)
    if column.endswith("_s") or column == "seconds":
        return duration(value)
    if column.endswith(RATE_SUFFIXES) or column.startswith(RATE_PREFIXES):
        return f"{value * 100:.1f}%"
    return None


def render_cell(column: str, value: object) -> Markup | None:
    """The cell's HTML: the readable text, the exact value as its tooltip."""
    text = format_cell(column, value)
    if text is None:
        return None
    return Markup(f'<span title="{escape(repr(value))}">{escape(text)}</span>')
