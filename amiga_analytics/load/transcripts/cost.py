"""The cost of one API request, from its own model and date.

``rates_for`` is the one place that asks the project's price table (:class:`amiga_analytics.load.pricing.PriceBook`)
for a model's prices; when the price table gains long-context tiers or fast-mode prices, only it changes.

Cost in USD::

    (input × input + output × output + cache_write_5m × cache_write_5m + cache_write_1h × cache_write_1h
     + cache_read × cache_read) / 1,000,000

- 1-hour cache writes at their own rate (Anthropic: 2 × input; 5-minute writes 1.25 × input).
- Long context: a request whose whole input (input + cache writes + cache reads) exceeds the tier's threshold
  is priced *entirely* at the tier's rates (Anthropic's rule for the 1M-context window: the whole request, not
  the tokens above 200k as ccusage does). Only where the price table has a tier for the model.
- Fast mode (``usage.speed == "fast"``): the prices times the table's fast multiplier; a fast request of a model
  with no fast price is unpriced.
- No price (unknown model, no row for that date, fast without a fast price): the request's tokens are counted as
  unpriced and its cost is None, never $0.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..pricing import PriceBook
from .records import RequestCopy


@dataclass(frozen=True)
class Rates:
    """USD per million tokens of one model on one day."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    long_context_threshold: int | None = None  # whole-request input above which `long_context` applies
    long_context: "Rates | None" = None
    fast_multiplier: float | None = None  # None: no fast-mode price known


def rates_for(book: PriceBook, model_id: str | None, day: str | None) -> Rates | None:
    """The adapter to the project's price table: ``model_id``'s rates on ``day`` (UTC ``YYYY-MM-DD``), or None."""
    price = book.price(model_id, day) if model_id else None
    if price is None:
        return None
    tier = None
    if price.tier is not None and price.tier_above_input_tokens is not None:
        t = price.tier
        tier = Rates(t.input, t.output, t.cache_write_5m, t.cache_write_1h, t.cache_read)
    return Rates(price.input, price.output, price.cache_write_5m, price.cache_write_1h, price.cache_read,
                 long_context_threshold=price.tier_above_input_tokens if tier is not None else None,
                 long_context=tier)


def request_cost(rates: Rates | None, request: RequestCopy) -> tuple[float | None, int]:
    """``(cost_usd, unpriced_tokens)`` of one request: ``(cost, 0)``, or ``(None, tokens)`` with no price."""
    if rates is None or (request.fast and rates.fast_multiplier is None):
        return None, request.total
    used = rates
    threshold = rates.long_context_threshold
    if threshold is not None and rates.long_context is not None and request.context_tokens > threshold:
        used = rates.long_context
    cost = (
        request.input * used.input
        + request.output * used.output
        + request.cache_write_5m * used.cache_write_5m
        + request.cache_write_1h * used.cache_write_1h
        + request.cache_read * used.cache_read
    ) / 1_000_000
    if request.fast:
        cost *= rates.fast_multiplier or 1.0
    return cost, 0
