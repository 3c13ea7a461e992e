"""Anthropic list prices from the ``genai-prices`` package (Pydantic's maintained price data), as price rows.

``genai-prices`` ships its data inside the package (``genai_prices.data``), updated with each release, so the
default prices are as current as the installed version: ``pip install -U genai-prices`` refreshes them. Only its
bundled snapshot is read; nothing is fetched at run time.

What its data has and what it lacks, for this project:

- every Anthropic model, with input, output, 5-minute and 1-hour cache-write and cache-read prices;
- price changes as start dates (``ConditionalPrice`` with a ``StartDateConstraint``), e.g. the end of the 4.6
  models' long-context tier on 2026-03-13;
- long-context tiers (``TieredPrices``): every token of a request whose input (input + cache writes + cache
  reads) exceeds the threshold costs the tier price;
- no release dates and undated model ids (``claude-sonnet-4-5``): the project's alias table gives both, and a
  dated id the alias table names (``claude-sonnet-4-5-20250929``) gets the prices of the model ``genai-prices``
  matches it to, from the day the alias first pointed at it;
- request variants (Batch API, fast mode) are ignored: the bot's rows cannot tell them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from importlib import metadata
from pathlib import Path

from ..errors import InputError

ALWAYS = "2000-01-01"  # effective_from of a first price whose start the data does not say
_FIELDS = (  # genai-prices attribute → the project's column stem
    ("input_mtok", "input"),
    ("output_mtok", "output"),
    ("cache_write_mtok", "cache_write_5m"),
    ("cache_write_1h_mtok", "cache_write_1h"),
    ("cache_read_mtok", "cache_read"),
)


def version() -> str:
    """The installed ``genai-prices`` version, e.g. ``'0.2.3'``."""
    try:
        return metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        raise InputError("the genai-prices package is not installed: run `pip install genai-prices` "
                         "(amiga-analytics takes its default prices from it)") from None


def rows_key(known_ids: dict[str, str]) -> list:
    """What :func:`price_rows` depends on, as JSON-shaped lists: the installed ``genai-prices`` version (its data
    ships with each release), this module's own code (how the data becomes rows) and ``known_ids``. Equal keys
    give equal rows, so a sync may reuse the rows the previous one stored instead of importing the package."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return [version(), code, [[model_id, day] for model_id, day in sorted(known_ids.items())]]


def anthropic_models() -> list:
    """The ``ModelInfo`` objects of the Anthropic provider in the installed ``genai-prices`` data."""
    version()
    from genai_prices import data_snapshot

    for provider in data_snapshot.get_snapshot().providers:
        if provider.id == "anthropic":
            return list(provider.models)
    raise InputError(f"genai-prices {version()} has no Anthropic provider: reinstall it (`pip install -U genai-prices`)")


def match(models: list, model_id: str):
    """The ``genai-prices`` model that ``model_id`` names (its own match rules), or None."""
    for model in models:
        if model.is_match(model_id):
            return model
    return None


def price_rows(known_ids: dict[str, str]) -> list[dict]:
    """Price rows (the columns of ``pricing.PRICE_COLUMNS``) for every priced Anthropic model.

    ``known_ids`` maps the project's model ids (the alias table's targets) to the day each was first meant by an
    alias. A ``genai-prices`` model that some known id matches is listed under those ids; any other under its own
    id. Models without all five token prices (Claude 2, Claude 1) are left out.
    """
    models = anthropic_models()
    tag = f"genai-prices {version()}"
    ids_of: dict[str, list[tuple[str, str]]] = {}
    for model_id, first_day in sorted(known_ids.items()):
        model = match(models, model_id)
        if model is not None:
            ids_of.setdefault(model.id, []).append((model_id, first_day))
    rows = []
    for model in models:
        schedule = _schedule(model)
        if schedule is None:
            continue
        for model_id, first_day in ids_of.get(model.id, [(model.id, ALWAYS)]):
            for start, prices in schedule:
                day = start or (first_day if not schedule[1:] or first_day < schedule[1][0] else ALWAYS)
                rows.append(_row(model_id, day, prices, f"{tag} ({model.id})"))
    return rows


def _schedule(model) -> list[tuple[str | None, object]] | None:
    """``[(start day or None for the first, ModelPrice), …]`` of one model, or None if it is not token-priced."""
    from genai_prices.types import ModelPrice, StartDateConstraint

    entries: list[tuple[str | None, object]]
    if isinstance(model.prices, ModelPrice):
        entries = [(None, model.prices)]
    else:
        entries = []
        for i, conditional in enumerate(model.prices):
            constraint = conditional.constraint
            if i and not isinstance(constraint, StartDateConstraint):
                continue  # time-of-day prices (off-peak discounts) are not Anthropic's; skip rather than guess
            start = constraint.start_date.isoformat() if isinstance(constraint, StartDateConstraint) else None
            entries.append((start, conditional.prices))
    if not entries or any(getattr(p, attr) is None for _, p in entries for attr, _ in _FIELDS):
        return None
    return entries


def _row(model_id: str, day: str, prices, source: str) -> dict:
    row = {"model_id": model_id, "effective_from": day}
    threshold = None
    for attr, stem in _FIELDS:
        value = getattr(prices, attr)
        base, tier = _split(value)
        row[f"{stem}_usd_per_mtok"] = _text(base)
        if tier is not None:
            threshold = tier[0] if threshold is None else threshold
    row["tier_above_input_tokens"] = str(threshold) if threshold is not None else ""
    for attr, stem in _FIELDS:
        base, tier = _split(getattr(prices, attr))
        row[f"tier_{stem}_usd_per_mtok"] = "" if threshold is None else _text(tier[1] if tier else base)
    row["source"] = source
    return row


def _split(value) -> tuple[Decimal, tuple[int, Decimal] | None]:
    """A flat price → ``(price, None)``; a tiered one → ``(base, (first tier's threshold, its price))``."""
    tiers: Iterable = getattr(value, "tiers", None) or ()
    tiers = list(tiers)
    if not tiers:
        return value, None
    return value.base, (tiers[0].start, tiers[0].price)


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")
