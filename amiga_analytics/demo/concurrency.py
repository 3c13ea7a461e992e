"""The demo's concurrency patterns (bot-data.md §8), planned; :mod:`.replay` writes their rows.

With ``write_demo(concurrency=True)`` a unit's calls are planned by :func:`plan_calls_par` instead of
:func:`.calls.plan_calls`:

* **parallel batches**: Claude Code runs the concurrency-safe tools of one turn together (2-5 Reads, Greps, Globs,
  read-only Bash, WebFetch): their pre-hooks run 12 ms or more apart, within a few tenths of a second, their post-hooks as each finishes; the next turn
  starts when the last one is done;
* **the same key twice in flight**: a batch that reads the same file twice (once with an offset) or runs the
  same read-only command twice, so the post-hook's newest-NULL rule crosses the rows of the two calls;
* **parallel sub-agents**: up to 3 ``Task`` calls in one turn, whose sub-agents' calls interleave, each carrying
  the parent task's id (:attr:`.calls.Call.owner` says which sub-agent made it);
* **gate-blocked git commands**: ``git commit --no-verify`` / ``-n`` / ``--no-gpg-sign`` and ``git push --force``,
  which the shell pre-hook refuses to record (no pre row) but which still run.

:func:`add_outages` adds monitoring-server reloads (many a day), failed reloads and crashes in the middle of up days, so calls
start with the server down and end with it up, or the other way round. Concurrent tasks: the simulation creates
bursts of up to 4 bot tasks within a minute or two (:meth:`.simulation.Demo._burst`).
"""

from __future__ import annotations

import json
import math
import random
from datetime import date
from typing import TYPE_CHECKING

from .calls import Call, Ctx
from .constants import MINUTE, US
from .profiles import SUBAGENT_TOOLSET, TOOLSETS, Profile

if TYPE_CHECKING:
    from .clock import Clock, Server
    from .tools import Tools

BATCH_P = 0.12  # a main-agent turn is a parallel batch
GATE_P = 0.01  # a main-agent turn is a gate-blocked git command
SAME_KEY_P = 0.35  # a batch repeats the key of one of its calls
PARALLEL_TASKS_P = 0.3  # a delegation runs 2 or 3 sub-agents at once
BURST_P = 0.25  # a bot task comes with 1-3 others created within two minutes
BATCH_TOOLS = ("Read", "Read", "Read", "Grep", "Grep", "Glob", "Bash", "WebFetch")
READ_ONLY_BASH = ("git status", "git diff --stat", "git log --oneline -10", "ls -la src", "ls -la tests",
                  "tail -n 50 logs/bot.log")
GATED = (('git commit --no-verify -m "{m}"', "Commit without hooks"), ('git commit -n -m "{m}"', "Quick commit"),
         ('git commit --no-gpg-sign -am "{m}"', "Commit unsigned"), ("git push --force origin HEAD", "Force push"),
         ('git commit -m "{m}" -n', "Commit, skip hooks"))


def _override(call: Call, params: dict) -> Call:
    """Give ``call`` these (harmless) parameters instead of what it drew."""
    call.params = json.dumps(params)
    call.raw, call.secrets, call.emails, call.error_secret = None, (), (), None
    return call


def _offsets(rng: random.Random, k: int) -> list[int]:
    """When the pre-hooks of ``k`` parallel calls run (µs after the first): 12 ms apart at least, as the real bot's
    (sample_par: 12 ms to 0.25 s, median 0.12 s)."""
    at, out = 0, [0]
    for _ in range(k - 1):
        at += 12_000 + int(rng.lognormvariate(math.log(40_000), 0.8))
        out.append(at)
    return out


def _batch(rng: random.Random, tools: Tools, k: int, t: int, ctx: Ctx, batch: int) -> list[Call]:
    calls = []
    for off in _offsets(rng, k):
        tool = rng.choice(BATCH_TOOLS)
        call = tools.make(tool, t + off, ctx)
        if tool == "Bash":
            _override(call, {"command": rng.choice(READ_ONLY_BASH), "description": "Look around"})
        calls.append(call)
    if k >= 2 and rng.random() < SAME_KEY_P:  # the same key twice in flight
        first, other = rng.sample(range(k), 2)
        src, dup = calls[first], calls[other]
        same = tools.make(src.tool, dup.start, ctx)
        same.params, same.raw, same.secrets, same.emails, same.error_secret = src.params, src.raw, (), (), None
        if src.tool == "Read" and src.params and rng.random() < 0.5:  # another part of the same file: same key
            value = json.loads(src.params)
            same.params = json.dumps({"file_path": value["file_path"], "offset": rng.randint(1, 40) * 50,
                                      "limit": 200})
        calls[other] = same
    for call in calls:
        call.batch = batch
    return calls


def _gated(rng: random.Random, tools: Tools, t: int, ctx: Ctx) -> Call:
    command, description = rng.choice(GATED)
    call = _override(tools.make("Bash", t, ctx), {"command": command.format(m=f"Task {ctx.task_id}: wip"),
                                                  "description": description})
    if call.outcome == "unknown":  # a refused call that never completed would leave no row at all
        call.outcome = "success"
    return call


def _delegate(rng: random.Random, tools: Tools, left: int, t: int, profile: Profile, ctx: Ctx,
              batch: int) -> list[Call]:
    """One turn of 1-3 Task calls; each sub-agent's calls run inside its Task's span, interleaved with the others'."""
    sub_names, sub_cw = profile.subagents
    k = min(left, rng.randint(2, 3) if rng.random() < PARALLEL_TASKS_P else 1)
    out: list[Call] = []
    room = left - k
    for off in _offsets(rng, k):
        subagent = rng.choices(sub_names, cum_weights=sub_cw)[0]
        task = tools.make("Task", t + off, ctx, subagent)
        if k > 1:
            task.batch = batch
        out.append(task)
        inner_names, inner_cw = TOOLSETS[SUBAGENT_TOOLSET.get(subagent, "code")]
        inner = min(room, int(rng.lognormvariate(math.log(profile.inner_median), 0.8)))
        room -= inner
        if inner:
            ti = task.start + int(rng.uniform(2, 15) * US)
            for _ in range(inner):
                call = tools.make(rng.choices(inner_names, cum_weights=inner_cw)[0], ti, ctx)
                call.owner = task
                out.append(call)
                ti = call.end + int(rng.lognormvariate(math.log(8.0), 0.9) * US)
            task.end = ti + int(rng.lognormvariate(math.log(20.0), 0.8) * US)
    return out


def plan_calls_par(rng: random.Random, tools: Tools, n: int, profile: Profile, origin: int, ctx: Ctx) -> list[Call]:
    """Exactly ``n`` calls in start order, with the patterns of the module docstring."""
    calls: list[Call] = []
    t = origin
    main_tools, main_cw = profile.main
    gap_mu = math.log(profile.gap_median)
    batch = 0
    while len(calls) < n:
        left = n - len(calls)
        r = rng.random()
        batch += 1
        if r < profile.task_p:
            turn = _delegate(rng, tools, left, t, profile, ctx, batch)
        elif r < profile.task_p + BATCH_P and left >= 2:
            turn = _batch(rng, tools, min(left, rng.randint(2, 5)), t, ctx, batch)
        elif r < profile.task_p + BATCH_P + GATE_P:
            turn = [_gated(rng, tools, t, ctx)]
        else:
            turn = [tools.make(rng.choices(main_tools, cum_weights=main_cw)[0], t, ctx)]
        calls += turn
        t = max(c.end for c in turn)
        pause = rng.lognormvariate(gap_mu, 1.0)
        if profile.user_turn_p and rng.random() < profile.user_turn_p:
            pause += rng.lognormvariate(math.log(120.0), 1.1)
        t += int(pause * US)
    calls.sort(key=lambda c: c.start)
    return calls


RELOAD_S = (15, 90)  # an auto-reload (the bot restarts its server when its code changes)
LONG_OUTAGES = ((20 * 60, 70 * 60), (10 * 60, 40 * 60))  # a reload that failed until a restart; a crash


def add_outages(rng: random.Random, server: Server, days: list[date], clock: Clock) -> None:
    """Down spells inside days the server is up: 6-30 quick reloads (seconds) a day, and on some days a failed
    reload or a crash (minutes)."""
    spells = list(server.down)
    for day in days:
        if not server.up(clock.at_local(day, 12 * 3600)):
            continue
        lengths = [RELOAD_S] * rng.randint(6, 30) + ([rng.choice(LONG_OUTAGES)] if rng.random() < 0.4 else [])
        for low, high in lengths:
            start = clock.at_local(day, rng.uniform(7, 23.9) * 3600)
            end = start + rng.randint(low, high) * US
            if all(end + MINUTE < s or start > e + MINUTE for s, e in spells):
                spells.append((start, end))
    server.set_down(sorted(spells))
