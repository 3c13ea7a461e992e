"""How each kind of session picks its tools and sub-agents, and how long tool calls take (weights from
``data/weights.json``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .vocab import load


def _weights(pairs: dict[str, float]) -> tuple[tuple[str, ...], list[float]]:
    return tuple(pairs), list(itertools.accumulate(pairs.values()))


_data = load("weights.json")

HOUR_WEIGHTS: tuple[float, ...] = _data["hours"]  # relative activity per local hour, 0..23
# Per tool: (median duration s, sigma, P(fails), P(never reaches the post-hook))
TOOL_TIMING: dict[str, tuple[float, float, float, float]] = _data["tool_timing"]
TOOLSETS = {name: _weights(pairs) for name, pairs in _data["toolsets"].items()}
SUBAGENT_TOOLSET: dict[str, str] = _data["subagent_toolset"]  # sub-agent type -> TOOLSETS key


@dataclass(frozen=True)
class Profile:
    """How one kind of session picks tools and paces itself."""

    main: tuple[tuple[str, ...], list[float]]
    subagents: tuple[tuple[str, ...], list[float]]
    task_p: float           # chance that the next main-level call delegates to a sub-agent
    inner_median: float     # sub-agent calls per delegation
    gap_median: float       # seconds the main agent thinks between calls
    user_turn_p: float = 0.0  # interactive sessions: chance of a pause while the human reads and types


_main = {name: _weights(pairs) for name, pairs in _data["main"].items()}
_subagents = {name: _weights(pairs) for name, pairs in _data["subagents"].items()}

PROFILES = {
    "bot": Profile(_main["bot"], _subagents["bot"], 0.22, 6.0, 12.0),
    "self": Profile(_main["bot"], _subagents["self"], 0.35, 8.0, 10.0),
    "cli": Profile(_main["cli"], _subagents["cli"], 0.05, 6.0, 4.0, user_turn_p=0.12),
}
