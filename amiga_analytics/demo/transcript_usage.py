"""Token usage of the API requests in the demo's transcripts: how an agent's context grows and is cached.

Per agent (the main agent of a session, or one sub-agent) a :class:`Context` follows Claude Code's prompt caching:

- the first request holds the system prompt and tools (``system`` tokens) and the prompt; when a recent session
  left the system prompt in the cache, it is read, else written;
- every later request reads the cached prefix (everything up to the previous request) and writes what was added
  since (the previous response, tool results, a user message), unless the cache expired in between (the
  session's cache lifetime: 5 minutes or 1 hour): then the whole context is written again;
- ``input_tokens`` is the uncached tail: a few tokens;
- cache writes are 1-hour writes, 5-minute writes, or a mix, by the session's cache policy;
- when the context passes :data:`COMPACT_AT` tokens Claude Code compacts it (the summarising call writes no usage
  line) and the next request starts from the system prompt and the summary.

A sub-agent whose ``Task`` call carries tokens in the bot's row (the post-hook read ``tool_response.usage``, which
adds up the sub-agent's requests) gets its requests' input and output, and where the bot has them the cache
tokens, made to add up to exactly those figures (:func:`partition`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .constants import US

COMPACT_AT = 140_000
TTL_S = {"5m": 300, "1h": 3600, "split": 3600}
RESULT_TOKENS = {  # median tokens a successful tool result adds to the context
    "Read": 1_400, "Bash": 320, "Grep": 380, "Glob": 140, "Edit": 160, "MultiEdit": 220, "Write": 90,
    "TodoWrite": 90, "Task": 700, "WebFetch": 1_900, "WebSearch": 1_500, "NotebookEdit": 160,
    "mcp__playwright__browser_snapshot": 3_200, "mcp__playwright__browser_navigate": 900,
}


@dataclass
class Usage:
    """One request's usage, as the line's ``message.usage`` gives it."""

    input: int
    output: int
    write_5m: int
    write_1h: int
    read: int

    @property
    def total(self) -> int:
        return self.input + self.output + self.write_5m + self.write_1h + self.read

    def as_json(self, speed: bool) -> dict:
        usage = {"input_tokens": self.input, "cache_creation_input_tokens": self.write_5m + self.write_1h,
                 "cache_read_input_tokens": self.read,
                 "cache_creation": {"ephemeral_5m_input_tokens": self.write_5m,
                                    "ephemeral_1h_input_tokens": self.write_1h},
                 "output_tokens": self.output, "service_tier": "standard"}
        if speed:
            usage["speed"] = "standard"
        return usage


def lognormal_int(rng: random.Random, median: float, sigma: float, low: int = 1, high: int = 1_000_000) -> int:
    return max(low, min(high, int(rng.lognormvariate(math.log(median), sigma))))


def partition(rng: random.Random, total: int, n: int, first_share: float = 0.0) -> list[int]:
    """``total`` split into ``n`` non-negative whole parts that add up to it exactly (random weights; the first
    part gets at least ``first_share`` of the total)."""
    if n <= 0:
        return []
    weights = [rng.lognormvariate(0, 0.7) for _ in range(n)]
    head = int(total * first_share)
    rest = total - head
    scale = sum(weights)
    parts = [int(rest * w / scale) for w in weights]
    parts[0] += head
    for i in range(total - sum(parts)):
        parts[i % n] += 1
    return parts


class Context:
    """The token context of one agent (see the module docstring); times are UTC µs."""

    def __init__(self, rng: random.Random, policy: str, system: int, warm: bool):
        self.rng = rng
        self.policy = policy
        self.ttl = TTL_S[policy] * US
        self.system = system
        self.cached = 0  # tokens of the prefix the last request cached
        self.pending = system  # tokens added since the last request
        self.warm = warm  # the system prompt is in the cache (a recent session used it)
        self.last: int | None = None

    def add(self, tokens: int) -> None:
        self.pending += max(0, tokens)

    def add_result(self, tool: str, ok: bool) -> None:
        median = RESULT_TOKENS.get(tool, 110) if ok else 60
        self.add(lognormal_int(self.rng, median, 0.8))

    def needs_compaction(self) -> bool:
        return self.cached + self.pending > COMPACT_AT

    def compact(self) -> None:
        """Claude Code summarised the conversation: the next request starts from the system prompt + summary."""
        self.cached, self.pending, self.last, self.warm = 0, self.system + lognormal_int(self.rng, 3_000, 0.4), None, True

    def _split(self, write: int) -> tuple[int, int]:
        if self.policy == "1h":
            return 0, write
        if self.policy == "5m":
            return write, 0
        one_hour = int(write * self.rng.random())
        return write - one_hour, one_hour

    def request(self, t: int, output: int) -> Usage:
        """The usage of a request sent at ``t`` whose response has ``output`` tokens."""
        uncached = self.rng.randint(1, 12)
        new = max(0, self.pending - uncached)
        if self.last is None:
            read = self.system if self.warm else 0
            write = max(0, new - read)
        elif t - self.last > self.ttl:
            read, write = 0, self.cached + new
        else:
            read, write = self.cached, new
        w5, w1 = self._split(write)
        self.cached = read + write + uncached
        self.pending = output
        self.last = t
        return Usage(uncached, output, w5, w1, read)


def constrain(rng: random.Random, usages: list[Usage], tokens: tuple) -> None:
    """Make a sub-agent's request usages add up to the bot's recorded ``(input, output, cache_write, cache_read)``
    (the cache ones only where the bot has them), in place."""
    n = len(usages)
    tin, tout, cwrite, cread = tokens
    for u, part in zip(usages, partition(rng, tin, n, first_share=0.4)):
        u.input = part
    for u, part in zip(usages, partition(rng, tout, n)):
        u.output = part
    if cwrite is not None:
        for u, part in zip(usages, partition(rng, cwrite, n, first_share=0.5)):
            one_hour = u.write_1h * part // max(1, u.write_5m + u.write_1h)
            u.write_5m, u.write_1h = part - one_hour, one_hour
    if cread is not None:
        parts = [0] + partition(rng, cread, n - 1) if n > 1 else [cread]
        for u, part in zip(usages, parts):
            u.read = part
