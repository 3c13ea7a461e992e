"""The rows of concurrent calls (bot-data.md §3.1, §8): each unit's hooks replayed in time order, as the bot runs them.

Used with ``write_demo(concurrency=True)`` instead of :mod:`.tool_rows`, whose rule (each call completes its own
pre row) holds only while a unit runs one call at a time. Per call, at its instants:

* the pre-hook inserts ``A`` (success NULL), unless its gate refuses the command (:func:`.rules.gate_blocked`);
  the monitoring server, if up then, inserts its copy ``B`` 0.7 ms to 0.25 s later (median 1.2 ms, as in
  sample_par);
* the post-hook updates in place the **newest** NULL row (by timestamp text, then id) of the unit with the same
  tool and :func:`.rules.match_key` inside its 5-second window (the bot's string comparison of the local
  timestamp with the UTC one: a row matches unless its local date is behind the UTC date of "now - 5 s"; rows
  without parameters match with no window) — that row ``U`` may be another call's — or, when none matches,
  inserts a completed row ``D``; then it writes the agent_status row;
* the server, if up at the end, inserts its completion row ``C`` (no tokens), 1 ms after a gate-refused call's D.

The truth records each call's rows by role (``rows``: ``A``, ``B``, ``U``, ``D``, ``C`` → tool_usage id, numbered
by :meth:`ReplayRows.number_rows` once every row is made), ``crossed`` (its post-hook updated another call's row,
or another call's post-hook updated one of its rows), ``gate_blocked``, ``server_change`` (the server was up at
one end of the call and down at the other), ``batch``, ``agent`` (``main``, ``sub``, ``cli``), ``in_subagent``. A
refused call that never completed leaves no row: it is in ``notes.invisible_calls``, not in ``calls``.
"""

from __future__ import annotations

import json
from datetime import timedelta

from .base import DemoState
from .calls import Call
from .constants import DAY, EPOCH, US
from .rules import gate_blocked, match_key

NO_TOKENS = (None, None, None, None)
PRE, COPY, POST, DONE = range(4)  # event kinds, in the order they run at one instant


class ReplayRows(DemoState):
    """Writing a unit's calls by replaying its hooks: the part of :class:`simulation.Demo` used with concurrency."""

    invisible_calls: list[dict]
    _utc_dates: dict[int, str]

    def _events(self, task_id: str, calls: list[Call], base: int) -> tuple[list[tuple], list[dict]]:
        """Every hook run of the unit's calls, in time order, and per call what the replay needs."""
        rnd, up = self.rng.random, self.server.up
        events: list[tuple] = []
        info: list[dict] = []
        for i, c in enumerate(calls):
            key = match_key(c.tool, c.params)
            s = base + c.start
            gated = c.tool == "Bash" and key[1] == "c" and gate_blocked("Bash", key[2])
            d: dict = {"key": key, "s": s, "gated": gated, "up_s": up(s), "e": None, "up_e": None, "roles": {}}
            info.append(d)
            if not gated:
                events.append((s, PRE, i))
                if d["up_s"]:
                    events.append((s + 700 + min(250_000, int(self.rng.lognormvariate(6.2, 1.0))), COPY, i))
            if c.outcome == "unknown":
                continue
            e = base + c.end
            d["e"] = e
            d["st"] = e + 200 + int(rnd() * 2_300)
            events.append((e, POST, i))
            d["up_e"] = up(e)
            if d["up_e"]:
                events.append((e + 1_000 if gated else d["st"] + 3_000 + int(rnd() * 17_000), DONE, i))
        events.sort()
        return events, info

    def _utc_date(self, t: int) -> str:
        day = t // DAY
        text = self._utc_dates.get(day)
        if text is None:
            text = self._utc_dates[day] = (EPOCH + timedelta(days=day)).date().isoformat()
        return text

    def _newest_null(self, rows: list[list], nulls: list[int], at: int, windowed: bool) -> int | None:
        """The row the post-hook at ``at`` updates: the newest NULL match inside the 5-second window."""
        floor = self._utc_date(at - 5 * US)
        pick = None
        for j in nulls:
            ts = rows[j][1]
            if windowed and ts[:10] < floor:  # 'YYYY-MM-DDT…' >= 'YYYY-MM-DD HH…' fails only on an earlier date
                continue
            if pick is None or (ts, j) > (rows[pick][1], pick):
                pick = j
        return pick

    def _emit_replay(self, task_id: str, calls: list[Call], base: int, model: str | None,
                     phase_updates: list | None, cli: bool) -> None:
        """Write the unit's tool_usage and agent_status rows and its truth; see the module docstring."""
        events, info = self._events(task_id, calls, base)
        iso, rnd = self.clock.iso, self.rng.random
        rows: list[list] = []
        nulls: dict[tuple, list[int]] = {}
        updated_by: dict[int, int] = {}
        task_rows = 0  # Task rows of this unit so far (the post-hook's phase_number counts them)
        for at, kind, i in events:
            c, d = calls[i], info[i]
            if kind == POST:
                pick = self._newest_null(rows, nulls.get(d["key"], []), at, c.params is not None)
                done = [1 if c.outcome == "success" else 0, c.error, c.params, c.category, *(c.tokens or NO_TOKENS)]
                if pick is None:
                    d["roles"]["D"] = len(rows)
                    rows.append([at, iso(at), task_id, c.tool, *done])
                    task_rows += c.tool == "Task"
                else:
                    nulls[d["key"]].remove(pick)
                    rows[pick][4:6], rows[pick][7:] = done[:2], done[3:]
                    d["roles"]["U"] = pick
                    updated_by[pick] = i
                self._status_row(c, d["st"], task_id)
                if done[0] and c.tool == "Task" and phase_updates is not None:
                    phase_updates.append((d["st"] + 200 + int(rnd() * 1_800), c.subagent, task_rows))
                continue
            success = None if kind != DONE else (1 if c.outcome == "success" else 0)
            d["roles"]["A" if kind == PRE else "B" if kind == COPY else "C"] = len(rows)
            if kind == DONE:
                rows.append([at, iso(at), task_id, c.tool, success, c.error, c.params, c.category, *NO_TOKENS])
            else:
                nulls.setdefault(d["key"], []).append(len(rows))
                rows.append([at, iso(at), task_id, c.tool, None, None, c.params, None, *NO_TOKENS])
            task_rows += c.tool == "Task"
        offset = len(self.tool_rows)
        self.tool_rows.extend(map(tuple, rows))
        for i, (c, d) in enumerate(zip(calls, info)):
            self._replay_truth(task_id, c, d, offset, model, cli, updated_by, i)

    def _status_row(self, c: Call, st: int, task_id: str) -> None:
        key = (c.tool, 1 if c.outcome == "success" else 0)
        meta = self._tool_meta.get(key)
        if meta is None:
            meta = self._tool_meta[key] = (f"{c.tool} completed", json.dumps({"tool": c.tool, "success": bool(key[1])}))
        self.status_rows.append((st, self.clock.iso(st), task_id, "tool_call") + meta)

    def _replay_truth(self, task_id: str, c: Call, d: dict, offset: int, model: str | None, cli: bool,
                      updated_by: dict[int, int], i: int) -> None:
        roles = d["roles"]
        own = [roles[r] for r in "AB" if r in roles]
        crossed = ("U" in roles and roles["U"] not in own) or any(updated_by.get(r, i) != i for r in own)
        end = None if d["e"] is None else self.clock.iso(d["e"])
        for secret in c.secrets:
            self.secrets[secret] = None
        for email in c.emails:
            self.emails[email] = None
        if c.error_secret and end:
            self.secrets[c.error_secret] = None
        tokens = c.tokens if end else None
        call = {
            "task_id": task_id, "tool": c.tool, "start": self.clock.iso(d["s"]), "end": end, "outcome": c.outcome,
            "error_category": c.category if c.outcome == "failure" else None, "model": model,
            "tokens": None if tokens is None else {
                "input_tokens": tokens[0], "output_tokens": tokens[1],
                "cache_creation_tokens": tokens[2], "cache_read_tokens": tokens[3]},
            "secret_in_params": bool(c.secrets), "secret_in_error": bool(c.error_secret and end),
            "server_up": d["up_s"], "window_miss": "D" in roles and not d["gated"],
            "rows": {r: v + offset for r, v in roles.items()},
            "agent": "cli" if cli else "sub" if c.owner is not None else "main",
            "subagent_type": c.subagent, "in_subagent": c.owner.subagent if c.owner is not None else None,
            "batch": None if c.batch is None else f"{task_id}:{c.batch}", "gate_blocked": d["gated"],
            "server_change": d["up_e"] is not None and d["up_e"] != d["up_s"], "crossed": crossed}
        if not roles:
            self.invisible_calls.append(call)
            return
        self.truth_calls.append((d["s"], call))
        self.calls_made += 1

    def number_rows(self) -> None:
        """Sort the tool rows by time (their ids) and turn the truth's row references into those ids."""
        rows = self.tool_rows
        order = sorted(range(len(rows)), key=lambda k: rows[k][0])
        ids = [0] * len(rows)
        for rank, k in enumerate(order):
            ids[k] = rank + 1
        rows[:] = [rows[k] for k in order]
        for _, call in self.truth_calls:
            call["rows"] = {r: ids[v] for r, v in call["rows"].items()}
