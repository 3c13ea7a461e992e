"""Tool rows (bot-data.md §3.1): each logical call's tool_usage rows A/B/C/D, its agent_status row and its truth."""

from __future__ import annotations

import json

from .base import DemoState
from .calls import Call
from .constants import DAY, US

NO_TOKENS = (None, None, None, None)


class ToolRows(DemoState):
    """Writing tool calls as the hooks and the monitoring server do: the part of :class:`simulation.Demo` that
    knows the rows per call (see the package docstring)."""

    def _emit_calls(self, task_id: str, calls: list[Call], base: int, model: str | None,
                    phase_updates: list | None) -> None:
        """Write each call's tool_usage rows, its agent_status row and its truth; see the package docstring."""
        rnd = self.rng.random
        iso, up = self.clock.iso, self.server.up
        rows, truth = self.tool_rows, self.truth_calls
        task_rows = 0  # Task rows of this task so far (the post-hook's phase_number counts them)
        for c in calls:
            tool, params = c.tool, c.params
            s = base + c.start
            ts_a = iso(s)
            up_start = up(s)
            sb = ts_b = None
            if up_start:
                sb = s + 2_000 + int(rnd() * 12_000)
                ts_b = iso(sb)
            null_row = (task_id, tool, None, None, params, None, None, None, None, None)
            rows.append((s, ts_a) + null_row)
            n = 1
            end_iso = None
            miss = False
            tokens = None
            if c.outcome == "unknown":
                if up_start:
                    rows.append((sb, ts_b) + null_row)
                    n = 2
            else:
                n, end_iso, miss = self._complete(task_id, c, base, (s, ts_a, sb, ts_b), up_start, null_row,
                                                  task_rows, phase_updates)
                tokens = c.tokens
            if tool == "Task":
                task_rows += n
            for secret in c.secrets:
                self.secrets[secret] = None
            for email in c.emails:
                self.emails[email] = None
            truth.append((s, {
                "task_id": task_id, "tool": tool, "start": ts_a, "end": end_iso, "outcome": c.outcome,
                "error_category": c.category if c.outcome == "failure" else None, "model": model,
                "tokens": None if tokens is None else {
                    "input_tokens": tokens[0], "output_tokens": tokens[1],
                    "cache_creation_tokens": tokens[2], "cache_read_tokens": tokens[3]},
                "secret_in_params": bool(c.secrets), "secret_in_error": bool(c.error_secret and end_iso),
                "server_up": up_start, "window_miss": miss, "rows": n}))
        self.calls_made += len(calls)

    def _complete(self, task_id: str, c: Call, base: int, pre: tuple, up_start: bool, null_row: tuple,
                  task_rows: int, phase_updates: list | None) -> tuple[int, str, bool]:
        """The post-hook and the server's copy C of a call that completed: (rows of the call, end, window missed).

        ``pre`` is (A's instant, A's text, B's instant, B's text); B's are None when the server was down.
        """
        rnd = self.rng.random
        iso, local_day, up = self.clock.iso, self.clock.local_day, self.server.up
        rows, status_rows, meta = self.tool_rows, self.status_rows, self._tool_meta
        tool, params = c.tool, c.params
        s, ts_a, sb, ts_b = pre
        n = 1
        e = base + c.end
        end_iso = iso(e)
        success = 1 if c.outcome == "success" else 0
        done = (task_id, tool, success, c.error, params, c.category) + (c.tokens or NO_TOKENS)
        # The update window: the newest NULL pre row's local date vs the UTC date of now - 5 s.
        miss = params is not None and local_day(sb if up_start else s) < (e - 5 * US) // DAY
        if up_start:
            rows.append((sb, ts_b) + (null_row if miss else done))
            n = 2
        elif not miss:
            rows[-1] = (s, ts_a) + done
        if miss:
            rows.append((e, end_iso) + done)
            n += 1
        st = e + 200 + int(rnd() * 2_300)
        key = (tool, success)
        if key not in meta:
            meta[key] = (f"{tool} completed", json.dumps({"tool": tool, "success": bool(success)}))
        status_rows.append((st, iso(st), task_id, "tool_call") + meta[key])
        if success and tool == "Task" and phase_updates is not None:
            phase_updates.append((st + 200 + int(rnd() * 1_800), c.subagent, task_rows + n))
        if up(e):
            ec = st + 3_000 + int(rnd() * 17_000)
            rows.append((ec, iso(ec), task_id, tool, success, c.error, params, c.category,
                         None, None, None, None))
            n += 1
        if c.error_secret:
            self.secrets[c.error_secret] = None
        return n, end_iso, miss
