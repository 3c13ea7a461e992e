"""Matching the bot's logical calls to the transcripts' tool_uses, one group (a task, or a CLI session) at a time.

A call and a tool_use can match when they belong to the same group (the bot task, else the session id the bot's
rows carry), name the same tool and start within :data:`MATCH_WINDOW_S` of each other (the bot's pre-hook time
against the time of the line holding the tool_use; in one-line-per-message sessions that line is timed at the
message's first call). Among the candidates, pairs whose parameters are equal (the tool_use's input as the bot
stores it: :func:`bot_parameters`) come first, then the closest in time; each call and each tool_use is used once
(greedy, which is exact here: a pair is taken only if nothing closer competes for either side). A start that fell
in a DST repeat or gap may be an hour off, and a call whose only bot row is its post-hook's starts at its end:
both are allowed for (see :func:`_gap`).

Nothing of the input is kept but what :func:`bot_parameters` gives, which is what the bot's own rows hold, masked
the same way (:func:`amiga_analytics.load.redact.mask`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..memo import MaskMemo
from .records import hook_input

MATCH_WINDOW_S = 30.0

# The inputs of tool_uses repeat as the bot's parameters do (the same Read, the same git status); masking is a
# pure function of the text, so each distinct text is masked once (bounded: memo.MEMO_CHARS).
_mask = MaskMemo()


def bot_parameters(tool_input: Any) -> tuple[str | None, int]:
    """``(parameters, secrets_masked)``: a tool input as the bot's hook stores it (``json.dumps`` after its
    ``sanitize_parameters``: top-level keys naming a secret become ``"<redacted>"``, top-level strings over 500
    characters are cut to 500 + ``"..."``, an empty input is NULL), then masked as the sync masks the bot's rows.

    >>> bot_parameters({"command": "ls", "api_key": "x"})
    ('{"command": "ls", "api_key": "<redacted>"}', 0)
    >>> bot_parameters({})
    (None, 0)
    """
    if not tool_input:
        return None, 0
    tool_input = hook_input(tool_input)
    try:
        text = json.dumps(tool_input)
    except (TypeError, ValueError):
        return None, 0
    return _mask(text)


@dataclass(frozen=True)
class BotCall:
    call_id: int
    tool_name: str | None
    parameters: str | None
    started_at: datetime | None
    time_issue: str | None = None  # 'dst_fold' / 'dst_gap': the naive local start may be an hour off


@dataclass(frozen=True)
class TranscriptCall:
    tool_use_id: str
    tool_name: str | None
    parameters: str | None
    use_at: datetime | None
    result_at: datetime | None = None
    order: int = 0  # position in reading order: on one line, the calls' order


_SHIFTS = {None: (0.0,), "dst_fold": (0.0, 3600.0, -3600.0), "dst_gap": (0.0, 3600.0, -3600.0)}


def _gap(call: BotCall, use: TranscriptCall, window_s: float) -> float | None:
    """How far apart a call and a tool_use are, in seconds (None: too far to match). The bot's start is compared
    with the tool_use's time, allowing the hour a DST change makes ambiguous; failing that, with the result's time
    plus ``window_s`` (a call whose only bot row is the post-hook's, e.g. a command its pre-hook refused to
    record, starts at its end), so a start-time match always ranks first."""
    assert call.started_at is not None and use.use_at is not None
    shifts = _SHIFTS.get(call.time_issue, (0.0,))
    gap = min(abs((call.started_at - use.use_at).total_seconds() + s) for s in shifts)
    if gap <= window_s:
        return gap
    if use.result_at is not None:
        late = min(abs((call.started_at - use.result_at).total_seconds() + s) for s in shifts)
        if late <= window_s:
            return window_s + late
    return None


def match(calls: list[BotCall], uses: list[TranscriptCall], window_s: float = MATCH_WINDOW_S) -> dict[int, str]:
    """``call_id → tool_use_id`` for the calls of one group that a tool_use of the same group witnessed."""
    by_tool: dict[str | None, list[TranscriptCall]] = {}
    for use in uses:
        if use.use_at is not None:
            by_tool.setdefault(use.tool_name, []).append(use)
    pairs = []
    for call in calls:
        if call.started_at is None:
            continue
        for use in by_tool.get(call.tool_name, ()):
            gap = _gap(call, use, window_s)
            if gap is not None:
                pairs.append((call.parameters != use.parameters, gap, use.order, call.call_id, use.tool_use_id))
    pairs.sort()
    matched: dict[int, str] = {}
    taken: set[str] = set()
    for _, _, _, call_id, use_id in pairs:
        if call_id in matched or use_id in taken:
            continue
        matched[call_id] = use_id
        taken.add(use_id)
    return matched
