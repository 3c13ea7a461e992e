"""One logical tool call (:class:`Call`), what it can refer to (:class:`Ctx`), and planning the calls of one unit."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .constants import US
from .profiles import SUBAGENT_TOOLSET, TOOLSETS, Profile

if TYPE_CHECKING:
    from .tools import Tools



class Call:
    """A logical tool call; times are µs relative to the unit's creation."""

    __slots__ = ("batch", "category", "emails", "end", "error", "error_secret", "outcome", "owner", "params", "raw",
                 "secrets", "start", "subagent", "tokens", "tool")

    def __init__(self, start: int, end: int, tool: str, params: str | None):
        self.start = start
        self.end = end
        self.tool = tool
        self.params = params
        self.outcome = "success"
        self.error: str | None = None
        self.category: str | None = None
        self.tokens: tuple | None = None
        self.subagent: str | None = None
        self.secrets: tuple[str, ...] = ()
        self.error_secret: str | None = None
        self.emails: tuple[str, ...] = ()
        self.raw: dict | None = None  # the input Claude Code sent, where the hook's sanitiser changed it
        self.owner: Call | None = None  # the Task call whose sub-agent made it (set by .concurrency only)
        self.batch: int | None = None  # the turn of parallel calls it belongs to, per unit (.concurrency only)


@dataclass
class Ctx:
    """What a unit's tool calls can refer to."""

    ws: str
    files: tuple[str, ...]
    task_id: str
    description: str | None = None



def plan_calls(rng: random.Random, tools: Tools, n: int, profile: Profile, origin: int, ctx: Ctx) -> list[Call]:
    """Exactly ``n`` calls in start order; a Task call is followed by the calls of its sub-agent, inside its span."""
    calls: list[Call] = []
    t = origin
    left = n
    main_tools, main_cw = profile.main
    sub_names, sub_cw = profile.subagents
    gap_mu = math.log(profile.gap_median)
    while left > 0:
        if rng.random() < profile.task_p:
            subagent = rng.choices(sub_names, cum_weights=sub_cw)[0]
            inner_names, inner_cw = TOOLSETS[SUBAGENT_TOOLSET.get(subagent, "code")]
            median = profile.inner_median / 2 if inner_names is TOOLSETS["git"][0] else profile.inner_median
            inner = min(left - 1, int(rng.lognormvariate(math.log(median), 0.8)))
            task = tools.make("Task", t, ctx, subagent)
            calls.append(task)
            if inner:
                ti = t + int(rng.uniform(2, 15) * US)
                for _ in range(inner):
                    call = tools.make(rng.choices(inner_names, cum_weights=inner_cw)[0], ti, ctx)
                    calls.append(call)
                    ti = call.end + int(rng.lognormvariate(math.log(8.0), 0.9) * US)
                task.end = ti + int(rng.lognormvariate(math.log(20.0), 0.8) * US)
            left -= 1 + inner
            t = task.end
        else:
            call = tools.make(rng.choices(main_tools, cum_weights=main_cw)[0], t, ctx)
            calls.append(call)
            left -= 1
            t = call.end
        pause = rng.lognormvariate(gap_mu, 1.0)
        if profile.user_turn_p and rng.random() < profile.user_turn_p:
            pause += rng.lognormvariate(math.log(120.0), 1.1)
        t += int(pause * US)
    return calls


def cut_calls(calls: list[Call], cut: int) -> list[Call]:
    """Calls started before ``cut`` (the process died or was killed); those still running never complete."""
    kept = []
    for call in calls:
        if call.start >= cut:
            break
        if call.end > cut:
            call.outcome = "unknown"
        kept.append(call)
    return kept
